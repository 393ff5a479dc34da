/*
 * train/objective.h: the training objective's noising (numerics.md §11.1,
 * golden README §11.1) and the random draws of a training step.
 *
 * Per sample b and frame f of a batch:
 *
 *   n[b,f]   ~ N(0,1)                      one normal per frame
 *   σ        = fp32(1 / fp32(1 + expf(−n)))  torch's float32 sigmoid (its scalar path)
 *   x_σ      = fp32(fp32(fp32(1 − σ)·x0) + fp32(σ·ε))   two products and a sum, never fused
 *   t        = fp32(σ·1000)                the DiT's timestep for every token of the frame
 *   target   = fp32(ε − x0)                the velocity the network is trained to predict
 *
 * with ε ~ N(0,1) per element. Every frame of a job is noised, conditions
 * included, as the paper trains and as the golden cases do. Given the golden n
 * and ε, od_train_noise() reproduces the cases' sigma, x_sigma, t and target
 * bit for bit (tests/unit/test_train_objective.c). objective.c is compiled
 * with -ffp-contract=off and rounds every product in its own statement, so no
 * compiler can fuse them into a multiply-add.
 *
 * The draws of one step, from one generator in this order (torch's CPU
 * generator, base/rng.h; the order is what makes a seed reproduce a run):
 *
 *   1. caption dropout: B uniforms u = (word & 0xffffff)·2⁻²⁴ (torch.rand), the
 *      sample's prompt is dropped when u < p;
 *   2. n: torch.randn(B·F);
 *   3. ε: torch.randn(B·F·C·h·w);
 *   4. with clean conditions (od_train_clean, off by default), per job of more
 *      than one frame: a uniform u (torch.rand); when u < p, F uniforms (one
 *      coin per frame, c = v < 0.5), drawn F at a time again while every coin
 *      or none is set, then one uniform per clean frame, in frame order.
 *
 * torch's generator keeps the second value of a Box-Muller pair drawn by its
 * scalar path (tensors of fewer than 16 values) for the next scalar draw;
 * struct od_train_rng models that cache, so a sequence of draws matches the
 * same sequence of torch calls on one torch.Generator.
 */
#ifndef OD_TRAIN_OBJECTIVE_H
#define OD_TRAIN_OBJECTIVE_H

#include "base/rng.h"

#include <stddef.h>
#include <stdint.h>

/* torch.Generator("cpu") as far as training uses it: the MT19937 stream and the
 * cached normal of the scalar path. */
struct od_train_rng {
	struct od_mt19937 mt; /* with torch's cached scalar sample (base/rng.h) */
};

void od_train_rng_seed(struct od_train_rng *g, uint64_t seed);
/* torch.randn(n, generator=g) (float32). */
void od_train_randn(struct od_train_rng *g, size_t n, float *out);
/* torch.rand(1, generator=g).item() (float32, 24 bits). */
float od_train_rand(struct od_train_rng *g);
/* A uniform integer in [0, n), n >= 1, without modulo bias (rejection on
 * 32-bit words; not a torch call). */
uint32_t od_train_rand_below(struct od_train_rng *g, uint32_t n);
/* A uniform double in [0, 1) from 53 bits (two words, as torch's random64). */
double od_train_rand_double(struct od_train_rng *g);

/* The state as 627 int64 values (624 words, position, cache flag, cache bits),
 * for checkpoints; od_train_rng_import validates them (OD_EFORMAT). */
#define OD_TRAIN_RNG_WORDS 627
void od_train_rng_export(const struct od_train_rng *g, int64_t *out);
int od_train_rng_import(struct od_train_rng *g, const int64_t *in);

/* σ = sigmoid(n) in float32 as torch computes it for the golden cases. */
float od_train_sigma(float n);

/* Noise n_frames frames of fsz values: for frame i, sigma[i] = od_train_sigma(n[i])
 * (when n is not NULL; otherwise sigma is an input), t[i] = fp32(σ·1000), and
 * x_sigma, target over x0 and eps as above. x0, eps, x_sigma, target:
 * (n_frames, fsz) row-major. */
void od_train_noise(size_t n_frames, size_t fsz, const float *n, float *sigma, float *t, const float *x0,
		    const float *eps, float *x_sigma, float *target);

/* One step's draws (order above) and noising for B samples of F frames of fsz
 * values: drop (B) gets 1 where the prompt is replaced by the empty text
 * (p_drop <= 0 draws nothing for step 1); n, sigma, t: (B·F); eps scratch,
 * x_sigma, target: (B·F·fsz). */
void od_train_draw(struct od_train_rng *g, int B, int F, size_t fsz, double p_drop, const float *x0, uint8_t *drop,
		   float *n, float *sigma, float *t, float *eps, float *x_sigma, float *target);

/* Clean conditions (numerics.md §11.1a): with probability p_clean, a job of
 * F >= 2 frames keeps a uniformly drawn non-empty proper subset of its frames
 * clean, as od-denoise gives conditions: x_sigma = x0 exactly, sigma = 0, and
 * t drawn uniformly in [0, t_max) (od-denoise gives its conditions the
 * schedule's last timestep, about 30 to 80 for 20 to 50 steps at 128²:
 * numerics.md §5.4). Such frames are not in the loss (in_loss[b·F + f] = 0;
 * their target, ε − x0, is noise they give no evidence of); every other frame
 * is as od_train_draw made it (in_loss 1). All 2^F − 2 subsets are equally
 * likely, so every direction a job can be read in (depth → image and image →
 * depth, any view from any others, poses from pictures) is trained. Draws step 4 above; p_clean <= 0 draws nothing and marks every
 * frame in the loss. */
void od_train_clean(struct od_train_rng *g, int B, int F, size_t fsz, double p_clean, double t_max, const float *x0,
		    float *sigma, float *t, float *x_sigma, uint8_t *in_loss);

#endif
