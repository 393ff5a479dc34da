/*
 * cpu_conv.c: 2-D convolution as im2col + sgemm, tiled over output rows.
 *
 * The column matrix for a whole 1024² image with 128 input channels and a 3×3
 * kernel would be 4.5 GB; building it a band of output rows at a time keeps it
 * under COL_FLOATS (64 MB) whatever the image size. 1×1 convolutions with
 * stride 1 and no padding are a single sgemm on the input as it is.
 */
#include "cpu_kernels.h"
#include "error.h"
#include "parallel.h"

#include <cblas.h>
#include <string.h>

#define COL_FLOATS ((size_t)16 << 20)

struct col_job {
	float *col;
	const float *x;
	int Cin, H, W, kh, kw, stride, pt, pl, Wout, oy0, rows;
};

static void im2col(void *p, int64_t r0, int64_t r1)
{
	const struct col_job *j = p;
	const int64_t ncol = (int64_t)j->rows * j->Wout;
	for (int64_t r = r0; r < r1; r++) { /* r = (ci·kh + ky)·kw + kx */
		int kx = (int)(r % j->kw), ky = (int)((r / j->kw) % j->kh), ci = (int)(r / (j->kw * j->kh));
		float *dst = j->col + r * ncol;
		const float *src = j->x + (int64_t)ci * j->H * j->W;
		for (int oy = 0; oy < j->rows; oy++) {
			int iy = (j->oy0 + oy) * j->stride + ky - j->pt;
			float *d = dst + (int64_t)oy * j->Wout;
			if (iy < 0 || iy >= j->H) {
				memset(d, 0, (size_t)j->Wout * sizeof *d);
				continue;
			}
			const float *s = src + (int64_t)iy * j->W;
			for (int ox = 0; ox < j->Wout; ox++) {
				int ix = ox * j->stride + kx - j->pl;
				d[ox] = ix >= 0 && ix < j->W ? s[ix] : 0.0f;
			}
		}
	}
}

struct cbias_job {
	float *y;
	const float *b;
	int64_t plane;
};

static void add_channel_bias(void *p, int64_t c0, int64_t c1)
{
	const struct cbias_job *j = p;
	for (int64_t ch = c0; ch < c1; ch++) {
		float *y = j->y + ch * j->plane, b = j->b[ch];
		for (int64_t i = 0; i < j->plane; i++)
			y[i] += b;
	}
}

int od_cpu_conv2d(struct od_ctx *c, float *y, const float *x, int N, int Cin, int H, int W,
		  const struct od_tensor *w, const struct od_tensor *bias, int stride, const int pad[4])
{
	if (w->ndim != 4 || w->shape[1] != Cin)
		return od_error(OD_EINVAL, "conv2d: weight '%s' does not take %d channels", w->name ? w->name : "?", Cin);
	const int Cout = (int)w->shape[0], kh = (int)w->shape[2], kw = (int)w->shape[3];
	const int Hout = (H + pad[0] + pad[1] - kh) / stride + 1, Wout = (W + pad[2] + pad[3] - kw) / stride + 1;
	if (Hout <= 0 || Wout <= 0)
		return od_error(OD_EINVAL, "conv2d: %dx%d input is too small", H, W);
	const float *wf = od_param(c, w);
	const float *bf = bias ? od_param(c, bias) : NULL;
	if (!wf || (bias && !bf))
		return OD_ENOMEM;
	const int64_t K = (int64_t)Cin * kh * kw, plane = (int64_t)Hout * Wout;
	const int direct = kh == 1 && kw == 1 && stride == 1 && !pad[0] && !pad[1] && !pad[2] && !pad[3];
	int rows = direct ? Hout : (int)(COL_FLOATS / (size_t)(K * Wout));
	if (rows < 1)
		rows = 1;
	if (rows > Hout)
		rows = Hout;
	float *col = direct ? NULL : od_cpu_scratch(c, 0, (size_t)(K * rows * Wout));
	if (!direct && !col)
		return OD_ENOMEM;
	for (int n = 0; n < N; n++) {
		const float *xn = x + (int64_t)n * Cin * H * W;
		float *yn = y + (int64_t)n * Cout * plane;
		if (direct) {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Cout, (int)plane, Cin, 1.0f, wf, Cin, xn,
				    (int)plane, 0.0f, yn, (int)plane);
		} else {
			for (int oy0 = 0; oy0 < Hout; oy0 += rows) {
				int r = Hout - oy0 < rows ? Hout - oy0 : rows;
				struct col_job j = { col, xn, Cin, H, W, kh, kw, stride, pad[0], pad[2], Wout, oy0, r };
				od_parallel_for(K, im2col, &j);
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Cout, r * Wout, (int)K, 1.0f, wf,
					    (int)K, col, r * Wout, 0.0f, yn + (int64_t)oy0 * Wout, (int)plane);
			}
		}
		if (bf) {
			struct cbias_job j = { yn, bf, plane };
			od_parallel_for(Cout, add_channel_bias, &j);
		}
	}
	return OD_OK;
}
