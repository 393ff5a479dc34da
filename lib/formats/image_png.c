/*
 * image_png.c: PNG reading and writing with libpng (see image.h).
 *
 * Reading asks libpng for 8-bit RGB whatever the file holds: palettes are
 * expanded, low-bit grey widened, 16-bit samples reduced to their high byte,
 * alpha stripped and grey replicated, which is PIL's convert('RGB')
 * (numerics.md §6.3 item 2). libpng reports errors through a longjmp; the
 * message is kept and returned as an OD_EFORMAT error naming the file.
 */
#include "formats/image.h"
#include "formats/png_source.h"
#include "base/error.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int od_png_read(struct od_image *img, const uint8_t *data, size_t len, const char *label,
		const struct od_image_opts *opts, int *orientation)
{
	struct od_png_source src;
	png_structp png = od_png_source_open(&src, data, len);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	png_bytep *volatile rows = NULL;
	volatile int rc = OD_OK;
	memset(img, 0, sizeof *img);
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
	if ((rc = od_image_check_size(w, h, label, opts)))
		goto done;
	/* convert('RGB'): expand, 8 bits, no alpha, three channels */
	if (ctype == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (depth == 16)
		png_set_strip_16(png);
	if ((ctype & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
		png_set_strip_alpha(png); /* also the alpha a tRNS palette expands to */
	if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA)
		png_set_gray_to_rgb(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	if (png_get_rowbytes(png, info) != (size_t)w * 3) {
		rc = od_error(OD_EFORMAT, "'%s': unsupported PNG pixel layout", label);
		goto done;
	}
	if ((rc = od_image_alloc(img, (int)w, (int)h, 3)))
		goto done;
	rows = malloc((size_t)h * sizeof *rows);
	if (!rows) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto done;
	}
	for (png_uint_32 y = 0; y < h; y++)
		rows[y] = img->data + (size_t)y * w * 3;
	png_read_image(png, rows);
	/* An eXIf chunk may follow the image data; a damaged tail after complete
	 * pixels is tolerated (PIL does not read past the image either). */
	png_bytep exif = NULL;
	png_uint_32 n_exif = 0;
	if (png_get_eXIf_1(png, info, &n_exif, &exif) && exif)
		*orientation = od_exif_orientation(exif, n_exif);
	rc = 1; /* from here on, a libpng error is not a failure */
	png_read_end(png, info);
	if (png_get_eXIf_1(png, info, &n_exif, &exif) && exif)
		*orientation = od_exif_orientation(exif, n_exif);
	rc = OD_OK;
done:
	if (rc == 1)
		rc = OD_OK;
	png_destroy_read_struct(&png, &info, NULL);
	free(rows);
	if (rc)
		od_image_free(img);
	return rc;
}

/* ---- writing */

struct png_dst {
	struct od_out *o;
	int rc;
	char msg[200];
};

static void png_write_out(png_structp png, png_bytep buf, size_t n)
{
	struct png_dst *d = png_get_io_ptr(png);
	if (d->rc == OD_OK && (d->rc = od_out_write(d->o, buf, n)))
		png_error(png, "write failed");
}

static void png_flush_out(png_structp png)
{
	(void)png;
}

static void png_werr(png_structp png, png_const_charp msg)
{
	struct png_dst *d = png_get_error_ptr(png);
	snprintf(d->msg, sizeof d->msg, "%s", msg);
	png_longjmp(png, 1);
}

static void png_wwarn(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg; /* libpng warns only of what it fixed itself */
}

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* Write a PNG of 8-bit grey/RGB (img) or 16-bit grey (data16) samples; rows
 * unfiltered when asked, else with libpng's adaptive filter choice. */
static int write_png(struct od_out *o, const struct od_image *img, int width, int height, const uint16_t *data16,
		     const struct od_meta_entry *meta, int n_meta, int unfiltered)
{
	struct png_dst d = { o, OD_OK, "" };
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &d, png_werr, png_wwarn);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	png_textp volatile text = NULL;
	uint8_t *volatile row16 = NULL;
	volatile int rc = OD_OK;
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return od_error(OD_ENOMEM, "out of memory");
	}
	if (setjmp(png_jmpbuf(png))) {
		rc = d.rc ? d.rc : od_error(OD_EFAIL, "'%s': PNG encoder: %s", o->label, d.msg);
		goto done;
	}
	png_set_write_fn(png, &d, png_write_out, png_flush_out);
	if (unfiltered)
		png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
	if (data16)
		png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 16, PNG_COLOR_TYPE_GRAY,
			     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	else
		png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
			     img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
			     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	/* The generation parameters: one text chunk per metadata entry (PNG
	 * keywords are 1-79 Latin-1 characters; frame keys are ASCII). */
	text = calloc((size_t)n_meta + 1, sizeof *text);
	if (!text) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto done;
	}
	int nt = 0;
	text[nt].compression = PNG_TEXT_COMPRESSION_NONE;
	text[nt].key = "Software";
	text[nt].text = "od " OD_VERSION;
	nt++;
	for (int i = 0; i < n_meta; i++) {
		size_t kl = strlen(meta[i].key);
		if (kl < 1 || kl > 79)
			continue;
		text[nt].key = meta[i].key;
		text[nt].text = meta[i].value;
		if (is_ascii(meta[i].value)) {
			text[nt].compression = strlen(meta[i].value) > 1024 ? PNG_TEXT_COMPRESSION_zTXt
									     : PNG_TEXT_COMPRESSION_NONE;
		} else {
			text[nt].compression = PNG_ITXT_COMPRESSION_NONE;
			text[nt].lang = "";
			text[nt].lang_key = "";
		}
		nt++;
	}
	png_set_text(png, info, text, nt);
	png_write_info(png, info);
	if (data16) {
		/* PNG stores 16-bit samples big-endian */
		row16 = malloc((size_t)width * 2);
		if (!row16) {
			rc = od_error(OD_ENOMEM, "out of memory");
			goto done;
		}
		for (int y = 0; y < height; y++) {
			const uint16_t *src = data16 + (size_t)y * width;
			for (int x = 0; x < width; x++) {
				row16[2 * x] = (uint8_t)(src[x] >> 8);
				row16[2 * x + 1] = (uint8_t)src[x];
			}
			png_write_row(png, row16);
		}
	} else {
		for (int y = 0; y < img->height; y++)
			png_write_row(png, img->data + (size_t)y * img->width * img->channels);
	}
	png_write_end(png, info);
done:
	png_destroy_write_struct(&png, &info);
	free(text);
	free(row16);
	return rc;
}

int od_image_write_png(struct od_out *o, const struct od_image *img, const struct od_meta_entry *meta, int n_meta)
{
	return write_png(o, img, 0, 0, NULL, meta, n_meta, 0);
}

int od_image_write_png_opt(struct od_out *o, const struct od_image *img, const struct od_meta_entry *meta, int n_meta,
			   const struct od_png_opts *opts)
{
	return write_png(o, img, 0, 0, NULL, meta, n_meta, opts && opts->unfiltered);
}

int od_image_write_png16(struct od_out *o, int width, int height, const uint16_t *data,
			 const struct od_meta_entry *meta, int n_meta)
{
	if (width < 1 || height < 1)
		return od_error(OD_EINVAL, "'%s': a %dx%d picture", o->label, width, height);
	return write_png(o, NULL, width, height, data, meta, n_meta, 0);
}
