/*
 * cpu_linear.c: y = x·Wᵀ + b over OpenBLAS sgemm.
 *
 * Float32 weights are used in place (they are views into the mapped checkpoint).
 * BF16/F16 weights are widened a chunk of rows at a time into a scratch buffer
 * and multiplied chunk by chunk, so a 2.8B-parameter BF16 checkpoint never
 * needs a float32 copy of itself in memory (the full model would need 11 GB).
 * Each output element's dot product is computed by the same sgemm kernel with
 * the same K order whatever the chunking, so results do not depend on it.
 */
#include "cpu_kernels.h"
#include "error.h"
#include "parallel.h"

#include <cblas.h>

#define CHUNK_FLOATS ((size_t)4 << 20) /* 16 MB of widened weights per chunk */

struct widen_job {
	float *dst;
	const char *src;
	enum od_dtype dtype;
	int64_t K;
};

static void widen_rows(void *p, int64_t b, int64_t e)
{
	struct widen_job *j = p;
	size_t es = od_dtype_size(j->dtype);
	od_to_f32(j->dst + b * j->K, j->src + (size_t)(b * j->K) * es, j->dtype, (size_t)((e - b) * j->K));
}

struct bias_job {
	float *y;
	const float *b;
	int64_t N;
};

static void add_bias(void *p, int64_t r0, int64_t r1)
{
	struct bias_job *j = p;
	for (int64_t r = r0; r < r1; r++) {
		float *row = j->y + r * j->N;
		for (int64_t n = 0; n < j->N; n++)
			row[n] += j->b[n];
	}
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
	if (w->dtype == OD_F32) {
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x, (int)K,
			    (const float *)w->data, (int)K, 0.0f, y, (int)N);
	} else if (w->dtype == OD_BF16 || w->dtype == OD_F16) {
		int64_t rows = (int64_t)(CHUNK_FLOATS / (size_t)K);
		if (rows < 1)
			rows = 1;
		if (rows > N)
			rows = N;
		float *buf = od_cpu_scratch(c, 0, (size_t)(rows * K));
		if (!buf)
			return OD_ENOMEM;
		size_t es = od_dtype_size(w->dtype);
		for (int64_t n0 = 0; n0 < N; n0 += rows) {
			int64_t nc = N - n0 < rows ? N - n0 : rows;
			struct widen_job j = { buf, (const char *)w->data + (size_t)(n0 * K) * es, w->dtype, K };
			od_parallel_for(nc, widen_rows, &j);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)nc, (int)K, 1.0f, x, (int)K,
				    buf, (int)K, 0.0f, y + n0, (int)N);
		}
	} else {
		return od_error(OD_EMODEL, "linear: weight '%s' is %s", w->name ? w->name : "?",
				od_dtype_name(w->dtype));
	}
	if (bias) {
		const float *b = od_param(c, bias);
		if (!b)
			return OD_ENOMEM;
		struct bias_job j = { y, b, N };
		od_parallel_for(M, add_bias, &j);
	}
	return OD_OK;
}
