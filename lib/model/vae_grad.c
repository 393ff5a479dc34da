/*
 * vae_grad.c: the AutoencoderKL's training forward, loss and backward
 * (model/vae_grad.h; doc/numerics.md §12).
 *
 * The forward mirrors vae.c call for call (the same kernels on the same
 * shapes, one picture at a time) and, when gradients are wanted, keeps what
 * each layer's backward reads in a record:
 *   conv       its input x                       (dx, dW, db: conv2d_backward)
 *   groupnorm  its input x                       (groupnorm_backward, SiLU fused)
 *   ResBlock   x, h1 = silu(norm1(x)), c1 = conv1(h1), h2 = silu(norm2(c1))
 *   attention  x, the tokens t = norm(x)ᵀ, q, k, v, the attention output a and
 *              its row statistics lse (attention_lse; attention_backward
 *              recomputes the probabilities from them)
 *   upsample   nothing (its backward sums 2×2 blocks)
 * The backward walks the records in reverse. Each takes the gradient of the
 * layer's output (and frees it), adds the weight gradients into the caller's
 * buffers and returns the gradient of the layer's input. The two residual
 * connections add the gradient that skips the block to the one through it.
 *
 * Memory for one picture at H×W with the small configuration (32, 64, 64, 64),
 * layers_per_block 1: about 30 activations of the first level's size
 * (32·H·W floats), 16 MB at 64², 64 MB at 128².
 */
#include "model/vae_grad.h"
#include "base/error.h"
#include "base/io.h"
#include "base/rng.h"
#include "formats/safetensors.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GN_EPS 1e-6f /* every GroupNorm of the SD3 VAE (numerics.md §4.1) */

static const int PAD1[4] = { 1, 1, 1, 1 }, PAD0[4] = { 0, 0, 0, 0 };
static const int PAD_DOWN[4] = { 0, 1, 0, 1 }; /* Downsample2D: pad right 1, bottom 1 (numerics.md §4.1) */

/* ------------------------------------------------------------------ parameters */

struct spec_list {
	struct od_vae_params *p;
	int cap;
};

static int collect(void *user, const char *name, int ndim, const int64_t *shape)
{
	struct spec_list *l = user;
	struct od_vae_params *p = l->p;
	if (p->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 128;
		const char **nn = realloc(p->names, (size_t)cap * sizeof *nn);
		if (nn)
			p->names = nn;
		int64_t *ne = realloc(p->numel, (size_t)cap * sizeof *ne);
		if (ne)
			p->numel = ne;
		float **nd = realloc(p->data, (size_t)cap * sizeof *nd);
		if (nd)
			p->data = nd;
		struct od_tensor *nv = realloc(p->views, (size_t)cap * sizeof *nv);
		if (nv)
			p->views = nv;
		if (!nn || !ne || !nd || !nv)
			return od_error(OD_ENOMEM, "out of memory");
		l->cap = cap;
	}
	int64_t n = 1;
	for (int d = 0; d < ndim; d++)
		n *= shape[d];
	const int i = p->n;
	p->names[i] = strdup(name);
	p->numel[i] = n;
	p->data[i] = calloc((size_t)(n ? n : 1), sizeof(float));
	p->n++;
	if (!p->names[i] || !p->data[i])
		return od_error(OD_ENOMEM, "out of memory for the float32 parameters");
	struct od_tensor *v = &p->views[i];
	memset(v, 0, sizeof *v);
	v->name = p->names[i];
	v->dtype = OD_F32;
	v->ndim = ndim;
	for (int d = 0; d < ndim; d++)
		v->shape[d] = shape[d];
	v->data = p->data[i];
	v->nbytes = (size_t)n * sizeof(float);
	return OD_OK;
}

/* Allocate zeroed buffers for every tensor the configuration implies. */
static int params_alloc(struct od_vae_params *p, const struct od_vae_config *cfg)
{
	memset(p, 0, sizeof *p);
	p->cfg = *cfg;
	struct spec_list l = { p, 0 };
	int rc = od_vae_spec(cfg, collect, &l);
	if (rc)
		od_vae_params_free(p);
	return rc;
}

void od_vae_params_free(struct od_vae_params *p)
{
	for (int i = 0; i < p->n; i++) {
		free((void *)p->names[i]);
		free(p->data[i]);
	}
	free(p->names);
	free(p->numel);
	free(p->data);
	free(p->views);
	memset(p, 0, sizeof *p);
}

int od_vae_params_init(struct od_vae_params *p, const struct od_vae *v)
{
	int rc = params_alloc(p, &v->cfg);
	if (rc)
		return rc;
	for (int i = 0; i < p->n; i++) {
		const struct od_tensor *t = od_component_find(&v->comp, p->names[i]);
		if (!t || od_tensor_numel(t) != p->numel[i] || !od_dtype_is_float(t->dtype)) {
			rc = od_error(OD_EMODEL, "'%s': tensor '%s' is missing or not float", v->comp.dir, p->names[i]);
			od_vae_params_free(p);
			return rc;
		}
		od_to_f32(p->data[i], t->data, t->dtype, (size_t)p->numel[i]);
	}
	return OD_OK;
}

int od_vae_params_init_random(struct od_vae_params *p, const struct od_vae_config *cfg, uint64_t seed)
{
	int rc = params_alloc(p, cfg);
	if (rc)
		return rc;
	struct od_mt19937 *g = malloc(sizeof *g);
	if (!g) {
		od_vae_params_free(p);
		return od_error(OD_ENOMEM, "out of memory");
	}
	od_mt_seed(g, seed);
	for (int i = 0; i < p->n; i++) {
		const struct od_tensor *v = &p->views[i];
		float *d = p->data[i];
		double bound;
		if (v->ndim >= 2) { /* Conv2d (Cout, Cin, kh, kw) or Linear (out, in): fan_in = numel / out */
			bound = 1.0 / sqrt((double)(p->numel[i] / v->shape[0]));
		} else if (i > 0 && p->views[i - 1].ndim >= 2) { /* the bias of the layer before */
			bound = 1.0 / sqrt((double)(p->numel[i - 1] / p->views[i - 1].shape[0]));
		} else { /* GroupNorm: weight 1, and its bias (which follows it) 0 */
			const size_t len = strlen(p->names[i]);
			const float val = len >= 7 && !strcmp(p->names[i] + len - 7, ".weight") ? 1.0f : 0.0f;
			for (int64_t k = 0; k < p->numel[i]; k++)
				d[k] = val;
			continue;
		}
		for (int64_t k = 0; k < p->numel[i]; k++) {
			double u = (double)(od_mt_next(g) >> 8) * 0x1p-24; /* [0, 1) */
			d[k] = (float)((2 * u - 1) * bound);
		}
	}
	free(g);
	return OD_OK;
}

int od_vae_params_find(const struct od_vae_params *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->names[i], name))
			return i;
	return -1;
}

int od_vae_params_save(const struct od_vae_params *p, json_t *config, const char *dir)
{
	char *cpath = od_path_join(dir, "config.json"), *wpath = od_path_join(dir, "diffusion_pytorch_model.safetensors");
	char *text = json_dumps(config, JSON_INDENT(2) | JSON_SORT_KEYS);
	struct od_st_writer *w = od_st_writer_new();
	struct od_out o;
	int rc = OD_OK;
	if (!cpath || !wpath || !text || !w) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < p->n && !rc; i++)
		rc = od_st_writer_add(w, p->names[i], OD_F32, p->views[i].ndim, p->views[i].shape, p->data[i]);
	if (!rc)
		rc = od_st_writer_meta(w, "format", "pt");
	if (rc)
		goto out;
	if ((rc = od_out_open(&o, wpath)))
		goto out;
	if ((rc = od_st_writer_write(w, &o, NULL, NULL)) || (rc = od_out_commit(&o))) {
		od_out_abort(&o);
		goto out;
	}
	if ((rc = od_out_open(&o, cpath)))
		goto out;
	if ((rc = od_out_write(&o, text, strlen(text))) || (rc = od_out_write(&o, "\n", 1)) || (rc = od_out_commit(&o)))
		od_out_abort(&o);
out:
	od_st_writer_free(w);
	free(text);
	free(cpath);
	free(wpath);
	return rc;
}

/* ------------------------------------------------------------------ forward with records */

enum kind { K_CONV, K_GN, K_RES, K_ATTN, K_UP };

struct rec {
	enum kind kind;
	int C, H, W;      /* the input's shape */
	int Co;           /* output channels (conv, ResBlock) */
	int stride, silu, need_dx;
	const int *pad;
	int w, b;         /* conv, groupnorm */
	int n1w, n1b, c1w, c1b, n2w, n2b, c2w, c2b, scw, scb; /* ResBlock (scw -1: identity shortcut) */
	int gw, gb, qw, qb, kw, kb, vw, vb, ow, ob;              /* attention */
	float *x, *h1, *c1, *h2, *t, *q, *k, *v, *a, *lse;       /* saved activations (NULL when freed) */
};

struct act {
	float *d;
	int C, H, W;
};

struct st {
	struct od_ctx *c;
	const struct od_vae_params *p;
	float **g;       /* gradients (NULL: forward only) */
	int save;
	int decoder_only; /* the batch's decoder_only: nothing flows back into z */
	struct rec *r;
	int nr, cap;
	float *zeros;    /* host zeros for clearing device buffers */
	size_t nzeros;
};

static size_t numel(const struct act *a)
{
	return (size_t)a->C * a->H * a->W;
}

/* Parameter index by printf-style name; OD_EMODEL when missing (a config/spec mismatch). */
static int idx(struct st *s, int *out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int idx(struct st *s, int *out, const char *fmt, ...)
{
	char name[192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	*out = od_vae_params_find(s->p, name);
	return *out < 0 ? od_error(OD_EMODEL, "vae: parameter '%s' is missing", name) : OD_OK;
}

static float *dalloc(struct st *s, size_t n)
{
	float *d = od_alloc(s->c, n ? n : 1);
	if (!d)
		od_error(OD_ENOMEM, "out of memory for a VAE activation of %zu floats", n);
	return d;
}

static void dfree(struct st *s, float **p)
{
	if (*p)
		od_free(s->c, *p);
	*p = NULL;
}

static int zero(struct st *s, float *d, size_t n)
{
	if (s->nzeros < n) {
		free(s->zeros);
		s->zeros = calloc(n, sizeof(float));
		s->nzeros = s->zeros ? n : 0;
		if (!s->zeros)
			return od_error(OD_ENOMEM, "out of memory");
	}
	return od_upload(s->c, d, s->zeros, n * sizeof(float));
}

static struct rec *push(struct st *s, enum kind kind, const struct act *in)
{
	if (s->nr == s->cap) {
		int cap = s->cap ? 2 * s->cap : 64;
		struct rec *r = realloc(s->r, (size_t)cap * sizeof *r);
		if (!r)
			return NULL;
		s->r = r;
		s->cap = cap;
	}
	struct rec *r = &s->r[s->nr++];
	memset(r, 0, sizeof *r);
	r->kind = kind;
	r->C = in->C, r->H = in->H, r->W = in->W;
	r->scw = r->scb = -1;
	return r;
}

static void rec_free(struct st *s, struct rec *r)
{
	float **all[] = { &r->x, &r->h1, &r->c1, &r->h2, &r->t, &r->q, &r->k, &r->v, &r->a, &r->lse };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		dfree(s, all[i]);
}

static const float *param(struct st *s, int i)
{
	return od_param(s->c, &s->p->views[i]);
}

/* y = conv(x) (weight "<prefix>.weight/.bias"); x is kept in a record or freed. */
static int f_conv(struct st *s, struct act *x, const char *prefix, int stride, const int *pad, int need_dx)
{
	int w, b, rc;
	if ((rc = idx(s, &w, "%s.weight", prefix)) || (rc = idx(s, &b, "%s.bias", prefix)))
		return rc;
	const struct od_tensor *tw = &s->p->views[w];
	const int kh = (int)tw->shape[2], kw = (int)tw->shape[3];
	struct act y = { NULL, (int)tw->shape[0], (x->H + pad[0] + pad[1] - kh) / stride + 1,
			 (x->W + pad[2] + pad[3] - kw) / stride + 1 };
	if (!(y.d = dalloc(s, numel(&y))))
		return OD_ENOMEM;
	if ((rc = od_conv2d(s->c, y.d, x->d, 1, x->C, x->H, x->W, tw, &s->p->views[b], stride, pad))) {
		dfree(s, &y.d);
		return rc;
	}
	if (s->save) {
		struct rec *r = push(s, K_CONV, x);
		if (!r) {
			dfree(s, &y.d);
			return od_error(OD_ENOMEM, "out of memory");
		}
		r->Co = y.C, r->stride = stride, r->pad = pad, r->w = w, r->b = b, r->need_dx = need_dx;
		r->x = x->d;
	} else {
		dfree(s, &x->d);
	}
	*x = y;
	return OD_OK;
}

/* GroupNorm(groups, 1e-6) "<prefix>", SiLU when silu, into a new buffer. */
static int f_gn(struct st *s, struct act *x, const char *prefix, int silu)
{
	int w, b, rc;
	if ((rc = idx(s, &w, "%s.weight", prefix)) || (rc = idx(s, &b, "%s.bias", prefix)))
		return rc;
	float *y = dalloc(s, numel(x));
	if (!y)
		return OD_ENOMEM;
	const float *wd = param(s, w), *bd = param(s, b);
	if (!wd || !bd || (rc = od_groupnorm(s->c, y, x->d, 1, x->C, (int64_t)x->H * x->W, s->p->cfg.groups, wd, bd,
					     GN_EPS, silu))) {
		dfree(s, &y);
		return rc ? rc : OD_ENOMEM;
	}
	if (s->save) {
		struct rec *r = push(s, K_GN, x);
		if (!r) {
			dfree(s, &y);
			return od_error(OD_ENOMEM, "out of memory");
		}
		r->w = w, r->b = b, r->silu = silu, r->x = x->d;
	} else {
		dfree(s, &x->d);
	}
	x->d = y;
	return OD_OK;
}

/* ResnetBlock2D (vae.c's resnet): out = shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))). */
static int f_res(struct st *s, struct act *x, const char *pf, int cout)
{
	struct rec r = { .kind = K_RES, .C = x->C, .H = x->H, .W = x->W, .Co = cout, .scw = -1, .scb = -1 };
	int rc;
	if ((rc = idx(s, &r.n1w, "%s.norm1.weight", pf)) || (rc = idx(s, &r.n1b, "%s.norm1.bias", pf)) ||
	    (rc = idx(s, &r.c1w, "%s.conv1.weight", pf)) || (rc = idx(s, &r.c1b, "%s.conv1.bias", pf)) ||
	    (rc = idx(s, &r.n2w, "%s.norm2.weight", pf)) || (rc = idx(s, &r.n2b, "%s.norm2.bias", pf)) ||
	    (rc = idx(s, &r.c2w, "%s.conv2.weight", pf)) || (rc = idx(s, &r.c2b, "%s.conv2.bias", pf)))
		return rc;
	if (x->C != cout &&
	    ((rc = idx(s, &r.scw, "%s.conv_shortcut.weight", pf)) || (rc = idx(s, &r.scb, "%s.conv_shortcut.bias", pf))))
		return rc;
	struct od_ctx *c = s->c;
	const struct od_vae_params *p = s->p;
	const int64_t HW = (int64_t)x->H * x->W;
	const size_t nin = (size_t)x->C * HW, nout = (size_t)cout * HW;
	float *h1 = NULL, *c1 = NULL, *h2 = NULL, *o = NULL, *sc = NULL;
	rc = OD_ENOMEM;
	if (!(h1 = dalloc(s, nin)) || !(c1 = dalloc(s, nout)) || !(h2 = dalloc(s, nout)) || !(o = dalloc(s, nout)))
		goto fail;
	const float *n1w = param(s, r.n1w), *n1b = param(s, r.n1b), *n2w = param(s, r.n2w), *n2b = param(s, r.n2b);
	if (!n1w || !n1b || !n2w || !n2b)
		goto fail;
	if ((rc = od_groupnorm(c, h1, x->d, 1, x->C, HW, p->cfg.groups, n1w, n1b, GN_EPS, 1)) ||
	    (rc = od_conv2d(c, c1, h1, 1, x->C, x->H, x->W, &p->views[r.c1w], &p->views[r.c1b], 1, PAD1)) ||
	    (rc = od_groupnorm(c, h2, c1, 1, cout, HW, p->cfg.groups, n2w, n2b, GN_EPS, 1)) ||
	    (rc = od_conv2d(c, o, h2, 1, cout, x->H, x->W, &p->views[r.c2w], &p->views[r.c2b], 1, PAD1)))
		goto fail;
	if (r.scw >= 0) {
		rc = OD_ENOMEM;
		if (!(sc = dalloc(s, nout)))
			goto fail;
		if ((rc = od_conv2d(c, sc, x->d, 1, x->C, x->H, x->W, &p->views[r.scw], &p->views[r.scb], 1, PAD0)))
			goto fail;
	}
	/* output_tensor = input_tensor + hidden_states */
	if ((rc = od_binary(c, o, sc ? sc : x->d, o, (int64_t)nout, OD_OP_ADD)))
		goto fail;
	dfree(s, &sc);
	if (s->save) {
		struct rec *rr = push(s, K_RES, x);
		rc = OD_ENOMEM;
		if (!rr)
			goto fail;
		r.x = x->d, r.h1 = h1, r.c1 = c1, r.h2 = h2;
		*rr = r;
	} else {
		dfree(s, &x->d);
		dfree(s, &h1);
		dfree(s, &c1);
		dfree(s, &h2);
	}
	x->d = o;
	x->C = cout;
	return OD_OK;
fail:
	dfree(s, &h1), dfree(s, &c1), dfree(s, &h2), dfree(s, &o), dfree(s, &sc);
	return rc;
}

static struct od_attention_desc attn_desc(int C, int64_t L)
{
	struct od_attention_desc d = {
		.batch = 1, .q_len = (int)L, .kv_len = (int)L, .q_heads = 1, .kv_heads = 1, .head_dim = C,
		.q_stride = C, .kv_stride = C, .o_stride = C, .kv_map = OD_KV_GROUPED,
		.scale = (float)(1.0 / sqrt((double)C)), /* SDPA's default 1/√head_dim, as vae.c */
	};
	return d;
}

/* The mid-block Attention (vae.c's attention): one head over the H·W tokens, + x. */
static int f_attn(struct st *s, struct act *x, const char *pf)
{
	struct rec r = { .kind = K_ATTN, .C = x->C, .H = x->H, .W = x->W, .scw = -1, .scb = -1 };
	int rc;
	if ((rc = idx(s, &r.gw, "%s.group_norm.weight", pf)) || (rc = idx(s, &r.gb, "%s.group_norm.bias", pf)) ||
	    (rc = idx(s, &r.qw, "%s.to_q.weight", pf)) || (rc = idx(s, &r.qb, "%s.to_q.bias", pf)) ||
	    (rc = idx(s, &r.kw, "%s.to_k.weight", pf)) || (rc = idx(s, &r.kb, "%s.to_k.bias", pf)) ||
	    (rc = idx(s, &r.vw, "%s.to_v.weight", pf)) || (rc = idx(s, &r.vb, "%s.to_v.bias", pf)) ||
	    (rc = idx(s, &r.ow, "%s.to_out.0.weight", pf)) || (rc = idx(s, &r.ob, "%s.to_out.0.bias", pf)))
		return rc;
	struct od_ctx *c = s->c;
	const struct od_vae_params *p = s->p;
	const int C = x->C;
	const int64_t L = (int64_t)x->H * x->W;
	const size_t n = (size_t)L * C;
	float *g = NULL, *t = NULL, *q = NULL, *k = NULL, *v = NULL, *a = NULL, *lse = NULL, *o = NULL;
	rc = OD_ENOMEM;
	if (!(g = dalloc(s, n)) || !(t = dalloc(s, n)) || !(q = dalloc(s, n)) || !(k = dalloc(s, n)) ||
	    !(v = dalloc(s, n)) || !(a = dalloc(s, n)) || !(lse = dalloc(s, (size_t)L)) || !(o = dalloc(s, n)))
		goto fail;
	const float *gw = param(s, r.gw), *gb = param(s, r.gb);
	if (!gw || !gb)
		goto fail;
	struct od_attention_desc d = attn_desc(C, L);
	if ((rc = od_groupnorm(c, g, x->d, 1, C, L, p->cfg.groups, gw, gb, GN_EPS, 0)) ||
	    (rc = od_transpose(c, t, g, 1, C, L)) || /* (C, HW) -> (HW, C) */
	    (rc = od_linear(c, q, t, L, &p->views[r.qw], &p->views[r.qb])) ||
	    (rc = od_linear(c, k, t, L, &p->views[r.kw], &p->views[r.kb])) ||
	    (rc = od_linear(c, v, t, L, &p->views[r.vw], &p->views[r.vb])) ||
	    (rc = od_attention_lse(c, a, lse, q, k, v, &d)) ||
	    (rc = od_linear(c, o, a, L, &p->views[r.ow], &p->views[r.ob])) ||
	    (rc = od_transpose(c, g, o, 1, L, C)) || /* back to (C, HW) */
	    (rc = od_binary(c, o, g, x->d, (int64_t)n, OD_OP_ADD))) /* hidden_states + residual */
		goto fail;
	dfree(s, &g);
	if (s->save) {
		struct rec *rr = push(s, K_ATTN, x);
		rc = OD_ENOMEM;
		if (!rr)
			goto fail;
		r.x = x->d, r.t = t, r.q = q, r.k = k, r.v = v, r.a = a, r.lse = lse;
		*rr = r;
	} else {
		dfree(s, &x->d);
		dfree(s, &t), dfree(s, &q), dfree(s, &k), dfree(s, &v), dfree(s, &a), dfree(s, &lse);
	}
	x->d = o;
	return OD_OK;
fail:
	dfree(s, &g), dfree(s, &t), dfree(s, &q), dfree(s, &k), dfree(s, &v), dfree(s, &a), dfree(s, &lse);
	dfree(s, &o);
	return rc;
}

static int f_mid(struct st *s, struct act *x, const char *pf)
{
	char p[160];
	int rc;
	snprintf(p, sizeof p, "%s.resnets.0", pf);
	if ((rc = f_res(s, x, p, x->C)))
		return rc;
	if (s->p->cfg.mid_attention) {
		snprintf(p, sizeof p, "%s.attentions.0", pf);
		if ((rc = f_attn(s, x, p)))
			return rc;
	}
	snprintf(p, sizeof p, "%s.resnets.1", pf);
	return f_res(s, x, p, x->C);
}

/* Encoder: x (3, H, W) -> moments (2L, H/ds, W/ds), through quant_conv when the config has one. */
static int f_encoder(struct st *s, struct act *a)
{
	const struct od_vae_config *cf = &s->p->cfg;
	char p[160];
	int rc;
	if ((rc = f_conv(s, a, "encoder.conv_in", 1, PAD1, 0)))
		return rc;
	for (int i = 0; i < cf->n_blocks; i++) {
		for (int j = 0; j < cf->layers_per_block; j++) {
			snprintf(p, sizeof p, "encoder.down_blocks.%d.resnets.%d", i, j);
			if ((rc = f_res(s, a, p, cf->block_out[i])))
				return rc;
		}
		if (i < cf->n_blocks - 1) {
			snprintf(p, sizeof p, "encoder.down_blocks.%d.downsamplers.0.conv", i);
			if ((rc = f_conv(s, a, p, 2, PAD_DOWN, 1)))
				return rc;
		}
	}
	if ((rc = f_mid(s, a, "encoder.mid_block")) || (rc = f_gn(s, a, "encoder.conv_norm_out", 1)) ||
	    (rc = f_conv(s, a, "encoder.conv_out", 1, PAD1, 1)))
		return rc;
	return cf->quant_conv ? f_conv(s, a, "quant_conv", 1, PAD0, 1) : OD_OK;
}

/* Decoder: z (L, h, w) -> (3, h·ds, w·ds), post_quant_conv first when the config has one. */
static int f_decoder(struct st *s, struct act *a)
{
	const struct od_vae_config *cf = &s->p->cfg;
	const int n = cf->n_blocks;
	char p[160];
	int rc;
	/* the decoder's first layer passes a gradient back to z only when the encoder learns */
	const int dz = !s->decoder_only;
	if ((cf->post_quant_conv && (rc = f_conv(s, a, "post_quant_conv", 1, PAD0, dz))) ||
	    (rc = f_conv(s, a, "decoder.conv_in", 1, PAD1, cf->post_quant_conv || dz)) ||
	    (rc = f_mid(s, a, "decoder.mid_block")))
		return rc;
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < cf->layers_per_block + 1; j++) {
			snprintf(p, sizeof p, "decoder.up_blocks.%d.resnets.%d", i, j);
			if ((rc = f_res(s, a, p, cf->block_out[n - 1 - i])))
				return rc;
		}
		if (i < n - 1) {
			/* Upsample2D: nearest ×2, then a 3×3 conv */
			struct act u = { NULL, a->C, 2 * a->H, 2 * a->W };
			if (!(u.d = dalloc(s, numel(&u))))
				return OD_ENOMEM;
			if ((rc = od_upsample2x(s->c, u.d, a->d, a->C, a->H, a->W))) {
				dfree(s, &u.d);
				return rc;
			}
			if (s->save && !push(s, K_UP, a)) {
				dfree(s, &u.d);
				return od_error(OD_ENOMEM, "out of memory");
			}
			dfree(s, &a->d);
			*a = u;
			snprintf(p, sizeof p, "decoder.up_blocks.%d.upsamplers.0.conv", i);
			if ((rc = f_conv(s, a, p, 1, PAD1, 1)))
				return rc;
		}
	}
	if ((rc = f_gn(s, a, "decoder.conv_norm_out", 1)))
		return rc;
	return f_conv(s, a, "decoder.conv_out", 1, PAD1, 1);
}

/* ------------------------------------------------------------------ backward */

/* Each takes *dy (the gradient of the record's output; freed) and leaves the
 * gradient of its input in *dy (NULL when the record does not need it). */

static int b_conv(struct st *s, struct rec *r, float **dy)
{
	float *dx = NULL;
	if (r->need_dx && !(dx = dalloc(s, (size_t)r->C * r->H * r->W)))
		return OD_ENOMEM;
	int rc = od_conv2d_backward(s->c, dx, s->g[r->w], s->g[r->b], *dy, r->x, 1, r->C, r->H, r->W, &s->p->views[r->w],
				    r->stride, r->pad);
	dfree(s, dy);
	dfree(s, &r->x);
	*dy = dx;
	if (rc)
		dfree(s, dy);
	return rc;
}

static int b_gn(struct st *s, struct rec *r, float **dy)
{
	const float *w = param(s, r->w), *b = param(s, r->b);
	if (!w || !b)
		return OD_ENOMEM;
	int rc = od_groupnorm_backward(s->c, *dy, s->g[r->w], s->g[r->b], *dy, r->x, 1, r->C, (int64_t)r->H * r->W,
				       s->p->cfg.groups, w, b, GN_EPS, r->silu);
	dfree(s, &r->x);
	return rc;
}

static int b_res(struct st *s, struct rec *r, float **dy)
{
	struct od_ctx *c = s->c;
	const struct od_vae_params *p = s->p;
	const int64_t HW = (int64_t)r->H * r->W;
	const size_t nin = (size_t)r->C * HW, nout = (size_t)r->Co * HW;
	float *dh2 = NULL, *dh1 = NULL, *dsc = NULL;
	const float *n1w = param(s, r->n1w), *n1b = param(s, r->n1b), *n2w = param(s, r->n2w), *n2b = param(s, r->n2b);
	int rc = OD_ENOMEM;
	if (!n1w || !n1b || !n2w || !n2b || !(dh2 = dalloc(s, nout)) || !(dh1 = dalloc(s, nin)))
		goto out;
	/* conv2, then norm2 + SiLU (in place: dc1 in dh2), conv1, norm1 + SiLU (in place: dx in dh1) */
	if ((rc = od_conv2d_backward(c, dh2, s->g[r->c2w], s->g[r->c2b], *dy, r->h2, 1, r->Co, r->H, r->W,
				     &p->views[r->c2w], 1, PAD1)) ||
	    (rc = od_groupnorm_backward(c, dh2, s->g[r->n2w], s->g[r->n2b], dh2, r->c1, 1, r->Co, HW, p->cfg.groups,
					n2w, n2b, GN_EPS, 1)) ||
	    (rc = od_conv2d_backward(c, dh1, s->g[r->c1w], s->g[r->c1b], dh2, r->h1, 1, r->C, r->H, r->W,
				     &p->views[r->c1w], 1, PAD1)) ||
	    (rc = od_groupnorm_backward(c, dh1, s->g[r->n1w], s->g[r->n1b], dh1, r->x, 1, r->C, HW, p->cfg.groups, n1w,
					n1b, GN_EPS, 1)))
		goto out;
	/* the shortcut's share: through conv_shortcut, or dy itself */
	if (r->scw >= 0) {
		rc = OD_ENOMEM;
		if (!(dsc = dalloc(s, nin)))
			goto out;
		if ((rc = od_conv2d_backward(c, dsc, s->g[r->scw], s->g[r->scb], *dy, r->x, 1, r->C, r->H, r->W,
					     &p->views[r->scw], 1, PAD0)))
			goto out;
	}
	rc = od_binary(c, dh1, dh1, dsc ? dsc : *dy, (int64_t)nin, OD_OP_ADD);
out:
	dfree(s, &dh2), dfree(s, &dsc), dfree(s, dy);
	rec_free(s, r);
	*dy = dh1;
	if (rc)
		dfree(s, dy);
	return rc;
}

static int b_attn(struct st *s, struct rec *r, float **dy)
{
	struct od_ctx *c = s->c;
	const struct od_vae_params *p = s->p;
	const int C = r->C;
	const int64_t L = (int64_t)r->H * r->W;
	const size_t n = (size_t)L * C;
	float *dO = NULL, *da = NULL, *dq = NULL, *dk = NULL, *dv = NULL;
	const float *gw = param(s, r->gw), *gb = param(s, r->gb);
	struct od_attention_desc d = attn_desc(C, L);
	int rc = OD_ENOMEM;
	if (!gw || !gb || !(dO = dalloc(s, n)) || !(da = dalloc(s, n)) || !(dq = dalloc(s, n)) || !(dk = dalloc(s, n)) ||
	    !(dv = dalloc(s, n)))
		goto out;
	/* o = to_out(a) as (HW, C); the residual's output is oᵀ + x */
	if ((rc = od_transpose(c, dO, *dy, 1, C, L)) ||
	    (rc = od_linear_backward_w(c, s->g[r->ow], s->g[r->ob], dO, r->a, L, C, C)) ||
	    (rc = od_linear_backward_x(c, da, dO, L, &p->views[r->ow], 0)) || (rc = zero(s, dq, n)) ||
	    (rc = zero(s, dk, n)) || (rc = zero(s, dv, n)) ||
	    (rc = od_attention_backward(c, dq, dk, dv, da, r->q, r->k, r->v, r->a, r->lse, &d)) ||
	    (rc = od_linear_backward_w(c, s->g[r->qw], s->g[r->qb], dq, r->t, L, C, C)) ||
	    (rc = od_linear_backward_w(c, s->g[r->kw], s->g[r->kb], dk, r->t, L, C, C)) ||
	    (rc = od_linear_backward_w(c, s->g[r->vw], s->g[r->vb], dv, r->t, L, C, C)) ||
	    /* dt = dq·Wq + dk·Wk + dv·Wv, into da */
	    (rc = od_linear_backward_x(c, da, dq, L, &p->views[r->qw], 0)) ||
	    (rc = od_linear_backward_x(c, da, dk, L, &p->views[r->kw], 1)) ||
	    (rc = od_linear_backward_x(c, da, dv, L, &p->views[r->vw], 1)) ||
	    (rc = od_transpose(c, dO, da, 1, L, C)) || /* (HW, C) -> (C, HW) */
	    (rc = od_groupnorm_backward(c, dO, s->g[r->gw], s->g[r->gb], dO, r->x, 1, C, L, p->cfg.groups, gw, gb,
					GN_EPS, 0)) ||
	    (rc = od_binary(c, dO, dO, *dy, (int64_t)n, OD_OP_ADD)))
		goto out;
out:
	dfree(s, &da), dfree(s, &dq), dfree(s, &dk), dfree(s, &dv), dfree(s, dy);
	rec_free(s, r);
	*dy = dO;
	if (rc)
		dfree(s, dy);
	return rc;
}

static int b_up(struct st *s, struct rec *r, float **dy)
{
	float *dx = dalloc(s, (size_t)r->C * r->H * r->W);
	int rc = dx ? od_upsample2x_backward(s->c, dx, *dy, r->C, r->H, r->W) : OD_ENOMEM;
	dfree(s, dy);
	*dy = dx;
	if (rc)
		dfree(s, dy);
	return rc;
}

/* Records [from, to) in reverse. */
static int backward(struct st *s, int from, int to, float **dy)
{
	for (int i = to - 1; i >= from; i--) {
		struct rec *r = &s->r[i];
		int rc;
		switch (r->kind) {
		case K_CONV: rc = b_conv(s, r, dy); break;
		case K_GN: rc = b_gn(s, r, dy); break;
		case K_RES: rc = b_res(s, r, dy); break;
		case K_ATTN: rc = b_attn(s, r, dy); break;
		default: rc = b_up(s, r, dy); break;
		}
		if (rc)
			return rc;
	}
	return OD_OK;
}

/* ------------------------------------------------------------------ the loss */

static void st_release(struct st *s)
{
	for (int i = 0; i < s->nr; i++)
		rec_free(s, &s->r[i]);
	s->nr = 0;
}

static int check_batch(const struct od_vae_params *p, int H, int W)
{
	const struct od_vae_config *cf = &p->cfg;
	if (cf->in_channels != cf->out_channels)
		return od_error(OD_EMODEL, "vae: %d input channels but %d output channels cannot reconstruct the input",
				cf->in_channels, cf->out_channels);
	if (H <= 0 || W <= 0 || H % cf->downscale || W % cf->downscale)
		return od_error(OD_EINVAL, "vae: picture size %dx%d is not a positive multiple of %d", W, H, cf->downscale);
	return OD_OK;
}

int od_vae_loss_grad(struct od_ctx *c, const struct od_vae_params *p, const struct od_vae_batch *b, double beta,
		     struct od_vae_loss *out, float **grads)
{
	const struct od_vae_config *cf = &p->cfg;
	int rc = check_batch(p, b->H, b->W);
	if (rc)
		return rc;
	if (b->B < 1)
		return od_error(OD_EINVAL, "vae: a batch of %d pictures", b->B);
	if (grads && c->device != OD_DEVICE_CPU)
		return od_error(OD_EDEVICE, "vae: training runs on the CPU only");
	const int L = cf->latent_channels, C = cf->in_channels, h = b->H / cf->downscale, w = b->W / cf->downscale;
	const size_t npix = (size_t)C * b->H * b->W, nlat = (size_t)L * h * w;
	/* per element: ∂recon/∂x̂ = sign(x̂ − x)/(B·C·H·W) (torch's sign(0) = 0); the KL weight β/(B·L·h·w) */
	const float inv = (float)(1.0 / ((double)b->B * (double)npix)), kappa = (float)(beta / ((double)b->B * nlat));
	/* decoder_only: the encoder's forward keeps nothing, as it is not walked back */
	const int learn_encoder = grads && !b->decoder_only;
	struct st s = { .c = c, .p = p, .g = grads, .save = learn_encoder, .decoder_only = b->decoder_only };
	float *hx = malloc(npix * sizeof *hx), *hk = malloc(nlat * sizeof *hk);
	float *mom = NULL, *eps = NULL, *kl = NULL, *dmom = NULL;
	struct act a = { 0 };
	double rsum = 0, ksum = 0;
	if (!hx || !hk) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto out;
	}
	for (int bi = 0; bi < b->B && !rc; bi++) {
		/* encoder */
		a = (struct act){ NULL, C, b->H, b->W };
		rc = OD_ENOMEM;
		if (!(a.d = dalloc(&s, npix)))
			break;
		if ((rc = od_upload(c, a.d, b->x + bi * npix, npix * sizeof(float))) || (rc = f_encoder(&s, &a)))
			break;
		const int enc_end = s.nr;
		mom = a.d;
		a.d = NULL;
		if (b->moments && (rc = od_download(c, b->moments + bi * 2 * nlat, mom, 2 * nlat * sizeof(float))))
			break;
		/* the posterior sample */
		rc = OD_ENOMEM;
		if (!(eps = dalloc(&s, nlat)) || !(kl = dalloc(&s, nlat)) || !(a.d = dalloc(&s, nlat)))
			break;
		a.C = L, a.H = h, a.W = w;
		if ((rc = od_upload(c, eps, b->eps + bi * nlat, nlat * sizeof(float))) ||
		    (rc = od_posterior(c, a.d, kl, mom, eps, 1, L, (int64_t)h * w)) ||
		    (rc = od_download(c, hk, kl, nlat * sizeof(float))))
			break;
		for (size_t i = 0; i < nlat; i++)
			ksum += hk[i];
		/* decoder and the reconstruction loss */
		s.save = grads != NULL;
		if ((rc = f_decoder(&s, &a)) || (rc = od_download(c, hx, a.d, npix * sizeof(float))))
			break;
		if (b->recon)
			memcpy(b->recon + bi * npix, hx, npix * sizeof(float));
		const float *x = b->x + bi * npix;
		for (size_t i = 0; i < npix; i++) {
			float d = hx[i] - x[i];
			rsum += fabs((double)d);
			hx[i] = d > 0 ? inv : d < 0 ? -inv : 0.0f;
		}
		if (grads) {
			float *dy = a.d; /* x̂'s buffer becomes its gradient's */
			a.d = NULL;
			rc = OD_ENOMEM;
			if ((rc = od_upload(c, dy, hx, npix * sizeof(float))) || (rc = backward(&s, enc_end, s.nr, &dy))) {
				dfree(&s, &dy);
				break;
			}
			if (!learn_encoder) {
				dfree(&s, &dy); /* NULL: the decoder's first layer returned no dz */
				goto next;
			}
			rc = OD_ENOMEM;
			if (!(dmom = dalloc(&s, 2 * nlat))) {
				dfree(&s, &dy);
				break;
			}
			rc = od_posterior_backward(c, dmom, dy, mom, eps, 1, L, (int64_t)h * w, kappa);
			dfree(&s, &dy);
			if (rc || (rc = backward(&s, 0, enc_end, &dmom)))
				break;
			dfree(&s, &dmom); /* the encoder's conv_in returns no dx: NULL already */
		}
	next:
		s.save = learn_encoder;
		dfree(&s, &a.d), dfree(&s, &mom), dfree(&s, &eps), dfree(&s, &kl);
		st_release(&s);
	}
	if (!rc) {
		out->recon = rsum / ((double)b->B * npix);
		out->kl = ksum / ((double)b->B * nlat);
		out->loss = out->recon + beta * out->kl;
	}
out:
	dfree(&s, &a.d), dfree(&s, &mom), dfree(&s, &eps), dfree(&s, &kl), dfree(&s, &dmom);
	st_release(&s);
	free(s.r);
	free(s.zeros);
	free(hx);
	free(hk);
	return rc;
}

int od_vae_param_is_decoder(const char *name)
{
	return !strncmp(name, "decoder.", 8) || !strncmp(name, "post_quant_conv.", 16);
}

int od_vae_params_encode(struct od_ctx *c, const struct od_vae_params *p, const float *x, int H, int W,
			 float *moments)
{
	int rc = check_batch(p, H, W);
	if (rc)
		return rc;
	struct st s = { .c = c, .p = p };
	struct act a = { NULL, p->cfg.in_channels, H, W };
	if (!(a.d = dalloc(&s, numel(&a))))
		return OD_ENOMEM;
	if (!(rc = od_upload(c, a.d, x, numel(&a) * sizeof(float))) && !(rc = f_encoder(&s, &a)))
		rc = od_download(c, moments, a.d, numel(&a) * sizeof(float));
	dfree(&s, &a.d);
	return rc;
}
