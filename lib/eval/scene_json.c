/*
 * scene_json.c: the scene-set files od-eval reads (scene_json.h), with jansson.
 * Unknown fields are ignored (the writer may add more); every field that is
 * read is type- and range-checked with a message naming it.
 */
#include "eval/scene_json.h"
#include "base/error.h"
#include "formats/config.h"
#include "base/io.h"
#include "scene/scene.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const od_eval_relation_names[OD_EVAL_REL_COUNT] = { "left of", "right of", "above", "below", "in front of",
						       "behind" };

void od_eval_scene_free(struct od_eval_scene *s)
{
	free(s->palette);
	free(s->objects);
	free(s->relations);
	memset(s, 0, sizeof *s);
}

static int load(const char *text, size_t len, const char *label, json_t **root)
{
	return od_json_object(text, len, label, OD_EFORMAT, root);
}

/* "format" and "version", when present, must be these. */
static int check_header(json_t *root, const char *label, const char *format)
{
	json_t *f = json_object_get(root, "format"), *v = json_object_get(root, "version");
	if (f && (!json_is_string(f) || strcmp(json_string_value(f), format)))
		return od_error(OD_EFORMAT, "'%s': format is not \"%s\"", label, format);
	if (v && (!json_is_integer(v) || json_integer_value(v) != 1))
		return od_error(OD_EFORMAT, "'%s': version is not 1 (this reader knows version 1)", label);
	return OD_OK;
}

/* An optional positive integer field; 0 when absent. */
static int opt_size(json_t *root, const char *key, int *out, const char *label)
{
	json_t *v = json_object_get(root, key);
	*out = 0;
	if (!v)
		return OD_OK;
	if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 1 << 20)
		return od_error(OD_EFORMAT, "'%s': %s is not a positive integer", label, key);
	*out = (int)json_integer_value(v);
	return OD_OK;
}

/* A short string field (absent: "" unless required). */
static int get_str(json_t *o, const char *key, char *out, size_t size, int required, const char *label,
		   const char *what, int i)
{
	json_t *v = json_object_get(o, key);
	out[0] = 0;
	if (!v) {
		if (required)
			return od_error(OD_EFORMAT, "'%s': %s[%d] has no \"%s\"", label, what, i, key);
		return OD_OK;
	}
	if (!json_is_string(v))
		return od_error(OD_EFORMAT, "'%s': %s[%d].%s is not a string", label, what, i, key);
	size_t n = json_string_length(v);
	if (n == 0 || n >= size || strlen(json_string_value(v)) != n)
		return od_error(OD_EFORMAT, "'%s': %s[%d].%s is empty, too long or holds a NUL", label, what, i, key);
	memcpy(out, json_string_value(v), n + 1);
	return OD_OK;
}

static int get_id(json_t *o, const char *key, int *out, const char *label, const char *what, int i)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return od_error(OD_EFORMAT, "'%s': %s[%d] has no \"%s\"", label, what, i, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1 << 30)
		return od_error(OD_EFORMAT, "'%s': %s[%d].%s is not an integer >= 0", label, what, i, key);
	*out = (int)json_integer_value(v);
	return OD_OK;
}

static int parse_palette(json_t *root, const char *label, struct od_eval_scene *s)
{
	json_t *pal = json_object_get(root, "palette");
	if (!pal)
		return OD_OK;
	if (!json_is_object(pal))
		return od_error(OD_EFORMAT, "'%s': palette is not an object", label);
	size_t n = json_object_size(pal);
	if (n > OD_EVAL_MAX_PALETTE)
		return od_error(OD_EFORMAT, "'%s': palette has %zu colours (at most %d)", label, n,
				OD_EVAL_MAX_PALETTE);
	s->palette = calloc(n ? n : 1, sizeof *s->palette);
	if (!s->palette)
		return od_error(OD_ENOMEM, "out of memory");
	const char *key;
	json_t *val;
	json_object_foreach(pal, key, val) {
		struct od_eval_colour *c = &s->palette[s->n_palette];
		size_t kl = strlen(key);
		if (kl == 0 || kl >= sizeof c->name)
			return od_error(OD_EFORMAT, "'%s': palette has an empty or over-long colour name", label);
		memcpy(c->name, key, kl + 1);
		if (!json_is_array(val) || json_array_size(val) != 3)
			return od_error(OD_EFORMAT, "'%s': palette.%s is not [r, g, b]", label, key);
		for (int k = 0; k < 3; k++) {
			json_t *e = json_array_get(val, (size_t)k);
			if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 255)
				return od_error(OD_EFORMAT, "'%s': palette.%s is not [r, g, b] of integers 0..255",
						label, key);
			c->rgb[k] = (uint8_t)json_integer_value(e);
		}
		s->n_palette++;
	}
	return OD_OK;
}

static int parse_objects(json_t *root, const char *label, struct od_eval_scene *s)
{
	json_t *objs = json_object_get(root, "objects");
	if (!objs)
		return OD_OK;
	if (!json_is_array(objs))
		return od_error(OD_EFORMAT, "'%s': objects is not an array", label);
	size_t n = json_array_size(objs);
	if (n > OD_EVAL_MAX_OBJECTS)
		return od_error(OD_EFORMAT, "'%s': %zu objects (at most %d)", label, n, OD_EVAL_MAX_OBJECTS);
	s->objects = calloc(n ? n : 1, sizeof *s->objects);
	if (!s->objects)
		return od_error(OD_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(objs, i);
		struct od_eval_object *ob = &s->objects[i];
		char colour[64];
		int rc;
		if (!json_is_object(o))
			return od_error(OD_EFORMAT, "'%s': objects[%zu] is not an object", label, i);
		if ((rc = get_id(o, "id", &ob->id, label, "objects", (int)i)) ||
		    (rc = get_str(o, "colour", colour, sizeof colour, 1, label, "objects", (int)i)) ||
		    (rc = get_str(o, "shape", ob->shape, sizeof ob->shape, 0, label, "objects", (int)i)) ||
		    (rc = get_str(o, "size", ob->size, sizeof ob->size, 0, label, "objects", (int)i)))
			return rc;
		for (size_t j = 0; j < i; j++)
			if (s->objects[j].id == ob->id)
				return od_error(OD_EFORMAT, "'%s': objects[%zu].id %d is used twice", label, i, ob->id);
		ob->colour = -1;
		for (int k = 0; k < s->n_palette; k++)
			if (!strcmp(s->palette[k].name, colour))
				ob->colour = k;
		if (ob->colour < 0)
			return od_error(OD_EFORMAT, "'%s': objects[%zu].colour '%s' is not in the palette", label, i,
					colour);
		s->n_objects++;
	}
	return OD_OK;
}

static int find_object(const struct od_eval_scene *s, int id)
{
	for (int i = 0; i < s->n_objects; i++)
		if (s->objects[i].id == id)
			return i;
	return -1;
}

static int parse_relations(json_t *root, const char *label, struct od_eval_scene *s)
{
	json_t *rels = json_object_get(root, "relations");
	if (!rels)
		return OD_OK;
	if (!json_is_array(rels))
		return od_error(OD_EFORMAT, "'%s': relations is not an array", label);
	size_t n = json_array_size(rels);
	if (n > OD_EVAL_MAX_RELATIONS)
		return od_error(OD_EFORMAT, "'%s': %zu relations (at most %d)", label, n, OD_EVAL_MAX_RELATIONS);
	s->relations = calloc(n ? n : 1, sizeof *s->relations);
	if (!s->relations)
		return od_error(OD_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(rels, i);
		struct od_eval_relation *rel = &s->relations[i];
		char name[64];
		int a, b, rc;
		if (!json_is_object(r))
			return od_error(OD_EFORMAT, "'%s': relations[%zu] is not an object", label, i);
		if ((rc = get_id(r, "a", &a, label, "relations", (int)i)) ||
		    (rc = get_id(r, "b", &b, label, "relations", (int)i)) ||
		    (rc = get_str(r, "relation", name, sizeof name, 1, label, "relations", (int)i)))
			return rc;
		rel->a = find_object(s, a);
		rel->b = find_object(s, b);
		if (rel->a < 0 || rel->b < 0)
			return od_error(OD_EFORMAT, "'%s': relations[%zu] names object %d, which is not in objects",
					label, i, rel->a < 0 ? a : b);
		if (rel->a == rel->b)
			return od_error(OD_EFORMAT, "'%s': relations[%zu] relates object %d to itself", label, i, a);
		int k;
		for (k = 0; k < OD_EVAL_REL_COUNT && strcmp(od_eval_relation_names[k], name); k++)
			;
		if (k == OD_EVAL_REL_COUNT)
			return od_error(OD_EFORMAT,
					"'%s': relations[%zu].relation '%s' is not one of left of, right of, above, "
					"below, in front of, behind",
					label, i, name);
		rel->rel = (enum od_eval_rel)k;
		s->n_relations++;
	}
	return OD_OK;
}

/* views[index 0].boxes -> objects[].view0_pixels */
static int parse_view0(json_t *root, const char *label, struct od_eval_scene *s)
{
	for (int i = 0; i < s->n_objects; i++)
		s->objects[i].view0_pixels = -1;
	json_t *views = json_object_get(root, "views");
	if (!views)
		return OD_OK;
	if (!json_is_array(views))
		return od_error(OD_EFORMAT, "'%s': views is not an array", label);
	json_t *v0 = NULL;
	for (size_t i = 0; i < json_array_size(views) && !v0; i++) {
		json_t *v = json_array_get(views, i), *ix = json_object_get(v, "index");
		if (!json_is_object(v) || !json_is_integer(ix))
			return od_error(OD_EFORMAT, "'%s': views[%zu] has no integer \"index\"", label, i);
		if (json_integer_value(ix) == 0)
			v0 = v;
	}
	json_t *boxes = v0 ? json_object_get(v0, "boxes") : NULL;
	if (!boxes)
		return OD_OK;
	if (!json_is_array(boxes))
		return od_error(OD_EFORMAT, "'%s': the boxes of view 0 are not an array", label);
	for (int i = 0; i < s->n_objects; i++)
		s->objects[i].view0_pixels = 0;
	for (size_t i = 0; i < json_array_size(boxes); i++) {
		json_t *b = json_array_get(boxes, i), *px = json_object_get(b, "pixels");
		int id, rc, k;
		if (!json_is_object(b))
			return od_error(OD_EFORMAT, "'%s': view 0 boxes[%zu] is not an object", label, i);
		if ((rc = get_id(b, "id", &id, label, "view 0 boxes", (int)i)))
			return rc;
		if (!json_is_integer(px) || json_integer_value(px) < 0 || json_integer_value(px) > (json_int_t)1 << 40)
			return od_error(OD_EFORMAT, "'%s': view 0 boxes[%zu].pixels is not an integer >= 0", label, i);
		for (k = 0; k < s->n_objects && s->objects[k].id != id; k++)
			;
		if (k == s->n_objects)
			return od_error(OD_EFORMAT, "'%s': view 0 boxes[%zu] names object %d, which is not in objects",
					label, i, id);
		for (size_t j = 0; j < i; j++)
			if (json_integer_value(json_object_get(json_array_get(boxes, j), "id")) == id)
				return od_error(OD_EFORMAT, "'%s': view 0 has two boxes of object %d", label, id);
		s->objects[k].view0_pixels = (long)json_integer_value(px);
	}
	return OD_OK;
}

int od_eval_scene_named(const struct od_eval_scene *s, int i)
{
	long px = s->objects[i].view0_pixels;
	if (px < 0)
		return 1;
	if (s->width > 0 && s->height > 0)
		return px > 0 && px >= od_scene_mention_threshold(s->width, s->height);
	return px > 0;
}

int od_eval_scene_parse(const char *text, size_t len, const char *label, struct od_eval_scene *s)
{
	memset(s, 0, sizeof *s);
	json_t *root;
	int rc = load(text, len, label, &root);
	if (rc)
		return rc;
	if ((rc = check_header(root, label, "od-scene")) || (rc = opt_size(root, "width", &s->width, label)) ||
	    (rc = opt_size(root, "height", &s->height, label)))
		goto done;
	json_t *ds = json_object_get(root, "depth_scale");
	if (ds) {
		if (!json_is_number(ds) || !(json_number_value(ds) > 0) || !isfinite(json_number_value(ds))) {
			rc = od_error(OD_EFORMAT, "'%s': depth_scale is not a positive number", label);
			goto done;
		}
		s->has_depth_scale = 1;
		s->depth_scale = json_number_value(ds);
	}
	if ((rc = parse_palette(root, label, s)) || (rc = parse_objects(root, label, s)) ||
	    (rc = parse_relations(root, label, s)) || (rc = parse_view0(root, label, s)))
		goto done;
done:
	json_decref(root);
	if (rc)
		od_eval_scene_free(s);
	return rc;
}

int od_eval_scene_read(const char *path, struct od_eval_scene *s)
{
	char *text;
	size_t len;
	memset(s, 0, sizeof *s);
	int rc = od_read_file(path, OD_EVAL_FILE_MAX, &text, &len);
	if (rc)
		return rc;
	rc = od_eval_scene_parse(text, len, strcmp(path, "-") ? path : "<stdin>", s);
	free(text);
	return rc;
}

void od_eval_index_free(char **ids, int n)
{
	for (int i = 0; ids && i < n; i++)
		free(ids[i]);
	free(ids);
}

int od_eval_index_parse(const char *text, size_t len, const char *label, char ***ids, int *n)
{
	*ids = NULL;
	*n = 0;
	json_t *root;
	int rc = load(text, len, label, &root);
	if (rc)
		return rc;
	char **v = NULL;
	size_t k = 0;
	if ((rc = check_header(root, label, "od-scene-set")))
		goto done;
	json_t *sc = json_object_get(root, "scenes"), *count = json_object_get(root, "count");
	if (!json_is_array(sc)) {
		rc = od_error(OD_EFORMAT, "'%s': no \"scenes\" array", label);
		goto done;
	}
	size_t m = json_array_size(sc);
	if (m > OD_EVAL_MAX_SCENES) {
		rc = od_error(OD_EFORMAT, "'%s': %zu scenes (at most %d)", label, m, OD_EVAL_MAX_SCENES);
		goto done;
	}
	if (count && (!json_is_integer(count) || json_integer_value(count) != (json_int_t)m)) {
		rc = od_error(OD_EFORMAT, "'%s': count is not the number of scenes (%zu)", label, m);
		goto done;
	}
	v = calloc(m ? m : 1, sizeof *v);
	if (!v) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto done;
	}
	for (; k < m; k++) {
		json_t *e = json_array_get(sc, k);
		const char *id = json_is_string(e) ? json_string_value(e) : NULL;
		size_t il = id ? strlen(id) : 0;
		if (!id || il == 0 || il > 255 || il != json_string_length(e) || strchr(id, '/') || !strcmp(id, ".") ||
		    !strcmp(id, "..")) {
			rc = od_error(OD_EFORMAT, "'%s': scenes[%zu] is not a folder name", label, k);
			goto done;
		}
		if (!(v[k] = strdup(id))) {
			rc = od_error(OD_ENOMEM, "out of memory");
			goto done;
		}
	}
done:
	json_decref(root);
	if (rc) {
		od_eval_index_free(v, (int)k);
		return rc;
	}
	*ids = v;
	*n = (int)k;
	return OD_OK;
}

int od_eval_index_read(const char *path, char ***ids, int *n)
{
	char *text;
	size_t len;
	*ids = NULL;
	*n = 0;
	int rc = od_read_file(path, OD_EVAL_FILE_MAX, &text, &len);
	if (rc)
		return rc;
	rc = od_eval_index_parse(text, len, strcmp(path, "-") ? path : "<stdin>", ids, n);
	free(text);
	return rc;
}
