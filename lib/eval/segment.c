/*
 * segment.c: mean IoU of a predicted semantic map (segment.h). Pixels are
 * classed through a table of the 21 colours; distances are integers, so ties
 * are exact and resolved by class order.
 */
#include "eval/segment.h"
#include "base/error.h"
#include "text/prompt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void od_seg_class_rgb(int k, uint8_t rgb[3])
{
	if (k <= 0 || k > OD_N_COLORS) {
		rgb[0] = rgb[1] = rgb[2] = 0;
		return;
	}
	unsigned v = (unsigned)strtoul(od_colors[k - 1].hex + 1, NULL, 16);
	rgb[0] = (uint8_t)(v >> 16);
	rgb[1] = (uint8_t)(v >> 8);
	rgb[2] = (uint8_t)v;
}

static void class_table(uint8_t tab[OD_SEG_CLASSES][3])
{
	for (int k = 0; k < OD_SEG_CLASSES; k++)
		od_seg_class_rgb(k, tab[k]);
}

static int nearest(const uint8_t tab[OD_SEG_CLASSES][3], const uint8_t rgb[3])
{
	int best = 0;
	long best_d = -1;
	for (int k = 0; k < OD_SEG_CLASSES; k++) {
		long d = 0;
		for (int j = 0; j < 3; j++)
			d += (long)(rgb[j] - tab[k][j]) * (rgb[j] - tab[k][j]);
		if (best_d < 0 || d < best_d)
			best_d = d, best = k;
	}
	return best;
}

static int exact(const uint8_t tab[OD_SEG_CLASSES][3], const uint8_t rgb[3])
{
	for (int k = 0; k < OD_SEG_CLASSES; k++)
		if (!memcmp(tab[k], rgb, 3))
			return k;
	return -1;
}

int od_seg_nearest(const uint8_t rgb[3])
{
	uint8_t tab[OD_SEG_CLASSES][3];
	class_table(tab);
	return nearest(tab, rgb);
}

int od_seg_exact(const uint8_t rgb[3])
{
	uint8_t tab[OD_SEG_CLASSES][3];
	class_table(tab);
	return exact(tab, rgb);
}

int od_seg_eval(const struct od_image *pred, const char *lp, const struct od_image *gt, const char *lg,
		struct od_seg_metrics *out)
{
	memset(out, 0, sizeof *out);
	if (pred->width != gt->width || pred->height != gt->height)
		return od_error(OD_EFORMAT, "'%s' is %dx%d but '%s' is %dx%d", lp, pred->width, pred->height, lg,
				gt->width, gt->height);
	uint8_t tab[OD_SEG_CLASSES][3];
	class_table(tab);
	size_t n = (size_t)gt->width * gt->height;
	int64_t inter[OD_SEG_CLASSES] = { 0 }, np[OD_SEG_CLASSES] = { 0 }, ng[OD_SEG_CLASSES] = { 0 }, agree = 0;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *g = gt->data + 3 * i;
		int kg = exact(tab, g);
		if (kg < 0)
			return od_error(OD_EFORMAT,
					"'%s': pixel (%zu, %zu) is #%02X%02X%02X, not black or one of the 20 region "
					"colours",
					lg, i % (size_t)gt->width, i / (size_t)gt->width, g[0], g[1], g[2]);
		int kp = nearest(tab, pred->data + 3 * i);
		np[kp]++;
		ng[kg]++;
		if (kp == kg)
			inter[kg]++, agree++;
	}
	double sum = 0, sum_fg = 0;
	int c = 0, c_fg = 0;
	for (int k = 0; k < OD_SEG_CLASSES; k++) {
		int64_t uni = np[k] + ng[k] - inter[k];
		if (uni == 0) {
			out->iou[k] = NAN;
			continue;
		}
		out->iou[k] = (double)inter[k] / (double)uni;
		sum += out->iou[k];
		c++;
		if (k > 0)
			sum_fg += out->iou[k], c_fg++;
	}
	out->classes = c;
	out->miou = sum / c; /* c >= 1: every pixel has a class */
	out->miou_fg = c_fg ? sum_fg / c_fg : NAN;
	out->pixel_acc = (double)agree / (double)n;
	return OD_OK;
}

int od_eval_seg_files(const char *pred, const char *gt, struct od_seg_metrics *out)
{
	const struct od_image_opts opts = { .ignore_orientation = 1 };
	struct od_image a, b;
	int rc = od_image_read_file(&a, pred, &opts);
	if (rc)
		return rc;
	if ((rc = od_image_read_file(&b, gt, &opts))) {
		od_image_free(&a);
		return rc;
	}
	rc = od_seg_eval(&a, pred, &b, gt, out);
	od_image_free(&a);
	od_image_free(&b);
	return rc;
}
