/*
 * decode.c: latent frames through the VAE decoder (see decode.h).
 */
#include "pipeline/decode.h"
#include "base/error.h"
#include "base/tensor.h"
#include "pipeline/postprocess.h"

#include <stdlib.h>
#include <string.h>

int od_vae_decode_latent(struct od_vae *v, const float *z_model, int h, int w, float *out)
{
	/* latents / scaling_factor: torch multiplies by the float32 reciprocal of
	 * the Python float (tests/golden/README.md §6); shift_factor is never used (§4.3) */
	double sf = v->cfg.scaling_factor;
	if (v->comp.config)
		od_cfg_num(v->comp.config, "scaling_factor", sf, 0, &sf, "vae/config.json");
	const float inv = (float)(1.0 / sf);
	const size_t n = (size_t)v->cfg.latent_channels * h * w;
	float *z = malloc(n * sizeof *z);
	if (!z)
		return od_error(OD_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		z[i] = z_model[i] * inv;
	int rc = od_vae_decode(v, z, h, w, out);
	free(z);
	return rc;
}

/* The (C, H, W) view of a frame's shape, accepting a leading 1. */
static int chw(const struct od_frame *f, int64_t *C, int64_t *H, int64_t *W)
{
	int d = f->ndim == 4 && f->shape[0] == 1 ? 1 : 0;
	if (f->ndim - d != 3)
		return -1;
	*C = f->shape[d];
	*H = f->shape[d + 1];
	*W = f->shape[d + 2];
	return 0;
}

int od_decode_check(const struct od_vae *v, const struct od_frame *f, const char *label, long index)
{
	char d[160];
	int64_t C = 0, H = 0, W = 0;
	if (f->kind != OD_KIND_LATENT)
		return od_error(OD_EFORMAT, "'%s': frame %ld is %s, not a latent frame", label, index,
				od_frame_describe(f, d, sizeof d));
	if (!f->data)
		return od_error(OD_EFORMAT, "'%s': frame %ld is a placeholder without data", label, index);
	if (chw(f, &C, &H, &W) || C != v->cfg.latent_channels)
		return od_error(OD_EFORMAT, "'%s': frame %ld is %s; the VAE decodes (%d, h, w) latents", label, index,
				od_frame_describe(f, d, sizeof d), v->cfg.latent_channels);
	if (H * v->cfg.downscale > OD_IMAGE_MAX_SIDE || W * v->cfg.downscale > OD_IMAGE_MAX_SIDE)
		return od_error(OD_EFORMAT, "'%s': frame %ld: a %lldx%lld latent decodes to more than %d pixels per side",
				label, index, (long long)W, (long long)H, OD_IMAGE_MAX_SIDE);
	return OD_OK;
}

int od_decode_frame(struct od_vae *v, const struct od_frame *f, const char *label, long index,
		    struct od_frame *image)
{
	memset(image, 0, sizeof *image);
	int rc = od_decode_check(v, f, label, index);
	if (rc)
		return rc;
	int64_t C = 0, h = 0, w = 0;
	chw(f, &C, &h, &w);
	const int ds = v->cfg.downscale;
	float *z = malloc((size_t)od_frame_numel(f) * sizeof *z);
	if (!z)
		return od_error(OD_ENOMEM, "out of memory");
	int64_t shape[3] = { 3, h * ds, w * ds };
	if (!(rc = od_frame_to_f32(f, z)) && !(rc = od_frame_init(image, OD_KIND_IMAGE, f->role, OD_F32, 3, shape, 1)))
		rc = od_vae_decode_latent(v, z, (int)h, (int)w, image->data);
	int64_t bad = rc ? -1 : od_first_nonfinite(image->data, (size_t)od_frame_numel(image));
	if (bad >= 0) /* README: non-finite values never leave a tool */
		rc = od_error(OD_EMODEL, "the VAE decoder's output is not finite (NaN or infinity at element %lld): are the "
					 "VAE's weights and config intact?", (long long)bad);
	for (int i = 0; !rc && i < f->n_meta; i++)
		rc = od_frame_set(image, f->meta[i].key, f->meta[i].value);
	free(z);
	if (rc) {
		od_frame_free(image);
		return od_error_prefix(rc, "'%s': frame %ld", label, index);
	}
	return OD_OK;
}

int od_image_frame_check(const struct od_frame *f, const char *label, long index, int *H, int *W)
{
	char d[160];
	int64_t C = 0, h = 0, w = 0;
	if (f->kind != OD_KIND_IMAGE)
		return od_error(OD_EFORMAT, "'%s': frame %ld is %s, not an image frame", label, index,
				od_frame_describe(f, d, sizeof d));
	if (!f->data)
		return od_error(OD_EFORMAT, "'%s': frame %ld is a placeholder without data", label, index);
	if (chw(f, &C, &h, &w) || C != 3)
		return od_error(OD_EFORMAT, "'%s': frame %ld is %s; image frames are (3, H, W)", label, index,
				od_frame_describe(f, d, sizeof d));
	if (h > OD_IMAGE_MAX_SIDE || w > OD_IMAGE_MAX_SIDE)
		return od_error(OD_EFORMAT, "'%s': frame %ld: %lldx%lld is over %d pixels per side", label, index,
				(long long)w, (long long)h, OD_IMAGE_MAX_SIDE);
	*H = (int)h;
	*W = (int)w;
	return OD_OK;
}

int od_image_from_frame(const struct od_frame *f, const char *label, long index, struct od_image *img)
{
	int H, W;
	memset(img, 0, sizeof *img);
	int rc = od_image_frame_check(f, label, index, &H, &W);
	if (rc)
		return rc;
	float *x = malloc((size_t)3 * H * W * sizeof *x);
	if (!x)
		return od_error(OD_ENOMEM, "out of memory");
	if (!(rc = od_frame_to_f32(f, x)))
		rc = od_image_from_decoded(x, H, W, img);
	free(x);
	return rc;
}
