/*
 * model/nextdit_case.h: one training batch read from a .safetensors file, in the
 * layout of the golden training cases (tests/golden/README.md §11.3):
 *
 *   x_sigma                 (B, F, C, h, w)   the noisy input x_σ
 *   t                       (B, F)            timesteps 1000·σ
 *   target                  (B, F, C, h, w)   the velocity ε − x0
 *   encoder_hidden_states   (B, S, Dc)        text states
 *   encoder_attention_mask  (B, S)            1 = real token (any integer or bool type, 0/1)
 *
 * Other tensors in the file are ignored. Float tensors of any float dtype are
 * widened to float32. Every shape is checked against the others and against the
 * model's config (channels, text width, patch size, RoPE limits): a mismatch is
 * an OD_EFORMAT error naming the file and the tensor.
 */
#ifndef OD_NEXTDIT_CASE_H
#define OD_NEXTDIT_CASE_H

#include "formats/safetensors.h"
#include "model/nextdit_grad.h"

struct od_nextdit_case {
	struct od_nextdit_batch b; /* points into the buffers below */
	float *x, *t, *target, *text;
	uint8_t *mask;
};

/* From a parsed file (label names it in errors). */
int od_nextdit_case_from_st(struct od_nextdit_case *cs, const struct od_safetensors *st,
			    const struct od_nextdit_config *cf, const char *label);
/* Open, read and close path. */
int od_nextdit_case_read(struct od_nextdit_case *cs, const char *path, const struct od_nextdit_config *cf);
void od_nextdit_case_free(struct od_nextdit_case *cs);

#endif
