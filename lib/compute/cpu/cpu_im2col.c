/*
 * cpu_im2col.c: the column matrix of a 2-D convolution and its transpose, for
 * the forward pass (cpu_conv.c) and the backward pass (cpu_conv_backward.c).
 *
 * Row r of the column matrix is the tap (ci, ky, kx), r = (ci·kh + ky)·kw + kx;
 * its column (oy, ox) holds x[ci, oy·stride + ky − pt, ox·stride + kx − pl], 0
 * where that falls in the padding. For one tap the valid ox form one range,
 * computed once per tap instead of testing every pixel: inside it a row is a
 * plain copy (a memcpy at stride 1), outside it zeros. col2im adds the same
 * entries back in the same order (tap, output row, ox ascending), so it sums
 * exactly as the per-pixel loop did.
 */
#include "compute/cpu/cpu_kernels.h"

#include <string.h>

/* Tap r of the column matrix: its kernel position, its input channel's plane
 * offset, and the ox whose input column ox·stride + kx − pl lies in [0, W):
 * [lo, hi). */
struct tap {
	int kx, ky, lo, hi;
	int64_t plane;
};

static struct tap tap_of(const struct od_conv_geom *g, int64_t r)
{
	struct tap t = { (int)(r % g->kw), (int)((r / g->kw) % g->kh), 0, 0, 0 };
	t.plane = r / (g->kw * g->kh) * g->H * g->W;
	const int s = g->stride, first = g->pl - t.kx, last = g->W - 1 - t.kx + g->pl;
	t.lo = first <= 0 ? 0 : (first + s - 1) / s;
	t.hi = last < 0 ? 0 : last / s + 1;
	if (t.hi > g->Wout)
		t.hi = g->Wout;
	if (t.lo > t.hi)
		t.lo = t.hi;
	return t;
}

void od_im2col_rows(const struct od_conv_geom *g, const float *x, float *restrict col, int64_t r0, int64_t kr,
		    int oy0, int rows)
{
	const int64_t ncol = (int64_t)rows * g->Wout;
	const int s = g->stride;
	for (int64_t rr = 0; rr < kr; rr++) {
		const struct tap t = tap_of(g, r0 + rr);
		const int kx = t.kx, ky = t.ky, lo = t.lo, hi = t.hi;
		float *dst = col + rr * ncol;
		const float *src = x + t.plane;
		for (int oy = 0; oy < rows; oy++) {
			const int iy = (oy0 + oy) * s + ky - g->pt;
			float *restrict d = dst + (int64_t)oy * g->Wout;
			if (iy < 0 || iy >= g->H) {
				memset(d, 0, (size_t)g->Wout * sizeof *d);
				continue;
			}
			const float *restrict sr = src + (int64_t)iy * g->W + kx - g->pl;
			memset(d, 0, (size_t)lo * sizeof *d);
			if (s == 1)
				memcpy(d + lo, sr + lo, (size_t)(hi - lo) * sizeof *d);
			else
				for (int ox = lo; ox < hi; ox++)
					d[ox] = sr[ox * s];
			memset(d + hi, 0, (size_t)(g->Wout - hi) * sizeof *d);
		}
	}
}

/* d[i] += s[i] for i < n, four at a time (each element's one addition, as
 * the scalar loop makes it: the same bits). */
typedef float f32x4 __attribute__((vector_size(16)));
static void add_row(float *restrict d, const float *restrict s, int n)
{
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		f32x4 a, b;
		memcpy(&a, d + i, sizeof a);
		memcpy(&b, s + i, sizeof b);
		a += b;
		memcpy(d + i, &a, sizeof a);
	}
	for (; i < n; i++)
		d[i] += s[i];
}

void od_col2im_rows(const struct od_conv_geom *g, float *restrict dx, const float *restrict dcol, int64_t r0,
		    int64_t kr, int oy0, int rows)
{
	const int64_t ncol = (int64_t)rows * g->Wout;
	const int s = g->stride;
	for (int64_t rr = 0; rr < kr; rr++) {
		const struct tap t = tap_of(g, r0 + rr);
		const int kx = t.kx, ky = t.ky, lo = t.lo, hi = t.hi;
		const float *src = dcol + rr * ncol;
		float *dst = dx + t.plane;
		for (int oy = 0; oy < rows; oy++) {
			const int iy = (oy0 + oy) * s + ky - g->pt;
			if (iy < 0 || iy >= g->H)
				continue;
			const float *restrict sr = src + (int64_t)oy * g->Wout;
			float *restrict d = dst + (int64_t)iy * g->W + kx - g->pl;
			if (s == 1)
				add_row(d + lo, sr + lo, hi - lo);
			else
				for (int ox = lo; ox < hi; ox++)
					d[ox * s] += sr[ox];
		}
	}
}
