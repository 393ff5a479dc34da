/*
 * evaluate.h: one od-eval(1) item -> one row of its report: reads the files,
 * runs the metric of the kind (picture.h, depth.h, segment.h, pose.h, t2i.h)
 * and appends the numbers.
 *
 * Columns by kind:
 *   image    pred gt psnr ssim
 *   depth    pred gt absrel delta1 rmse valid
 *   seg      pred gt miou miou_fg pixel_acc
 *   cameras  pred gt views rot_err_mean rot_err_median rra15 cca10 centre_err
 *   t2i      picture scene presence count colour position mean objects relations
 * (valid, views, objects and relations are counts: the summary totals them.)
 *
 * The depth scale of an item is, first found: the scale on its list line; the
 * depth_scale of its scene.json (list line or scene set); opts->depth_scale;
 * the depth_scale of opts->scene; 1 (the ground truth's own unit).
 */
#ifndef OD_EVAL_EVALUATE_H
#define OD_EVAL_EVALUATE_H

#include "eval/items.h"
#include "eval/report.h"
#include "eval/t2i.h"

struct od_eval_opts {
	double depth_scale;   /* 0: not given */
	const char *scene;    /* a scene.json for the depth scale, or NULL */
	struct od_t2i_opts t2i;
};

/* The report's columns for kind. */
int od_eval_report_init(struct od_report *r, enum od_eval_kind kind);

/* Evaluate one item and append its row to r. */
int od_eval_item(enum od_eval_kind kind, const struct od_eval_item *it, const struct od_eval_opts *opts,
		 struct od_report *r);

#endif
