/*
 * train/data.h: training data from frame streams (od-frame(5)).
 *
 * A data set is one or more stream files, each with a sampling weight (one file
 * per task, say: the paper samples tasks with equal weights, which is the
 * default). A training example is one job of a stream, delimited by the rule
 * od-denoise uses (pipeline/job.h):
 *
 *   - a prompt text frame (kind text, role condition), with at most one
 *     negative text frame next to it (read past: training has no use for it);
 *   - then the job's latent and ray frames, in sequence order, every one with
 *     data, all of one shape (C, h, w), at least one of role target (a job with
 *     only condition frames is not a training example: it says nothing about
 *     what to generate);
 *   - the job ends where the next text frame cannot join it.
 *
 * The sequence the network sees is the job's frames in stream order (as
 * od-denoise without --mask), and every frame is noised, conditions included
 * (objective.h). od-tag | od-encode make such streams:
 *
 *   for f in *.png; do od-tag "$(cat "${f%.png}.txt")"; od-encode --role target "$f"; done > t2i.odf
 *
 * Files are indexed once (od_train_data_open: each job's file offset, frame
 * count and shape, every frame validated by the frame reader and checked
 * against the model) and jobs are then read at random with a seek, so a data
 * set never has to fit in memory. Standard input cannot be seeked and is
 * refused.
 *
 * Sampling a batch of B (od_train_data_sample), from the data generator:
 *   1. a file, with probability weight / Σ weights (one 53-bit uniform);
 *   2. a job of that file, uniformly (od_train_rand_below); its shape
 *      (F, h, w) is the batch's;
 *   3. B − 1 more jobs, uniformly and with replacement, among that file's
 *      jobs of the same shape.
 * So jobs of different frame counts or sizes never share a batch; texts of
 * different lengths are padded with masked rows (which change nothing the
 * network computes, as in od-denoise).
 */
#ifndef OD_TRAIN_DATA_H
#define OD_TRAIN_DATA_H

#include "formats/frame.h"
#include "model/nextdit_config.h"
#include "train/objective.h"

#include <stddef.h>
#include <stdint.h>

struct od_train_job_ref {
	int64_t offset;        /* file offset of the job's first frame */
	long first_frame;      /* its frame number in the file, for messages */
	int n_frames;          /* stream frames from there to the job's last */
	int F, h, w, S;        /* sequence frames, latent size, text length */
	int bucket;            /* index into the source's buckets */
};

struct od_train_bucket {
	int F, h, w;
	int n;
	int *jobs;             /* (n) job indices of the source */
};

struct od_train_source {
	char *path;
	double weight;
	int fd;
	int64_t bytes;         /* the file's size when indexed */
	struct od_train_job_ref *jobs;
	int n_jobs;
	struct od_train_bucket *buckets;
	int n_buckets;
};

struct od_train_data {
	struct od_train_source *src;
	int n_src;
	int C, D;              /* latent channels and text width, the model's */
	double total_weight;
};

/* What a data set must fit: the model's latent channels and text width, and
 * (cfg, optional) its patch size and RoPE limits. */
struct od_train_data_opts {
	int channels, text_dim;
	const struct od_nextdit_config *cfg;
};

/* "PATH" or "PATH:WEIGHT" (a positive number after the last ':'; a suffix that
 * is not a number belongs to the path). *path is malloc'd. */
int od_train_source_parse(const char *spec, char **path, double *weight);

/* Index n sources (specs as above). OD_EFORMAT for a file that breaks the
 * rules, naming the file and frame; OD_EIO for one that cannot be read;
 * OD_EINVAL for standard input or an empty data set. */
int od_train_data_open(struct od_train_data *d, char *const *specs, int n, const struct od_train_data_opts *o);
void od_train_data_close(struct od_train_data *d);
/* Index a stream held in memory as one source (the fuzz target; jobs cannot be
 * read from it). */
int od_train_data_index_mem(struct od_train_source *s, const void *buf, size_t len, const char *label,
			    const struct od_train_data_opts *o);
void od_train_source_free(struct od_train_source *s);

/* One batch: B examples of F frames (C, h, w) and their texts. */
struct od_train_batch {
	int B, F, C, h, w, S, D;
	int src;               /* the file it came from */
	int *jobs;             /* (B) job indices in that file */
	float *x0;             /* (B, F, C, h, w) clean frames */
	float *text;           /* (B, S, D), rows past a text's length zero and masked */
	uint8_t *mask;         /* (B, S) */
	size_t cap_x, cap_t;   /* allocated floats */
	int cap_b;
};

/* Draw a batch (steps 1-3 above) and read it. */
int od_train_data_sample(struct od_train_data *d, struct od_train_rng *g, int B, struct od_train_batch *b);
/* Read a given list of jobs of one source (all of one shape) into b. */
int od_train_data_read(struct od_train_data *d, int src, const int *jobs, int B, struct od_train_batch *b);
void od_train_batch_free(struct od_train_batch *b);

/* Cut the text rows past the last unmasked row of every sample (S becomes
 * that length, at least 1). Masked rows are keys of weight exactly zero in
 * the cross-attention and terms of weight zero in the pooled caption, so the
 * loss and every gradient are those of the padded batch (numerics.md §11.16);
 * od-tag's 300 rows hold some 10-40 unmasked ones. */
void od_train_batch_trim_text(struct od_train_batch *b);
/* Replace the texts of the samples with drop[b] set by the empty prompt's
 * (S_e, D) states and mask, padding every text to the longest. */
int od_train_batch_drop_text(struct od_train_batch *b, const uint8_t *drop, const float *empty, const uint8_t *empty_mask,
			     int S_e);

/* The number of jobs over all files. */
long od_train_data_jobs(const struct od_train_data *d);

#endif
