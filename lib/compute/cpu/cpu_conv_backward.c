/*
 * cpu_conv_backward.c: the backward passes of the VAE's spatial kernels, 2-D
 * convolution (im2col + GEMMs, col2im) and nearest ×2 up-sampling
 * (numerics.md §12.3.1, §12.3.4). im2col and col2im: cpu_im2col.c.
 *
 * For one image, with col = im2col(x) (K × P, K = Cin·kh·kw, P = Hout·Wout) and
 * the forward y = W·col + b:
 *   dW += dy·colᵀ,   db += Σ_p dy,   dcol = Wᵀ·dy,   dx = col2im(dcol)
 * where col2im adds each column entry back onto the input pixel im2col took it
 * from (padding taps are dropped), which covers strides and asymmetric padding
 * (the encoder's down-sampling convolution) with no special case.
 *
 * Determinism: the work is split into tasks by input channel: task t owns the
 * channels [t·cpc, (t+1)·cpc), i.e. the rows r of K that read them, so it alone
 * writes the dx planes of those channels and the dW columns of those rows. A
 * task walks the images and the bands of output rows in order, and each band is
 * one single-threaded sgemm per product (dW with beta 1, so the sum over images
 * and bands runs in that fixed order). Tasks and bands are cut from the shape
 * alone, so the bytes are the same for every thread count. db is its own pass,
 * one channel per item, summed in double.
 */
#include "compute/cpu/cpu_kernels.h"
#include "base/error.h"
#include "base/parallel.h"

#include <cblas.h>
#include <string.h>

#define COL_FLOATS ((size_t)2 << 20) /* per buffer; a task holds two (col and dcol) */
#define TASKS 16                     /* input-channel tasks aimed at (fewer when Cin is smaller) */

struct convb_job {
	float *dx, *dw;
	const float *dy, *x, *w;
	int N, Cin, H, W, Cout, kh, kw, stride, pt, pl, Hout, Wout;
	int rows, bands, cpc;
	int failed;
};

static void convb_tasks(void *p, int64_t t0, int64_t t1)
{
	struct convb_job *j = p;
	const int taps = j->kh * j->kw;
	const int64_t K = (int64_t)j->Cin * taps, plane = (int64_t)j->Hout * j->Wout, HW = (int64_t)j->H * j->W;
	const struct od_conv_geom g = { j->Cin, j->H, j->W, j->kh, j->kw, j->stride, j->pt, j->pl, j->Wout };
	for (int64_t t = t0; t < t1; t++) {
		const int ci0 = (int)t * j->cpc, nci = j->Cin - ci0 < j->cpc ? j->Cin - ci0 : j->cpc;
		const int64_t r0 = (int64_t)ci0 * taps, kr = (int64_t)nci * taps;
		const size_t need = (size_t)kr * (size_t)j->rows * (size_t)j->Wout;
		float *col = j->dw ? od_cpu_thread_scratch(0, need) : NULL;
		float *dcol = j->dx ? od_cpu_thread_scratch(1, need) : NULL;
		if ((j->dw && !col) || (j->dx && !dcol)) {
			__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
			return;
		}
		for (int n = 0; n < j->N; n++) {
			const float *xn = j->x + (int64_t)n * j->Cin * HW, *dyn = j->dy + (int64_t)n * j->Cout * plane;
			float *dxn = j->dx ? j->dx + (int64_t)n * j->Cin * HW : NULL;
			if (dxn)
				memset(dxn + (int64_t)ci0 * HW, 0, (size_t)(nci * HW) * sizeof *dxn);
			for (int band = 0; band < j->bands; band++) {
				int oy0 = band * j->rows, rows = j->Hout - oy0 < j->rows ? j->Hout - oy0 : j->rows;
				const int ncol = rows * j->Wout;
				const float *dyb = dyn + (int64_t)oy0 * j->Wout; /* (Cout × ncol), rows plane apart */
				if (j->dw) {
					/* dW[:, r0:r0+kr] (Cout × kr, ld K) += dy_band · colᵀ */
					od_im2col_rows(&g, xn, col, r0, kr, oy0, rows);
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->Cout, (int)kr, ncol, 1.0f, dyb,
						    (int)plane, col, ncol, 1.0f, j->dw + r0, (int)K);
				}
				if (dxn) {
					/* dcol (kr × ncol) = W[:, r0:r0+kr]ᵀ · dy_band */
					cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kr, ncol, j->Cout, 1.0f,
						    j->w + r0, (int)K, dyb, (int)plane, 0.0f, dcol, ncol);
					od_col2im_rows(&g, dxn, dcol, r0, kr, oy0, rows);
				}
			}
		}
	}
}

struct bias_job {
	float *db;
	const float *dy;
	int N, Cout;
	int64_t plane;
};

static void bias_channels(void *p, int64_t c0, int64_t c1)
{
	const struct bias_job *j = p;
	for (int64_t co = c0; co < c1; co++) {
		double s = 0;
		for (int n = 0; n < j->N; n++) {
			const float *d = j->dy + ((int64_t)n * j->Cout + co) * j->plane;
			for (int64_t i = 0; i < j->plane; i++)
				s += d[i];
		}
		j->db[co] += (float)s;
	}
}

int od_cpu_conv2d_backward(struct od_ctx *c, float *dx, float *dw, float *db, const float *dy, const float *x, int N,
			   int Cin, int H, int W, const struct od_tensor *w, int stride, const int pad[4])
{
	if (w->ndim != 4 || w->shape[1] != Cin)
		return od_error(OD_EINVAL, "conv2d backward: weight '%s' does not take %d channels",
				w->name ? w->name : "?", Cin);
	if (stride < 1)
		return od_error(OD_EINVAL, "conv2d backward: stride %d", stride);
	struct convb_job j = { .dx = dx, .dw = dw, .dy = dy, .x = x, .N = N, .Cin = Cin, .H = H, .W = W,
			       .Cout = (int)w->shape[0], .kh = (int)w->shape[2], .kw = (int)w->shape[3],
			       .stride = stride, .pt = pad[0], .pl = pad[2] };
	j.Hout = (H + pad[0] + pad[1] - j.kh) / stride + 1;
	j.Wout = (W + pad[2] + pad[3] - j.kw) / stride + 1;
	if (j.Hout <= 0 || j.Wout <= 0)
		return od_error(OD_EINVAL, "conv2d backward: %dx%d input is too small", H, W);
	if (N <= 0)
		return OD_OK;
	const int64_t plane = (int64_t)j.Hout * j.Wout;
	if (db) {
		struct bias_job b = { db, dy, N, j.Cout, plane };
		od_parallel_for(j.Cout, bias_channels, &b);
	}
	if (!dx && !dw)
		return OD_OK;
	j.w = od_param(c, w);
	if (!j.w)
		return OD_ENOMEM;
	j.cpc = (Cin + TASKS - 1) / TASKS;
	const int64_t kr = (int64_t)j.cpc * j.kh * j.kw;
	int64_t rows = (int64_t)COL_FLOATS / (kr * j.Wout);
	if (rows > j.Hout)
		rows = j.Hout;
	if (rows < 1)
		rows = 1;
	j.rows = (int)rows;
	j.bands = (j.Hout + j.rows - 1) / j.rows;
	od_parallel_for((Cin + j.cpc - 1) / j.cpc, convb_tasks, &j);
	if (j.failed)
		return od_error(OD_ENOMEM, "conv2d backward: out of memory for the column buffers");
	return OD_OK;
}

struct upb_job {
	float *dx;
	const float *dy;
	int H, W;
};

static void upb_planes(void *p, int64_t p0, int64_t p1)
{
	const struct upb_job *j = p;
	for (int64_t pl = p0; pl < p1; pl++) {
		const float *dy = j->dy + pl * 4 * j->H * j->W;
		float *dx = j->dx + pl * j->H * j->W;
		for (int r = 0; r < j->H; r++) {
			const float *a = dy + (int64_t)(2 * r) * 2 * j->W, *b = a + 2 * j->W;
			for (int cc = 0; cc < j->W; cc++) /* the order the CUDA twin uses too */
				dx[(int64_t)r * j->W + cc] = ((a[2 * cc] + a[2 * cc + 1]) + b[2 * cc]) + b[2 * cc + 1];
		}
	}
}

int od_cpu_upsample2x_backward(struct od_ctx *c, float *dx, const float *dy, int64_t planes, int H, int W)
{
	struct upb_job j = { dx, dy, H, W };
	od_parallel_for(planes, upb_planes, &j);
	return OD_OK;
}
