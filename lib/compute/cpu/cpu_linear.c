/*
 * cpu_linear.c: y = x·Wᵀ + b over OpenBLAS sgemm, od's AVX-512 float32 kernel or
 * its BF16 kernels.
 *
 * Determinism: OpenBLAS's own threading does not give the same bits for 1 and 2
 * threads, so every sgemm here is single-threaded and the parallelism is ours:
 * the output is cut into tiles whose sizes depend only on the problem's shape
 * (never on the thread count), and each tile is one sgemm computed by whichever
 * thread takes it. Same shape, same tiles, same bits, for any thread count.
 *
 * Memory: float32 weights are used in place (views into the mapped
 * checkpoint). BF16/F16 weights are widened one tile's rows at a time into a
 * per-thread scratch buffer, so a 2.8B-parameter BF16 checkpoint never needs
 * a float32 copy of itself (11 GB).
 *
 * Float32 on AVX-512 (od_cpu_isa() >= OD_ISA_AVX512): y = W·xᵀ by
 * cpu_f32.c, the weights read in place (F32) or widened a chunk at a time
 * (BF16/F16), x packed once per call, tiles of weight rows × tokens, and
 * the bias added in float32 afterwards. Below AVX-512, the OpenBLAS tiles.
 *
 * BF16 precision (backend.h, od_cpu_bf16()): y = W·xᵀ by cpu_bf16.c, the
 * weights as the A operand read as stored (BF16 rows in place; F32 and F16
 * rounded to BF16 a tile at a time), x rounded and packed once per call as
 * the B operand, tiles of weight rows × tokens fixed by the shape, float32
 * accumulation in a fixed K order, and the bias added in float32 afterwards.
 */
#include "compute/cpu/cpu_kernels.h"
#include "base/error.h"
#include "base/parallel.h"

#include <cblas.h>
#include <stdlib.h>

/* Tiles: N is cut into about 8 slices of 32..512 columns; when that gives
 * fewer than 4 slices, M is cut into 4 row blocks too, so that small layers
 * still use every core. */
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

struct linear_job {
	float *y;
	const float *x;
	const struct od_tensor *w;
	const float *bias;
	int64_t M, N, K, mb, nb, mtiles;
	int failed;
};

static void linear_tiles(void *p, int64_t t0, int64_t t1)
{
	const struct linear_job *j = p;
	const size_t es = od_dtype_size(j->w->dtype);
	int64_t widened = -1; /* the N slice currently in scratch */
	for (int64_t t = t0; t < t1; t++) {
		int64_t ns = t / j->mtiles, ms = t % j->mtiles;
		int64_t n0 = ns * j->nb, m0 = ms * j->mb;
		int64_t nc = j->N - n0 < j->nb ? j->N - n0 : j->nb, mc = j->M - m0 < j->mb ? j->M - m0 : j->mb;
		const float *wf;
		if (j->w->dtype == OD_F32) {
			wf = (const float *)j->w->data + n0 * j->K;
		} else {
			float *s = od_cpu_thread_scratch(0, (size_t)(j->nb * j->K));
			if (!s) {
				__atomic_store_n(&((struct linear_job *)p)->failed, 1, __ATOMIC_RELAXED);
				return;
			}
			if (widened != ns)
				od_to_f32(s, (const char *)j->w->data + (size_t)(n0 * j->K) * es, j->w->dtype, (size_t)(nc * j->K));
			widened = ns;
			wf = s;
		}
		float *y = j->y + m0 * j->N + n0;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mc, (int)nc, (int)j->K, 1.0f, j->x + m0 * j->K,
			    (int)j->K, wf, (int)j->K, 0.0f, y, (int)j->N);
		if (j->bias)
			for (int64_t r = 0; r < mc; r++)
				for (int64_t c = 0; c < nc; c++)
					y[r * j->N + c] += j->bias[n0 + c];
	}
}

/* The products on od's own kernels: x packed once per call as the B operand
 * (BF16 pairs or float32 panels), then tiles of weight rows × tokens.
 *
 * BF16 tiles: 128 weight rows by 512 tokens (BF16 weights, read in place: the
 * tile's weight rows stay in L2 across its tokens) or by up to 2048 tokens
 * (weights rounded to BF16 in the tile: as few roundings of each weight per
 * call as memory allows).
 *
 * Float32 tiles on AVX-512 (cpu_f32.c): 96 weight rows (a multiple of its
 * 6-row blocks) × 512 tokens. Every token count takes this path, so a token's
 * output does not depend on how many tokens share the call (per-frame and
 * per-token adaLN give the same bytes); below 16 tokens part of a 16-token
 * panel is computed for nothing, while the weights' reading costs what it
 * costs on sgemm. */
#define BF16_TILE_N 128
#define BF16_TILE_M 512
#define BF16_TILE_M_STAGED 2048
#define F32_TILE_N 96
#define F32_TILE_M 512

struct packed_job {
	float *y;
	const float *x;
	void *xp;
	struct od_gemm_a a;
	const float *bias;
	int64_t M, N, K, nb, mb, mtiles;
	int bf16, failed;
};

static void packed_pack(void *p, int64_t b0, int64_t b1)
{
	const struct packed_job *j = p;
	if (j->bf16)
		od_bf16_pack_t(j->xp, j->x, j->K, j->K, j->M, b0, b1);
	else
		od_f32_pack_t(j->xp, j->x, j->K, j->K, j->M, b0, b1);
}

static void packed_tiles(void *p, int64_t t0, int64_t t1)
{
	struct packed_job *j = p;
	for (int64_t t = t0; t < t1; t++) {
		int64_t n0 = t / j->mtiles * j->nb, m0 = t % j->mtiles * j->mb;
		int64_t nc = j->N - n0 < j->nb ? j->N - n0 : j->nb, mc = j->M - m0 < j->mb ? j->M - m0 : j->mb;
		int rc = j->bf16 ? od_bf16_gemm(&j->a, j->xp, j->M, n0, nc, m0, mc, j->y, j->N, 1)
				 : od_f32_gemm(&j->a, j->xp, j->M, n0, nc, m0, mc, j->y, j->N, j->bias);
		if (rc) {
			__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
			return;
		}
		if (j->bf16 && j->bias)
			for (int64_t r = m0; r < m0 + mc; r++)
				for (int64_t col = n0; col < n0 + nc; col++)
					j->y[r * j->N + col] += j->bias[col];
	}
}

static int linear_packed(float *y, const float *x, int64_t M, const struct od_tensor *w, const float *bias, int bf16)
{
	const int64_t N = w->shape[0], K = w->shape[1];
	struct packed_job j = { .y = y, .x = x, .bias = bias, .M = M, .N = N, .K = K, .bf16 = bf16 };
	j.a = (struct od_gemm_a){ w->data, w->dtype, K, N, K };
	const size_t bytes = bf16 ? od_bf16_packed_len(K, M) * 2 : od_f32_packed_len(K, M) * 4;
	if (!(j.xp = od_cpu_thread_scratch(OD_SCRATCH_PACKED, (bytes + 3) / 4)))
		return od_error(OD_ENOMEM, "linear: out of memory for %zu bytes of packed activations", bytes);
	od_parallel_for((M + 15) / 16, packed_pack, &j);
	const int64_t M16 = (M + 15) / 16 * 16;
	j.nb = bf16 ? BF16_TILE_N : F32_TILE_N;
	j.mb = !bf16 ? F32_TILE_M : w->dtype == OD_BF16 ? BF16_TILE_M : M16 < BF16_TILE_M_STAGED ? M16 : BF16_TILE_M_STAGED;
	j.mtiles = (M + j.mb - 1) / j.mb;
	od_parallel_for(j.mtiles * ((N + j.nb - 1) / j.nb), packed_tiles, &j);
	if (j.failed)
		return od_error(OD_ENOMEM, "linear: out of memory for the %s tiles", bf16 ? "BF16" : "float32");
	return OD_OK;
}

int od_cpu_linear(struct od_ctx *c, float *y, const float *x, int64_t M, const struct od_tensor *w,
		  const struct od_tensor *bias)
{
	if (w->ndim != 2)
		return od_error(OD_EINVAL, "linear: weight '%s' is not 2-D", w->name ? w->name : "?");
	int64_t N = w->shape[0], K = w->shape[1];
	if (M <= 0 || N <= 0 || K <= 0)
		return OD_OK;
	if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
		return od_error(OD_ENOMEM, "linear: %lld×%lld×%lld exceeds the BLAS integer range", (long long)M,
				(long long)N, (long long)K);
	if (w->dtype != OD_F32 && w->dtype != OD_BF16 && w->dtype != OD_F16)
		return od_error(OD_EMODEL, "linear: weight '%s' is %s", w->name ? w->name : "?", od_dtype_name(w->dtype));
	struct linear_job j = { y, x, w, NULL, M, N, K, 0, 0, 0, 0 };
	if (bias && !(j.bias = od_param(c, bias)))
		return OD_ENOMEM;
	if (od_cpu_bf16(c) || od_cpu_isa() >= OD_ISA_AVX512)
		return linear_packed(y, x, M, w, j.bias, od_cpu_bf16(c));
	tiling(M, N, &j.mb, &j.nb);
	j.mtiles = (M + j.mb - 1) / j.mb;
	int64_t tiles = j.mtiles * ((N + j.nb - 1) / j.nb);
	od_parallel_for(tiles, linear_tiles, &j);
	if (j.failed)
		return od_error(OD_ENOMEM, "linear: out of memory for %lld bytes of scratch", (long long)(j.nb * K * 4));
	return OD_OK;
}
