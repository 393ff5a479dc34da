/*
 * model/vae_grad.h: training the AutoencoderKL (SD3 VAE architecture, any
 * width): trainable float32 weights, the forward of encoder and decoder with
 * its activations kept, the loss of numerics.md §12.1 and its gradient
 * with respect to every weight, through the kernel table's forward and
 * backward kernels.
 *
 *   struct od_vae_params p;
 *   od_vae_params_init(&p, &vae);                 // from an opened checkpoint, or
 *   od_vae_params_init_random(&p, &cfg, seed);    // a fresh one (PyTorch's default initialisation)
 *   od_vae_loss_grad(ctx, &p, &batch, beta, &loss, grads);
 *   od_vae_params_save(&p, config_json, "OUT/vae"); // config.json + diffusion_pytorch_model.safetensors
 *
 * The loss of a batch of B pictures x (3, H, W) in [−1, 1], with ε the
 * posterior noise (numerics: numerics.md §12.1, §12.2):
 *   moments = Encoder(x);  z = mean + exp(0.5·clamp(logvar, −30, 20))·ε;  x̂ = Decoder(z)
 *   recon   = mean over B·3·H·W of |x̂ − x|                    (L1, per pixel and channel)
 *   kl      = mean over B·L·h·w of 0.5·(mean² + var − 1 − logvar)   (KL(q(z|x) ‖ N(0, I)) per element)
 *   loss    = recon + β·kl
 * The forward is vae.c's, kernel call for kernel call (one picture at a time,
 * N = 1), so the training forward's moments and decoder output are the bytes
 * od-encode and od-decode compute with the same weights.
 *
 * The pictures are processed one after the other: each one's forward keeps its
 * activations, its backward adds its share of the gradient (the loss is a sum
 * over pictures, scaled by the batch's element counts) and frees them. So the
 * activations of one picture are alive at a time, and the gradient bytes do not
 * depend on the thread count (every kernel sums in a fixed order, and the
 * pictures are added in order).
 *
 * Training runs on the CPU: the CUDA backend caches device copies of weights
 * by address, which go stale when an optimiser updates them in place.
 * NEEDSWORK: a cache invalidation hook would let od_vae_loss_grad run on CUDA.
 */
#ifndef OD_VAE_GRAD_H
#define OD_VAE_GRAD_H

#include "compute/backend.h"
#include "formats/config.h"
#include "model/vae.h"
#include "model/vae_config.h"

#include <stdint.h>

/* Every tensor of od_vae_spec (in its order) as a float32 host buffer, with a
 * view (dtype F32, the spec's shape) that the kernels read. An optimiser
 * updates data[i] in place. */
struct od_vae_params {
	struct od_vae_config cfg;
	int n;                 /* number of tensors */
	const char **names;    /* checkpoint names ("encoder.conv_in.weight") */
	int64_t *numel;
	float **data;          /* n host buffers */
	struct od_tensor *views;
};

/* Float32 copies of an opened checkpoint's weights (BF16/F16 widened). */
int od_vae_params_init(struct od_vae_params *p, const struct od_vae *v);
/* A fresh model of configuration cfg, initialised as PyTorch initialises the
 * diffusers modules (no module of AutoencoderKL overrides the defaults):
 *   Conv2d, Linear weight and bias: U(−1/√fan_in, 1/√fan_in), fan_in = Cin·kh·kw
 *     (kaiming_uniform with a = √5, and the bias rule of _ConvNd/Linear);
 *   GroupNorm weight 1, bias 0.
 * The uniforms come from one MT19937 stream of seed, 24 bits per value, the
 * tensors in spec order (the distributions of PyTorch, not its stream). */
int od_vae_params_init_random(struct od_vae_params *p, const struct od_vae_config *cfg, uint64_t seed);
void od_vae_params_free(struct od_vae_params *p);
/* The index of a tensor by name, or -1. */
int od_vae_params_find(const struct od_vae_params *p, const char *name);

/* Write dir/config.json (config, as given: the caller sets scaling_factor and
 * the rest) and dir/diffusion_pytorch_model.safetensors (every tensor, F32),
 * each file atomically. dir must exist. */
int od_vae_params_save(const struct od_vae_params *p, json_t *config, const char *dir);

/* One training batch: B pictures of in_channels×H×W, H and W multiples of
 * cfg.downscale. */
struct od_vae_batch {
	int B, H, W;
	const float *x;     /* (B, 3, H, W) host, the pictures in [−1, 1]: input and target */
	const float *eps;   /* (B, L, H/ds, W/ds) host, the posterior noise ε */
	float *moments;     /* optional out (B, 2L, H/ds, W/ds): the encoder's output */
	float *recon;       /* optional out (B, 3, H, W): the decoder's output x̂ */
	int decoder_only;   /* gradients of the decoder's weights alone (od_vae_param_is_decoder):
	                     * the encoder is frozen, its forward keeps no activations and
	                     * nothing is walked back into it; grads[i] of the other
	                     * tensors are not touched and may be NULL */
};

struct od_vae_loss {
	double loss;   /* recon + β·kl */
	double recon;  /* mean |x̂ − x| */
	double kl;     /* mean KL term per latent element (before β) */
};

/* The loss of batch b (above) in *out; when grads is not NULL, grads[i]
 * (numel[i] floats each, caller-allocated and zeroed) += ∂loss/∂θ_i. */
int od_vae_loss_grad(struct od_ctx *c, const struct od_vae_params *p, const struct od_vae_batch *b, double beta,
		     struct od_vae_loss *out, float **grads);

/* Whether the tensor of that name belongs to the decoder's half (decoder.*,
 * post_quant_conv.*): the weights a decoder_only batch trains. */
int od_vae_param_is_decoder(const char *name);

/* The encoder alone: x host (3, H, W) -> moments host (2L, H/ds, W/ds), the
 * bytes od_vae_encode gives with the same weights. */
int od_vae_params_encode(struct od_ctx *c, const struct od_vae_params *p, const float *x, int H, int W,
			 float *moments);

#endif
