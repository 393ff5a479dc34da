/*
 * checkpoint.c: training checkpoints, written atomically, and the training
 * state file (checkpoint.h).
 *
 * Atomicity rests on two renames: a complete folder replaces nothing until it
 * is renamed into place, and `latest` moves by renaming a fresh link over it.
 * Every file is flushed (fsync) before its folder is renamed, so a crash leaves
 * either the old checkpoint or the new one, never a half-written one.
 */
#include "train/checkpoint.h"

#include "base/error.h"
#include "base/io.h"
#include "formats/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_FORMAT "od-train-state"
#define STATE_VERSION "1"

/* ---------------------------------------------------------------- state */

static int add_tensors(struct od_st_writer *w, const char *prefix, float *const *data, const struct od_train_tensors *t)
{
	for (int i = 0; i < t->n; i++) {
		char name[512];
		if ((size_t)snprintf(name, sizeof name, "%s%s", prefix, t->names[i]) >= sizeof name)
			return od_error(OD_EINVAL, "tensor name '%s' is too long", t->names[i]);
		int rc = od_st_writer_add(w, name, OD_F32, t->shapes[i].ndim, t->shapes[i].shape, data[i]);
		if (rc)
			return rc;
	}
	return OD_OK;
}

/* Commit an output after flushing it to disk. */
static int commit_synced(struct od_out *o)
{
	if (o->fd >= 0 && !o->direct && fsync(o->fd) != 0 && errno != EINVAL) {
		int rc = od_error(OD_EIO, "'%s': cannot flush to disk: %s", o->label, strerror(errno));
		od_out_abort(o);
		return rc;
	}
	return od_out_commit(o);
}

int od_train_state_write(const char *path, const struct od_train_state *s, const struct od_train_tensors *t)
{
	struct od_st_writer *w = od_st_writer_new();
	if (!w)
		return od_error(OD_ENOMEM, "out of memory");
	char num[64];
	int rc = od_st_writer_meta(w, "format", STATE_FORMAT);
	if (!rc)
		rc = od_st_writer_meta(w, "version", STATE_VERSION);
	snprintf(num, sizeof num, "%" PRId64, s->step);
	if (!rc)
		rc = od_st_writer_meta(w, "step", num);
	char *settings = json_dumps(s->settings, JSON_COMPACT | JSON_SORT_KEYS);
	char *data = json_dumps(s->data, JSON_COMPACT);
	if (!settings || !data)
		rc = rc ? rc : od_error(OD_ENOMEM, "out of memory");
	if (!rc)
		rc = od_st_writer_meta(w, "settings", settings);
	if (!rc)
		rc = od_st_writer_meta(w, "data", data);
	free(settings);
	free(data);
	if (!rc)
		rc = add_tensors(w, "adamw.exp_avg.", s->m, t);
	if (!rc)
		rc = add_tensors(w, "adamw.exp_avg_sq.", s->v, t);
	if (!rc && s->ema)
		rc = add_tensors(w, "ema.", s->ema, t);
	const int64_t rng_shape[1] = { OD_TRAIN_RNG_WORDS };
	if (!rc)
		rc = od_st_writer_add(w, "rng.noise", OD_I64, 1, rng_shape, s->rng_noise);
	if (!rc)
		rc = od_st_writer_add(w, "rng.data", OD_I64, 1, rng_shape, s->rng_data);
	struct od_out o;
	if (!rc && !(rc = od_out_open(&o, path))) {
		if ((rc = od_st_writer_write(w, &o, NULL, NULL)))
			od_out_abort(&o);
		else
			rc = commit_synced(&o);
	}
	od_st_writer_free(w);
	return rc;
}

void od_train_state_free(struct od_train_state *s, int n)
{
	float **lists[3] = { s->m, s->v, s->ema };
	for (int k = 0; k < 3; k++) {
		for (int i = 0; lists[k] && i < n; i++)
			free(lists[k][i]);
		free(lists[k]);
	}
	json_decref(s->settings);
	json_decref(s->data);
	memset(s, 0, sizeof *s);
}

/* Copy prefix+name (F32, shape of t->shapes[i]) into a new buffer. */
static int take(const struct od_safetensors *st, const char *label, const char *prefix, const struct od_train_tensors *t,
		int i, float **out)
{
	char name[512];
	snprintf(name, sizeof name, "%s%s", prefix, t->names[i]);
	const struct od_tensor *x = od_st_find(st, name);
	if (!x)
		return od_error(OD_EMODEL, "'%s': no tensor '%s': the state belongs to another model", label, name);
	const struct od_tensor *want = &t->shapes[i];
	int same = x->ndim == want->ndim;
	for (int d = 0; same && d < x->ndim; d++)
		same = x->shape[d] == want->shape[d];
	if (!same) {
		char a[128], b[128];
		return od_error(OD_EMODEL, "'%s': '%s' is %s, the model's weight is %s", label, name,
				od_shape_str(a, sizeof a, x->ndim, x->shape), od_shape_str(b, sizeof b, want->ndim, want->shape));
	}
	if (x->dtype != OD_F32)
		return od_error(OD_EFORMAT, "'%s': '%s' is %s, not F32", label, name, od_dtype_name(x->dtype));
	size_t n = (size_t)od_tensor_numel(x);
	if (!(*out = malloc(n ? n * sizeof(float) : 1)))
		return od_error(OD_ENOMEM, "out of memory");
	memcpy(*out, x->data, n * sizeof(float));
	for (size_t e = 0; e < n; e++)
		if (!isfinite((*out)[e]))
			return od_error(OD_EFORMAT, "'%s': '%s' element %zu is not finite", label, name, e);
	return OD_OK;
}

static int take_rng(const struct od_safetensors *st, const char *label, const char *name, int64_t *out)
{
	const struct od_tensor *x = od_st_find(st, name);
	if (!x)
		return od_error(OD_EFORMAT, "'%s': no tensor '%s'", label, name);
	if (x->dtype != OD_I64 || x->ndim != 1 || x->shape[0] != OD_TRAIN_RNG_WORDS)
		return od_error(OD_EFORMAT, "'%s': '%s' must be I64 (%d)", label, name, OD_TRAIN_RNG_WORDS);
	memcpy(out, x->data, OD_TRAIN_RNG_WORDS * sizeof *out);
	struct od_train_rng g;
	int rc = od_train_rng_import(&g, out);
	if (rc)
		return od_error_prefix(rc, "'%s': '%s'", label, name);
	return OD_OK;
}

static int meta_int(const struct od_safetensors *st, const char *label, const char *key, int64_t *out)
{
	const char *v = od_st_meta(st, key);
	char *end;
	if (!v)
		return od_error(OD_EFORMAT, "'%s': no '%s' in the metadata", label, key);
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end || x < 0)
		return od_error(OD_EFORMAT, "'%s': '%s' is not a count: '%.40s'", label, key, v);
	*out = x;
	return OD_OK;
}

int od_train_state_parse(const void *buf, size_t len, const char *label, const struct od_train_tensors *t,
			 struct od_train_state *out)
{
	memset(out, 0, sizeof *out);
	struct od_safetensors st;
	memset(&st, 0, sizeof st); /* od_st_parse keeps a caller's map and path */
	int rc = od_st_parse(&st, buf, len, label);
	if (rc)
		return rc;
	const char *fmt = od_st_meta(&st, "format"), *ver = od_st_meta(&st, "version");
	if (!fmt || strcmp(fmt, STATE_FORMAT)) {
		rc = od_error(OD_EFORMAT, "'%s': not an od training state (format '%s')", label, fmt ? fmt : "none");
		goto out;
	}
	if (!ver || strcmp(ver, STATE_VERSION)) {
		rc = od_error(OD_EFORMAT, "'%s': training state version '%s' (this reader knows %s)", label,
			      ver ? ver : "none", STATE_VERSION);
		goto out;
	}
	if ((rc = meta_int(&st, label, "step", &out->step)))
		goto out;
	const char *js = od_st_meta(&st, "settings"), *jd = od_st_meta(&st, "data");
	out->settings = js ? json_loads(js, 0, NULL) : NULL;
	out->data = jd ? json_loads(jd, 0, NULL) : NULL;
	if (!json_is_object(out->settings) || !json_is_array(out->data)) {
		rc = od_error(OD_EFORMAT, "'%s': the settings and data metadata must be a JSON object and array", label);
		goto out;
	}
	if ((rc = take_rng(&st, label, "rng.noise", out->rng_noise)) || (rc = take_rng(&st, label, "rng.data", out->rng_data)))
		goto out;
	/* every tensor: 2 or 3 per weight and the two generators, nothing else */
	char first[512];
	snprintf(first, sizeof first, "ema.%s", t->n ? t->names[0] : "");
	const int has_ema = t->n > 0 && od_st_find(&st, first) != NULL;
	const int expected = (2 + has_ema) * t->n + 2;
	if (st.n_tensors != expected) {
		rc = od_error(st.n_tensors > expected ? OD_EFORMAT : OD_EMODEL,
			      "'%s': %d tensors; a state of this model has %d (%d weights%s)", label, st.n_tensors, expected,
			      t->n, has_ema ? " with an EMA" : "");
		goto out;
	}
	out->m = calloc((size_t)t->n + 1, sizeof *out->m);
	out->v = calloc((size_t)t->n + 1, sizeof *out->v);
	out->ema = has_ema ? calloc((size_t)t->n + 1, sizeof *out->ema) : NULL;
	if (!out->m || !out->v || (has_ema && !out->ema)) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; !rc && i < t->n; i++) {
		rc = take(&st, label, "adamw.exp_avg.", t, i, &out->m[i]);
		if (!rc)
			rc = take(&st, label, "adamw.exp_avg_sq.", t, i, &out->v[i]);
		if (!rc && has_ema)
			rc = take(&st, label, "ema.", t, i, &out->ema[i]);
	}
	/* v is a sum of squares: never negative */
	for (int i = 0; !rc && i < t->n; i++) {
		int64_t k = od_tensor_numel(&t->shapes[i]);
		for (int64_t e = 0; e < k; e++)
			if (out->v[i][e] < 0) {
				rc = od_error(OD_EFORMAT, "'%s': adamw.exp_avg_sq.%s element %lld is negative", label, t->names[i],
					      (long long)e);
				break;
			}
	}
out:
	od_st_close(&st);
	if (rc)
		od_train_state_free(out, t->n);
	return rc;
}

int od_train_state_read(const char *path, const struct od_train_tensors *t, struct od_train_state *out)
{
	struct od_map map;
	int rc = od_map_file(&map, path);
	if (rc)
		return rc;
	rc = od_train_state_parse(map.data, map.len, path, t, out);
	od_unmap(&map);
	return rc;
}

/* ---------------------------------------------------------------- folders */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) ? -1 : 0;
}

int od_train_remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? OD_OK : od_error(OD_EIO, "'%s': %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 ? OD_OK : od_error(OD_EIO, "'%s': cannot remove: %s", path, strerror(errno));
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		return od_error(OD_EIO, "'%s': cannot remove: %s", path, strerror(errno));
	return OD_OK;
}

static int write_file_synced(const char *path, const void *data, size_t len)
{
	struct od_out o;
	int rc = od_out_open(&o, path);
	if (!rc) {
		if ((rc = od_out_write(&o, data, len)))
			od_out_abort(&o);
		else
			rc = commit_synced(&o);
	}
	return rc;
}

static int write_weights(const char *path, const struct od_train_model *mo)
{
	struct od_st_writer *w = od_st_writer_new();
	if (!w)
		return od_error(OD_ENOMEM, "out of memory");
	int rc = od_st_writer_meta(w, "format", "pt");
	/* another type on disk: each tensor rounded into a buffer of its own,
	 * kept until the file is written */
	void **conv = mo->dtype != OD_F32 ? calloc((size_t)mo->t.n, sizeof *conv) : NULL;
	if (!rc && mo->dtype != OD_F32 && !conv)
		rc = od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; !rc && i < mo->t.n; i++) {
		const void *data = mo->data[i];
		if (conv) {
			size_t n = 1;
			for (int d = 0; d < mo->t.shapes[i].ndim; d++)
				n *= (size_t)mo->t.shapes[i].shape[d];
			if (!(conv[i] = malloc(n * od_dtype_size(mo->dtype) + 1))) {
				rc = od_error(OD_ENOMEM, "out of memory for '%s'", mo->t.names[i]);
				break;
			}
			od_from_f32(conv[i], mo->data[i], mo->dtype, n);
			data = conv[i];
		}
		rc = od_st_writer_add(w, mo->t.names[i], mo->dtype, mo->t.shapes[i].ndim, mo->t.shapes[i].shape, data);
	}
	struct od_out o;
	if (!rc && !(rc = od_out_open(&o, path))) {
		if ((rc = od_st_writer_write(w, &o, NULL, NULL)))
			od_out_abort(&o);
		else
			rc = commit_synced(&o);
	}
	od_st_writer_free(w);
	for (int i = 0; conv && i < mo->t.n; i++)
		free(conv[i]);
	free(conv);
	return rc;
}

static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return od_error(OD_EIO, "'%s': cannot open: %s", path, strerror(errno));
	int bad = fsync(fd) != 0 && errno != EINVAL;
	int e = errno;
	close(fd);
	return bad ? od_error(OD_EIO, "'%s': cannot flush to disk: %s", path, strerror(e)) : OD_OK;
}

/* The other components of the base model, linked by their resolved paths. */
static const char *const linked[] = { "vae", "text_encoder", "tokenizer", "scheduler", "model_index.json" };

static int link_components(const char *base, const char *dir)
{
	for (size_t i = 0; i < sizeof linked / sizeof linked[0]; i++) {
		char *src = od_path_join(base, linked[i]), *dst = od_path_join(dir, linked[i]);
		int rc = OD_OK;
		if (!src || !dst) {
			rc = od_error(OD_ENOMEM, "out of memory");
		} else if (access(src, F_OK) == 0) {
			char *real = realpath(src, NULL);
			if (!real)
				rc = od_error(OD_EIO, "'%s': %s", src, strerror(errno));
			else if (symlink(real, dst) != 0)
				rc = od_error(OD_EIO, "'%s': cannot create a link: %s", dst, strerror(errno));
			free(real);
		}
		free(src);
		free(dst);
		if (rc)
			return rc;
	}
	return OD_OK;
}

int od_train_model_write(const char *outdir, const char *name, const struct od_train_model *mo)
{
	char final[PATH_MAX], sub[PATH_MAX], file[PATH_MAX];
	snprintf(final, sizeof final, "%s/%s", outdir, name);
	/* a temporary folder, in the cleanup registry until it is renamed into place */
	struct od_out_dir d;
	int rc = od_dir_open(&d, final);
	if (rc)
		return rc;
	snprintf(sub, sizeof sub, "%s/transformer", d.tmp);
	if (mkdir(sub, 0777) != 0)
		rc = od_error(OD_EIO, "'%s': cannot create: %s", sub, strerror(errno));
	snprintf(file, sizeof file, "%s/config.json", sub);
	if (!rc)
		rc = write_file_synced(file, mo->config, mo->config_len);
	snprintf(file, sizeof file, "%s/diffusion_pytorch_model.safetensors", sub);
	if (!rc)
		rc = write_weights(file, mo);
	if (!rc && mo->base)
		rc = link_components(mo->base, d.tmp);
	snprintf(file, sizeof file, "%s/%s", d.tmp, OD_TRAIN_STATE_FILE);
	if (!rc && mo->state)
		rc = od_train_state_write(file, mo->state, &mo->t);
	if (!rc && !(rc = sync_dir(sub)))
		rc = sync_dir(d.tmp);
	if (rc) {
		od_dir_abort(&d);
		return rc;
	}
	/* an earlier folder of the same name (a run resumed from further back)
	 * steps aside first, and goes only once the new one is in place */
	if ((rc = od_dir_commit(&d)))
		return rc;
	return sync_dir(outdir);
}

int od_train_set_latest(const char *outdir, const char *name)
{
	char final[PATH_MAX];
	snprintf(final, sizeof final, "%s/latest", outdir);
	int rc = od_symlink_replace(name, final);
	return rc ? rc : sync_dir(outdir);
}

void od_train_step_name(int64_t step, char *buf, size_t size)
{
	snprintf(buf, size, "step-%07" PRId64, step);
}

static int step_of(const char *name, int64_t *step)
{
	if (strncmp(name, "step-", 5) || !name[5])
		return 0;
	int64_t s = 0;
	for (const char *p = name + 5; *p; p++) {
		if (*p < '0' || *p > '9' || s > INT64_MAX / 10 - 10)
			return 0;
		s = s * 10 + (*p - '0');
	}
	*step = s;
	return 1;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int od_train_prune(const char *outdir, int keep, int64_t every, int64_t upto)
{
	if (keep <= 0)
		return OD_OK;
	DIR *d = opendir(outdir);
	if (!d)
		return od_error(OD_EIO, "'%s': cannot open folder: %s", outdir, strerror(errno));
	int64_t *steps = NULL;
	int n = 0, cap = 0, rc = OD_OK;
	struct dirent *e;
	while ((e = readdir(d))) {
		int64_t s;
		if (!step_of(e->d_name, &s) || s > upto || (every > 0 && s % every == 0))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			int64_t *ns = realloc(steps, (size_t)cap * sizeof *ns);
			if (!ns) {
				rc = od_error(OD_ENOMEM, "out of memory");
				break;
			}
			steps = ns;
		}
		steps[n++] = s;
	}
	closedir(d);
	if (!rc && n > keep) {
		qsort(steps, (size_t)n, sizeof *steps, cmp_i64);
		for (int i = 0; !rc && i < n - keep; i++) {
			char name[64], path[PATH_MAX];
			od_train_step_name(steps[i], name, sizeof name);
			snprintf(path, sizeof path, "%s/%s", outdir, name);
			rc = od_tree_discard(path);
		}
	}
	free(steps);
	return rc;
}

int od_train_resume_find(const char *path, char **ckpt)
{
	char *state = od_path_join(path, OD_TRAIN_STATE_FILE);
	if (!state)
		return od_error(OD_ENOMEM, "out of memory");
	int here = od_is_file(state);
	free(state);
	if (here) {
		*ckpt = strdup(path);
	} else {
		char *latest = od_path_join(path, "latest");
		char *ls = latest ? od_path_join(latest, OD_TRAIN_STATE_FILE) : NULL;
		int there = ls && od_is_file(ls);
		free(ls);
		if (!there) {
			free(latest);
			if (!od_is_dir(path))
				return od_error(OD_EIO, "'%s': no such folder", path);
			return od_error(OD_EINVAL, "'%s': no checkpoint to resume (neither %s nor latest/%s)", path,
					OD_TRAIN_STATE_FILE, OD_TRAIN_STATE_FILE);
		}
		*ckpt = latest;
	}
	return *ckpt ? OD_OK : od_error(OD_ENOMEM, "out of memory");
}
