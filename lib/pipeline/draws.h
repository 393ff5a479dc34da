/*
 * draws.h: where each random draw of an upstream pipeline call starts in its
 * generator's stream (numerics.md §5.5).
 *
 * One upstream call draws all its noise from one torch.Generator seeded with
 * manual_seed(seed), tensor after tensor, each torch.randn(n) consuming
 * od_randn_words(n) 32-bit words of the MT19937 stream (base/rng.h):
 *
 *   text-to-image (__call__):  1. the initial noise (1, C, h, w)
 *   img2img (every other job): 1. randn(1, C, h, w) in prepare_latents, drawn
 *                                 and thrown away (an image was given)
 *                              2. the VAE posterior ε of the condition images,
 *                                 (n_images, C, h, w), in their order
 *                              3. the initial noise of all F frames (1, F, C, h, w)
 *
 * Calls are batch 1 (od runs each job on its own), so one frame is C·h·w
 * values. od-encode takes draw 2 (one picture after another from the same
 * generator), od-denoise draw 3 (or draw 1 of text-to-image); both ask here
 * how many words come first, so a seed gives the same noise as upstream's
 * call with manual_seed(seed).
 */
#ifndef OD_DRAWS_H
#define OD_DRAWS_H

#include <stddef.h>
#include <stdint.h>

enum od_draw {
	OD_DRAW_PREPARE_LATENTS, /* prepare_latents' randn: __call__'s initial noise, discarded by img2img */
	OD_DRAW_POSTERIOR,       /* img2img: the condition images' posterior ε */
	OD_DRAW_INIT_NOISE,      /* the initial noise of every frame */
};

/* The number of 32-bit words of the seed's stream drawn before `which` starts.
 * text_to_image: the call is __call__ (one draw: the initial noise, at 0; it
 * has no posterior draw, 0 is returned for it); frame: C·h·w; n_images: the
 * condition images the call encodes (img2img). */
uint64_t od_draw_offset(enum od_draw which, int text_to_image, size_t frame, int n_images);

#endif
