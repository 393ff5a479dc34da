/*
 * train/checkpoint.h: training checkpoints.
 *
 * A checkpoint is a model folder in the released Hugging Face layout, so that
 * every tool loads it unchanged (`od-denoise --model OUTDIR/latest`), plus the
 * training state beside the weights:
 *
 *   OUTDIR/step-0001000/
 *     transformer/config.json                          the model's configuration
 *     transformer/diffusion_pytorch_model.safetensors  the float32 master weights
 *     vae, text_encoder, tokenizer, scheduler, model_index.json
 *                                   symbolic links to the base model's (absolute,
 *                                   resolved: a checkpoint of a checkpoint links
 *                                   to the original files, never to another link)
 *     train_state.safetensors       optimiser moments, EMA, generators, step, settings
 *   OUTDIR/latest -> step-0001000
 *
 * Writing is atomic: everything goes to a temporary folder
 * OUTDIR/.step-0001000.tmp-XXXXXX/ (files flushed to disk; base/io.h
 * od_out_dir), which is renamed into place only when complete; then the
 * `latest` link is replaced by a rename, and only then are checkpoints beyond
 * the ones to keep removed (each renamed aside before it is removed, so none is
 * ever seen half removed). A failure at any point (a full disk), a fatal signal
 * or an early exit removes the temporary folder and leaves the previous
 * checkpoint and `latest` as they were.
 *
 * train_state.safetensors:
 *   adamw.exp_avg.<name>, adamw.exp_avg_sq.<name>   F32, each weight's shape
 *   ema.<name>                                       F32, when the run keeps an EMA
 *   rng.noise, rng.data                              I64 (627): the generators (objective.h)
 *   metadata: format "od-train-state", version "1", step, settings (JSON
 *   object: the run's options), data (JSON array: the data files with their
 *   weights, job counts and sizes).
 * Nothing in it depends on the clock, so a resumed run writes the same bytes
 * as an uninterrupted one.
 * The reader validates all of it before anything is used (a fuzz target covers
 * it): every expected tensor present with its dtype and shape, nothing else,
 * the generators' words in range, the metadata well formed.
 */
#ifndef OD_TRAIN_CHECKPOINT_H
#define OD_TRAIN_CHECKPOINT_H

#include "base/tensor.h"
#include "formats/config.h"
#include "train/objective.h"

#include <stddef.h>
#include <stdint.h>

/* The trainable tensors a checkpoint holds: names and shapes (shapes[i].shape,
 * .ndim), float32 data. */
struct od_train_tensors {
	int n;
	const char *const *names;
	const struct od_tensor *shapes;
};

struct od_train_state {
	int64_t step;
	json_t *settings;      /* object */
	json_t *data;          /* array */
	float **m, **v;        /* (n) AdamW moments */
	float **ema;           /* (n) or NULL */
	int64_t rng_noise[OD_TRAIN_RNG_WORDS];
	int64_t rng_data[OD_TRAIN_RNG_WORDS];
};

#define OD_TRAIN_STATE_FILE "train_state.safetensors"

/* Write a state file (through an atomic output). */
int od_train_state_write(const char *path, const struct od_train_state *s, const struct od_train_tensors *t);
/* Parse and validate a state; allocates out's m, v, ema (when present) and
 * takes references to settings and data. OD_EFORMAT for a damaged file,
 * OD_EMODEL for one that belongs to another model (tensors missing or of other
 * shapes). */
int od_train_state_parse(const void *buf, size_t len, const char *label, const struct od_train_tensors *t,
			 struct od_train_state *out);
int od_train_state_read(const char *path, const struct od_train_tensors *t, struct od_train_state *out);
void od_train_state_free(struct od_train_state *s, int n);

/* What a checkpoint folder holds. */
struct od_train_model {
	const char *base;          /* model folder whose other components are linked, or NULL */
	const char *config;        /* the transformer's config.json, its text */
	size_t config_len;
	struct od_train_tensors t;
	float *const *data;        /* (n) float32 weights */
	enum od_dtype dtype;       /* the weights' type on disk: OD_F32 (0, the default),
	                            * OD_BF16 or OD_F16 (rounded to nearest even) */
	const struct od_train_state *state; /* or NULL */
};

/* Write outdir/name as above, atomically (an existing folder of that name is
 * replaced). */
int od_train_model_write(const char *outdir, const char *name, const struct od_train_model *mo);
/* Point outdir/latest at name (a relative link, replaced by a rename). */
int od_train_set_latest(const char *outdir, const char *name);
/* Remove outdir/step-* folders of steps up to `upto` but the keep newest of
 * them (keep <= 0: none) and those of steps that are multiples of every
 * (every > 0: milestones, not counted in keep). Folders of later steps (a run
 * resumed from further back) are left: the run replaces them when it gets
 * there. */
int od_train_prune(const char *outdir, int keep, int64_t every, int64_t upto);
/* "step-0001000" for step 1000. */
void od_train_step_name(int64_t step, char *buf, size_t size);

/* The checkpoint --resume PATH names: PATH itself when it holds a state file,
 * else PATH/latest. *ckpt is malloc'd. */
int od_train_resume_find(const char *path, char **ckpt);

/* Remove a folder and everything in it (links are removed, never followed). */
int od_train_remove_tree(const char *path);

#endif
