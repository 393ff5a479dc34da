/*
 * picture.h: full-reference picture metrics, PSNR and SSIM, on 8-bit pictures
 * (od-eval(1) "image").
 *
 * Both follow scikit-image (skimage.metrics), so that numbers from od-eval and
 * from a Python evaluation agree to rounding:
 *
 *   PSNR  peak_signal_noise_ratio(gt, pred, data_range=255):
 *         MSE = mean over all pixels and channels of (pred − gt)²,
 *         PSNR = 10 · log10(255² / MSE) dB; +INFINITY when the pictures are
 *         identical (MSE = 0), as scikit-image returns.
 *
 *   SSIM  structural_similarity(gt, pred, gaussian_weights=True, sigma=1.5,
 *         use_sample_covariance=False, data_range=255, channel_axis=-1)
 *         (Wang et al. 2004): per channel, local statistics under a Gaussian
 *         window (σ = 1.5, truncated at 3.5σ: 11 taps, weights normalised to 1,
 *         scipy.ndimage.gaussian_filter with mode 'reflect', i.e. the border
 *         mirrored with its edge pixel repeated: d c b a | a b c d | d c b a):
 *           μx = G∗x, μy = G∗y, σx² = G∗x² − μx², σy² = G∗y² − μy²,
 *           σxy = G∗(xy) − μxμy,
 *           S = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),
 *           C1 = (0.01·255)², C2 = (0.03·255)².
 *         The channel's SSIM is the mean of S over the pixels at least 5
 *         (= (11 − 1)/2) from every border (scikit-image crops that margin
 *         before averaging, so the mirrored border only feeds the window sums);
 *         the picture's SSIM is the mean over channels. Pictures need at least
 *         11 × 11 pixels. Identical pictures give exactly 1.
 *
 * Pictures are compared as stored: grey pictures arrive as three equal
 * channels (image.h), which gives the grey picture's PSNR and SSIM.
 */
#ifndef OD_EVAL_PICTURE_H
#define OD_EVAL_PICTURE_H

#include "formats/image.h"

/* The SSIM window: Gaussian σ, taps (2·int(3.5σ + 0.5) + 1), constants. */
#define OD_SSIM_SIGMA 1.5
#define OD_SSIM_WIN 11
#define OD_SSIM_K1 0.01
#define OD_SSIM_K2 0.03

/* OD_EFORMAT naming both files unless a and b have the same width, height
 * and channels. */
int od_eval_same_size(const struct od_image *a, const char *la, const struct od_image *b, const char *lb);

/* PSNR in dB of pred against gt (same size; check with od_eval_same_size). */
double od_psnr(const struct od_image *pred, const struct od_image *gt);

/* Mean SSIM of pred against gt (same size, at least 11 × 11; OD_EFORMAT
 * naming label otherwise, OD_ENOMEM). */
int od_ssim(const struct od_image *pred, const struct od_image *gt, double *ssim, const char *label);

/* Read both pictures (stored orientation, EXIF ignored) and compute
 * out[0] = PSNR, out[1] = SSIM. */
int od_eval_picture_files(const char *pred, const char *gt, double out[2]);

#endif
