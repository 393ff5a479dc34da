/*
 * trainer.c: a training run, one step at a time (trainer.h).
 *
 * The order of everything that touches a generator or a weight is fixed here
 * and nowhere else, which is what makes a resumed run equal to an
 * uninterrupted one byte for byte: the data generator draws the batch, the
 * noise generator draws dropout, σ and ε, and the update is a pure function of
 * the gradient, the moments, the step and the schedule.
 */
#include "train/trainer.h"

#include "base/error.h"
#include "base/io.h"
#include "formats/frame.h"
#include "formats/safetensors.h"
#include "model/nextdit.h"
#include "model/t5.h"
#include "text/t5_tokenizer.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- settings */

void od_train_settings_default(struct od_train_settings *s)
{
	memset(s, 0, sizeof *s);
	s->batch = 1;
	s->lr = 1e-4;
	s->schedule = OD_LR_CONSTANT;
	s->adamw = (struct od_adamw_opts){ .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01 };
	s->cfg_dropout = 0.1;
	s->clean_t = 100;
	s->softcap = 1;
}

void od_train_settings_free(struct od_train_settings *s)
{
	free(s->base);
	free(s->config);
	free(s->empty_text);
	s->base = s->config = s->empty_text = NULL;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *od_train_settings_json(const struct od_train_settings *s)
{
	json_t *j = json_object();
	if (!j)
		return NULL;
	json_object_set_new(j, "batch", json_integer(s->batch));
	json_object_set_new(j, "lr", json_real(s->lr));
	json_object_set_new(j, "min_lr", json_real(s->min_lr));
	json_object_set_new(j, "warmup", json_integer(s->warmup));
	json_object_set_new(j, "schedule", json_string(od_lr_shape_name(s->schedule)));
	json_object_set_new(j, "beta1", json_real(s->adamw.beta1));
	json_object_set_new(j, "beta2", json_real(s->adamw.beta2));
	json_object_set_new(j, "eps", json_real(s->adamw.eps));
	json_object_set_new(j, "weight_decay", json_real(s->adamw.weight_decay));
	json_object_set_new(j, "clip", json_real(s->clip));
	json_object_set_new(j, "ema", json_real(s->ema));
	json_object_set_new(j, "cfg_dropout", json_real(s->cfg_dropout));
	json_object_set_new(j, "clean_frames", json_real(s->clean_frames));
	json_object_set_new(j, "clean_t", json_real(s->clean_t));
	json_object_set_new(j, "seed", json_integer((json_int_t)s->seed));
	json_object_set_new(j, "softcap", json_boolean(s->softcap));
	json_object_set_new(j, "base", str_or_null(s->base));
	json_object_set_new(j, "config", str_or_null(s->config));
	json_object_set_new(j, "empty_text", str_or_null(s->empty_text));
	return j;
}

static int get_num(json_t *j, const char *key, double lo, double hi, double *out, const char *label)
{
	json_t *v = json_object_get(j, key);
	if (!json_is_number(v))
		return od_error(OD_EFORMAT, "'%s': settings: '%s' is missing or not a number", label, key);
	double x = json_number_value(v);
	if (!isfinite(x) || x < lo || x > hi)
		return od_error(OD_EFORMAT, "'%s': settings: '%s' is %g, outside %g..%g", label, key, x, lo, hi);
	*out = x;
	return OD_OK;
}

static int get_str(json_t *j, const char *key, char **out, const char *label)
{
	json_t *v = json_object_get(j, key);
	if (!v || json_is_null(v)) {
		*out = NULL;
		return OD_OK;
	}
	if (!json_is_string(v))
		return od_error(OD_EFORMAT, "'%s': settings: '%s' is not a string", label, key);
	if (!(*out = strdup(json_string_value(v))))
		return od_error(OD_ENOMEM, "out of memory");
	return OD_OK;
}

int od_train_settings_from_json(json_t *j, struct od_train_settings *s, const char *label)
{
	od_train_settings_default(s);
	double x;
	int rc;
	if ((rc = get_num(j, "batch", 1, 1 << 20, &x, label)))
		return rc;
	s->batch = (int)x;
	if ((rc = get_num(j, "lr", 0, 1e30, &s->lr, label)) || (rc = get_num(j, "min_lr", 0, 1e30, &s->min_lr, label)))
		return rc;
	if ((rc = get_num(j, "warmup", 0, 1e15, &x, label)))
		return rc;
	s->warmup = (int64_t)x;
	const char *sh = json_string_value(json_object_get(j, "schedule"));
	int shape = sh ? od_lr_shape_parse(sh) : -1;
	if (shape < 0)
		return od_error(OD_EFORMAT, "'%s': settings: 'schedule' is not constant or cosine", label);
	s->schedule = (enum od_lr_shape)shape;
	if ((rc = get_num(j, "beta1", 0, 1, &s->adamw.beta1, label)) || (rc = get_num(j, "beta2", 0, 1, &s->adamw.beta2, label)) ||
	    (rc = get_num(j, "eps", 0, 1, &s->adamw.eps, label)) ||
	    (rc = get_num(j, "weight_decay", 0, 1e30, &s->adamw.weight_decay, label)) ||
	    (rc = get_num(j, "clip", 0, 1e30, &s->clip, label)) || (rc = get_num(j, "ema", 0, 1, &s->ema, label)) ||
	    (rc = get_num(j, "cfg_dropout", 0, 1, &s->cfg_dropout, label)))
		return rc;
	/* runs begun before clean conditions existed have neither key: they had none */
	if (json_object_get(j, "clean_frames") &&
	    ((rc = get_num(j, "clean_frames", 0, 1, &s->clean_frames, label)) ||
	     (rc = get_num(j, "clean_t", 0, 1000, &s->clean_t, label))))
		return rc;
	json_t *seed = json_object_get(j, "seed");
	if (!json_is_integer(seed) || json_integer_value(seed) < 0)
		return od_error(OD_EFORMAT, "'%s': settings: 'seed' is not a non-negative integer", label);
	s->seed = (uint64_t)json_integer_value(seed);
	json_t *sc = json_object_get(j, "softcap");
	if (!json_is_boolean(sc))
		return od_error(OD_EFORMAT, "'%s': settings: 'softcap' is not true or false", label);
	s->softcap = json_is_true(sc);
	if ((rc = get_str(j, "base", &s->base, label)) || (rc = get_str(j, "config", &s->config, label)) ||
	    (rc = get_str(j, "empty_text", &s->empty_text, label))) {
		od_train_settings_free(s);
		return rc;
	}
	return OD_OK;
}

static int streq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The first explicitly given setting that differs from the run's. */
static int compare_given(const struct od_train_settings *run, const struct od_train_settings *g, unsigned given,
			 const char *label)
{
#define DIFF(bit, cond, what, ...)                                                                                    \
	if ((given & (bit)) && (cond))                                                                                \
		return od_error(OD_EINVAL, "'%s': the run was started with " what " (resume without the option, or start " \
				"a new run)", label, __VA_ARGS__);
	DIFF(OD_TRAIN_GIVEN_BATCH, run->batch != g->batch, "--batch %d, not %d", run->batch, g->batch)
	DIFF(OD_TRAIN_GIVEN_LR, run->lr != g->lr, "--lr %g, not %g", run->lr, g->lr)
	DIFF(OD_TRAIN_GIVEN_MIN_LR, run->min_lr != g->min_lr, "--min-lr %g, not %g", run->min_lr, g->min_lr)
	DIFF(OD_TRAIN_GIVEN_WARMUP, run->warmup != g->warmup, "--warmup %lld, not %lld", (long long)run->warmup,
	     (long long)g->warmup)
	DIFF(OD_TRAIN_GIVEN_SCHEDULE, run->schedule != g->schedule, "--schedule %s, not %s", od_lr_shape_name(run->schedule),
	     od_lr_shape_name(g->schedule))
	DIFF(OD_TRAIN_GIVEN_ADAMW,
	     run->adamw.beta1 != g->adamw.beta1 || run->adamw.beta2 != g->adamw.beta2 || run->adamw.eps != g->adamw.eps ||
		     run->adamw.weight_decay != g->adamw.weight_decay,
	     "AdamW betas %g,%g, eps %g and weight decay %g%s", run->adamw.beta1, run->adamw.beta2, run->adamw.eps,
	     run->adamw.weight_decay, ", not the ones given")
	DIFF(OD_TRAIN_GIVEN_CLIP, run->clip != g->clip, "--clip %g, not %g", run->clip, g->clip)
	DIFF(OD_TRAIN_GIVEN_EMA, run->ema != g->ema, "--ema %g, not %g", run->ema, g->ema)
	DIFF(OD_TRAIN_GIVEN_DROPOUT, run->cfg_dropout != g->cfg_dropout, "--cfg-dropout %g, not %g", run->cfg_dropout,
	     g->cfg_dropout)
	DIFF(OD_TRAIN_GIVEN_CLEAN, run->clean_frames != g->clean_frames, "--clean-frames %g, not %g", run->clean_frames,
	     g->clean_frames)
	DIFF(OD_TRAIN_GIVEN_CLEAN_T, run->clean_t != g->clean_t, "--clean-t %g, not %g", run->clean_t, g->clean_t)
	DIFF(OD_TRAIN_GIVEN_SEED, run->seed != g->seed, "--seed %llu, not %llu", (unsigned long long)run->seed,
	     (unsigned long long)g->seed)
	DIFF(OD_TRAIN_GIVEN_SOFTCAP, run->softcap != g->softcap, "%s, not %s", run->softcap ? "the soft-cap" : "--no-softcap",
	     g->softcap ? "the soft-cap" : "--no-softcap")
	DIFF(OD_TRAIN_GIVEN_BASE, !streq(run->base, g->base), "the base model '%s', not '%s'",
	     run->base ? run->base : "(none)", g->base ? g->base : "(none)")
	DIFF(OD_TRAIN_GIVEN_CONFIG, !streq(run->config, g->config), "--config '%s', not '%s'",
	     run->config ? run->config : "(none)", g->config ? g->config : "(none)")
	DIFF(OD_TRAIN_GIVEN_EMPTY, !streq(run->empty_text, g->empty_text), "the empty prompt from '%s', not '%s'",
	     run->empty_text ? run->empty_text : "(none)", g->empty_text ? g->empty_text : "(none)")
#undef DIFF
	return OD_OK;
}

/* ---------------------------------------------------------------- the empty prompt */

int od_train_empty_text(struct od_ctx *ctx, const char *model_dir, float **emb, uint8_t **mask, int *S, int *D)
{
	*emb = NULL;
	*mask = NULL;
	char *tokdir = od_path_join(model_dir, "tokenizer");
	if (!tokdir)
		return od_error(OD_ENOMEM, "out of memory");
	struct od_t5_tokenizer tok;
	int rc = od_t5_tokenizer_load(&tok, tokdir);
	free(tokdir);
	if (rc)
		return rc;
	struct od_t5_tokens tk = { 0 };
	int32_t ids[OD_T5_MAX_LENGTH];
	uint8_t m[OD_T5_MAX_LENGTH];
	int cut;
	rc = od_t5_tokenize(&tok, "", 0, &tk);
	if (!rc)
		od_t5_row(&tok, &tk, OD_T5_MAX_LENGTH, ids, m, &cut);
	od_t5_tokens_free(&tk);
	od_t5_tokenizer_free(&tok);
	if (rc)
		return rc;
	struct od_t5 *t5;
	if ((rc = od_t5_open(&t5, ctx, model_dir)))
		return rc;
	*D = t5->cfg.d_model;
	*S = OD_T5_MAX_LENGTH;
	*emb = malloc((size_t)OD_T5_MAX_LENGTH * *D * sizeof **emb);
	*mask = malloc(OD_T5_MAX_LENGTH);
	if (!*emb || !*mask)
		rc = od_error(OD_ENOMEM, "out of memory");
	else
		rc = od_t5_encode(t5, 1, OD_T5_MAX_LENGTH, ids, m, *emb, NULL);
	od_t5_close(t5);
	if (!rc)
		memcpy(*mask, m, OD_T5_MAX_LENGTH);
	if (rc) {
		free(*emb);
		free(*mask);
		*emb = NULL;
		*mask = NULL;
	}
	return rc;
}

int od_train_empty_text_file(const char *path, float **emb, uint8_t **mask, int *S, int *D)
{
	*emb = NULL;
	*mask = NULL;
	struct od_reader r;
	int rc = od_reader_open(&r, path);
	if (rc)
		return rc;
	struct od_frame f;
	for (;;) {
		rc = od_reader_next(&r, &f);
		if (rc <= 0)
			break;
		if (f.kind == OD_KIND_TEXT && f.data && f.mask && f.ndim == 2)
			break;
		od_frame_free(&f);
	}
	od_reader_close(&r);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return od_error(OD_EFORMAT, "'%s': no text frame (make the empty prompt with od-tag --raw '')", path);
	*S = (int)f.shape[0];
	*D = (int)f.shape[1];
	*emb = malloc((size_t)*S * *D * sizeof **emb);
	*mask = malloc((size_t)*S);
	if (!*emb || !*mask) {
		rc = od_error(OD_ENOMEM, "out of memory");
	} else if (!(rc = od_frame_to_f32(&f, *emb))) {
		memcpy(*mask, f.mask, (size_t)*S);
	}
	od_frame_free(&f);
	if (rc) {
		free(*emb);
		free(*mask);
		*emb = NULL;
		*mask = NULL;
	}
	return rc;
}

/* ---------------------------------------------------------------- a fresh model */

struct spec_list {
	struct od_st_writer *w;
	int rc;
};

static int add_zero(void *user, const char *name, int ndim, const int64_t *shape)
{
	struct spec_list *l = user;
	l->rc = od_st_writer_add(l->w, name, OD_BF16, ndim, shape, NULL);
	return l->rc;
}

static int fill_zero(void *user, const char *name, enum od_dtype dtype, size_t first, size_t count, void *buf)
{
	(void)user, (void)name, (void)first;
	memset(buf, 0, count * od_dtype_size(dtype));
	return OD_OK;
}

/* dir/transformer with the config and zero weights (BF16: the smallest file
 * the model can open); the weights are replaced by the initialisation. */
static int write_zero_model(const char *config_text, size_t config_len, const char *dir)
{
	char *sub = od_path_join(dir, "transformer");
	char *cfg = sub ? od_path_join(sub, "config.json") : NULL;
	char *wts = sub ? od_path_join(sub, "diffusion_pytorch_model.safetensors") : NULL;
	int rc = OD_OK;
	struct od_out o;
	if (!sub || !cfg || !wts)
		rc = od_error(OD_ENOMEM, "out of memory");
	else if ((mkdir(dir, 0777) != 0 && errno != EEXIST) || (mkdir(sub, 0777) != 0 && errno != EEXIST))
		rc = od_error(OD_EIO, "'%s': cannot create: %s", sub, strerror(errno));
	else if (!(rc = od_out_open(&o, cfg))) {
		if ((rc = od_out_write(&o, config_text, config_len)))
			od_out_abort(&o);
		else
			rc = od_out_commit(&o);
	}
	json_t *j = NULL;
	struct od_nextdit_config c;
	if (!rc && !(rc = od_json_load(cfg, &j)))
		rc = od_nextdit_config_parse(j, &c, cfg);
	json_decref(j);
	struct spec_list l = { .w = od_st_writer_new() };
	if (!rc && !l.w)
		rc = od_error(OD_ENOMEM, "out of memory");
	if (!rc && (od_nextdit_spec(&c, add_zero, &l) || l.rc))
		rc = l.rc ? l.rc : od_error(OD_EFAIL, "cannot list the model's tensors");
	if (!rc && !(rc = od_out_open(&o, wts))) {
		if ((rc = od_st_writer_write(l.w, &o, fill_zero, NULL)))
			od_out_abort(&o);
		else
			rc = od_out_commit(&o);
	}
	od_st_writer_free(l.w);
	free(sub);
	free(cfg);
	free(wts);
	return rc;
}

/* Open the model of model_dir, or a fresh one of config (text) initialised
 * from seed, and take float32 copies of its weights. */
static int open_model(struct od_trainer *tr, const char *model_dir, const char *config_text, size_t config_len,
		      uint64_t seed, const char *scratch_dir)
{
	int rc;
	/* a fresh model goes through a scratch folder of zero weights: a temporary
	 * folder (base/io.h), removed however the process ends */
	struct od_out_dir scratch = { 0 };
	if (config_text) {
		char *path = od_path_join(scratch_dir ? scratch_dir : ".", "init");
		if (!path)
			return od_error(OD_ENOMEM, "out of memory");
		rc = od_dir_open(&scratch, path);
		free(path);
		if (rc)
			return rc;
		rc = write_zero_model(config_text, config_len, scratch.tmp);
		model_dir = scratch.tmp;
	} else {
		rc = OD_OK;
	}
	if (!rc && !(rc = od_nextdit_open(&tr->m, tr->ctx, model_dir)))
		tr->m_open = 1;
	if (!rc && !(rc = od_nextdit_params_init(&tr->p, &tr->m)))
		tr->p_init = 1;
	if (!rc && config_text)
		rc = od_nextdit_params_init_random(&tr->p, seed);
	/* the weights are copies now; the mapped zeros can go */
	od_dir_abort(&scratch);
	if (rc)
		return rc;
	const int n = tr->p.n;
	tr->shapes = calloc((size_t)n, sizeof *tr->shapes);
	tr->grads = calloc((size_t)n, sizeof *tr->grads);
	if (!tr->shapes || !tr->grads)
		return od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		tr->shapes[i] = tr->p.views[i];
		tr->shapes[i].name = tr->p.names[i];
		if (od_tensor_numel(&tr->shapes[i]) != tr->p.numel[i])
			return od_error(OD_EFAIL, "'%s': the view's shape does not match its %lld values", tr->p.names[i],
					(long long)tr->p.numel[i]);
		if (!(tr->grads[i] = calloc((size_t)tr->p.numel[i], sizeof(float))))
			return od_error(OD_ENOMEM, "out of memory for the gradients");
	}
	tr->tt = (struct od_train_tensors){ .n = n, .names = tr->p.names, .shapes = tr->shapes };
	return OD_OK;
}

static int read_config(struct od_trainer *tr, const char *path)
{
	int rc = od_read_file(path, (size_t)16 << 20, &tr->config_text, &tr->config_len);
	return rc;
}

/* A transformer config the user gives: parsed and checked under its own name
 * before anything is built from it. */
static int read_new_config(struct od_trainer *tr, const char *path)
{
	json_t *j;
	struct od_nextdit_config c;
	int rc = od_json_load(path, &j);
	if (rc)
		return rc;
	rc = od_nextdit_config_parse(j, &c, path);
	json_decref(j);
	return rc ? rc : read_config(tr, path);
}

/* ---------------------------------------------------------------- open, resume */

static int open_common(struct od_trainer *tr, char *const *data, int n_data)
{
	struct od_train_settings *s = &tr->s;
	tr->m.softcap = s->softcap ? 30.0f : 0.0f;
	struct od_train_data_opts o = { .channels = tr->m.cfg.in_channels, .text_dim = tr->m.cfg.caption_channels,
					.cfg = &tr->m.cfg };
	int rc = od_train_data_open(&tr->data, data, n_data, &o);
	if (rc)
		return rc;
	if (s->cfg_dropout > 0) {
		int D = 0;
		if (s->empty_text && strcmp(s->empty_text, "text_encoder")) {
			rc = od_train_empty_text_file(s->empty_text, &tr->empty, &tr->empty_mask, &tr->empty_S, &D);
		} else if (s->base) {
			rc = od_train_empty_text(tr->ctx, s->base, &tr->empty, &tr->empty_mask, &tr->empty_S, &D);
			if (!rc && !s->empty_text && !(s->empty_text = strdup("text_encoder")))
				rc = od_error(OD_ENOMEM, "out of memory");
		} else {
			return od_error(OD_EINVAL, "caption dropout needs the empty prompt's states: give a base model with "
					"a text encoder, or --empty-text FILE (od-tag --raw '' makes one)");
		}
		if (rc)
			return rc;
		if (D != tr->m.cfg.caption_channels)
			return od_error(OD_EFORMAT, "'%s': the empty prompt is %d wide, the model takes %d",
					s->empty_text ? s->empty_text : "text_encoder", D, tr->m.cfg.caption_channels);
	}
	return OD_OK;
}

int od_trainer_open(struct od_trainer *tr, struct od_ctx *ctx, const char *model_dir, struct od_train_settings *s,
		    int64_t steps, char *const *data, int n_data, const char *scratch_dir)
{
	memset(tr, 0, sizeof *tr);
	tr->s = *s;
	memset(s, 0, sizeof *s); /* the strings are ours now */
	tr->ctx = ctx;
	tr->steps = steps;
	int rc;
	if (tr->s.config) {
		if ((rc = read_new_config(tr, tr->s.config)))
			return rc;
		rc = open_model(tr, NULL, tr->config_text, tr->config_len, tr->s.seed, scratch_dir);
	} else {
		char *cfg = od_path_join(model_dir, "transformer/config.json");
		rc = cfg ? read_config(tr, cfg) : od_error(OD_ENOMEM, "out of memory");
		free(cfg);
		if (!rc)
			rc = open_model(tr, model_dir, NULL, 0, 0, NULL);
	}
	if (rc)
		return rc;
	if (!(tr->model_dir = strdup(model_dir ? model_dir : tr->s.config)))
		return od_error(OD_ENOMEM, "out of memory");
	if ((rc = od_adamw_init(&tr->opt, &tr->s.adamw, tr->p.n, tr->p.numel)))
		return rc;
	if (tr->s.ema > 0) {
		if (!(tr->ema = calloc((size_t)tr->p.n, sizeof *tr->ema)))
			return od_error(OD_ENOMEM, "out of memory");
		for (int i = 0; i < tr->p.n; i++) {
			if (!(tr->ema[i] = malloc((size_t)tr->p.numel[i] * sizeof(float))))
				return od_error(OD_ENOMEM, "out of memory for the EMA");
			memcpy(tr->ema[i], tr->p.data[i], (size_t)tr->p.numel[i] * sizeof(float));
		}
	}
	od_train_rng_seed(&tr->noise, tr->s.seed);
	od_train_rng_seed(&tr->drng, tr->s.seed + 1);
	return open_common(tr, data, n_data);
}

/* The data JSON of the run: the files with their weights, job counts and sizes. */
static json_t *data_json(const struct od_train_data *d)
{
	json_t *a = json_array();
	for (int i = 0; a && i < d->n_src; i++) {
		const struct od_train_source *s = &d->src[i];
		json_t *o = json_object();
		char *real = realpath(s->path, NULL); /* a resumed run finds its files from any folder */
		json_object_set_new(o, "path", json_string(real ? real : s->path));
		free(real);
		json_object_set_new(o, "weight", json_real(s->weight));
		json_object_set_new(o, "jobs", json_integer(s->n_jobs));
		json_object_set_new(o, "bytes", json_integer(s->bytes));
		json_array_append_new(a, o);
	}
	return a;
}

/* The data given on resume must be the run's: same files in order (weights,
 * job counts and sizes). */
static int check_data(const struct od_train_data *d, json_t *saved, const char *label)
{
	if ((int)json_array_size(saved) != d->n_src)
		return od_error(OD_EINVAL, "'%s': the run trained on %zu data file%s, not %d", label, json_array_size(saved),
				json_array_size(saved) == 1 ? "" : "s", d->n_src);
	for (int i = 0; i < d->n_src; i++) {
		json_t *o = json_array_get(saved, (size_t)i);
		const struct od_train_source *s = &d->src[i];
		const char *path = json_string_value(json_object_get(o, "path"));
		if (json_number_value(json_object_get(o, "weight")) != s->weight)
			return od_error(OD_EINVAL, "'%s': data file %d had the weight %g, not %g", label, i + 1,
					json_number_value(json_object_get(o, "weight")), s->weight);
		if (json_integer_value(json_object_get(o, "jobs")) != s->n_jobs ||
		    json_integer_value(json_object_get(o, "bytes")) != s->bytes)
			return od_error(OD_EFORMAT, "'%s': the data changed since the run started ('%s': %lld jobs in %lld bytes "
					"then, %d jobs in %lld bytes now)", label, s->path,
					(long long)json_integer_value(json_object_get(o, "jobs")),
					(long long)json_integer_value(json_object_get(o, "bytes")), s->n_jobs, (long long)s->bytes);
		(void)path;
	}
	return OD_OK;
}

int od_trainer_resume(struct od_trainer *tr, struct od_ctx *ctx, const char *ckpt, const struct od_train_settings *s_given,
		      unsigned given, int64_t steps, char *const *data, int n_data)
{
	memset(tr, 0, sizeof *tr);
	tr->ctx = ctx;
	char *state_path = od_path_join(ckpt, OD_TRAIN_STATE_FILE), *cfg = od_path_join(ckpt, "transformer/config.json");
	tr->model_dir = strdup(ckpt);
	int rc = state_path && cfg && tr->model_dir ? OD_OK : od_error(OD_ENOMEM, "out of memory");
	if (!rc)
		rc = read_config(tr, cfg);
	free(cfg);
	if (!rc)
		rc = open_model(tr, ckpt, NULL, 0, 0, NULL);
	struct od_train_state st;
	memset(&st, 0, sizeof st);
	if (!rc)
		rc = od_train_state_read(state_path, &tr->tt, &st);
	if (!rc)
		rc = od_train_settings_from_json(st.settings, &tr->s, state_path);
	if (!rc && s_given)
		rc = compare_given(&tr->s, s_given, given, ckpt);
	if (rc)
		goto out;
	json_t *js = json_object_get(st.settings, "steps");
	tr->steps = steps > 0 ? steps : json_is_integer(js) ? (int64_t)json_integer_value(js) : st.step;
	if (tr->steps < st.step) {
		rc = od_error(OD_EINVAL, "'%s': the run is at step %lld, past --steps %lld", ckpt, (long long)st.step,
			      (long long)tr->steps);
		goto out;
	}
	if ((tr->s.ema > 0) != (st.ema != NULL)) {
		rc = od_error(OD_EFORMAT, "'%s': the settings %s an EMA but the state %s one", state_path,
			      tr->s.ema > 0 ? "keep" : "keep no", st.ema ? "has" : "has no");
		goto out;
	}
	/* the optimiser takes the state's moments */
	tr->opt = (struct od_adamw){ .o = tr->s.adamw, .n = tr->p.n, .numel = tr->p.numel, .step = st.step,
				     .m = st.m, .v = st.v };
	tr->ema = st.ema;
	st.m = st.v = st.ema = NULL;
	od_train_rng_import(&tr->noise, st.rng_noise);
	od_train_rng_import(&tr->drng, st.rng_data);
	tr->step = st.step;
	/* the data: the files given, or those the run names */
	char **paths = NULL;
	int n_paths = n_data;
	if (n_data <= 0) {
		n_paths = (int)json_array_size(st.data);
		paths = calloc((size_t)n_paths + 1, sizeof *paths);
		for (int i = 0; paths && i < n_paths; i++) {
			json_t *o = json_array_get(st.data, (size_t)i);
			const char *p = json_string_value(json_object_get(o, "path"));
			char buf[PATH_MAX + 64];
			snprintf(buf, sizeof buf, "%s:%.17g", p ? p : "", json_number_value(json_object_get(o, "weight")));
			paths[i] = strdup(buf);
		}
		if (!paths) {
			rc = od_error(OD_ENOMEM, "out of memory");
			goto out;
		}
	}
	rc = open_common(tr, paths ? paths : data, n_paths);
	if (!rc)
		rc = check_data(&tr->data, st.data, ckpt);
	for (int i = 0; paths && i < n_paths; i++)
		free(paths[i]);
	free(paths);
out:
	od_train_state_free(&st, tr->p.n);
	free(state_path);
	return rc;
}

void od_trainer_close(struct od_trainer *tr)
{
	const int n = tr->p.n;
	if (tr->opt.m)
		od_adamw_free(&tr->opt);
	for (int i = 0; tr->ema && i < n; i++)
		free(tr->ema[i]);
	free(tr->ema);
	for (int i = 0; tr->grads && i < n; i++)
		free(tr->grads[i]);
	free(tr->grads);
	free(tr->shapes);
	if (tr->p_init)
		od_nextdit_params_free(&tr->p, &tr->m);
	if (tr->m_open)
		od_nextdit_close(&tr->m);
	od_train_data_close(&tr->data);
	od_train_batch_free(&tr->batch);
	free(tr->empty);
	free(tr->empty_mask);
	free(tr->n), free(tr->sigma), free(tr->t), free(tr->eps), free(tr->xs), free(tr->target), free(tr->drop);
	free(tr->in_loss);
	free(tr->model_dir);
	free(tr->config_text);
	od_train_settings_free(&tr->s);
	memset(tr, 0, sizeof *tr);
}

/* ---------------------------------------------------------------- a step */

static int buffers(struct od_trainer *tr, int B, size_t frames, size_t nx)
{
	if (frames > tr->cap_frames) {
		float *a = realloc(tr->n, frames * sizeof *a), *b = a ? realloc(tr->sigma, frames * sizeof *b) : NULL;
		if (a)
			tr->n = a;
		if (b)
			tr->sigma = b;
		float *c = b ? realloc(tr->t, frames * sizeof *c) : NULL;
		if (c)
			tr->t = c;
		uint8_t *l = c ? realloc(tr->in_loss, frames) : NULL;
		if (l)
			tr->in_loss = l;
		if (!a || !b || !c || !l)
			return od_error(OD_ENOMEM, "out of memory");
		tr->cap_frames = frames;
	}
	if (nx > tr->cap_x) {
		float *e = realloc(tr->eps, nx * sizeof *e);
		if (e)
			tr->eps = e;
		float *x = e ? realloc(tr->xs, nx * sizeof *x) : NULL;
		if (x)
			tr->xs = x;
		float *g = x ? realloc(tr->target, nx * sizeof *g) : NULL;
		if (g)
			tr->target = g;
		if (!e || !x || !g)
			return od_error(OD_ENOMEM, "out of memory for a batch of %zu values", nx);
		tr->cap_x = nx;
	}
	uint8_t *d = realloc(tr->drop, (size_t)B);
	if (!d)
		return od_error(OD_ENOMEM, "out of memory");
	tr->drop = d;
	return OD_OK;
}

int od_trainer_step(struct od_trainer *tr, struct od_train_step_info *info)
{
	const int64_t k = tr->step + 1;
	struct od_train_batch *b = &tr->batch;
	int rc = od_train_data_sample(&tr->data, &tr->drng, tr->s.batch, b);
	if (rc)
		return rc;
	const size_t fsz = (size_t)b->C * b->h * b->w, frames = (size_t)b->B * b->F;
	if ((rc = buffers(tr, b->B, frames, frames * fsz)))
		return rc;
	od_train_draw(&tr->noise, b->B, b->F, fsz, tr->s.cfg_dropout, b->x0, tr->drop, tr->n, tr->sigma, tr->t, tr->eps,
		      tr->xs, tr->target);
	od_train_clean(&tr->noise, b->B, b->F, fsz, tr->s.clean_frames, tr->s.clean_t, b->x0, tr->sigma, tr->t, tr->xs,
		       tr->in_loss);
	if (tr->s.cfg_dropout > 0 &&
	    (rc = od_train_batch_drop_text(b, tr->drop, tr->empty, tr->empty_mask, tr->empty_S)))
		return rc;
	od_train_batch_trim_text(b);
	for (int i = 0; i < tr->p.n; i++)
		memset(tr->grads[i], 0, (size_t)tr->p.numel[i] * sizeof(float));
	struct od_nextdit_batch nb = { .B = b->B, .F = b->F, .h = b->h, .w = b->w, .S = b->S, .x = tr->xs, .t = tr->t,
				       .target = tr->target, .text = b->text, .mask = b->mask,
				       .in_loss = tr->s.clean_frames > 0 ? tr->in_loss : NULL };
	float loss = 0;
	if ((rc = od_nextdit_loss_grad(&tr->m, &nb, &loss, tr->grads, NULL)))
		return od_error_prefix(rc, "step %lld", (long long)k);
	if (!isfinite(loss))
		return od_error(OD_EFAIL, "step %lld: the loss is not finite (%g): the run diverged (a lower --lr or "
				"--clip may help); the last checkpoint is kept", (long long)k, loss);
	double norm = od_grad_norm(tr->p.n, tr->p.numel, (const float *const *)tr->grads);
	if (!isfinite(norm))
		return od_error(OD_EFAIL, "step %lld: the gradient is not finite: the run diverged (a lower --lr or --clip "
				"may help); the last checkpoint is kept", (long long)k);
	float clip = od_grad_clip(tr->p.n, tr->p.numel, tr->grads, norm, tr->s.clip);
	struct od_lr_schedule ls = { .lr = tr->s.lr, .min_lr = tr->s.min_lr, .warmup = tr->s.warmup, .total = tr->steps,
				     .shape = tr->s.schedule };
	double lr = od_lr_at(&ls, k);
	od_adamw_step(&tr->opt, tr->p.data, (const float *const *)tr->grads, lr);
	if (tr->ema)
		od_ema_update(tr->p.n, tr->p.numel, tr->ema, (const float *const *)tr->p.data, tr->s.ema);
	tr->step = k;
	if (info)
		*info = (struct od_train_step_info){ .step = k, .loss = loss, .lr = lr, .grad_norm = norm, .clip = clip,
						     .B = b->B, .F = b->F, .h = b->h, .w = b->w, .src = b->src };
	return OD_OK;
}

/* ---------------------------------------------------------------- saving */

static int weights_finite(const struct od_trainer *tr, const char **bad)
{
	for (int i = 0; i < tr->p.n; i++)
		for (int64_t e = 0; e < tr->p.numel[i]; e++)
			if (!isfinite(tr->p.data[i][e])) {
				*bad = tr->p.names[i];
				return 0;
			}
	return 1;
}

int od_trainer_save(struct od_trainer *tr, const char *outdir, int keep, int64_t keep_every, char *name_out,
		    size_t name_size)
{
	const char *bad = NULL;
	if (!weights_finite(tr, &bad))
		return od_error(OD_EFAIL, "step %lld: the weights are no longer finite ('%s'): the run diverged; the last "
				"checkpoint is kept", (long long)tr->step, bad);
	struct od_train_state st = { .step = tr->step, .m = tr->opt.m, .v = tr->opt.v,
				     .ema = tr->ema };
	st.settings = od_train_settings_json(&tr->s);
	st.data = data_json(&tr->data);
	if (!st.settings || !st.data) {
		json_decref(st.settings);
		json_decref(st.data);
		return od_error(OD_ENOMEM, "out of memory");
	}
	json_object_set_new(st.settings, "steps", json_integer(tr->steps));
	od_train_rng_export(&tr->noise, st.rng_noise);
	od_train_rng_export(&tr->drng, st.rng_data);
	char name[64];
	od_train_step_name(tr->step, name, sizeof name);
	struct od_train_model mo = { .base = tr->s.base, .config = tr->config_text, .config_len = tr->config_len,
				     .t = tr->tt, .data = tr->p.data, .state = &st };
	int rc = od_train_model_write(outdir, name, &mo);
	json_decref(st.settings);
	json_decref(st.data);
	if (rc)
		return od_error_prefix(rc, "'%s/%s': the checkpoint of step %lld could not be written (the previous one is "
				       "kept)", outdir, name, (long long)tr->step);
	if (!rc)
		rc = od_train_set_latest(outdir, name);
	if (!rc)
		rc = od_train_prune(outdir, keep, keep_every, tr->step);
	if (!rc && name_out)
		snprintf(name_out, name_size, "%s", name);
	return rc;
}

void od_trainer_swap_ema(struct od_trainer *tr)
{
	if (!tr->ema)
		return;
	for (int i = 0; i < tr->p.n; i++) {
		float *a = tr->p.data[i], *b = tr->ema[i];
		for (int64_t e = 0; e < tr->p.numel[i]; e++) {
			float x = a[e];
			a[e] = b[e];
			b[e] = x;
		}
	}
}

int od_train_init_model(struct od_ctx *ctx, const char *config, const char *base, uint64_t seed, const char *outdir,
			const char *name)
{
	struct od_trainer tr;
	memset(&tr, 0, sizeof tr);
	tr.ctx = ctx;
	int rc = read_new_config(&tr, config);
	if (!rc)
		rc = open_model(&tr, NULL, tr.config_text, tr.config_len, seed, outdir);
	if (!rc) {
		struct od_train_model mo = { .base = base, .config = tr.config_text, .config_len = tr.config_len,
					     .t = tr.tt, .data = tr.p.data };
		rc = od_train_model_write(outdir, name, &mo);
	}
	od_trainer_close(&tr);
	return rc;
}
