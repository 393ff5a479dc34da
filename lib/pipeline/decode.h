/*
 * decode.h: latent frames to pixels, as the pipeline decodes its generated
 * frames (numerics.md §4.3, §6.4).
 *
 *   z = fp32(1/scaling_factor)·z_model   (a multiply by the rounded reciprocal,
 *                                         as torch does; tests/golden/README.md §6)
 *   x = vae.decode(z).sample             one frame at a time (VAE slicing)
 *
 * x is kept as an image frame (3, H, W) of the *unclamped* decoder output, so
 * that it can be compared exactly; postprocess.h turns it into uint8 pixels
 * (clamp(x/2 + 0.5, 0, 1), ×255, round half to even).
 */
#ifndef OD_DECODE_H
#define OD_DECODE_H

#include "formats/frame.h"
#include "formats/image.h"
#include "model/vae.h"

/* z_model host (L, h, w) -> out host (3, h·ds, w·ds). */
int od_vae_decode_latent(struct od_vae *v, const float *z_model, int h, int w, float *out);

/* Check that f is a latent frame this VAE can decode: kind latent, data
 * present, shape (L, h, w) (a leading 1 is accepted). On failure the message
 * names label and the frame index. */
int od_decode_check(const struct od_vae *v, const struct od_frame *f, const char *label, long index);

/* Decode a latent frame into image, a kind-image frame (3, H, W) float32 with
 * f's role and metadata. */
int od_decode_frame(struct od_vae *v, const struct od_frame *f, const char *label, long index,
		    struct od_frame *image);

/* Check an image frame: data present, shape (3, H, W) (a leading 1 accepted). */
int od_image_frame_check(const struct od_frame *f, const char *label, long index, int *H, int *W);

/* An image frame's pixels as an 8-bit RGB picture (postprocess.h conversion). */
int od_image_from_frame(const struct od_frame *f, const char *label, long index, struct od_image *img);

#endif
