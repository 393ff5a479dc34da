/* od-eval: evaluation metrics over predictions and references (od-eval(1)):
 * pictures (PSNR, SSIM), depth (AbsRel, δ1), semantic maps (mIoU), cameras
 * (relative rotation and centre accuracy) and text -> image (GenEval-style
 * presence, count, colour, position), one command a kind of item; and what an
 * evaluation run needs around them: baseline predictions, contact sheets, and
 * the results of many tasks in one document (make eval). The work is in
 * lib/eval/. */
#include "od.h"
#include "eval/baseline.h"
#include "eval/compare.h"
#include "eval/evaluate.h"
#include "eval/items.h"
#include "eval/report.h"
#include "eval/results.h"
#include "eval/sheet.h"
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct od_usage usage = {
	.description =
		"Measure predictions against references: one line per item, then a summary.\n"
		"An item is PRED and GT (two files; or two folders, whose files of one name are\n"
		"paired), a line \"PRED GT\" of a --list FILE, or a scene of a --set SET, whose\n"
		"predictions are PRED_DIR/ID.png. depth: GT a 16-bit depth PNG, PRED 8-bit\n"
		"(near = bright) or 16-bit. t2i: PRED a picture, GT its scene.json.\n",
	.footer = "Exit status: 0 ok, 1 failure, 2 usage, 3 bad input, 5 I/O. See od-eval(1).\n",
};

/* --format csv|json|md (the names are the library's) */
static int format_cb(const struct od_option *opt, const char *arg)
{
	int f = od_report_format_parse(arg);
	if (f < 0)
		return od_error(OD_EINVAL, "--format: '%s' is not csv, json or md", arg);
	*(int *)opt->value = f;
	return OD_OK;
}

/* The table to path ("-": standard output), committed only when whole. */
static void write_report(struct od_report *report, int format, const char *command, const char *path)
{
	struct od_out out;
	int rc = od_out_open(&out, path);
	if (rc)
		od_fail(rc);
	if ((rc = od_report_write(report, format, command, &out)) || (rc = od_out_commit(&out))) {
		od_out_abort(&out);
		od_fail(rc);
	}
	od_report_free(report);
}

static int cmd_eval(int argc, char **argv, const struct od_command *cmd)
{
	enum od_eval_kind kind = OD_EVAL_KINDS;
	for (int k = 0; k < OD_EVAL_KINDS; k++)
		if (!strcmp(cmd->name, od_eval_kind_names[k]))
			kind = (enum od_eval_kind)k;
	if (kind == OD_EVAL_KINDS)
		od_die(OD_EFAIL, "%s: not a kind of item the library knows", cmd->name);

	const char *out_path = "-", *list = NULL, *set = NULL;
	int format = OD_REPORT_CSV, view = -1; /* -1: not given */
	int64_t min_area = 0;
	struct od_eval_opts eo = { 0 };
	char hue_help[96];
	snprintf(hue_help, sizeof hue_help, "hue tolerance of the colour detector, in (0, 180] (default %g)",
		 OD_T2I_HUE_TOL);
	const struct od_option depth_opts[] = {
		OD_OPT_NUM(0, "depth-scale", &eo.depth_scale, "S", "metres per ground-truth unit (default 1)", 1e-300,
			   1e300),
		OD_OPT_STRING(0, "scene", &eo.scene, "FILE", "the depth scale of this scene.json"),
		OD_OPT_END(),
	};
	const struct od_option t2i_opts[] = {
		OD_OPT_NUM(0, "hue-tol", &eo.t2i.hue_tol, "DEG", hue_help, 1e-6, 180),
		OD_OPT_INT64(0, "min-area", &min_area, "N", "smallest object in pixels (default 0.5% of the picture)", 1,
			     (int64_t)1 << 40),
		OD_OPT_END(),
	};
	const struct od_option none[] = { OD_OPT_END() };
	const struct od_option opts[] = {
		OD_OPT_CALLBACK('F', "format", &format, "FMT", "csv (the default), json or md", format_cb),
		OD_OPT_STRING('o', "output", &out_path, "FILE", "write to FILE instead of standard output"),
		OD_OPT_STRING(0, "list", &list, "FILE", "items from FILE: one \"PRED GT\" per line ('-': stdin)"),
		OD_OPT_STRING(0, "set", &set, "SET", "items from a scene set: its scenes, predictions in PRED_DIR/ID.png"),
		OD_OPT_INT(0, "view", &view, "N", "--set: the view to compare (default 0)", 0, 9999),
		OD_OPT_INCLUDE(kind == OD_EVAL_DEPTH ? depth_opts : kind == OD_EVAL_T2I ? t2i_opts : none),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	eo.t2i.min_area = (long)min_area;
	if (eo.depth_scale > 0 && eo.scene)
		od_usage_error("give the depth scale either as --depth-scale or as --scene, not both");
	if (view >= 0 && !set)
		od_usage_error("--view chooses the view of a --set");
	if (list && set)
		od_usage_error("give items either as --list or as --set, not both");
	int npos = argc - first, want = list ? 0 : set ? 1 : 2;
	if (npos != want)
		od_usage_error("%s", list  ? "no PRED or GT arguments with --list"
				     : set ? "--set SET takes one argument, PRED_DIR"
					   : (kind == OD_EVAL_T2I ? "give PICTURE SCENE.json (or two folders)"
								  : "give PRED and GT (two files or two folders)"));

	struct od_eval_items items;
	int rc;
	const char *pred = npos > 0 ? argv[first] : NULL, *gt = npos > 1 ? argv[first + 1] : NULL;
	if (list)
		rc = od_eval_list_read(list, kind, &items);
	else if (set)
		rc = od_eval_set(set, pred, kind, view < 0 ? 0 : view, &items);
	else if (od_is_dir(pred) || od_is_dir(gt)) {
		if (!od_is_dir(pred) || !od_is_dir(gt))
			od_usage_error("'%s' is a folder but '%s' is not: give two files or two folders",
				       od_is_dir(pred) ? pred : gt, od_is_dir(pred) ? gt : pred);
		rc = od_eval_dirs(pred, gt, kind, &items);
	} else
		rc = od_eval_pair(pred, gt, &items);
	if (rc)
		od_fail(rc);

	/* every item first, so that a bad one leaves no output at all */
	struct od_report report;
	if ((rc = od_eval_report_init(&report, kind)))
		od_fail(rc);
	for (int i = 0; i < items.n; i++)
		if ((rc = od_eval_item(kind, &items.v[i], &eo, &report))) {
			if (items.v[i].line)
				od_error_prefix(rc, "'%s' line %d", strcmp(list, "-") ? list : "<stdin>",
						items.v[i].line);
			od_fail(rc);
		}
	write_report(&report, format, cmd->name, out_path);
	od_eval_items_free(&items);
	return 0;
}

/* ---------------------------------------------------------------- od-eval results */

#define MAX_PARAMS 64

static int cmd_results(int argc, char **argv, const struct od_command *cmd)
{
	const char *out_path = "-", *json = NULL, *title = NULL, *params[MAX_PARAMS];
	int format = OD_REPORT_MD, n_params = 0;
	const struct od_option opts[] = {
		OD_OPT_CALLBACK('F', "format", &format, "FMT", "md (the default), json or csv", format_cb),
		OD_OPT_STRING('o', "output", &out_path, "FILE", "write to FILE instead of standard output"),
		OD_OPT_STRING(0, "json", &json, "FILE", "also write the results as JSON to FILE"),
		OD_OPT_STRING(0, "title", &title, "TEXT", "the document's title (default \"Evaluation results\")"),
		OD_OPT_LIST(0, "param", params, &n_params, MAX_PARAMS, "KEY=VALUE",
			    "a parameter of the run, shown under the title (repeatable)"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	for (int k = 0; k < n_params; k++)
		if (!strchr(params[k], '=') || params[k][0] == '=')
			od_usage_error("--param: '%s' is not KEY=VALUE", params[k]);
	if (argc - first != 1)
		od_usage_error("results: give one SPEC file");
	struct od_results_spec spec;
	struct od_results r;
	struct od_eval_opts eo = { 0 };
	int rc = od_results_spec_read(argv[first], &spec);
	if (rc || (rc = od_results_run(&spec, &eo, &r)))
		od_fail(rc);
	/* both written before either is committed: neither appears unless both can */
	struct od_out out[2];
	const char *paths[2] = { json, out_path }; /* standard output, if one of them, last */
	const int formats[2] = { OD_REPORT_JSON, format };
	int opened = 0;
	for (int k = json ? 0 : 1; k < 2 && !rc; k++) {
		if ((rc = od_out_open(&out[k], paths[k])))
			break;
		opened |= 1 << k;
		rc = od_results_write(&r, formats[k], title, params, n_params, &out[k]);
	}
	for (int k = 0; k < 2; k++)
		if (opened & (1 << k) && (rc || (rc = od_out_commit(&out[k]))))
			od_out_abort(&out[k]);
	if (rc)
		od_fail(rc);
	od_results_free(&r);
	od_results_spec_free(&spec);
	return 0;
}

/* ---------------------------------------------------------------- od-eval compare */

static int cmd_compare(int argc, char **argv, const struct od_command *cmd)
{
	const char *out_path = "-";
	int format = OD_REPORT_CSV;
	struct od_compare_opts co = { 0 };
	const struct od_option opts[] = {
		OD_OPT_CALLBACK('F', "format", &format, "FMT", "csv (the default), json or md", format_cb),
		OD_OPT_STRING('o', "output", &out_path, "FILE", "write to FILE instead of standard output"),
		OD_OPT_NUM(0, "abs", &co.abs, "A", "absolute tolerance (default 0)", 0, 1e300),
		OD_OPT_NUM(0, "rel", &co.rel, "R", "relative tolerance, of the reference value (default 0)", 0, 1e300),
		OD_OPT_BOOL(0, "summary", &co.summary, "compare the rows' summaries and counts too (runs over the same items)"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	if (argc - first != 2)
		od_usage_error("compare: give REFERENCE and RESULTS (two results.json)");
	struct od_compare c;
	struct od_report report;
	int rc = od_compare_files(argv[first], argv[first + 1], &co, &c);
	if (rc || (rc = od_compare_report(&c, &report)))
		od_fail(rc);
	write_report(&report, format, cmd->name, out_path);
	/* the table is written either way; differences make the exit status 1, as diff's do */
	int values = 0;
	for (int i = 0; i < c.n; i++)
		values += c.v[i].items;
	const struct od_compare_line *w = NULL;
	for (int i = 0; i < c.n; i++)
		if (c.v[i].beyond && (!w || c.v[i].worst > w->worst))
			w = &c.v[i];
	if (c.unmatched)
		od_error(OD_EFAIL, "compare: %d thing%s of '%s' not matched in '%s'; the first: %s", c.unmatched,
		       c.unmatched == 1 ? "" : "s", argv[first + 1], argv[first], c.first_unmatched), od_report(OD_EFAIL);
	if (w)
		od_error(OD_EFAIL, "compare: %d of %d values beyond the tolerance; the worst: task '%s', row '%s', '%s' of '%s': "
		       "%.10g against %.10g",
		       c.beyond, values, w->task, w->row, w->column, w->item, w->got, w->ref), od_report(OD_EFAIL);
	int differ = c.beyond || c.unmatched;
	od_compare_free(&c);
	return differ ? OD_EXIT_FAIL : 0;
}

/* ---------------------------------------------------------------- od-eval sheet */

static int cell_cb(const struct od_option *opt, const char *arg)
{
	struct od_sheet_opts *so = opt->value;
	od_opt_size("--cell", arg, &so->cell_w, &so->cell_h);
	return OD_OK;
}

static int cmd_sheet(int argc, char **argv, const struct od_command *cmd)
{
	const char *out_path = "-";
	struct od_sheet_opts so = { 0 };
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &out_path, "FILE", "write to FILE instead of standard output"),
		OD_OPT_INT(0, "columns", &so.cols, "N", "cells per row (default: all in one row)", 1,
			   OD_IMAGE_MAX_SIDE),
		OD_OPT_CALLBACK(0, "cell", &so, "WxH", "the cells' size (default: the largest picture's)", cell_cb),
		OD_OPT_BOOL(0, "missing", &so.missing_ok, "draw a file that does not exist or cannot be read as a "
			    "crossed cell"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	int n = argc - first;
	if (n < 1)
		od_usage_error("sheet: give the files of the cells");
	if (!so.cols)
		so.cols = n;
	int rc = od_sheet_write((const char *const *)argv + first, n, &so, out_path);
	if (rc)
		od_fail(rc);
	return 0;
}

/* ---------------------------------------------------------------- od-eval baseline */

static int cmd_baseline(int argc, char **argv, const struct od_command *cmd)
{
	const char *out_path = "-";
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &out_path, "FILE", "write to FILE instead of standard output"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	if (argc - first != 2)
		od_usage_error("baseline: give the kind (mean, black or origin) and REF");
	int b = od_baseline_parse(argv[first]);
	if (b < 0)
		od_usage_error("baseline: unknown kind '%s' (mean, black or origin)", argv[first]);
	int rc = od_baseline_file((enum od_baseline)b, argv[first + 1], out_path);
	if (rc)
		od_fail(rc);
	return 0;
}

/* The commands are the library's kinds of item (od_eval_kind_names), then
 * the commands of an evaluation run. */
static const struct od_command commands[] = {
	{ "image", cmd_eval, "PSNR (dB) and SSIM of two pictures",
	  "od-eval image [OPTIONS] PRED GT | --list FILE | --set SET PRED_DIR" },
	{ "depth", cmd_eval, "AbsRel, delta1 and RMSE after scale-and-shift alignment",
	  "od-eval depth [OPTIONS] PRED GT | --list FILE | --set SET PRED_DIR" },
	{ "seg", cmd_eval, "mean IoU over the region colours (GT a semantic map)",
	  "od-eval seg [OPTIONS] PRED GT | --list FILE | --set SET PRED_DIR" },
	{ "cameras", cmd_eval, "relative rotation errors, RRA@15, centre accuracy CCA@0.1",
	  "od-eval cameras [OPTIONS] PRED GT | --list FILE | --set SET PRED_DIR" },
	{ "t2i", cmd_eval, "presence, count, colour and position of the scene's objects",
	  "od-eval t2i [OPTIONS] PICTURE SCENE | --list FILE | --set SET PRED_DIR" },
	{ "results", cmd_results, "score the lines \"TASK COMMAND ROW LIST\" of SPEC, one table a task",
	  "od-eval results [-F md|json|csv] [-o FILE] [--json FILE] [--title TEXT]\n"
	  "                [--param KEY=VALUE]... SPEC" },
	{ "compare", cmd_compare, "two results.json, value by value, within a tolerance",
	  "od-eval compare [-F csv|json|md] [-o FILE] [--abs A] [--rel R]\n"
	  "                [--summary] REFERENCE RESULTS" },
	{ "sheet", cmd_sheet, "a contact sheet (PNG) of pictures and camera files, row by row",
	  "od-eval sheet [-o FILE] [--columns N] [--cell WxH] [--missing] FILE..." },
	{ "baseline", cmd_baseline, "a trivial prediction: mean, black (pictures), origin (cameras)",
	  "od-eval baseline mean|black|origin [-o FILE] REF" },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-eval");
	return od_run_command(argc, argv, commands, &usage);
}
