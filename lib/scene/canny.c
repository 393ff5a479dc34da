/*
 * canny.c: the Canny edge detector (see canny.h for the steps and the
 * parameters). Works in float; every pixel is computed the same way whatever
 * the picture, so the output depends on the input alone.
 */
#include "scene/canny.h"
#include "base/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RADIUS 64

void od_canny_params_default(struct od_canny_params *p)
{
	p->sigma = OD_CANNY_SIGMA;
	p->low = OD_CANNY_LOW;
	p->high = OD_CANNY_HIGH;
}

static int clampi(int x, int lo, int hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* One channel of img (stride channels) smoothed into out (H, W), the picture's
 * edges repeated. plane, tmp: (H, W) scratch. The interior skips the clamping
 * and the vertical pass runs along rows, so both vectorise; every output is
 * the same sum in the same order either way. */
static void smooth(const uint8_t *img, int W, int H, int C, int ch, const float *g, int r, float *plane, float *tmp,
		   float *out)
{
	for (size_t i = 0; i < (size_t)W * H; i++)
		plane[i] = img[i * C + ch];
	for (int y = 0; y < H; y++) {
		const float *row = plane + (size_t)y * W;
		float *t = tmp + (size_t)y * W;
		int x0 = r < W ? r : W, x1 = W - r > x0 ? W - r : x0; /* [x0, x1): no clamping needed */
		for (int x = x0; x < x1; x++)
			t[x] = 0;
		for (int k = -r; k <= r; k++)
			for (int x = x0; x < x1; x++)
				t[x] += g[k + r] * row[x + k];
		for (int x = 0; x < W; x++) {
			if (x == x0)
				x = x1;
			if (x >= W)
				break;
			float s = 0;
			for (int k = -r; k <= r; k++)
				s += g[k + r] * row[clampi(x + k, 0, W - 1)];
			t[x] = s;
		}
	}
	for (int y = 0; y < H; y++) {
		float *o = out + (size_t)y * W;
		for (int x = 0; x < W; x++)
			o[x] = 0;
		for (int k = -r; k <= r; k++) {
			const float *t = tmp + (size_t)clampi(y + k, 0, H - 1) * W;
			for (int x = 0; x < W; x++)
				o[x] += g[k + r] * t[x];
		}
	}
}

int od_canny(const uint8_t *img, int width, int height, int channels, const struct od_canny_params *p,
	     uint8_t *edges)
{
	const int W = width, H = height, C = channels;
	if (W < 1 || H < 1 || (C != 1 && C != 3))
		return od_error(OD_EINVAL, "canny: a %dx%d picture of %d channels", W, H, C);
	if (!(p->sigma >= 0) || !(p->low >= 0) || !(p->low <= p->high) || !isfinite(p->high))
		return od_error(OD_EINVAL, "canny: sigma %g, thresholds %g and %g (need sigma >= 0, 0 <= low <= high)",
				p->sigma, p->low, p->high);
	int r = (int)ceil(3 * p->sigma);
	if (r > MAX_RADIUS)
		return od_error(OD_EINVAL, "canny: sigma %g is over %g", p->sigma, MAX_RADIUS / 3.0);
	float g[2 * MAX_RADIUS + 1];
	if (r == 0) {
		g[0] = 1;
	} else {
		double sum = 0;
		for (int k = -r; k <= r; k++)
			sum += exp(-0.5 * k * k / (p->sigma * p->sigma));
		for (int k = -r; k <= r; k++)
			g[k + r] = (float)(exp(-0.5 * k * k / (p->sigma * p->sigma)) / sum);
	}
	size_t n = (size_t)W * H;
	float *tmp = malloc(n * sizeof *tmp), *b = malloc(n * sizeof *b), *plane = malloc(n * sizeof *plane);
	float *gx = malloc(n * sizeof *gx), *gy = malloc(n * sizeof *gy), *mag = malloc(n * sizeof *mag);
	int *stack = malloc(n * sizeof *stack);
	if (!tmp || !b || !plane || !gx || !gy || !mag || !stack) {
		free(tmp), free(b), free(plane), free(gx), free(gy), free(mag), free(stack);
		return od_error(OD_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		mag[i] = -1;
	/* smoothing and Sobel per channel; the strongest channel wins at each pixel */
	for (int ch = 0; ch < C; ch++) {
		smooth(img, W, H, C, ch, g, r, plane, tmp, b);
		for (int y = 0; y < H; y++) {
			const float *up = b + (size_t)clampi(y - 1, 0, H - 1) * W, *mid = b + (size_t)y * W,
				    *dn = b + (size_t)clampi(y + 1, 0, H - 1) * W;
			for (int x = 0; x < W; x++) {
				int l = clampi(x - 1, 0, W - 1), rr = clampi(x + 1, 0, W - 1);
				float sx = (up[rr] + 2 * mid[rr] + dn[rr]) - (up[l] + 2 * mid[l] + dn[l]);
				float sy = (dn[l] + 2 * dn[x] + dn[rr]) - (up[l] + 2 * up[x] + up[rr]);
				float m = sqrtf(sx * sx + sy * sy);
				size_t i = (size_t)y * W + x;
				if (m > mag[i]) {
					mag[i] = m;
					gx[i] = sx;
					gy[i] = sy;
				}
			}
		}
	}
	/* non-maximum suppression and the double threshold: 2 strong, 1 weak, 0 none */
	const float t22 = 0.41421356f, t67 = 2.41421356f; /* tan 22.5°, tan 67.5° */
	uint8_t *cls = edges;
	memset(cls, 0, n);
	for (int y = 1; y < H - 1; y++)
		for (int x = 1; x < W - 1; x++) {
			size_t i = (size_t)y * W + x;
			float m = mag[i];
			if (m < p->low)
				continue;
			float ax = fabsf(gx[i]), ay = fabsf(gy[i]);
			size_t behind, ahead;
			if (ay <= t22 * ax) { /* the gradient is horizontal: compare left and right */
				behind = i - 1, ahead = i + 1;
			} else if (ay >= t67 * ax) { /* vertical: above and below (y grows downwards) */
				behind = i - W, ahead = i + W;
			} else if ((gx[i] > 0) == (gy[i] > 0)) { /* along (1, 1) */
				behind = i - W - 1, ahead = i + W + 1;
			} else { /* along (1, -1) */
				behind = i + W - 1, ahead = i - W + 1;
			}
			if (m > mag[behind] && m >= mag[ahead])
				cls[i] = m >= p->high ? 2 : 1;
		}
	/* hysteresis: grow from the strong pixels through 8-connected weak ones */
	size_t top = 0;
	for (size_t i = 0; i < n; i++)
		if (cls[i] == 2) {
			cls[i] = 255;
			stack[top++] = (int)i;
		}
	while (top) {
		int i = stack[--top], x = i % W, y = i / W;
		for (int dy = -1; dy <= 1; dy++)
			for (int dx = -1; dx <= 1; dx++) {
				int xx = x + dx, yy = y + dy;
				if (xx < 0 || yy < 0 || xx >= W || yy >= H)
					continue;
				size_t j = (size_t)yy * W + xx;
				if (cls[j] == 1) {
					cls[j] = 255;
					stack[top++] = (int)j;
				}
			}
	}
	for (size_t i = 0; i < n; i++)
		if (cls[i] != 255)
			cls[i] = 0;
	free(tmp), free(b), free(plane), free(gx), free(gy), free(mag), free(stack);
	return OD_OK;
}
