/*
 * vae_train.c: a VAE training run (train/vae_train.h): pictures and crops,
 * steps, checkpoints, the log, and the latent statistics.
 */
#include "train/vae_train.h"

#include "base/error.h"
#include "base/io.h"
#include "pipeline/encode.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ pictures */

struct path_list {
	char **p;
	int n, cap;
};

static int add_path(struct path_list *l, const char *path)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		char **np = realloc(l->p, (size_t)cap * sizeof *np);
		if (!np)
			return od_error(OD_ENOMEM, "out of memory");
		l->p = np;
		l->cap = cap;
	}
	if (!(l->p[l->n] = strdup(path)))
		return od_error(OD_ENOMEM, "out of memory");
	l->n++;
	return OD_OK;
}

static int has_ext(const char *name, const char *ext)
{
	size_t a = strlen(name), b = strlen(ext);
	return a > b && !strcasecmp(name + a - b, ext);
}

static int is_picture_name(const char *name)
{
	return has_ext(name, ".png") || has_ext(name, ".jpg") || has_ext(name, ".jpeg");
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name); /* bytes, not the locale's collation */
}

/* A directory's pictures, sorted by name, recursively (sub-folders where their name sorts). */
static int walk(struct path_list *l, const char *dir, int depth)
{
	if (depth > 32)
		return od_error(OD_EINVAL, "'%s': folders nested too deeply", dir);
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, by_name);
	if (n < 0)
		return od_error(OD_EIO, "'%s': cannot read folder: %s", dir, strerror(errno));
	int rc = OD_OK;
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		if (!rc && nm[0] != '.') {
			char *path = od_path_join(dir, nm);
			if (!path)
				rc = od_error(OD_ENOMEM, "out of memory");
			else if (od_is_dir(path))
				rc = walk(l, path, depth + 1);
			else if (is_picture_name(nm))
				rc = add_path(l, path);
			free(path);
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

/* The paths of a list's text (one per line, relative to the folder of list_path). */
static int parse_list(struct path_list *l, char *text, size_t len, const char *list_path)
{
	const char *slash = strrchr(list_path, '/');
	const size_t dlen = slash ? (size_t)(slash - list_path) : 0;
	int rc = OD_OK;
	if (memchr(text, 0, len))
		return od_error(OD_EFORMAT, "'%s': a list of pictures holds no NUL bytes", list_path);
	for (char *line = text, *next; line && !rc; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		size_t n = strlen(line);
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = 0;
		if (!n || line[0] == '#')
			continue;
		if (line[0] == '/' || !slash) {
			rc = add_path(l, line);
		} else {
			char *p = malloc(dlen + 1 + n + 1);
			if (!p)
				return od_error(OD_ENOMEM, "out of memory");
			memcpy(p, list_path, dlen);
			p[dlen] = '/';
			memcpy(p + dlen + 1, line, n + 1);
			rc = add_path(l, p);
			free(p);
		}
	}
	return rc;
}

int od_vae_list_parse(const char *text, size_t len, const char *list_path, char ***paths, int *n)
{
	struct path_list l = { 0 };
	char *copy = malloc(len + 1);
	int rc = copy ? OD_OK : od_error(OD_ENOMEM, "out of memory");
	if (!rc) {
		memcpy(copy, text, len);
		copy[len] = 0;
		rc = parse_list(&l, copy, len, list_path);
	}
	free(copy);
	if (rc) {
		for (int i = 0; i < l.n; i++)
			free(l.p[i]);
		free(l.p);
		l.p = NULL, l.n = 0;
	}
	*paths = l.p;
	*n = l.n;
	return rc;
}

/* A list file: one path per line, relative to the list's folder. */
static int read_list(struct path_list *l, const char *list)
{
	char *text;
	size_t len;
	int rc = od_read_file(list, (size_t)64 << 20, &text, &len);
	if (rc)
		return rc;
	rc = parse_list(l, text, len, list);
	free(text);
	return rc;
}

void od_vae_pictures_free(struct od_vae_pictures *d)
{
	for (int i = 0; i < d->n; i++) {
		free(d->paths[i]);
		if (d->img)
			od_image_free(&d->img[i]);
	}
	free(d->paths);
	free(d->img);
	memset(d, 0, sizeof *d);
}

int od_vae_pictures_load(struct od_vae_pictures *d, char *const *inputs, int n_inputs, int min_side)
{
	memset(d, 0, sizeof *d);
	struct path_list l = { 0 };
	int rc = OD_OK;
	for (int i = 0; i < n_inputs && !rc; i++) {
		if (od_is_dir(inputs[i]))
			rc = walk(&l, inputs[i], 0);
		else if (has_ext(inputs[i], ".txt"))
			rc = read_list(&l, inputs[i]);
		else
			rc = add_path(&l, inputs[i]);
	}
	if (!rc && !l.n)
		rc = od_error(OD_EFORMAT, "'%s': no pictures in the input (PNG or JPEG files)", n_inputs ? inputs[0] : "");
	d->paths = l.p;
	d->n = l.n;
	if (!rc && !(d->img = calloc((size_t)l.n, sizeof *d->img)))
		rc = od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; i < d->n && !rc; i++) {
		if ((rc = od_image_read_file(&d->img[i], d->paths[i], NULL)))
			break;
		if (d->img[i].width < min_side || d->img[i].height < min_side)
			rc = od_error(OD_EFORMAT, "'%s': %dx%d is smaller than the %dx%d crop", d->paths[i], d->img[i].width,
				      d->img[i].height, min_side, min_side);
	}
	if (rc)
		od_vae_pictures_free(d);
	return rc;
}

/* One picture's S×S window at (ox, oy), flipped left-right when flip, into x (3, S, S). */
static void window(const struct od_image *im, int ox, int oy, int flip, int S, float *x)
{
	const size_t plane = (size_t)S * S;
	for (int y = 0; y < S; y++) {
		const uint8_t *row = im->data + ((size_t)(oy + y) * im->width + ox) * 3;
		for (int xx = 0; xx < S; xx++) {
			const uint8_t *px = row + (size_t)(flip ? S - 1 - xx : xx) * 3;
			for (int ch = 0; ch < 3; ch++) /* ToTensor, then Normalize(0.5, 0.5) (preprocess.c) */
				x[ch * plane + (size_t)y * S + xx] = ((float)px[ch] / 255.0f - 0.5f) / 0.5f;
		}
	}
}

void od_vae_pictures_batch(const struct od_vae_pictures *d, struct od_train_rng *g, int B, int S, float *x)
{
	for (int b = 0; b < B; b++) {
		const struct od_image *im = &d->img[od_train_rand_below(g, (uint32_t)d->n)];
		int oy = (int)od_train_rand_below(g, (uint32_t)(im->height - S + 1));
		int ox = (int)od_train_rand_below(g, (uint32_t)(im->width - S + 1));
		int flip = (int)od_train_rand_below(g, 2);
		window(im, ox, oy, flip, S, x + (size_t)b * 3 * S * S);
	}
}

void od_vae_pictures_centre(const struct od_vae_pictures *d, int i, int S, float *x)
{
	const struct od_image *im = &d->img[i];
	window(im, (im->width - S) / 2, (im->height - S) / 2, 0, S, x);
}

/* ------------------------------------------------------------------ settings */

void od_vae_run_settings_default(struct od_vae_run_settings *s)
{
	memset(s, 0, sizeof *s);
	s->size = 64;
	s->batch = 8;
	s->lr = (struct od_lr_schedule){ .lr = 1e-4, .shape = OD_LR_CONSTANT };
	s->beta = 1e-6;
	s->seed = 0;
	s->adamw = (struct od_adamw_opts){ 0.9, 0.999, 1e-8, 0.01 };
}

static json_t *settings_json(const struct od_vae_run_settings *s)
{
	json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:f, s:f, s:I, s:f, s:f, s:f, s:f, s:I, s:s, s:f, s:I}", "kind", "vae",
			 "loss", "l1", "size", s->size, "batch", s->batch, "lr", s->lr.lr, "beta", s->beta, "seed",
			 (json_int_t)s->seed, "beta1", s->adamw.beta1, "beta2", s->adamw.beta2, "eps", s->adamw.eps,
			 "weight_decay", s->adamw.weight_decay, "warmup", (json_int_t)s->lr.warmup, "schedule",
			 od_lr_shape_name(s->lr.shape), "min_lr", s->lr.min_lr, "total", (json_int_t)s->lr.total);
	/* recorded only when set, so the states of whole-VAE runs keep their bytes */
	if (j && s->decoder_only && json_object_set_new(j, "decoder_only", json_true())) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

int od_vae_settings_parse(json_t *j, struct od_vae_run_settings *s, const char *label)
{
	od_vae_run_settings_default(s);
	json_int_t size, batch, seed, warmup = 0, total = 0;
	const char *kind = NULL, *loss = NULL, *schedule = "constant";
	int decoder_only = 0;
	/* warmup, schedule, min_lr and total are absent from runs recorded before
	 * the schedule existed: those ran at a constant rate */
	if (!json_is_object(j) ||
	    json_unpack(j, "{s:s, s:s, s:I, s:I, s:F, s:F, s:I, s:F, s:F, s:F, s:F, s?:I, s?:s, s?:F, s?:I, s?:b}", "kind", &kind,
			"loss", &loss, "size", &size, "batch", &batch, "lr", &s->lr.lr, "beta", &s->beta, "seed", &seed,
			"beta1", &s->adamw.beta1, "beta2", &s->adamw.beta2, "eps", &s->adamw.eps, "weight_decay",
			&s->adamw.weight_decay, "warmup", &warmup, "schedule", &schedule, "min_lr", &s->lr.min_lr, "total",
			&total, "decoder_only", &decoder_only) ||
	    strcmp(kind, "vae") || strcmp(loss, "l1") || size < 1 || size > 65536 || batch < 1 || batch > 65536 ||
	    seed < 0 || !(s->lr.lr >= 0) || !(s->beta >= 0) || !(s->adamw.beta1 >= 0 && s->adamw.beta1 < 1) ||
	    !(s->adamw.beta2 >= 0 && s->adamw.beta2 < 1) || !(s->adamw.eps > 0) || !(s->adamw.weight_decay >= 0) ||
	    !isfinite(s->lr.lr) || !isfinite(s->beta) || !isfinite(s->adamw.weight_decay) || warmup < 0 || total < 0 ||
	    od_lr_shape_parse(schedule) < 0 || !(s->lr.min_lr >= 0) || !isfinite(s->lr.min_lr))
		return od_error(OD_EFORMAT, "'%s': the settings are not those of a VAE run", label);
	s->size = (int)size, s->batch = (int)batch, s->seed = (uint64_t)seed;
	s->lr.warmup = warmup, s->lr.total = total, s->lr.shape = (enum od_lr_shape)od_lr_shape_parse(schedule);
	s->decoder_only = decoder_only;
	return OD_OK;
}

/* ------------------------------------------------------------------ the run */

static int check_config(const struct od_vae_config *cf, int S, const char *label)
{
	if (cf->in_channels != 3 || cf->out_channels != 3)
		return od_error(OD_EMODEL, "'%s': in_channels %d and out_channels %d: training on RGB pictures needs 3 and 3",
				label, cf->in_channels, cf->out_channels);
	if (S % cf->downscale)
		return od_error(OD_EINVAL, "'%s': the crop size %d is not a multiple of the downscale factor %d", label, S,
				cf->downscale);
	return OD_OK;
}

/* Everything after the weights exist: gradients, optimiser, buffers. */
static int run_setup(struct od_vae_run *r)
{
	const struct od_vae_params *p = &r->p;
	r->tt.n = p->n;
	r->tt.names = p->names;
	r->tt.shapes = p->views;
	if (!(r->grads = calloc((size_t)p->n, sizeof *r->grads)))
		return od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; i < p->n; i++)
		if ((!r->s.decoder_only || od_vae_param_is_decoder(p->names[i])) &&
		    !(r->grads[i] = malloc((size_t)(p->numel[i] ? p->numel[i] : 1) * sizeof(float))))
			return od_error(OD_ENOMEM, "out of memory for the gradients");
	int rc = od_adamw_init(&r->opt, &r->s.adamw, p->n, p->numel);
	if (rc)
		return rc;
	const int S = r->s.size, ds = p->cfg.downscale;
	const size_t nx = (size_t)r->s.batch * 3 * S * S, ne = (size_t)r->s.batch * p->cfg.latent_channels * (S / ds) * (S / ds);
	if (!(r->x = malloc(nx * sizeof *r->x)) || !(r->eps = malloc(ne * sizeof *r->eps)))
		return od_error(OD_ENOMEM, "out of memory for a batch of %d %dx%d pictures", r->s.batch, S, S);
	return OD_OK;
}

static int load_model(struct od_vae_run *r, const char *model_dir)
{
	struct od_vae v;
	int rc = od_vae_open(&v, r->ctx, model_dir);
	if (rc)
		return rc;
	rc = od_vae_params_init(&r->p, &v);
	char *path = od_path_join(v.comp.dir, "config.json");
	od_vae_close(&v);
	if (!rc)
		rc = path ? od_json_load(path, &r->config) : od_error(OD_ENOMEM, "out of memory");
	free(path);
	return rc;
}

int od_vae_run_open(struct od_vae_run *r, struct od_ctx *ctx, json_t *config, const char *model_dir,
		    const struct od_vae_run_settings *s, char *const *inputs, int n_inputs)
{
	memset(r, 0, sizeof *r);
	r->s = *s;
	r->ctx = ctx;
	int rc;
	if (s->decoder_only && !model_dir) {
		json_decref(config);
		return od_error(OD_EINVAL, "training the decoder alone needs a model to start from (its encoder)");
	}
	if (model_dir) {
		json_decref(config);
		if ((rc = load_model(r, model_dir)))
			goto fail;
	} else {
		r->config = config;
		struct od_vae_config cf;
		if ((rc = od_vae_config_parse(config, &cf, "the VAE config")) ||
		    (rc = check_config(&cf, s->size, "the VAE config")) ||
		    (rc = od_vae_params_init_random(&r->p, &cf, s->seed)))
			goto fail;
	}
	if ((rc = check_config(&r->p.cfg, s->size, model_dir ? model_dir : "the VAE config")))
		goto fail;
	if ((rc = od_vae_pictures_load(&r->pics, inputs, n_inputs, s->size)) || (rc = run_setup(r)))
		goto fail;
	od_train_rng_seed(&r->data, s->seed + 1);
	od_train_rng_seed(&r->noise, s->seed + 2);
	return OD_OK;
fail:
	od_vae_run_close(r);
	return rc;
}

/* The absolute paths of the run's pictures, as the state records them. */
static json_t *pictures_json(const struct od_vae_pictures *d)
{
	json_t *a = json_array();
	for (int i = 0; a && i < d->n; i++) {
		char *real = realpath(d->paths[i], NULL);
		json_array_append_new(a, json_string(real ? real : d->paths[i]));
		free(real);
	}
	return a;
}

int od_vae_run_resume(struct od_vae_run *r, struct od_ctx *ctx, const char *outdir,
		      const struct od_vae_run_settings *given, unsigned mask, char *const *inputs, int n_inputs)
{
	memset(r, 0, sizeof *r);
	r->ctx = ctx;
	char *ckpt = NULL, *state_path = NULL, **paths = NULL;
	struct od_train_state st;
	int have_state = 0, n_paths = 0;
	int rc = od_train_resume_find(outdir, &ckpt);
	if (rc)
		return rc;
	if ((rc = load_model(r, ckpt)))
		goto out;
	state_path = od_path_join(ckpt, OD_TRAIN_STATE_FILE);
	r->tt.n = r->p.n, r->tt.names = r->p.names, r->tt.shapes = r->p.views;
	if (!state_path) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = od_train_state_read(state_path, &r->tt, &st)))
		goto out;
	have_state = 1;
	if ((rc = od_vae_settings_parse(st.settings, &r->s, state_path)))
		goto out;
	/* explicit options must agree with the run's */
	const struct { unsigned bit; const char *name; int same; } cmp[] = {
		{ OD_VAE_GIVEN_SIZE, "--size", given->size == r->s.size },
		{ OD_VAE_GIVEN_BATCH, "--batch", given->batch == r->s.batch },
		{ OD_VAE_GIVEN_LR, "--lr", given->lr.lr == r->s.lr.lr },
		{ OD_VAE_GIVEN_BETA, "--beta", given->beta == r->s.beta },
		{ OD_VAE_GIVEN_SEED, "--seed", given->seed == r->s.seed },
		{ OD_VAE_GIVEN_WARMUP, "--warmup", given->lr.warmup == r->s.lr.warmup },
		{ OD_VAE_GIVEN_SCHEDULE, "--schedule", given->lr.shape == r->s.lr.shape },
		{ OD_VAE_GIVEN_MIN_LR, "--min-lr", given->lr.min_lr == r->s.lr.min_lr },
		{ OD_VAE_GIVEN_DECODER_ONLY, "--decoder-only", given->decoder_only == r->s.decoder_only },
	};
	for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++)
		if ((mask & cmp[i].bit) && !cmp[i].same) {
			rc = od_error(OD_EINVAL, "'%s': %s differs from the run's (resume with the run's settings)", outdir,
				      cmp[i].name);
			goto out;
		}
	if ((rc = check_config(&r->p.cfg, r->s.size, ckpt)))
		goto out;
	/* the pictures: as given (and then the run's), or the ones the state names */
	if (!json_is_array(st.data)) {
		rc = od_error(OD_EFORMAT, "'%s': no picture list", state_path);
		goto out;
	}
	n_paths = (int)json_array_size(st.data);
	if (!(paths = calloc((size_t)(n_paths ? n_paths : 1), sizeof *paths))) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < n_paths; i++) {
		const char *sp = json_string_value(json_array_get(st.data, i));
		if (!sp || !(paths[i] = strdup(sp))) {
			rc = sp ? od_error(OD_ENOMEM, "out of memory") : od_error(OD_EFORMAT, "'%s': a bad picture path", state_path);
			goto out;
		}
	}
	if (n_inputs > 0)
		rc = od_vae_pictures_load(&r->pics, inputs, n_inputs, r->s.size);
	else
		rc = od_vae_pictures_load(&r->pics, paths, n_paths, r->s.size);
	if (rc)
		goto out;
	if (n_inputs > 0) {
		json_t *now = pictures_json(&r->pics);
		int same = now && json_equal(now, st.data);
		json_decref(now);
		if (!same) {
			rc = od_error(OD_EINVAL, "'%s': the pictures are not the run's (%d recorded)", outdir, n_paths);
			goto out;
		}
	}
	if ((rc = run_setup(r)))
		goto out;
	for (int i = 0; i < r->p.n; i++) {
		memcpy(r->opt.m[i], st.m[i], (size_t)r->p.numel[i] * sizeof(float));
		memcpy(r->opt.v[i], st.v[i], (size_t)r->p.numel[i] * sizeof(float));
	}
	r->opt.step = st.step;
	r->step = st.step;
	if ((rc = od_train_rng_import(&r->data, st.rng_data)) || (rc = od_train_rng_import(&r->noise, st.rng_noise)))
		goto out;
out:
	if (have_state)
		od_train_state_free(&st, r->p.n);
	for (int i = 0; paths && i < n_paths; i++)
		free(paths[i]);
	free(paths);
	free(ckpt);
	free(state_path);
	if (rc)
		od_vae_run_close(r);
	return rc;
}

void od_vae_run_close(struct od_vae_run *r)
{
	if (r->grads)
		for (int i = 0; i < r->p.n; i++)
			free(r->grads[i]);
	free(r->grads);
	if (r->opt.m)
		od_adamw_free(&r->opt);
	od_vae_params_free(&r->p);
	od_vae_pictures_free(&r->pics);
	json_decref(r->config);
	free(r->x);
	free(r->eps);
	memset(r, 0, sizeof *r);
}

int od_vae_run_step(struct od_vae_run *r, struct od_vae_step_info *info)
{
	const struct od_vae_params *p = &r->p;
	const int B = r->s.batch, S = r->s.size, h = S / p->cfg.downscale;
	const int64_t k = r->step + 1;
	od_vae_pictures_batch(&r->pics, &r->data, B, S, r->x);
	od_train_randn(&r->noise, (size_t)B * p->cfg.latent_channels * h * h, r->eps);
	for (int i = 0; i < p->n; i++)
		if (r->grads[i])
			memset(r->grads[i], 0, (size_t)p->numel[i] * sizeof(float));
	struct od_vae_batch b = { B, S, S, r->x, r->eps, NULL, NULL, r->s.decoder_only };
	int rc = od_vae_loss_grad(r->ctx, p, &b, r->s.beta, &info->loss, r->grads);
	if (rc)
		return rc;
	info->step = k;
	info->grad_norm = od_grad_norm(p->n, p->numel, (const float *const *)r->grads);
	if (!isfinite(info->loss.loss) || !isfinite(info->grad_norm))
		return od_error(OD_EFAIL, "step %" PRId64 ": the loss or its gradient is not finite (loss %g)", k,
				info->loss.loss);
	od_adamw_step(&r->opt, p->data, (const float *const *)r->grads, od_lr_at(&r->s.lr, k));
	r->step = k;
	return OD_OK;
}

/* ------------------------------------------------------------------ checkpoints */

static int sync_path(const char *path, int dir)
{
	int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
	if (fd < 0)
		return od_error(OD_EIO, "'%s': cannot open: %s", path, strerror(errno));
	int bad = fsync(fd) != 0 && errno != EINVAL;
	int e = errno;
	close(fd);
	return bad ? od_error(OD_EIO, "'%s': cannot flush to disk: %s", path, strerror(e)) : OD_OK;
}

int od_vae_run_save(struct od_vae_run *r, const char *outdir)
{
	const struct od_vae_params *p = &r->p;
	for (int i = 0; i < p->n; i++)
		for (int64_t k = 0; k < p->numel[i]; k++)
			if (!isfinite(p->data[i][k]))
				return od_error(OD_EFAIL, "step %" PRId64 ": weight '%s' is not finite; not saved", r->step,
						p->names[i]);
	char name[64], sub[PATH_MAX], final[PATH_MAX], file[PATH_MAX], link[PATH_MAX];
	od_train_step_name(r->step, name, sizeof name);
	snprintf(final, sizeof final, "%s/%s", outdir, name);
	/* a temporary folder, in the cleanup registry until it is renamed into
	 * place (replacing a folder of the same name: a run resumed from further back) */
	struct od_out_dir d;
	int rc = od_dir_open(&d, final);
	if (rc)
		return rc;
	snprintf(sub, sizeof sub, "%s/vae", d.tmp);
	if (mkdir(sub, 0777) != 0)
		rc = od_error(OD_EIO, "'%s': cannot create: %s", sub, strerror(errno));
	struct od_train_state st = { .step = r->step, .m = r->opt.m, .v = r->opt.v };
	st.settings = settings_json(&r->s);
	st.data = pictures_json(&r->pics);
	od_train_rng_export(&r->noise, st.rng_noise);
	od_train_rng_export(&r->data, st.rng_data);
	if (!rc && (!st.settings || !st.data))
		rc = od_error(OD_ENOMEM, "out of memory");
	if (!rc)
		rc = od_vae_params_save(p, r->config, sub);
	snprintf(file, sizeof file, "%s/%s", d.tmp, OD_TRAIN_STATE_FILE);
	if (!rc)
		rc = od_train_state_write(file, &st, &r->tt);
	json_decref(st.settings);
	json_decref(st.data);
	static const char *const files[] = { "vae/config.json", "vae/diffusion_pytorch_model.safetensors" };
	for (int i = 0; i < 2 && !rc; i++) {
		snprintf(file, sizeof file, "%s/%s", d.tmp, files[i]);
		rc = sync_path(file, 0);
	}
	if (!rc && !(rc = sync_path(sub, 1)))
		rc = sync_path(d.tmp, 1);
	if (rc) {
		od_dir_abort(&d);
		return rc;
	}
	if ((rc = od_dir_commit(&d)))
		return rc;
	if ((rc = sync_path(outdir, 1)) || (rc = od_train_set_latest(outdir, name)))
		return rc;
	/* OUTDIR/vae -> latest/vae, made once */
	snprintf(link, sizeof link, "%s/vae", outdir);
	struct stat lb;
	if (lstat(link, &lb) != 0) {
		if (symlink("latest/vae", link) != 0)
			return od_error(OD_EIO, "'%s': cannot create a link: %s", link, strerror(errno));
	} else if (!S_ISLNK(lb.st_mode)) {
		return od_error(OD_EIO, "'%s' exists and is not the run's link to latest/vae", link);
	}
	return od_train_prune(outdir, 1, 0, r->step);
}

/* ------------------------------------------------------------------ the log */

static int truncate_log(const char *path, int64_t from)
{
	char *text;
	size_t len;
	int rc = od_read_file(path, (size_t)1 << 30, &text, &len);
	if (rc)
		return rc;
	const size_t hl = strlen(OD_VAE_LOG_HEADER);
	if (len < hl || memcmp(text, OD_VAE_LOG_HEADER, hl)) {
		free(text);
		return od_error(OD_EFORMAT, "'%s': not a VAE training log (its first line is not %.*s)", path, (int)hl - 1,
				OD_VAE_LOG_HEADER);
	}
	size_t keep = hl;
	while (keep < len) {
		char *nl = memchr(text + keep, '\n', len - keep);
		if (!nl || strtoll(text + keep, NULL, 10) > from)
			break; /* a row cut short, or a step the resumed run does again */
		keep = (size_t)(nl - text) + 1;
	}
	struct od_out o;
	if (!(rc = od_out_open(&o, path))) {
		if ((rc = od_out_write(&o, text, keep)))
			od_out_abort(&o);
		else
			rc = od_out_commit(&o);
	}
	free(text);
	return rc;
}

int od_vae_log_open(FILE **f, const char *path, int64_t from)
{
	int rc;
	*f = NULL;
	if (from > 0 && od_is_file(path)) {
		if ((rc = truncate_log(path, from)))
			return rc;
		*f = fopen(path, "a");
	} else if ((*f = fopen(path, "w")) && fputs(OD_VAE_LOG_HEADER, *f) < 0) {
		fclose(*f);
		*f = NULL;
	}
	if (!*f || fflush(*f) != 0) {
		rc = od_error(OD_EIO, "'%s': cannot write: %s", path, strerror(errno));
		if (*f)
			fclose(*f);
		*f = NULL;
		return rc;
	}
	return OD_OK;
}

int od_vae_log_row(FILE *f, const char *path, const struct od_vae_step_info *in, double lr)
{
	if (fprintf(f, "%" PRId64 ",%.9g,%.9g,%.9g,%.9g,%.9g\n", in->step, in->loss.loss, in->loss.recon, in->loss.kl,
		    lr, in->grad_norm) < 0 ||
	    fflush(f) != 0)
		return od_error(OD_EIO, "'%s': cannot write: %s", path, strerror(errno));
	return OD_OK;
}

/* ------------------------------------------------------------------ scaling */

int od_vae_latent_stats(struct od_ctx *ctx, const struct od_vae_params *p, const struct od_vae_pictures *d, int S,
			uint64_t seed, double *mean, double *std)
{
	const struct od_vae_config *cf = &p->cfg;
	const int L = cf->latent_channels, h = S / cf->downscale;
	const int64_t hw = (int64_t)h * h;
	float *x = malloc((size_t)3 * S * S * sizeof *x), *mom = malloc((size_t)2 * L * hw * sizeof *mom);
	float *eps = malloc((size_t)L * hw * sizeof *eps), *z = malloc((size_t)L * hw * sizeof *z);
	struct od_train_rng g;
	od_train_rng_seed(&g, seed);
	double s1 = 0, s2 = 0;
	int rc = x && mom && eps && z ? OD_OK : od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; i < d->n && !rc; i++) {
		od_vae_pictures_centre(d, i, S, x);
		if ((rc = od_vae_params_encode(ctx, p, x, S, S, mom)))
			break;
		od_train_randn(&g, (size_t)(L * hw), eps);
		od_vae_posterior(mom, L, hw, eps, 1.0f, z); /* z = mean + std·ε, as od-encode samples */
		for (int64_t k = 0; k < L * hw; k++)
			s1 += z[k], s2 += (double)z[k] * z[k];
	}
	if (!rc) {
		const double n = (double)d->n * L * hw;
		*mean = s1 / n;
		double var = s2 / n - *mean * *mean;
		*std = sqrt(var > 0 ? var : 0);
		if (!(*std > 0) || !isfinite(*std))
			rc = od_error(OD_EFAIL, "the latents have no spread (std %g): cannot set scaling_factor", *std);
	}
	free(x), free(mom), free(eps), free(z);
	return rc;
}

int od_vae_set_scale(const char *vae_dir, double scaling_factor, double shift_factor)
{
	char *path = od_path_join(vae_dir, "config.json");
	json_t *j = NULL;
	int rc = path ? od_json_load(path, &j) : od_error(OD_ENOMEM, "out of memory");
	if (rc) {
		free(path);
		return rc;
	}
	json_object_set_new(j, "scaling_factor", json_real(scaling_factor));
	json_object_set_new(j, "shift_factor", json_real(shift_factor));
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	struct od_out o;
	if (!text) {
		rc = od_error(OD_ENOMEM, "out of memory");
	} else if (!(rc = od_out_open(&o, path))) {
		if ((rc = od_out_write(&o, text, strlen(text))) || (rc = od_out_write(&o, "\n", 1)))
			od_out_abort(&o);
		else
			rc = od_out_commit(&o);
	}
	free(text);
	free(path);
	json_decref(j);
	return rc;
}
