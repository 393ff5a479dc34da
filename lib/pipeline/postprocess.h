/*
 * postprocess.h: decoded pixels to pictures (numerics.md §4.3, §6.4).
 *
 *   od_image_from_decoded   the pipeline's uint8 conversion: clamp(x/2 + 0.5,
 *                           0, 1), ×255, round half to even (numpy.round)
 *   od_image_luma           PIL convert('L'): ITU-601 luma, integer weights
 *   od_depth_colorize       the demo's depth display (numerics.md §6.4):
 *                           luma, min-max normalised, inverted, matplotlib's
 *                           "Spectral" colour map
 *   od_contact_sheet        several pictures on one grid
 *   od_image_resize         PIL's BILINEAR resampling: a map generated at the
 *                           bucket's size, given back at the picture's size
 */
#ifndef OD_POSTPROCESS_H
#define OD_POSTPROCESS_H

#include "formats/image.h"

/* x: (3, H, W) float32 decoder output -> an RGB picture. */
int od_image_from_decoded(const float *x, int H, int W, struct od_image *out);

/* A one-channel picture of PIL's luma: (R·19595 + G·38470 + B·7471 + 0x8000) >> 16. */
int od_image_luma(const struct od_image *rgb, struct od_image *gray);

/* The Spectral depth display of an RGB (or grey) picture. A flat picture
 * (max == min) has no defined depth and comes out black, as numpy's 0/0 gives
 * matplotlib's "bad" colour. */
int od_depth_colorize(const struct od_image *img, struct od_image *out);

/* matplotlib's "Spectral" as 256 RGB bytes (cmap(i/255, bytes=True)). */
extern const unsigned char od_spectral_lut[256][3];

/* Columns and rows for n pictures when none are given: cols = ceil(sqrt(n)). */
void od_grid_auto(int n, int *cols, int *rows);

/* Lay n pictures out row by row on a cols × rows grid of cells as large as
 * the largest picture, each at its cell's top-left corner, on black. Grey
 * pictures are widened when any picture has colour. */
int od_contact_sheet(const struct od_image *imgs, int n, int cols, int rows, struct od_image *out);

/* Resample in to w × h (each at least 1) as PIL's Image.resize(BILINEAR) does
 * (numerics.md §6.4):
 * separable, a triangle filter of radius 1 widened by the scale when
 * shrinking (so that shrinking averages instead of aliasing), centres at
 * (i + 0.5)·scale, weights normalised per output pixel, edges clamped by
 * dropping the taps outside. Computed in float32 and rounded once at the end
 * (PIL rounds between the two passes: results agree within 1 level). */
int od_image_resize(const struct od_image *in, int w, int h, struct od_image *out);

#endif
