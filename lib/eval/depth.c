/*
 * depth.c: depth maps in, aligned AbsRel / δ1 / RMSE out (depth.h).
 *
 * The fit is the closed form of a one-variable least-squares line, computed
 * from centred sums (two passes) so that 16-bit values with a large offset do
 * not lose digits to cancellation.
 */
#include "eval/depth.h"
#include "base/error.h"
#include "base/io.h"
#include "formats/image.h"
#include "formats/image16.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void od_depth_map_free(struct od_depth_map *m)
{
	free(m->v);
	memset(m, 0, sizeof *m);
}

static int from16(struct od_depth_map *m, const struct od_image16 *img)
{
	size_t n = (size_t)img->width * img->height;
	m->v = malloc(n * sizeof *m->v);
	if (!m->v)
		return od_error(OD_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		m->v[i] = img->data[i];
	m->width = img->width;
	m->height = img->height;
	m->bits = 16;
	return OD_OK;
}

int od_depth_read_pred(struct od_depth_map *m, const char *path)
{
	memset(m, 0, sizeof *m);
	char *buf;
	size_t len;
	int rc = od_read_file(path, OD_IMAGE_MAX_FILE, &buf, &len);
	if (rc)
		return rc;
	const char *label = strcmp(path, "-") ? path : "<stdin>";
	if (od_png_bit_depth(buf, len) == 16) {
		struct od_image16 img;
		if (!(rc = od_image16_read_mem(&img, buf, len, label, NULL))) {
			rc = from16(m, &img);
			od_image16_free(&img);
		}
		free(buf);
		return rc;
	}
	const struct od_image_opts opts = { .ignore_orientation = 1 };
	struct od_image img;
	rc = od_image_read_mem(&img, buf, len, label, &opts);
	free(buf);
	if (rc)
		return rc;
	size_t n = (size_t)img.width * img.height;
	m->v = malloc(n * sizeof *m->v);
	if (!m->v) {
		od_image_free(&img);
		return od_error(OD_ENOMEM, "out of memory");
	}
	/* PIL's convert('L') (Pillow Convert.c, L24): exact for grey pictures, whose
	 * three channels are equal and whose weights sum to 2^16 */
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = img.data + 3 * i;
		m->v[i] = (double)((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16);
	}
	m->width = img.width;
	m->height = img.height;
	m->bits = 8;
	od_image_free(&img);
	return OD_OK;
}

int od_depth_read_gt(struct od_depth_map *m, const char *path)
{
	memset(m, 0, sizeof *m);
	struct od_image16 img;
	int rc = od_image16_read_file(&img, path, NULL);
	if (rc)
		return rc;
	rc = from16(m, &img);
	od_image16_free(&img);
	return rc;
}

int od_depth_eval(const struct od_depth_map *pred, const char *lp, const struct od_depth_map *gt, const char *lg,
		  double scale, struct od_depth_metrics *out)
{
	memset(out, 0, sizeof *out);
	if (pred->width != gt->width || pred->height != gt->height)
		return od_error(OD_EFORMAT, "'%s' is %dx%d but '%s' is %dx%d", lp, pred->width, pred->height, lg,
				gt->width, gt->height);
	if (!(scale > 0) || !isfinite(scale))
		return od_error(OD_EINVAL, "'%s': depth scale %g is not positive", lg, scale);
	const int disp = pred->bits == 8;
	size_t n = (size_t)gt->width * gt->height;
	int64_t N = 0;
	double gmin = INFINITY, gmax = 0, mx = 0, my = 0;
	/* the target of the fit: depth, or inverse depth for a disparity-like map */
	for (size_t i = 0; i < n; i++) {
		if (!(gt->v[i] > 0))
			continue;
		double g = gt->v[i] * scale;
		gmin = fmin(gmin, g);
		gmax = fmax(gmax, g);
		mx += pred->v[i];
		my += disp ? 1 / g : g;
		N++;
	}
	if (N == 0)
		return od_error(OD_EFORMAT, "'%s': no valid pixel (every ground-truth depth is 0)", lg);
	mx /= (double)N;
	my /= (double)N;
	double sxx = 0, sxy = 0;
	for (size_t i = 0; i < n; i++) {
		if (!(gt->v[i] > 0))
			continue;
		double g = gt->v[i] * scale, dx = pred->v[i] - mx;
		sxx += dx * dx;
		sxy += dx * ((disp ? 1 / g : g) - my);
	}
	double s = sxx > 0 ? sxy / sxx : 0, t = my - s * mx;
	/* clip to the ground truth's range (Marigold clips to the dataset's) */
	double lo = disp ? 1 / gmax : gmin, hi = disp ? 1 / gmin : gmax;
	double sum_rel = 0, sum_sq = 0;
	int64_t good = 0;
	for (size_t i = 0; i < n; i++) {
		if (!(gt->v[i] > 0))
			continue;
		double g = gt->v[i] * scale, a = fmin(fmax(s * pred->v[i] + t, lo), hi);
		double p = disp ? 1 / a : a;
		sum_rel += fabs(p - g) / g;
		sum_sq += (p - g) * (p - g);
		if (fmax(p / g, g / p) < OD_DELTA1)
			good++;
	}
	out->absrel = sum_rel / (double)N;
	out->delta1 = (double)good / (double)N;
	out->rmse = sqrt(sum_sq / (double)N);
	out->scale = s;
	out->shift = t;
	out->valid = N;
	out->space = disp ? OD_DEPTH_SPACE_DISPARITY : OD_DEPTH_SPACE_DEPTH;
	return OD_OK;
}

int od_eval_depth_files(const char *pred, const char *gt, double scale, struct od_depth_metrics *out)
{
	struct od_depth_map p, g;
	int rc = od_depth_read_pred(&p, pred);
	if (rc)
		return rc;
	if ((rc = od_depth_read_gt(&g, gt))) {
		od_depth_map_free(&p);
		return rc;
	}
	rc = od_depth_eval(&p, pred, &g, gt, scale, out);
	od_depth_map_free(&p);
	od_depth_map_free(&g);
	return rc;
}
