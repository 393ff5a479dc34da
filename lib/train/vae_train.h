/*
 * train/vae_train.h: a training run of the AutoencoderKL (od-train vae): the
 * pictures and their random crops, the loss and gradients (model/vae_grad.h),
 * AdamW (adamw.h), checkpoints, the CSV log, and the latent statistics that set
 * scaling_factor and shift_factor afterwards (doc/numerics.md §12).
 *
 * One step k (1-based):
 *   1. from the data generator, for each of the B pictures of the batch: a
 *      picture uniformly, a crop position uniformly, a horizontal flip with
 *      probability 1/2 (od_train_rand_below, in that order);
 *   2. from the noise generator: the posterior's ε, torch.randn(B·L·h·w);
 *   3. the loss recon + β·kl and its gradient (od_vae_loss_grad), checked
 *      finite, and ‖g‖ (for the log);
 *   4. AdamW at the step's learning rate: lr, or the schedule of adamw.h
 *      (linear warm-up over `warmup` steps, then constant or a cosine down to
 *      min_lr at step `total`), od_lr_at on the settings' schedule.
 * A decoder_only run takes the same steps with the encoder frozen: its
 * weights keep their bytes, so the latents of every picture, the scaling
 * factor and a NextDiT trained on them stay valid, while the decoder learns
 * to draw those latents better (numerics.md §12.12.5). Its loss keeps the KL
 * term, a constant to it.
 * A fresh model is initialised from seed (od_vae_params_init_random); the data
 * generator is seeded with seed + 1 and the noise generator with seed + 2. The
 * run is a pure function of its settings, pictures, starting weights and the
 * two generators, so a checkpoint (weights, moments, generators, step) resumes
 * it bit for bit: N steps then N more give the bytes of 2N steps.
 *
 * Output folder:
 *   OUTDIR/step-0000100/vae/{config.json, diffusion_pytorch_model.safetensors}
 *   OUTDIR/step-0000100/train_state.safetensors   (train/checkpoint.h's state file)
 *   OUTDIR/latest -> step-0000100                 (replaced by a rename)
 *   OUTDIR/vae -> latest/vae                      (so `od-encode --model OUTDIR` works)
 *   OUTDIR/train.csv                              step,loss,recon,kl,lr,grad_norm
 * A checkpoint folder is complete (files flushed) before it is renamed into
 * place and `latest` moves; only then are older checkpoints removed.
 */
#ifndef OD_TRAIN_VAE_TRAIN_H
#define OD_TRAIN_VAE_TRAIN_H

#include "compute/backend.h"
#include "formats/config.h"
#include "formats/image.h"
#include "model/vae_grad.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/objective.h"

#include <stdint.h>
#include <stdio.h>

/* ------------------------------------------------------------------ pictures */

/* Decoded 8-bit RGB pictures, all in memory. */
struct od_vae_pictures {
	int n;
	char **paths;          /* as found (a directory's files sorted by name) */
	struct od_image *img;
};

/* Load pictures from inputs: PNG or JPEG files, directories (their .png, .jpg
 * and .jpeg files, sorted by name, recursively), or lists (files ending in
 * .txt: one path per line, relative to the list's folder; blank lines and
 * lines starting with # are skipped). OD_EFORMAT when there are none, and for a
 * picture smaller than min_side × min_side (naming it). */
int od_vae_pictures_load(struct od_vae_pictures *d, char *const *inputs, int n_inputs, int min_side);
void od_vae_pictures_free(struct od_vae_pictures *d);

/* The paths of a list of pictures (text, len bytes: one path per line,
 * relative to list_path's folder unless absolute; blank lines and # comments
 * skipped) in *paths (malloc'd, n of them). OD_EFORMAT for text with NUL bytes. */
int od_vae_list_parse(const char *text, size_t len, const char *list_path, char ***paths, int *n);

/* B random S×S crops (step 1 above) into x (B, 3, S, S), in [−1, 1] as the
 * pipeline converts pictures: (v/255 − 0.5)/0.5 in float32. */
void od_vae_pictures_batch(const struct od_vae_pictures *d, struct od_train_rng *g, int B, int S, float *x);

/* The S×S centre crop of picture i (smaller sides are not padded: the picture
 * must be at least S×S) into x (3, S, S). */
void od_vae_pictures_centre(const struct od_vae_pictures *d, int i, int S, float *x);

/* ------------------------------------------------------------------ the run */

struct od_vae_run_settings {
	int size;              /* crop side S, a multiple of the VAE's downscale factor */
	int batch;             /* B */
	/* the learning rate: peak lr, linear warm-up steps (0: none), shape
	 * (constant, the default, or cosine), the cosine's floor min_lr and the
	 * step it ends at, total (the run's first --steps; 0 for constant) */
	struct od_lr_schedule lr;
	double beta;           /* KL weight β (default 1e-6) */
	int decoder_only;      /* train the decoder alone (od_vae_param_is_decoder): the
	                        * encoder, and so the latents and a NextDiT trained on
	                        * them, stay as they are; only with a model to start from */
	uint64_t seed;
	struct od_adamw_opts adamw; /* torch defaults: 0.9, 0.999, 1e-8, weight decay 0.01 */
};
void od_vae_run_settings_default(struct od_vae_run_settings *s);
/* The settings a state file records (its "settings" metadata, a JSON object;
 * runs recorded before the schedule existed read as constant); OD_EFORMAT for
 * anything else. */
int od_vae_settings_parse(json_t *j, struct od_vae_run_settings *s, const char *label);

struct od_vae_run {
	struct od_vae_run_settings s;
	struct od_ctx *ctx;
	struct od_vae_params p;
	json_t *config;        /* vae/config.json as written into checkpoints */
	struct od_train_tensors tt;
	float **grads;         /* NULL for the tensors a decoder_only run leaves frozen */
	struct od_adamw opt;
	struct od_train_rng data, noise;
	struct od_vae_pictures pics;
	int64_t step;          /* steps done */
	float *x, *eps;        /* the batch */
};

/* Start a run: a fresh model of configuration `config` (a diffusers
 * AutoencoderKL config; taken over) initialised from s->seed, or, with
 * model_dir, that model's vae/ (its weights widened to float32; config NULL).
 * OD_EINVAL for decoder_only without model_dir (a random encoder frozen). OD_EMODEL for a configuration that cannot reconstruct pictures (in_channels
 * or out_channels other than 3); OD_EINVAL when its downscale
 * factor does not divide the crop size. */
int od_vae_run_open(struct od_vae_run *r, struct od_ctx *ctx, json_t *config, const char *model_dir,
		    const struct od_vae_run_settings *s, char *const *inputs, int n_inputs);

/* Resume the run in outdir (its latest checkpoint). Settings the caller gave
 * explicitly (mask bits OD_VAE_GIVEN_*) must equal the run's (OD_EINVAL naming
 * the first that differs); pictures, when given, must be the run's (the same
 * files in the same order), and are taken from the state otherwise. */
enum {
	OD_VAE_GIVEN_SIZE = 1 << 0, OD_VAE_GIVEN_BATCH = 1 << 1, OD_VAE_GIVEN_LR = 1 << 2,
	OD_VAE_GIVEN_BETA = 1 << 3, OD_VAE_GIVEN_SEED = 1 << 4, OD_VAE_GIVEN_WARMUP = 1 << 5,
	OD_VAE_GIVEN_SCHEDULE = 1 << 6, OD_VAE_GIVEN_MIN_LR = 1 << 7, OD_VAE_GIVEN_DECODER_ONLY = 1 << 8,
};
int od_vae_run_resume(struct od_vae_run *r, struct od_ctx *ctx, const char *outdir,
		      const struct od_vae_run_settings *given, unsigned mask, char *const *inputs, int n_inputs);
void od_vae_run_close(struct od_vae_run *r);

struct od_vae_step_info {
	int64_t step;
	struct od_vae_loss loss;
	double grad_norm;
};

/* One step (above). A non-finite loss or gradient is an OD_EFAIL error naming
 * the step; nothing is updated then. */
int od_vae_run_step(struct od_vae_run *r, struct od_vae_step_info *info);

/* Write the checkpoint of the current step into outdir (layout above) and
 * remove older ones. Refuses (OD_EFAIL) weights that are not finite. */
int od_vae_run_save(struct od_vae_run *r, const char *outdir);

/* ------------------------------------------------------------------ the log */

#define OD_VAE_LOG_HEADER "step,loss,recon,kl,lr,grad_norm\n"

/* Open outdir's train.csv for a run continuing after step `from` (0: new;
 * a resumed run drops the rows of later steps, atomically). */
int od_vae_log_open(FILE **f, const char *path, int64_t from);
int od_vae_log_row(FILE *f, const char *path, const struct od_vae_step_info *info, double lr);

/* ------------------------------------------------------------------ scaling */

/* Latent statistics over pictures d: for each picture, its S×S centre crop is
 * encoded and the posterior sampled (ε from torch.randn of a generator seeded
 * with seed, picture after picture); mean and std (about the mean) of every
 * latent value, in double. LDM and SD3 set scaling_factor = 1/std and
 * shift_factor = mean from these. */
int od_vae_latent_stats(struct od_ctx *ctx, const struct od_vae_params *p, const struct od_vae_pictures *d, int S,
			uint64_t seed, double *mean, double *std);

/* Rewrite vae_dir/config.json with scaling_factor and shift_factor
 * (atomically; other keys kept). */
int od_vae_set_scale(const char *vae_dir, double scaling_factor, double shift_factor);

#endif
