/*
 * report.c: CSV, JSON and Markdown tables of per-item metrics (report.h).
 * Written into a growing buffer, then to the output in one go.
 */
#include "eval/report.h"
#include "base/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
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

/* ---- a growing text buffer */

struct buf {
	char *s;
	size_t n, cap;
	int oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *ns = realloc(b->s, cap);
		if (!ns) {
			b->oom = 1;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void printf_(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(struct buf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	put(b, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A number: reals %.10g, counts as integers; inf/undefined per format. */
static void number(struct buf *b, double v, enum od_col_kind kind, int json)
{
	if (isnan(v) || (json && isinf(v))) {
		if (json)
			puts_(b, "null");
		return;
	}
	if (isinf(v))
		puts_(b, v > 0 ? "inf" : "-inf");
	else if (kind == OD_COL_COUNT)
		printf_(b, "%.0f", v);
	else
		printf_(b, "%.10g", v);
}

static void csv_text(struct buf *b, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		puts_(b, s);
		return;
	}
	puts_(b, "\"");
	for (; *s; s++)
		put(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
	puts_(b, "\"");
}

/* The length of the valid UTF-8 sequence at s, or 0. */
static int utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	int n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
	for (int k = 1; k < n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	return n;
}

static void json_text(struct buf *b, const char *s)
{
	puts_(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		if (*p == '"' || *p == '\\') {
			char e[2] = { '\\', (char)*p };
			put(b, e, 2);
			p++;
		} else if (*p < 0x20) {
			printf_(b, "\\u%04x", *p);
			p++;
		} else {
			int n = utf8_len(p);
			if (n == 0) {
				puts_(b, "\\ufffd"); /* not UTF-8: the replacement character */
				p++;
			} else {
				put(b, (const char *)p, (size_t)n);
				p += n;
			}
		}
	}
	puts_(b, "\"");
}

static void md_text(struct buf *b, const char *s)
{
	for (; *s; s++)
		if (*s == '|')
			puts_(b, "\\|");
		else if (*s == '\n' || *s == '\r')
			puts_(b, " ");
		else
			put(b, s, 1);
}

int od_report_write(const struct od_report *r, enum od_report_format f, const char *command, struct od_out *o)
{
	struct buf b = { 0 };
	const int C = r->n_cols;
	if (f == OD_REPORT_CSV) {
		for (int k = 0; k < C; k++) {
			puts_(&b, k ? "," : "");
			csv_text(&b, r->names[k]);
		}
		puts_(&b, "\n");
		for (int i = 0; i <= r->n_rows; i++) {
			for (int k = 0; k < C; k++) {
				size_t at = (size_t)i * C + k;
				puts_(&b, k ? "," : "");
				if (r->kinds[k] == OD_COL_TEXT)
					csv_text(&b, i < r->n_rows ? r->text[at] : k == 0 ? "mean" : "");
				else
					number(&b, i < r->n_rows ? r->num[at] : od_report_summary(r, k), r->kinds[k],
					       0);
			}
			puts_(&b, "\n");
		}
	} else if (f == OD_REPORT_JSON) {
		puts_(&b, "{\"command\": ");
		json_text(&b, command);
		puts_(&b, ",\n \"items\": [");
		for (int i = 0; i < r->n_rows; i++) {
			puts_(&b, i ? ",\n  {" : "\n  {");
			for (int k = 0; k < C; k++) {
				size_t at = (size_t)i * C + k;
				puts_(&b, k ? ", " : "");
				json_text(&b, r->names[k]);
				puts_(&b, ": ");
				if (r->kinds[k] == OD_COL_TEXT)
					json_text(&b, r->text[at]);
				else
					number(&b, r->num[at], r->kinds[k], 1);
			}
			puts_(&b, "}");
		}
		printf_(&b, "],\n \"summary\": {\"items\": %d", r->n_rows);
		for (int k = 0; k < C; k++) {
			if (r->kinds[k] == OD_COL_TEXT)
				continue;
			puts_(&b, ", ");
			json_text(&b, r->names[k]);
			puts_(&b, ": ");
			number(&b, od_report_summary(r, k), r->kinds[k], 1);
		}
		puts_(&b, "}}\n");
	} else {
		puts_(&b, "|");
		for (int k = 0; k < C; k++) {
			puts_(&b, " ");
			md_text(&b, r->names[k]);
			puts_(&b, " |");
		}
		puts_(&b, "\n|");
		for (int k = 0; k < C; k++)
			puts_(&b, r->kinds[k] == OD_COL_TEXT ? ":---|" : "---:|");
		puts_(&b, "\n");
		for (int i = 0; i <= r->n_rows; i++) {
			puts_(&b, "|");
			for (int k = 0; k < C; k++) {
				size_t at = (size_t)i * C + k;
				puts_(&b, " ");
				if (r->kinds[k] == OD_COL_TEXT)
					md_text(&b, i < r->n_rows ? r->text[at] : k == 0 ? "**mean**" : "");
				else
					number(&b, i < r->n_rows ? r->num[at] : od_report_summary(r, k), r->kinds[k],
					       0);
				puts_(&b, " |");
			}
			puts_(&b, "\n");
		}
	}
	int rc = b.oom ? od_error(OD_ENOMEM, "out of memory") : od_out_write(o, b.s, b.n);
	free(b.s);
	return rc;
}
