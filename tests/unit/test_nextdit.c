/*
 * test_nextdit: the NextDiT forward pass against the golden transformer cases
 * (tests/golden/README.md §4) on the tiny checkpoint: both outputs (soft-cap 30
 * and upstream's fp32 path without it) for all 5 cases, and every stored
 * intermediate (patchify, embeddings, adaLN input, RoPE table, block outputs,
 * final layer) with the tolerances of numerics.md §10.1.
 */
#include "od.h"
#include "model/nextdit.h"
#include "model/rope.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct saved {
	char name[64];
	float *data;
	int64_t n;
};

struct traces {
	struct saved s[64];
	int n;
};

static void on_trace(void *user, const char *name, const float *data, int ndim, const int64_t *shape)
{
	struct traces *t = user;
	if (t->n == 64)
		return;
	int64_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= shape[i];
	struct saved *s = &t->s[t->n++];
	snprintf(s->name, sizeof s->name, "%s", name);
	s->data = malloc((size_t)n * sizeof *s->data);
	memcpy(s->data, data, (size_t)n * sizeof *s->data);
	s->n = n;
}

static struct saved *find(struct traces *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->s[i].name, name))
			return &t->s[i];
	return NULL;
}

static void clear(struct traces *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->s[i].data);
	t->n = 0;
}

static float *tensor_f32(const struct od_safetensors *st, const char *name, int64_t *n)
{
	const struct od_tensor *t = od_st_find(st, name);
	if (!t)
		return NULL;
	*n = od_tensor_numel(t);
	float *v = malloc((size_t)*n * sizeof *v);
	if (t->dtype == OD_I64) {
		for (int64_t i = 0; i < *n; i++) {
			int64_t x;
			memcpy(&x, (const char *)t->data + 8 * i, 8);
			v[i] = (float)x;
		}
	} else {
		od_to_f32(v, t->data, t->dtype, (size_t)*n);
	}
	return v;
}

/* Compare a traced tensor with a golden one; per-frame traces (t_emb, c) of
 * width A are expanded to the golden per-token layout (B, L, A) with T tokens
 * per frame. */
static void check(struct traces *tr, const struct od_safetensors *st, const char *trace_name, const char *golden,
		  double atol, const char *cs, int T, int A)
{
	struct saved *s = find(tr, trace_name);
	int64_t n;
	float *e = tensor_f32(st, golden, &n);
	char what[160];
	snprintf(what, sizeof what, "%s: %s (atol %g)", cs, golden, atol);
	if (!s || !e) {
		ok(0, "%s (missing %s)", what, s ? "golden tensor" : "trace");
		free(e);
		return;
	}
	float *a = s->data, *expanded = NULL;
	int64_t na = s->n;
	if (T) {
		int64_t G = s->n / A;
		expanded = malloc((size_t)(G * T * A) * sizeof *expanded);
		for (int64_t g = 0; g < G; g++)
			for (int t = 0; t < T; t++)
				memcpy(expanded + (g * T + t) * A, s->data + g * A, (size_t)A * sizeof(float));
		a = expanded;
		na = G * T * A;
	}
	if (na != n)
		ok(0, "%s: %lld values, expected %lld", what, (long long)na, (long long)n);
	else
		ok_close(a, e, (size_t)n, atol, 0, what);
	free(expanded);
	free(e);
}

int main(void)
{
	const char *model = getenv("OD_MODEL"), *golden = getenv("OD_GOLDEN");
	if (!model || !golden) {
		printf("1..0 # SKIP OD_MODEL/OD_GOLDEN not set (run through make check)\n");
		return 0;
	}
	struct od_ctx *ctx;
	if (od_ctx_create(&ctx, OD_DEVICE_CPU, 2)) {
		printf("Bail out! %s\n", od_errmsg());
		return 1;
	}
	struct od_nextdit m;
	if (od_nextdit_open(&m, ctx, model)) {
		printf("Bail out! %s\n", od_errmsg());
		return 1;
	}
	ok(m.cfg.hidden == 96 && m.cfg.adaln == 96 && m.cfg.ffn_hidden == 256 && m.cfg.head_dim == 24,
	   "tiny config: D 96, A 96, FFN 256, head_dim 24");
	/* torch's timestep frequencies (numerics.md §2.3): float32 exp of the
	 * float32 argument as SLEEF computes it; 15 of the 128 are one ulp away
	 * from the correctly rounded exp */
	int differ = 0, within = 1;
	for (int k = 0; k < 128; k++) {
		float arg = ((float)-log(10000.0) * (float)k) / 128.0f, cr = (float)exp((double)arg);
		differ += m.t_omega[k] != cr;
		within &= fabsf(m.t_omega[k] - cr) <= 1.2e-7f * cr;
	}
	ok(differ == 15 && within, "timestep ω_k: %d of 128 differ from the correctly rounded exp by one ulp (torch: 15)",
	   differ);
	static const char *cases[] = { "t2i_1f", "cond_2f", "mv_4f", "nonsquare_8x12", "batch2" };
	for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
		char path[1024];
		snprintf(path, sizeof path, "%s/cases/transformer/%s.safetensors", golden, cases[ci]);
		struct od_safetensors st;
		if (od_st_open(&st, path)) {
			ok(0, "open %s: %s", path, od_errmsg());
			continue;
		}
		const struct od_tensor *ts = od_st_find(&st, "samples"), *te = od_st_find(&st, "encoder_hidden_states");
		int B = (int)ts->shape[0], F = (int)ts->shape[1], h = (int)ts->shape[3], w = (int)ts->shape[4];
		int S = (int)te->shape[1];
		int64_t n;
		float *x = tensor_f32(&st, "samples", &n), *out = malloc((size_t)n * sizeof *out);
		float *t = tensor_f32(&st, "timesteps_per_frame", &n);
		float *emb = tensor_f32(&st, "encoder_hidden_states", &n);
		float *maskf = tensor_f32(&st, "encoder_attention_mask", &n);
		uint8_t *mask = malloc((size_t)n);
		for (int64_t i = 0; i < n; i++)
			mask[i] = maskf[i] != 0;
		struct od_nextdit_text txt;
		int rc = od_nextdit_text_prepare(&m, &txt, B, S, emb, mask);
		ok(!rc, "%s: text side prepared %s", cases[ci], rc ? od_errmsg() : "");
		const int T = (h / 2) * (w / 2);
		for (int cap = 0; cap < 2; cap++) {
			struct traces tr = { .n = 0 };
			struct od_nextdit_trace trace = { on_trace, &tr };
			m.softcap = cap ? 30.0f : 0.0f;
			const char *pre = cap ? "softcap" : "nocap";
			char cs[96];
			snprintf(cs, sizeof cs, "%s %s", cases[ci], pre);
			rc = od_nextdit_forward(&m, &txt, F, h, w, x, t, out, &trace);
			ok(!rc, "%s: forward %s", cs, rc ? od_errmsg() : "");
			int64_t no;
			float *e = tensor_f32(&st, cap ? "out_softcap" : "out_nocap", &no);
			char what[160];
			snprintf(what, sizeof what, "%s: %s (atol 2e-4)", cs, cap ? "out_softcap" : "out_nocap");
			ok_close(out, e, (size_t)no, 2e-4, 0, what);
			free(e);
			if (cap == 0) { /* the shared intermediates, once */
				const int A = m.cfg.adaln;
				check(&tr, &st, "tokens", "tokens", 0, cs, 0, 0);
				check(&tr, &st, "x_embed", "x_embed", 1e-4, cs, 0, 0);
				check(&tr, &st, "t_emb", "t_emb", 1e-4, cs, T, A);
				check(&tr, &st, "cap_pool", "cap_pool", 1e-4, cs, 0, 0);
				check(&tr, &st, "y_emb", "y_emb", 1e-4, cs, 0, 0);
				check(&tr, &st, "c", "c", 1e-4, cs, T, A);
				check(&tr, &st, "rope", "rope", 1e-6, cs, 0, 0);
				/* the per-token timestep reproduces torch's float32 mean exactly */
				struct saved *tt = find(&tr, "t_tok");
				float *gt = tensor_f32(&st, "t_tok", &no);
				int exact = tt != NULL;
				for (int64_t g = 0; exact && g < (int64_t)B * F; g++)
					for (int k = 0; k < T; k++)
						exact &= tt->data[g] == gt[g * T + k];
				ok(exact, "%s: t_tok equals torch's float32 mean bit for bit", cs);
				free(gt);
			}
			char gname[64];
			snprintf(gname, sizeof gname, "%s.block0_attn_out", pre);
			check(&tr, &st, "block0_attn_out", gname, 2e-4, cs, 0, 0);
			snprintf(gname, sizeof gname, "%s.block0_ffn_out", pre);
			check(&tr, &st, "block0_ffn_out", gname, 2e-4, cs, 0, 0);
			for (int i = 0; i < m.cfg.depth; i++) {
				char tname[32];
				snprintf(tname, sizeof tname, "block%d_out", i);
				snprintf(gname, sizeof gname, "%s.block%d_out", pre, i);
				check(&tr, &st, tname, gname, 2e-4, cs, 0, 0);
			}
			snprintf(gname, sizeof gname, "%s.final_out", pre);
			check(&tr, &st, "final_out", gname, 2e-4, cs, 0, 0);
			clear(&tr);
		}
		m.softcap = 30.0f;
		od_nextdit_text_free(&m, &txt);
		free(x), free(out), free(t), free(emb), free(maskf), free(mask);
		od_st_close(&st);
	}
	/* sizes the RoPE tables cannot hold are refused (numerics.md §2.5.2) */
	ok(od_nextdit_check_size(&m.cfg, 129, 8, 8) == OD_EFORMAT, "129 frames exceed rotary_max_length_t 128");
	ok(od_nextdit_check_size(&m.cfg, 128, 8, 8) == OD_OK, "128 frames fit");
	ok(od_nextdit_check_size(&m.cfg, 1, 8, 258) == OD_EFORMAT, "129 patch columns exceed rotary_max_length 128");
	ok(od_nextdit_check_size(&m.cfg, 1, 256, 256) == OD_OK, "a 256×256 latent (2048² image) fits");
	ok(od_nextdit_check_size(&m.cfg, 1, 8, 9) == OD_EFORMAT, "odd latent width refused");
	od_nextdit_close(&m);
	od_ctx_destroy(ctx);
	return tap_done();
}
