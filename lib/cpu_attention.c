/*
 * cpu_attention.c: multi-head attention in blocks of query rows.
 *
 * Work items are (batch, head) pairs run on the pool's threads. For each pair
 * and each block of up to QBLOCK query rows: S = Q·Kᵀ by a single-threaded
 * sgemm, then per row scale, soft-cap, bias, key mask and a float32 softmax,
 * then O = P·V by sgemm straight into the output rows. Only one block ×
 * kv_len score matrix per thread exists at a time, never the full (L × L)
 * matrix for all heads (a 4-view 512² multiview sequence has L = 8192: the
 * full matrix for 32 heads would be 8.6 GB). The blocking depends only on the
 * shape, so results are the same for every thread count.
 */
#include "cpu_kernels.h"
#include "error.h"
#include "parallel.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define QBLOCK 256

static void softmax_rows(float *s, int rows, int L, int64_t q0, const struct od_attention_desc *d, int h, int b)
{
	const float *bias_h = d->bias ? d->bias + (size_t)h * d->q_len * d->kv_len : NULL;
	const uint8_t *mask = d->key_mask ? d->key_mask + (size_t)b * d->kv_len : NULL;
	for (int r = 0; r < rows; r++) {
		float *row = s + (size_t)r * L;
		const float *bias = bias_h ? bias_h + (q0 + r) * L : NULL;
		float mx = -INFINITY;
		for (int i = 0; i < L; i++) {
			float v = row[i] * d->scale;
			if (d->softcap > 0)
				v = d->softcap * tanhf(v / d->softcap);
			if (bias)
				v += bias[i];
			if (mask && !mask[i])
				v = -INFINITY;
			row[i] = v;
			if (v > mx)
				mx = v;
		}
		if (mx == -INFINITY) { /* every key masked: defined as zero output */
			memset(row, 0, (size_t)L * sizeof *row);
			continue;
		}
		double sum = 0;
		for (int i = 0; i < L; i++) {
			float e = expf(row[i] - mx);
			row[i] = e;
			sum += e;
		}
		float inv = (float)(1.0 / sum);
		for (int i = 0; i < L; i++)
			row[i] *= inv;
	}
}

struct attn_job {
	float *o;
	const float *q, *k, *v;
	const struct od_attention_desc *d;
	int failed;
};

static void attn_pairs(void *p, int64_t i0, int64_t i1)
{
	struct attn_job *j = p;
	const struct od_attention_desc *d = j->d;
	const int rep = d->q_heads / d->kv_heads, qb = d->q_len < QBLOCK ? d->q_len : QBLOCK;
	float *s = od_cpu_thread_scratch(1, (size_t)qb * (size_t)d->kv_len);
	if (!s) {
		__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
		return;
	}
	for (int64_t i = i0; i < i1; i++) {
		int b = (int)(i / d->q_heads), h = (int)(i % d->q_heads);
		int kh = d->kv_map == OD_KV_GROUPED ? h / rep : h % d->kv_heads;
		const float *Q = j->q + (size_t)b * d->q_len * d->q_stride + (size_t)h * d->head_dim;
		const float *K = j->k + (size_t)b * d->kv_len * d->kv_stride + (size_t)kh * d->head_dim;
		const float *V = j->v + (size_t)b * d->kv_len * d->kv_stride + (size_t)kh * d->head_dim;
		float *O = j->o + (size_t)b * d->q_len * d->o_stride + (size_t)h * d->head_dim;
		for (int q0 = 0; q0 < d->q_len; q0 += qb) {
			int n = d->q_len - q0 < qb ? d->q_len - q0 : qb;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, d->kv_len, d->head_dim, 1.0f,
				    Q + (size_t)q0 * d->q_stride, d->q_stride, K, d->kv_stride, 0.0f, s, d->kv_len);
			softmax_rows(s, n, d->kv_len, q0, d, h, b);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d->head_dim, d->kv_len, 1.0f, s, d->kv_len,
				    V, d->kv_stride, 0.0f, O + (size_t)q0 * d->o_stride, d->o_stride);
		}
	}
}

int od_cpu_attention(struct od_ctx *c, float *o, const float *q, const float *k, const float *v,
		     const struct od_attention_desc *d)
{
	if (d->q_heads <= 0 || d->kv_heads <= 0 || d->q_heads % d->kv_heads)
		return od_error(OD_EINVAL, "attention: %d query heads for %d kv heads", d->q_heads, d->kv_heads);
	if (d->q_len <= 0 || d->kv_len <= 0 || d->batch <= 0)
		return OD_OK;
	struct attn_job j = { o, q, k, v, d, 0 };
	od_parallel_for((int64_t)d->batch * d->q_heads, attn_pairs, &j);
	if (j.failed)
		return od_error(OD_ENOMEM, "attention: out of memory for the score block");
	return OD_OK;
}
