/*
 * t2i.h: a GenEval-style check of a generated picture against the scene it was
 * asked for (od-eval(1) "t2i"): are the named objects there, as many as
 * stated, in their colours, and placed as the caption says?
 *
 * This is a detector for flat-coloured synthetic objects (scene sets of
 * od-scene(1), and pictures generated from their captions), not GenEval's
 * Mask2Former: it finds objects by colour only and knows nothing of shapes.
 *
 * Colours. A pixel (R, G, B) is seen as HSV: V = max/255, S = (max − min)/max
 * (0 when max = 0), H the usual hue in degrees (0 when max = min). Shading that
 * scales a surface's RGB leaves H and S unchanged, which is why they are used
 * and RGB is not. A colour is chromatic when S >= 0.2 and V >= 0.15 (a palette
 * colour: S >= 0.2), else achromatic. The distance of a pixel p to a palette
 * colour c (scene.json "palette") is
 *   both chromatic     d = sqrt((Δh / hue_tol)² + (ΔS / 0.3)²), Δh the hue
 *                      difference around the circle (hue_tol default 20°)
 *   both achromatic    d = |V_p − V_c| / 0.2
 *   otherwise          d = ∞
 * p is within c's tolerance when d <= 1; p's nearest colour is the palette
 * colour of least d (ties to the first in the palette; none when every d is ∞).
 *
 * Objects. The objects looked for are those the caption names
 * (od_eval_scene_named: with view 0's boxes in scene.json, the ones od-scene's
 * caption names, at least ⌊W·H/2000⌋ pixels in view 0; else all of them), and
 * the relations those between two of them.
 *
 * Detections. For each colour a named object has, the pixels within its
 * tolerance are split into 4-connected components; those of at least min_area
 * pixels (default W·H/200 rounded up: 0.5% of the picture; random-weight
 * noise pictures make colour blobs of up to 0.3%) are its detections. A detection's dominant colour is the most frequent nearest colour of its pixels (ties to the
 * first in the palette); its centre is the mean of its pixel coordinates, its
 * box the bounding box (w = x_max − x_min + 1, h likewise).
 *
 * Scores, for k_c named objects of colour c (N named objects, R relations;
 * every score NAN when N = 0):
 *   presence  Σ_c min(#detections_c, k_c) / N
 *   count     fraction of the colours c with #detections_c = k_c exactly
 *   colour    Σ_c min(#detections_c whose dominant colour is c, k_c) / N
 *   position  fraction of the relations "a REL b" for which some detection of
 *             a's colour and a different detection of b's colour satisfy REL
 *             (NAN when R = 0):
 *               left of / right of / above / below: GenEval's rule on the
 *               centres, offset o = centre_a − centre_b, per axis
 *               r = sign(o)·max(|o| − 0.1·(size_a + size_b), 0), no relation if
 *               both |r| < 1e-3, else with (dx, dy) = r / |o|: left of dx < −0.5,
 *               right of dx > 0.5, above dy < −0.5, below dy > 0.5 (y grows
 *               down);
 *               in front of / behind: the bases, o = y_max,a − y_max,b,
 *               r = sign(o)·max(|o| − 0.1·(h_a + h_b), 0): in front of r > 0,
 *               behind r < 0 (objects resting on a ground plane seen from
 *               above: the nearer one's base is lower in the picture).
 *   mean      the mean of the defined scores.
 */
#ifndef OD_EVAL_T2I_H
#define OD_EVAL_T2I_H

#include "eval/scene_json.h"
#include "formats/image.h"

#define OD_T2I_HUE_TOL 20.0  /* degrees */
#define OD_T2I_SAT_TOL 0.3
#define OD_T2I_VAL_TOL 0.2
#define OD_T2I_SAT_MIN 0.2   /* chromatic from here */
#define OD_T2I_VAL_MIN 0.15
#define OD_T2I_POSITION 0.1  /* GenEval's POSITION_THRESHOLD */

struct od_t2i_opts {
	double hue_tol; /* degrees, (0, 180]; 0: OD_T2I_HUE_TOL */
	long min_area;  /* pixels; 0: ceil(W·H / 200) */
};

struct od_t2i_detection {
	int colour;           /* the palette colour it was found as */
	int dominant;         /* its dominant colour */
	long area;
	double cx, cy;        /* centre, pixels */
	int x0, y0, x1, y1;   /* box, inclusive */
};

struct od_t2i_result {
	double presence, count, colour, position, mean;
	int objects, relations;
	int n_det;
	struct od_t2i_detection *det; /* malloc'd; by colour, then area (largest first) */
};

void od_t2i_result_free(struct od_t2i_result *r);

/* HSV of an 8-bit RGB colour: h degrees [0, 360), s and v in [0, 1]. */
void od_t2i_hsv(const uint8_t rgb[3], double *h, double *s, double *v);
/* The distance d of a pixel to a palette colour (INFINITY when not comparable). */
double od_t2i_distance(const uint8_t px[3], const uint8_t pal[3], double hue_tol);

/* Score a picture (RGB) against a scene. When the scene names no object every
 * score is NAN (undefined), which is not an error: a scene set may hold empty
 * scenes. */
int od_t2i_eval(const struct od_image *pic, const struct od_eval_scene *scene, const struct od_t2i_opts *opts,
		struct od_t2i_result *out);

/* Read a picture and a scene.json and score. */
int od_eval_t2i_files(const char *picture, const char *scene_json, const struct od_t2i_opts *opts,
		      struct od_t2i_result *out);

#endif
