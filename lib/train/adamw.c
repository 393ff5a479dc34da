/*
 * adamw.c: AdamW as torch 1.13 performs it, clipping, the learning-rate
 * schedule and the EMA (adamw.h, numerics.md §11.4).
 *
 * Built with -ffp-contract=off (Makefile): the only fused operations are the
 * two fmaf() calls torch's kernels make (exp_avg.mul_(β1).add_(g, alpha=1−β1)
 * and exp_avg_sq.mul_(β2).addcmul_(g, g, value=1−β2) compile to one fused
 * multiply-add each); everything else is rounded operation by operation.
 */
#include "train/adamw.h"

#include "base/error.h"
#include "base/parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int od_adamw_init(struct od_adamw *a, const struct od_adamw_opts *o, int n, const int64_t *numel)
{
	memset(a, 0, sizeof *a);
	a->o = *o;
	a->n = n;
	a->numel = numel;
	a->m = calloc((size_t)n, sizeof *a->m);
	a->v = calloc((size_t)n, sizeof *a->v);
	if (!a->m || !a->v)
		goto oom;
	for (int i = 0; i < n; i++) {
		a->m[i] = calloc((size_t)numel[i], sizeof(float));
		a->v[i] = calloc((size_t)numel[i], sizeof(float));
		if (!a->m[i] || !a->v[i])
			goto oom;
	}
	return OD_OK;
oom:
	od_adamw_free(a);
	return od_error(OD_ENOMEM, "out of memory for the optimiser state");
}

void od_adamw_free(struct od_adamw *a)
{
	for (int i = 0; a->m && i < a->n; i++)
		free(a->m[i]);
	for (int i = 0; a->v && i < a->n; i++)
		free(a->v[i]);
	free(a->m);
	free(a->v);
	memset(a, 0, sizeof *a);
}

void od_adamw_scalars(const struct od_adamw_opts *o, int64_t k, double lr, struct od_adamw_scalars *s)
{
	/* torch forms these as Python floats (double) and the float32 kernels
	 * round each once (golden README §11.4). */
	double bc1 = 1.0 - pow(o->beta1, (double)k);
	double bc2 = 1.0 - pow(o->beta2, (double)k);
	s->decay = (float)(1.0 - lr * o->weight_decay);
	s->beta1 = (float)o->beta1;
	s->one_minus_beta1 = (float)(1.0 - o->beta1);
	s->beta2 = (float)o->beta2;
	s->one_minus_beta2 = (float)(1.0 - o->beta2);
	s->eps = (float)o->eps;
	s->neg_step = (float)(-(lr / bc1));
	s->bc2_sqrt = (float)sqrt(bc2);
}

static inline void element(const struct od_adamw_scalars *s, float *p, float *m, float *v, float g)
{
	float pp = *p * s->decay;                 /* param.mul_(1 − lr·wd) */
	float mb = *m * s->beta1;
	float mm = fmaf(g, s->one_minus_beta1, mb); /* exp_avg.mul_(β1).add_(g, alpha=1 − β1) */
	float gb = s->one_minus_beta2 * g;
	float vb = *v * s->beta2;
	float vv = fmaf(gb, g, vb);               /* exp_avg_sq.mul_(β2).addcmul_(g, g, value=1 − β2) */
	float r = sqrtf(vv);
	float q = r / s->bc2_sqrt;
	float d = q + s->eps;                     /* (exp_avg_sq.sqrt() / bc2_sqrt).add_(eps) */
	float num = s->neg_step * mm;
	float st = num / d;
	*p = pp + st;                             /* param.addcdiv_(exp_avg, denom, value=−step_size) */
	*m = mm;
	*v = vv;
}

void od_adamw_element(const struct od_adamw_scalars *s, float *p, float *m, float *v, float g)
{
	element(s, p, m, v, g);
}

struct step_job {
	const struct od_adamw_scalars *s;
	float *p, *m, *v;
	const float *g;
};

static void step_range(void *arg, int64_t begin, int64_t end)
{
	const struct step_job *j = arg;
	for (int64_t i = begin; i < end; i++)
		element(j->s, &j->p[i], &j->m[i], &j->v[i], j->g[i]);
}

void od_adamw_step(struct od_adamw *a, float *const *params, const float *const *grads, double lr)
{
	struct od_adamw_scalars s;
	a->step++;
	od_adamw_scalars(&a->o, a->step, lr, &s);
	for (int i = 0; i < a->n; i++) {
		if (!grads[i])
			continue; /* frozen */
		struct step_job j = { .s = &s, .p = params[i], .m = a->m[i], .v = a->v[i], .g = grads[i] };
		if (a->numel[i] < 65536)
			step_range(&j, 0, a->numel[i]);
		else
			od_parallel_for(a->numel[i], step_range, &j);
	}
}

/* ---------------------------------------------------------------- clipping */

#define NORM_CHUNK 65536

struct norm_job {
	const float *g;
	int64_t n;
	double *part; /* one sum per chunk: chunk c at part[c - first] */
	int64_t first;
};

static void norm_range(void *arg, int64_t begin, int64_t end)
{
	const struct norm_job *j = arg;
	for (int64_t c = begin; c < end; c++) {
		int64_t lo = c * NORM_CHUNK, hi = lo + NORM_CHUNK < j->n ? lo + NORM_CHUNK : j->n;
		double s = 0;
		for (int64_t i = lo; i < hi; i++)
			s += (double)j->g[i] * (double)j->g[i];
		j->part[c - j->first] = s;
	}
}

double od_grad_norm(int n, const int64_t *numel, const float *const *grads)
{
	double total = 0;
	for (int i = 0; i < n; i++) {
		if (!grads[i])
			continue; /* frozen */
		int64_t chunks = (numel[i] + NORM_CHUNK - 1) / NORM_CHUNK;
		double *part = chunks > 1 ? malloc((size_t)chunks * sizeof *part) : NULL;
		struct norm_job j = { .g = grads[i], .n = numel[i], .part = part };
		if (part) {
			od_parallel_for(chunks, norm_range, &j);
			for (int64_t c = 0; c < chunks; c++)
				total += part[c];
			free(part);
		} else {
			/* one chunk (or no memory for the partial sums): the same chunk
			 * sums, one after the other, added in the same order */
			double one;
			j.part = &one;
			for (int64_t c = 0; c < chunks; c++) {
				j.first = c;
				norm_range(&j, c, c + 1);
				total += one;
			}
		}
	}
	return sqrt(total);
}

struct scale_job {
	float *g;
	float f;
};

static void scale_range(void *arg, int64_t begin, int64_t end)
{
	const struct scale_job *j = arg;
	for (int64_t i = begin; i < end; i++)
		j->g[i] = j->g[i] * j->f;
}

float od_grad_clip(int n, const int64_t *numel, float *const *grads, double norm, double max_norm)
{
	if (max_norm <= 0 || !(norm > max_norm))
		return 1.0f;
	/* clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1 */
	float f = (float)(max_norm / (norm + 1e-6));
	if (f >= 1.0f)
		return 1.0f;
	for (int i = 0; i < n; i++) {
		if (!grads[i])
			continue; /* frozen */
		struct scale_job j = { .g = grads[i], .f = f };
		if (numel[i] < 65536)
			scale_range(&j, 0, numel[i]);
		else
			od_parallel_for(numel[i], scale_range, &j);
	}
	return f;
}

/* ---------------------------------------------------------------- schedule */

double od_lr_at(const struct od_lr_schedule *s, int64_t k)
{
	if (s->warmup > 0 && k <= s->warmup)
		return s->lr * (double)k / (double)s->warmup;
	if (s->shape == OD_LR_COSINE && s->total > s->warmup) {
		double x = (double)(k - s->warmup) / (double)(s->total - s->warmup);
		if (x > 1)
			x = 1;
		return s->min_lr + (s->lr - s->min_lr) * 0.5 * (1.0 + cos(3.141592653589793 * x));
	}
	return s->lr;
}

int od_lr_shape_parse(const char *name)
{
	if (!strcmp(name, "constant"))
		return OD_LR_CONSTANT;
	if (!strcmp(name, "cosine"))
		return OD_LR_COSINE;
	return -1;
}

const char *od_lr_shape_name(enum od_lr_shape s)
{
	return s == OD_LR_COSINE ? "cosine" : "constant";
}

/* ---------------------------------------------------------------- EMA */

struct ema_job {
	float *e;
	const float *p;
	float c;
};

static void ema_range(void *arg, int64_t begin, int64_t end)
{
	const struct ema_job *j = arg;
	for (int64_t i = begin; i < end; i++) {
		float d = j->e[i] - j->p[i];
		float s = j->c * d;
		j->e[i] = j->e[i] - s;
	}
}

void od_ema_update(int n, const int64_t *numel, float *const *ema, const float *const *params, double decay)
{
	const float c = (float)(1.0 - decay);
	for (int i = 0; i < n; i++) {
		struct ema_job j = { .e = ema[i], .p = params[i], .c = c };
		if (numel[i] < 65536)
			ema_range(&j, 0, numel[i]);
		else
			od_parallel_for(numel[i], ema_range, &j);
	}
}
