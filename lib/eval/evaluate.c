/*
 * evaluate.c: the dispatch from an item to its metric and report row
 * (evaluate.h).
 */
#include "eval/evaluate.h"
#include "base/error.h"
#include "eval/depth.h"
#include "eval/picture.h"
#include "eval/pose.h"
#include "eval/scene_json.h"
#include "eval/segment.h"

#include <math.h>
#include <string.h>

#define T OD_COL_TEXT
#define R OD_COL_REAL
#define C OD_COL_COUNT

static const struct {
	int n;
	const char *names[OD_REPORT_MAX_COLS];
	enum od_col_kind kinds[OD_REPORT_MAX_COLS];
} columns[OD_EVAL_KINDS] = {
	[OD_EVAL_IMAGE] = { 4, { "pred", "gt", "psnr", "ssim" }, { T, T, R, R } },
	[OD_EVAL_DEPTH] = { 6, { "pred", "gt", "absrel", "delta1", "rmse", "valid" }, { T, T, R, R, R, C } },
	[OD_EVAL_SEG] = { 5, { "pred", "gt", "miou", "miou_fg", "pixel_acc" }, { T, T, R, R, R } },
	[OD_EVAL_CAMERAS] = { 8,
			      { "pred", "gt", "views", "rot_err_mean", "rot_err_median", "rra15", "cca10",
				"centre_err" },
			      { T, T, C, R, R, R, R, R } },
	[OD_EVAL_T2I] = { 9,
			  { "picture", "scene", "presence", "count", "colour", "position", "mean", "objects",
			    "relations" },
			  { T, T, R, R, R, R, R, C, C } },
};

int od_eval_report_init(struct od_report *r, enum od_eval_kind kind)
{
	return od_report_init(r, columns[kind].n, columns[kind].names, columns[kind].kinds);
}

/* depth_scale of a scene.json, which must give one. */
static int scene_scale(const char *path, double *scale)
{
	struct od_eval_scene s;
	int rc = od_eval_scene_read(path, &s);
	if (rc)
		return rc;
	if (!s.has_depth_scale)
		rc = od_error(OD_EFORMAT, "'%s': no depth_scale", path);
	*scale = s.depth_scale;
	od_eval_scene_free(&s);
	return rc;
}

static int depth_scale(const struct od_eval_item *it, const struct od_eval_opts *o, double *scale)
{
	*scale = 1;
	if (it->scale > 0)
		return *scale = it->scale, OD_OK;
	if (it->scene)
		return scene_scale(it->scene, scale);
	if (o && o->depth_scale > 0)
		return *scale = o->depth_scale, OD_OK;
	if (o && o->scene)
		return scene_scale(o->scene, scale);
	return OD_OK;
}

int od_eval_item(enum od_eval_kind kind, const struct od_eval_item *it, const struct od_eval_opts *opts,
		 struct od_report *r)
{
	const char *text[OD_REPORT_MAX_COLS] = { it->pred, it->gt };
	double v[OD_REPORT_MAX_COLS];
	int rc;
	for (int k = 0; k < OD_REPORT_MAX_COLS; k++)
		v[k] = NAN;
	switch (kind) {
	case OD_EVAL_IMAGE:
		rc = od_eval_picture_files(it->pred, it->gt, &v[2]);
		break;
	case OD_EVAL_DEPTH: {
		double scale;
		struct od_depth_metrics m;
		if ((rc = depth_scale(it, opts, &scale)) || (rc = od_eval_depth_files(it->pred, it->gt, scale, &m)))
			break;
		v[2] = m.absrel, v[3] = m.delta1, v[4] = m.rmse, v[5] = (double)m.valid;
		break;
	}
	case OD_EVAL_SEG: {
		struct od_seg_metrics m;
		if ((rc = od_eval_seg_files(it->pred, it->gt, &m)))
			break;
		v[2] = m.miou, v[3] = m.miou_fg, v[4] = m.pixel_acc;
		break;
	}
	case OD_EVAL_CAMERAS: {
		struct od_pose_metrics m;
		if ((rc = od_eval_pose_files(it->pred, it->gt, &m)))
			break;
		v[2] = m.views, v[3] = m.rot_mean, v[4] = m.rot_median, v[5] = m.rra, v[6] = m.cca,
		v[7] = m.centre_mean;
		break;
	}
	case OD_EVAL_T2I: {
		struct od_t2i_result m;
		if ((rc = od_eval_t2i_files(it->pred, it->gt, opts ? &opts->t2i : NULL, &m)))
			break;
		v[2] = m.presence, v[3] = m.count, v[4] = m.colour, v[5] = m.position, v[6] = m.mean;
		v[7] = m.objects, v[8] = m.relations;
		od_t2i_result_free(&m);
		break;
	}
	default:
		return od_error(OD_EINVAL, "unknown evaluation kind %d", (int)kind);
	}
	if (rc)
		return rc;
	return od_report_add(r, text, v);
}
