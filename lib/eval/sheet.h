/*
 * sheet.h: contact sheets of an evaluation (od-eval(1) "sheet"): a grid of
 * cells, filled row by row, typically one row per item with its condition,
 * ground truth and prediction side by side.
 *
 * A cell is one of:
 *   a picture    a PNG or JPEG file, read as 8-bit RGB (formats/image.h),
 *                scaled by nearest neighbour to fit the cell, aspect ratio
 *                kept, centred on black;
 *   cameras      a camera file (a name ending in .json; camera/camera_json.h),
 *                drawn as a plan: each camera a dot in its view's colour
 *                (red, green, blue, yellow, magenta, cyan, orange, white, then
 *                again) with a line along its optical axis. The plan looks
 *                down the cameras' mean up direction (−y of OpenCV's axes),
 *                view 0's axis pointing up the cell. The first camera file of
 *                a row is the row's reference; a later one in the same row is
 *                first mapped onto it by the similarity of od-eval's cameras
 *                metric (Umeyama on the centres, eval/pose.h), then drawn in
 *                the reference's plan over the reference's cameras in grey, so
 *                a prediction is seen as the metric sees it;
 *   failed       when allowed (missing_ok), a file that does not exist or
 *                cannot be read: a dark red cell with a cross (a job that
 *                failed); otherwise either is an error.
 *
 * Cells are cell_w × cell_h pixels: given, or the largest picture's size (128
 * × 128 when there is no picture); OD_SHEET_GAP grey pixels separate them and
 * frame the sheet. The sheet is at most OD_IMAGE_MAX_SIDE on a side.
 */
#ifndef OD_EVAL_SHEET_H
#define OD_EVAL_SHEET_H

#include "formats/image.h"

#define OD_SHEET_GAP 2
#define OD_SHEET_GAP_GREY 96
#define OD_SHEET_DEFAULT_CELL 128

struct od_sheet_opts {
	int cols;            /* cells per row, >= 1 */
	int cell_w, cell_h;  /* 0: from the pictures */
	int missing_ok;      /* draw missing and unreadable files as failed cells */
};

/* Compose the sheet of n cells (paths, row by row). */
int od_sheet_compose(const char *const *paths, int n, const struct od_sheet_opts *opts, struct od_image *out);

/* Compose and write it as PNG to out_path ("-": standard output), atomically. */
int od_sheet_write(const char *const *paths, int n, const struct od_sheet_opts *opts, const char *out_path);

#endif
