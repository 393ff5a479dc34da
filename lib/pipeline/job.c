/* job.c: denoising jobs from frame streams, their initial noise and output frames (see job.h). */
#include "pipeline/job.h"
#include "base/error.h"
#include "base/rng.h"
#include "model/vae_config.h"
#include "pipeline/draws.h"

#include "text/prompt.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void od_job_reader_init(struct od_job_reader *jr, char **paths, int n, const struct od_job_opts *o)
{
	memset(jr, 0, sizeof *jr);
	jr->last_batch = -1;
	od_inputs_init(&jr->in, paths, n);
	jr->o = *o;
}

void od_job_reader_close(struct od_job_reader *jr)
{
	od_inputs_close(&jr->in);
	if (jr->have_ahead)
		od_frame_free(&jr->ahead);
	jr->have_ahead = 0;
}

/* The next frame of the concatenated inputs, and where it is for messages. */
static int read_frame(struct od_job_reader *jr, struct od_frame *f, char *where, size_t wl)
{
	if (jr->have_ahead) {
		*f = jr->ahead;
		snprintf(where, wl, "%s", jr->ahead_where);
		jr->have_ahead = 0;
		return 1;
	}
	int rc = od_inputs_next(&jr->in, f);
	if (rc > 0)
		snprintf(where, wl, "'%s': frame %ld", jr->in.label, jr->in.index);
	return rc;
}

static void push_back(struct od_job_reader *jr, struct od_frame *f, const char *where)
{
	jr->ahead = *f;
	snprintf(jr->ahead_where, sizeof jr->ahead_where, "%s", where);
	jr->have_ahead = 1;
	memset(f, 0, sizeof *f);
}

void od_job_free(struct od_job *job)
{
	od_frame_free(&job->prompt);
	od_frame_free(&job->negative);
	if (job->meta)
		for (int f = 0; f < job->F; f++)
			od_frame_free(&job->meta[f]);
	free(job->meta);
	free(job->kind);
	free(job->denoise);
	free(job->clean);
	free(job->noise);
	memset(job, 0, sizeof *job);
}

/* An image-side frame as read, before the layout places it. */
struct side {
	struct od_frame f;
	char where[320];
};

/* Parse a mask: digits 0/1, commas and spaces ignored. */
static int parse_mask(const char *s, uint8_t **out, int *n)
{
	size_t len = strlen(s);
	uint8_t *m = malloc(len + 1);
	int k = 0;
	if (!m)
		return od_error(OD_ENOMEM, "out of memory");
	for (const char *p = s; *p; p++) {
		if (*p == '0' || *p == '1')
			m[k++] = (uint8_t)(*p - '0');
		else if (*p != ',' && *p != ' ') {
			free(m);
			return od_error(OD_EINVAL, "'%s' is not a list of 0 and 1 like 10 or 001010", s);
		}
	}
	if (!k) {
		free(m);
		return od_error(OD_EINVAL, "'%s' is empty", s);
	}
	*out = m;
	*n = k;
	return OD_OK;
}

int od_job_mask_check(const char *mask)
{
	uint8_t *m;
	int n, rc = parse_mask(mask, &m, &n);
	if (!rc)
		free(m);
	return rc;
}

int od_job_size_check(const struct od_job_opts *o)
{
	const int q = 2 * o->vae_scale;
	if (q <= 0)
		return od_error(OD_EINVAL, "no VAE scale factor (od_job_opts_for_model fills it)");
	if (o->width <= 0 || o->height <= 0 || o->width % q || o->height % q)
		return od_error(OD_EINVAL, "%dx%d is not a multiple of %d on both sides", o->width, o->height, q);
	return OD_OK;
}

int od_job_opts_for_model(struct od_job_opts *o, const struct od_nextdit_config *c, const char *model_dir)
{
	int rc = od_vae_scale_factor(model_dir, &o->vae_scale);
	if (rc)
		return rc;
	o->channels = c->in_channels;
	o->text_dim = c->caption_channels;
	o->width = c->input_size[2] * o->vae_scale;
	o->height = c->input_size[1] * o->vae_scale;
	return OD_OK;
}

/* Metadata-only copy of a frame (its data is in job->clean). */
static int meta_copy(struct od_frame *dst, const struct od_frame *src)
{
	struct od_frame tmp = *src;
	tmp.data = NULL;
	tmp.data_len = 0;
	tmp.mask = NULL;
	tmp.mask_len = 0;
	return od_frame_copy(dst, &tmp);
}

static int layout(struct od_job *job, struct side *sd, int n_sd, const struct od_job_opts *o)
{
	const int C = o->channels;
	int rc;
	/* sizes: every latent/rays frame has the same (C, h, w) */
	int h = 0, w = 0;
	for (int i = 0; i < n_sd; i++) {
		const struct od_frame *f = &sd[i].f;
		if (f->ndim != 3)
			return od_error(OD_EFORMAT, "%s: %s frame must be 3-D (C, h, w), not %d-D", sd[i].where,
					od_kind_a(f->kind), f->ndim);
		if (f->shape[0] != C)
			return od_error(OD_EFORMAT, "%s: %lld channels, the model takes %d", sd[i].where,
					(long long)f->shape[0], C);
		if (!i) {
			h = (int)f->shape[1], w = (int)f->shape[2];
		} else if (f->shape[1] != h || f->shape[2] != w) {
			return od_error(OD_EFORMAT, "%s: size %lld×%lld differs from the job's %d×%d (%s)", sd[i].where,
					(long long)f->shape[1], (long long)f->shape[2], h, w, sd[0].where);
		}
		if (f->kind == OD_KIND_RAYS)
			job->multiview = 1;
	}
	uint8_t *mask = NULL;
	int F = 0;
	if (o->mask) {
		if ((rc = parse_mask(o->mask, &mask, &F)))
			return od_error_prefix(rc, "mask");
		for (int i = 0; i < n_sd; i++)
			if (sd[i].f.role != OD_ROLE_CONDITION) {
				free(mask);
				return od_error(OD_EFORMAT, "%s: a %s frame with --mask: the mask places the condition frames "
							    "and says which frames to generate; give only condition frames",
						sd[i].where, od_role_name(sd[i].f.role));
			}
		if (job->multiview && F % 2) {
			free(mask);
			return od_error(OD_EFORMAT, "%s: a multiview mask alternates image and ray frames, so its length must "
						    "be even, not %d", job->where, F);
		}
	} else if (n_sd) {
		F = n_sd;
	} else {
		F = 1; /* text-to-image */
		job->text_to_image = 1;
	}
	if (!n_sd) {
		if ((rc = od_job_size_check(o))) {
			free(mask);
			return od_error_prefix(rc, "size");
		}
		h = o->height / o->vae_scale, w = o->width / o->vae_scale;
	}
	job->F = F, job->C = C, job->h = h, job->w = w, job->vae_scale = o->vae_scale;
	const size_t fsz = (size_t)C * h * w;
	job->kind = calloc((size_t)F, sizeof *job->kind);
	job->denoise = calloc((size_t)F, 1);
	job->meta = calloc((size_t)F, sizeof *job->meta);
	job->clean = calloc((size_t)F * fsz, sizeof *job->clean);
	if (!job->kind || !job->denoise || !job->meta || !job->clean) {
		free(mask);
		return od_error(OD_ENOMEM, "out of memory for %d frames of %d×%d×%d", F, C, h, w);
	}
	/* slot[f] = the stream frame placed at f, or -1 */
	int *slot = malloc((size_t)F * sizeof *slot);
	if (!slot) {
		free(mask);
		return od_error(OD_ENOMEM, "out of memory");
	}
	rc = OD_OK;
	if (mask) {
		int next[2] = { 0, 0 }; /* next unplaced condition frame of kind latent (0) / rays (1) */
		for (int f = 0; f < F; f++) {
			int want_rays = job->multiview && (f % 2);
			job->kind[f] = want_rays ? OD_KIND_RAYS : OD_KIND_LATENT;
			job->denoise[f] = mask[f];
			slot[f] = -1;
			if (mask[f])
				continue;
			int k = want_rays;
			while (next[k] < n_sd && (sd[next[k]].f.kind == OD_KIND_RAYS) != k)
				next[k]++;
			if (next[k] >= n_sd) {
				rc = od_error(OD_EFORMAT, "%s: the mask has more condition %s slots than the job has %s frames",
					      job->where, k ? "ray" : "image", k ? "condition rays" : "condition latent");
				break;
			}
			slot[f] = next[k]++;
		}
		for (int k = 0; !rc && k < 2; k++) {
			while (next[k] < n_sd && (sd[next[k]].f.kind == OD_KIND_RAYS) != k)
				next[k]++;
			if (next[k] < n_sd)
				rc = od_error(OD_EFORMAT, "%s: more condition %s frames than the mask has %s slots with 0",
					      sd[next[k]].where, k ? "rays" : "latent", k ? "ray" : "image");
		}
	} else {
		for (int f = 0; f < F; f++) {
			if (!n_sd) {
				job->kind[f] = OD_KIND_LATENT, job->denoise[f] = 1, slot[f] = -1;
				continue;
			}
			const struct od_frame *sf = &sd[f].f;
			job->kind[f] = sf->kind;
			job->denoise[f] = sf->role == OD_ROLE_TARGET;
			slot[f] = f;
			if (sf->role != OD_ROLE_TARGET && sf->role != OD_ROLE_CONDITION) {
				rc = od_error(OD_EFORMAT, "%s: %s frame needs role condition or target (it has %s)", sd[f].where,
					      od_kind_a(sf->kind), od_role_name(sf->role));
				break;
			}
		}
	}
	int n_gen = 0;
	for (int f = 0; !rc && f < F; f++) {
		n_gen += job->denoise[f];
		if (slot[f] < 0)
			continue;
		const struct od_frame *sf = &sd[slot[f]].f;
		if ((rc = meta_copy(&job->meta[f], sf)))
			break;
		if (job->denoise[f])
			continue;
		if (!sf->data) {
			rc = od_error(OD_EFORMAT, "%s: a condition frame without data (a placeholder)", sd[slot[f]].where);
			break;
		}
		if ((rc = od_frame_to_f32(sf, job->clean + f * fsz)))
			break;
		if (sf->kind == OD_KIND_LATENT)
			job->n_cond_latents++;
	}
	if (!rc && !n_gen)
		rc = od_error(OD_EFORMAT, "%s: job %ld has no target frame (nothing to generate)", job->where, job->index);
	free(slot);
	free(mask);
	return rc;
}

int od_job_next(struct od_job_reader *jr, struct od_job *job)
{
	memset(job, 0, sizeof *job);
	struct side *sd = NULL;
	int n_sd = 0, cap = 0, have_prompt = 0, rc = 0, got;
	struct od_frame f;
	char where[320];
	job->index = jr->jobs;
	while ((got = read_frame(jr, &f, where, sizeof where)) > 0) {
		if (f.kind == OD_KIND_TEXT) {
			int is_prompt = f.role == OD_ROLE_CONDITION;
			if (f.role != OD_ROLE_CONDITION && f.role != OD_ROLE_NEGATIVE) {
				rc = od_error(OD_EFORMAT, "%s: a text frame needs role condition (the prompt) or negative (it has %s)",
					      where, od_role_name(f.role));
				od_frame_free(&f);
				break;
			}
			if (n_sd || job->n_noise || (is_prompt && have_prompt) || (!is_prompt && job->has_negative)) {
				push_back(jr, &f, where); /* the next job's first frame */
				break;
			}
			if (!have_prompt && !job->has_negative)
				snprintf(job->where, sizeof job->where, "%s", where);
			if (f.ndim != 2 || f.shape[1] != jr->o.text_dim || !f.data) {
				rc = od_error(OD_EFORMAT, "%s: a text frame must be (S, %d) T5 states with data", where,
					      jr->o.text_dim);
				od_frame_free(&f);
				break;
			}
			if (is_prompt)
				job->prompt = f, have_prompt = 1;
			else
				job->negative = f, job->has_negative = 1;
			continue;
		}
		if (!have_prompt && !job->has_negative) {
			rc = od_error(OD_EFORMAT, "%s: %s frame before any prompt text frame (a job starts with its text "
						  "frames)", where, od_kind_a(f.kind));
			od_frame_free(&f);
			break;
		}
		if (f.kind == OD_KIND_NOISE) {
			size_t n = (size_t)od_frame_numel(&f);
			float *nn = f.data ? realloc(job->noise, (job->n_noise + n) * sizeof *nn) : NULL;
			if (!f.data)
				rc = od_error(OD_EFORMAT, "%s: a noise frame without data", where);
			else if (!nn)
				rc = od_error(OD_ENOMEM, "out of memory");
			else {
				job->noise = nn;
				rc = od_frame_to_f32(&f, job->noise + job->n_noise);
				job->n_noise += n;
			}
			od_frame_free(&f);
			if (rc)
				break;
			continue;
		}
		if (f.kind != OD_KIND_LATENT && f.kind != OD_KIND_RAYS) {
			rc = od_error(OD_EFORMAT, "%s: od-denoise takes text, latent, rays and noise frames, not %s%s", where,
				      od_kind_name(f.kind), f.kind == OD_KIND_IMAGE ? " (encode images with od-encode)" : "");
			od_frame_free(&f);
			break;
		}
		if (n_sd == cap) {
			cap = cap ? 2 * cap : 8;
			struct side *ns = realloc(sd, (size_t)cap * sizeof *ns);
			if (!ns) {
				rc = od_error(OD_ENOMEM, "out of memory");
				od_frame_free(&f);
				break;
			}
			sd = ns;
		}
		sd[n_sd].f = f;
		snprintf(sd[n_sd].where, sizeof sd[n_sd].where, "%s", where);
		n_sd++;
	}
	if (got < 0)
		rc = got;
	if (!rc && got == 0 && !have_prompt && !job->has_negative)
		rc = 0; /* clean end of input */
	else if (!rc && !have_prompt)
		rc = od_error(OD_EFORMAT, "%s: job %ld has a negative text frame but no prompt (text, role condition)",
			      job->where, job->index);
	else if (!rc)
		rc = layout(job, sd, n_sd, &jr->o);
	int end = !rc && !have_prompt;
	for (int i = 0; i < n_sd; i++)
		od_frame_free(&sd[i].f);
	free(sd);
	if (rc || end) {
		od_job_free(job);
		return rc;
	}
	jr->jobs++;
	/* the batch index: the prompt's job number, or the next one (job.h) */
	long idx = jr->last_batch + 1;
	const char *jv = od_frame_get(&job->prompt, "job");
	if (jv) {
		char *e;
		long long v = strtoll(jv, &e, 10);
		if (e != jv && !*e && v > idx && v < LONG_MAX)
			idx = (long)v;
	}
	job->batch_index = jr->last_batch = idx;
	return 1;
}

uint64_t od_job_seed(uint64_t base, long batch_index, int count, int variation)
{
	/* unsigned arithmetic: wraps modulo 2^64 */
	return base + (uint64_t)batch_index * (uint64_t)(count > 0 ? count : 1) + (uint64_t)variation;
}

uint64_t od_job_noise_skip(const struct od_job *job)
{
	return od_draw_offset(OD_DRAW_INIT_NOISE, job->text_to_image, (size_t)job->C * job->h * job->w,
			      job->n_cond_latents);
}

int od_job_init_latents(const struct od_job *job, int have_seed, uint64_t seed, float *x)
{
	const size_t fsz = (size_t)job->C * job->h * job->w, n = (size_t)job->F * fsz;
	int n_gen = 0;
	for (int f = 0; f < job->F; f++)
		n_gen += job->denoise[f];
	if (job->noise) {
		if (job->n_noise == n) {
			memcpy(x, job->noise, n * sizeof *x);
		} else if (job->n_noise == (size_t)n_gen * fsz) {
			const float *p = job->noise;
			for (int f = 0; f < job->F; f++)
				if (job->denoise[f]) {
					memcpy(x + f * fsz, p, fsz * sizeof *x);
					p += fsz;
				}
		} else {
			return od_error(OD_EFORMAT, "%s: job %ld has %zu noise values; it needs %zu (all %d frames) or %zu "
						    "(the %d generated frames)", job->where, job->index, job->n_noise, n, job->F,
					(size_t)n_gen * fsz, n_gen);
		}
	} else {
		od_randn(have_seed ? seed : 0, od_job_noise_skip(job), n, x);
	}
	for (int f = 0; f < job->F; f++)
		if (!job->denoise[f])
			memcpy(x + f * fsz, job->clean + f * fsz, fsz * sizeof *x);
	return OD_OK;
}

int od_job_text(const struct od_job *job, int guidance, float **emb, uint8_t **mask, int *S_out)
{
	if (guidance && !job->has_negative)
		return od_error(OD_EFORMAT, "%s: job %ld has no negative text frame, which guidance needs (od-tag writes "
					    "one; --guidance 1 turns guidance off)", job->where, job->index);
	const struct od_frame *t[2] = { guidance ? &job->negative : &job->prompt, &job->prompt };
	const int B = guidance ? 2 : 1;
	const int D = (int)job->prompt.shape[1];
	int S = 0;
	for (int b = 0; b < B; b++)
		if (t[b]->shape[0] > S)
			S = (int)t[b]->shape[0];
	float *e = calloc((size_t)B * S * D, sizeof *e);
	uint8_t *m = calloc((size_t)B * S, 1);
	if (!e || !m) {
		free(e);
		free(m);
		return od_error(OD_ENOMEM, "out of memory");
	}
	for (int b = 0; b < B; b++) {
		int rc = od_frame_to_f32(t[b], e + (size_t)b * S * D);
		if (rc) {
			free(e);
			free(m);
			return rc;
		}
		/* no mask plane: every position is a real token */
		for (int64_t s = 0; s < t[b]->shape[0]; s++)
			m[(size_t)b * S + s] = t[b]->mask ? t[b]->mask[s] : 1;
	}
	*emb = e;
	*mask = m;
	*S_out = S;
	return OD_OK;
}

static int copy_meta(struct od_frame *dst, const struct od_frame *src, const char *key)
{
	const char *v = od_frame_get(src, key);
	return v ? od_frame_set(dst, key, v) : OD_OK;
}

/* Append s to a growing string (sources). */
static int append(char **buf, const char *s)
{
	size_t n = *buf ? strlen(*buf) : 0, m = strlen(s);
	char *b = realloc(*buf, n + m + 3);
	if (!b)
		return od_error(OD_ENOMEM, "out of memory");
	if (n)
		memcpy(b + n, ", ", 2), n += 2;
	memcpy(b + n, s, m + 1);
	*buf = b;
	return OD_OK;
}

/* The parameters a generated frame records (job.h, od_job_outputs). */
static int record(struct od_frame *o, const struct od_job *job, int f, const struct od_job_record *r)
{
	int rc;
	if ((rc = copy_meta(o, &job->prompt, "task")) || (rc = copy_meta(o, &job->prompt, "prompt")))
		return rc;
	const char *neg = job->has_negative ? od_frame_get(&job->negative, "prompt") : NULL;
	if (neg && (rc = od_frame_set(o, "negative_prompt", neg)))
		return rc;
	if ((r->seed && (rc = od_frame_set(o, "seed", r->seed))) || (rc = od_frame_setf(o, "steps", "%d", r->steps)) ||
	    (rc = od_frame_setf(o, "guidance", "%g", r->guidance)))
		return rc;
	if (job->kind[f] == OD_KIND_LATENT && job->vae_scale > 0 &&
	    (rc = od_frame_setf(o, "size", "%dx%d", job->w * job->vae_scale, job->h * job->vae_scale)))
		return rc;
	char mask[130];
	int k = 0;
	for (int i = 0; i < job->F && k < (int)sizeof mask - 1; i++)
		mask[k++] = job->denoise[i] ? '1' : '0';
	mask[k] = 0;
	if ((rc = od_frame_set(o, "mask", mask)))
		return rc;
	if (r->model && (rc = od_frame_set(o, "model", r->model)))
		return rc;
	if (r->count > 1 && ((rc = od_frame_setf(o, "variation", "%d", r->variation)) ||
			     (rc = od_frame_setf(o, "count", "%d", r->count))))
		return rc;
	/* where the conditions came from, and the picture size to give back */
	char *sources = NULL;
	const char *picture_size = NULL;
	for (int i = 0; i < job->F; i++) {
		if (job->denoise[i] || !job->meta[i].kind)
			continue;
		const char *src = od_frame_get(&job->meta[i], "source");
		if (src && (rc = append(&sources, src))) {
			free(sources);
			return rc;
		}
		if (!picture_size && job->kind[i] == OD_KIND_LATENT)
			picture_size = od_frame_get(&job->meta[i], "picture_size");
	}
	if (sources && !od_frame_get(o, "source"))
		rc = od_frame_set(o, "source", sources);
	free(sources);
	if (rc)
		return rc;
	const char *task = od_frame_get(&job->prompt, "task");
	int t = task ? od_task_find(task) : -1;
	if (picture_size && t >= 0 && od_tasks[t].aligned && job->kind[f] == OD_KIND_LATENT &&
	    !od_frame_get(o, "picture_size"))
		rc = od_frame_set(o, "picture_size", picture_size);
	return rc;
}

/* The job's identity (batch.h) on a generated frame: the prompt's id, else
 * the first condition's, and the prompt's line. */
static int identity(struct od_frame *o, const struct od_job *job)
{
	const char *id = od_frame_get(&job->prompt, "id");
	for (int i = 0; !id && i < job->F; i++)
		if (!job->denoise[i] && job->meta[i].kind)
			id = od_frame_get(&job->meta[i], "id");
	int rc = id ? od_frame_set(o, "id", id) : OD_OK;
	return rc ? rc : copy_meta(o, &job->prompt, "line");
}

int od_job_outputs(const struct od_job *job, const float *x, int all, const struct od_job_record *r,
		   struct od_frame **out, int *n_out)
{
	const size_t fsz = (size_t)job->C * job->h * job->w;
	struct od_frame *fr = calloc((size_t)job->F, sizeof *fr);
	int n = 0, rc = OD_OK;
	if (!fr)
		return od_error(OD_ENOMEM, "out of memory");
	for (int f = 0; f < job->F && !rc; f++) {
		if (!job->denoise[f] && !all)
			continue;
		struct od_frame *o = &fr[n++];
		const int64_t shape[3] = { job->C, job->h, job->w };
		/* keep the stream frame's metadata (a condition's source, a placeholder's view) */
		if (job->meta[f].kind)
			rc = od_frame_copy(o, &job->meta[f]);
		else
			rc = od_frame_init(o, job->kind[f], OD_ROLE_TARGET, OD_F32, 3, shape, 0);
		if (rc)
			break;
		o->kind = job->kind[f];
		o->role = job->denoise[f] ? OD_ROLE_TARGET : OD_ROLE_CONDITION;
		o->dtype = OD_F32;
		o->data = NULL, o->data_len = 0;
		if ((rc = od_frame_from_f32(o, x + f * fsz)))
			break;
		if (job->denoise[f] && (rc = record(o, job, f, r)))
			break;
		if ((rc = od_frame_setf(o, "job", "%ld", job->batch_index)) || (rc = od_frame_setf(o, "index", "%d", f)))
			break;
		if (job->denoise[f] && (rc = identity(o, job)))
			break;
	}
	if (rc) {
		for (int i = 0; i < n; i++)
			od_frame_free(&fr[i]);
		free(fr);
		return rc;
	}
	*out = fr;
	*n_out = n;
	return OD_OK;
}
