/*
 * picture.c: PSNR and SSIM as scikit-image computes them (picture.h).
 *
 * SSIM only averages S over pixels at least (11 − 1)/2 = 5 from every border,
 * and an 11-tap window centred there never reaches past the border: so only the
 * "valid" part of each Gaussian filtering is computed, and scikit-image's
 * border mode ('reflect') never enters the result. The filter is separable:
 * rows first, then columns, in float64.
 */
#include "eval/picture.h"
#include "base/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int od_eval_same_size(const struct od_image *a, const char *la, const struct od_image *b, const char *lb)
{
	if (a->width != b->width || a->height != b->height)
		return od_error(OD_EFORMAT, "'%s' is %dx%d but '%s' is %dx%d", la, a->width, a->height, lb, b->width,
				b->height);
	if (a->channels != b->channels)
		return od_error(OD_EFORMAT, "'%s' has %d channels but '%s' has %d", la, a->channels, lb, b->channels);
	return OD_OK;
}

double od_psnr(const struct od_image *pred, const struct od_image *gt)
{
	size_t n = (size_t)gt->width * gt->height * gt->channels;
	/* the sum of squares is exact in 64-bit integers (at most 255² per sample) */
	uint64_t sse = 0;
	for (size_t i = 0; i < n; i++) {
		int d = (int)pred->data[i] - (int)gt->data[i];
		sse += (uint64_t)(d * d);
	}
	if (sse == 0)
		return INFINITY;
	double mse = (double)sse / (double)n;
	return 10.0 * log10(255.0 * 255.0 / mse);
}

/* The normalised Gaussian taps of scipy.ndimage.gaussian_filter(sigma=1.5, truncate=3.5). */
static void ssim_taps(double w[OD_SSIM_WIN])
{
	const int r = OD_SSIM_WIN / 2;
	double sum = 0;
	for (int k = -r; k <= r; k++)
		sum += w[k + r] = exp(-0.5 / (OD_SSIM_SIGMA * OD_SSIM_SIGMA) * k * k);
	for (int k = 0; k < OD_SSIM_WIN; k++)
		w[k] /= sum;
}

/* Mean SSIM of one channel c of two pictures. tmp: 5 planes of H × (W − 10),
 * out: 5 planes of (H − 10) × (W − 10). */
static double ssim_channel(const struct od_image *a, const struct od_image *b, int c, double *tmp, double *out)
{
	const int W = a->width, H = a->height, C = a->channels, r = OD_SSIM_WIN / 2;
	const int w2 = W - 2 * r, h2 = H - 2 * r;
	const size_t pt = (size_t)H * w2, po = (size_t)h2 * w2;
	double w[OD_SSIM_WIN];
	ssim_taps(w);
	/* rows: x, y, x², y², xy filtered along x, valid columns only */
	for (int y = 0; y < H; y++)
		for (int x = 0; x < w2; x++) {
			double s[5] = { 0, 0, 0, 0, 0 };
			for (int k = 0; k < OD_SSIM_WIN; k++) {
				size_t i = ((size_t)y * W + x + k) * C + c;
				double p = a->data[i], q = b->data[i];
				s[0] += w[k] * p;
				s[1] += w[k] * q;
				s[2] += w[k] * (p * p);
				s[3] += w[k] * (q * q);
				s[4] += w[k] * (p * q);
			}
			for (int m = 0; m < 5; m++)
				tmp[m * pt + (size_t)y * w2 + x] = s[m];
		}
	/* columns, valid rows only */
	for (int y = 0; y < h2; y++)
		for (int x = 0; x < w2; x++)
			for (int m = 0; m < 5; m++) {
				double s = 0;
				for (int k = 0; k < OD_SSIM_WIN; k++)
					s += w[k] * tmp[m * pt + (size_t)(y + k) * w2 + x];
				out[m * po + (size_t)y * w2 + x] = s;
			}
	const double C1 = (OD_SSIM_K1 * 255) * (OD_SSIM_K1 * 255), C2 = (OD_SSIM_K2 * 255) * (OD_SSIM_K2 * 255);
	double sum = 0;
	for (size_t i = 0; i < po; i++) {
		double ux = out[i], uy = out[po + i];
		/* use_sample_covariance=False: the population (co)variances, cov_norm = 1 */
		double vx = out[2 * po + i] - ux * ux, vy = out[3 * po + i] - uy * uy, vxy = out[4 * po + i] - ux * uy;
		double A1 = 2 * ux * uy + C1, A2 = 2 * vxy + C2;
		double B1 = ux * ux + uy * uy + C1, B2 = vx + vy + C2;
		sum += (A1 * A2) / (B1 * B2);
	}
	return sum / (double)po;
}

int od_ssim(const struct od_image *pred, const struct od_image *gt, double *ssim, const char *label)
{
	const int W = gt->width, H = gt->height, r = OD_SSIM_WIN / 2;
	if (W < OD_SSIM_WIN || H < OD_SSIM_WIN)
		return od_error(OD_EFORMAT, "'%s': %dx%d is smaller than the %dx%d SSIM window", label, W, H,
				OD_SSIM_WIN, OD_SSIM_WIN);
	size_t pt = (size_t)H * (W - 2 * r), po = (size_t)(H - 2 * r) * (W - 2 * r);
	double *tmp = malloc(5 * pt * sizeof *tmp), *out = malloc(5 * po * sizeof *out);
	if (!tmp || !out) {
		free(tmp);
		free(out);
		return od_error(OD_ENOMEM, "out of memory for SSIM of a %dx%d picture", W, H);
	}
	double sum = 0;
	for (int c = 0; c < gt->channels; c++)
		sum += ssim_channel(pred, gt, c, tmp, out);
	free(tmp);
	free(out);
	*ssim = sum / gt->channels;
	return OD_OK;
}

int od_eval_picture_files(const char *pred, const char *gt, double out[2])
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
	if (!(rc = od_eval_same_size(&a, pred, &b, gt))) {
		out[0] = od_psnr(&a, &b);
		rc = od_ssim(&a, &b, &out[1], pred);
	}
	od_image_free(&a);
	od_image_free(&b);
	return rc;
}
