/*
 * vae.h: the AutoencoderKL (SD3 VAE, diffusers 0.30.3) encoder and decoder
 * (numerics.md §4.1), written once against the kernel table (backend.h).
 *
 *   struct od_vae v;
 *   od_vae_open(&v, ctx, "MODEL");                   // vae/, weights mapped and checked
 *   od_vae_encode(&v, x, H, W, moments);             // (3,H,W) -> (2L, H/8, W/8)
 *   od_vae_decode(&v, z, h, w, out);                 // (L,h,w)  -> (3, 8h, 8w)
 *   od_vae_close(&v);
 *
 * Inputs and outputs are host float32 arrays of one image (upstream decodes
 * with enable_vae_slicing, one image at a time, §4.3); the layers run on the
 * context's device. The latent given to od_vae_decode is the VAE's own z: the
 * pipeline's ÷scaling_factor is the caller's (decode.h), as is the posterior
 * sampling of the moments (encode.h).
 *
 * Memory: every activation buffer is freed as soon as the next one exists,
 * and a ResBlock with a 1×1 shortcut computes the shortcut first so its input
 * can be normalised in place. Decoding 1024×1024 (latent 128×128) with the
 * full-size SD3 VAE peaks at about 2 GB of activations: the up-sampled
 * (256, 1024, 1024) map and its convolution (1 GB each), or up_blocks.3's
 * first ResBlock (1 + 0.5 + 0.5 GB); with the weights the process peaks at
 * 2.4 GB (bench/vae.sh). The conv kernels band their im2col and the mid-block
 * attention over 16384 tokens runs in query blocks, so neither adds a
 * full-size matrix. Activations grow with the pixel count (about 2 GB per
 * megapixel of output).
 * NEEDSWORK: decoding beyond 1024² could band the up-sample + conv pairs and
 * the last block's ResBlocks over rows to keep the peak flat.
 */
#ifndef OD_VAE_H
#define OD_VAE_H

#include "compute/backend.h"
#include "formats/checkpoint.h"
#include "model/vae_config.h"

/* Called with a host copy of an intermediate (C, H, W): "enc.conv_in",
 * "enc.down0".."enc.down3", "enc.mid", "dec.conv_in", "dec.mid", "dec.up0"..,
 * as the golden data names them (tests/golden/README.md §6). */
typedef void (*od_vae_tap_fn)(void *user, const char *name, const float *x, int C, int H, int W);

struct od_vae {
	struct od_vae_config cfg;
	struct od_component comp;
	struct od_ctx *ctx;
	od_vae_tap_fn tap;  /* NULL: none */
	void *tap_user;
};

/* Open MODEL/vae: parse config.json, map the weights and check every tensor's
 * name and shape against the config (OD_EMODEL naming the tensor otherwise). */
int od_vae_open(struct od_vae *v, struct od_ctx *ctx, const char *model_dir);
void od_vae_close(struct od_vae *v);

/* Encoder: x host (3, H, W) in [-1, 1], H and W multiples of cfg.downscale;
 * moments host (2·latent_channels, H/ds, W/ds), the conv_out output (mean
 * then logvar, unclamped). */
int od_vae_encode(struct od_vae *v, const float *x, int H, int W, float *moments);

/* Decoder: z host (latent_channels, h, w) -> out host (3, h·ds, w·ds), the
 * unclamped `vae.decode(z).sample`. */
int od_vae_decode(struct od_vae *v, const float *z, int h, int w, float *out);

#endif
