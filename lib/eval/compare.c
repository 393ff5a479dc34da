/*
 * compare.c: two results.json compared value by value (compare.h), read with
 * jansson. Every field is checked before it is used; a results file that is
 * not what od-eval results writes is OD_EFORMAT naming the file and the place.
 */
#include "eval/compare.h"
#include "base/error.h"
#include "formats/config.h"
#include "base/io.h"
#include "base/textbuf.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void od_compare_free(struct od_compare *c)
{
	for (int i = 0; i < c->n; i++) {
		free(c->v[i].task);
		free(c->v[i].row);
		free(c->v[i].column);
		free(c->v[i].item);
	}
	free(c->v);
	memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- reading */

static int load(const char *text, size_t len, const char *label, json_t **root)
{
	int rc = od_json_object(text, len, label, OD_EFORMAT, root);
	if (rc)
		return rc;
	json_t *f = json_object_get(*root, "format"), *v = json_object_get(*root, "version");
	const char *why = !json_is_string(f) || strcmp(json_string_value(f), "od-eval-results") ? "its format is not od-eval-results"
			  : !json_is_integer(v) || json_integer_value(v) != 1			     ? "not version 1"
			  : !json_is_array(json_object_get(*root, "tasks"))			     ? "no 'tasks' list"
												     : NULL;
	if (why) {
		json_decref(*root);
		*root = NULL;
		return od_error(OD_EFORMAT, "'%s': %s (od-eval results --json writes the results compared)", label,
				why);
	}
	return OD_OK;
}

/* A value of a score or a summary: a number, or null (undefined or infinite). */
static int is_value(const json_t *v)
{
	return json_is_number(v) || json_is_null(v);
}

/* The checks of one task: its name, rows with labels, counts, a summary of
 * values and lists of failures and scores of the right kinds. */
static int check_task(const json_t *t, int i, const char *label)
{
	if (!json_is_object(t) || !json_is_string(json_object_get(t, "task")) ||
	    !json_is_array(json_object_get(t, "rows")))
		return od_error(OD_EFORMAT, "'%s': task %d is not an object with a 'task' name and 'rows'", label,
				i + 1);
	const char *name = json_string_value(json_object_get(t, "task"));
	size_t r;
	json_t *row;
	json_array_foreach(json_object_get(t, "rows"), r, row)
	{
		json_t *summary = json_object_get(row, "summary"), *scores = json_object_get(row, "scores");
		json_t *failures = json_object_get(row, "failures");
		if (!json_is_object(row) || !json_is_string(json_object_get(row, "row")) ||
		    !json_is_integer(json_object_get(row, "items")) || !json_is_integer(json_object_get(row, "failed")) ||
		    !json_is_object(summary) || !json_is_array(scores) || !json_is_array(failures))
			return od_error(OD_EFORMAT,
					"'%s': task '%s', row %zu: not an object with 'row', 'items', 'failed', "
					"'summary', 'failures' and 'scores'",
					label, name, r + 1);
		const char *key;
		json_t *v;
		json_object_foreach(summary, key, v) if (!is_value(v)) return od_error(
		    OD_EFORMAT, "'%s': task '%s', row %zu: summary '%s' is not a number or null", label, name, r + 1, key);
		size_t k;
		json_t *s;
		json_array_foreach(scores, k, s)
		{
			if (!json_is_object(s))
				return od_error(OD_EFORMAT, "'%s': task '%s', row %zu: score %zu is not an object", label,
						name, r + 1, k + 1);
			json_object_foreach(s, key, v) if (!is_value(v) && !json_is_string(v)) return od_error(
			    OD_EFORMAT, "'%s': task '%s', row %zu, score %zu: '%s' is not a file name, a number or null",
			    label, name, r + 1, k + 1, key);
		}
		json_array_foreach(failures, k, s) if (!json_is_object(s) ||
						       !json_is_string(json_object_get(s, "pred")) ||
						       !json_is_string(json_object_get(s, "gt"))) return od_error(
		    OD_EFORMAT, "'%s': task '%s', row %zu: failure %zu has no 'pred' and 'gt'", label, name, r + 1, k + 1);
	}
	return OD_OK;
}

/* The index of the first element before `before` of array whose string field
 * key equals that of element `before`; -1 when none. */
static int earlier(json_t *array, size_t before, const char *key)
{
	const char *name = json_string_value(json_object_get(json_array_get(array, before), key));
	for (size_t i = 0; i < before; i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(array, i), key)), name))
			return (int)i;
	return -1;
}

/* Every task well-formed, task names and row labels within a task distinct
 * (as od-eval results writes them). */
static int check(json_t *root, const char *label)
{
	json_t *tasks = json_object_get(root, "tasks");
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t)
	{
		int rc = check_task(t, (int)i, label);
		if (rc)
			return rc;
		if (earlier(tasks, i, "task") >= 0)
			return od_error(OD_EFORMAT, "'%s': task '%s' is there twice", label,
					json_string_value(json_object_get(t, "task")));
		json_t *rows = json_object_get(t, "rows");
		for (size_t r = 0; r < json_array_size(rows); r++)
			if (earlier(rows, r, "row") >= 0)
				return od_error(OD_EFORMAT, "'%s': task '%s': row '%s' is there twice", label,
						json_string_value(json_object_get(t, "task")),
						json_string_value(json_object_get(json_array_get(rows, r), "row")));
	}
	return OD_OK;
}

/* The element of array whose string field key is name; NULL when none is. */
static json_t *find_named(json_t *array, const char *key, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(array, i, e) if (!strcmp(json_string_value(json_object_get(e, key)), name)) return e;
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An item's name: its text fields as "name=value", sorted by name, joined by
 * ", " (a score with none is named by its position). */
static int item_key(json_t *score, size_t index, struct od_tbuf *b)
{
	const char *names[64];
	int n = 0;
	const char *key;
	json_t *v;
	json_object_foreach(score, key, v) if (json_is_string(v) && n < 64) names[n++] = key;
	qsort(names, (size_t)n, sizeof *names, cmp_str);
	b->n = 0;
	for (int k = 0; k < n; k++)
		od_tbuf_printf(b, "%s%s=%s", k ? ", " : "", names[k], json_string_value(json_object_get(score, names[k])));
	if (n == 0)
		od_tbuf_printf(b, "#%zu", index + 1);
	return b->oom || !b->s ? od_error(OD_ENOMEM, "out of memory") : OD_OK;
}

/* ---------------------------------------------------------------- comparing */

static void unmatched(struct od_compare *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void unmatched(struct od_compare *c, const char *fmt, ...)
{
	if (!c->unmatched++) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->first_unmatched, sizeof c->first_unmatched, fmt, ap);
		va_end(ap);
	}
}

static struct od_compare_line *line_of(struct od_compare *c, const char *task, const char *row, const char *column)
{
	for (int i = c->n - 1; i >= 0; i--) {
		struct od_compare_line *l = &c->v[i];
		if (!strcmp(l->column, column) && !strcmp(l->row, row) && !strcmp(l->task, task))
			return l;
	}
	if (c->n == c->cap) {
		int cap = c->cap ? 2 * c->cap : 16;
		struct od_compare_line *v = realloc(c->v, (size_t)cap * sizeof *v);
		if (!v)
			return NULL;
		c->v = v;
		c->cap = cap;
	}
	struct od_compare_line *l = &c->v[c->n];
	memset(l, 0, sizeof *l);
	l->task = strdup(task);
	l->row = strdup(row);
	l->column = strdup(column);
	l->item = strdup("");
	l->ref = l->got = NAN;
	if (!l->task || !l->row || !l->column || !l->item) {
		free(l->task), free(l->row), free(l->column), free(l->item);
		return NULL;
	}
	c->n++;
	return l;
}

/* The value of a number or null (NAN). */
static double value_of(const json_t *v)
{
	return json_is_null(v) ? NAN : json_number_value(v);
}

static int compare_value(struct od_compare *c, const struct od_compare_opts *o, const char *task, const char *row,
			 const char *column, const char *item, const json_t *gv, const json_t *rv)
{
	struct od_compare_line *l = line_of(c, task, row, column);
	if (!l)
		return od_error(OD_ENOMEM, "out of memory");
	double g = value_of(gv), r = value_of(rv);
	double d = isnan(g) && isnan(r) ? 0 : isnan(g) || isnan(r) ? INFINITY : fabs(g - r);
	int beyond = !(d <= o->abs + o->rel * fabs(r));
	if (isnan(g) && isnan(r))
		beyond = 0;
	l->items++;
	l->beyond += beyond;
	c->beyond += beyond;
	if (l->items == 1 || d > l->worst) {
		char *s = strdup(item);
		if (!s)
			return od_error(OD_ENOMEM, "out of memory");
		free(l->item);
		l->item = s;
		l->worst = d;
		l->ref = r;
		l->got = g;
	}
	return OD_OK;
}

/* Every value of the object got against the same key of ref (as item). */
static int compare_object(struct od_compare *c, const struct od_compare_opts *o, const char *task, const char *row,
			  const char *item, json_t *got, json_t *ref)
{
	const char *key;
	json_t *gv;
	json_object_foreach(got, key, gv)
	{
		if (json_is_string(gv))
			continue;
		json_t *rv = json_object_get(ref, key);
		if (!rv || !is_value(rv)) {
			unmatched(c, "task '%s', row '%s', item '%s': the reference has no '%s'", task, row, item, key);
			continue;
		}
		int rc = compare_value(c, o, task, row, key, item, gv, rv);
		if (rc)
			return rc;
	}
	return OD_OK;
}

static int compare_row(struct od_compare *c, const struct od_compare_opts *o, const char *task, json_t *grow,
		       json_t *rrow)
{
	const char *row = json_string_value(json_object_get(grow, "row"));
	json_t *gscores = json_object_get(grow, "scores"), *rscores = json_object_get(rrow, "scores");
	size_t nr = json_array_size(rscores);
	char **rkeys = calloc(nr ? nr : 1, sizeof *rkeys);
	char *used = calloc(nr ? nr : 1, 1); /* an item listed twice matches the reference's second one */
	struct od_tbuf b = { 0 };
	int rc = rkeys && used ? OD_OK : od_error(OD_ENOMEM, "out of memory");
	for (size_t k = 0; k < nr && !rc; k++)
		if (!(rc = item_key(json_array_get(rscores, k), k, &b)) && !(rkeys[k] = strdup(b.s)))
			rc = od_error(OD_ENOMEM, "out of memory");
	size_t i;
	json_t *gs;
	json_array_foreach(gscores, i, gs)
	{
		if (rc || (rc = item_key(gs, i, &b)))
			break;
		size_t k = 0;
		while (k < nr && (used[k] || strcmp(rkeys[k], b.s)))
			k++;
		if (k == nr) {
			unmatched(c, "task '%s', row '%s': item '%s' is not in the reference", task, row, b.s);
		} else {
			used[k] = 1;
			rc = compare_object(c, o, task, row, b.s, gs, json_array_get(rscores, k));
		}
	}
	/* failures: only the reference's own */
	json_t *gf, *rfail = json_object_get(rrow, "failures");
	json_array_foreach(json_object_get(grow, "failures"), i, gf)
	{
		const char *p = json_string_value(json_object_get(gf, "pred")), *g = json_string_value(json_object_get(gf, "gt"));
		size_t k;
		json_t *rf;
		int known = 0;
		json_array_foreach(rfail, k, rf) known |= !strcmp(json_string_value(json_object_get(rf, "pred")), p) &&
							  !strcmp(json_string_value(json_object_get(rf, "gt")), g);
		if (!known) {
			json_t *e = json_object_get(gf, "error");
			unmatched(c, "task '%s', row '%s': item '%s' failed%s%s", task, row, p, json_is_string(e) ? ": " : "",
				  json_is_string(e) ? json_string_value(e) : "");
		}
	}
	if (!rc && o->summary) {
		rc = compare_object(c, o, task, row, "(summary)", json_object_get(grow, "summary"),
				    json_object_get(rrow, "summary"));
		for (int k = 0; k < 2 && !rc; k++) {
			const char *count = k ? "failed" : "items";
			rc = compare_value(c, o, task, row, count, "(summary)", json_object_get(grow, count),
					   json_object_get(rrow, count));
		}
	}
	for (size_t k = 0; rkeys && k < nr; k++)
		free(rkeys[k]);
	free(rkeys);
	free(used);
	od_tbuf_free(&b);
	return rc;
}

static int compare(struct od_compare *c, const struct od_compare_opts *o, json_t *ref, json_t *got)
{
	size_t i;
	json_t *gt;
	json_array_foreach(json_object_get(got, "tasks"), i, gt)
	{
		const char *task = json_string_value(json_object_get(gt, "task"));
		json_t *rt = find_named(json_object_get(ref, "tasks"), "task", task);
		if (!rt) {
			unmatched(c, "task '%s' is not in the reference", task);
			continue;
		}
		size_t r;
		json_t *grow;
		json_array_foreach(json_object_get(gt, "rows"), r, grow)
		{
			const char *row = json_string_value(json_object_get(grow, "row"));
			json_t *rrow = find_named(json_object_get(rt, "rows"), "row", row);
			if (!rrow) {
				unmatched(c, "task '%s': row '%s' is not in the reference", task, row);
				continue;
			}
			int rc = compare_row(c, o, task, grow, rrow);
			if (rc)
				return rc;
		}
	}
	return OD_OK;
}

int od_compare_results(const char *ref, size_t ref_len, const char *ref_label, const char *got, size_t got_len,
		       const char *got_label, const struct od_compare_opts *o, struct od_compare *c)
{
	memset(c, 0, sizeof *c);
	if (!(o->abs >= 0) || !(o->rel >= 0))
		return od_error(OD_EINVAL, "compare: the tolerance must be 0 or more");
	json_t *r = NULL, *g = NULL;
	int rc = load(ref, ref_len, ref_label, &r);
	if (!rc)
		rc = check(r, ref_label);
	if (!rc)
		rc = load(got, got_len, got_label, &g);
	if (!rc)
		rc = check(g, got_label);
	if (!rc)
		rc = compare(c, o, r, g);
	json_decref(r);
	json_decref(g);
	if (rc)
		od_compare_free(c);
	return rc;
}

int od_compare_files(const char *ref_path, const char *got_path, const struct od_compare_opts *o,
		     struct od_compare *c)
{
	memset(c, 0, sizeof *c);
	if (!strcmp(ref_path, "-") && !strcmp(got_path, "-"))
		return od_error(OD_EINVAL, "compare: only one of the two files can be standard input");
	char *ref = NULL, *got = NULL;
	size_t rl = 0, gl = 0;
	int rc = od_read_file(ref_path, OD_COMPARE_FILE_MAX, &ref, &rl);
	if (!rc)
		rc = od_read_file(got_path, OD_COMPARE_FILE_MAX, &got, &gl);
	if (!rc)
		rc = od_compare_results(ref, rl, strcmp(ref_path, "-") ? ref_path : "<stdin>", got, gl,
					strcmp(got_path, "-") ? got_path : "<stdin>", o, c);
	free(ref);
	free(got);
	return rc;
}

int od_compare_report(const struct od_compare *c, struct od_report *r)
{
	static const char *const names[] = { "task", "row", "column", "items", "beyond", "worst", "reference", "value", "item" };
	static const enum od_col_kind kinds[] = { OD_COL_TEXT,	OD_COL_TEXT, OD_COL_TEXT, OD_COL_COUNT, OD_COL_COUNT,
						  OD_COL_REAL,	OD_COL_REAL, OD_COL_REAL, OD_COL_TEXT };
	int rc = od_report_init(r, 9, names, kinds);
	r->no_summary = 1;
	for (int i = 0; i < c->n && !rc; i++) {
		const struct od_compare_line *l = &c->v[i];
		const char *text[9] = { l->task, l->row, l->column, NULL, NULL, NULL, NULL, NULL, l->item };
		const double num[9] = { 0, 0, 0, l->items, l->beyond, l->worst, l->ref, l->got, 0 };
		rc = od_report_add(r, text, num);
	}
	if (rc)
		od_report_free(r);
	return rc;
}
