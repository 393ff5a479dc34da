/*
 * train/preview.h: sample pictures during training, so a user sees the model
 * learn: a fixed set of jobs generated with the current weights through the
 * library's sampler (pipeline/sampler.h) and decoded by the VAE, laid out on one
 * contact sheet per call.
 *
 * The jobs come from a file given once:
 *   - a frame stream of od-denoise jobs (od-tag, od-encode, od-plucker output):
 *     any task, generated as od-denoise would without --mask;
 *   - or plain text, one prompt per line: each is given its text2image tag
 *     (a line that starts with [[tag]] is used as it is) and encoded with the
 *     base model's T5 together with an empty negative prompt, as od-tag does;
 *     the frames go to `jobs_out` once, and are read from there every time.
 * Every call uses the same seed for every job, so the sheets of successive
 * calls differ only by the weights.
 */
#ifndef OD_TRAIN_PREVIEW_H
#define OD_TRAIN_PREVIEW_H

#include "compute/backend.h"
#include "model/nextdit.h"
#include "model/vae.h"
#include "pipeline/schedule.h"

#include <stdint.h>

struct od_train_preview {
	char *jobs;                 /* the frame stream of jobs */
	struct od_ctx *ctx;
	struct od_vae vae;
	int vae_open;
	struct od_schedule_config sc;
	int steps;
	float guidance;
	uint64_t seed;
	int width, height;          /* text-to-image size in pixels */
};

/* base: the model folder with vae/, scheduler/ (and text_encoder/, tokenizer/
 * for prompts given as text). */
int od_train_preview_open(struct od_train_preview *pv, struct od_ctx *ctx, const char *base, const char *prompts,
			  const char *jobs_out, int steps, float guidance, uint64_t seed, int width, int height);
/* Generate every job with m and write the contact sheet of the generated
 * latent frames to png (atomically). *n_pictures gets their number. */
int od_train_preview_run(struct od_train_preview *pv, struct od_nextdit *m, const char *png, int *n_pictures);
void od_train_preview_close(struct od_train_preview *pv);

#endif
