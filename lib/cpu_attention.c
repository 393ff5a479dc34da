/*
 * cpu_attention.c: multi-head attention in blocks of query rows.
 *
 * For each (batch, head) and each block of up to QBLOCK query rows: S = Q·Kᵀ by
 * sgemm, then per row scale, soft-cap, bias, key mask and a float32 softmax,
 * then O = P·V by sgemm straight into the output rows. Only one block × kv_len
 * score matrix exists at a time, never the full (L × L) matrix for all heads
 * (a 4-view 512² multiview sequence has L = 8192: the full matrix for 32 heads
 * would be 8.6 GB).
 */
#include "cpu_kernels.h"
#include "error.h"
#include "parallel.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define QBLOCK 256

struct rows_job {
	float *s;
	int64_t q0;
	int kv_len;
	float scale, softcap;
	const float *bias;     /* (q_len, kv_len) slice for this head, or NULL */
	const uint8_t *mask;   /* (kv_len) for this batch entry, or NULL */
};

static void softmax_rows(void *p, int64_t r0, int64_t r1)
{
	const struct rows_job *j = p;
	const int L = j->kv_len;
	for (int64_t r = r0; r < r1; r++) {
		float *s = j->s + r * L;
		const float *bias = j->bias ? j->bias + (j->q0 + r) * L : NULL;
		float mx = -INFINITY;
		for (int i = 0; i < L; i++) {
			float v = s[i] * j->scale;
			if (j->softcap > 0)
				v = j->softcap * tanhf(v / j->softcap);
			if (bias)
				v += bias[i];
			if (j->mask && !j->mask[i])
				v = -INFINITY;
			s[i] = v;
			if (v > mx)
				mx = v;
		}
		if (mx == -INFINITY) { /* every key masked: defined as zero output */
			memset(s, 0, (size_t)L * sizeof *s);
			continue;
		}
		double sum = 0;
		for (int i = 0; i < L; i++) {
			float e = expf(s[i] - mx);
			s[i] = e;
			sum += e;
		}
		float inv = (float)(1.0 / sum);
		for (int i = 0; i < L; i++)
			s[i] *= inv;
	}
}

int od_cpu_attention(struct od_ctx *c, float *o, const float *q, const float *k, const float *v,
		     const struct od_attention_desc *d)
{
	if (d->q_heads % d->kv_heads)
		return od_error(OD_EINVAL, "attention: %d query heads for %d kv heads", d->q_heads, d->kv_heads);
	int qb = d->q_len < QBLOCK ? d->q_len : QBLOCK;
	float *s = od_cpu_scratch(c, 1, (size_t)qb * (size_t)d->kv_len);
	if (!s)
		return OD_ENOMEM;
	const int rep = d->q_heads / d->kv_heads;
	for (int b = 0; b < d->batch; b++) {
		for (int h = 0; h < d->q_heads; h++) {
			int kh = d->kv_map == OD_KV_GROUPED ? h / rep : h % d->kv_heads;
			const float *Q = q + (size_t)b * d->q_len * d->q_stride + (size_t)h * d->head_dim;
			const float *K = k + (size_t)b * d->kv_len * d->kv_stride + (size_t)kh * d->head_dim;
			const float *V = v + (size_t)b * d->kv_len * d->kv_stride + (size_t)kh * d->head_dim;
			float *O = o + (size_t)b * d->q_len * d->o_stride + (size_t)h * d->head_dim;
			for (int q0 = 0; q0 < d->q_len; q0 += qb) {
				int n = d->q_len - q0 < qb ? d->q_len - q0 : qb;
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, d->kv_len, d->head_dim, 1.0f,
					    Q + (size_t)q0 * d->q_stride, d->q_stride, K, d->kv_stride, 0.0f, s, d->kv_len);
				struct rows_job j = {
					s, q0, d->kv_len, d->scale, d->softcap,
					d->bias ? d->bias + (size_t)h * d->q_len * d->kv_len : NULL,
					d->key_mask ? d->key_mask + (size_t)b * d->kv_len : NULL,
				};
				od_parallel_for(n, softmax_rows, &j);
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d->head_dim, d->kv_len, 1.0f, s,
					    d->kv_len, V, d->kv_stride, 0.0f, O + (size_t)q0 * d->o_stride, d->o_stride);
			}
		}
	}
	return OD_OK;
}
