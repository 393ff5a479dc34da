/*
 * cpu_linear_backward.c: the two halves of a linear layer's backward pass
 * (numerics.md §11.7) over single-threaded OpenBLAS sgemm:
 *
 *   dx (M, K) = acc·dx + dy (M, N)·W          (the input gradient)
 *   dW (N, K) += dyᵀ·x,  db (N) += Σ_m dy[m]  (the parameter gradients)
 *
 * Determinism as in cpu_linear.c: the output is cut into tiles whose shape
 * depends only on the problem's shape, each tile is one sgemm that some thread
 * takes, so every output element is summed in the same order whatever the
 * thread count. The tiles are few and even (a multiple of 4, even_piece): the
 * thread pool gives each thread a contiguous run of them, and every tile packs
 * the shared operand again. For dW the reduction over the M rows happens inside one sgemm
 * per tile (OpenBLAS accumulates its fixed K-blocks into C in order), for db in
 * a fixed sequential order per column.
 *
 * BF16/F16 weights (inference checkpoints) are widened once per call into a
 * scratch copy; training keeps float32 weights, which are used in place.
 */
#include "compute/cpu/cpu_kernels.h"
#include "base/error.h"
#include "base/parallel.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* Same rule as cpu_linear.c: columns cut into about 8 slices of 32..512,
 * rows into 4 blocks too when that gives fewer than 4 slices (for outputs with
 * few rows: the adaLN's per-frame rows). */
static void tiling(int64_t M, int64_t N, int64_t *mb, int64_t *nb)
{
	int64_t n = (N / 8 + 31) / 32 * 32;
	if (n < 32)
		n = 32;
	if (n > 512)
		n = 512;
	if (n > N)
		n = N;
	*nb = n;
	int64_t slices = (N + n - 1) / n;
	*mb = M;
	if (slices < 4) {
		int64_t m = (M / 4 + 63) / 64 * 64;
		*mb = m < 64 ? 64 : m;
		if (*mb > M)
			*mb = M;
	}
}

/* Cut n into a multiple of 4 nearly equal pieces (4 per 2048), each a multiple
 * of 16: as many pieces as 1, 2 or 4 threads can share evenly, as large as that
 * allows (the fewer the pieces, the less each operand is packed again). */
static int64_t even_piece(int64_t n)
{
	int64_t pieces = 4 * ((n + 2047) / 2048), w = (n + pieces - 1) / pieces;
	w = (w + 15) / 16 * 16;
	return w < n ? w : n;
}

struct bx_job {
	float *dx;
	const float *dy, *w;
	int64_t M, N, K, mb, kb, mtiles;
	float beta;
};

/* dx tile (mc, kc) = beta·dx + dy (mc, N) · W[:, k0:k0+kc] */
static void bx_tiles(void *p, int64_t t0, int64_t t1)
{
	const struct bx_job *j = p;
	for (int64_t t = t0; t < t1; t++) {
		int64_t ks = t / j->mtiles, ms = t % j->mtiles;
		int64_t k0 = ks * j->kb, m0 = ms * j->mb;
		int64_t kc = j->K - k0 < j->kb ? j->K - k0 : j->kb, mc = j->M - m0 < j->mb ? j->M - m0 : j->mb;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mc, (int)kc, (int)j->N, 1.0f, j->dy + m0 * j->N,
			    (int)j->N, j->w + k0, (int)j->K, j->beta, j->dx + m0 * j->K + k0, (int)j->K);
	}
}

int od_cpu_linear_backward_x(struct od_ctx *c, float *dx, const float *dy, int64_t M, const struct od_tensor *w,
			     int acc)
{
	if (w->ndim != 2)
		return od_error(OD_EINVAL, "linear backward: weight '%s' is not 2-D", w->name ? w->name : "?");
	const int64_t N = w->shape[0], K = w->shape[1];
	if (M <= 0 || K <= 0)
		return OD_OK;
	if (N <= 0) {
		if (!acc)
			memset(dx, 0, (size_t)(M * K) * sizeof *dx);
		return OD_OK;
	}
	if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
		return od_error(OD_ENOMEM, "linear backward: %lld×%lld×%lld exceeds the BLAS integer range",
				(long long)M, (long long)N, (long long)K);
	float *wide = NULL;
	const float *wf = w->data;
	if (w->dtype != OD_F32) {
		if (w->dtype != OD_BF16 && w->dtype != OD_F16)
			return od_error(OD_EMODEL, "linear backward: weight '%s' is %s", w->name ? w->name : "?",
					od_dtype_name(w->dtype));
		if (!(wide = malloc((size_t)(N * K) * sizeof *wide)))
			return od_error(OD_ENOMEM, "linear backward: out of memory for a float32 copy of '%s'",
					w->name ? w->name : "?");
		od_to_f32(wide, w->data, w->dtype, (size_t)(N * K));
		wf = wide;
	}
	struct bx_job j = { dx, dy, wf, M, N, K, 0, 0, 0, acc ? 1.0f : 0.0f };
	if (M >= 256) /* blocks of whole rows: each tile packs its own rows of dy once */
		j.mb = even_piece(M), j.kb = K;
	else
		tiling(M, K, &j.mb, &j.kb);
	j.mtiles = (M + j.mb - 1) / j.mb;
	od_parallel_for(j.mtiles * ((K + j.kb - 1) / j.kb), bx_tiles, &j);
	free(wide);
	return OD_OK;
}

struct bw_job {
	float *dw, *db;
	const float *dy, *x;
	int64_t M, N, K, nb, kb, ntiles;
};

/* dW tile (nc, kc) += dy[:, n0:n0+nc]ᵀ · x[:, k0:k0+kc], the sum over all M rows */
static void bw_tiles(void *p, int64_t t0, int64_t t1)
{
	const struct bw_job *j = p;
	for (int64_t t = t0; t < t1; t++) {
		int64_t ks = t / j->ntiles, ns = t % j->ntiles;
		int64_t k0 = ks * j->kb, n0 = ns * j->nb;
		int64_t kc = j->K - k0 < j->kb ? j->K - k0 : j->kb, nc = j->N - n0 < j->nb ? j->N - n0 : j->nb;
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nc, (int)kc, (int)j->M, 1.0f, j->dy + n0, (int)j->N,
			    j->x + k0, (int)j->K, 1.0f, j->dw + n0 * j->K + k0, (int)j->K);
	}
}

#define DB_COLS 64

/* db[n] += Σ_m dy[m][n], rows in order, per slice of DB_COLS columns */
static void db_slices(void *p, int64_t s0, int64_t s1)
{
	const struct bw_job *j = p;
	double acc[DB_COLS];
	for (int64_t s = s0; s < s1; s++) {
		int64_t n0 = s * DB_COLS, nc = j->N - n0 < DB_COLS ? j->N - n0 : DB_COLS;
		memset(acc, 0, sizeof acc);
		for (int64_t m = 0; m < j->M; m++) {
			const float *r = j->dy + m * j->N + n0;
			for (int64_t n = 0; n < nc; n++)
				acc[n] += r[n];
		}
		for (int64_t n = 0; n < nc; n++)
			j->db[n0 + n] = (float)(j->db[n0 + n] + acc[n]);
	}
}

int od_cpu_linear_backward_w(struct od_ctx *c, float *dw, float *db, const float *dy, const float *x, int64_t M,
			     int64_t N, int64_t K)
{
	if (M <= 0 || N <= 0 || K < 0)
		return OD_OK;
	if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
		return od_error(OD_ENOMEM, "linear backward: %lld×%lld×%lld exceeds the BLAS integer range",
				(long long)M, (long long)N, (long long)K);
	struct bw_job j = { dw, db, dy, x, M, N, K, 0, 0, 0 };
	if (dw && K > 0) {
		/* the larger side of dW cut into even pieces, the other whole */
		if (N >= K)
			j.nb = even_piece(N), j.kb = K;
		else
			j.nb = N, j.kb = even_piece(K);
		j.ntiles = (N + j.nb - 1) / j.nb;
		od_parallel_for(j.ntiles * ((K + j.kb - 1) / j.kb), bw_tiles, &j);
	}
	if (db)
		od_parallel_for((N + DB_COLS - 1) / DB_COLS, db_slices, &j);
	return OD_OK;
}
