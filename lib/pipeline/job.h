/*
 * job.h: denoising jobs from a frame stream (od-denoise(1), od-frame(5)).
 *
 * One stream carries any number of jobs in a row. The rule that delimits them:
 *
 *   1. A job starts with its text frames: the prompt (kind text, role condition)
 *      and at most one negative prompt (kind text, role negative), adjacent, in
 *      either order.
 *   2. Then its image-side frames, in sequence order: latent and rays frames
 *      with role condition (clean frames to condition on) or target (frames to
 *      generate; a placeholder without data is enough, a target's data is never
 *      read), and noise frames (the initial noise, consumed in order).
 *   3. The job ends where the next text frame cannot join it: a text frame after
 *      an image-side frame, or one whose role the job already has.
 *
 * So "prompt, negative, prompt, negative" is two text-to-image jobs, and
 * "prompt, negative, latent, latent" one two-frame job.
 *
 * Frame layout. Without a mask, the job's latent and rays frames are the
 * sequence, in stream order; targets are generated, conditions kept. With a
 * mask (upstream's denoise_mask: "10", "001010"; 1 = generate), the stream
 * holds only condition frames and the mask places them, as upstream assigns
 * images to cond_indices in order (§6.1). A job with any rays frame is a
 * multiview job: frames alternate [image_0, rays_0, image_1, rays_1, ...]
 * (§7.4), condition latents go to the masked image slots in order and
 * condition rays to the masked ray slots in order (upstream's
 * cond_indices_images / cond_indices_rays), and generated ray slots are rays
 * frames. A job with no latent or rays frame at all is text-to-image: one
 * target frame of the requested size (upstream __call__).
 *
 * Every latent and rays frame of a job must have the same shape (C, h, w),
 * C = the model's latent channels. Noise frames together hold either
 * F·C·h·w values (every frame, in sequence order, as upstream draws them) or
 * n_targets·C·h·w (the generated frames only).
 *
 * The job's index in the batch. Seeds are per job (od_job_seed), and a job's
 * seed must not depend on how the batch was split into streams (a shard of
 * it, a stream made by concatenating several): so the index is the number
 * the first tool of the pipeline gave the job, carried in the prompt frame's
 * `job` metadata (od-tag numbers its prompts from 0 in the order of its
 * input), not the job's position in this stream. Streams that do not number
 * their jobs, or several concatenated streams that each start again at 0,
 * still give every job of a run its own index: a job's index is its `job`
 * number or one more than the previous job's, whichever is larger.
 */
#ifndef OD_JOB_H
#define OD_JOB_H

#include "formats/frame.h"
#include "model/nextdit_config.h"

#include <stdint.h>

struct od_job_opts {
	const char *mask;  /* "10", "0,0,1,0", or NULL: roles decide */
	int width, height; /* pixels, text-to-image jobs (multiples of 16) */
	int channels;      /* the model's latent channels (16) */
	int text_dim;      /* the model's caption_channels */
	int vae_scale;     /* pixels per latent (8) */
};

struct od_job {
	long index;                  /* job number in the stream, from 0 (for messages) */
	long batch_index;            /* the job's index in the whole batch (above), for seeds */
	char where[320];             /* "'x.odf': frame 3": the job's first frame, for messages */
	struct od_frame prompt;      /* text, role condition */
	struct od_frame negative;    /* text, role negative, when has_negative */
	int has_negative;
	int F, C, h, w;              /* the sequence: F frames of C × h × w */
	int vae_scale;               /* pixels per latent, from od_job_opts */
	enum od_kind *kind;          /* (F) OD_KIND_LATENT or OD_KIND_RAYS */
	uint8_t *denoise;            /* (F) 1 = generate */
	struct od_frame *meta;       /* (F) the stream frame of each slot, metadata only (no data), or kind 0 */
	float *clean;                /* (F, C, h, w): condition data at condition frames, 0 elsewhere */
	float *noise;                /* the noise frames' values back to back, or NULL */
	size_t n_noise;
	int n_cond_latents;          /* condition latent frames: upstream encoded that many images */
	int multiview;
	int text_to_image;           /* no latent/rays frame: upstream __call__ */
};

struct od_job_reader {
	struct od_inputs in;
	struct od_frame ahead;       /* the first frame of the next job, read ahead */
	int have_ahead;
	char ahead_where[320];
	long jobs;
	long last_batch;             /* the previous job's batch_index, -1 before the first */
	struct od_job_opts o;
};

/* The rest of o for the model in model_dir, whose transformer config is c:
 * channels, text_dim, vae_scale (od_vae_scale_factor) and the text-to-image
 * size upstream's __call__ uses when none is given, input_size·vae_scale
 * (numerics.md §5.6; 768×768 for OneDiffusion). mask is left as it is. */
int od_job_opts_for_model(struct od_job_opts *o, const struct od_nextdit_config *c, const char *model_dir);
/* Check a mask before any job is read: 0 (condition) and 1 (generate), commas
 * and spaces ignored. OD_EINVAL: "'1x0' is not a list of 0 and 1 like 10 or
 * 001010", "',' is empty". */
int od_job_mask_check(const char *mask);
/* Check o's text-to-image size: the latent must split into 2×2 patches, so the
 * pixels are multiples of 2·vae_scale (16). OD_EINVAL: "72x64 is not a
 * multiple of 16 on both sides". */
int od_job_size_check(const struct od_job_opts *o);

/* Read jobs from the frame streams paths[0..n) in turn ("-" is stdin). */
void od_job_reader_init(struct od_job_reader *jr, char **paths, int n, const struct od_job_opts *o);
/* The next job: 1 = got one, 0 = end of input, < 0 = error (OD_EFORMAT for a
 * stream that breaks the rules above, naming the file and frame). */
int od_job_next(struct od_job_reader *jr, struct od_job *job);
void od_job_reader_close(struct od_job_reader *jr);
void od_job_free(struct od_job *job);

/* The seed of variation v of a job (v from 0 to count - 1; count 1 without
 * --count): base + batch_index·count + v, modulo 2^64. So job 0 of a batch
 * run with seed S uses S itself (a one-job run reproduces upstream's
 * manual_seed(S)), job J uses S + J, and to redo job J alone with the same
 * noise give it the seed S + J (documented in od-denoise(1)). */
uint64_t od_job_seed(uint64_t base, long batch_index, int count, int variation);

/* The initial state x (F, C, h, w): the job's noise frames, or else torch.randn
 * from the seed where upstream's call draws its initial noise (draws.h,
 * numerics.md §5.5): first for text-to-image (__call__); for every other job
 * (img2img) after prepare_latents' unused randn(C·h·w) and the VAE posterior ε
 * of its n_cond_latents condition images. Then the clean condition frames
 * overwrite their noise. */
int od_job_init_latents(const struct od_job *job, int have_seed, uint64_t seed, float *x);
/* The number of 32-bit generator words drawn before the initial noise
 * (od_draw_offset(OD_DRAW_INIT_NOISE, ...)). */
uint64_t od_job_noise_skip(const struct od_job *job);

/* The text of the job as the transformer takes it: (B, S, text_dim) float32 and
 * (B, S) masks, B = 2 ([negative; prompt]) when guidance, else 1 ([prompt]).
 * Texts of different lengths are padded with masked rows. */
int od_job_text(const struct od_job *job, int guidance, float **emb, uint8_t **mask, int *S);

/* What a run records on the frames it generates. */
struct od_job_record {
	const char *seed;     /* the seed as text, or NULL (the job brought its noise) */
	int steps;
	float guidance;
	const char *model;    /* the model's name (its folder's last component), or NULL */
	int count, variation; /* variation (from 0) of count; count <= 1: not recorded */
};

/* Output frames for the final state x: the generated frames (role target), or
 * with all every frame (conditions keep role condition and their metadata).
 * Every frame gets job (batch_index) and index (its position in the sequence).
 * Generated frames get every parameter of the run, so that a picture made
 * from them can be made again:
 *   task, prompt                 from the prompt frame's metadata
 *   negative_prompt              the negative frame's prompt (when there is one)
 *   seed, steps, guidance        from r (seed only when r->seed)
 *   size                         WxH in pixels (latent frames)
 *   mask                         the job's frames, 1 generated and 0 given ("01")
 *   model                        r->model
 *   source                       the sources of the condition frames, ", " between
 *   id, line                     the job's identity (batch.h): the prompt frame's
 *                                id, else the first condition frame's; its line
 *   variation, count             with r->count > 1
 *   picture_size                 for a task whose frames are one scene pixel for
 *                                pixel (od_tasks[].aligned), the picture_size of
 *                                the first condition latent that has one
 *                                (od-encode records the picture's own size):
 *                                od-decode gives the picture that size back. */
int od_job_outputs(const struct od_job *job, const float *x, int all, const struct od_job_record *r,
		   struct od_frame **out, int *n_out);

#endif
