/*
 * results.c: an evaluation run's tables, model and baselines, every task in
 * one document (results.h).
 */
#include "eval/results.h"
#include "base/error.h"
#include "base/io.h"
#include "base/textbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void od_results_spec_free(struct od_results_spec *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->v[i].task);
		free(s->v[i].row);
		free(s->v[i].list);
		free(s->v[i].note);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

static int field_eq(const char *a, const char *f, size_t fl)
{
	return strlen(a) == fl && !memcmp(a, f, fl);
}

int od_results_spec_parse(const char *text, size_t len, const char *label, const char *base,
			  struct od_results_spec *s)
{
	memset(s, 0, sizeof *s);
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
			rc = od_error(OD_EFORMAT, "'%s': line %d holds a NUL byte", label, line);
			break;
		}
		const char *f[5];
		size_t fl[5];
		int nf = od_eval_fields(q, ll, f, fl, 5);
		if (nf == 0)
			continue;
		if (nf < 4 || nf > 5) {
			rc = od_error(OD_EFORMAT, "'%s': line %d has %d field%s, not \"TASK COMMAND ROW LIST [NOTE]\"",
				      label, line, nf, nf == 1 ? "" : "s");
			break;
		}
		for (int k = 0; k < nf; k++) {
			size_t max = k == 4 ? OD_RESULTS_NOTE_MAX : k == 3 ? (size_t)-1 : OD_RESULTS_LABEL_MAX;
			if (fl[k] > max) {
				rc = od_error(OD_EFORMAT, "'%s': line %d: field %d is longer than %zu bytes", label, line,
					      k + 1, max);
				break;
			}
		}
		if (rc)
			break;
		int kind = -1;
		for (int k = 0; k < OD_EVAL_KINDS; k++)
			if (field_eq(od_eval_kind_names[k], f[1], fl[1]))
				kind = k;
		if (kind < 0) {
			rc = od_error(OD_EFORMAT, "'%s': line %d: '%.*s' is not an od-eval command (image, depth, seg, "
						  "cameras or t2i)", label, line, (int)fl[1], f[1]);
			break;
		}
		for (int i = 0; i < s->n && !rc; i++) {
			if (!field_eq(s->v[i].task, f[0], fl[0]))
				continue;
			if ((int)s->v[i].kind != kind)
				rc = od_error(OD_EFORMAT, "'%s': line %d: task '%s' is scored by %s on line %d, not %s",
					      label, line, s->v[i].task, od_eval_kind_names[s->v[i].kind], s->v[i].line,
					      od_eval_kind_names[kind]);
			else if (field_eq(s->v[i].row, f[2], fl[2]))
				rc = od_error(OD_EFORMAT, "'%s': line %d: task '%s' has a row '%s' already (line %d)",
					      label, line, s->v[i].task, s->v[i].row, s->v[i].line);
		}
		if (rc)
			break;
		if (s->n == s->cap) {
			int cap = s->cap ? 2 * s->cap : 16;
			struct od_results_line *v = realloc(s->v, (size_t)cap * sizeof *v);
			if (!v) {
				rc = od_error(OD_ENOMEM, "out of memory");
				break;
			}
			s->v = v;
			s->cap = cap;
		}
		struct od_results_line *r = &s->v[s->n];
		memset(r, 0, sizeof *r);
		r->kind = (enum od_eval_kind)kind;
		r->line = line;
		r->task = strndup(f[0], fl[0]);
		r->row = strndup(f[2], fl[2]);
		char *list = strndup(f[3], fl[3]);
		r->list = list && base && list[0] != '/' ? od_path_join(base, list) : list;
		if (r->list != list)
			free(list);
		r->note = nf == 5 ? strndup(f[4], fl[4]) : NULL;
		s->n++; /* owned from here on */
		if (!r->task || !r->row || !r->list || (nf == 5 && !r->note))
			rc = od_error(OD_ENOMEM, "out of memory");
	}
	if (!rc && s->n == 0)
		rc = od_error(OD_EFORMAT, "'%s': no rows (an empty spec)", label);
	if (rc)
		od_results_spec_free(s);
	return rc;
}

int od_results_spec_read(const char *path, struct od_results_spec *s)
{
	memset(s, 0, sizeof *s);
	char *text;
	size_t len;
	int rc = od_read_file(path, OD_RESULTS_SPEC_MAX, &text, &len);
	if (rc)
		return rc;
	char *base = NULL;
	const char *slash = strcmp(path, "-") ? strrchr(path, '/') : NULL;
	if (slash && !(base = strndup(path, (size_t)(slash - path) + (slash == path)))) {
		free(text);
		return od_error(OD_ENOMEM, "out of memory");
	}
	rc = od_results_spec_parse(text, len, strcmp(path, "-") ? path : "<stdin>", base, s);
	free(base);
	free(text);
	return rc;
}

/* ---- scoring */

static void row_free(struct od_results_row *r)
{
	od_report_free(&r->report);
	for (int i = 0; i < r->failed; i++) {
		free(r->fail_pred[i]);
		free(r->fail_gt[i]);
		free(r->fail_msg[i]);
	}
	free(r->fail_pred);
	free(r->fail_gt);
	free(r->fail_msg);
	memset(r, 0, sizeof *r);
}

void od_results_free(struct od_results *r)
{
	for (int i = 0; r->rows && i < r->spec->n; i++)
		row_free(&r->rows[i]);
	free(r->rows);
	memset(r, 0, sizeof *r);
}

static int add_failure(struct od_results_row *r, const struct od_eval_item *it, int n_items, const char *msg)
{
	if (!r->fail_pred) {
		r->fail_pred = calloc((size_t)n_items, sizeof *r->fail_pred);
		r->fail_gt = calloc((size_t)n_items, sizeof *r->fail_gt);
		r->fail_msg = calloc((size_t)n_items, sizeof *r->fail_msg);
		if (!r->fail_pred || !r->fail_gt || !r->fail_msg)
			return od_error(OD_ENOMEM, "out of memory");
	}
	int k = r->failed++;
	r->fail_pred[k] = strdup(it->pred);
	r->fail_gt[k] = strdup(it->gt);
	r->fail_msg[k] = strdup(msg);
	if (!r->fail_pred[k] || !r->fail_gt[k] || !r->fail_msg[k])
		return od_error(OD_ENOMEM, "out of memory");
	return OD_OK;
}

static int run_row(const struct od_results_line *l, const struct od_eval_opts *opts, struct od_results_row *r)
{
	struct od_eval_items items;
	int rc = od_eval_report_init(&r->report, l->kind);
	if (rc || (rc = od_eval_list_read(l->list, l->kind, &items)))
		return rc;
	r->items = items.n;
	for (int i = 0; i < items.n && !rc; i++) {
		int e = od_eval_item(l->kind, &items.v[i], opts, &r->report);
		if (e == OD_ENOMEM)
			rc = e;
		else if (e) {
			if (!od_is_file(items.v[i].pred))
				od_error(e, "'%s': no such file (its job failed or did not run)", items.v[i].pred);
			rc = add_failure(r, &items.v[i], items.n, od_errmsg());
		}
	}
	od_eval_items_free(&items);
	return rc;
}

int od_results_run(const struct od_results_spec *spec, const struct od_eval_opts *opts, struct od_results *r)
{
	memset(r, 0, sizeof *r);
	r->spec = spec;
	if (!(r->rows = calloc((size_t)spec->n, sizeof *r->rows)))
		return od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; i < spec->n; i++) {
		int rc = run_row(&spec->v[i], opts, &r->rows[i]);
		if (rc) {
			od_results_free(r);
			return rc;
		}
	}
	return OD_OK;
}

/* ---- writing */

/* The first line of each task, in order: is line i the first of its task? */
static int first_of_task(const struct od_results_spec *s, int i)
{
	for (int j = 0; j < i; j++)
		if (!strcmp(s->v[j].task, s->v[i].task))
			return 0;
	return 1;
}

/* The task's note: the last one given. */
static const char *task_note(const struct od_results_spec *s, const char *task)
{
	const char *note = NULL;
	for (int j = 0; j < s->n; j++)
		if (!strcmp(s->v[j].task, task) && s->v[j].note)
			note = s->v[j].note;
	return note;
}

static void write_md(struct od_tbuf *b, const struct od_results *r, const char *title, const char *const *params,
		     int n_params)
{
	const struct od_results_spec *s = r->spec;
	od_tbuf_puts(b, "# ");
	od_tbuf_md(b, title);
	od_tbuf_puts(b, "\n\n");
	for (int k = 0; k < n_params; k++) {
		const char *eq = strchr(params[k], '=');
		od_tbuf_puts(b, "- ");
		od_tbuf_put(b, params[k], eq ? (size_t)(eq - params[k]) : strlen(params[k]));
		od_tbuf_puts(b, ": ");
		od_tbuf_puts(b, eq ? eq + 1 : "");
		od_tbuf_puts(b, "\n");
	}
	if (n_params)
		od_tbuf_puts(b, "\n");
	for (int i = 0; i < s->n; i++) {
		if (!first_of_task(s, i))
			continue;
		const struct od_report *rep = &r->rows[i].report;
		od_tbuf_puts(b, "## ");
		od_tbuf_md(b, s->v[i].task);
		od_tbuf_printf(b, "\n\nScored by `od-eval %s`.\n\n| | items | failed |", od_eval_kind_names[s->v[i].kind]);
		for (int k = 0; k < rep->n_cols; k++)
			if (rep->kinds[k] != OD_COL_TEXT)
				od_tbuf_printf(b, " %s |", rep->names[k]);
		od_tbuf_puts(b, "\n|:---|---:|---:|");
		for (int k = 0; k < rep->n_cols; k++)
			if (rep->kinds[k] != OD_COL_TEXT)
				od_tbuf_puts(b, "---:|");
		od_tbuf_puts(b, "\n");
		int failed = 0;
		for (int j = i; j < s->n; j++) {
			if (strcmp(s->v[j].task, s->v[i].task))
				continue;
			const struct od_results_row *row = &r->rows[j];
			od_tbuf_puts(b, "| ");
			od_tbuf_md(b, s->v[j].row);
			od_tbuf_printf(b, " | %d | %d |", row->items, row->failed);
			for (int k = 0; k < row->report.n_cols; k++) {
				if (row->report.kinds[k] == OD_COL_TEXT)
					continue;
				od_tbuf_puts(b, " ");
				od_tbuf_number(b, od_report_summary(&row->report, k), row->report.kinds[k] == OD_COL_COUNT,
					       0, "%.4g");
				od_tbuf_puts(b, " |");
			}
			od_tbuf_puts(b, "\n");
			failed += row->failed;
		}
		const char *note = task_note(s, s->v[i].task);
		if (note) {
			od_tbuf_puts(b, "\n");
			od_tbuf_puts(b, note);
			od_tbuf_puts(b, "\n");
		}
		if (failed) {
			od_tbuf_printf(b, "\nFailed items (%d):\n\n", failed);
			for (int j = i; j < s->n; j++) {
				if (strcmp(s->v[j].task, s->v[i].task))
					continue;
				for (int k = 0; k < r->rows[j].failed; k++) {
					od_tbuf_puts(b, "- ");
					od_tbuf_md(b, s->v[j].row);
					od_tbuf_puts(b, ": ");
					od_tbuf_md(b, r->rows[j].fail_msg[k]);
					od_tbuf_puts(b, "\n");
				}
			}
		}
		od_tbuf_puts(b, "\n");
	}
}

static void json_summary(struct od_tbuf *b, const struct od_report *rep)
{
	od_tbuf_puts(b, "{");
	int first = 1;
	for (int k = 0; k < rep->n_cols; k++) {
		if (rep->kinds[k] == OD_COL_TEXT)
			continue;
		od_tbuf_puts(b, first ? "" : ", ");
		first = 0;
		od_tbuf_json(b, rep->names[k]);
		od_tbuf_puts(b, ": ");
		od_tbuf_number(b, od_report_summary(rep, k), rep->kinds[k] == OD_COL_COUNT, 1, "%.10g");
	}
	od_tbuf_puts(b, "}");
}

static void write_json(struct od_tbuf *b, const struct od_results *r, const char *title, const char *const *params,
		       int n_params)
{
	const struct od_results_spec *s = r->spec;
	od_tbuf_puts(b, "{\"format\": \"od-eval-results\", \"version\": 1, \"title\": ");
	od_tbuf_json(b, title);
	od_tbuf_puts(b, ",\n \"parameters\": {");
	for (int k = 0; k < n_params; k++) {
		const char *eq = strchr(params[k], '=');
		char *key = strndup(params[k], eq ? (size_t)(eq - params[k]) : strlen(params[k]));
		if (!key) {
			b->oom = 1;
			return;
		}
		od_tbuf_puts(b, k ? ", " : "");
		od_tbuf_json(b, key);
		od_tbuf_puts(b, ": ");
		od_tbuf_json(b, eq ? eq + 1 : "");
		free(key);
	}
	od_tbuf_puts(b, "},\n \"tasks\": [");
	int nt = 0;
	for (int i = 0; i < s->n; i++) {
		if (!first_of_task(s, i))
			continue;
		od_tbuf_puts(b, nt++ ? ",\n  {\"task\": " : "\n  {\"task\": ");
		od_tbuf_json(b, s->v[i].task);
		od_tbuf_printf(b, ", \"command\": \"%s\", \"note\": ", od_eval_kind_names[s->v[i].kind]);
		const char *note = task_note(s, s->v[i].task);
		if (note)
			od_tbuf_json(b, note);
		else
			od_tbuf_puts(b, "null");
		od_tbuf_puts(b, ",\n   \"rows\": [");
		int nr = 0;
		for (int j = i; j < s->n; j++) {
			if (strcmp(s->v[j].task, s->v[i].task))
				continue;
			const struct od_results_row *row = &r->rows[j];
			const struct od_report *rep = &row->report;
			od_tbuf_puts(b, nr++ ? ",\n    {\"row\": " : "\n    {\"row\": ");
			od_tbuf_json(b, s->v[j].row);
			od_tbuf_puts(b, ", \"list\": ");
			od_tbuf_json(b, s->v[j].list);
			od_tbuf_printf(b, ", \"items\": %d, \"failed\": %d,\n     \"summary\": ", row->items, row->failed);
			json_summary(b, rep);
			od_tbuf_puts(b, ",\n     \"failures\": [");
			for (int k = 0; k < row->failed; k++) {
				od_tbuf_puts(b, k ? ", {\"pred\": " : "{\"pred\": ");
				od_tbuf_json(b, row->fail_pred[k]);
				od_tbuf_puts(b, ", \"gt\": ");
				od_tbuf_json(b, row->fail_gt[k]);
				od_tbuf_puts(b, ", \"error\": ");
				od_tbuf_json(b, row->fail_msg[k]);
				od_tbuf_puts(b, "}");
			}
			od_tbuf_puts(b, "],\n     \"scores\": [");
			for (int m = 0; m < rep->n_rows; m++) {
				od_tbuf_puts(b, m ? ",\n      {" : "\n      {");
				for (int k = 0; k < rep->n_cols; k++) {
					size_t at = (size_t)m * rep->n_cols + k;
					od_tbuf_puts(b, k ? ", " : "");
					od_tbuf_json(b, rep->names[k]);
					od_tbuf_puts(b, ": ");
					if (rep->kinds[k] == OD_COL_TEXT)
						od_tbuf_json(b, rep->text[at]);
					else
						od_tbuf_number(b, rep->num[at], rep->kinds[k] == OD_COL_COUNT, 1, "%.10g");
				}
				od_tbuf_puts(b, "}");
			}
			od_tbuf_puts(b, "]}");
		}
		od_tbuf_puts(b, "]}");
	}
	od_tbuf_puts(b, "]}\n");
}

static void write_csv(struct od_tbuf *b, const struct od_results *r)
{
	const struct od_results_spec *s = r->spec;
	od_tbuf_puts(b, "task,command,row,items,failed,metric,value\n");
	for (int i = 0; i < s->n; i++) {
		if (!first_of_task(s, i))
			continue;
		for (int j = i; j < s->n; j++) {
			if (strcmp(s->v[j].task, s->v[i].task))
				continue;
			const struct od_report *rep = &r->rows[j].report;
			for (int k = 0; k < rep->n_cols; k++) {
				if (rep->kinds[k] == OD_COL_TEXT)
					continue;
				od_tbuf_csv(b, s->v[j].task);
				od_tbuf_printf(b, ",%s,", od_eval_kind_names[s->v[j].kind]);
				od_tbuf_csv(b, s->v[j].row);
				od_tbuf_printf(b, ",%d,%d,%s,", r->rows[j].items, r->rows[j].failed, rep->names[k]);
				od_tbuf_number(b, od_report_summary(rep, k), rep->kinds[k] == OD_COL_COUNT, 0, "%.10g");
				od_tbuf_puts(b, "\n");
			}
		}
	}
}

int od_results_write(const struct od_results *r, enum od_report_format f, const char *title,
		     const char *const *params, int n_params, struct od_out *o)
{
	struct od_tbuf b = { 0 };
	if (!title)
		title = "Evaluation results";
	if (f == OD_REPORT_MD)
		write_md(&b, r, title, params, n_params);
	else if (f == OD_REPORT_JSON)
		write_json(&b, r, title, params, n_params);
	else
		write_csv(&b, r);
	return od_tbuf_write(&b, o);
}
