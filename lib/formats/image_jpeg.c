/*
 * image_jpeg.c: JPEG reading and writing with libjpeg-turbo (see image.h).
 *
 * Reading: baseline and progressive, grey or YCbCr, decoded to RGB with the
 * library defaults (islow IDCT, fancy upsampling), as PIL does. CMYK and YCCK
 * files are refused: PIL would convert them with its own naive formula, and a
 * silent colour shift is worse than a clear message. libjpeg only *warns* on
 * a truncated or corrupt stream and goes on with grey blocks; here the
 * truncation warning and the entropy-data warnings are errors, like PIL's
 * "image file is truncated". libjpeg's memory is capped and the number of
 * progressive scans bounded, so a hostile file costs neither memory nor time.
 * The EXIF orientation comes from the APP1 "Exif" marker.
 */
#include "formats/image.h"
#include "base/error.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#define MAX_SCANS 1000

struct jerr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
};

static void j_error_exit(j_common_ptr ci)
{
	struct jerr *e = (struct jerr *)ci->err;
	(*ci->err->format_message)(ci, e->msg);
	longjmp(e->jb, 1);
}

/* Warnings (msg_level -1) about damaged data abort; trace messages do not. */
static void j_emit(j_common_ptr ci, int level)
{
	struct jerr *e = (struct jerr *)ci->err;
	if (level >= 0)
		return;
	int code = ci->err->msg_code;
	if (code == JWRN_EXTRANEOUS_DATA || code == JWRN_ADOBE_XFORM || code == JWRN_JFIF_MAJOR ||
	    code == JWRN_BOGUS_PROGRESSION)
		return; /* common in real files and harmless */
	(*ci->err->format_message)(ci, e->msg);
	longjmp(e->jb, code == JWRN_JPEG_EOF ? 2 : 1);
}

static void j_output(j_common_ptr ci)
{
	(void)ci;
}

static void j_progress(j_common_ptr ci)
{
	j_decompress_ptr d = (j_decompress_ptr)ci;
	if (d->is_decompressor && d->input_scan_number > MAX_SCANS) {
		struct jerr *e = (struct jerr *)ci->err;
		snprintf(e->msg, sizeof e->msg, "more than %d progressive scans", MAX_SCANS);
		longjmp(e->jb, 3);
	}
}

static int find_exif(j_decompress_ptr d)
{
	for (jpeg_saved_marker_ptr m = d->marker_list; m; m = m->next)
		if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && !memcmp(m->data, "Exif\0\0", 6))
			return od_exif_orientation(m->data + 6, m->data_length - 6);
	return 1;
}

int od_jpeg_read(struct od_image *img, const uint8_t *data, size_t len, const char *label,
		 const struct od_image_opts *opts, int *orientation)
{
	struct jpeg_decompress_struct d;
	struct jerr e;
	struct jpeg_progress_mgr prog = { j_progress, 0, 0, 0, 0 };
	volatile int rc = OD_OK, started = 0;
	memset(img, 0, sizeof *img);
	d.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = j_error_exit;
	e.pub.emit_message = j_emit;
	e.pub.output_message = j_output;
	e.msg[0] = 0;
	int jv = setjmp(e.jb);
	if (jv) {
		if (rc == OD_OK)
			rc = jv == 2 ? od_error(OD_EFORMAT, "'%s': truncated JPEG data", label)
				     : od_error(OD_EFORMAT, "'%s': corrupt JPEG: %s", label, e.msg);
		goto done;
	}
	jpeg_create_decompress(&d);
	started = 1;
	int64_t max_pixels = opts && opts->max_pixels > 0 ? opts->max_pixels : OD_IMAGE_MAX_PIXELS;
	/* room for a progressive file's coefficients (2 bytes × 3 components,
	 * with slack for subsampling and padding) plus working buffers */
	d.mem->max_memory_to_use = (long)(max_pixels * 8 + (64 << 20));
	d.progress = &prog;
	jpeg_mem_src(&d, data, (unsigned long)len);
	jpeg_save_markers(&d, JPEG_APP0 + 1, 0xffff);
	jpeg_read_header(&d, TRUE);
	if ((rc = od_image_check_size(d.image_width, d.image_height, label, opts)))
		goto done;
	if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK) {
		rc = od_error(OD_EFORMAT, "'%s': CMYK JPEG is not supported (convert it to RGB first)", label);
		goto done;
	}
	if (d.num_components != 1 && d.num_components != 3) {
		rc = od_error(OD_EFORMAT, "'%s': JPEG with %d components is not supported", label, d.num_components);
		goto done;
	}
	*orientation = find_exif(&d);
	d.out_color_space = JCS_RGB;
	jpeg_start_decompress(&d);
	if (d.output_components != 3) {
		rc = od_error(OD_EFORMAT, "'%s': JPEG did not decode to RGB", label);
		goto done;
	}
	if ((rc = od_image_alloc(img, (int)d.output_width, (int)d.output_height, 3)))
		goto done;
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = img->data + (size_t)d.output_scanline * d.output_width * 3;
		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
done:
	if (started)
		jpeg_destroy_decompress(&d);
	if (rc)
		od_image_free(img);
	return rc;
}

/* ---- writing */

int od_image_write_jpeg(struct od_out *o, const struct od_image *img, int quality, const struct od_meta_entry *meta,
			int n_meta)
{
	struct jpeg_compress_struct c;
	struct jerr e;
	unsigned char *volatile buf = NULL;
	unsigned long size = 0;
	char *volatile com = NULL;
	volatile int rc = OD_OK, started = 0;
	if (quality < 1 || quality > 100)
		return od_error(OD_EINVAL, "JPEG quality %d is not in 1..100", quality);
	c.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = j_error_exit;
	e.pub.output_message = j_output;
	if (setjmp(e.jb)) {
		rc = od_error(OD_EFAIL, "'%s': JPEG encoder: %s", o->label, e.msg);
		goto done;
	}
	jpeg_create_compress(&c);
	started = 1;
	jpeg_mem_dest(&c, (unsigned char **)&buf, &size);
	c.image_width = (JDIMENSION)img->width;
	c.image_height = (JDIMENSION)img->height;
	c.input_components = img->channels;
	c.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, quality, TRUE);
	if (quality >= 90) /* full-resolution colour for high quality; 4:2:0 below */
		for (int i = 0; i < c.num_components; i++)
			c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
	jpeg_start_compress(&c, TRUE);
	/* the generation parameters as "key=value" lines in one comment marker */
	size_t cl = 0;
	for (int i = 0; i < n_meta; i++)
		cl += strlen(meta[i].key) + strlen(meta[i].value) + 2;
	if (cl) {
		com = malloc(cl + 1);
		if (!com) {
			rc = od_error(OD_ENOMEM, "out of memory");
			goto done;
		}
		size_t p = 0;
		for (int i = 0; i < n_meta; i++)
			p += (size_t)sprintf(com + p, "%s=%s\n", meta[i].key, meta[i].value);
		if (p > 65533)
			p = 65533; /* one marker's payload at most */
		jpeg_write_marker(&c, JPEG_COM, (const JOCTET *)com, (unsigned)p);
	}
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = img->data + (size_t)c.next_scanline * img->width * img->channels;
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	rc = od_out_write(o, buf, size);
done:
	if (started)
		jpeg_destroy_compress(&c);
	free(buf);
	free(com);
	return rc;
}
