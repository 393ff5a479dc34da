/*
 * nextdit.c: the NextDiT forward pass over the kernel table (see nextdit.h;
 * numerics.md §2). Shapes in comments use B batch, F frames, T tokens per
 * frame, L = F·T, M = B·L token rows, G = B·F frame rows, D hidden, KV =
 * kv_heads·head_dim, A adaLN width, P patch_dim (64), S text length.
 */
#include "model/nextdit.h"
#include "base/fastmath.h"
#include "base/error.h"
#include "model/rope.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FFN rows per chunk: bounds the (rows, 2·ffn_hidden) intermediate (335 MB for
 * the released model) while keeping the matrix products large. */
#define FFN_CHUNK 4096

#define QK_NORM_EPS OD_NEXTDIT_QK_NORM_EPS
#define KY_NORM_EPS OD_NEXTDIT_KY_NORM_EPS
#define Y_NORM_EPS OD_NEXTDIT_Y_NORM_EPS
#define FINAL_NORM_EPS OD_NEXTDIT_FINAL_NORM_EPS

float od_nextdit_t_token(float t, int patch_dim)
{
	/* torch's float32 mean over the 64 patchified values (§2.1): AVX2 lanes of 8,
	 * each summing patch_dim/8 values in order, then a tree over the lanes
	 * (exact here, all lanes being equal), then the division. Matches every
	 * golden t_tok, including 36.9 -> 36.899998 (one ulp below). */
	if (patch_dim % 8 || patch_dim < 8)
		return t;
	float s = t;
	for (int i = 1; i < patch_dim / 8; i++)
		s = s + t;
	return (s * 8.0f) / (float)patch_dim;
}

void od_nextdit_t_freq(const float *omega, float t, float *out)
{
	for (int k = 0; k < 128; k++) {
		float a = t * omega[k]; /* args = t[:, None].float() * freqs[None] */
		out[k] = cosf(a);       /* cos first (§2.3) */
		out[128 + k] = sinf(a);
	}
}

int od_nextdit_check_size(const struct od_nextdit_config *c, int F, int h, int w)
{
	if (F < 1 || h < 1 || w < 1)
		return od_error(OD_EFORMAT, "empty latent sequence (%d frames of %d×%d)", F, h, w);
	if (h % c->patch_h || w % c->patch_w)
		return od_error(OD_EFORMAT, "latent size %d×%d is not a multiple of the patch size %d×%d", h, w,
				c->patch_h, c->patch_w);
	return od_rope_check(F, h / c->patch_h, w / c->patch_w, c->rope_max_t, c->rope_max);
}

int od_nextdit_open(struct od_nextdit *m, struct od_ctx *ctx, const char *model_dir)
{
	memset(m, 0, sizeof *m);
	m->ctx = ctx;
	m->softcap = 30.0f;
	int rc = od_component_open(&m->comp, model_dir, "transformer", "config.json", 1, NULL);
	if (rc)
		return rc;
	char label[512];
	snprintf(label, sizeof label, "%s/config.json", m->comp.dir);
	if ((rc = od_nextdit_config_parse(m->comp.config, &m->cfg, label)))
		goto fail;
	if ((rc = od_component_resolve(&m->comp, od_nextdit_spec, &m->cfg, &m->tensors, &m->n_tensors)))
		goto fail;
	m->block = calloc((size_t)m->cfg.depth, sizeof *m->block);
	m->rope_omega = malloc((size_t)(m->cfg.head_dim / 6) * sizeof(float));
	if (!m->block || !m->rope_omega) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto fail;
	}
	od_nextdit_bind(m);
	/* timestep_embedding (numerics.md §2.3): exp(-ln(10000)·k/half) in float32.
	 * torch 1.13's float32 exp on AVX2 is SLEEF's expf_u10 with fused
	 * multiply-adds; for 15 of the 128 frequencies it is one ulp off the correctly
	 * rounded value, which moves t·ω_k near t = 1000 by ~6e-5 (tests/golden/README.md
	 * §11.3, `t_omega`): od_expf is that same function, operation by operation. */
	const float nl = (float)-log(10000.0);
	for (int i = 0; i < 128; i++)
		m->t_omega[i] = od_expf((nl * (float)i) / 128.0f);
	od_rope_omega(m->cfg.head_dim, OD_ROPE_THETA, m->rope_omega);
	return OD_OK;
fail:
	od_nextdit_close(m);
	return rc;
}

void od_nextdit_bind(struct od_nextdit *m)
{
	const struct od_tensor **t = m->tensors;
	int k = 0;
	m->x_w = t[k++], m->x_b = t[k++];
	m->t0_w = t[k++], m->t0_b = t[k++], m->t2_w = t[k++], m->t2_b = t[k++];
	m->yln_w = t[k++], m->yln_b = t[k++], m->y_w = t[k++], m->y_b = t[k++];
	for (int i = 0; i < m->cfg.depth; i++)
		for (int j = 0; j < OD_DIT_BLOCK_TENSORS; j++) {
			if (!m->cfg.qk_norm && j >= OD_DIT_Q_NORM_W && j <= OD_DIT_K_NORM_B)
				continue;
			m->block[i][j] = t[k++];
		}
	m->fin_w = t[k++], m->fin_b = t[k++], m->fin_ada_w = t[k++], m->fin_ada_b = t[k++];
}

void od_nextdit_close(struct od_nextdit *m)
{
	if (m->ctx) {
		od_free(m->ctx, m->ws);
		od_free(m->ctx, m->ws_mask);
		od_free(m->ctx, m->grad_ws);
	}
	free(m->tensors);
	free(m->block);
	free(m->rope_omega);
	od_component_close(&m->comp);
	memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ text side */

int od_nextdit_text_prepare(struct od_nextdit *m, struct od_nextdit_text *t, int B, int S, const float *emb,
			    const uint8_t *mask)
{
	struct od_ctx *c = m->ctx;
	const struct od_nextdit_config *cf = &m->cfg;
	const int Dc = cf->caption_channels, A = cf->adaln, KV = cf->kv_heads * cf->head_dim;
	const int64_t R = (int64_t)B * S;
	memset(t, 0, sizeof *t);
	t->batch = B, t->len = S;
	float *pool = malloc((size_t)B * Dc * sizeof *pool);
	double *acc = calloc((size_t)Dc, sizeof *acc);
	float *d_pool = od_alloc(c, (size_t)B * Dc), *d_emb = od_alloc(c, (size_t)R * Dc),
	      *d_yn = od_alloc(c, (size_t)R * Dc);
	t->y = od_alloc(c, (size_t)B * A);
	t->yk = od_alloc(c, (size_t)cf->depth * R * KV);
	t->yv = od_alloc(c, (size_t)cf->depth * R * KV);
	t->mask = od_alloc_bytes(c, (size_t)R);
	int rc = OD_OK;
	if (!pool || !acc || !d_pool || !d_emb || !d_yn || !t->y || !t->yk || !t->yv || !t->mask) {
		rc = od_error(OD_ENOMEM, "out of memory for the text embeddings");
		goto out;
	}
	/* masked mean (§2.3): Σ ehs·mask / (Σ mask + 1e-8) */
	for (int b = 0; b < B; b++) {
		memset(acc, 0, (size_t)Dc * sizeof *acc);
		int cnt = 0;
		for (int s = 0; s < S; s++) {
			if (!mask[(size_t)b * S + s])
				continue;
			cnt++;
			const float *e = emb + ((size_t)b * S + s) * Dc;
			for (int d = 0; d < Dc; d++)
				acc[d] += e[d];
		}
		float den = (float)cnt + 1e-8f;
		for (int d = 0; d < Dc; d++)
			pool[(size_t)b * Dc + d] = (float)acc[d] / den;
	}
	t->pool = pool;
	pool = NULL;
	if ((rc = od_upload(c, d_pool, t->pool, (size_t)B * Dc * sizeof(float))) ||
	    (rc = od_layernorm(c, d_pool, d_pool, B, Dc, od_param(c, m->yln_w), od_param(c, m->yln_b), Y_NORM_EPS)) ||
	    (rc = od_linear(c, t->y, d_pool, B, m->y_w, m->y_b)) ||
	    (rc = od_upload(c, d_emb, emb, (size_t)R * Dc * sizeof(float))) ||
	    (rc = od_upload(c, t->mask, mask, (size_t)R)))
		goto out;
	for (int i = 0; i < cf->depth; i++) {
		const struct od_tensor *const *bt = m->block[i];
		float *yk = t->yk + (size_t)i * R * KV, *yv = t->yv + (size_t)i * R * KV;
		if ((rc = od_rmsnorm(c, d_yn, d_emb, R, Dc, od_param(c, bt[OD_DIT_ATTN_Y_NORM]), cf->norm_eps)) ||
		    (rc = od_linear(c, yk, d_yn, R, bt[OD_DIT_WK_Y], NULL)) ||
		    (rc = od_layernorm(c, yk, yk, R, KV, od_param(c, bt[OD_DIT_KY_NORM_W]), od_param(c, bt[OD_DIT_KY_NORM_B]),
				       KY_NORM_EPS)) ||
		    (rc = od_linear(c, yv, d_yn, R, bt[OD_DIT_WV_Y], NULL)))
			goto out;
	}
out:
	free(pool);
	free(acc);
	od_free(c, d_pool);
	od_free(c, d_emb);
	od_free(c, d_yn);
	if (rc)
		od_nextdit_text_free(m, t);
	return rc;
}

void od_nextdit_text_free(struct od_nextdit *m, struct od_nextdit_text *t)
{
	od_free(m->ctx, t->y);
	od_free(m->ctx, t->yk);
	od_free(m->ctx, t->yv);
	od_free(m->ctx, t->mask);
	free(t->pool);
	memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------ forward */

struct fwd {
	struct od_nextdit *m;
	const struct od_nextdit_trace *tr;
	int B, F, T, L, S;
	int64_t M, G;
	/* device buffers carved from the workspace */
	float *tok, *x, *h, *q, *k, *v, *o, *oy, *f1, *f3, *tfreq, *te, *cc, *mod, *rope;
	int64_t ffn_rows;
};

static int trace_dev(struct fwd *f, const char *name, const float *dev, int ndim, const int64_t *shape)
{
	if (!f->tr || !f->tr->fn)
		return OD_OK;
	int64_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= shape[i];
	float *hbuf = malloc((size_t)n * sizeof *hbuf);
	if (!hbuf)
		return od_error(OD_ENOMEM, "out of memory");
	int rc = od_download(f->m->ctx, hbuf, dev, (size_t)n * sizeof *hbuf);
	if (!rc)
		f->tr->fn(f->tr->user, name, hbuf, ndim, shape);
	free(hbuf);
	return rc;
}

static int block_forward(struct fwd *f, int i, const struct od_nextdit_text *txt)
{
	struct od_nextdit *m = f->m;
	struct od_ctx *c = m->ctx;
	const struct od_nextdit_config *cf = &m->cfg;
	const struct od_tensor *const *bt = m->block[i];
	const int D = cf->hidden, KV = cf->kv_heads * cf->head_dim, hd = cf->head_dim, H = cf->heads;
	const int64_t M = f->M, T = f->T, L = f->L, R = (int64_t)txt->batch * txt->len;
	const float eps = cf->norm_eps;
	/* adaLN modulation per frame (nextdit.h): scale_msa, gate_msa, scale_mlp, gate_mlp */
	OD_TRY(od_linear(c, f->mod, f->cc, f->G, bt[OD_DIT_ADALN_W], bt[OD_DIT_ADALN_B]));
	const float *scale_msa = f->mod, *gate_msa = f->mod + D, *scale_mlp = f->mod + 2 * D, *gate_mlp = f->mod + 3 * D;
	/* h = attention_norm1(x)·(1 + scale_msa) */
	OD_TRY(od_rmsnorm_modulate(c, f->h, f->x, M, D, od_param(c, bt[OD_DIT_ATTN_NORM1]), eps, scale_msa, 4 * D, T));
	OD_TRY(od_linear(c, f->q, f->h, M, bt[OD_DIT_WQ], NULL));
	OD_TRY(od_linear(c, f->k, f->h, M, bt[OD_DIT_WK], NULL));
	OD_TRY(od_linear(c, f->v, f->h, M, bt[OD_DIT_WV], NULL));
	if (cf->qk_norm) { /* LayerNorms over the full width, before the heads split (§2.6 item 3) */
		OD_TRY(od_layernorm(c, f->q, f->q, M, D, od_param(c, bt[OD_DIT_Q_NORM_W]), od_param(c, bt[OD_DIT_Q_NORM_B]),
				 QK_NORM_EPS));
		OD_TRY(od_layernorm(c, f->k, f->k, M, KV, od_param(c, bt[OD_DIT_K_NORM_W]),
				 od_param(c, bt[OD_DIT_K_NORM_B]), QK_NORM_EPS));
	}
	/* RoPE on q and k (per batch entry: the table has L rows); text keys stay unrotated */
	for (int b = 0; b < f->B; b++) {
		OD_TRY(od_rope(c, f->q + (size_t)b * L * D, L, H, hd, D, f->rope));
		OD_TRY(od_rope(c, f->k + (size_t)b * L * KV, L, cf->kv_heads, hd, KV, f->rope));
	}
	const float scale = 1.0f / sqrtf((float)hd);
	/* self-attention over all L tokens of all frames; repeat_interleave head map */
	struct od_attention_desc sd = {
		.batch = f->B, .q_len = (int)L, .kv_len = (int)L, .q_heads = H, .kv_heads = cf->kv_heads,
		.head_dim = hd, .q_stride = D, .kv_stride = KV, .o_stride = D, .kv_map = OD_KV_GROUPED,
		.scale = scale, .softcap = m->softcap,
	};
	OD_TRY(od_attention(c, f->o, f->q, f->k, f->v, &sd));
	/* cross-attention: rotated q, text keys with the key mask, tiled head map, no soft-cap */
	struct od_attention_desc xd = {
		.batch = f->B, .q_len = (int)L, .kv_len = txt->len, .q_heads = H, .kv_heads = cf->kv_heads,
		.head_dim = hd, .q_stride = D, .kv_stride = KV, .o_stride = D, .kv_map = OD_KV_TILED,
		.scale = scale, .softcap = 0, .key_mask = txt->mask,
	};
	OD_TRY(od_attention(c, f->oy, f->q, txt->yk + (size_t)i * R * KV, txt->yv + (size_t)i * R * KV, &xd));
	OD_TRY(od_head_gate_add(c, f->o, f->oy, M, H, hd, od_param(c, bt[OD_DIT_GATE])));
	OD_TRY(od_linear(c, f->h, f->o, M, bt[OD_DIT_WO], NULL));
	int64_t sh[3] = { f->B, L, D };
	if (i == 0)
		OD_TRY(trace_dev(f, "block0_attn_out", f->h, 3, sh));
	/* x += tanh(gate_msa)·attention_norm2(a) */
	OD_TRY(od_rmsnorm_gate_add(c, f->x, f->h, M, D, od_param(c, bt[OD_DIT_ATTN_NORM2]), eps, gate_msa, 4 * D, T));
	/* SwiGLU feed-forward on ffn_norm1(x)·(1 + scale_mlp), in row chunks; output into q */
	OD_TRY(od_rmsnorm_modulate(c, f->h, f->x, M, D, od_param(c, bt[OD_DIT_FFN_NORM1]), eps, scale_mlp, 4 * D, T));
	const int FF = cf->ffn_hidden;
	for (int64_t r0 = 0; r0 < M; r0 += f->ffn_rows) {
		int64_t n = M - r0 < f->ffn_rows ? M - r0 : f->ffn_rows;
		OD_TRY(od_linear(c, f->f1, f->h + r0 * D, n, bt[OD_DIT_W1], NULL));
		OD_TRY(od_linear(c, f->f3, f->h + r0 * D, n, bt[OD_DIT_W3], NULL));
		OD_TRY(od_act_mul(c, f->f1, f->f1, f->f3, n * FF, OD_ACT_SILU));
		OD_TRY(od_linear(c, f->q + r0 * D, f->f1, n, bt[OD_DIT_W2], NULL));
	}
	if (i == 0)
		OD_TRY(trace_dev(f, "block0_ffn_out", f->q, 3, sh));
	OD_TRY(od_rmsnorm_gate_add(c, f->x, f->q, M, D, od_param(c, bt[OD_DIT_FFN_NORM2]), eps, gate_mlp, 4 * D, T));
	if (f->tr && f->tr->fn) {
		char name[32];
		snprintf(name, sizeof name, "block%d_out", i);
		OD_TRY(trace_dev(f, name, f->x, 3, sh));
	}
	return OD_OK;
}

/* Carve the device workspace; grows it when a larger call comes. */
static int workspace(struct fwd *f)
{
	struct od_nextdit *m = f->m;
	const struct od_nextdit_config *cf = &m->cfg;
	const int64_t D = cf->hidden, KV = (int64_t)cf->kv_heads * cf->head_dim, A = cf->adaln, P = cf->patch_dim,
		      Po = (int64_t)cf->patch_t * cf->patch_h * cf->patch_w * cf->out_channels, M = f->M, G = f->G;
	f->ffn_rows = M < FFN_CHUNK ? M : FFN_CHUNK;
	int64_t sizes[15] = {
		M * (P > Po ? P : Po), M * D, M * D, M * D, M * KV, M * KV, M * D, M * D,
		f->ffn_rows * cf->ffn_hidden, f->ffn_rows * cf->ffn_hidden, G * 256, G * A, G * A, G * 4 * D,
		(int64_t)f->L * cf->head_dim,
	};
	float **ptrs[15] = { &f->tok, &f->x, &f->h, &f->q, &f->k, &f->v, &f->o, &f->oy, &f->f1, &f->f3, &f->tfreq,
			     &f->te, &f->cc, &f->mod, &f->rope };
	size_t total = 0;
	for (int i = 0; i < 15; i++)
		total += ((size_t)sizes[i] + 15) & ~(size_t)15; /* 64-byte aligned pieces */
	if (total > m->ws_len) {
		od_free(m->ctx, m->ws);
		m->ws_len = 0;
		m->ws = od_alloc(m->ctx, total);
		if (!m->ws)
			return od_error(OD_ENOMEM, "out of memory for the transformer's activations (%zu MB)",
					total * sizeof(float) >> 20);
		m->ws_len = total;
	}
	size_t off = 0;
	for (int i = 0; i < 15; i++) {
		*ptrs[i] = m->ws + off;
		off += ((size_t)sizes[i] + 15) & ~(size_t)15;
	}
	return OD_OK;
}

int od_nextdit_forward(struct od_nextdit *m, const struct od_nextdit_text *txt, int F, int h, int w, const float *x,
		       const float *t, float *out, const struct od_nextdit_trace *tr)
{
	struct od_ctx *c = m->ctx;
	const struct od_nextdit_config *cf = &m->cfg;
	int rc = od_nextdit_check_size(cf, F, h, w);
	if (rc)
		return rc;
	const int pH = cf->patch_h, pW = cf->patch_w, C = cf->in_channels, Co = cf->out_channels;
	const int Hp = h / pH, Wp = w / pW, P = cf->patch_dim, Po = pH * pW * Co;
	const int D = cf->hidden, A = cf->adaln;
	struct fwd f = { .m = m, .tr = tr, .B = txt->batch, .F = F, .T = Hp * Wp, .S = txt->len };
	f.L = F * f.T;
	f.M = (int64_t)f.B * f.L;
	f.G = (int64_t)f.B * F;
	if (f.M > INT32_MAX / 4)
		return od_error(OD_ENOMEM, "%lld tokens are too many", (long long)f.M);
	if ((rc = workspace(&f)))
		return rc;
	const size_t hsize = (size_t)f.M * (size_t)(P > Po ? P : Po);
	const size_t rsize = (size_t)f.L * cf->head_dim;
	float *host = malloc((hsize > rsize ? hsize : rsize) * sizeof *host);
	float *tf = malloc((size_t)f.G * 256 * sizeof *tf), *tt = malloc((size_t)f.G * sizeof *tt);
	if (!host || !tf || !tt) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto out;
	}
	/* patchify (§2.2): token n = (f·Hp + i)·Wp + j, feature (ph·pW + pw)·C + c */
	for (int64_t g = 0; g < f.G; g++)
		for (int ch = 0; ch < C; ch++)
			for (int y = 0; y < h; y++)
				for (int xx = 0; xx < w; xx++) {
					int64_t n = g * f.T + (int64_t)(y / pH) * Wp + xx / pW;
					int feat = ((y % pH) * pW + xx % pW) * C + ch;
					host[n * P + feat] = x[((g * C + ch) * h + y) * w + xx];
				}
	int64_t s3[3] = { f.B, f.L, P };
	if ((rc = od_upload(c, f.tok, host, (size_t)f.M * P * sizeof(float))) ||
	    (rc = trace_dev(&f, "tokens", f.tok, 3, s3)) ||
	    (rc = od_linear(c, f.x, f.tok, f.M, m->x_w, m->x_b)))
		goto out;
	int64_t sx[3] = { f.B, f.L, D };
	if ((rc = trace_dev(&f, "x_embed", f.x, 3, sx)))
		goto out;
	/* timestep embedding per frame (§2.3) */
	for (int64_t g = 0; g < f.G; g++) {
		tt[g] = od_nextdit_t_token(t[g], P);
		od_nextdit_t_freq(m->t_omega, tt[g], tf + g * 256);
	}
	int64_t sg[2] = { f.B, F }, sga[3] = { f.B, F, A }, sy[2] = { f.B, A };
	if (tr && tr->fn)
		tr->fn(tr->user, "t_tok", tt, 2, sg);
	if ((rc = od_upload(c, f.tfreq, tf, (size_t)f.G * 256 * sizeof(float))) ||
	    (rc = od_linear(c, f.te, f.tfreq, f.G, m->t0_w, m->t0_b)) ||
	    (rc = od_act(c, f.te, f.te, f.G * A, OD_ACT_SILU)) ||
	    (rc = od_linear(c, f.cc, f.te, f.G, m->t2_w, m->t2_b)) || (rc = trace_dev(&f, "t_emb", f.cc, 3, sga)))
		goto out;
	if (tr && tr->fn) {
		int64_t sp[2] = { f.B, cf->caption_channels };
		tr->fn(tr->user, "cap_pool", txt->pool, 2, sp);
		if ((rc = trace_dev(&f, "y_emb", txt->y, 2, sy)))
			goto out;
	}
	/* c = temb + y (§2.3), then SiLU(c): the input of every adaLN modulation */
	for (int64_t g = 0; g < f.G; g++)
		if ((rc = od_binary(c, f.cc + g * A, f.cc + g * A, txt->y + (g / F) * A, A, OD_OP_ADD)))
			goto out;
	if ((rc = trace_dev(&f, "c", f.cc, 3, sga)) || (rc = od_act(c, f.cc, f.cc, f.G * A, OD_ACT_SILU)))
		goto out;
	/* RoPE table for the L positions of one batch entry (§2.5) */
	od_rope_table(host, cf->head_dim, m->rope_omega, F, Hp, Wp);
	int64_t sr[3] = { f.L, cf->head_dim / 2, 2 };
	if ((rc = od_upload(c, f.rope, host, rsize * sizeof(float))) || (rc = trace_dev(&f, "rope", f.rope, 3, sr)))
		goto out;
	for (int i = 0; i < cf->depth; i++)
		if ((rc = block_forward(&f, i, txt)))
			goto out;
	/* final layer (§2.7): Linear(LayerNorm_noaffine(x)·(1 + scale)) */
	if ((rc = od_linear(c, f.mod, f.cc, f.G, m->fin_ada_w, m->fin_ada_b)) ||
	    (rc = od_layernorm_modulate(c, f.h, f.x, f.M, D, FINAL_NORM_EPS, f.mod, D, f.T)) ||
	    (rc = od_linear(c, f.tok, f.h, f.M, m->fin_w, m->fin_b)))
		goto out;
	int64_t so[3] = { f.B, f.L, Po };
	if ((rc = trace_dev(&f, "final_out", f.tok, 3, so)) ||
	    (rc = od_download(c, host, f.tok, (size_t)f.M * Po * sizeof(float))))
		goto out;
	/* unpatchify: the exact inverse with C_out channels */
	for (int64_t g = 0; g < f.G; g++)
		for (int ch = 0; ch < Co; ch++)
			for (int y = 0; y < h; y++)
				for (int xx = 0; xx < w; xx++) {
					int64_t n = g * f.T + (int64_t)(y / pH) * Wp + xx / pW;
					int feat = ((y % pH) * pW + xx % pW) * Co + ch;
					out[((g * Co + ch) * h + y) * w + xx] = host[n * Po + feat];
				}
out:
	free(host);
	free(tf);
	free(tt);
	return rc;
}
