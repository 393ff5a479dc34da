/*
 * canny.h: the Canny edge detector (J. Canny, "A Computational Approach to
 * Edge Detection", IEEE PAMI 8(6), 1986) that makes od-scene's canny.png.
 *
 *   1. Gaussian smoothing: each channel convolved with a sampled Gaussian of
 *      standard deviation sigma (radius ceil(3 sigma), weights summing to 1),
 *      separably, edges of the picture extended by repetition.
 *   2. Sobel gradients (3x3, edge repetition again) of every channel; at each
 *      pixel the channel whose gradient is largest gives gx, gy (as OpenCV's
 *      Canny does for colour pictures, which is what ControlNet-style canny
 *      maps are made with); magnitude sqrt(gx² + gy²).
 *   3. Non-maximum suppression: the gradient direction is rounded to one of
 *      0, 45, 90, 135 degrees, and a pixel stays only if its magnitude is
 *      larger than that of the neighbour behind it and at least that of the
 *      neighbour ahead (ties go to one side, so a plateau gives one line).
 *      The one-pixel frame of the picture never holds an edge.
 *   4. Double threshold: what stays is strong at magnitude >= high, weak at
 *      >= low, dropped below.
 *   5. Hysteresis: the edges are the strong pixels and every weak pixel
 *      8-connected to a strong one through weak pixels.
 *
 * Magnitudes are in Sobel units of 0-255 samples: after smoothing with
 * sigma = 1, a clean step of height s gives a peak magnitude of about 2.7 s,
 * so the defaults (low 50, high 100) take steps of about 18 and 37 levels.
 */
#ifndef OD_CANNY_H
#define OD_CANNY_H

#include <stdint.h>

#define OD_CANNY_SIGMA 1.0
#define OD_CANNY_LOW 50.0
#define OD_CANNY_HIGH 100.0

struct od_canny_params {
	double sigma;     /* Gaussian standard deviation, pixels; 0: no smoothing */
	double low, high; /* hysteresis thresholds on the gradient magnitude, low <= high */
};

void od_canny_params_default(struct od_canny_params *p);

/* Edges of an 8-bit picture of 1 or 3 channels (H, W, C) into edges (H, W):
 * 255 on an edge, 0 elsewhere. OD_EINVAL for bad sizes or parameters,
 * OD_ENOMEM. */
int od_canny(const uint8_t *img, int width, int height, int channels, const struct od_canny_params *p,
	     uint8_t *edges);

#endif
