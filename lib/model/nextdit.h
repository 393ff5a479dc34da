/*
 * nextdit.h: the NextDiT denoiser's forward pass (numerics.md §2), written once
 * against the kernel table (backend.h) so that it runs on every backend.
 *
 *   struct od_nextdit m;
 *   od_nextdit_open(&m, ctx, "MODEL");              // transformer/, weights mapped
 *   struct od_nextdit_text txt;
 *   od_nextdit_text_prepare(&m, &txt, B, S, emb, mask);   // once per job
 *   od_nextdit_forward(&m, &txt, F, h, w, x, t, out, NULL); // once per step
 *   od_nextdit_text_free(&m, &txt); od_nextdit_close(&m);
 *
 * Inputs and outputs of a forward are host arrays: latents x (B, F, C, h, w),
 * one timestep per (batch, frame) t (B, F) in training units (1000·σ), and the
 * velocity out (B, F, C, h, w). Patchify/unpatchify and the small per-frame
 * vectors (timestep sinusoids, RoPE tables) are formed on the host; every
 * matrix product, norm and attention runs on the context's device.
 *
 * How the forward follows upstream, and where it deliberately computes less:
 *  - One timestep per token, the mean of its 64 patchified per-element values
 *    (§2.1). All of a frame's values are equal, so it is the frame's t up to the
 *    rounding of torch's float32 mean, which od reproduces (od_nextdit_t_token).
 *  - adaLN per frame: upstream computes c = temb + y and the modulations
 *    Linear(SiLU(c)) for every token, but c depends only on the token's frame
 *    (one t per frame, y per batch entry), so od computes them once per frame and
 *    the fused norm kernels read row m / tokens_per_frame (backend.h "per group").
 *    Identical values, F·B rows instead of L·B.
 *  - The text side (masked-mean pooling + y_embedder, and in every block
 *    attention_y_norm, wk_y + ky_norm, wv_y) does not depend on the latents, so
 *    od_nextdit_text_prepare computes it once per job and every step reuses it.
 *  - Self-attention logits are soft-capped at 30 (the released flash-attention
 *    path, §2.6 item 1) unless m->softcap is set to 0 (upstream's fp32 SDPA path).
 *  - The FFN runs in row chunks so its 2·ffn_hidden-wide intermediate never
 *    exists for a whole multiview sequence at once.
 */
#ifndef OD_NEXTDIT_H
#define OD_NEXTDIT_H

#include "compute/backend.h"
#include "formats/checkpoint.h"
#include "model/nextdit_config.h"

#include <stdint.h>

/* LayerNorm eps of q_norm/k_norm (nn.LayerNorm's default), ky_norm, y_embedder.0
 * and the final layer (numerics.md §2.3, §2.6, §2.7). */
#define OD_NEXTDIT_QK_NORM_EPS 1e-5f
#define OD_NEXTDIT_KY_NORM_EPS 1e-6f
#define OD_NEXTDIT_Y_NORM_EPS 1e-6f
#define OD_NEXTDIT_FINAL_NORM_EPS 1e-6f

struct od_nextdit {
	struct od_nextdit_config cfg;
	struct od_component comp;
	struct od_ctx *ctx;
	float softcap;          /* self-attention soft-cap (30; 0 = none) */
	const struct od_tensor **tensors; /* in od_nextdit_spec order */
	int n_tensors;
	/* embedders and final layer */
	const struct od_tensor *x_w, *x_b, *t0_w, *t0_b, *t2_w, *t2_b, *yln_w, *yln_b, *y_w, *y_b;
	const struct od_tensor *fin_w, *fin_b, *fin_ada_w, *fin_ada_b;
	/* blocks: block[i][OD_DIT_*], NULL for q_norm/k_norm when qk_norm is off */
	const struct od_tensor *(*block)[OD_DIT_BLOCK_TENSORS];
	float t_omega[128];     /* timestep frequencies as torch computes them (half = 128) */
	float *rope_omega;      /* head_dim/6 RoPE frequencies */
	/* device workspace, grown on demand */
	float *ws;
	size_t ws_len;
	uint8_t *ws_mask;
	size_t ws_mask_len;
	/* training workspace (model/nextdit_grad.c), kept across calls */
	float *grad_ws;
	size_t grad_ws_len;
};

/* Open MODEL/transformer: parse config.json, map the weights and check every
 * tensor's name and shape against the config (OD_EMODEL on mismatch). */
int od_nextdit_open(struct od_nextdit *m, struct od_ctx *ctx, const char *model_dir);
void od_nextdit_close(struct od_nextdit *m);
/* Point the named tensor pointers (x_w, block[i][j], ...) at the entries of
 * m->tensors again, after a caller replaced them (model/nextdit_grad.h). */
void od_nextdit_bind(struct od_nextdit *m);

/* The text side of a batch, computed once per job (device buffers). */
struct od_nextdit_text {
	int batch, len;          /* B, S */
	float *y;                /* (B, adaln): y_embedder(masked mean of the text) */
	float *yk, *yv;          /* depth × (B·S, kv_heads·head_dim): cross-attention keys/values */
	uint8_t *mask;           /* (B, S) key mask */
	float *pool;             /* host (B, caption_channels): the masked mean, for tracing */
};

/* emb: host (B, S, caption_channels) float32 T5 states; mask: host (B, S) 0/1.
 * The pooled mean is Σ emb·mask / (Σ mask + 1e-8) (§2.3). */
int od_nextdit_text_prepare(struct od_nextdit *m, struct od_nextdit_text *t, int B, int S, const float *emb,
			    const uint8_t *mask);
void od_nextdit_text_free(struct od_nextdit *m, struct od_nextdit_text *t);

/* Optional view of the intermediates (tests, debugging): fn gets each named
 * tensor as host data. Names and shapes (B batch, F frames, L = F·tokens per
 * frame, D hidden, A adaLN width):
 *   "tokens" (B,L,P)  "x_embed" (B,L,D)  "t_tok" (B,F)  "t_emb" (B,F,A)
 *   "cap_pool" (B,Dc)  "y_emb" (B,A)  "c" (B,F,A)  "rope" (L,hd/2,2)
 *   "block0_attn_out" (B,L,D)  "block0_ffn_out" (B,L,D)  "block{i}_out" (B,L,D)
 *   "final_out" (B,L,P)
 * t_emb and c are per frame: every token of a frame has the same vector. */
struct od_nextdit_trace {
	void (*fn)(void *user, const char *name, const float *data, int ndim, const int64_t *shape);
	void *user;
};

/* One forward pass for B = txt->batch entries of F frames of h × w latents.
 * x, out: host (B, F, C, h, w) (out may alias x); t: host (B, F). Checks the
 * sizes against the patch size and the RoPE limits (OD_EFORMAT). */
int od_nextdit_forward(struct od_nextdit *m, const struct od_nextdit_text *txt, int F, int h, int w, const float *x,
		       const float *t, float *out, const struct od_nextdit_trace *trace);

/* Upstream's per-token timestep for a frame at t: torch's float32 mean over the
 * 64 patchified copies of t (§2.1), which can differ from t by one ulp. */
float od_nextdit_t_token(float t, int patch_dim);

/* The 256-value sinusoidal embedding [cos(t·ω_k), sin(t·ω_k)] with the
 * argument formed in float32 (§2.3); omega from m->t_omega. */
void od_nextdit_t_freq(const float *omega, float t, float *out256);

/* Check that F frames of h × w latents fit the model (patch size, RoPE limits). */
int od_nextdit_check_size(const struct od_nextdit_config *c, int F, int h, int w);

#endif
