/*
 * train/trainer.h: a training run of the NextDiT: the model's float32 weights
 * and their gradients (model/nextdit_grad.h), AdamW with its schedule,
 * clipping and EMA (adamw.h), the data (data.h), the objective's draws
 * (objective.h) and checkpoints (checkpoint.h), put together one step at a
 * time. od-train(1) is a thin loop around it.
 *
 * One step k (1-based):
 *   1. a batch of B jobs of one shape from the data generator (data.h);
 *   2. from the noise generator: caption dropout, n and ε (objective.h), and
 *      x_σ, t, target; then the clean conditions when asked for; dropped
 *      prompts become the empty prompt's states;
 *   3. loss and gradients (od_nextdit_loss_grad), the loss checked finite;
 *   4. ‖g‖ in double; clipping when --clip is set;
 *   5. AdamW at lr_k = the schedule's value at k; the EMA when kept.
 * A run is a pure function of its settings, its data, its starting weights and
 * the two generators, so a checkpoint (weights, moments, EMA, generators,
 * step) resumes it bit for bit.
 */
#ifndef OD_TRAIN_TRAINER_H
#define OD_TRAIN_TRAINER_H

#include "compute/backend.h"
#include "formats/config.h"
#include "model/nextdit_grad.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/objective.h"

#include <stdint.h>

/* What defines a run: saved in its checkpoints and compared on resume. */
struct od_train_settings {
	int batch;
	double lr, min_lr;
	int64_t warmup;
	enum od_lr_shape schedule;
	struct od_adamw_opts adamw;
	double clip;           /* max gradient norm; 0 = no clipping */
	double ema;            /* EMA decay; 0 = no EMA */
	double cfg_dropout;    /* caption dropout probability */
	double clean_frames;   /* probability of a job's clean conditions (objective.h od_train_clean); 0: none */
	double clean_t;        /* their timesteps are uniform in [0, clean_t) */
	uint64_t seed;
	int softcap;           /* 1: the released soft-capped self-attention; 0: none */
	char *base;            /* resolved folder of the other components, or NULL */
	char *config;          /* the transformer config a fresh model was built from, or NULL */
	char *empty_text;      /* the empty prompt: "text_encoder" (computed) or a frame stream file */
};

/* The defaults od-train documents (lr 1e-4, AdamW betas 0.9/0.999, eps 1e-8,
 * weight decay 0.01, batch 1, dropout 0.1, no clean conditions (their
 * timesteps below 100 when asked for), seed 0, soft-cap on). */
void od_train_settings_default(struct od_train_settings *s);
void od_train_settings_free(struct od_train_settings *s);
json_t *od_train_settings_json(const struct od_train_settings *s);
int od_train_settings_from_json(json_t *j, struct od_train_settings *s, const char *label);

struct od_trainer {
	struct od_train_settings s;
	int64_t steps;              /* the schedule's N (may grow on resume) */
	struct od_ctx *ctx;
	struct od_nextdit m;
	int m_open;
	struct od_nextdit_params p;
	int p_init;
	struct od_train_tensors tt; /* names and shapes of p */
	struct od_tensor *shapes;
	char *model_dir;            /* the folder the weights came from */
	char *config_text;          /* its transformer/config.json, written into checkpoints */
	size_t config_len;
	float **grads;
	struct od_adamw opt;
	float **ema;                /* (n) or NULL */
	struct od_train_rng noise, drng;
	struct od_train_data data;
	float *empty;               /* (empty_S, D) the empty prompt's states */
	uint8_t *empty_mask;
	int empty_S;
	int64_t step;               /* steps done */
	/* step buffers */
	float *n, *sigma, *t, *eps, *xs, *target;
	uint8_t *drop, *in_loss;
	size_t cap_frames, cap_x;
	struct od_train_batch batch;
};

/* Start a run: the model from model_dir (its transformer/, weights widened to
 * float32) or, with s->config, a fresh one of that configuration with upstream's
 * initialisation from s->seed; the data; the empty prompt; the generators
 * (noise from seed, data from seed + 1). tr->s takes over s's strings. */
int od_trainer_open(struct od_trainer *tr, struct od_ctx *ctx, const char *model_dir, struct od_train_settings *s,
		    int64_t steps, char *const *data, int n_data, const char *scratch_dir);
/* Resume from a checkpoint folder: the weights, the state and the settings it
 * holds. data (n_data > 0) must be the run's data; none: the files the state
 * names. s_given (may be NULL) holds settings the caller was given explicitly
 * (mask bits in `given`, OD_TRAIN_GIVEN_*), each compared with the run's
 * (OD_EINVAL naming the first that differs). */
enum {
	OD_TRAIN_GIVEN_BATCH = 1 << 0, OD_TRAIN_GIVEN_LR = 1 << 1, OD_TRAIN_GIVEN_MIN_LR = 1 << 2,
	OD_TRAIN_GIVEN_WARMUP = 1 << 3, OD_TRAIN_GIVEN_SCHEDULE = 1 << 4, OD_TRAIN_GIVEN_ADAMW = 1 << 5,
	OD_TRAIN_GIVEN_CLIP = 1 << 6, OD_TRAIN_GIVEN_EMA = 1 << 7, OD_TRAIN_GIVEN_DROPOUT = 1 << 8,
	OD_TRAIN_GIVEN_SEED = 1 << 9, OD_TRAIN_GIVEN_SOFTCAP = 1 << 10, OD_TRAIN_GIVEN_BASE = 1 << 11,
	OD_TRAIN_GIVEN_CONFIG = 1 << 12, OD_TRAIN_GIVEN_EMPTY = 1 << 13, OD_TRAIN_GIVEN_CLEAN = 1 << 14,
	OD_TRAIN_GIVEN_CLEAN_T = 1 << 15,
};
int od_trainer_resume(struct od_trainer *tr, struct od_ctx *ctx, const char *ckpt, const struct od_train_settings *s_given,
		      unsigned given, int64_t steps, char *const *data, int n_data);
void od_trainer_close(struct od_trainer *tr);

struct od_train_step_info {
	int64_t step;
	float loss;
	double lr, grad_norm;
	float clip;                 /* the factor applied (1: none) */
	int B, F, h, w;
	int src;
};
/* One step (above). A non-finite loss or gradient is an OD_EFAIL error naming
 * the step; nothing is updated then. */
int od_trainer_step(struct od_trainer *tr, struct od_train_step_info *info);

/* Write the checkpoint of the current step into outdir (checkpoint.h), point
 * latest at it and keep the newest `keep` and the multiples of keep_every
 * (od_train_prune). Refuses (OD_EFAIL) weights that are
 * no longer finite, so a diverged run never replaces a good checkpoint. name
 * (may be NULL) gets the folder's name. */
int od_trainer_save(struct od_trainer *tr, const char *outdir, int keep, int64_t keep_every, char *name,
		    size_t name_size);

/* Swap the weights with the EMA's (twice restores them): to sample or export
 * with the averaged weights. No-op without an EMA. */
void od_trainer_swap_ema(struct od_trainer *tr);

/* The empty prompt's T5 states as od-tag makes them (`od-tag --raw ''`): the
 * tokenizer and text encoder of model_dir. *emb (S, D) and *mask (S) malloc'd. */
int od_train_empty_text(struct od_ctx *ctx, const char *model_dir, float **emb, uint8_t **mask, int *S, int *D);
/* The first text frame of a frame stream file, as the empty prompt. */
int od_train_empty_text_file(const char *path, float **emb, uint8_t **mask, int *S, int *D);

/* Write a fresh model folder from a transformer config: dir/transformer with the
 * config and upstream's initialisation from seed (od_nextdit_params_init_random),
 * the other components linked from base (may be NULL). */
int od_train_init_model(struct od_ctx *ctx, const char *config, const char *base, uint64_t seed, const char *outdir,
			const char *name);

#endif
