/*
 * image16.c: 16-bit grey PNG reading with libpng (see image16.h). libpng
 * reads from memory through png_source.c and reports errors through a
 * longjmp; the message is kept and returned as an OD_EFORMAT error naming
 * the file.
 */
#include "formats/image16.h"
#include "formats/png_source.h"
#include "base/error.h"
#include "base/io.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void od_image16_free(struct od_image16 *img)
{
	free(img->data);
	memset(img, 0, sizeof *img);
}

int od_png_bit_depth(const void *data, size_t len)
{
	if (od_image_sniff(data, len) != OD_IMAGE_PNG)
		return 0;
	/* libpng's own reading of the header, so that this agrees with the decoders
	 * on files whose chunks are out of the usual order */
	struct od_png_source src;
	png_structp png = od_png_source_open(&src, data, len);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	volatile int depth = 0;
	if (!info) {
		png_destroy_read_struct(&png, NULL, NULL);
		return 0;
	}
	if (setjmp(png_jmpbuf(png)))
		goto done;
	png_read_info(png, info);
	depth = png_get_bit_depth(png, info);
done:
	png_destroy_read_struct(&png, &info, NULL);
	return depth;
}

int od_image16_read_mem(struct od_image16 *img, const void *data, size_t len, const char *label,
			const struct od_image_opts *opts)
{
	memset(img, 0, sizeof *img);
	if (od_image_sniff(data, len) != OD_IMAGE_PNG)
		return od_error(OD_EFORMAT, "'%s': not a PNG file (a 16-bit grey PNG is needed)", label);
	struct od_png_source src;
	png_structp png = od_png_source_open(&src, data, len);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	png_bytep *volatile rows = NULL;
	uint8_t *volatile raw = NULL;
	volatile int rc = OD_OK;
	if (!info) {
		png_destroy_read_struct(&png, NULL, NULL);
		return od_error(OD_ENOMEM, "out of memory");
	}
	if (setjmp(png_jmpbuf(png))) {
		if (rc == OD_OK)
			rc = src.truncated ? od_error(OD_EFORMAT, "'%s': truncated PNG data", label)
					   : od_error(OD_EFORMAT, "'%s': corrupt PNG: %s", label, src.msg);
		goto done;
	}
	png_read_info(png, info);
	png_uint_32 w, h;
	int depth, ctype, interlace;
	png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
	if (depth != 16 || (ctype != PNG_COLOR_TYPE_GRAY && ctype != PNG_COLOR_TYPE_GRAY_ALPHA)) {
		rc = od_error(OD_EFORMAT, "'%s': a %d-bit %s PNG, not a 16-bit grey one", label, depth,
			      ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? "grey"
			      : ctype == PNG_COLOR_TYPE_PALETTE				 ? "palette"
											 : "colour");
		goto done;
	}
	if ((rc = od_image_check_size(w, h, label, opts)))
		goto done;
	if (ctype == PNG_COLOR_TYPE_GRAY_ALPHA)
		png_set_strip_alpha(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	if (png_get_rowbytes(png, info) != (size_t)w * 2) {
		rc = od_error(OD_EFORMAT, "'%s': unsupported PNG pixel layout", label);
		goto done;
	}
	raw = malloc((size_t)w * h * 2);
	rows = malloc((size_t)h * sizeof *rows);
	img->data = malloc((size_t)w * h * sizeof *img->data);
	if (!raw || !rows || !img->data) {
		rc = od_error(OD_ENOMEM, "out of memory for a %ux%u depth map", (unsigned)w, (unsigned)h);
		goto done;
	}
	for (png_uint_32 y = 0; y < h; y++)
		rows[y] = raw + (size_t)y * w * 2;
	png_read_image(png, rows);
	/* PNG samples are big-endian */
	for (size_t i = 0; i < (size_t)w * h; i++)
		img->data[i] = (uint16_t)(raw[2 * i] << 8 | raw[2 * i + 1]);
	img->width = (int)w;
	img->height = (int)h;
	rc = 1; /* a damaged tail after complete pixels is tolerated, as image_png.c does */
	png_read_end(png, NULL);
	rc = OD_OK;
done:
	if (rc == 1)
		rc = OD_OK;
	png_destroy_read_struct(&png, &info, NULL);
	free(rows);
	free(raw);
	if (rc)
		od_image16_free(img);
	return rc;
}

int od_image16_read_file(struct od_image16 *img, const char *path, const struct od_image_opts *opts)
{
	char *buf;
	size_t len;
	memset(img, 0, sizeof *img);
	int rc = od_read_file(path, OD_IMAGE_MAX_FILE, &buf, &len);
	if (rc)
		return rc;
	rc = od_image16_read_mem(img, buf, len, strcmp(path, "-") ? path : "<stdin>", opts);
	free(buf);
	return rc;
}
