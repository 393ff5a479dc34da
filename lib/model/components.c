/* components.c: generic access to a checkpoint's components (see components.h). */
#include "model/components.h"
#include "base/error.h"
#include "base/io.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int parse_nextdit(json_t *j, void *out, const char *label) { return od_nextdit_config_parse(j, out, label); }
static int parse_vae(json_t *j, void *out, const char *label) { return od_vae_config_parse(j, out, label); }
static int parse_t5(json_t *j, void *out, const char *label) { return od_t5_config_parse(j, out, label); }

const struct od_component_kind od_component_kinds[3] = {
	{ "transformer", "diffusion_pytorch_model.safetensors", parse_nextdit, od_nextdit_spec },
	{ "vae", "diffusion_pytorch_model.safetensors", parse_vae, od_vae_spec },
	{ "text_encoder", "model.safetensors", parse_t5, od_t5_spec },
};

int od_component_config(const struct od_component_kind *k, const char *model_dir, union od_any_config *cfg)
{
	struct od_component c;
	int rc = od_component_open(&c, model_dir, k->name, "config.json", 0, NULL);
	if (rc)
		return rc;
	char label[1024];
	snprintf(label, sizeof label, "%s/config.json", c.dir);
	rc = k->parse(c.config, cfg, label);
	od_component_close(&c);
	return rc;
}

/* ---- random weights */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t hash_name(const char *s, uint64_t seed)
{
	uint64_t h = 1469598103934665603ull ^ seed;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

struct shape_entry {
	char *name;
	int ndim;
	int64_t shape[4];
};

struct random_state {
	struct shape_entry *e;
	int n, cap;
	uint64_t seed;
	struct od_st_writer *w;
	float *buf;
	size_t buf_len;
};

static int collect(void *user, const char *name, int ndim, const int64_t *shape)
{
	struct random_state *s = user;
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 64;
		struct shape_entry *ne = realloc(s->e, (size_t)cap * sizeof *ne);
		if (!ne)
			return od_error(OD_ENOMEM, "out of memory");
		s->e = ne;
		s->cap = cap;
	}
	struct shape_entry *e = &s->e[s->n];
	if (!(e->name = strdup(name)))
		return od_error(OD_ENOMEM, "out of memory");
	e->ndim = ndim;
	memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
	s->n++;
	return 0;
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

/* Values depend on (seed, name, element index) only, so chunking never changes
 * them: element i uses the i-th pair of a per-tensor splitmix stream. */
static int fill(void *user, const char *name, enum od_dtype dtype, size_t first, size_t count, void *out)
{
	struct random_state *s = user;
	const struct shape_entry *e = NULL;
	for (int i = 0; i < s->n && !e; i++)
		if (!strcmp(s->e[i].name, name))
			e = &s->e[i];
	if (!e)
		return od_error(OD_EFAIL, "tensor '%s' not in the spec", name);
	double std, mean = 0;
	if (e->ndim >= 2) {
		int64_t fan_in = 1;
		for (int d = 1; d < e->ndim; d++)
			fan_in *= e->shape[d];
		std = 1.0 / sqrt((double)fan_in);
	} else if (ends_with(name, "bias") || ends_with(name, ".gate")) {
		std = 0.02;
	} else {
		mean = 1.0, std = 0.02;
	}
	if (s->buf_len < count) {
		free(s->buf);
		s->buf = malloc(count * sizeof *s->buf);
		s->buf_len = s->buf ? count : 0;
		if (!s->buf)
			return od_error(OD_ENOMEM, "out of memory");
	}
	uint64_t base = hash_name(name, s->seed);
	for (size_t i = 0; i < count; i++) {
		uint64_t st = base + (first + i) * 0x9e3779b97f4a7c15ull * 2;
		double u1 = ((double)(splitmix(&st) >> 11) + 0.5) * 0x1p-53, u2 = (double)(splitmix(&st) >> 11) * 0x1p-53;
		s->buf[i] = (float)(mean + std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
	}
	od_from_f32(out, s->buf, dtype, count);
	return OD_OK;
}

static int copy_file(struct od_out_group *g, const char *src, const char *dst)
{
	char *data;
	size_t len;
	int rc = od_read_file(src, (size_t)1 << 30, &data, &len);
	if (rc)
		return rc;
	struct od_out *o;
	if (!(rc = od_group_open(g, dst, &o)) && !(rc = od_out_write(o, data, len)))
		rc = od_group_finish(g, o);
	free(data);
	return rc;
}

static int copy_tree(struct od_out_group *g, const char *src, const char *dst, int skip_weights)
{
	DIR *d = opendir(src);
	if (!d)
		return od_error(OD_EIO, "'%s': cannot open folder: %s", src, strerror(errno));
	int rc = od_group_mkdir(g, dst);
	if (rc) {
		closedir(d);
		return rc;
	}
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (skip_weights && (ends_with(e->d_name, ".safetensors") || ends_with(e->d_name, ".safetensors.index.json")))
			continue;
		char *s = od_path_join(src, e->d_name), *t = od_path_join(dst, e->d_name);
		if (!s || !t)
			rc = od_error(OD_ENOMEM, "out of memory");
		else if (od_is_dir(s))
			rc = copy_tree(g, s, t, skip_weights);
		else
			rc = copy_file(g, s, t);
		free(s);
		free(t);
	}
	closedir(d);
	return rc;
}

int od_model_write_random(const char *model_in, const char *model_out, enum od_dtype dtype, uint64_t seed)
{
	/* Every file (and the folders made for them) is one group: a failure, or a
	 * signal, anywhere leaves no partial model behind (base/io.h). */
	struct od_out_group g;
	od_group_init(&g);
	/* Configs, tokenizer, scheduler and model_index.json come along unchanged. */
	int rc = copy_tree(&g, model_in, model_out, 1);
	for (int k = 0; !rc && k < 3; k++) {
		const struct od_component_kind *kind = &od_component_kinds[k];
		char *dir = od_path_join(model_in, kind->name);
		int present = dir && od_is_dir(dir);
		free(dir);
		if (!present)
			continue;
		union od_any_config cfg;
		if ((rc = od_component_config(kind, model_in, &cfg)))
			break;
		struct random_state s = { .seed = seed + (uint64_t)k };
		if (!(s.w = od_st_writer_new())) {
			rc = od_error(OD_ENOMEM, "out of memory");
			break;
		}
		rc = kind->spec(&cfg, collect, &s);
		for (int i = 0; !rc && i < s.n; i++)
			rc = od_st_writer_add(s.w, s.e[i].name, dtype, s.e[i].ndim, s.e[i].shape, NULL);
		char *odir = od_path_join(model_out, kind->name), *path = odir ? od_path_join(odir, kind->weights) : NULL;
		struct od_out *o;
		if (!rc && !path)
			rc = od_error(OD_ENOMEM, "out of memory");
		if (!rc && !(rc = od_group_open(&g, path, &o)) && !(rc = od_st_writer_write(s.w, o, fill, &s)))
			rc = od_group_finish(&g, o);
		free(odir);
		free(path);
		for (int i = 0; i < s.n; i++)
			free(s.e[i].name);
		free(s.e);
		free(s.buf);
		od_st_writer_free(s.w);
	}
	if (!rc)
		rc = od_group_commit(&g);
	else
		od_group_abort(&g);
	return rc;
}
