/*
 * vae_config.h: the AutoencoderKL configuration and tensor list (numerics.md
 * §1.4, §4.1; diffusers 0.30.3 naming). Read from vae/config.json.
 */
#ifndef OD_VAE_CONFIG_H
#define OD_VAE_CONFIG_H

#include "formats/checkpoint.h"

#define OD_VAE_MAX_BLOCKS 8

struct od_vae_config {
	int in_channels;        /* image channels (3) */
	int out_channels;       /* 3 */
	int latent_channels;    /* 16 */
	int n_blocks;           /* len(block_out_channels) */
	int block_out[OD_VAE_MAX_BLOCKS];
	int layers_per_block;   /* encoder resnets per block; the decoder has one more */
	int groups;             /* norm_num_groups */
	int mid_attention;      /* mid_block_add_attention */
	int quant_conv;         /* use_quant_conv (false for SD3) */
	int post_quant_conv;    /* use_post_quant_conv */
	float scaling_factor;   /* model latent = scaling_factor · z (§4.3) */
	float shift_factor;     /* read, but never used by the pipeline (§4.3) */
	int has_shift_factor;
	int downscale;          /* 2^(n_blocks-1): image pixels per latent pixel (8) */
};

int od_vae_config_parse(json_t *cfg, struct od_vae_config *c, const char *label);

/* The pipeline's vae_scale_factor for the model in model_dir: image pixels per
 * latent pixel, 2^(len(block_out_channels)-1) from vae/config.json (numerics.md §1.4),
 * without mapping the weights. A model folder without vae/ (only
 * what od-denoise needs) gets 8, the factor of OneDiffusion's VAE. */
int od_vae_scale_factor(const char *model_dir, int *scale);

/* Enumerate encoder.*, decoder.* (and quant_conv/post_quant_conv when used). */
int od_vae_spec(const void *cfg, od_spec_cb cb, void *user);

#endif
