/*
 * components.h: the three weight-bearing components of a OneDiffusion
 * checkpoint (transformer, vae, text_encoder), generically: their config
 * parser and tensor spec, so tools can count parameters, validate weights and
 * write random-weight checkpoints of any configuration (od-model(1)).
 */
#ifndef OD_COMPONENTS_H
#define OD_COMPONENTS_H

#include "formats/checkpoint.h"
#include "model/nextdit_config.h"
#include "model/t5_config.h"
#include "model/vae_config.h"

union od_any_config {
	struct od_nextdit_config nextdit;
	struct od_vae_config vae;
	struct od_t5_config t5;
};

struct od_component_kind {
	const char *name;        /* folder name: "transformer", "vae", "text_encoder" */
	const char *weights;     /* file name used when writing: "diffusion_pytorch_model.safetensors" */
	int (*parse)(json_t *cfg, void *out, const char *label);
	int (*spec)(const void *cfg, od_spec_cb cb, void *user);
};

extern const struct od_component_kind od_component_kinds[3];

/* Parse the config of component kind k found in folder model_dir/<name>. */
int od_component_config(const struct od_component_kind *k, const char *model_dir, union od_any_config *cfg);

/* Write MODEL_OUT with random weights for every component of MODEL_IN that has
 * a config (other files, such as the tokenizer and scheduler, are copied).
 * Weights: N(0, 1/fan_in) for matrices and kernels, 1 + N(0, 0.02²) for 1-D
 * gains, N(0, 0.02²) for biases; deterministic for a seed. */
int od_model_write_random(const char *model_in, const char *model_out, enum od_dtype dtype, uint64_t seed);

#endif
