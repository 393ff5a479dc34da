/*
 * t5.c: the T5 v1.1 encoder forward pass (see t5.h; numerics.md §3.2,
 * tests/golden/README-text.md §2.4 for the exact semantics reproduced).
 */
#include "model/t5.h"
#include "base/error.h"
#include "base/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* od_component_resolve with one twist: shared.weight may be stored as
 * encoder.embed_tokens.weight only (the two are tied in transformers). */
struct resolve {
	const struct od_component *c;
	const struct od_tensor **list;
	int n, cap, rc;
};

static int resolve_cb(void *user, const char *name, int ndim, const int64_t *shape)
{
	struct resolve *r = user;
	if (r->n == r->cap) {
		int cap = r->cap ? 2 * r->cap : 64;
		const struct od_tensor **nl = realloc(r->list, (size_t)cap * sizeof *nl);
		if (!nl)
			return r->rc = od_error(OD_ENOMEM, "out of memory");
		r->list = nl;
		r->cap = cap;
	}
	if (!strcmp(name, "shared.weight") && !od_component_find(r->c, name) &&
	    od_component_find(r->c, "encoder.embed_tokens.weight"))
		name = "encoder.embed_tokens.weight";
	r->rc = od_component_get(r->c, name, ndim, shape, &r->list[r->n]);
	if (!r->rc)
		r->n++;
	return r->rc;
}

int od_t5_open(struct od_t5 **out, struct od_ctx *ctx, const char *model_dir)
{
	*out = NULL;
	struct od_t5 *t = calloc(1, sizeof *t);
	if (!t)
		return od_error(OD_ENOMEM, "out of memory");
	t->ctx = ctx;
	char label[4096];
	snprintf(label, sizeof label, "%s/text_encoder/config.json", model_dir);
	int rc = od_component_open(&t->comp, model_dir, "text_encoder", "config.json", 1, NULL);
	if (rc) {
		free(t);
		return rc;
	}
	if ((rc = od_t5_config_parse(t->comp.config, &t->cfg, label)))
		goto fail;
	struct resolve r = { .c = &t->comp };
	od_t5_spec(&t->cfg, resolve_cb, &r);
	if ((rc = r.rc)) {
		free(r.list);
		goto fail;
	}
	t->layer = calloc((size_t)t->cfg.layers, sizeof *t->layer);
	if (!t->layer) {
		free(r.list);
		rc = od_error(OD_ENOMEM, "out of memory");
		goto fail;
	}
	/* The order of od_t5_spec (t5_config.h). */
	int i = 0;
	t->embed = r.list[i++];
	for (int l = 0; l < t->cfg.layers; l++) {
		struct od_t5_layer *L = &t->layer[l];
		L->q = r.list[i++];
		L->k = r.list[i++];
		L->v = r.list[i++];
		L->o = r.list[i++];
		if (l == 0)
			t->rel_bias = r.list[i++];
		L->ln_attn = r.list[i++];
		L->wi0 = r.list[i++];
		if (t->cfg.gated)
			L->wi1 = r.list[i++];
		L->wo = r.list[i++];
		L->ln_ff = r.list[i++];
	}
	t->final_norm = r.list[i++];
	free(r.list);
	*out = t;
	return OD_OK;
fail:
	od_component_close(&t->comp);
	free(t);
	return rc;
}

static void free_buffers(struct od_t5 *t)
{
	float **bufs[] = { &t->x, &t->h, &t->q, &t->k, &t->v, &t->a, &t->f0, &t->f1 };
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
		od_free(t->ctx, *bufs[i]);
		*bufs[i] = NULL;
	}
	od_free(t->ctx, t->mask);
	t->mask = NULL;
	t->batch = t->len = 0;
}

void od_t5_close(struct od_t5 *t)
{
	if (!t)
		return;
	free_buffers(t);
	od_free(t->ctx, t->bias);
	free(t->layer);
	od_component_close(&t->comp);
	free(t);
}

int od_t5_bucket(int rel, int num_buckets, int max_distance)
{
	/* T5Attention._relative_position_bucket(bidirectional=True). */
	int nb = num_buckets / 2;
	int bucket = rel > 0 ? nb : 0;
	int a = rel < 0 ? -rel : rel;
	int max_exact = nb / 2;
	if (a < max_exact)
		return bucket + a;
	/* torch: log(a.float() / max_exact) / math.log(max_distance / max_exact)
	 * · (nb − max_exact), each step a float32 tensor op, then .to(long). */
	float x = logf((float)a / (float)max_exact);
	x = x / (float)log((double)max_distance / (double)max_exact);
	x = x * (float)(nb - max_exact);
	long large = max_exact + (long)x;
	if (large > nb - 1)
		large = nb - 1;
	return bucket + (int)large;
}

int od_t5_position_bias(const struct od_t5 *t, int len, float *bias)
{
	const int H = t->cfg.heads, nb = t->cfg.buckets;
	float *table = malloc((size_t)nb * H * sizeof *table);
	if (!table)
		return od_error(OD_ENOMEM, "out of memory");
	od_to_f32(table, t->rel_bias->data, t->rel_bias->dtype, (size_t)nb * H); /* (buckets, heads) */
	/* One row per relative position, then a gather (the bias is Toeplitz). */
	for (int i = 0; i < len; i++)
		for (int j = 0; j < len; j++) {
			int b = od_t5_bucket(j - i, nb, t->cfg.max_distance);
			for (int h = 0; h < H; h++)
				bias[((size_t)h * len + i) * len + j] = table[(size_t)b * H + h];
		}
	free(table);
	return OD_OK;
}

static int ensure_buffers(struct od_t5 *t, int batch, int len)
{
	struct od_ctx *c = t->ctx;
	const struct od_t5_config *g = &t->cfg;
	if (t->bias_len != len) {
		od_free(c, t->bias);
		t->bias_len = 0;
		size_t n = (size_t)g->heads * len * len;
		float *host = malloc(n * sizeof *host);
		if (!host)
			return od_error(OD_ENOMEM, "out of memory");
		int rc = od_t5_position_bias(t, len, host);
		if (!rc && !(t->bias = od_alloc(c, n)))
			rc = OD_ENOMEM;
		if (!rc)
			rc = od_upload(c, t->bias, host, n * sizeof *host);
		free(host);
		if (rc)
			return rc;
		t->bias_len = len;
	}
	if (t->batch == batch && t->len == len)
		return OD_OK;
	free_buffers(t);
	size_t M = (size_t)batch * len;
	t->x = od_alloc(c, M * g->d_model);
	t->h = od_alloc(c, M * g->d_model);
	t->q = od_alloc(c, M * g->inner);
	t->k = od_alloc(c, M * g->inner);
	t->v = od_alloc(c, M * g->inner);
	t->a = od_alloc(c, M * g->inner);
	t->f0 = od_alloc(c, M * g->d_ff);
	t->f1 = od_alloc(c, M * g->d_ff);
	t->mask = od_alloc_bytes(c, M);
	if (!t->x || !t->h || !t->q || !t->k || !t->v || !t->a || !t->f0 || !t->f1 || !t->mask) {
		free_buffers(t);
		return OD_ENOMEM;
	}
	t->batch = batch;
	t->len = len;
	return OD_OK;
}

static enum od_act kernel_act(enum od_t5_act a)
{
	switch (a) {
	case OD_T5_GELU_NEW: return OD_ACT_GELU_TANH; /* gelu_new (numerics.md §3.2) */
	case OD_T5_GELU: return OD_ACT_GELU;
	case OD_T5_SILU: return OD_ACT_SILU;
	default: return OD_ACT_RELU;
	}
}

int od_t5_encode(struct od_t5 *t, int batch, int len, const int32_t *ids, const uint8_t *mask, float *out,
		 float **block_out)
{
	struct od_ctx *c = t->ctx;
	const struct od_t5_config *g = &t->cfg;
	const int D = g->d_model;
	int rc;
	if (batch <= 0 || len <= 0 || len > 65536)
		return od_error(OD_EINVAL, "t5: bad batch %d or length %d", batch, len);
	const int64_t vocab = t->embed->shape[0];
	for (int b = 0; b < batch; b++) {
		int real = 0;
		for (int i = 0; i < len; i++) {
			int32_t id = ids[(size_t)b * len + i];
			if (id < 0 || id >= vocab)
				return od_error(OD_EINVAL, "t5: token id %d is outside the vocabulary (%lld)", id,
						(long long)vocab);
			real += mask[(size_t)b * len + i] != 0;
		}
		if (!real)
			return od_error(OD_EINVAL, "t5: row %d has no real token", b);
	}
	OD_TRY(ensure_buffers(t, batch, len));
	const int64_t M = (int64_t)batch * len;
	/* Embedding gather (host), rows widened from the stored dtype. */
	float *host = malloc((size_t)M * D * sizeof *host);
	uint8_t *m8 = malloc((size_t)M);
	if (!host || !m8) {
		free(host);
		free(m8);
		return od_error(OD_ENOMEM, "out of memory");
	}
	const size_t es = od_dtype_size(t->embed->dtype);
	for (int64_t r = 0; r < M; r++) {
		od_to_f32(host + r * D, (const char *)t->embed->data + (size_t)ids[r] * D * es, t->embed->dtype, (size_t)D);
		m8[r] = mask[r] != 0;
	}
	rc = od_upload(c, t->x, host, (size_t)M * D * sizeof *host);
	if (!rc)
		rc = od_upload(c, t->mask, m8, (size_t)M);
	free(host);
	free(m8);
	if (rc)
		return rc;

	/* Scores = q·kᵀ (no 1/√d_kv: T5 folds it into the initialisation) +
	 * layer 0's position bias; the key padding mask zeroes pad keys, which is
	 * what adding finfo.min does upstream. */
	struct od_attention_desc ad = {
		.batch = batch, .q_len = len, .kv_len = len, .q_heads = g->heads, .kv_heads = g->heads,
		.head_dim = g->d_kv, .q_stride = g->inner, .kv_stride = g->inner, .o_stride = g->inner,
		.kv_map = OD_KV_GROUPED, .scale = 1.0f, .softcap = 0, .key_mask = t->mask, .bias = t->bias,
	};
	const enum od_act act = kernel_act(g->act);
	for (int l = 0; l < g->layers; l++) {
		const struct od_t5_layer *L = &t->layer[l];
		const float *w;
		if (!(w = od_param(c, L->ln_attn)))
			return OD_ENOMEM;
		OD_TRY(od_rmsnorm(c, t->h, t->x, M, D, w, g->eps));
		OD_TRY(od_linear(c, t->q, t->h, M, L->q, NULL));
		OD_TRY(od_linear(c, t->k, t->h, M, L->k, NULL));
		OD_TRY(od_linear(c, t->v, t->h, M, L->v, NULL));
		OD_TRY(od_attention(c, t->a, t->q, t->k, t->v, &ad));
		OD_TRY(od_linear(c, t->h, t->a, M, L->o, NULL));
		OD_TRY(od_binary(c, t->x, t->x, t->h, M * D, OD_OP_ADD));
		if (!(w = od_param(c, L->ln_ff)))
			return OD_ENOMEM;
		OD_TRY(od_rmsnorm(c, t->h, t->x, M, D, w, g->eps));
		OD_TRY(od_linear(c, t->f0, t->h, M, L->wi0, NULL));
		if (L->wi1) {
			OD_TRY(od_linear(c, t->f1, t->h, M, L->wi1, NULL));
			OD_TRY(od_act_mul(c, t->f0, t->f0, t->f1, M * g->d_ff, act));
		} else {
			OD_TRY(od_act(c, t->f0, t->f0, M * g->d_ff, act));
		}
		OD_TRY(od_linear(c, t->h, t->f0, M, L->wo, NULL));
		OD_TRY(od_binary(c, t->x, t->x, t->h, M * D, OD_OP_ADD));
		if (block_out && block_out[l])
			OD_TRY(od_download(c, block_out[l], t->x, (size_t)M * D * sizeof(float)));
	}
	const float *w = od_param(c, t->final_norm);
	if (!w)
		return OD_ENOMEM;
	OD_TRY(od_rmsnorm(c, t->h, t->x, M, D, w, g->eps));
	OD_TRY(od_download(c, out, t->h, (size_t)M * D * sizeof(float)));
	OD_TRY(od_sync(c));
	int64_t bad = od_first_nonfinite(out, (size_t)M * D);
	if (bad >= 0) /* README: non-finite values never leave a tool */
		return od_error(OD_EMODEL, "the T5 encoder's output is not finite (NaN or infinity at row %lld): are "
					   "the text encoder's weights and config intact?", (long long)(bad / D));
	return OD_OK;
}
