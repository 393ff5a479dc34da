/*
 * checkpoint.h: the released checkpoint layout, loaded unchanged (numerics.md §1.1).
 *
 *   MODEL/model_index.json
 *   MODEL/transformer/{config.json, *.safetensors}          NextDiT
 *   MODEL/vae/{config.json, *.safetensors}                  AutoencoderKL
 *   MODEL/text_encoder/{config.json, *.safetensors}         T5 (encoder part used)
 *   MODEL/tokenizer/spiece.model
 *   MODEL/scheduler/scheduler_config.json
 *
 * A component's weights are one *.safetensors file or shards listed by a
 * *.safetensors.index.json ("weight_map"). Where a folder holds several variants
 * (diffusion_pytorch_model.safetensors and diffusion_pytorch_model.fp16.safetensors)
 * the plain one is used unless a variant is asked for.
 *
 * Each model module describes the tensors its config implies (name and shape) with
 * an od_spec_fn enumerator; od_component_check() validates a checkpoint against it
 * and od_spec_count() counts parameters without opening any weights.
 */
#ifndef OD_CHECKPOINT_H
#define OD_CHECKPOINT_H

#include "formats/config.h"
#include "formats/safetensors.h"
#include "base/tensor.h"

struct od_component {
	char *dir;                  /* MODEL/<name> */
	char *name;                 /* "transformer", ... */
	json_t *config;             /* the parsed config.json */
	struct od_safetensors *files;
	int n_files;
};

/* Called once per expected tensor. Return non-zero to stop. */
typedef int (*od_spec_cb)(void *user, const char *name, int ndim, const int64_t *shape);

/* Open MODEL/<sub>, read its config (config_name, e.g. "config.json") and, if
 * with_weights, map its safetensors (variant may be NULL). */
int od_component_open(struct od_component *c, const char *model_dir, const char *sub,
		      const char *config_name, int with_weights, const char *variant);
void od_component_close(struct od_component *c);

/* Look a tensor up across all files; NULL if absent. */
const struct od_tensor *od_component_find(const struct od_component *c, const char *name);

/* The tensor `name`, which must exist, have a float dtype (F32/F16/BF16) and the
 * given shape; otherwise an OD_EMODEL error naming the component and tensor. */
int od_component_get(const struct od_component *c, const char *name, int ndim, const int64_t *shape,
		     const struct od_tensor **out);

/* Resolve every tensor of a spec into `out` (in enumeration order, count *n).
 * `out` is malloc'd; on error it is freed. */
int od_component_resolve(const struct od_component *c,
			 int (*spec)(const void *cfg, od_spec_cb cb, void *user), const void *cfg,
			 const struct od_tensor ***out, int *n);

/* The shard files a *.safetensors.index.json names in its "weight_map", each
 * once, in first-seen order: *names (malloc'd; the strings belong to idx) and
 * *n. OD_EMODEL when the map is missing, an entry is not a file name, or a
 * name leaves the folder. */
int od_st_index_shards(json_t *idx, const char *label, const char ***names, int *n);

/* Count the parameters a spec describes. */
int od_spec_count(int (*spec)(const void *cfg, od_spec_cb cb, void *user), const void *cfg,
		  int64_t *params, int *tensors);

#endif
