/*
 * results.h: the results of an evaluation run (od-eval(1) "results"; make
 * eval writes results.md and results.json with it): several tasks, each a
 * table of a few rows (the model, a baseline), every row a list of items
 * scored by one od-eval command and summarised.
 *
 * The spec names the rows, one line each, fields as in list files (items.h:
 * split on tabs when the line holds one, so labels may hold spaces):
 *
 *   TASK  COMMAND  ROW  LIST  [NOTE]
 *
 * TASK names the task (the rows of a task form one table, tasks in the order
 * they first appear); COMMAND is the od-eval command that scores it (image,
 * depth, seg, cameras or t2i), the same on every row of a task; ROW is the
 * row's label (distinct within a task); LIST is a list file of the row's items
 * (items.h), relative to the spec's folder; NOTE, when given, is text shown
 * under the task's table (the last note of a task wins). Blank lines and lines
 * starting with '#' are skipped. TASK and ROW are at most
 * OD_RESULTS_LABEL_MAX bytes, NOTE OD_RESULTS_NOTE_MAX.
 *
 * Every item of every row is scored. An item that cannot be (its prediction
 * is missing because the job that makes it failed, a file does not read) is
 * counted as failed, with its message, and left out of the row's means, so a
 * failed job never hides the others. A list or spec that cannot be read is an
 * error.
 *
 * Output formats:
 *   md    "# TITLE", the parameters, then per task "## TASK", a table of
 *         rows (label, items, failed, then the summary of every metric and
 *         count of the command, reals to 4 significant digits), the note,
 *         and the failed items with their messages;
 *   json  {"format": "od-eval-results", "version": 1, "title", "parameters":
 *         {KEY: VALUE}, "tasks": [{"task", "command", "note", "rows": [{"row",
 *         "list", "items", "failed", "summary": {column: value},
 *         "failures": [{"pred", "gt", "error"}], "scores": [{column: value}]}]}]}
 *         (reals to 10 significant digits; undefined and infinite values null);
 *   csv   one line per task, row and metric: task,command,row,items,failed,
 *         metric,value.
 */
#ifndef OD_EVAL_RESULTS_H
#define OD_EVAL_RESULTS_H

#include "eval/evaluate.h"
#include "eval/items.h"
#include "eval/report.h"

#include <stddef.h>

#define OD_RESULTS_LABEL_MAX 200
#define OD_RESULTS_NOTE_MAX 4096
/* Spec files larger than this are refused. */
#define OD_RESULTS_SPEC_MAX ((size_t)16 << 20)

struct od_results_line {
	char *task, *row, *list, *note; /* note NULL when not given; list resolved against the spec's folder */
	enum od_eval_kind kind;
	int line;                       /* its line in the spec */
};

struct od_results_spec {
	struct od_results_line *v;
	int n, cap;
};

void od_results_spec_free(struct od_results_spec *s);
/* Parse a spec's text; label names it in messages; base is the folder list
 * names are joined to (NULL: kept as they are). OD_EFORMAT on a malformed
 * line, an unknown command, a task whose rows name different commands, a
 * row label used twice in a task, or no rows at all. */
int od_results_spec_parse(const char *text, size_t len, const char *label, const char *base,
			  struct od_results_spec *s);
/* Read a spec file ("-": standard input). */
int od_results_spec_read(const char *path, struct od_results_spec *s);

struct od_results_row {
	struct od_report report; /* the scored items */
	int items, failed;
	char **fail_pred, **fail_gt, **fail_msg; /* (failed) */
};

struct od_results {
	const struct od_results_spec *spec;
	struct od_results_row *rows; /* one per spec line */
};

/* Score every row of the spec. */
int od_results_run(const struct od_results_spec *spec, const struct od_eval_opts *opts, struct od_results *r);
void od_results_free(struct od_results *r);

/* Write the results: title (NULL: "Evaluation results") and parameters
 * params[k] "KEY=VALUE" (shown in order) head the report. */
int od_results_write(const struct od_results *r, enum od_report_format f, const char *title,
		     const char *const *params, int n_params, struct od_out *o);

#endif
