/*
 * png_source.h: reading a PNG held in memory with libpng, shared by the 8-bit
 * reader (image_png.c) and the 16-bit depth-map reader (image16.c).
 *
 * libpng reports errors through a longjmp: the caller sets
 * setjmp(png_jmpbuf(png)) itself, right after od_png_source_open, and on the
 * jump turns src->truncated / src->msg into its own error naming the file.
 */
#ifndef OD_FORMATS_PNG_SOURCE_H
#define OD_FORMATS_PNG_SOURCE_H

#include <png.h>
#include <stddef.h>
#include <stdint.h>

struct od_png_source {
	const uint8_t *data;
	size_t len, pos;
	char msg[200];  /* libpng's last error message */
	int truncated;  /* the error was a read past the end of data */
};

/* A libpng read structure reading from data[0..len), with od's limits:
 * picture sizes are left to od_image_check_size (libpng's 1e6 default
 * lifted), and the data is cut before the first chunk other than IDAT whose
 * length runs past its end. libpng allocates such a chunk's buffer from the
 * length in its header before reading it, and an oversize length is only a
 * warning to it, so a 40-byte file could make it allocate 2 GB; cut there,
 * it meets the end of the data at that chunk's header and reports a
 * truncated file, as it would have after the allocation. (IDAT is streamed,
 * never allocated whole.) src must outlive the structure. NULL when out of
 * memory. */
png_structp od_png_source_open(struct od_png_source *src, const void *data, size_t len);

#endif
