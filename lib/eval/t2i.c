/*
 * t2i.c: colour detections and GenEval-style scores (t2i.h).
 *
 * Each pixel's nearest palette colour is computed once; the distance to one
 * colour is recomputed for that colour's mask (cheaper than holding W·H·P
 * distances). Components are found by a breadth-first fill in raster order, so
 * the detections and their order depend on the picture only.
 */
#include "eval/t2i.h"
#include "base/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void od_t2i_result_free(struct od_t2i_result *r)
{
	free(r->det);
	memset(r, 0, sizeof *r);
}

void od_t2i_hsv(const uint8_t rgb[3], double *h, double *s, double *v)
{
	int r = rgb[0], g = rgb[1], b = rgb[2];
	int mx = r > g ? (r > b ? r : b) : (g > b ? g : b), mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
	int delta = mx - mn;
	*v = mx / 255.0;
	*s = mx > 0 ? (double)delta / mx : 0;
	if (delta == 0)
		*h = 0;
	else if (mx == r) {
		*h = 60.0 * ((double)(g - b) / delta);
		if (*h < 0)
			*h += 360;
	} else if (mx == g)
		*h = 60.0 * ((double)(b - r) / delta) + 120;
	else
		*h = 60.0 * ((double)(r - g) / delta) + 240;
}

static double dist_hsv(double h, double s, double v, int chroma, double hc, double sc, double vc, int chroma_c,
		       double hue_tol)
{
	if (chroma != chroma_c)
		return INFINITY;
	if (!chroma)
		return fabs(v - vc) / OD_T2I_VAL_TOL;
	double dh = fabs(h - hc);
	if (dh > 180)
		dh = 360 - dh;
	double a = dh / hue_tol, b = (s - sc) / OD_T2I_SAT_TOL;
	return sqrt(a * a + b * b);
}

double od_t2i_distance(const uint8_t px[3], const uint8_t pal[3], double hue_tol)
{
	double h, s, v, hc, sc, vc;
	od_t2i_hsv(px, &h, &s, &v);
	od_t2i_hsv(pal, &hc, &sc, &vc);
	return dist_hsv(h, s, v, s >= OD_T2I_SAT_MIN && v >= OD_T2I_VAL_MIN, hc, sc, vc, sc >= OD_T2I_SAT_MIN, hue_tol);
}

/* GenEval's offset rule on one axis. */
static double revised(double o, double size_a, double size_b)
{
	double m = fabs(o) - OD_T2I_POSITION * (size_a + size_b);
	return m > 0 ? (o > 0 ? m : -m) : 0;
}

static int holds(const struct od_t2i_detection *a, const struct od_t2i_detection *b, enum od_eval_rel rel)
{
	if (rel == OD_EVAL_REL_FRONT || rel == OD_EVAL_REL_BEHIND) {
		double r = revised((double)a->y1 - b->y1, a->y1 - a->y0 + 1, b->y1 - b->y0 + 1);
		return rel == OD_EVAL_REL_FRONT ? r > 0 : r < 0;
	}
	double ox = a->cx - b->cx, oy = a->cy - b->cy;
	double rx = revised(ox, a->x1 - a->x0 + 1, b->x1 - b->x0 + 1);
	double ry = revised(oy, a->y1 - a->y0 + 1, b->y1 - b->y0 + 1);
	if (fabs(rx) < 1e-3 && fabs(ry) < 1e-3)
		return 0;
	double norm = sqrt(ox * ox + oy * oy), dx = rx / norm, dy = ry / norm;
	switch (rel) {
	case OD_EVAL_REL_LEFT: return dx < -0.5;
	case OD_EVAL_REL_RIGHT: return dx > 0.5;
	case OD_EVAL_REL_ABOVE: return dy < -0.5;
	case OD_EVAL_REL_BELOW: return dy > 0.5;
	default: return 0;
	}
}

static int cmp_det(const void *pa, const void *pb)
{
	const struct od_t2i_detection *a = pa, *b = pb;
	if (a->colour != b->colour)
		return a->colour < b->colour ? -1 : 1;
	if (a->area != b->area)
		return a->area > b->area ? -1 : 1;
	/* equal areas: the first in raster order (of the top-left-most seed) first */
	if (a->y0 != b->y0)
		return a->y0 < b->y0 ? -1 : 1;
	return (a->x0 > b->x0) - (a->x0 < b->x0);
}

int od_t2i_eval(const struct od_image *pic, const struct od_eval_scene *scene, const struct od_t2i_opts *opts,
		struct od_t2i_result *out)
{
	memset(out, 0, sizeof *out);
	out->presence = out->count = out->colour = out->position = out->mean = NAN;
	const double hue_tol = opts && opts->hue_tol > 0 ? opts->hue_tol : OD_T2I_HUE_TOL;
	const int W = pic->width, H = pic->height, P = scene->n_palette;
	const size_t n = (size_t)W * H;
	long min_area = opts && opts->min_area > 0 ? opts->min_area : (long)((n + 199) / 200);
	if (min_area < 1)
		min_area = 1;
	int *nearest = malloc(n * sizeof *nearest), *lab = malloc(n * sizeof *lab), *queue = malloc(n * sizeof *queue);
	int *k = calloc(P, sizeof *k), *votes = calloc(P, sizeof *votes);
	int rc = OD_OK, cap = 0;
	if (!nearest || !lab || !queue || !k || !votes) {
		rc = od_error(OD_ENOMEM, "out of memory for a %dx%d picture", W, H);
		goto done;
	}
	/* palette in HSV */
	double ph[OD_EVAL_MAX_PALETTE], ps[OD_EVAL_MAX_PALETTE], pv[OD_EVAL_MAX_PALETTE];
	int pchroma[OD_EVAL_MAX_PALETTE];
	for (int c = 0; c < P; c++) {
		od_t2i_hsv(scene->palette[c].rgb, &ph[c], &ps[c], &pv[c]);
		pchroma[c] = ps[c] >= OD_T2I_SAT_MIN;
	}
	for (size_t i = 0; i < n; i++) {
		double h, s, v, best = INFINITY;
		od_t2i_hsv(pic->data + 3 * i, &h, &s, &v);
		int chroma = s >= OD_T2I_SAT_MIN && v >= OD_T2I_VAL_MIN;
		nearest[i] = -1;
		for (int c = 0; c < P; c++) {
			double e = dist_hsv(h, s, v, chroma, ph[c], ps[c], pv[c], pchroma[c], hue_tol);
			if (e < best)
				best = e, nearest[i] = c;
		}
	}
	int N = 0, R = 0, sat = 0;
	for (int o = 0; o < scene->n_objects; o++)
		if (od_eval_scene_named(scene, o))
			k[scene->objects[o].colour]++, N++;
	if (N == 0)
		goto done; /* nothing named: every score undefined */
	/* components of each named colour's tolerance mask */
	for (int c = 0; c < P; c++) {
		if (!k[c])
			continue;
		for (size_t i = 0; i < n; i++) {
			double h, s, v;
			od_t2i_hsv(pic->data + 3 * i, &h, &s, &v);
			int chroma = s >= OD_T2I_SAT_MIN && v >= OD_T2I_VAL_MIN;
			lab[i] = dist_hsv(h, s, v, chroma, ph[c], ps[c], pv[c], pchroma[c], hue_tol) <= 1 ? 0 : -1;
		}
		for (size_t seed = 0; seed < n; seed++) {
			if (lab[seed] != 0)
				continue;
			size_t head = 0, tail = 0;
			long area = 0;
			double sx = 0, sy = 0;
			int x0 = W, y0 = H, x1 = -1, y1 = -1;
			memset(votes, 0, P * sizeof *votes);
			lab[seed] = 1;
			queue[tail++] = (int)seed;
			while (head < tail) {
				int i = queue[head++], x = i % W, y = i / W;
				area++;
				sx += x;
				sy += y;
				x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
				y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
				votes[nearest[i]]++; /* d <= 1 here, so nearest[i] >= 0 */
				int nb[4] = { x > 0 ? i - 1 : -1, x < W - 1 ? i + 1 : -1, y > 0 ? i - W : -1,
					      y < H - 1 ? i + W : -1 };
				for (int m = 0; m < 4; m++)
					if (nb[m] >= 0 && lab[nb[m]] == 0) {
						lab[nb[m]] = 1;
						queue[tail++] = nb[m];
					}
			}
			if (area < min_area)
				continue;
			if (out->n_det == cap) {
				cap = cap ? 2 * cap : 16;
				struct od_t2i_detection *nd = realloc(out->det, cap * sizeof *nd);
				if (!nd) {
					rc = od_error(OD_ENOMEM, "out of memory");
					goto done;
				}
				out->det = nd;
			}
			struct od_t2i_detection *dt = &out->det[out->n_det++];
			int dom = 0;
			for (int q = 1; q < P; q++)
				if (votes[q] > votes[dom])
					dom = q;
			*dt = (struct od_t2i_detection){ c, dom, area, sx / area, sy / area, x0, y0, x1, y1 };
		}
	}
	if (out->n_det > 1)
		qsort(out->det, (size_t)out->n_det, sizeof *out->det, cmp_det);
	/* scores */
	int found = 0, good = 0, colours = 0, counted = 0;
	for (int c = 0; c < P; c++) {
		if (!k[c])
			continue;
		int nd = 0, ng = 0;
		for (int j = 0; j < out->n_det; j++)
			if (out->det[j].colour == c) {
				nd++;
				ng += out->det[j].dominant == c;
			}
		found += nd < k[c] ? nd : k[c];
		good += ng < k[c] ? ng : k[c];
		colours++;
		counted += nd == k[c];
	}
	for (int r = 0; r < scene->n_relations; r++) {
		const struct od_eval_relation *rel = &scene->relations[r];
		int ca = scene->objects[rel->a].colour, cb = scene->objects[rel->b].colour, ok = 0;
		if (!od_eval_scene_named(scene, rel->a) || !od_eval_scene_named(scene, rel->b))
			continue;
		R++;
		for (int i = 0; i < out->n_det && !ok; i++)
			for (int j = 0; j < out->n_det && !ok; j++)
				if (i != j && out->det[i].colour == ca && out->det[j].colour == cb &&
				    holds(&out->det[i], &out->det[j], rel->rel))
					ok = 1;
		sat += ok;
	}
	out->objects = N;
	out->relations = R;
	out->presence = (double)found / N;
	out->count = (double)counted / colours;
	out->colour = (double)good / N;
	out->position = R ? (double)sat / R : NAN;
	out->mean = R ? (out->presence + out->count + out->colour + out->position) / 4
		      : (out->presence + out->count + out->colour) / 3;
done:
	free(nearest);
	free(lab);
	free(queue);
	free(k);
	free(votes);
	if (rc)
		od_t2i_result_free(out);
	return rc;
}

int od_eval_t2i_files(const char *picture, const char *scene_json, const struct od_t2i_opts *opts,
		      struct od_t2i_result *out)
{
	struct od_eval_scene s;
	int rc = od_eval_scene_read(scene_json, &s);
	if (rc)
		return rc;
	const struct od_image_opts io = { .ignore_orientation = 1 };
	struct od_image img;
	if (!(rc = od_image_read_file(&img, picture, &io))) {
		rc = od_t2i_eval(&img, &s, opts, out);
		od_image_free(&img);
	}
	od_eval_scene_free(&s);
	return rc;
}
