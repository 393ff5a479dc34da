/* od-eval: evaluation metrics over predictions and references (od-eval(1)):
 * pictures (PSNR, SSIM), depth (AbsRel, δ1), semantic maps (mIoU), cameras
 * (relative rotation and centre accuracy) and text -> image (GenEval-style
 * presence, count, colour, position). The work is in lib/eval/. */
#include "od.h"
#include "eval/evaluate.h"
#include "eval/items.h"
#include "eval/report.h"
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
	       "Exit status: 0 ok, 1 failure, 2 usage, 3 bad input, 5 I/O. See od-eval(1).\n");
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-eval");
	if (argc < 2)
		od_usage_error("no command: image, depth, seg, cameras or t2i");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage();
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
		od_version();
	int kind = -1;
	for (int k = 0; k < OD_EVAL_KINDS; k++)
		if (!strcmp(argv[1], od_eval_kind_names[k]))
			kind = k;
	if (kind < 0)
		od_usage_error("unknown command '%s' (image, depth, seg, cameras or t2i)", argv[1]);

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
