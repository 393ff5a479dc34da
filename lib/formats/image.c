/*
 * image.c: the format-independent half of image.h: allocation, format
 * detection, size limits, the EXIF orientation (parsing the TIFF block and
 * applying the transpose PIL.ImageOps.exif_transpose would), and the
 * read/write dispatch. The PNG and JPEG codecs are in image_png.c and
 * image_jpeg.c.
 */
#include "formats/image.h"
#include "base/error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int od_image_alloc(struct od_image *img, int width, int height, int channels)
{
	memset(img, 0, sizeof *img);
	if (channels != 1 && channels != 3)
		return od_error(OD_EINVAL, "image: %d channels (1 or 3)", channels);
	if (width <= 0 || height <= 0 || width > OD_IMAGE_MAX_SIDE || height > OD_IMAGE_MAX_SIDE ||
	    (int64_t)width * height > OD_IMAGE_MAX_PIXELS)
		return od_error(OD_ENOMEM, "image: %dx%d is over the %d-pixel side limit", width, height,
				OD_IMAGE_MAX_SIDE);
	img->data = calloc((size_t)width * height, (size_t)channels);
	if (!img->data)
		return od_error(OD_ENOMEM, "out of memory for a %dx%d image", width, height);
	img->width = width;
	img->height = height;
	img->channels = channels;
	return OD_OK;
}

void od_image_free(struct od_image *img)
{
	free(img->data);
	memset(img, 0, sizeof *img);
}

enum od_image_format od_image_sniff(const void *data, size_t len)
{
	const uint8_t *p = data;
	if (len >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
		return OD_IMAGE_PNG;
	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return OD_IMAGE_JPEG;
	return OD_IMAGE_UNKNOWN;
}

enum od_image_format od_image_format_from_name(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (!dot || strchr(dot, '/'))
		return OD_IMAGE_UNKNOWN;
	if (!strcasecmp(dot, ".png"))
		return OD_IMAGE_PNG;
	if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))
		return OD_IMAGE_JPEG;
	return OD_IMAGE_UNKNOWN;
}

enum od_image_format od_image_format_parse(const char *name)
{
	if (!strcasecmp(name, "png"))
		return OD_IMAGE_PNG;
	if (!strcasecmp(name, "jpeg") || !strcasecmp(name, "jpg"))
		return OD_IMAGE_JPEG;
	return OD_IMAGE_UNKNOWN;
}

int od_image_check_size(int64_t width, int64_t height, const char *label, const struct od_image_opts *opts)
{
	int64_t max_side = opts && opts->max_side > 0 ? opts->max_side : OD_IMAGE_MAX_SIDE;
	int64_t max_pixels = opts && opts->max_pixels > 0 ? opts->max_pixels : OD_IMAGE_MAX_PIXELS;
	if (width <= 0 || height <= 0)
		return od_error(OD_EFORMAT, "'%s': image has no pixels (%lldx%lld)", label, (long long)width,
				(long long)height);
	if (width > max_side || height > max_side || width * height > max_pixels)
		return od_error(OD_EFORMAT, "'%s': %lldx%lld image is over the size limit (%lld per side, %lld pixels)",
				label, (long long)width, (long long)height, (long long)max_side, (long long)max_pixels);
	return OD_OK;
}

/* ---- EXIF orientation */

static unsigned rd16(const uint8_t *p, int le)
{
	return le ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p, int le)
{
	return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
		  : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int od_exif_orientation(const uint8_t *t, size_t len)
{
	if (!t || len < 8)
		return 1;
	int le;
	if (!memcmp(t, "II*\0", 4))
		le = 1;
	else if (!memcmp(t, "MM\0*", 4))
		le = 0;
	else
		return 1;
	uint32_t ifd = rd32(t + 4, le);
	if (ifd > len - 2 || ifd < 8)
		return 1;
	unsigned n = rd16(t + ifd, le);
	for (unsigned i = 0; i < n; i++) {
		size_t e = (size_t)ifd + 2 + (size_t)i * 12;
		if (e + 12 > len)
			return 1;
		if (rd16(t + e, le) != 0x0112) /* Orientation */
			continue;
		unsigned type = rd16(t + e + 2, le);
		unsigned v = type == 3 ? rd16(t + e + 8, le) : type == 4 ? rd32(t + e + 8, le) : 1;
		return v >= 1 && v <= 8 ? (int)v : 1;
	}
	return 1;
}

int od_image_orient(struct od_image *img, int o)
{
	if (o <= 1 || o > 8)
		return OD_OK;
	const int W = img->width, H = img->height, C = img->channels;
	const int swap = o >= 5; /* TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90 */
	const int ow = swap ? H : W, oh = swap ? W : H;
	uint8_t *out = malloc((size_t)W * H * C);
	if (!out)
		return od_error(OD_ENOMEM, "out of memory");
	for (int y = 0; y < oh; y++) {
		for (int x = 0; x < ow; x++) {
			int sx, sy;
			switch (o) { /* PIL.ImageOps.exif_transpose's method for each value */
			case 2: sx = W - 1 - x, sy = y; break;          /* FLIP_LEFT_RIGHT */
			case 3: sx = W - 1 - x, sy = H - 1 - y; break;  /* ROTATE_180 */
			case 4: sx = x, sy = H - 1 - y; break;          /* FLIP_TOP_BOTTOM */
			case 5: sx = y, sy = x; break;                  /* TRANSPOSE */
			case 6: sx = y, sy = H - 1 - x; break;          /* ROTATE_270 (90° clockwise) */
			case 7: sx = W - 1 - y, sy = H - 1 - x; break;  /* TRANSVERSE */
			default: sx = W - 1 - y, sy = x; break;         /* 8: ROTATE_90 (counter-clockwise) */
			}
			memcpy(out + ((size_t)y * ow + x) * C, img->data + ((size_t)sy * W + sx) * C, (size_t)C);
		}
	}
	free(img->data);
	img->data = out;
	img->width = ow;
	img->height = oh;
	return OD_OK;
}

/* ---- dispatch */

int od_image_read_mem(struct od_image *img, const void *data, size_t len, const char *label,
		      const struct od_image_opts *opts)
{
	memset(img, 0, sizeof *img);
	int orientation = 1, rc;
	switch (od_image_sniff(data, len)) {
	case OD_IMAGE_PNG:
		rc = od_png_read(img, data, len, label, opts, &orientation);
		break;
	case OD_IMAGE_JPEG:
		rc = od_jpeg_read(img, data, len, label, opts, &orientation);
		break;
	default:
		return od_error(OD_EFORMAT, "'%s': not a PNG or JPEG image", label);
	}
	if (!rc && !(opts && opts->ignore_orientation))
		rc = od_image_orient(img, orientation);
	if (rc)
		od_image_free(img);
	return rc;
}

int od_image_read_file(struct od_image *img, const char *path, const struct od_image_opts *opts)
{
	char *buf;
	size_t len;
	memset(img, 0, sizeof *img);
	int rc = od_read_file(path, OD_IMAGE_MAX_FILE, &buf, &len);
	if (rc)
		return rc;
	rc = od_image_read_mem(img, buf, len, strcmp(path, "-") ? path : "<stdin>", opts);
	free(buf);
	return rc;
}

int od_image_write(struct od_out *o, const struct od_image *img, enum od_image_format fmt, int quality,
		   const struct od_meta_entry *meta, int n_meta)
{
	if (fmt == OD_IMAGE_JPEG)
		return od_image_write_jpeg(o, img, quality, meta, n_meta);
	return od_image_write_png(o, img, meta, n_meta);
}
