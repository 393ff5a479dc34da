/* png_source.c: a PNG in memory as a libpng source (see png_source.h). */
#include "formats/png_source.h"

#include <stdio.h>
#include <string.h>

static void source_error(png_structp png, png_const_charp msg)
{
	struct od_png_source *s = png_get_error_ptr(png);
	if (s)
		snprintf(s->msg, sizeof s->msg, "%s", msg);
	png_longjmp(png, 1);
}

static void source_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg; /* warnings (bad ancillary chunks, ...) are not failures */
}

static void source_read(png_structp png, png_bytep out, size_t n)
{
	struct od_png_source *s = png_get_io_ptr(png);
	if (n > s->len - s->pos) {
		s->truncated = 1;
		png_error(png, "truncated PNG data");
	}
	memcpy(out, s->data + s->pos, n);
	s->pos += n;
}

/* The end of the data before the first non-IDAT chunk that overruns it (see
 * png_source.h); len when there is none. */
static size_t end_before_overrun(const uint8_t *d, size_t len)
{
	size_t pos = 8; /* after the signature */
	while (len >= pos + 8) {
		uint32_t n = (uint32_t)d[pos] << 24 | (uint32_t)d[pos + 1] << 16 | (uint32_t)d[pos + 2] << 8 | d[pos + 3];
		size_t room = len - pos - 8; /* bytes after this chunk's header */
		int idat = memcmp(d + pos + 4, "IDAT", 4) == 0;
		if (n > room)
			return idat ? len : pos;
		if (memcmp(d + pos + 4, "IEND", 4) == 0 || room - n < 4)
			return len;
		pos += 12 + (size_t)n;
	}
	return len;
}

png_structp od_png_source_open(struct od_png_source *src, const void *data, size_t len)
{
	memset(src, 0, sizeof *src);
	src->data = data;
	src->len = len >= 8 ? end_before_overrun(data, len) : len;
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, source_error, source_warning);
	if (!png)
		return NULL;
	png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
	png_set_read_fn(png, src, source_read);
	return png;
}
