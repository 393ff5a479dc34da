/*
 * items.c: list files, folder pairs and scene sets -> (prediction, reference)
 * items (items.h).
 */
#include "eval/items.h"
#include "base/error.h"
#include "base/io.h"
#include "eval/scene_json.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* List files larger than this are refused. */
#define LIST_MAX ((size_t)256 << 20)

const char *const od_eval_kind_names[OD_EVAL_KINDS] = { "image", "depth", "seg", "cameras", "t2i" };

void od_eval_items_free(struct od_eval_items *items)
{
	for (int i = 0; i < items->n; i++) {
		free(items->v[i].pred);
		free(items->v[i].gt);
		free(items->v[i].scene);
	}
	free(items->v);
	memset(items, 0, sizeof *items);
}

/* path joined to base unless absolute or base is NULL; malloc'd. */
static char *resolve(const char *base, const char *path, size_t len)
{
	char *p = strndup(path, len);
	if (!p || !base || p[0] == '/')
		return p;
	char *j = od_path_join(base, p);
	free(p);
	return j;
}

/* Append an item taking ownership of pred, gt, scene (freed on failure). */
static int add(struct od_eval_items *items, char *pred, char *gt, char *scene, double scale, int line)
{
	if (!pred || !gt) {
		free(pred);
		free(gt);
		free(scene);
		return od_error(OD_ENOMEM, "out of memory");
	}
	if (items->n == items->cap) {
		int cap = items->cap ? 2 * items->cap : 16;
		struct od_eval_item *v = realloc(items->v, (size_t)cap * sizeof *v);
		if (!v) {
			free(pred);
			free(gt);
			free(scene);
			return od_error(OD_ENOMEM, "out of memory");
		}
		items->v = v;
		items->cap = cap;
	}
	items->v[items->n++] = (struct od_eval_item){ pred, gt, scene, scale, line };
	return OD_OK;
}

int od_eval_pair(const char *pred, const char *gt, struct od_eval_items *items)
{
	memset(items, 0, sizeof *items);
	return add(items, strdup(pred), strdup(gt), NULL, 0, 0);
}

int od_eval_fields(const char *line, size_t len, const char **f, size_t *fl, int max)
{
	const char *q = line, *le = line + len;
	const int tabs = memchr(q, '\t', len) != NULL;
	int nf = 0;
	while (q < le && (*q == ' ' || *q == '\t'))
		q++;
	if (q == le || *q == '#')
		return 0;
	while (q < le) {
		const char *s = q;
		while (q < le && (tabs ? *q != '\t' : *q != ' '))
			q++;
		const char *e = q;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (nf < max)
			f[nf] = s, fl[nf] = (size_t)(e - s);
		nf++;
		while (q < le && (*q == ' ' || *q == '\t'))
			q++;
	}
	return nf;
}

int od_eval_list_parse(const char *text, size_t len, const char *label, const char *base, enum od_eval_kind kind,
		       struct od_eval_items *items)
{
	memset(items, 0, sizeof *items);
	const int max_fields = kind == OD_EVAL_DEPTH ? 3 : 2;
	const char *p = text, *end = text + len;
	int line = 0, rc = OD_OK;
	while (p < end && !rc) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		line++;
		const char *q = p;
		size_t ll = (size_t)(eol - p);
		p = eol + 1;
		if (ll && q[ll - 1] == '\r')
			ll--;
		if (memchr(q, '\0', ll)) {
			od_eval_items_free(items);
			return od_error(OD_EFORMAT, "'%s': line %d holds a NUL byte", label, line);
		}
		const char *f[4];
		size_t fl[4];
		int nf = od_eval_fields(q, ll, f, fl, 4);
		if (nf == 0)
			continue;
		if (nf < 2 || nf > max_fields) {
			od_eval_items_free(items);
			return od_error(OD_EFORMAT, "'%s': line %d has %d field%s, not %s", label, line, nf,
					nf == 1 ? "" : "s",
					kind == OD_EVAL_DEPTH ? "\"PRED GT [SCALE | scene.json]\""
					: kind == OD_EVAL_T2I ? "\"PICTURE scene.json\""
							      : "\"PRED GT\"");
		}
		char *scene = NULL;
		double scale = 0;
		if (nf == 3) {
			char num[64], *e;
			int is_num = 0;
			if (fl[2] < sizeof num) {
				memcpy(num, f[2], fl[2]);
				num[fl[2]] = 0;
				errno = 0;
				scale = strtod(num, &e);
				is_num = e != num && !*e && !errno;
			}
			if (is_num && !(scale > 0 && isfinite(scale))) {
				od_eval_items_free(items);
				return od_error(OD_EFORMAT, "'%s': line %d: depth scale %s is not a positive number",
						label, line, num);
			}
			if (!is_num) {
				scale = 0;
				if (!(scene = resolve(base, f[2], fl[2]))) {
					od_eval_items_free(items);
					return od_error(OD_ENOMEM, "out of memory");
				}
			}
		}
		rc = add(items, resolve(base, f[0], fl[0]), resolve(base, f[1], fl[1]), scene, scale, line);
	}
	if (!rc && items->n == 0)
		rc = od_error(OD_EFORMAT, "'%s': no items in the input (an empty list)", label);
	if (rc)
		od_eval_items_free(items);
	return rc;
}

int od_eval_list_read(const char *path, enum od_eval_kind kind, struct od_eval_items *items)
{
	memset(items, 0, sizeof *items);
	char *text;
	size_t len;
	int rc = od_read_file(path, LIST_MAX, &text, &len);
	if (rc)
		return rc;
	char *base = NULL;
	if (strcmp(path, "-")) {
		const char *slash = strrchr(path, '/');
		base = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : NULL;
		if (slash && !base) {
			free(text);
			return od_error(OD_ENOMEM, "out of memory");
		}
	}
	rc = od_eval_list_parse(text, len, strcmp(path, "-") ? path : "<stdin>", base, kind, items);
	free(base);
	free(text);
	return rc;
}

/* ---- folders */

struct entry {
	char *name;
	size_t stem; /* length up to the suffix's dot */
};

static int suffix_ok(const char *name, int json, int png_only)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name)
		return 0;
	if (json)
		return !strcasecmp(dot, ".json");
	if (png_only)
		return !strcasecmp(dot, ".png");
	return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg");
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static void free_entries(struct entry *e, int n)
{
	for (int i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

/* The regular files of dir with the wanted suffix, sorted; two of one stem are
 * an error. */
static int scan(const char *dir, int json, int png_only, struct entry **out, int *n_out)
{
	*out = NULL;
	*n_out = 0;
	DIR *d = opendir(dir);
	if (!d)
		return od_error(errno == ENOTDIR ? OD_EFORMAT : OD_EIO, "'%s': cannot read the folder: %s", dir,
				strerror(errno));
	struct entry *v = NULL;
	int n = 0, cap = 0, rc = OD_OK;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !suffix_ok(de->d_name, json, png_only))
			continue;
		char *full = od_path_join(dir, de->d_name);
		if (!full) {
			rc = od_error(OD_ENOMEM, "out of memory");
			break;
		}
		int reg = od_is_file(full) && !od_is_dir(full);
		free(full);
		if (!reg)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			struct entry *nv = realloc(v, (size_t)cap * sizeof *nv);
			if (!nv) {
				rc = od_error(OD_ENOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		if (!(v[n].name = strdup(de->d_name))) {
			rc = od_error(OD_ENOMEM, "out of memory");
			break;
		}
		v[n].stem = (size_t)(strrchr(v[n].name, '.') - v[n].name);
		n++;
	}
	closedir(d);
	if (rc) {
		free_entries(v, n);
		return rc;
	}
	if (n > 1)
		qsort(v, (size_t)n, sizeof *v, cmp_entry);
	for (int i = 0; i < n && !rc; i++)
		for (int j = i + 1; j < n && !rc; j++)
			if (v[i].stem == v[j].stem && !memcmp(v[i].name, v[j].name, v[i].stem))
				rc = od_error(OD_EFORMAT, "'%s': both '%s' and '%s' are there; which one is meant?",
					      dir, v[i].name, v[j].name);
	if (rc) {
		free_entries(v, n);
		return rc;
	}
	*out = v;
	*n_out = n;
	return OD_OK;
}

int od_eval_dirs(const char *pred_dir, const char *gt_dir, enum od_eval_kind kind, struct od_eval_items *items)
{
	memset(items, 0, sizeof *items);
	struct entry *g, *p;
	int ng, np;
	const int json_gt = kind == OD_EVAL_CAMERAS || kind == OD_EVAL_T2I, json_pred = kind == OD_EVAL_CAMERAS;
	int rc = scan(gt_dir, json_gt, kind == OD_EVAL_DEPTH, &g, &ng);
	if (rc)
		return rc;
	if ((rc = scan(pred_dir, json_pred, 0, &p, &np))) {
		free_entries(g, ng);
		return rc;
	}
	if (ng == 0)
		rc = od_error(OD_EFORMAT, "'%s': no items in the input (no %s files in the folder)", gt_dir,
			      json_gt ? ".json" : kind == OD_EVAL_DEPTH ? ".png" : ".png or .jpg");
	for (int i = 0; i < ng && !rc; i++) {
		int j;
		for (j = 0; j < np; j++)
			if (p[j].stem == g[i].stem && !memcmp(p[j].name, g[i].name, g[i].stem))
				break;
		if (j == np) {
			rc = od_error(OD_EFORMAT, "'%s': no prediction for '%s/%s' (a file named %.*s.*)", pred_dir,
				      gt_dir, g[i].name, (int)g[i].stem, g[i].name);
			break;
		}
		rc = add(items, od_path_join(pred_dir, p[j].name), od_path_join(gt_dir, g[i].name), NULL, 0, 0);
	}
	free_entries(g, ng);
	free_entries(p, np);
	if (rc)
		od_eval_items_free(items);
	return rc;
}

/* ---- scene sets */

/* PRED_DIR/ID with one of the kind's suffixes; exactly one must exist. */
static int find_pred(const char *pred_dir, const char *id, int json, char **out)
{
	static const char *const pics[] = { ".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG" };
	static const char *const jsons[] = { ".json", ".JSON" };
	const char *const *suf = json ? jsons : pics;
	int ns = json ? 2 : 6;
	*out = NULL;
	for (int k = 0; k < ns; k++) {
		char name[300];
		snprintf(name, sizeof name, "%s%s", id, suf[k]);
		char *full = od_path_join(pred_dir, name);
		if (!full)
			return od_error(OD_ENOMEM, "out of memory");
		if (od_is_file(full) && !od_is_dir(full)) {
			if (*out) {
				int rc = od_error(OD_EFORMAT, "'%s': both '%s' and '%s' are there; which one is meant?",
						  pred_dir, strrchr(*out, '/') + 1, name);
				free(full);
				free(*out);
				*out = NULL;
				return rc;
			}
			*out = full;
		} else
			free(full);
	}
	if (!*out)
		return od_error(OD_EFORMAT, "'%s': no prediction for scene %s (a file named %s%s)", pred_dir, id, id,
				json ? ".json" : ".png or .jpg");
	return OD_OK;
}

int od_eval_set(const char *set, const char *pred_dir, enum od_eval_kind kind, int view,
		struct od_eval_items *items)
{
	memset(items, 0, sizeof *items);
	char *index = od_path_join(set, "index.json"), **ids = NULL;
	int n = 0, rc;
	if (!index)
		return od_error(OD_ENOMEM, "out of memory");
	rc = od_eval_index_read(index, &ids, &n);
	if (!rc && n == 0)
		rc = od_error(OD_EFORMAT, "'%s': no scenes in the input (the set is empty)", index);
	static const char *const gt_name[OD_EVAL_KINDS] = { "image.png", "depth16.png", "semantic.png", "cameras.json",
							    "scene.json" };
	for (int i = 0; i < n && !rc; i++) {
		char rel[600];
		if (kind == OD_EVAL_CAMERAS || kind == OD_EVAL_T2I)
			snprintf(rel, sizeof rel, "%s/%s", ids[i], gt_name[kind]);
		else
			snprintf(rel, sizeof rel, "%s/view%d/%s", ids[i], view, gt_name[kind]);
		char *pred;
		if ((rc = find_pred(pred_dir, ids[i], kind == OD_EVAL_CAMERAS, &pred)))
			break;
		char *scene = NULL;
		if (kind == OD_EVAL_DEPTH) {
			char sj[300];
			snprintf(sj, sizeof sj, "%s/scene.json", ids[i]);
			if (!(scene = od_path_join(set, sj))) {
				free(pred);
				rc = od_error(OD_ENOMEM, "out of memory");
				break;
			}
		}
		rc = add(items, pred, od_path_join(set, rel), scene, 0, 0);
	}
	od_eval_index_free(ids, n);
	free(index);
	if (rc)
		od_eval_items_free(items);
	return rc;
}
