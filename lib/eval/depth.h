/*
 * depth.h: relative-depth metrics, AbsRel and δ1, after a least-squares
 * scale-and-shift alignment of the prediction to the ground truth (the
 * affine-invariant protocol of MiDaS and Marigold; od-eval(1) "depth").
 *
 * Ground truth: a 16-bit grey PNG (formats/image16.h), depth g = value × scale
 * (a scene set's depth16.png with its scene.json depth_scale, in metres per
 * unit). valid = the pixels whose value is > 0.
 *
 * Prediction, told apart by the PNG's bit depth:
 *   16-bit grey PNG   metric (or affine) depth x = the value. Aligned in depth
 *                     space, as Marigold does for depth models:
 *                       (s, t) = argmin Σ_valid (s·x + t − g)²,  p = s·x + t.
 *   8-bit picture     OneDiffusion's depth output: near = bright, normalised per
 *   (PNG, JPEG)       picture, a disparity-like map (upstream.md §6.3-6.4).
 *                     x = its PIL luma, L = (19595R + 38470G + 7471B + 2¹⁵) >> 16
 *                     (Image.convert('L'), which upstream's post-processing
 *                     applies; x = the grey value for a grey picture). Aligned
 *                     in inverse-depth space, as MiDaS does for its disparity
 *                     output:
 *                       (s, t) = argmin Σ_valid (s·x + t − 1/g)²,  q = s·x + t,
 *                       p = 1/q.
 *                     An 8-bit map cannot hold metric depth, and a per-picture
 *                     normalised disparity is an affine function of 1/g only.
 * The aligned depth is clipped to the range of the valid ground truth,
 * p ∈ [g_min, g_max] (for disparity, q ∈ [1/g_max, 1/g_min] before inverting),
 * as Marigold clips to the dataset's depth range: it keeps p positive and
 * finite where the fitted line leaves the scene. When x is constant over the
 * valid pixels the fit is p = mean(g) (q = mean(1/g)), the value every
 * least-squares solution gives there.
 *
 * Metrics over the N valid pixels:
 *   AbsRel = (1/N) Σ |p − g| / g
 *   δ1     = (1/N) #{ max(p/g, g/p) < 1.25 }
 *   RMSE   = sqrt((1/N) Σ (p − g)²), in the ground truth's unit (metres with
 *            a scene's depth_scale)
 * AbsRel and δ1 do not depend on the ground truth's scale; RMSE does.
 */
#ifndef OD_EVAL_DEPTH_H
#define OD_EVAL_DEPTH_H

#include <stdint.h>

/* δ1's threshold. */
#define OD_DELTA1 1.25

enum od_depth_space { OD_DEPTH_SPACE_DEPTH = 0, OD_DEPTH_SPACE_DISPARITY = 1 };

/* A depth map: v[y·width + x] holds the raw value (grey level or 16-bit unit). */
struct od_depth_map {
	int width, height;
	int bits;       /* 8 (a picture's luma) or 16 */
	double *v;
};

struct od_depth_metrics {
	double absrel, delta1, rmse;
	double scale, shift; /* the fitted s, t */
	int64_t valid;       /* N */
	enum od_depth_space space;
};

void od_depth_map_free(struct od_depth_map *m);

/* A prediction: a 16-bit grey PNG (bits 16) or any 8-bit PNG/JPEG picture
 * (bits 8, its luma). */
int od_depth_read_pred(struct od_depth_map *m, const char *path);
/* A ground truth: a 16-bit grey PNG only (OD_EFORMAT otherwise). */
int od_depth_read_gt(struct od_depth_map *m, const char *path);

/* Align pred to gt (raw values × scale, scale > 0) and measure. OD_EFORMAT
 * naming the files when the sizes differ or no pixel is valid. */
int od_depth_eval(const struct od_depth_map *pred, const char *lp, const struct od_depth_map *gt, const char *lg,
		  double scale, struct od_depth_metrics *out);

/* Read both and evaluate. */
int od_eval_depth_files(const char *pred, const char *gt, double scale, struct od_depth_metrics *out);

#endif
