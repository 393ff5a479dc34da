/* safetensors.c: the .safetensors reader and writer (see safetensors.h). */
#include "formats/safetensors.h"
#include "base/error.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cmp_tensor_name(const void *a, const void *b)
{
	return strcmp(((const struct od_tensor *)a)->name, ((const struct od_tensor *)b)->name);
}

static int parse_entry(struct od_tensor *t, const char *key, json_t *v, const char *data, size_t data_len,
		       const char *label)
{
	if (!json_is_object(v))
		return od_error(OD_EFORMAT, "'%s': tensor '%s': entry is not an object", label, key);
	json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
	       *jo = json_object_get(v, "data_offsets");
	if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) || json_array_size(jo) != 2)
		return od_error(OD_EFORMAT, "'%s': tensor '%s': needs dtype, shape and data_offsets", label, key);
	if (od_dtype_parse(json_string_value(jd), &t->dtype) != 0)
		return od_error(OD_EFORMAT, "'%s': tensor '%s': unknown dtype '%s'", label, key, json_string_value(jd));
	size_t nd = json_array_size(js);
	if (nd > OD_MAX_DIMS)
		return od_error(OD_EFORMAT, "'%s': tensor '%s': %zu dimensions (at most %d)", label, key, nd, OD_MAX_DIMS);
	t->ndim = (int)nd;
	uint64_t numel = 1;
	for (size_t i = 0; i < nd; i++) {
		json_t *d = json_array_get(js, i);
		if (!json_is_integer(d) || json_integer_value(d) < 0)
			return od_error(OD_EFORMAT, "'%s': tensor '%s': bad shape", label, key);
		uint64_t di = (uint64_t)json_integer_value(d);
		if (di && numel > UINT64_MAX / 16 / di)
			return od_error(OD_EFORMAT, "'%s': tensor '%s': shape too large", label, key);
		numel *= di;
		t->shape[i] = (int64_t)di;
	}
	json_t *b = json_array_get(jo, 0), *e = json_array_get(jo, 1);
	if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
	    json_integer_value(e) < json_integer_value(b))
		return od_error(OD_EFORMAT, "'%s': tensor '%s': bad data_offsets", label, key);
	uint64_t ob = (uint64_t)json_integer_value(b), oe = (uint64_t)json_integer_value(e);
	if (oe > data_len)
		return od_error(OD_EFORMAT, "'%s': tensor '%s': data beyond the end of the file (truncated?)", label, key);
	if (oe - ob != numel * od_dtype_size(t->dtype))
		return od_error(OD_EFORMAT, "'%s': tensor '%s': %llu bytes of data for a shape needing %llu", label, key,
				(unsigned long long)(oe - ob), (unsigned long long)(numel * od_dtype_size(t->dtype)));
	t->data = data + ob;
	t->nbytes = (size_t)(oe - ob);
	return OD_OK;
}

int od_st_parse(struct od_safetensors *st, const void *buf, size_t len, const char *label)
{
	const unsigned char *p = buf;
	struct od_map keep = st->map;
	char *keep_path = st->path;
	memset(st, 0, sizeof *st);
	st->map = keep;
	st->path = keep_path;
	if (len < 8)
		return od_error(OD_EFORMAT, "'%s': too short for a safetensors file", label);
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = (n << 8) | p[i];
	if (n > OD_ST_MAX_HEADER || n > len - 8)
		return od_error(OD_EFORMAT, "'%s': header length %llu does not fit the file (truncated or not safetensors)",
				label, (unsigned long long)n);
	json_error_t jerr;
	json_t *root = json_loadb((const char *)p + 8, (size_t)n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root)
		return od_error(OD_EFORMAT, "'%s': bad header JSON: %s", label, jerr.text);
	int rc = OD_OK;
	if (!json_is_object(root)) {
		rc = od_error(OD_EFORMAT, "'%s': header is not a JSON object", label);
		goto out;
	}
	const char *data = (const char *)p + 8 + n;
	size_t data_len = len - 8 - (size_t)n;
	size_t count = json_object_size(root), strbytes = 0;
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		strbytes += strlen(key) + 1;
		if (!strcmp(key, "__metadata__") && json_is_object(v)) {
			const char *mk;
			json_t *mv;
			json_object_foreach(v, mk, mv) {
				if (!json_is_string(mv)) {
					rc = od_error(OD_EFORMAT, "'%s': metadata '%s' is not a string", label, mk);
					goto out;
				}
			}
		}
	}
	st->tensors = calloc(count ? count : 1, sizeof *st->tensors);
	st->strings = malloc(strbytes ? strbytes : 1);
	if (!st->tensors || !st->strings) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto out;
	}
	char *sp = st->strings;
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "__metadata__")) {
			if (!json_is_object(v)) {
				rc = od_error(OD_EFORMAT, "'%s': __metadata__ is not an object", label);
				goto out;
			}
			size_t nm = json_object_size(v);
			st->meta = calloc(nm ? nm : 1, sizeof *st->meta);
			if (!st->meta) {
				rc = od_error(OD_ENOMEM, "out of memory");
				goto out;
			}
			const char *mk;
			json_t *mv;
			json_object_foreach(v, mk, mv) {
				st->meta[st->n_meta].key = strdup(mk);
				st->meta[st->n_meta].value = strdup(json_string_value(mv));
				if (!st->meta[st->n_meta].key || !st->meta[st->n_meta].value) {
					st->n_meta++;
					rc = od_error(OD_ENOMEM, "out of memory");
					goto out;
				}
				st->n_meta++;
			}
			continue;
		}
		struct od_tensor *t = &st->tensors[st->n_tensors];
		size_t kl = strlen(key) + 1;
		memcpy(sp, key, kl);
		t->name = sp;
		sp += kl;
		rc = parse_entry(t, key, v, data, data_len, label);
		if (rc)
			goto out;
		st->n_tensors++;
	}
	qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_tensor_name);
out:
	json_decref(root);
	if (rc) {
		struct od_map m = st->map;
		char *path = st->path;
		st->map = (struct od_map){ 0 };
		st->path = NULL;
		od_st_close(st);
		st->map = m;
		st->path = path;
	}
	return rc;
}

int od_st_open(struct od_safetensors *st, const char *path)
{
	memset(st, 0, sizeof *st);
	int rc = od_map_file(&st->map, path);
	if (rc)
		return rc;
	st->path = strdup(path);
	if (!st->path) {
		od_unmap(&st->map);
		return od_error(OD_ENOMEM, "out of memory");
	}
	rc = od_st_parse(st, st->map.data, st->map.len, path);
	if (rc) {
		od_unmap(&st->map);
		free(st->path);
		st->path = NULL;
	}
	return rc;
}

void od_st_close(struct od_safetensors *st)
{
	for (int i = 0; i < st->n_meta; i++) {
		free(st->meta[i].key);
		free(st->meta[i].value);
	}
	free(st->meta);
	free(st->tensors);
	free(st->strings);
	free(st->path);
	od_unmap(&st->map);
	memset(st, 0, sizeof *st);
}

const struct od_tensor *od_st_find(const struct od_safetensors *st, const char *name)
{
	struct od_tensor key = { .name = name };
	if (!st->n_tensors)
		return NULL;
	return bsearch(&key, st->tensors, (size_t)st->n_tensors, sizeof key, cmp_tensor_name);
}

const char *od_st_meta(const struct od_safetensors *st, const char *key)
{
	for (int i = 0; i < st->n_meta; i++)
		if (!strcmp(st->meta[i].key, key))
			return st->meta[i].value;
	return NULL;
}

/* ------------------------------------------------------------------ writer */

struct wtensor {
	char *name;
	enum od_dtype dtype;
	int ndim;
	int64_t shape[OD_MAX_DIMS];
	const void *data;
	size_t nbytes;
};

struct od_st_writer {
	struct wtensor *t;
	int n, cap;
	json_t *meta;
};

struct od_st_writer *od_st_writer_new(void)
{
	struct od_st_writer *w = calloc(1, sizeof *w);
	if (w)
		w->meta = json_object();
	if (!w || !w->meta) {
		free(w);
		od_error(OD_ENOMEM, "out of memory");
		return NULL;
	}
	return w;
}

void od_st_writer_free(struct od_st_writer *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->n; i++)
		free(w->t[i].name);
	free(w->t);
	json_decref(w->meta);
	free(w);
}

int od_st_writer_add(struct od_st_writer *w, const char *name, enum od_dtype dtype, int ndim,
		     const int64_t *shape, const void *data)
{
	if (ndim < 0 || ndim > OD_MAX_DIMS)
		return od_error(OD_EINVAL, "tensor '%s': %d dimensions", name, ndim);
	if (w->n == w->cap) {
		int cap = w->cap ? w->cap * 2 : 16;
		struct wtensor *nt = realloc(w->t, (size_t)cap * sizeof *nt);
		if (!nt)
			return od_error(OD_ENOMEM, "out of memory");
		w->t = nt;
		w->cap = cap;
	}
	struct wtensor *t = &w->t[w->n];
	memset(t, 0, sizeof *t);
	t->name = strdup(name);
	if (!t->name)
		return od_error(OD_ENOMEM, "out of memory");
	t->dtype = dtype;
	t->ndim = ndim;
	size_t numel = 1;
	for (int i = 0; i < ndim; i++) {
		t->shape[i] = shape[i];
		numel *= (size_t)shape[i];
	}
	t->data = data;
	t->nbytes = numel * od_dtype_size(dtype);
	w->n++;
	return OD_OK;
}

int od_st_writer_meta(struct od_st_writer *w, const char *key, const char *value)
{
	if (json_object_set_new(w->meta, key, json_string(value)) != 0)
		return od_error(OD_EINVAL, "metadata '%s': not valid UTF-8", key);
	return OD_OK;
}

static int cmp_wtensor(const void *a, const void *b)
{
	return strcmp(((const struct wtensor *)a)->name, ((const struct wtensor *)b)->name);
}

int od_st_writer_write(struct od_st_writer *w, struct od_out *out, od_st_fill_fn fill, void *user)
{
	qsort(w->t, (size_t)w->n, sizeof *w->t, cmp_wtensor);
	json_t *root = json_object();
	if (!root)
		return od_error(OD_ENOMEM, "out of memory");
	if (json_object_size(w->meta))
		json_object_set(root, "__metadata__", w->meta);
	size_t off = 0;
	for (int i = 0; i < w->n; i++) {
		struct wtensor *t = &w->t[i];
		json_t *e = json_object(), *shape = json_array(), *offs = json_array();
		for (int d = 0; d < t->ndim; d++)
			json_array_append_new(shape, json_integer(t->shape[d]));
		json_array_append_new(offs, json_integer((json_int_t)off));
		json_array_append_new(offs, json_integer((json_int_t)(off + t->nbytes)));
		json_object_set_new(e, "dtype", json_string(od_dtype_name(t->dtype)));
		json_object_set_new(e, "shape", shape);
		json_object_set_new(e, "data_offsets", offs);
		if (json_object_set_new(root, t->name, e) != 0) {
			json_decref(root);
			return od_error(OD_EINVAL, "tensor name '%s' is not valid UTF-8", t->name);
		}
		off += t->nbytes;
	}
	char *js = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	if (!js)
		return od_error(OD_ENOMEM, "out of memory");
	size_t hl = strlen(js), padded = (hl + 7) & ~(size_t)7;
	unsigned char len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
	int rc = od_out_write(out, len8, 8);
	if (!rc)
		rc = od_out_write(out, js, hl);
	if (!rc && padded > hl)
		rc = od_out_write(out, "        ", padded - hl);
	free(js);
	char *chunk = NULL;
	const size_t chunk_bytes = 16u << 20;
	for (int i = 0; !rc && i < w->n; i++) {
		struct wtensor *t = &w->t[i];
		if (t->data) {
			rc = od_out_write(out, t->data, t->nbytes);
			continue;
		}
		if (!fill) {
			rc = od_error(OD_EINVAL, "tensor '%s' has no data", t->name);
			break;
		}
		if (!chunk && !(chunk = malloc(chunk_bytes))) {
			rc = od_error(OD_ENOMEM, "out of memory");
			break;
		}
		size_t es = od_dtype_size(t->dtype), total = t->nbytes / es, per = chunk_bytes / es;
		for (size_t first = 0; !rc && first < total; first += per) {
			size_t cnt = total - first < per ? total - first : per;
			rc = fill(user, t->name, t->dtype, first, cnt, chunk);
			if (!rc)
				rc = od_out_write(out, chunk, cnt * es);
		}
	}
	free(chunk);
	return rc;
}
