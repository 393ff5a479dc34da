/*
 * report.h: the tables od-eval(1) prints: one row per item, then a summary.
 *
 * Columns are text (file names), real metrics or counts. The summary holds,
 * per real column, the mean over the rows where the value is defined (NAN
 * rows are left out; an infinite value makes the mean infinite), and per count
 * column the total. Formats:
 *
 *   csv   a header line of column names, one line per item, then a line whose
 *         first field is "mean" (RFC 4180 quoting where a field needs it)
 *   json  {"command": C, "items": [{column: value, ...}, ...],
 *          "summary": {"items": n, column: value, ...}}
 *   md    a Markdown table, the summary as its last row (first cell **mean**)
 *
 * Reals are written with 10 significant digits (%.10g). Values that are not
 * finite: CSV and Markdown write "inf" (+∞: the PSNR of identical pictures)
 * and an empty field (undefined); JSON, which has no infinity, writes null for
 * both.
 */
#ifndef OD_EVAL_REPORT_H
#define OD_EVAL_REPORT_H

#include "base/io.h"

enum od_col_kind { OD_COL_TEXT, OD_COL_REAL, OD_COL_COUNT };
enum od_report_format { OD_REPORT_CSV, OD_REPORT_JSON, OD_REPORT_MD };

#define OD_REPORT_MAX_COLS 16

struct od_report {
	int n_cols;
	const char *names[OD_REPORT_MAX_COLS];
	enum od_col_kind kinds[OD_REPORT_MAX_COLS];
	int n_rows, cap;
	char **text;  /* (n_rows, n_cols); NULL where the column is not text */
	double *num;  /* (n_rows, n_cols) */
	int no_summary; /* write the items only (a table whose means say nothing: od-eval compare's) */
};

/* "csv", "json", "md" -> format; -1 otherwise. */
int od_report_format_parse(const char *name);

/* A table of n columns (names and kinds are not copied: static strings). */
int od_report_init(struct od_report *r, int n, const char *const *names, const enum od_col_kind *kinds);
void od_report_free(struct od_report *r);

/* Add a row: text[k] for text columns, num[k] for the others (both indexed by
 * column; the unused entries are ignored). Text is copied. */
int od_report_add(struct od_report *r, const char *const *text, const double *num);

/* The summary value of column k (mean or total; NAN for text columns or when
 * no row defines it). */
double od_report_summary(const struct od_report *r, int k);

/* Write the whole table to o (not committed). command names it in JSON. */
int od_report_write(const struct od_report *r, enum od_report_format f, const char *command, struct od_out *o);

#endif
