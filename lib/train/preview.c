/*
 * preview.c: sample pictures during training (preview.h): the jobs are
 * od-denoise's (pipeline/job.h), the sampler the library's, and the pictures
 * the VAE's decodings of the generated latent frames on one contact sheet.
 */
#include "train/preview.h"

#include "base/error.h"
#include "base/io.h"
#include "formats/frame.h"
#include "formats/image.h"
#include "model/t5.h"
#include "pipeline/decode.h"
#include "pipeline/job.h"
#include "pipeline/postprocess.h"
#include "pipeline/sampler.h"
#include "text/prompt.h"
#include "text/t5_tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PROMPTS 1024

/* One text frame of T5 states for text (role condition or negative). */
static int encode_text(struct od_t5 *t5, const struct od_t5_tokenizer *tok, const char *text, enum od_role role,
		       struct od_frame *f)
{
	struct od_t5_tokens tk = { 0 };
	int32_t ids[OD_T5_MAX_LENGTH];
	uint8_t mask[OD_T5_MAX_LENGTH];
	int cut, real = 0;
	int rc = od_t5_tokenize(tok, text, strlen(text), &tk);
	if (!rc)
		real = od_t5_row(tok, &tk, OD_T5_MAX_LENGTH, ids, mask, &cut);
	od_t5_tokens_free(&tk);
	if (rc)
		return rc;
	const int64_t shape[2] = { OD_T5_MAX_LENGTH, t5->cfg.d_model };
	if ((rc = od_frame_init(f, OD_KIND_TEXT, role, OD_F32, 2, shape, 1)))
		return rc;
	if (!(rc = od_t5_encode(t5, 1, OD_T5_MAX_LENGTH, ids, mask, f->data, NULL)) && !(rc = od_frame_set_mask(f, mask)) &&
	    !(rc = od_frame_set(f, "prompt", text)))
		rc = od_frame_setf(f, "tokens", "%d", real);
	if (rc)
		od_frame_free(f);
	return rc;
}

/* Prompts, one per line, to a frame stream of text-to-image jobs at out. */
static int encode_prompts(struct od_ctx *ctx, const char *base, const char *label, char *text, size_t len, const char *out)
{
	char *tokdir = od_path_join(base, "tokenizer");
	if (!tokdir)
		return od_error(OD_ENOMEM, "out of memory");
	struct od_t5_tokenizer tok;
	int rc = od_t5_tokenizer_load(&tok, tokdir);
	free(tokdir);
	if (rc)
		return rc;
	struct od_t5 *t5;
	if ((rc = od_t5_open(&t5, ctx, base))) {
		od_t5_tokenizer_free(&tok);
		return rc;
	}
	struct od_out o;
	struct od_frame neg;
	memset(&neg, 0, sizeof neg);
	int n = 0, opened = 0;
	if (!(rc = od_out_open(&o, out))) {
		opened = 1;
		rc = encode_text(t5, &tok, "", OD_ROLE_NEGATIVE, &neg);
	}
	for (size_t i = 0, line = 1; !rc && i < len; line++) {
		char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) : len, l = e - i;
		if (l && text[i + l - 1] == '\r')
			l--;
		text[i + l] = 0;
		const char *p = text + i;
		i = e + 1;
		if (!*p)
			continue;
		if (memchr(p, 0, l) || !od_utf8_valid(p, l)) {
			rc = od_error(OD_EFORMAT, "'%s': line %zu: not a line of UTF-8 text", label, line);
			break;
		}
		if (++n > MAX_PROMPTS) {
			rc = od_error(OD_EFORMAT, "'%s': more than %d prompts", label, MAX_PROMPTS);
			break;
		}
		char tag[128], *prompt = NULL;
		if (od_prompt_leading_tag(p, tag, sizeof tag) >= 0) {
			prompt = strdup(p); /* [[tag]] given: used as it is, as od-tag does */
		} else {
			struct od_prompt_parts parts = { .task = OD_TASK_TEXT2IMAGE, .caption = p };
			if ((rc = od_prompt_build(&parts, &prompt)))
				break;
		}
		struct od_frame f;
		if (!prompt)
			rc = od_error(OD_ENOMEM, "out of memory");
		else if (!(rc = encode_text(t5, &tok, prompt, OD_ROLE_CONDITION, &f))) {
			rc = od_frame_write(&o, &f);
			if (!rc)
				rc = od_frame_write(&o, &neg);
			od_frame_free(&f);
		}
		free(prompt);
	}
	if (!rc && !n)
		rc = od_error(OD_EFORMAT, "'%s': no prompts", label);
	if (!rc)
		rc = od_out_commit(&o);
	else if (opened)
		od_out_abort(&o);
	od_frame_free(&neg);
	od_t5_close(t5);
	od_t5_tokenizer_free(&tok);
	return rc;
}

int od_train_preview_open(struct od_train_preview *pv, struct od_ctx *ctx, const char *base, const char *prompts,
			  const char *jobs_out, int steps, float guidance, uint64_t seed, int width, int height)
{
	memset(pv, 0, sizeof *pv);
	pv->ctx = ctx;
	pv->steps = steps;
	pv->guidance = guidance;
	pv->seed = seed;
	pv->width = width;
	pv->height = height;
	if (!base)
		return od_error(OD_EINVAL, "samples need a base model with a VAE and a scheduler");
	int rc = od_schedule_config_load(base, &pv->sc);
	if (!rc && !(rc = od_vae_open(&pv->vae, ctx, base)))
		pv->vae_open = 1;
	if (rc)
		return rc;
	char *text;
	size_t len;
	if ((rc = od_read_file(prompts, (size_t)64 << 20, &text, &len)))
		return rc;
	if (len >= 8 && !memcmp(text, OD_FRAME_MAGIC, 8)) {
		pv->jobs = strdup(prompts); /* a frame stream: used as it is */
	} else {
		rc = encode_prompts(ctx, base, prompts, text, len, jobs_out);
		pv->jobs = rc ? NULL : strdup(jobs_out);
	}
	free(text);
	if (!rc && !pv->jobs)
		rc = od_error(OD_ENOMEM, "out of memory");
	return rc;
}

void od_train_preview_close(struct od_train_preview *pv)
{
	if (pv->vae_open)
		od_vae_close(&pv->vae);
	free(pv->jobs);
	memset(pv, 0, sizeof *pv);
}

/* Generate one job; append the decoded generated latent frames to imgs. */
static int run_job(struct od_train_preview *pv, struct od_nextdit *m, struct od_job *job, struct od_image **imgs,
		   int *n)
{
	const int cfg = pv->guidance > 1.0f;
	float *x = NULL, *emb = NULL, *pix = NULL;
	uint8_t *tmask = NULL;
	int S = 0, rc;
	struct od_nextdit_text txt = { 0 };
	const size_t fsz = (size_t)job->C * job->h * job->w;
	if ((rc = od_nextdit_check_size(&m->cfg, job->F, job->h, job->w)))
		return od_error_prefix(rc, "%s: job %ld", job->where, job->index);
	if (!(x = malloc((size_t)job->F * fsz * sizeof *x)))
		return od_error(OD_ENOMEM, "out of memory");
	if (!(rc = od_job_init_latents(job, 1, pv->seed, x)) && !(rc = od_job_text(job, cfg, &emb, &tmask, &S)) &&
	    !(rc = od_nextdit_text_prepare(m, &txt, cfg ? 2 : 1, S, emb, tmask))) {
		struct od_sampler_opts so = { .steps = pv->steps, .text_to_image = job->text_to_image,
					      .guidance = pv->guidance };
		rc = od_sample(m, &pv->sc, &txt, job->F, job->h, job->w, job->denoise, x, &so);
	}
	const int ds = pv->vae.cfg.downscale, H = job->h * ds, W = job->w * ds;
	for (int f = 0; !rc && f < job->F; f++) {
		if (!job->denoise[f] || job->kind[f] != OD_KIND_LATENT)
			continue;
		struct od_image *ni = realloc(*imgs, (size_t)(*n + 1) * sizeof *ni);
		if (!ni || (!pix && !(pix = malloc((size_t)3 * H * W * sizeof *pix)))) {
			if (ni)
				*imgs = ni;
			rc = od_error(OD_ENOMEM, "out of memory");
			break;
		}
		*imgs = ni;
		if (!(rc = od_vae_decode_latent(&pv->vae, x + (size_t)f * fsz, job->h, job->w, pix)) &&
		    !(rc = od_image_from_decoded(pix, H, W, &ni[*n])))
			(*n)++;
	}
	od_nextdit_text_free(m, &txt);
	free(x);
	free(pix);
	free(emb);
	free(tmask);
	return rc;
}

int od_train_preview_run(struct od_train_preview *pv, struct od_nextdit *m, const char *png, int *n_pictures)
{
	struct od_job_opts jo = { .width = pv->width, .height = pv->height, .channels = m->cfg.in_channels,
				  .text_dim = m->cfg.caption_channels, .vae_scale = pv->vae.cfg.downscale };
	char *paths[1] = { pv->jobs };
	struct od_job_reader jr;
	od_job_reader_init(&jr, paths, 1, &jo);
	struct od_image *imgs = NULL;
	int n = 0, rc;
	struct od_job job;
	while ((rc = od_job_next(&jr, &job)) > 0) {
		rc = run_job(pv, m, &job, &imgs, &n);
		od_job_free(&job);
		if (rc)
			break;
	}
	od_job_reader_close(&jr);
	if (!rc && !n)
		rc = od_error(OD_EFORMAT, "'%s': no job generates a picture", pv->jobs);
	struct od_image sheet = { 0 };
	if (!rc) {
		int cols, rows;
		od_grid_auto(n, &cols, &rows);
		rc = od_contact_sheet(imgs, n, cols, rows, &sheet);
	}
	struct od_out o;
	if (!rc && !(rc = od_out_open(&o, png))) {
		if ((rc = od_image_write_png(&o, &sheet, NULL, 0)))
			od_out_abort(&o);
		else
			rc = od_out_commit(&o);
	}
	od_image_free(&sheet);
	for (int i = 0; i < n; i++)
		od_image_free(&imgs[i]);
	free(imgs);
	if (n_pictures)
		*n_pictures = n;
	return rc;
}
