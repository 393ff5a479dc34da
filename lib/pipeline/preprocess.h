/*
 * preprocess.h: condition images to VAE input, as upstream prepares them
 * (numerics.md §6.3: upstream's image processor, CenterCropResizeImage and
 * aspect-ratio buckets).
 *
 *   1. size: the ASPECT_RATIO_512 bucket closest to the first image's h/w, or
 *      an explicit size (multiples of 16, as upstream requires);
 *   2. PIL convert('RGB') (done by the image reader, image.h);
 *   3. ToTensor (u8/255 in float32), CenterCropResizeImage((H, W)): centre crop
 *      to the target aspect ratio with int-truncated corners, then
 *      F.interpolate(bilinear, align_corners=False), no antialias, on the
 *      float values; or, without cropping, a plain bilinear resize;
 *   4. Normalize(0.5, 0.5) to [-1, 1]; then upstream's double normalisation
 *      (numerics.md §6.3 item 4 and §8.3 item 9): when the
 *      minimum over the *whole batch* of condition images is >= 0 (every
 *      pixel at least 0.5 before normalising, a very bright picture) it maps
 *      x to 2x - 1 a second time.
 *
 * The arithmetic follows torch's CPU kernels in float32 so the result matches
 * upstream's `cond_images_preprocessed` to a few ulp.
 */
#ifndef OD_PREPROCESS_H
#define OD_PREPROCESS_H

#include "formats/image.h"

#include <stddef.h>

/* One entry of ASPECT_RATIO_512: the key (an h/w ratio, as written in the
 * dict) and the bucket's height and width in pixels. */
struct od_bucket {
	const char *ratio;
	int height, width;
};

#define OD_N_ASPECT_RATIO_512 40
/* The table in dict order (PixArt-α's ASPECT_RATIO_512, used by OneDiffusion's
 * dataset utilities). */
extern const struct od_bucket od_aspect_ratio_512[OD_N_ASPECT_RATIO_512];

/* get_closest_ratio(height, width): the bucket whose key is closest to
 * height/width in double precision; ties go to the first key in dict order. */
const struct od_bucket *od_bucket_closest(int height, int width);

/* Check a size given for condition images: multiples of 16 on both sides, as
 * the pipeline asserts (numerics.md §6.3 item 1). OD_EINVAL: "100x64 is not a multiple of 16". */
int od_preprocess_check_size(int W, int H);

/* CenterCropResizeImage's crop box for a src_h × src_w picture and an H × W
 * target: top row y, left column x, crop height ch and width cw. */
void od_crop_box(int src_h, int src_w, int H, int W, int *y, int *x, int *ch, int *cw);

/* Steps 3 and 4 (without the double normalisation) for one picture:
 * out (3, H, W) float32 in [-1, 1]. crop = 0 resizes the whole picture
 * (upstream's do_crop=False). */
int od_preprocess_image(const struct od_image *img, int H, int W, int crop, float *out);

/* Bilinear resize as F.interpolate(mode="bilinear", align_corners=False) of the
 * rectangle (y0, x0, ch, cw) of img, taking values u8/255: out (3, H, W). */
int od_resize_bilinear(const struct od_image *img, int y0, int x0, int ch, int cw, int H, int W, float *out);

/* The minimum of n values (for the batch-wide double-normalisation test). */
float od_min_value(const float *x, size_t n);
/* x = 2x - 1, upstream's second normalisation. */
void od_double_normalize(float *x, size_t n);

#endif
