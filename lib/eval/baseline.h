/*
 * baseline.h: trivial predictions, so that every number of an evaluation has
 * a reference point (od-eval(1) "baseline"; the baseline rows of make eval).
 * A baseline is scored by the same command as the model's predictions, so it
 * is written as a file of the same kind:
 *
 *   mean     a picture of the reference's size, every pixel the reference's
 *            mean colour (per channel, rounded to nearest): the best constant
 *            picture in the sense of PSNR
 *   black    a black picture of the reference's size: "all background" for a
 *            semantic map, a constant map for depth
 *   origin   cameras: as many as the reference file has, every one at the
 *            origin with the identity rotation, their intrinsics kept: no
 *            pose information at all
 *
 * The pictures are 8-bit RGB (a grey reference is read as RGB, od-eval reads
 * both the same way).
 */
#ifndef OD_EVAL_BASELINE_H
#define OD_EVAL_BASELINE_H

#include "camera/camera.h"
#include "formats/image.h"

enum od_baseline { OD_BASELINE_MEAN, OD_BASELINE_BLACK, OD_BASELINE_ORIGIN, OD_BASELINE_COUNT };

/* "mean", "black", "origin" */
extern const char *const od_baseline_names[OD_BASELINE_COUNT];
/* A name -> baseline; -1 when unknown. */
int od_baseline_parse(const char *name);

/* mean or black: a picture of ref's size (RGB). */
int od_baseline_picture(enum od_baseline b, const struct od_image *ref, struct od_image *out);

/* origin: n cameras at the origin, identity rotation, ref's intrinsics and view numbers. */
void od_baseline_cameras(const struct od_camera *ref, int n, struct od_camera *out);

/* Read the reference (a picture, or for origin a camera file), write the
 * baseline to out_path ("-": standard output) atomically: a PNG picture or an
 * od-cameras file. */
int od_baseline_file(enum od_baseline b, const char *ref_path, const char *out_path);

#endif
