/*
 * rope.h: NextDiT's 3-D rotary position tables, computed on the fly
 * (numerics.md §2.5).
 *
 * Upstream precomputes a complex64 table of shape (128, 128, 128, head_dim/2),
 * about 1 GB for the released model; od computes only the rows a call needs.
 * With n = head_dim/6 frequencies per axis,
 *
 *   ω_k = fl32(1 / fl32(θ ^ fl32(6k / head_dim)))        k = 0 .. n-1, θ = 10000
 *
 * exactly as torch evaluates `1.0 / (theta ** (arange(0, dim, 6)[:dim//6] / dim))`
 * in float32, and a token at (frame f, patch row i, patch column j) gets, for
 * its interleaved pair p (0 .. 3n-1):
 *
 *   p in [0, n):   φ = fl32(f · ω_p)        (frame axis)
 *   p in [n, 2n):  φ = fl32(i · ω_(p-n))    (patch row)
 *   p in [2n, 3n): φ = fl32(j · ω_(p-2n))   (patch column)
 *
 * stored as cos φ, sin φ: the (tokens, head_dim/2, 2) layout od_rope() takes
 * (backend.h). Forming the angle in float32 as upstream's torch.outer does keeps
 * the table within 1e-6 of upstream's (numerics.md §10.1: `rope`).
 *
 * Limits (§2.5.2): upstream's table has rotary_max_length positions per spatial
 * axis and rotary_max_length_t (or rotary_max_length) frames; a sequence beyond
 * them fails upstream, and od refuses it the same way (od_rope_check).
 */
#ifndef OD_ROPE_H
#define OD_ROPE_H

#include <stddef.h>

#define OD_ROPE_THETA 10000.0f

/* The n = head_dim/6 frequencies ω_k (head_dim must be a multiple of 6). */
void od_rope_omega(int head_dim, float theta, float *omega);

/* Fill cos_sin (frames·hp·wp, head_dim/2, 2) for the tokens of `frames` frames
 * of hp × wp patches in NextDiT's token order n = (f·hp + i)·wp + j. */
void od_rope_table(float *cos_sin, int head_dim, const float *omega, int frames, int hp, int wp);

/* OD_OK when `frames` frames of hp × wp patches fit the tables of a model with
 * rotary_max_length max_hw and rotary_max_length_t max_t; otherwise an
 * OD_EFORMAT error (positions must stay below the table sizes). */
int od_rope_check(int frames, int hp, int wp, int max_t, int max_hw);

#endif
