/*
 * segment.h: semantic-map metrics, mean IoU over the region colours
 * (od-eval(1) "seg").
 *
 * The classes are the 21 colours a OneDiffusion semantic map is drawn in:
 * class 0 = black (background), classes 1..20 = the region colours of
 * text/prompt.h od_colors in their listed order.
 *
 *   ground truth  every pixel must be exactly one of the 21 colours (a scene
 *                 set's semantic.png is); any other colour is refused, naming
 *                 the file, the pixel and the colour.
 *   prediction    a generated picture: each pixel becomes the class of the
 *                 nearest colour in RGB, by Euclidean distance; an exact tie
 *                 goes to the lower class number.
 *
 * Over the classes present in either map (C of them):
 *   IoU_c     = |P_c ∩ G_c| / |P_c ∪ G_c|
 *   mIoU      = (1/C) Σ_c IoU_c
 *   mIoU_fg   = the same over the present classes other than background
 *               (undefined, NAN, when only background is present)
 *   pixel_acc = fraction of pixels whose classes agree
 */
#ifndef OD_EVAL_SEGMENT_H
#define OD_EVAL_SEGMENT_H

#include "formats/image.h"

#include <stdint.h>

#define OD_SEG_CLASSES 21

/* The RGB of class k (0: black). */
void od_seg_class_rgb(int k, uint8_t rgb[3]);

/* The nearest class of a colour (ties to the lower class). */
int od_seg_nearest(const uint8_t rgb[3]);
/* The class of a colour that is exactly one of the 21, or -1. */
int od_seg_exact(const uint8_t rgb[3]);

struct od_seg_metrics {
	double miou, miou_fg, pixel_acc;
	int classes;                       /* C: present in either map */
	double iou[OD_SEG_CLASSES];        /* NAN for absent classes */
};

/* Compare a predicted picture with a ground-truth map (RGB, same size). */
int od_seg_eval(const struct od_image *pred, const char *lp, const struct od_image *gt, const char *lg,
		struct od_seg_metrics *out);

/* Read both and evaluate. */
int od_eval_seg_files(const char *pred, const char *gt, struct od_seg_metrics *out);

#endif
