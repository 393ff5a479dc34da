/*
 * report.c: CSV, JSON and Markdown tables of per-item metrics (report.h).
 * Written into a growing buffer (textbuf.h), then to the output in one go.
 */
#include "eval/report.h"
#include "base/error.h"
#include "base/textbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int od_report_format_parse(const char *name)
{
	if (!strcmp(name, "csv"))
		return OD_REPORT_CSV;
	if (!strcmp(name, "json"))
		return OD_REPORT_JSON;
	if (!strcmp(name, "md") || !strcmp(name, "markdown"))
		return OD_REPORT_MD;
	return -1;
}

int od_report_init(struct od_report *r, int n, const char *const *names, const enum od_col_kind *kinds)
{
	memset(r, 0, sizeof *r);
	if (n < 1 || n > OD_REPORT_MAX_COLS)
		return od_error(OD_EINVAL, "report: %d columns", n);
	r->n_cols = n;
	for (int k = 0; k < n; k++)
		r->names[k] = names[k], r->kinds[k] = kinds[k];
	return OD_OK;
}

void od_report_free(struct od_report *r)
{
	for (size_t i = 0; r->text && i < (size_t)r->n_rows * r->n_cols; i++)
		free(r->text[i]);
	free(r->text);
	free(r->num);
	memset(r, 0, sizeof *r);
}

int od_report_add(struct od_report *r, const char *const *text, const double *num)
{
	const int C = r->n_cols;
	if (r->n_rows == r->cap) {
		int cap = r->cap ? 2 * r->cap : 16;
		char **t = realloc(r->text, (size_t)cap * C * sizeof *t);
		if (t)
			r->text = t;
		double *v = t ? realloc(r->num, (size_t)cap * C * sizeof *v) : NULL;
		if (!v)
			return od_error(OD_ENOMEM, "out of memory");
		r->num = v;
		r->cap = cap;
	}
	size_t row = (size_t)r->n_rows * C;
	for (int k = 0; k < C; k++) {
		r->text[row + k] = NULL;
		r->num[row + k] = NAN;
	}
	for (int k = 0; k < C; k++) {
		if (r->kinds[k] == OD_COL_TEXT) {
			if (!(r->text[row + k] = strdup(text[k] ? text[k] : ""))) {
				for (int j = 0; j < k; j++)
					free(r->text[row + j]);
				return od_error(OD_ENOMEM, "out of memory");
			}
		} else
			r->num[row + k] = num[k];
	}
	r->n_rows++;
	return OD_OK;
}

double od_report_summary(const struct od_report *r, int k)
{
	if (r->kinds[k] == OD_COL_TEXT)
		return NAN;
	double sum = 0;
	int n = 0;
	for (int i = 0; i < r->n_rows; i++) {
		double v = r->num[(size_t)i * r->n_cols + k];
		if (isnan(v))
			continue;
		sum += v;
		n++;
	}
	if (r->kinds[k] == OD_COL_COUNT)
		return sum;
	return n ? sum / n : NAN;
}

/* A number: reals %.10g, counts as integers; inf/undefined per format. */
static void number(struct od_tbuf *b, double v, enum od_col_kind kind, int json)
{
	od_tbuf_number(b, v, kind == OD_COL_COUNT, json, "%.10g");
}

int od_report_write(const struct od_report *r, enum od_report_format f, const char *command, struct od_out *o)
{
	struct od_tbuf b = { 0 };
	const int C = r->n_cols;
	if (f == OD_REPORT_CSV) {
		for (int k = 0; k < C; k++) {
			od_tbuf_puts(&b, k ? "," : "");
			od_tbuf_csv(&b, r->names[k]);
		}
		od_tbuf_puts(&b, "\n");
		for (int i = 0; i < r->n_rows + !r->no_summary; i++) {
			for (int k = 0; k < C; k++) {
				size_t at = (size_t)i * C + k;
				od_tbuf_puts(&b, k ? "," : "");
				if (r->kinds[k] == OD_COL_TEXT)
					od_tbuf_csv(&b, i < r->n_rows ? r->text[at] : k == 0 ? "mean" : "");
				else
					number(&b, i < r->n_rows ? r->num[at] : od_report_summary(r, k), r->kinds[k],
					       0);
			}
			od_tbuf_puts(&b, "\n");
		}
	} else if (f == OD_REPORT_JSON) {
		od_tbuf_puts(&b, "{\"command\": ");
		od_tbuf_json(&b, command);
		od_tbuf_puts(&b, ",\n \"items\": [");
		for (int i = 0; i < r->n_rows; i++) {
			od_tbuf_puts(&b, i ? ",\n  {" : "\n  {");
			for (int k = 0; k < C; k++) {
				size_t at = (size_t)i * C + k;
				od_tbuf_puts(&b, k ? ", " : "");
				od_tbuf_json(&b, r->names[k]);
				od_tbuf_puts(&b, ": ");
				if (r->kinds[k] == OD_COL_TEXT)
					od_tbuf_json(&b, r->text[at]);
				else
					number(&b, r->num[at], r->kinds[k], 1);
			}
			od_tbuf_puts(&b, "}");
		}
		od_tbuf_printf(&b, r->no_summary ? "]}\n" : "],\n \"summary\": {\"items\": %d", r->n_rows);
		for (int k = 0; k < C && !r->no_summary; k++) {
			if (r->kinds[k] == OD_COL_TEXT)
				continue;
			od_tbuf_puts(&b, ", ");
			od_tbuf_json(&b, r->names[k]);
			od_tbuf_puts(&b, ": ");
			number(&b, od_report_summary(r, k), r->kinds[k], 1);
		}
		if (!r->no_summary)
			od_tbuf_puts(&b, "}}\n");
	} else {
		od_tbuf_puts(&b, "|");
		for (int k = 0; k < C; k++) {
			od_tbuf_puts(&b, " ");
			od_tbuf_md(&b, r->names[k]);
			od_tbuf_puts(&b, " |");
		}
		od_tbuf_puts(&b, "\n|");
		for (int k = 0; k < C; k++)
			od_tbuf_puts(&b, r->kinds[k] == OD_COL_TEXT ? ":---|" : "---:|");
		od_tbuf_puts(&b, "\n");
		for (int i = 0; i < r->n_rows + !r->no_summary; i++) {
			od_tbuf_puts(&b, "|");
			for (int k = 0; k < C; k++) {
				size_t at = (size_t)i * C + k;
				od_tbuf_puts(&b, " ");
				if (r->kinds[k] == OD_COL_TEXT)
					od_tbuf_md(&b, i < r->n_rows ? r->text[at] : k == 0 ? "**mean**" : "");
				else
					number(&b, i < r->n_rows ? r->num[at] : od_report_summary(r, k), r->kinds[k],
					       0);
				od_tbuf_puts(&b, " |");
			}
			od_tbuf_puts(&b, "\n");
		}
	}
	return od_tbuf_write(&b, o);
}
