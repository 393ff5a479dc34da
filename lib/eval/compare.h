/*
 * compare.h: the results of two evaluation runs (the results.json of od-eval
 * results, results.h) compared value by value: od-eval compare (od-eval(1)).
 * What it is for: a run that must reproduce another within a tolerance, such
 * as a few scenes of a published table rerun on another machine, or a
 * rebuilt tool against the results of the last release.
 *
 * Every value of RESULTS is looked up in REFERENCE: the task by its name, the
 * row by its label, the item by its text fields (the files it names: "pred"
 * and "gt", or "picture" and "scene"), the value by its column. So RESULTS may
 * hold fewer tasks, rows or items than REFERENCE (a subset of its scenes), but
 * nothing REFERENCE lacks. Two values agree when
 *
 *     |value − reference| ≤ abs + rel·|reference|
 *
 * or when both are null (undefined, or infinite: JSON has no infinity). With
 * summary set, each row's summary (and its items and failed counts) is
 * compared too, as one more item named "(summary)": for runs over the same
 * items. An item RESULTS counts as failed is a mismatch unless REFERENCE
 * lists the same failure.
 *
 * Parse errors are OD_EFORMAT naming the file; differences are not errors:
 * they are counted in struct od_compare, one line per task, row and column.
 */
#ifndef OD_EVAL_COMPARE_H
#define OD_EVAL_COMPARE_H

#include "eval/report.h"

#include <stddef.h>

/* results.json files larger than this are refused. */
#define OD_COMPARE_FILE_MAX ((size_t)256 << 20)

struct od_compare_opts {
	double abs, rel; /* the tolerance (both >= 0; 0 and 0: equal values only) */
	int summary;     /* compare the rows' summaries too */
};

/* One column of one row of one task: how its values compared. */
struct od_compare_line {
	char *task, *row, *column;
	int items, beyond;     /* values compared; those beyond the tolerance */
	double worst, ref, got; /* the largest |got − ref| (INFINITY: one of them null), and its values */
	char *item;             /* the item it was found at */
};

struct od_compare {
	struct od_compare_line *v;
	int n, cap;
	int beyond;       /* values beyond the tolerance, every line */
	int unmatched;    /* tasks, rows, items and columns of RESULTS that REFERENCE lacks, and failed items */
	char first_unmatched[512]; /* what the first of them was */
};

/* Compare the texts of two results.json (labels name them in messages). */
int od_compare_results(const char *ref, size_t ref_len, const char *ref_label, const char *got, size_t got_len,
		       const char *got_label, const struct od_compare_opts *o, struct od_compare *c);
/* The same with two files ("-": standard input, for one of them). */
int od_compare_files(const char *ref_path, const char *got_path, const struct od_compare_opts *o,
		     struct od_compare *c);
void od_compare_free(struct od_compare *c);

/* The lines as a table: task, row, column, items, beyond, worst, reference,
 * value, item (report.h formats). */
int od_compare_report(const struct od_compare *c, struct od_report *r);

#endif
