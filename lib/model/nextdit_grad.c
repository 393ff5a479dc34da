/*
 * nextdit_grad.c: the NextDiT's training loss and its gradient with respect to
 * every weight (model/nextdit_grad.h; numerics.md §11.1, backward formulas
 * §11.7-§11.13, memory §11.14), over the kernel table's forward and backward
 * kernels, so it runs on any backend that has them.
 *
 * Shapes: B batch, F frames, T tokens per frame, L = F·T, M = B·L token rows,
 * D hidden, KV = kv_heads·head_dim, A adaLN width, P patch_dim, FF ffn_hidden,
 * S text length, R = B·S text rows, Dc caption_channels. The adaLN input c and
 * the modulations have G rows, each shared by grp consecutive token rows: per
 * frame G = B·F, grp = T (nextdit.h's per-frame trick: the same values as
 * upstream's per-token ones), or per token G = M, grp = 1 (opts->per_token).
 *
 * What the forward keeps for the backward (§11.14):
 *   always       the patchified input, the timestep sinusoids, t_embedder's
 *                hidden layer before and after SiLU, c and SiLU(c), the pooled
 *                caption before and after y_embedder.0, every block's input and
 *                adaLN vectors, every block's text keys and values (yk after
 *                ky_norm, yv), the final layer's modulation and normalised
 *                input;
 *   per block    h1 = norm1 output, q and k before their LayerNorms, q and k
 *                after norm and RoPE, v, the self- and cross-attention outputs
 *                and their row statistics (lse), the gated sum fed to wo, wo's
 *                output, the residual after attention, h2 = ffn_norm1 output,
 *                w1 and w3 outputs, w2's output;
 *   recomputed   the SwiGLU product act(w1·h2)·(w3·h2) (from the kept w1, w3
 *                outputs) and, per block, the text side's attention_y_norm
 *                output and wk_y output before ky_norm (R rows, small).
 * With opts->recompute only the "always" set is kept: each block's internals go
 * to one shared set of buffers, refilled by running the block's forward again
 * (from its kept input) just before its backward.
 */
#include "model/nextdit_grad.h"
#include "base/error.h"
#include "base/rng.h"
#include "model/rope.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ parameters */

int od_nextdit_params_init(struct od_nextdit_params *p, struct od_nextdit *m)
{
	memset(p, 0, sizeof *p);
	const int n = m->n_tensors;
	p->n = n;
	p->names = calloc((size_t)n, sizeof *p->names);
	p->numel = calloc((size_t)n, sizeof *p->numel);
	p->data = calloc((size_t)n, sizeof *p->data);
	p->views = calloc((size_t)n, sizeof *p->views);
	p->orig = calloc((size_t)n, sizeof *p->orig);
	if (!p->names || !p->numel || !p->data || !p->views || !p->orig)
		goto oom;
	for (int i = 0; i < n; i++) {
		const struct od_tensor *t = m->tensors[i];
		int64_t k = od_tensor_numel(t);
		if (!od_dtype_is_float(t->dtype)) {
			od_nextdit_params_free(p, NULL);
			return od_error(OD_EMODEL, "'%s': %s is not a float type", t->name ? t->name : "?",
					od_dtype_name(t->dtype));
		}
		p->names[i] = strdup(t->name ? t->name : "");
		p->numel[i] = k;
		p->data[i] = malloc((size_t)(k ? k : 1) * sizeof(float));
		if (!p->names[i] || !p->data[i])
			goto oom;
		od_to_f32(p->data[i], t->data, t->dtype, (size_t)k);
		struct od_tensor *v = &p->views[i];
		*v = *t;
		v->name = p->names[i];
		v->dtype = OD_F32;
		v->data = p->data[i];
		v->nbytes = (size_t)k * sizeof(float);
	}
	for (int i = 0; i < n; i++) {
		p->orig[i] = m->tensors[i];
		m->tensors[i] = &p->views[i];
	}
	od_nextdit_bind(m);
	/* cached float32 copies of small parameters (od_param) were keyed by the mapped tensors */
	od_ctx_clear_params(m->ctx);
	return OD_OK;
oom:
	od_nextdit_params_free(p, NULL);
	return od_error(OD_ENOMEM, "out of memory for the float32 parameters");
}

void od_nextdit_params_free(struct od_nextdit_params *p, struct od_nextdit *m)
{
	if (m && p->orig && m->tensors) {
		for (int i = 0; i < p->n && i < m->n_tensors; i++)
			if (p->orig[i])
				m->tensors[i] = p->orig[i];
		od_nextdit_bind(m);
		od_ctx_clear_params(m->ctx);
	}
	for (int i = 0; i < p->n; i++) {
		if (p->names)
			free((void *)p->names[i]);
		if (p->data)
			free(p->data[i]);
	}
	free(p->names);
	free(p->numel);
	free(p->data);
	free(p->views);
	free(p->orig);
	memset(p, 0, sizeof *p);
}

/* The initialisation rule of a tensor, from its name (numerics.md §11.15). */
enum init_rule { INIT_ZERO, INIT_ONE, INIT_XAVIER, INIT_NORMAL002, INIT_TORCH_W, INIT_TORCH_B };

static enum init_rule init_rule(const char *name)
{
	static const struct {
		const char *suffix;
		enum init_rule r;
	} rules[] = {
		{ "x_embedder.weight", INIT_XAVIER },
		{ "x_embedder.bias", INIT_ZERO },
		{ "t_embedder.mlp.0.weight", INIT_NORMAL002 },
		{ "t_embedder.mlp.0.bias", INIT_ZERO },
		{ "t_embedder.mlp.2.weight", INIT_NORMAL002 },
		{ "t_embedder.mlp.2.bias", INIT_ZERO },
		{ "y_embedder.0.weight", INIT_ONE },
		{ "y_embedder.0.bias", INIT_ZERO },
		{ "y_embedder.1.weight", INIT_TORCH_W },
		{ "y_embedder.1.bias", INIT_TORCH_B },
		{ "final_layer.linear.weight", INIT_ZERO },
		{ "final_layer.linear.bias", INIT_ZERO },
		{ "final_layer.adaLN_modulation.1.weight", INIT_ZERO },
		{ "final_layer.adaLN_modulation.1.bias", INIT_ZERO },
		{ ".adaLN_modulation.1.weight", INIT_ZERO },
		{ ".adaLN_modulation.1.bias", INIT_ZERO },
		{ ".attention.gate", INIT_ZERO },
		{ "_norm.bias", INIT_ZERO },
		{ "_norm.weight", INIT_ONE },
		{ "norm1.weight", INIT_ONE },
		{ "norm2.weight", INIT_ONE },
		{ ".weight", INIT_XAVIER }, /* wq wk wv wo wk_y wv_y w1 w2 w3 */
	};
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
		size_t k = strlen(rules[i].suffix);
		if (n >= k && !strcmp(name + n - k, rules[i].suffix))
			return rules[i].r;
	}
	return INIT_TORCH_B;
}

int od_nextdit_params_init_random(struct od_nextdit_params *p, uint64_t seed)
{
	struct od_mt19937 *g = malloc(sizeof *g);
	if (!g)
		return od_error(OD_ENOMEM, "out of memory");
	od_mt_seed(g, seed);
	for (int i = 0; i < p->n; i++) {
		const struct od_tensor *v = &p->views[i];
		float *d = p->data[i];
		const int64_t n = p->numel[i];
		const int64_t fan_out = v->ndim >= 1 ? v->shape[0] : 1, fan_in = v->ndim >= 2 ? v->shape[1] : fan_out;
		double bound = 0;
		switch (init_rule(p->names[i])) {
		case INIT_ZERO:
			memset(d, 0, (size_t)n * sizeof *d);
			continue;
		case INIT_ONE:
			for (int64_t k = 0; k < n; k++)
				d[k] = 1.0f;
			continue;
		case INIT_NORMAL002:
			od_randn_next(g, (size_t)n, d);
			for (int64_t k = 0; k < n; k++)
				d[k] *= 0.02f;
			continue;
		case INIT_XAVIER: /* U(−a, a), a = sqrt(6 / (fan_in + fan_out)) */
			bound = sqrt(6.0 / (double)(fan_in + fan_out));
			break;
		case INIT_TORCH_W: /* nn.Linear's default: kaiming_uniform(a = √5) = U(±1/sqrt(fan_in)) */
		case INIT_TORCH_B: /* and its bias: U(±1/sqrt(fan_in)) of the layer's weight */
			bound = 1.0 / sqrt((double)fan_in);
			if (v->ndim == 1 && i > 0 && p->views[i - 1].ndim == 2)
				bound = 1.0 / sqrt((double)p->views[i - 1].shape[1]);
			break;
		}
		for (int64_t k = 0; k < n; k++) {
			double u = (double)(od_mt_next(g) >> 8) * 0x1p-24; /* [0, 1) */
			d[k] = (float)((2 * u - 1) * bound);
		}
	}
	free(g);
	return OD_OK;
}

/* ------------------------------------------------------------------ state */

#define TRY(x) do { if ((rc = (x))) goto out; } while (0)

/* Per-block activations the backward reads (see the top of the file). */
struct gblock {
	float *h1, *qp, *kp, *q, *k, *v, *o, *lse, *oy, *lsey, *oc, *a, *xm, *h2, *f1, *f3, *f;
};

struct gs {
	struct od_nextdit *m;
	struct od_ctx *c;
	const struct od_nextdit_config *cf;
	const struct od_nextdit_grad_opts *opts;
	int B, F, T, L, S, D, KV, A, P, Po, FF, Dc, H, hd, depth;
	int64_t M, G, grp, R;
	/* buffers (device), carved from m->grad_ws */
	int sizing;
	size_t need, cursor;
	float *tok, *tfreq, *te_pre, *te_act, *cc, *sc, *pool, *pool_ln, *y, *emb, *rope;
	uint8_t *mask;
	float **xin;  /* depth + 1: block inputs, then the final layer's input */
	float **mod;  /* depth: (G, 4D) */
	float **yk, **yv;
	struct gblock *blk; /* depth blocks, or one shared (recompute) */
	float *finmod, *hfin, *outtok;
	/* backward scratch */
	float *dx, *dA, *dH, *doc, *doy, *dq, *dk, *dv, *dqp, *dkp, *u, *du, *dmod, *dsc, *dcc, *dte, *dyb, *dpln;
	float *yn, *ykp, *dyk, *dyv, *dykp, *dyn, *xtmp;
	/* gradient buffers in od_nextdit_spec order, and per block */
	float **g;
	float *(*gb)[OD_DIT_BLOCK_TENSORS];
	float *g_x_w, *g_x_b, *g_t0_w, *g_t0_b, *g_t2_w, *g_t2_b, *g_yln_w, *g_yln_b, *g_y_w, *g_y_b;
	float *g_fin_w, *g_fin_b, *g_fin_ada_w, *g_fin_ada_b;
	float *zeros; /* host */
	int64_t n_zeros;
};

/* Buffers are carved from one workspace kept in the model (m->grad_ws), so
 * that a trainer's repeated calls reuse memory that is already mapped: the
 * layout runs twice, once to size the workspace, once to carve it. */
static float *galloc(struct gs *s, int64_t n)
{
	const size_t size = ((size_t)(n > 0 ? n : 1) + 15) & ~(size_t)15; /* 64-byte pieces */
	if (s->sizing) {
		s->need += size;
		return s->m->grad_ws ? s->m->grad_ws : (float *)s; /* any non-NULL pointer; not used */
	}
	if (s->cursor + size > s->m->grad_ws_len)
		return NULL;
	float *p = s->m->grad_ws + s->cursor;
	s->cursor += size;
	return p;
}

static void gs_free(struct gs *s)
{
	free(s->xin);
	free(s->mod);
	free(s->yk);
	free(s->yv);
	free(s->blk);
	free(s->gb);
	free(s->zeros);
	s->xin = NULL, s->mod = s->yk = s->yv = NULL, s->blk = NULL, s->gb = NULL, s->zeros = NULL;
}

static int alloc_block(struct gs *s, struct gblock *b)
{
	const int64_t M = s->M, D = s->D, KV = s->KV, FF = s->FF, NL = (int64_t)s->B * s->H * s->L;
	b->h1 = galloc(s, M * D), b->qp = galloc(s, M * D), b->kp = galloc(s, M * KV);
	b->q = galloc(s, M * D), b->k = galloc(s, M * KV), b->v = galloc(s, M * KV);
	b->o = galloc(s, M * D), b->lse = galloc(s, NL), b->oy = galloc(s, M * D), b->lsey = galloc(s, NL);
	b->oc = galloc(s, M * D), b->a = galloc(s, M * D), b->xm = galloc(s, M * D), b->h2 = galloc(s, M * D);
	b->f1 = galloc(s, M * FF), b->f3 = galloc(s, M * FF), b->f = galloc(s, M * D);
	return b->h1 && b->qp && b->kp && b->q && b->k && b->v && b->o && b->lse && b->oy && b->lsey && b->oc && b->a &&
	       b->xm && b->h2 && b->f1 && b->f3 && b->f;
}

static int gs_alloc(struct gs *s)
{
	const int64_t M = s->M, G = s->G, D = s->D, KV = s->KV, A = s->A, R = s->R, FF = s->FF, Dc = s->Dc;
	const int depth = s->depth, nblk = s->opts->recompute ? 1 : depth;
	s->xin = calloc((size_t)depth + 1, sizeof *s->xin);
	s->mod = calloc((size_t)depth, sizeof *s->mod);
	s->yk = calloc((size_t)depth, sizeof *s->yk);
	s->yv = calloc((size_t)depth, sizeof *s->yv);
	s->blk = calloc((size_t)nblk, sizeof *s->blk);
	if (!s->xin || !s->mod || !s->yk || !s->yv || !s->blk)
		return 0;
	int ok = (s->tok = galloc(s, M * s->P)) && (s->tfreq = galloc(s, G * 256)) && (s->te_pre = galloc(s, G * A)) &&
		 (s->te_act = galloc(s, G * A)) && (s->cc = galloc(s, G * A)) && (s->sc = galloc(s, G * A)) &&
		 (s->pool = galloc(s, (int64_t)s->B * Dc)) && (s->pool_ln = galloc(s, (int64_t)s->B * Dc)) &&
		 (s->y = galloc(s, (int64_t)s->B * A)) && (s->emb = galloc(s, R * Dc)) &&
		 (s->rope = galloc(s, (int64_t)s->L * s->hd)) && (s->mask = (uint8_t *)galloc(s, (R + 3) / 4)) &&
		 (s->finmod = galloc(s, G * D)) && (s->hfin = galloc(s, M * D)) && (s->outtok = galloc(s, M * s->Po));
	for (int i = 0; ok && i <= depth; i++)
		ok = (s->xin[i] = galloc(s, M * D)) != NULL;
	for (int i = 0; ok && i < depth; i++)
		ok = (s->mod[i] = galloc(s, G * 4 * D)) && (s->yk[i] = galloc(s, R * KV)) && (s->yv[i] = galloc(s, R * KV));
	for (int i = 0; ok && i < nblk; i++)
		ok = alloc_block(s, &s->blk[i]);
	ok = ok && (s->dx = galloc(s, M * D)) && (s->dA = galloc(s, M * D)) && (s->dH = galloc(s, M * D)) &&
	     (s->doc = galloc(s, M * D)) && (s->doy = galloc(s, M * D)) && (s->dq = galloc(s, M * D)) &&
	     (s->dk = galloc(s, M * KV)) && (s->dv = galloc(s, M * KV)) && (s->dqp = galloc(s, M * D)) &&
	     (s->dkp = galloc(s, M * KV)) && (s->u = galloc(s, M * FF)) && (s->du = galloc(s, M * FF)) &&
	     (s->dmod = galloc(s, G * 4 * D)) && (s->dsc = galloc(s, G * A)) && (s->dcc = galloc(s, G * A)) &&
	     (s->dte = galloc(s, G * A)) && (s->dyb = galloc(s, (int64_t)s->B * A)) &&
	     (s->dpln = galloc(s, (int64_t)s->B * Dc)) && (s->yn = galloc(s, R * Dc)) && (s->ykp = galloc(s, R * KV)) &&
	     (s->dyk = galloc(s, R * KV)) && (s->dyv = galloc(s, R * KV)) && (s->dykp = galloc(s, R * KV)) &&
	     (s->dyn = galloc(s, R * Dc));
	if (ok && s->opts->recompute)
		ok = (s->xtmp = galloc(s, M * D)) != NULL;
	return ok;
}

/* Gradient buffers in spec order, mapped the way od_nextdit_open maps the tensors. */
static int map_grads(struct gs *s, float **g)
{
	const struct od_nextdit *m = s->m;
	s->gb = calloc((size_t)s->depth, sizeof *s->gb);
	if (!s->gb)
		return 0;
	int k = 0;
	s->g_x_w = g[k++], s->g_x_b = g[k++];
	s->g_t0_w = g[k++], s->g_t0_b = g[k++], s->g_t2_w = g[k++], s->g_t2_b = g[k++];
	s->g_yln_w = g[k++], s->g_yln_b = g[k++], s->g_y_w = g[k++], s->g_y_b = g[k++];
	for (int i = 0; i < s->depth; i++)
		for (int j = 0; j < OD_DIT_BLOCK_TENSORS; j++) {
			if (!m->cfg.qk_norm && j >= OD_DIT_Q_NORM_W && j <= OD_DIT_K_NORM_B)
				continue;
			s->gb[i][j] = g[k++];
		}
	s->g_fin_w = g[k++], s->g_fin_b = g[k++], s->g_fin_ada_w = g[k++], s->g_fin_ada_b = g[k++];
	return k == m->n_tensors;
}

/* Zero n floats of a device buffer (from a host buffer of zeros: uninitialised
 * memory may hold NaNs, which 0·x would keep). */
static int zero_dev(struct gs *s, float *p, int64_t n)
{
	if (n > s->n_zeros) {
		float *z = calloc((size_t)n, sizeof *z);
		if (!z)
			return od_error(OD_ENOMEM, "out of memory");
		free(s->zeros);
		s->zeros = z, s->n_zeros = n;
	}
	return od_upload(s->c, p, s->zeros, (size_t)n * sizeof *p);
}

static int trace_dev(struct gs *s, const char *name, const float *dev, int ndim, const int64_t *shape)
{
	const struct od_nextdit_trace *tr = s->opts->trace;
	if (!tr || !tr->fn)
		return OD_OK;
	int64_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= shape[i];
	float *h = malloc((size_t)n * sizeof *h);
	if (!h)
		return od_error(OD_ENOMEM, "out of memory");
	int rc = od_download(s->c, h, dev, (size_t)n * sizeof *h);
	if (!rc)
		tr->fn(tr->user, name, h, ndim, shape);
	free(h);
	return rc;
}

static struct od_attention_desc self_desc(const struct gs *s)
{
	struct od_attention_desc d = {
		.batch = s->B, .q_len = s->L, .kv_len = s->L, .q_heads = s->H, .kv_heads = s->cf->kv_heads,
		.head_dim = s->hd, .q_stride = s->D, .kv_stride = s->KV, .o_stride = s->D, .kv_map = OD_KV_GROUPED,
		.scale = 1.0f / sqrtf((float)s->hd), .softcap = s->m->softcap,
	};
	return d;
}

static struct od_attention_desc cross_desc(const struct gs *s)
{
	struct od_attention_desc d = {
		.batch = s->B, .q_len = s->L, .kv_len = s->S, .q_heads = s->H, .kv_heads = s->cf->kv_heads,
		.head_dim = s->hd, .q_stride = s->D, .kv_stride = s->KV, .o_stride = s->D, .kv_map = OD_KV_TILED,
		.scale = 1.0f / sqrtf((float)s->hd), .softcap = 0, .key_mask = s->mask,
	};
	return d;
}

/* ------------------------------------------------------------------ forward */

/* One block from x (M, D) to xo, keeping its internals in b (numerics.md §2.4, §2.6). */
static int block_forward(struct gs *s, int i, struct gblock *b, const float *x, float *xo)
{
	struct od_ctx *c = s->c;
	const struct od_tensor *const *bt = s->m->block[i];
	const int D = s->D, H = s->H, hd = s->hd, KV = s->KV;
	const int64_t M = s->M, grp = s->grp, L = s->L;
	const float eps = s->cf->norm_eps;
	float *mod = s->mod[i];
	int rc;
	TRY(od_linear(c, mod, s->sc, s->G, bt[OD_DIT_ADALN_W], bt[OD_DIT_ADALN_B]));
	const float *scale_msa = mod, *gate_msa = mod + D, *scale_mlp = mod + 2 * D, *gate_mlp = mod + 3 * D;
	TRY(od_rmsnorm_modulate(c, b->h1, x, M, D, od_param(c, bt[OD_DIT_ATTN_NORM1]), eps, scale_msa, 4 * D, grp));
	TRY(od_linear(c, b->qp, b->h1, M, bt[OD_DIT_WQ], NULL));
	TRY(od_linear(c, b->kp, b->h1, M, bt[OD_DIT_WK], NULL));
	TRY(od_linear(c, b->v, b->h1, M, bt[OD_DIT_WV], NULL));
	if (s->cf->qk_norm) {
		TRY(od_layernorm(c, b->q, b->qp, M, D, od_param(c, bt[OD_DIT_Q_NORM_W]), od_param(c, bt[OD_DIT_Q_NORM_B]),
				 OD_NEXTDIT_QK_NORM_EPS));
		TRY(od_layernorm(c, b->k, b->kp, M, KV, od_param(c, bt[OD_DIT_K_NORM_W]),
				 od_param(c, bt[OD_DIT_K_NORM_B]), OD_NEXTDIT_QK_NORM_EPS));
	} else {
		TRY(od_copy(c, b->q, b->qp, (size_t)(M * D) * sizeof(float)));
		TRY(od_copy(c, b->k, b->kp, (size_t)(M * KV) * sizeof(float)));
	}
	for (int bb = 0; bb < s->B; bb++) {
		TRY(od_rope(c, b->q + (size_t)bb * L * D, L, H, hd, D, s->rope));
		TRY(od_rope(c, b->k + (size_t)bb * L * KV, L, s->cf->kv_heads, hd, KV, s->rope));
	}
	struct od_attention_desc sd = self_desc(s), xd = cross_desc(s);
	TRY(od_attention_lse(c, b->o, b->lse, b->q, b->k, b->v, &sd));
	TRY(od_attention_lse(c, b->oy, b->lsey, b->q, s->yk[i], s->yv[i], &xd));
	TRY(od_copy(c, b->oc, b->o, (size_t)(M * D) * sizeof(float)));
	TRY(od_head_gate_add(c, b->oc, b->oy, M, H, hd, od_param(c, bt[OD_DIT_GATE])));
	TRY(od_linear(c, b->a, b->oc, M, bt[OD_DIT_WO], NULL));
	TRY(od_copy(c, b->xm, x, (size_t)(M * D) * sizeof(float)));
	TRY(od_rmsnorm_gate_add(c, b->xm, b->a, M, D, od_param(c, bt[OD_DIT_ATTN_NORM2]), eps, gate_msa, 4 * D, grp));
	TRY(od_rmsnorm_modulate(c, b->h2, b->xm, M, D, od_param(c, bt[OD_DIT_FFN_NORM1]), eps, scale_mlp, 4 * D, grp));
	TRY(od_linear(c, b->f1, b->h2, M, bt[OD_DIT_W1], NULL));
	TRY(od_linear(c, b->f3, b->h2, M, bt[OD_DIT_W3], NULL));
	TRY(od_act_mul(c, s->u, b->f1, b->f3, M * s->FF, OD_ACT_SILU));
	TRY(od_linear(c, b->f, s->u, M, bt[OD_DIT_W2], NULL));
	TRY(od_copy(c, xo, b->xm, (size_t)(M * D) * sizeof(float)));
	TRY(od_rmsnorm_gate_add(c, xo, b->f, M, D, od_param(c, bt[OD_DIT_FFN_NORM2]), eps, gate_mlp, 4 * D, grp));
out:
	return rc;
}

/* The text side of block i: yn = attention_y_norm(text), ykp = wk_y(yn) and, when
 * keep is set, yk = ky_norm(ykp), yv = wv_y(yn). */
static int text_forward(struct gs *s, int i, int keep)
{
	struct od_ctx *c = s->c;
	const struct od_tensor *const *bt = s->m->block[i];
	int rc;
	TRY(od_rmsnorm(c, s->yn, s->emb, s->R, s->Dc, od_param(c, bt[OD_DIT_ATTN_Y_NORM]), s->cf->norm_eps));
	TRY(od_linear(c, s->ykp, s->yn, s->R, bt[OD_DIT_WK_Y], NULL));
	if (keep) {
		TRY(od_layernorm(c, s->yk[i], s->ykp, s->R, s->KV, od_param(c, bt[OD_DIT_KY_NORM_W]),
				 od_param(c, bt[OD_DIT_KY_NORM_B]), OD_NEXTDIT_KY_NORM_EPS));
		TRY(od_linear(c, s->yv[i], s->yn, s->R, bt[OD_DIT_WV_Y], NULL));
	}
out:
	return rc;
}

/* ------------------------------------------------------------------ backward */

/* Block i's backward: s->dx holds ∂loss/∂(block output) on entry and
 * ∂loss/∂(block input) on return; parameter gradients accumulate into s->gb[i];
 * ∂loss/∂SiLU(c) accumulates into s->dsc. */
static int block_backward(struct gs *s, int i, struct gblock *b)
{
	struct od_ctx *c = s->c;
	const struct od_tensor *const *bt = s->m->block[i];
	float *const *g = s->gb[i];
	const int D = s->D, H = s->H, hd = s->hd, KV = s->KV, FF = s->FF, A = s->A, Dc = s->Dc;
	const int64_t M = s->M, grp = s->grp, L = s->L, G = s->G, R = s->R;
	const float eps = s->cf->norm_eps;
	const float *mod = s->mod[i], *x = s->xin[i];
	float *dmod = s->dmod;
	int rc;
	TRY(zero_dev(s, dmod, G * 4 * D));
	/* x_out = xm + tanh(gate_mlp)·ffn_norm2(f)   (§11.12) */
	TRY(od_rmsnorm_gate_add_backward(c, s->dA, g[OD_DIT_FFN_NORM2], dmod + 3 * D, s->dx, b->f, M, D,
					 od_param(c, bt[OD_DIT_FFN_NORM2]), eps, mod + 3 * D, 4 * D, grp));
	/* f = w2(u), u = SiLU(f1)·f3   (§11.13): the fused backward gives u again (for w2's gradient) with
	 * ∂/∂f1 over the kept f1 (read once, not needed after) and ∂/∂f3 over du */
	TRY(od_linear_backward_x(c, s->du, s->dA, M, bt[OD_DIT_W2], 0));
	TRY(od_act_mul_backward(c, b->f1, s->du, s->u, s->du, b->f1, b->f3, M * FF, OD_ACT_SILU));
	TRY(od_linear_backward_w(c, g[OD_DIT_W2], NULL, s->dA, s->u, M, D, FF));
	TRY(od_linear_backward_w(c, g[OD_DIT_W1], NULL, b->f1, b->h2, M, FF, D));
	TRY(od_linear_backward_w(c, g[OD_DIT_W3], NULL, s->du, b->h2, M, FF, D));
	TRY(od_linear_backward_x(c, s->dH, b->f1, M, bt[OD_DIT_W1], 0));
	TRY(od_linear_backward_x(c, s->dH, s->du, M, bt[OD_DIT_W3], 1));
	/* h2 = ffn_norm1(xm)·(1 + scale_mlp); dx becomes ∂/∂xm */
	TRY(od_rmsnorm_modulate_backward(c, s->dx, g[OD_DIT_FFN_NORM1], dmod + 2 * D, s->dH, b->xm, M, D,
					 od_param(c, bt[OD_DIT_FFN_NORM1]), eps, mod + 2 * D, 4 * D, grp, 1));
	/* xm = x + tanh(gate_msa)·attention_norm2(a) */
	TRY(od_rmsnorm_gate_add_backward(c, s->dA, g[OD_DIT_ATTN_NORM2], dmod + D, s->dx, b->a, M, D,
					 od_param(c, bt[OD_DIT_ATTN_NORM2]), eps, mod + D, 4 * D, grp));
	/* a = wo(o + tanh(gate)·oy) */
	TRY(od_linear_backward_w(c, g[OD_DIT_WO], NULL, s->dA, b->oc, M, D, D));
	TRY(od_linear_backward_x(c, s->doc, s->dA, M, bt[OD_DIT_WO], 0));
	TRY(od_head_gate_add_backward(c, s->doy, g[OD_DIT_GATE], s->doc, b->oy, M, H, hd, od_param(c, bt[OD_DIT_GATE])));
	/* the two attentions share the rotated q (§11.10) */
	TRY(zero_dev(s, s->dq, M * D));
	TRY(zero_dev(s, s->dk, M * KV));
	TRY(zero_dev(s, s->dv, M * KV));
	TRY(zero_dev(s, s->dyk, R * KV));
	TRY(zero_dev(s, s->dyv, R * KV));
	struct od_attention_desc sd = self_desc(s), xd = cross_desc(s);
	TRY(od_attention_backward(c, s->dq, s->dyk, s->dyv, s->doy, b->q, s->yk[i], s->yv[i], b->oy, b->lsey, &xd));
	TRY(od_attention_backward(c, s->dq, s->dk, s->dv, s->doc, b->q, b->k, b->v, b->o, b->lse, &sd));
	for (int bb = 0; bb < s->B; bb++) {
		TRY(od_rope_backward(c, s->dq + (size_t)bb * L * D, L, H, hd, D, s->rope));
		TRY(od_rope_backward(c, s->dk + (size_t)bb * L * KV, L, s->cf->kv_heads, hd, KV, s->rope));
	}
	const float *dqp = s->dq, *dkp = s->dk;
	if (s->cf->qk_norm) { /* §11.9 */
		TRY(od_layernorm_backward(c, s->dqp, g[OD_DIT_Q_NORM_W], g[OD_DIT_Q_NORM_B], s->dq, b->qp, M, D,
					  od_param(c, bt[OD_DIT_Q_NORM_W]), OD_NEXTDIT_QK_NORM_EPS, 0));
		TRY(od_layernorm_backward(c, s->dkp, g[OD_DIT_K_NORM_W], g[OD_DIT_K_NORM_B], s->dk, b->kp, M, KV,
					  od_param(c, bt[OD_DIT_K_NORM_W]), OD_NEXTDIT_QK_NORM_EPS, 0));
		dqp = s->dqp, dkp = s->dkp;
	}
	TRY(od_linear_backward_w(c, g[OD_DIT_WQ], NULL, dqp, b->h1, M, D, D));
	TRY(od_linear_backward_w(c, g[OD_DIT_WK], NULL, dkp, b->h1, M, KV, D));
	TRY(od_linear_backward_w(c, g[OD_DIT_WV], NULL, s->dv, b->h1, M, KV, D));
	TRY(od_linear_backward_x(c, s->dH, dqp, M, bt[OD_DIT_WQ], 0));
	TRY(od_linear_backward_x(c, s->dH, dkp, M, bt[OD_DIT_WK], 1));
	TRY(od_linear_backward_x(c, s->dH, s->dv, M, bt[OD_DIT_WV], 1));
	/* h1 = attention_norm1(x)·(1 + scale_msa); dx becomes ∂/∂x */
	TRY(od_rmsnorm_modulate_backward(c, s->dx, g[OD_DIT_ATTN_NORM1], dmod, s->dH, x, M, D,
					 od_param(c, bt[OD_DIT_ATTN_NORM1]), eps, mod, 4 * D, grp, 1));
	/* mod = adaLN_modulation(SiLU(c)) */
	TRY(od_linear_backward_w(c, g[OD_DIT_ADALN_W], g[OD_DIT_ADALN_B], dmod, s->sc, G, 4 * (int64_t)D, A));
	TRY(od_linear_backward_x(c, s->dsc, dmod, G, bt[OD_DIT_ADALN_W], 1));
	/* text side: yk = ky_norm(wk_y(yn)), yv = wv_y(yn), yn = attention_y_norm(text) */
	TRY(text_forward(s, i, 0));
	TRY(od_layernorm_backward(c, s->dykp, g[OD_DIT_KY_NORM_W], g[OD_DIT_KY_NORM_B], s->dyk, s->ykp, R, KV,
				  od_param(c, bt[OD_DIT_KY_NORM_W]), OD_NEXTDIT_KY_NORM_EPS, 0));
	TRY(od_linear_backward_w(c, g[OD_DIT_WK_Y], NULL, s->dykp, s->yn, R, KV, Dc));
	TRY(od_linear_backward_w(c, g[OD_DIT_WV_Y], NULL, s->dyv, s->yn, R, KV, Dc));
	TRY(od_linear_backward_x(c, s->dyn, s->dykp, R, bt[OD_DIT_WK_Y], 0));
	TRY(od_linear_backward_x(c, s->dyn, s->dyv, R, bt[OD_DIT_WV_Y], 1));
	TRY(od_rmsnorm_backward(c, NULL, g[OD_DIT_ATTN_Y_NORM], s->dyn, s->emb, R, Dc,
				od_param(c, bt[OD_DIT_ATTN_Y_NORM]), s->cf->norm_eps, 0));
out:
	return rc;
}

/* ------------------------------------------------------------------ the loss and its gradient */

/* x (B, F, C, h, w) -> tokens (M, P): token n = (f·Hp + i)·Wp + j, feature (ph·pW + pw)·C + c (§2.2);
 * back when inverse is set */
static void patchify(const struct od_nextdit_config *cf, int64_t G, int C, int h, int w, const float *x, float *tok,
		     int inverse)
{
	const int pH = cf->patch_h, pW = cf->patch_w, Wp = w / pW, P = pH * pW * C;
	const int64_t T = (int64_t)(h / pH) * Wp;
	for (int64_t g = 0; g < G; g++)
		for (int ch = 0; ch < C; ch++)
			for (int y = 0; y < h; y++)
				for (int xx = 0; xx < w; xx++) {
					int64_t n = g * T + (int64_t)(y / pH) * Wp + xx / pW;
					int feat = ((y % pH) * pW + xx % pW) * C + ch;
					if (inverse)
						tok[((g * C + ch) * h + y) * w + xx] = x[n * P + feat];
					else
						tok[n * P + feat] = x[((g * C + ch) * h + y) * w + xx];
				}
}

int od_nextdit_loss_grad_ex(struct od_nextdit *m, const struct od_nextdit_batch *bt,
			    const struct od_nextdit_grad_opts *opts, float *loss, float **grads, float *out)
{
	static const struct od_nextdit_grad_opts none;
	const struct od_nextdit_config *cf = &m->cfg;
	struct od_ctx *c = m->ctx;
	if (!opts)
		opts = &none;
	if (bt->B < 1 || bt->S < 1)
		return od_error(OD_EFORMAT, "training batch: %d samples with %d text positions", bt->B, bt->S);
	int rc = od_nextdit_check_size(cf, bt->F, bt->h, bt->w);
	if (rc)
		return rc;
	struct gs s = { .m = m, .c = c, .cf = cf, .opts = opts };
	s.B = bt->B, s.F = bt->F, s.S = bt->S;
	s.T = (bt->h / cf->patch_h) * (bt->w / cf->patch_w);
	s.L = s.F * s.T;
	s.M = (int64_t)s.B * s.L;
	s.D = cf->hidden, s.KV = cf->kv_heads * cf->head_dim, s.A = cf->adaln, s.P = cf->patch_dim;
	s.Po = cf->patch_t * cf->patch_h * cf->patch_w * cf->out_channels;
	s.FF = cf->ffn_hidden, s.Dc = cf->caption_channels, s.H = cf->heads, s.hd = cf->head_dim, s.depth = cf->depth;
	s.R = (int64_t)s.B * s.S;
	s.grp = opts->per_token ? 1 : s.T;
	s.G = s.M / s.grp;
	if (s.M > INT32_MAX / 4 || s.R > INT32_MAX / 4)
		return od_error(OD_ENOMEM, "%lld tokens are too many", (long long)s.M);
	const int C = cf->in_channels, Co = cf->out_channels;
	const int64_t Gf = (int64_t)s.B * s.F, rows_per_b = s.G / s.B;
	const size_t nx = (size_t)(Gf * C * bt->h * bt->w), no = (size_t)(Gf * Co * bt->h * bt->w);
	float **g = NULL, *host = NULL, *dout = NULL;
	const size_t hsize = (size_t)s.M * (size_t)(s.P > s.Po ? s.P : s.Po);
	const size_t hs2 = (size_t)s.G * 256 > (size_t)s.L * s.hd ? (size_t)s.G * 256 : (size_t)s.L * s.hd;
	host = malloc((hsize > hs2 ? hsize : hs2) * sizeof *host);
	dout = malloc((no > (size_t)s.B * s.Dc ? no : (size_t)s.B * s.Dc) * sizeof *dout);
	g = calloc((size_t)m->n_tensors, sizeof *g);
	if (!host || !dout || !g) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto out;
	}
	/* gradient buffers: the caller's on the CPU, device copies elsewhere; sized, then carved */
	for (s.sizing = 1;; s.sizing = 0) {
		for (int i = 0; i < m->n_tensors; i++)
			if (c->device == OD_DEVICE_CPU)
				g[i] = grads[i];
			else if (!(g[i] = galloc(&s, od_tensor_numel(m->tensors[i]))))
				break;
		gs_free(&s);
		if (!map_grads(&s, g) || !gs_alloc(&s)) {
			rc = od_error(OD_ENOMEM, "out of memory for the training activations (%lld tokens)", (long long)s.M);
			goto out;
		}
		if (!s.sizing)
			break;
		if (s.need > m->grad_ws_len) {
			od_free(c, m->grad_ws);
			m->grad_ws_len = 0;
			if (!(m->grad_ws = od_alloc(c, s.need))) {
				rc = od_error(OD_ENOMEM, "out of memory for the training activations (%zu MB)",
					      s.need * sizeof(float) >> 20);
				goto out;
			}
			m->grad_ws_len = s.need;
		}
	}
	if (c->device != OD_DEVICE_CPU)
		for (int i = 0; i < m->n_tensors; i++)
			TRY(od_upload(c, g[i], grads[i], (size_t)od_tensor_numel(m->tensors[i]) * sizeof(float)));
	const int D = s.D, A = s.A, Dc = s.Dc;
	const int64_t M = s.M, G = s.G, grp = s.grp;

	/* ---- forward: embedders (§2.2, §2.3) */
	patchify(cf, Gf, C, bt->h, bt->w, bt->x, host, 0);
	TRY(od_upload(c, s.tok, host, (size_t)(M * s.P) * sizeof(float)));
	TRY(od_linear(c, s.xin[0], s.tok, M, m->x_w, m->x_b));
	for (int64_t r = 0; r < G; r++) { /* one timestep per frame, upstream's per-token rounding (§2.1) */
		int64_t frame = r * grp / s.T;
		od_nextdit_t_freq(m->t_omega, od_nextdit_t_token(bt->t[frame], s.P), host + r * 256);
	}
	TRY(od_upload(c, s.tfreq, host, (size_t)(G * 256) * sizeof(float)));
	TRY(od_linear(c, s.te_pre, s.tfreq, G, m->t0_w, m->t0_b));
	TRY(od_act(c, s.te_act, s.te_pre, G * A, OD_ACT_SILU));
	TRY(od_linear(c, s.cc, s.te_act, G, m->t2_w, m->t2_b));
	{ /* masked mean of the text (§2.3), as od_nextdit_text_prepare forms it */
		double *acc = calloc((size_t)Dc, sizeof *acc);
		if (!acc) {
			rc = od_error(OD_ENOMEM, "out of memory");
			goto out;
		}
		for (int b = 0; b < s.B; b++) {
			memset(acc, 0, (size_t)Dc * sizeof *acc);
			int cnt = 0;
			for (int j = 0; j < s.S; j++) {
				if (!bt->mask[(size_t)b * s.S + j])
					continue;
				cnt++;
				const float *e = bt->text + ((size_t)b * s.S + j) * Dc;
				for (int d = 0; d < Dc; d++)
					acc[d] += e[d];
			}
			float den = (float)cnt + 1e-8f;
			for (int d = 0; d < Dc; d++)
				dout[(size_t)b * Dc + d] = (float)acc[d] / den;
		}
		free(acc);
	}
	TRY(od_upload(c, s.pool, dout, (size_t)s.B * Dc * sizeof(float)));
	TRY(od_layernorm(c, s.pool_ln, s.pool, s.B, Dc, od_param(c, m->yln_w), od_param(c, m->yln_b),
			 OD_NEXTDIT_Y_NORM_EPS));
	TRY(od_linear(c, s.y, s.pool_ln, s.B, m->y_w, m->y_b));
	for (int64_t r = 0; r < G; r++) /* c = temb + y */
		TRY(od_binary(c, s.cc + r * A, s.cc + r * A, s.y + (r / rows_per_b) * A, A, OD_OP_ADD));
	TRY(od_act(c, s.sc, s.cc, G * A, OD_ACT_SILU));
	TRY(od_upload(c, s.emb, bt->text, (size_t)(s.R * Dc) * sizeof(float)));
	TRY(od_upload(c, s.mask, bt->mask, (size_t)s.R));
	od_rope_table(host, s.hd, m->rope_omega, s.F, bt->h / cf->patch_h, bt->w / cf->patch_w);
	TRY(od_upload(c, s.rope, host, (size_t)s.L * s.hd * sizeof(float)));
	for (int i = 0; i < s.depth; i++)
		TRY(text_forward(&s, i, 1));
	/* blocks, then the final layer (§2.7) */
	for (int i = 0; i < s.depth; i++)
		TRY(block_forward(&s, i, &s.blk[opts->recompute ? 0 : i], s.xin[i], s.xin[i + 1]));
	TRY(od_linear(c, s.finmod, s.sc, G, m->fin_ada_w, m->fin_ada_b));
	TRY(od_layernorm_modulate(c, s.hfin, s.xin[s.depth], M, D, OD_NEXTDIT_FINAL_NORM_EPS, s.finmod, D, grp));
	TRY(od_linear(c, s.outtok, s.hfin, M, m->fin_w, m->fin_b));
	TRY(od_download(c, host, s.outtok, (size_t)(M * s.Po) * sizeof(float)));
	patchify(cf, Gf, Co, bt->h, bt->w, host, dout, 1);
	if (out)
		memcpy(out, dout, no * sizeof *out);

	/* ---- the loss (§11.1) and its gradient, as torch's mse_loss forms them */
	/* with in_loss, the mean over the frames it marks: the others' gradient is 0 (§11.1a) */
	const size_t per_frame = no / (size_t)Gf;
	size_t counted = no;
	if (bt->in_loss) {
		counted = 0;
		for (int64_t f = 0; f < Gf; f++)
			counted += bt->in_loss[f] ? per_frame : 0;
		if (!counted) {
			rc = od_error(OD_EINVAL, "training batch: no frame is in the loss");
			goto out;
		}
	}
	double sum = 0;
	const float k2n = (float)(2.0 / (double)counted);
	for (size_t i = 0; i < no; i++) {
		float d = dout[i] - bt->target[i];
		if (bt->in_loss && !bt->in_loss[i / per_frame])
			d = 0;
		sum += (double)d * d;
		dout[i] = d * k2n;
	}
	*loss = (float)(sum / (double)counted);
	if (opts->trace && opts->trace->fn) {
		int64_t sh[5] = { s.B, s.F, Co, bt->h, bt->w };
		opts->trace->fn(opts->trace->user, "dL.model_output", dout, 5, sh);
	}
	(void)nx;

	/* ---- backward: final layer */
	patchify(cf, Gf, Co, bt->h, bt->w, dout, host, 0);
	TRY(od_upload(c, s.outtok, host, (size_t)(M * s.Po) * sizeof(float)));
	TRY(od_linear_backward_w(c, s.g_fin_w, s.g_fin_b, s.outtok, s.hfin, M, s.Po, D));
	TRY(od_linear_backward_x(c, s.dH, s.outtok, M, m->fin_w, 0));
	TRY(zero_dev(&s, s.dmod, G * D));
	TRY(od_layernorm_modulate_backward(c, s.dx, s.dmod, s.dH, s.xin[s.depth], M, D, OD_NEXTDIT_FINAL_NORM_EPS,
					   s.finmod, D, grp, 0));
	TRY(od_linear_backward_w(c, s.g_fin_ada_w, s.g_fin_ada_b, s.dmod, s.sc, G, D, A));
	TRY(od_linear_backward_x(c, s.dsc, s.dmod, G, m->fin_ada_w, 0));
	/* blocks, last first */
	int64_t sx[3] = { s.B, s.L, D };
	char name[40];
	for (int i = s.depth - 1; i >= 0; i--) {
		snprintf(name, sizeof name, "dL.block%d_out", i);
		TRY(trace_dev(&s, name, s.dx, 3, sx));
		if (opts->recompute)
			TRY(block_forward(&s, i, &s.blk[0], s.xin[i], s.xtmp));
		TRY(block_backward(&s, i, &s.blk[opts->recompute ? 0 : i]));
	}
	TRY(trace_dev(&s, "dL.x_embed", s.dx, 3, sx));
	/* embedders */
	TRY(od_linear_backward_w(c, s.g_x_w, s.g_x_b, s.dx, s.tok, M, D, s.P));
	TRY(od_act_backward(c, s.dcc, s.dsc, s.cc, G * A, OD_ACT_SILU));
	{
		int64_t sct[3] = { s.B, opts->per_token ? s.L : s.F, A };
		TRY(trace_dev(&s, "dL.c", s.dcc, 3, sct));
	}
	TRY(od_linear_backward_w(c, s.g_t2_w, s.g_t2_b, s.dcc, s.te_act, G, A, A));
	TRY(od_linear_backward_x(c, s.dte, s.dcc, G, m->t2_w, 0));
	TRY(od_act_backward(c, s.dte, s.dte, s.te_pre, G * A, OD_ACT_SILU));
	TRY(od_linear_backward_w(c, s.g_t0_w, s.g_t0_b, s.dte, s.tfreq, G, A, 256));
	/* y is shared by every row of its sample: its gradient sums them in row order */
	TRY(zero_dev(&s, s.dyb, (int64_t)s.B * A));
	for (int64_t r = 0; r < G; r++)
		TRY(od_axpby(c, s.dyb + (r / rows_per_b) * A, s.dcc + r * A, A, 1.0f, 1.0f));
	TRY(od_linear_backward_w(c, s.g_y_w, s.g_y_b, s.dyb, s.pool_ln, s.B, A, Dc));
	TRY(od_linear_backward_x(c, s.dpln, s.dyb, s.B, m->y_w, 0));
	TRY(od_layernorm_backward(c, NULL, s.g_yln_w, s.g_yln_b, s.dpln, s.pool, s.B, Dc, od_param(c, m->yln_w),
				  OD_NEXTDIT_Y_NORM_EPS, 0));
	if (c->device != OD_DEVICE_CPU)
		for (int i = 0; i < m->n_tensors; i++)
			TRY(od_download(c, grads[i], g[i], (size_t)od_tensor_numel(m->tensors[i]) * sizeof(float)));
	TRY(od_sync(c));
out:
	gs_free(&s);
	free(g);
	free(host);
	free(dout);
	return rc;
}

int od_nextdit_loss_grad(struct od_nextdit *m, const struct od_nextdit_batch *b, float *loss, float **grads,
			 float *out)
{
	return od_nextdit_loss_grad_ex(m, b, NULL, loss, grads, out);
}
