/* checkpoint.c: Hugging Face component folders (see checkpoint.h). */
#include "formats/checkpoint.h"
#include "base/error.h"
#include "base/io.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

static int open_file(struct od_component *c, const char *path)
{
	struct od_safetensors *nf = realloc(c->files, (size_t)(c->n_files + 1) * sizeof *nf);
	if (!nf)
		return od_error(OD_ENOMEM, "out of memory");
	c->files = nf;
	int rc = od_st_open(&c->files[c->n_files], path);
	if (rc)
		return rc == OD_EFORMAT ? OD_EMODEL : rc;
	c->n_files++;
	return OD_OK;
}

int od_st_index_shards(json_t *idx, const char *label, const char ***names, int *n)
{
	*names = NULL;
	*n = 0;
	json_t *map = json_object_get(idx, "weight_map");
	if (!json_is_object(map))
		return od_error(OD_EMODEL, "'%s': no \"weight_map\" object", label);
	const char *key;
	json_t *v;
	const char **seen = NULL;
	int n_seen = 0, rc = OD_OK;
	json_object_foreach(map, key, v) {
		if (!json_is_string(v)) {
			rc = od_error(OD_EMODEL, "'%s': weight_map entry '%s' is not a file name", label, key);
			break;
		}
		const char *fname = json_string_value(v);
		if (!*fname || strchr(fname, '/') || !strcmp(fname, ".") || !strcmp(fname, "..") ||
		    strlen(fname) != json_string_length(v)) {
			rc = od_error(OD_EMODEL, "'%s': shard name '%s' leaves the folder", label, fname);
			break;
		}
		int dup = 0;
		for (int i = 0; i < n_seen && !dup; i++)
			dup = !strcmp(seen[i], fname);
		if (dup)
			continue;
		const char **ns = realloc(seen, (size_t)(n_seen + 1) * sizeof *ns);
		if (!ns) {
			rc = od_error(OD_ENOMEM, "out of memory");
			break;
		}
		seen = ns;
		seen[n_seen++] = fname;
	}
	if (rc) {
		free(seen);
		return rc;
	}
	*names = seen;
	*n = n_seen;
	return OD_OK;
}

/* Sharded weights: every distinct file named in weight_map, in first-seen order. */
static int open_index(struct od_component *c, const char *index_path)
{
	json_t *idx;
	int rc = od_json_load(index_path, &idx);
	if (rc)
		return rc;
	const char **shards;
	int n_shards;
	if ((rc = od_st_index_shards(idx, index_path, &shards, &n_shards))) {
		json_decref(idx);
		return rc;
	}
	for (int i = 0; !rc && i < n_shards; i++) {
		char *path = od_path_join(c->dir, shards[i]);
		rc = path ? open_file(c, path) : od_error(OD_ENOMEM, "out of memory");
		free(path);
	}
	/* Every name the index promises must be in the shard it names. */
	const char *key;
	json_t *v;
	if (!rc) {
		json_object_foreach(json_object_get(idx, "weight_map"), key, v) {
			if (!od_component_find(c, key)) {
				rc = od_error(OD_EMODEL, "'%s': tensor '%s' is listed but missing from '%s'", index_path, key,
					      json_string_value(v));
				break;
			}
		}
	}
	free(shards);
	json_decref(idx);
	return rc;
}

static int open_weights(struct od_component *c, const char *variant)
{
	DIR *d = opendir(c->dir);
	if (!d)
		return od_error(OD_EMODEL, "'%s': cannot open folder: %s", c->dir, strerror(errno));
	char *index = NULL, *single = NULL, *preferred = NULL;
	int n_plain = 0;
	struct dirent *e;
	char want1[256] = "", want2[256] = "";
	if (variant) {
		snprintf(want1, sizeof want1, "diffusion_pytorch_model.%s.safetensors", variant);
		snprintf(want2, sizeof want2, "model.%s.safetensors", variant);
	} else {
		snprintf(want1, sizeof want1, "diffusion_pytorch_model.safetensors");
		snprintf(want2, sizeof want2, "model.safetensors");
	}
	char want_idx1[300], want_idx2[300];
	snprintf(want_idx1, sizeof want_idx1, "%s.index.json", want1);
	snprintf(want_idx2, sizeof want_idx2, "%s.index.json", want2);
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		if (!strcmp(n, want_idx1) || !strcmp(n, want_idx2)) {
			free(index);
			index = strdup(n);
		} else if (!strcmp(n, want1) || !strcmp(n, want2)) {
			free(preferred);
			preferred = strdup(n);
		} else if (ends_with(n, ".safetensors")) {
			n_plain++;
			free(single);
			single = strdup(n);
		}
	}
	closedir(d);
	int rc;
	char *path = NULL;
	if (index) {
		path = od_path_join(c->dir, index);
		rc = path ? open_index(c, path) : od_error(OD_ENOMEM, "out of memory");
	} else if (preferred || (!variant && n_plain == 1)) {
		path = od_path_join(c->dir, preferred ? preferred : single);
		rc = path ? open_file(c, path) : od_error(OD_ENOMEM, "out of memory");
	} else if (variant) {
		rc = od_error(OD_EMODEL, "'%s': no weights for variant '%s'", c->dir, variant);
	} else if (n_plain == 0) {
		rc = od_error(OD_EMODEL, "'%s': no *.safetensors weights", c->dir);
	} else {
		rc = od_error(OD_EMODEL, "'%s': several *.safetensors files and no index; choose a variant", c->dir);
	}
	free(path);
	free(index);
	free(single);
	free(preferred);
	return rc;
}

int od_component_open(struct od_component *c, const char *model_dir, const char *sub,
		      const char *config_name, int with_weights, const char *variant)
{
	memset(c, 0, sizeof *c);
	if (!od_is_dir(model_dir))
		return od_error(OD_EMODEL, "'%s': no such model folder", model_dir);
	c->dir = od_path_join(model_dir, sub);
	c->name = strdup(sub);
	if (!c->dir || !c->name) {
		od_component_close(c);
		return od_error(OD_ENOMEM, "out of memory");
	}
	if (!od_is_dir(c->dir)) {
		int rc = od_error(OD_EMODEL, "'%s': missing component folder '%s'", model_dir, sub);
		od_component_close(c);
		return rc;
	}
	char *cfg = od_path_join(c->dir, config_name);
	int rc = cfg ? od_json_load(cfg, &c->config) : od_error(OD_ENOMEM, "out of memory");
	free(cfg);
	if (!rc && with_weights)
		rc = open_weights(c, variant);
	if (rc)
		od_component_close(c);
	return rc;
}

void od_component_close(struct od_component *c)
{
	for (int i = 0; i < c->n_files; i++)
		od_st_close(&c->files[i]);
	free(c->files);
	json_decref(c->config);
	free(c->dir);
	free(c->name);
	memset(c, 0, sizeof *c);
}

const struct od_tensor *od_component_find(const struct od_component *c, const char *name)
{
	for (int i = 0; i < c->n_files; i++) {
		const struct od_tensor *t = od_st_find(&c->files[i], name);
		if (t)
			return t;
	}
	return NULL;
}

int od_component_get(const struct od_component *c, const char *name, int ndim, const int64_t *shape,
		     const struct od_tensor **out)
{
	const struct od_tensor *t = od_component_find(c, name);
	char a[128], b[128];
	if (!t)
		return od_error(OD_EMODEL, "'%s': tensor '%s' is missing", c->dir, name);
	if (t->dtype != OD_F32 && t->dtype != OD_F16 && t->dtype != OD_BF16)
		return od_error(OD_EMODEL, "'%s': tensor '%s' is %s (F32, F16 or BF16 expected)", c->dir, name,
				od_dtype_name(t->dtype));
	int same = t->ndim == ndim;
	for (int i = 0; same && i < ndim; i++)
		same = t->shape[i] == shape[i];
	if (!same)
		return od_error(OD_EMODEL, "'%s': tensor '%s' has shape %s, the config implies %s", c->dir, name,
				od_shape_str(a, sizeof a, t->ndim, t->shape), od_shape_str(b, sizeof b, ndim, shape));
	*out = t;
	return OD_OK;
}

struct resolve_state {
	const struct od_component *c;
	const struct od_tensor **list;
	int n, cap, rc;
};

static int resolve_cb(void *user, const char *name, int ndim, const int64_t *shape)
{
	struct resolve_state *s = user;
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 64;
		const struct od_tensor **nl = realloc(s->list, (size_t)cap * sizeof *nl);
		if (!nl)
			return s->rc = od_error(OD_ENOMEM, "out of memory");
		s->list = nl;
		s->cap = cap;
	}
	s->rc = od_component_get(s->c, name, ndim, shape, &s->list[s->n]);
	if (!s->rc)
		s->n++;
	return s->rc;
}

int od_component_resolve(const struct od_component *c,
			 int (*spec)(const void *cfg, od_spec_cb cb, void *user), const void *cfg,
			 const struct od_tensor ***out, int *n)
{
	struct resolve_state s = { .c = c };
	int rc = spec(cfg, resolve_cb, &s);
	if (s.rc)
		rc = s.rc;
	if (rc) {
		free(s.list);
		return rc;
	}
	*out = s.list;
	*n = s.n;
	return OD_OK;
}

struct count_state {
	int64_t params;
	int tensors;
};

static int count_cb(void *user, const char *name, int ndim, const int64_t *shape)
{
	struct count_state *s = user;
	int64_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= shape[i];
	s->params += n;
	s->tensors++;
	return 0;
}

int od_spec_count(int (*spec)(const void *cfg, od_spec_cb cb, void *user), const void *cfg,
		  int64_t *params, int *tensors)
{
	struct count_state s = { 0, 0 };
	int rc = spec(cfg, count_cb, &s);
	*params = s.params;
	if (tensors)
		*tensors = s.tensors;
	return rc;
}
