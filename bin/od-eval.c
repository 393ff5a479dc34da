/* od-eval: evaluation metrics over predictions and references (od-eval(1)):
 * pictures (PSNR, SSIM), depth (AbsRel, δ1), semantic maps (mIoU), cameras
 * (relative rotation and centre accuracy) and text -> image (GenEval-style
 * presence, count, colour, position); and what an evaluation run needs around
 * them: baseline predictions, contact sheets, and the results of many tasks in
 * one document (make eval). The work is in lib/eval/. */
#include "od.h"
#include "eval/baseline.h"
#include "eval/evaluate.h"
#include "eval/items.h"
#include "eval/report.h"
#include "eval/results.h"
#include "eval/sheet.h"
#include "tool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	printf("Usage: od-eval COMMAND [OPTIONS] PRED GT\n"
	       "       od-eval COMMAND [OPTIONS] PRED_DIR GT_DIR\n"
	       "       od-eval COMMAND [OPTIONS] --list FILE\n"
	       "       od-eval COMMAND [OPTIONS] --set SET PRED_DIR\n"
	       "Measure predictions against references: one line per item, then a summary.\n"
	       "Commands:\n"
	       "  image PRED GT          PSNR (dB) and SSIM of two pictures\n"
	       "  depth PRED GT          AbsRel, delta1 and RMSE after scale-and-shift alignment;\n"
	       "                         GT a 16-bit depth PNG, PRED 8-bit (near = bright) or 16-bit\n"
	       "  seg PRED GT            mean IoU over the region colours (GT a semantic map)\n"
	       "  cameras PRED GT        relative rotation errors, RRA@15, centre accuracy CCA@0.1\n"
	       "  t2i PICTURE SCENE      presence, count, colour and position of the scene's objects\n"
	       "  results SPEC           the tables of an evaluation run: tasks, their rows, their lists\n"
	       "  sheet FILE...          a contact sheet of pictures and camera files\n"
	       "  baseline KIND REF      a trivial prediction: mean, black (pictures), origin (cameras)\n"
	       "Options:\n"
	       "  -f, --format FMT       csv (default), json or md\n"
	       "  -o, --output FILE      write to FILE instead of standard output\n"
	       "  -l, --list FILE        items from FILE: one \"PRED GT\" per line ('-': stdin)\n"
	       "      --set SET          items from a scene set: its scenes, predictions in PRED_DIR/ID.png\n"
	       "      --view N           --set: the view to compare (default 0)\n"
	       "      --depth-scale S    depth: metres per ground-truth unit (default 1)\n"
	       "      --scene FILE       depth: the depth scale of this scene.json\n"
	       "      --hue-tol DEG      t2i: hue tolerance of the colour detector (default 20)\n"
	       "      --min-area N       t2i: smallest object in pixels (default 0.5%% of the picture)\n"
	       "  -h, --help             this help;  -V, --version  the version\n"
	       "Run 'od-eval results|sheet|baseline --help' for theirs.\n"
	       "Exit status: 0 ok, 1 failure, 2 usage, 3 bad input, 5 I/O. See od-eval(1).\n");
}

/* ---------------------------------------------------------------- od-eval results */

static void usage_results(void)
{
	printf("Usage: od-eval results [-f md|json|csv] [-o FILE] [--json FILE] [--title TEXT]\n"
	       "                       [--param KEY=VALUE]... SPEC\n"
	       "Score every row of SPEC (lines \"TASK COMMAND ROW LIST [NOTE]\", tab-separated) and write\n"
	       "one table per task; an item that cannot be scored counts as failed.\n"
	       "Options:\n"
	       "  -f, --format FMT       md (default), json or csv\n"
	       "  -o, --output FILE      write to FILE instead of standard output\n"
	       "      --json FILE        also write the results as JSON to FILE\n"
	       "      --title TEXT       the document's title (default \"Evaluation results\")\n"
	       "      --param KEY=VALUE  a parameter of the run, shown under the title (repeatable)\n"
	       "  -h, --help             this help\n"
	       "See od-eval(1).\n");
}

static int cmd_results(int argc, char **argv)
{
	enum { O_JSON = 256, O_TITLE, O_PARAM };
	static const struct option opts[] = {
		{ "format", required_argument, 0, 'f' }, { "output", required_argument, 0, 'o' },
		{ "json", required_argument, 0, O_JSON }, { "title", required_argument, 0, O_TITLE },
		{ "param", required_argument, 0, O_PARAM }, { "help", no_argument, 0, 'h' },
		{ 0 }
	};
	const char *out_path = "-", *json = NULL, *title = NULL, *params[64];
	int format = OD_REPORT_MD, n_params = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if ((format = od_report_format_parse(optarg)) < 0)
				od_usage_error("--format: '%s' is not md, json or csv", optarg);
			break;
		case 'o': out_path = optarg; break;
		case O_JSON: json = optarg; break;
		case O_TITLE: title = optarg; break;
		case O_PARAM:
			if (!strchr(optarg, '=') || optarg[0] == '=')
				od_usage_error("--param: '%s' is not KEY=VALUE", optarg);
			if (n_params == 64)
				od_usage_error("--param: at most 64 parameters");
			params[n_params++] = optarg;
			break;
		case 'h': usage_results(); return 0;
		case ':': od_usage_error("option '%s' needs a value", argv[optind - 1]);
		default: od_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		od_usage_error("results: give one SPEC file");
	struct od_results_spec spec;
	struct od_results r;
	struct od_eval_opts eo = { 0 };
	int rc = od_results_spec_read(argv[optind], &spec);
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

/* ---------------------------------------------------------------- od-eval sheet */

static void usage_sheet(void)
{
	printf("Usage: od-eval sheet [-o FILE] [--columns N] [--cell WxH] [--missing] FILE...\n"
	       "A contact sheet (PNG) of pictures and camera files, row by row.\n"
	       "Options:\n"
	       "  -o, --output FILE      write to FILE instead of standard output\n"
	       "  -c, --columns N        cells per row (default: all in one row)\n"
	       "      --cell WxH         the cells' size (default: the largest picture's)\n"
	       "      --missing          draw a file that does not exist as a crossed cell\n"
	       "  -h, --help             this help\n"
	       "See od-eval(1).\n");
}

static int cmd_sheet(int argc, char **argv)
{
	enum { O_CELL = 256, O_MISSING };
	static const struct option opts[] = {
		{ "output", required_argument, 0, 'o' }, { "columns", required_argument, 0, 'c' },
		{ "cell", required_argument, 0, O_CELL }, { "missing", no_argument, 0, O_MISSING },
		{ "help", no_argument, 0, 'h' },          { 0 }
	};
	const char *out_path = "-";
	struct od_sheet_opts so = { 0 };
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out_path = optarg; break;
		case 'c': so.cols = (int)od_opt_int("--columns", optarg, 1, OD_IMAGE_MAX_SIDE); break;
		case O_CELL: od_opt_size("--cell", optarg, &so.cell_w, &so.cell_h); break;
		case O_MISSING: so.missing_ok = 1; break;
		case 'h': usage_sheet(); return 0;
		case ':': od_usage_error("option '%s' needs a value", argv[optind - 1]);
		default: od_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	int n = argc - optind;
	if (n < 1)
		od_usage_error("sheet: give the files of the cells");
	if (!so.cols)
		so.cols = n;
	int rc = od_sheet_write((const char *const *)argv + optind, n, &so, out_path);
	if (rc)
		od_fail(rc);
	return 0;
}

/* ---------------------------------------------------------------- od-eval baseline */

static void usage_baseline(void)
{
	printf("Usage: od-eval baseline mean|black|origin [-o FILE] REF\n"
	       "A trivial prediction of REF's kind, to score beside a model's:\n"
	       "  mean     a picture of REF's size in REF's mean colour (PNG)\n"
	       "  black    a black picture of REF's size (PNG)\n"
	       "  origin   REF's cameras, all at the origin with the identity rotation\n"
	       "Options:\n"
	       "  -o, --output FILE      write to FILE instead of standard output\n"
	       "  -h, --help             this help\n"
	       "See od-eval(1).\n");
}

static int cmd_baseline(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, 0, 'o' }, { "help", no_argument, 0, 'h' }, { 0 }
	};
	const char *out_path = "-";
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out_path = optarg; break;
		case 'h': usage_baseline(); return 0;
		case ':': od_usage_error("option '%s' needs a value", argv[optind - 1]);
		default: od_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		od_usage_error("baseline: give the kind (mean, black or origin) and REF");
	int b = od_baseline_parse(argv[optind]);
	if (b < 0)
		od_usage_error("baseline: unknown kind '%s' (mean, black or origin)", argv[optind]);
	int rc = od_baseline_file((enum od_baseline)b, argv[optind + 1], out_path);
	if (rc)
		od_fail(rc);
	return 0;
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-eval");
	if (argc < 2)
		od_usage_error("no command: image, depth, seg, cameras, t2i, results, sheet or baseline");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage();
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
		od_version();
	if (!strcmp(argv[1], "results"))
		return cmd_results(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sheet"))
		return cmd_sheet(argc - 1, argv + 1);
	if (!strcmp(argv[1], "baseline"))
		return cmd_baseline(argc - 1, argv + 1);
	int kind = -1;
	for (int k = 0; k < OD_EVAL_KINDS; k++)
		if (!strcmp(argv[1], od_eval_kind_names[k]))
			kind = k;
	if (kind < 0)
		od_usage_error("unknown command '%s' (image, depth, seg, cameras, t2i, results, sheet or baseline)",
			       argv[1]);

	enum { O_SET = 256, O_VIEW, O_DEPTH_SCALE, O_SCENE, O_HUE_TOL, O_MIN_AREA };
	static const struct option opts[] = {
		{ "format", required_argument, 0, 'f' },
		{ "output", required_argument, 0, 'o' },
		{ "list", required_argument, 0, 'l' },
		{ "set", required_argument, 0, O_SET },
		{ "view", required_argument, 0, O_VIEW },
		{ "depth-scale", required_argument, 0, O_DEPTH_SCALE },
		{ "scene", required_argument, 0, O_SCENE },
		{ "hue-tol", required_argument, 0, O_HUE_TOL },
		{ "min-area", required_argument, 0, O_MIN_AREA },
		{ "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },
		{ 0 }
	};
	const char *out_path = "-", *list = NULL, *set = NULL;
	int format = OD_REPORT_CSV, view = 0, view_given = 0, c;
	struct od_eval_opts eo = { 0 };
	argc--, argv++; /* options follow the command */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:o:l:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if ((format = od_report_format_parse(optarg)) < 0)
				od_usage_error("--format: '%s' is not csv, json or md", optarg);
			break;
		case 'o': out_path = optarg; break;
		case 'l': list = optarg; break;
		case O_SET: set = optarg; break;
		case O_VIEW: view = (int)od_opt_int("--view", optarg, 0, 9999), view_given = 1; break;
		case O_DEPTH_SCALE: eo.depth_scale = od_opt_num("--depth-scale", optarg, 1e-300, 1e300); break;
		case O_SCENE: eo.scene = optarg; break;
		case O_HUE_TOL: eo.t2i.hue_tol = od_opt_num("--hue-tol", optarg, 1e-6, 180); break;
		case O_MIN_AREA: eo.t2i.min_area = (long)od_opt_int("--min-area", optarg, 1, 1LL << 40); break;
		case 'h': usage(); return 0;
		case 'V': od_version();
		case ':': od_usage_error("option '%s' needs a value", argv[optind - 1]);
		default: od_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	const char *cmd = od_eval_kind_names[kind];
	if ((eo.depth_scale > 0 || eo.scene) && kind != OD_EVAL_DEPTH)
		od_usage_error("--depth-scale and --scene are options of od-eval depth, not %s", cmd);
	if (eo.depth_scale > 0 && eo.scene)
		od_usage_error("give the depth scale either as --depth-scale or as --scene, not both");
	if ((eo.t2i.hue_tol > 0 || eo.t2i.min_area > 0) && kind != OD_EVAL_T2I)
		od_usage_error("--hue-tol and --min-area are options of od-eval t2i, not %s", cmd);
	if (view_given && !set)
		od_usage_error("--view chooses the view of a --set");
	if (list && set)
		od_usage_error("give items either as --list or as --set, not both");
	int npos = argc - optind, want = list ? 0 : set ? 1 : 2;
	if (npos != want)
		od_usage_error("%s: %s", cmd,
			       list  ? "no PRED or GT arguments with --list"
			       : set ? "--set SET takes one argument, PRED_DIR"
				     : (kind == OD_EVAL_T2I ? "give PICTURE SCENE.json (or two folders)"
							    : "give PRED and GT (two files or two folders)"));

	struct od_eval_items items;
	int rc;
	if (list)
		rc = od_eval_list_read(list, kind, &items);
	else if (set)
		rc = od_eval_set(set, argv[optind], kind, view, &items);
	else if (od_is_dir(argv[optind]) || od_is_dir(argv[optind + 1])) {
		if (!od_is_dir(argv[optind]) || !od_is_dir(argv[optind + 1]))
			od_usage_error("'%s' is a folder but '%s' is not: give two files or two folders",
				       od_is_dir(argv[optind]) ? argv[optind] : argv[optind + 1],
				       od_is_dir(argv[optind]) ? argv[optind + 1] : argv[optind]);
		rc = od_eval_dirs(argv[optind], argv[optind + 1], kind, &items);
	} else
		rc = od_eval_pair(argv[optind], argv[optind + 1], &items);
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
	struct od_out out;
	if ((rc = od_out_open(&out, out_path)))
		od_fail(rc);
	if ((rc = od_report_write(&report, format, cmd, &out)) || (rc = od_out_commit(&out))) {
		od_out_abort(&out);
		od_fail(rc);
	}
	od_report_free(&report);
	od_eval_items_free(&items);
	return 0;
}
