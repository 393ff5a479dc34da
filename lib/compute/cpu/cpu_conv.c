/*
 * cpu_conv.c: 2-D convolution as im2col + sgemm, tiled over bands of output
 * rows.
 *
 * The column matrix for a whole 1024² image with 128 input channels and a 3×3
 * kernel would be 4.5 GB; each band's is built in a per-thread scratch of at
 * most COL_FLOATS floats, whatever the image size. Bands are cut from the
 * shape alone (at least four per image when it is tall enough) and each is
 * one single-threaded sgemm, so results are identical for every thread count.
 * 1×1 convolutions with stride 1 and no padding skip im2col: each band of
 * pixels is a single sgemm on the input as it is.
 *
 * BF16 precision (backend.h): the band's columns (or the input, for 1×1) are
 * rounded and packed as the B operand of cpu_bf16.c, the weights are the A
 * operand as stored, float32 accumulation; bias in float32 afterwards.
 */
#include "compute/cpu/cpu_kernels.h"
#include "base/error.h"
#include "base/parallel.h"

#include <cblas.h>
#include <string.h>

#define COL_FLOATS ((size_t)4 << 20)

struct conv_job {
	float *y;
	const float *x, *w, *b;
	const struct od_tensor *wt; /* BF16 precision: the weights as stored */
	int Cin, H, W, Cout, kh, kw, stride, pt, pl, Hout, Wout, rows, bands, direct;
	int failed;
};

static void im2col(const struct conv_job *j, const float *x, float *col, int oy0, int rows);

/* Output pixels per BF16 product call: bounds the float32 accumulators. */
#define PIX_CHUNK 256

static int band_bf16(struct conv_job *j, const float *xn, float *yn, int oy0, int rows)
{
	const int64_t K = (int64_t)j->Cin * j->kh * j->kw, plane = (int64_t)j->Hout * j->Wout;
	const int ncol = rows * j->Wout;
	uint16_t *bp = (uint16_t *)od_cpu_thread_scratch(OD_SCRATCH_PACKED, (od_bf16_packed_len(K, ncol) + 1) / 2);
	if (!bp)
		return OD_ENOMEM;
	if (j->direct) {
		od_bf16_pack_n(bp, xn + (int64_t)oy0 * j->Wout, plane, K, ncol, 0, (ncol + 15) / 16);
	} else {
		float *col = od_cpu_thread_scratch(OD_SCRATCH_COL, (size_t)(K * ncol));
		if (!col)
			return OD_ENOMEM;
		im2col(j, xn, col, oy0, rows);
		od_bf16_pack_n(bp, col, ncol, K, ncol, 0, (ncol + 15) / 16);
	}
	const struct od_gemm_a a = { j->wt->data, j->wt->dtype, K, j->Cout, K };
	for (int c0 = 0; c0 < ncol; c0 += PIX_CHUNK) {
		int nc = ncol - c0 < PIX_CHUNK ? ncol - c0 : PIX_CHUNK;
		if (od_bf16_gemm(&a, bp, ncol, 0, j->Cout, c0, nc, yn, plane, 0))
			return OD_ENOMEM;
	}
	return OD_OK;
}

static void im2col(const struct conv_job *j, const float *x, float *col, int oy0, int rows)
{
	const struct od_conv_geom g = { j->Cin, j->H, j->W, j->kh, j->kw, j->stride, j->pt, j->pl, j->Wout };
	od_im2col_rows(&g, x, col, 0, (int64_t)j->Cin * j->kh * j->kw, oy0, rows);
}

static void conv_bands(void *p, int64_t t0, int64_t t1)
{
	struct conv_job *j = p;
	const int64_t K = (int64_t)j->Cin * j->kh * j->kw, plane = (int64_t)j->Hout * j->Wout;
	for (int64_t t = t0; t < t1; t++) {
		int n = (int)(t / j->bands), band = (int)(t % j->bands);
		int oy0 = band * j->rows, rows = j->Hout - oy0 < j->rows ? j->Hout - oy0 : j->rows;
		const float *xn = j->x + (int64_t)n * j->Cin * j->H * j->W;
		float *yn = j->y + (int64_t)n * j->Cout * plane + (int64_t)oy0 * j->Wout;
		const int ncol = rows * j->Wout;
		if (j->wt) {
			if (band_bf16(j, xn, yn, oy0, rows)) {
				__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
				return;
			}
		} else if (j->direct) {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->Cout, ncol, j->Cin, 1.0f, j->w, j->Cin,
				    xn + (int64_t)oy0 * j->Wout, (int)plane, 0.0f, yn, (int)plane);
		} else {
			float *col = od_cpu_thread_scratch(OD_SCRATCH_COL, (size_t)(K * ncol));
			if (!col) {
				__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
				return;
			}
			im2col(j, xn, col, oy0, rows);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->Cout, ncol, (int)K, 1.0f, j->w, (int)K, col,
				    ncol, 0.0f, yn, (int)plane);
		}
		if (j->b)
			for (int co = 0; co < j->Cout; co++) {
				float *yc = yn + (int64_t)co * plane, bc = j->b[co];
				for (int i = 0; i < ncol; i++)
					yc[i] += bc;
			}
	}
}

int od_cpu_conv2d(struct od_ctx *c, float *y, const float *x, int N, int Cin, int H, int W,
		  const struct od_tensor *w, const struct od_tensor *bias, int stride, const int pad[4])
{
	if (w->ndim != 4 || w->shape[1] != Cin)
		return od_error(OD_EINVAL, "conv2d: weight '%s' does not take %d channels", w->name ? w->name : "?", Cin);
	if (stride < 1)
		return od_error(OD_EINVAL, "conv2d: stride %d", stride);
	struct conv_job j = { .y = y, .x = x, .Cin = Cin, .H = H, .W = W, .Cout = (int)w->shape[0],
			      .kh = (int)w->shape[2], .kw = (int)w->shape[3], .stride = stride, .pt = pad[0], .pl = pad[2] };
	j.Hout = (H + pad[0] + pad[1] - j.kh) / stride + 1;
	j.Wout = (W + pad[2] + pad[3] - j.kw) / stride + 1;
	if (j.Hout <= 0 || j.Wout <= 0)
		return od_error(OD_EINVAL, "conv2d: %dx%d input is too small", H, W);
	if (od_cpu_bf16(c)) {
		if (w->dtype != OD_F32 && w->dtype != OD_BF16 && w->dtype != OD_F16)
			return od_error(OD_EMODEL, "conv2d: weight '%s' is %s", w->name ? w->name : "?", od_dtype_name(w->dtype));
		j.wt = w;
	} else if (!(j.w = od_param(c, w))) {
		return OD_ENOMEM;
	}
	j.b = bias ? od_param(c, bias) : NULL;
	if (bias && !j.b)
		return OD_ENOMEM;
	j.direct = j.kh == 1 && j.kw == 1 && stride == 1 && !pad[0] && !pad[1] && !pad[2] && !pad[3];
	const int64_t K = (int64_t)Cin * j.kh * j.kw;
	int rows = (int)(COL_FLOATS / (size_t)(K * j.Wout));
	int quarter = (j.Hout + 3) / 4;
	if (rows > quarter)
		rows = quarter;
	if (rows < 1)
		rows = 1;
	j.rows = rows;
	j.bands = (j.Hout + rows - 1) / rows;
	od_parallel_for((int64_t)N * j.bands, conv_bands, &j);
	if (j.failed)
		return od_error(OD_ENOMEM, "conv2d: out of memory for the column buffer");
	return OD_OK;
}
