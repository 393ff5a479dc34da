/*
 * test_im2col.c: the column matrix of a convolution and its transpose
 * (cpu_im2col.c) against the definition, pixel by pixel, over every kernel
 * size, stride and padding the VAE uses and the awkward ones (kernels wider
 * than the input, padding wider than the kernel, odd widths, row ranges that
 * start inside the picture): im2col exactly equal, col2im the same bits as the
 * per-pixel sums in the same order.
 */
#include "compute/cpu/cpu_kernels.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rs = 99;
static float frand(void)
{
	rs = rs * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(rs >> 11) * 0x1p-53 * 2.0 - 1.0);
}

/* the definition: column (oy, ox) of tap r, 0 in the padding */
static float tap_value(const struct od_conv_geom *g, const float *x, int64_t r, int oy, int ox)
{
	int kx = (int)(r % g->kw), ky = (int)((r / g->kw) % g->kh), ci = (int)(r / (g->kw * g->kh));
	int iy = oy * g->stride + ky - g->pt, ix = ox * g->stride + kx - g->pl;
	if (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W)
		return 0.0f;
	return x[((int64_t)ci * g->H + iy) * g->W + ix];
}

int main(void)
{
	int cases = 0, bad_fwd = 0, bad_bwd = 0;
	const int ks[] = { 1, 2, 3, 5 }, strides[] = { 1, 2, 3 }, widths[] = { 1, 3, 7, 16, 17 };
	for (size_t a = 0; a < 4; a++)
		for (size_t b = 0; b < 3; b++)
			for (size_t c = 0; c < 5; c++)
				for (int pad = 0; pad <= 3; pad++) {
					struct od_conv_geom g = { 2, 5, widths[c], ks[a], ks[a], strides[b], pad, pad / 2 + pad % 2, 0 };
					int pb = pad / 2, pr = pad; /* asymmetric: bottom and right differ from top and left */
					int Hout = (g.H + g.pt + pb - g.kh) / g.stride + 1;
					g.Wout = (g.W + g.pl + pr - g.kw) / g.stride + 1;
					if (Hout < 1 || g.Wout < 1)
						continue;
					cases++;
					const int64_t K = (int64_t)g.Cin * g.kh * g.kw;
					const int oy0 = Hout > 1 ? 1 : 0, rows = Hout - oy0;
					const int64_t ncol = (int64_t)rows * g.Wout, r0 = K > 1 ? 1 : 0, kr = K - r0;
					float *x = malloc(sizeof(float) * g.Cin * g.H * g.W), *col = malloc(sizeof(float) * kr * ncol);
					float *dx = calloc((size_t)g.Cin * g.H * g.W, sizeof(float));
					float *ref = calloc((size_t)g.Cin * g.H * g.W, sizeof(float));
					for (int i = 0; i < g.Cin * g.H * g.W; i++)
						x[i] = frand();
					od_im2col_rows(&g, x, col, r0, kr, oy0, rows);
					for (int64_t rr = 0; rr < kr; rr++)
						for (int oy = 0; oy < rows; oy++)
							for (int ox = 0; ox < g.Wout; ox++)
								if (col[rr * ncol + oy * g.Wout + ox] != tap_value(&g, x, r0 + rr, oy0 + oy, ox))
									bad_fwd++;
					/* col2im of random columns onto a non-zero dx, and the definition's sums in order */
					for (int64_t i = 0; i < kr * ncol; i++)
						col[i] = frand();
					for (int i = 0; i < g.Cin * g.H * g.W; i++)
						dx[i] = ref[i] = frand();
					od_col2im_rows(&g, dx, col, r0, kr, oy0, rows);
					for (int64_t rr = 0; rr < kr; rr++) {
						int64_t r = r0 + rr;
						int kx = (int)(r % g.kw), ky = (int)((r / g.kw) % g.kh), ci = (int)(r / (g.kw * g.kh));
						for (int oy = 0; oy < rows; oy++)
							for (int ox = 0; ox < g.Wout; ox++) {
								int iy = (oy0 + oy) * g.stride + ky - g.pt, ix = ox * g.stride + kx - g.pl;
								if (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W)
									ref[((int64_t)ci * g.H + iy) * g.W + ix] += col[rr * ncol + oy * g.Wout + ox];
							}
					}
					if (memcmp(dx, ref, sizeof(float) * g.Cin * g.H * g.W))
						bad_bwd++;
					free(x), free(col), free(dx), free(ref);
				}
	ok(cases > 150, "%d geometries (kernel 1-5, stride 1-3, padding 0-3 asymmetric, widths 1-17)", cases);
	ok(!bad_fwd, "im2col: every entry is the definition's (%d wrong)", bad_fwd);
	ok(!bad_bwd, "col2im: the same bits as the per-pixel sums (%d geometries differ)", bad_bwd);
	return tap_done();
}
