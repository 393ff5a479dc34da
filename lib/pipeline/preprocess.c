/*
 * preprocess.c: the aspect-ratio buckets, centre crop, bilinear resize and
 * normalisation of condition images (see preprocess.h, numerics.md §6.3).
 *
 * Everything that upstream computes in Python floats (the crop box, the bucket
 * distance) is done in double here; everything torch computes on tensors is
 * float32 in the same order of operations. C11 mode compiles a*b + c as two
 * roundings; where torch's build fuses them (its AVX2 kernels are compiled with
 * FMA contraction) the code says fmaf() explicitly.
 */
#include "pipeline/preprocess.h"
#include "base/error.h"

#include <math.h>
#include <stdlib.h>

/* ASPECT_RATIO_512 in dict order: key (h/w) -> [height, width] (numerics.md
 * §6.3 item 1). OneDiffusion's dataset utilities use the standard PixArt-α 512
 * table (also diffusers' ASPECT_RATIO_512_BIN): 40 buckets from 0.25 to 4.0,
 * every side a multiple of 32, among them 1.0 -> 512×512, 0.78 -> 448×576 and
 * 1.29 -> 576×448. */
const struct od_bucket od_aspect_ratio_512[OD_N_ASPECT_RATIO_512] = {
	{ "0.25", 256, 1024 }, { "0.26", 256, 992 }, { "0.27", 256, 960 }, { "0.28", 256, 928 },
	{ "0.32", 288, 896 },  { "0.33", 288, 864 }, { "0.35", 288, 832 }, { "0.4", 320, 800 },
	{ "0.42", 320, 768 },  { "0.48", 352, 736 }, { "0.5", 352, 704 },  { "0.52", 352, 672 },
	{ "0.57", 384, 672 },  { "0.6", 384, 640 },  { "0.68", 416, 608 }, { "0.72", 416, 576 },
	{ "0.78", 448, 576 },  { "0.82", 448, 544 }, { "0.88", 480, 544 }, { "0.94", 480, 512 },
	{ "1.0", 512, 512 },   { "1.07", 512, 480 }, { "1.13", 544, 480 }, { "1.21", 544, 448 },
	{ "1.29", 576, 448 },  { "1.38", 576, 416 }, { "1.46", 608, 416 }, { "1.67", 640, 384 },
	{ "1.75", 672, 384 },  { "2.0", 704, 352 },  { "2.09", 736, 352 }, { "2.4", 768, 320 },
	{ "2.5", 800, 320 },   { "2.89", 832, 288 }, { "3.0", 864, 288 },  { "3.11", 896, 288 },
	{ "3.62", 928, 256 },  { "3.75", 960, 256 }, { "3.88", 992, 256 }, { "4.0", 1024, 256 },
};

const struct od_bucket *od_bucket_closest(int height, int width)
{
	/* min(ratios.keys(), key=lambda r: abs(float(r) - height / width)) */
	double aspect = (double)height / (double)width, best = INFINITY;
	const struct od_bucket *pick = &od_aspect_ratio_512[0];
	for (int i = 0; i < OD_N_ASPECT_RATIO_512; i++) {
		double d = fabs(strtod(od_aspect_ratio_512[i].ratio, NULL) - aspect);
		if (d < best) { /* strict: the first of equal distances wins */
			best = d;
			pick = &od_aspect_ratio_512[i];
		}
	}
	return pick;
}

void od_crop_box(int src_h, int src_w, int H, int W, int *y, int *x, int *ch, int *cw)
{
	/* CenterCropResizeImage.__call__ (numerics.md §6.3 item 3), in Python floats */
	double target_aspect = (double)W / (double)H;
	double height = src_h, width = src_w, current_aspect = width / height;
	double crop_h, crop_w;
	if (current_aspect > target_aspect) {
		crop_h = height;
		crop_w = height * target_aspect;
	} else {
		crop_h = width / target_aspect;
		crop_w = width;
	}
	double y1 = (height - crop_h) / 2, x1 = (width - crop_w) / 2;
	/* crop(image, int(y1), int(x1), int(crop_height), int(crop_width)) */
	*y = (int)y1;
	*x = (int)x1;
	*ch = (int)crop_h;
	*cw = (int)crop_w;
	if (*ch < 1)
		*ch = 1;
	if (*cw < 1)
		*cw = 1;
}

/* torch's compute_indices_weights_linear for one axis (align_corners=False):
 * scale = float(in)/out; src = scale·(i + 0.5) − 0.5, clamped at 0; i0 =
 * trunc(src), i1 = i0 + (i0 < in − 1); λ1 = clamp(src − i0, 0, 1), λ0 = 1 − λ1.
 * Equal sizes copy (λ1 = 0). */
static void axis_weights(int in, int out, int *i0, int *i1, float *l0, float *l1)
{
	const float scale = (float)in / (float)out;
	for (int i = 0; i < out; i++) {
		if (in == out) {
			i0[i] = i1[i] = i;
			l0[i] = 1.0f;
			l1[i] = 0.0f;
			continue;
		}
		/* area_pixel_compute_source_index, contracted like the rest */
		float src = fmaf(scale, (float)i + 0.5f, -0.5f);
		if (src < 0.0f)
			src = 0.0f;
		int a = (int)src;
		i0[i] = a;
		i1[i] = a + (a < in - 1 ? 1 : 0);
		float l = src - (float)a;
		l = l < 0.0f ? 0.0f : l > 1.0f ? 1.0f : l;
		l1[i] = l;
		l0[i] = 1.0f - l;
	}
}

int od_resize_bilinear(const struct od_image *img, int y0, int x0, int ch, int cw, int H, int W, float *out)
{
	int *yi0 = malloc(sizeof(int) * (size_t)(2 * H + 2 * W));
	float *yl = malloc(sizeof(float) * (size_t)(2 * H + 2 * W));
	if (!yi0 || !yl) {
		free(yi0);
		free(yl);
		return od_error(OD_ENOMEM, "out of memory");
	}
	int *yi1 = yi0 + H, *xi0 = yi0 + 2 * H, *xi1 = xi0 + W;
	float *yl0 = yl, *yl1 = yl + H, *xl0 = yl + 2 * H, *xl1 = xl0 + W;
	axis_weights(ch, H, yi0, yi1, yl0, yl1);
	axis_weights(cw, W, xi0, xi1, xl0, xl1);
	const int C = img->channels;
	for (int c = 0; c < 3; c++) {
		const int cc = C == 1 ? 0 : c;
		for (int y = 0; y < H; y++) {
			const uint8_t *r0 = img->data + ((size_t)(y0 + yi0[y]) * img->width + x0) * C + cc;
			const uint8_t *r1 = img->data + ((size_t)(y0 + yi1[y]) * img->width + x0) * C + cc;
			float *o = out + ((size_t)c * H + y) * W;
			for (int x = 0; x < W; x++) {
				/* ToTensor: u8 / 255 in float32 */
				float a = (float)r0[(size_t)xi0[x] * C] / 255.0f, b = (float)r0[(size_t)xi1[x] * C] / 255.0f;
				float d = (float)r1[(size_t)xi0[x] * C] / 255.0f, e = (float)r1[(size_t)xi1[x] * C] / 255.0f;
				/* Interpolate<2>: along the width, then the height. torch's
				 * AVX2 build contracts `t0·w0 + t1·w1` to fma(t0, w0, t1·w1);
				 * with it od matches cond_images_preprocessed bit for bit
				 * (without it 1 ulp off in a quarter of the values). */
				float t0 = fmaf(a, xl0[x], b * xl1[x]);
				float t1 = fmaf(d, xl0[x], e * xl1[x]);
				o[x] = fmaf(t0, yl0[y], t1 * yl1[y]);
			}
		}
	}
	free(yi0);
	free(yl);
	return OD_OK;
}

int od_preprocess_image(const struct od_image *img, int H, int W, int crop, float *out)
{
	if (H <= 0 || W <= 0)
		return od_error(OD_EINVAL, "preprocess: %dx%d target", W, H);
	int y = 0, x = 0, ch = img->height, cw = img->width;
	if (crop)
		od_crop_box(img->height, img->width, H, W, &y, &x, &ch, &cw);
	int rc = od_resize_bilinear(img, y, x, ch, cw, H, W, out);
	if (rc)
		return rc;
	/* Normalize(0.5, 0.5): (x − 0.5) / 0.5 */
	size_t n = (size_t)3 * H * W;
	for (size_t i = 0; i < n; i++)
		out[i] = (out[i] - 0.5f) / 0.5f;
	return OD_OK;
}

int od_preprocess_check_size(int W, int H)
{
	if (W <= 0 || H <= 0 || W % 16 || H % 16)
		return od_error(OD_EINVAL, "%dx%d is not a multiple of 16", W, H);
	return OD_OK;
}

float od_min_value(const float *x, size_t n)
{
	float m = INFINITY;
	for (size_t i = 0; i < n; i++)
		if (x[i] < m)
			m = x[i];
	return m;
}

void od_double_normalize(float *x, size_t n)
{
	/* numerics.md §6.3 item 4: `2.0 * images - 1.0` on already normalised values */
	for (size_t i = 0; i < n; i++)
		x[i] = 2.0f * x[i] - 1.0f;
}
