/*
 * image16.h: 16-bit grey PNG pictures, as depth maps are stored (a depth16.png
 * of a scene set: value = depth / depth_scale, 0 = no surface; od-eval(1)).
 *
 * image.h reads every picture as 8-bit RGB, keeping the high byte of 16-bit
 * samples, which is right for pictures and wrong for depth. This reader keeps
 * all 16 bits and only reads what a depth map is: one grey channel (an alpha
 * channel is dropped) at bit depth 16. Anything else is refused with a message
 * naming the file, so an 8-bit picture is never taken for metric depth by
 * mistake; od_png_bit_depth() lets a caller choose the reader first.
 *
 * The stored orientation is kept (an eXIf chunk is not applied). The size is
 * checked against the limits of od_image_opts (image.h) before anything is
 * allocated; corrupt or truncated data is an OD_EFORMAT error.
 */
#ifndef OD_IMAGE16_H
#define OD_IMAGE16_H

#include "formats/image.h"

#include <stddef.h>
#include <stdint.h>

/* A grey picture, rows packed top to bottom: data[y·width + x]. */
struct od_image16 {
	int width, height;
	uint16_t *data;
};

void od_image16_free(struct od_image16 *img);

/* The bit depth a PNG's header declares (1, 2, 4, 8 or 16) as libpng reads it,
 * or 0 when data is not a PNG or its header cannot be read. */
int od_png_bit_depth(const void *data, size_t len);

/* Decode a 16-bit grey (or grey + alpha) PNG held in memory; label names it in
 * messages. opts may be NULL. OD_EFORMAT for other PNGs and for anything that
 * is not a PNG. */
int od_image16_read_mem(struct od_image16 *img, const void *data, size_t len, const char *label,
			const struct od_image_opts *opts);
/* The same for a file ("-": standard input). */
int od_image16_read_file(struct od_image16 *img, const char *path, const struct od_image_opts *opts);

#endif
