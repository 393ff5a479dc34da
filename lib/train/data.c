/*
 * data.c: training data from frame streams: the job index, weighted sampling
 * of batches by shape, and random reads (data.h).
 *
 * The index keeps a few numbers per job (file offset, frame count, shape), not
 * the data: a data set of any size is read job by job with a seek and the
 * ordinary frame reader, which validates every frame again (a file changed
 * since it was indexed is reported, never trusted).
 */
#include "train/data.h"

#include "base/error.h"
#include "model/nextdit.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int od_train_source_parse(const char *spec, char **path, double *weight)
{
	*weight = 1.0;
	const char *colon = strrchr(spec, ':');
	size_t n = strlen(spec);
	if (colon && colon[1]) {
		char *end;
		errno = 0;
		double w = strtod(colon + 1, &end);
		if (!errno && !*end && end != colon + 1) {
			if (!isfinite(w) || w <= 0)
				return od_error(OD_EINVAL, "'%s': the weight after ':' must be a positive number", spec);
			*weight = w;
			n = (size_t)(colon - spec);
		}
	}
	if (!n)
		return od_error(OD_EINVAL, "'%s': no file name", spec);
	if (!(*path = strndup(spec, n)))
		return od_error(OD_ENOMEM, "out of memory");
	return OD_OK;
}

/* ---------------------------------------------------------------- indexing */

struct builder {
	struct od_train_source *s;
	const struct od_train_data_opts *o;
	const char *label;
	int cap;
	/* the job being read */
	int open;
	struct od_train_job_ref cur;
	int has_prompt, has_negative, n_image, n_target, C;
	char where[320];        /* "'x.odf': frame N" of its first frame */
};

static int64_t reader_pos(const struct od_reader *r)
{
	if (r->fd >= 0)
		return (int64_t)lseek(r->fd, 0, SEEK_CUR);
	return (int64_t)r->mem_pos;
}

static int bucket_of(struct od_train_source *s, int F, int h, int w)
{
	for (int i = 0; i < s->n_buckets; i++)
		if (s->buckets[i].F == F && s->buckets[i].h == h && s->buckets[i].w == w)
			return i;
	struct od_train_bucket *nb = realloc(s->buckets, (size_t)(s->n_buckets + 1) * sizeof *nb);
	if (!nb)
		return od_error(OD_ENOMEM, "out of memory");
	s->buckets = nb;
	memset(&nb[s->n_buckets], 0, sizeof nb[0]);
	nb[s->n_buckets].F = F, nb[s->n_buckets].h = h, nb[s->n_buckets].w = w;
	return s->n_buckets++;
}

/* Check the job that has just ended and add it to the index. */
static int finish_job(struct builder *b)
{
	if (!b->open)
		return OD_OK;
	b->open = 0;
	long j = b->s->n_jobs;
	if (!b->has_prompt)
		return od_error(OD_EFORMAT, "%s: job %ld has a negative text frame but no prompt (text, role condition)",
				b->where, j);
	if (!b->n_image)
		return od_error(OD_EFORMAT, "%s: job %ld has no latent or rays frame: nothing to train on", b->where, j);
	if (!b->n_target)
		return od_error(OD_EFORMAT, "%s: job %ld has no target frame (od-encode --role target makes one)",
				b->where, j);
	b->cur.F = b->n_image;
	if (b->o->cfg) {
		int rc = od_nextdit_check_size(b->o->cfg, b->cur.F, b->cur.h, b->cur.w);
		if (rc)
			return od_error_prefix(rc, "%s: job %ld", b->where, j);
	}
	if (b->s->n_jobs == b->cap) {
		int cap = b->cap ? 2 * b->cap : 64;
		struct od_train_job_ref *nj = realloc(b->s->jobs, (size_t)cap * sizeof *nj);
		if (!nj)
			return od_error(OD_ENOMEM, "out of memory");
		b->s->jobs = nj;
		b->cap = cap;
	}
	int k = bucket_of(b->s, b->cur.F, b->cur.h, b->cur.w);
	if (k < 0)
		return k;
	b->cur.bucket = k;
	b->s->jobs[b->s->n_jobs++] = b->cur;
	return OD_OK;
}

static void start_job(struct builder *b, int64_t pos, long index)
{
	memset(&b->cur, 0, sizeof b->cur);
	b->cur.offset = pos;
	b->cur.first_frame = index;
	b->open = 1;
	b->has_prompt = b->has_negative = b->n_image = b->n_target = 0;
	snprintf(b->where, sizeof b->where, "'%s': frame %ld", b->label, index);
}

/* One frame of the stream at file position pos. */
static int add_frame(struct builder *b, const struct od_frame *f, int64_t pos, long index)
{
	char where[320];
	snprintf(where, sizeof where, "'%s': frame %ld", b->label, index);
	switch (f->kind) {
	case OD_KIND_TEXT: {
		if (f->role != OD_ROLE_CONDITION && f->role != OD_ROLE_NEGATIVE)
			return od_error(OD_EFORMAT, "%s: a text frame needs role condition (the prompt) or negative (it has %s)",
					where, od_role_name(f->role));
		int neg = f->role == OD_ROLE_NEGATIVE;
		if (b->open && (b->n_image || (neg ? b->has_negative : b->has_prompt))) {
			int rc = finish_job(b);
			if (rc)
				return rc;
		}
		if (!b->open)
			start_job(b, pos, index);
		if (neg) {
			b->has_negative = 1;
		} else {
			if (f->ndim != 2 || f->shape[1] != b->o->text_dim)
				return od_error(OD_EFORMAT, "%s: a text frame must be (S, %d) T5 states (it is %s)", where,
						b->o->text_dim, od_frame_describe(f, (char[96]){ 0 }, 96));
			b->has_prompt = 1;
			b->cur.S = (int)f->shape[0];
		}
		b->cur.n_frames++;
		return OD_OK;
	}
	case OD_KIND_LATENT:
	case OD_KIND_RAYS: {
		const char *kn = od_kind_name(f->kind);
		if (!b->open)
			return od_error(OD_EFORMAT, "%s: a %s frame before any prompt text frame (a job starts with its text)",
					where, kn);
		if (f->role != OD_ROLE_CONDITION && f->role != OD_ROLE_TARGET)
			return od_error(OD_EFORMAT, "%s: a %s frame needs role condition or target (it has %s)", where, kn,
					od_role_name(f->role));
		if (!f->data)
			return od_error(OD_EFORMAT, "%s: a placeholder %s frame has no data to train on", where, kn);
		if (f->ndim != 3)
			return od_error(OD_EFORMAT, "%s: a %s frame must be 3-D (C, h, w), not %d-D", where, kn, f->ndim);
		if (f->shape[0] != b->o->channels)
			return od_error(OD_EFORMAT, "%s: %lld channels, the model takes %d", where, (long long)f->shape[0],
					b->o->channels);
		if (!b->n_image) {
			b->cur.h = (int)f->shape[1];
			b->cur.w = (int)f->shape[2];
		} else if (f->shape[1] != b->cur.h || f->shape[2] != b->cur.w) {
			return od_error(OD_EFORMAT, "%s: size %lld×%lld differs from the job's %d×%d (%s)", where,
					(long long)f->shape[1], (long long)f->shape[2], b->cur.h, b->cur.w, b->where);
		}
		if (b->n_image >= 65536)
			return od_error(OD_EFORMAT, "%s: more than 65536 frames in one job", where);
		b->n_image++;
		b->n_target += f->role == OD_ROLE_TARGET;
		b->cur.n_frames++;
		return OD_OK;
	}
	case OD_KIND_NOISE:
		return od_error(OD_EFORMAT, "%s: a noise frame: training draws its own noise (remove it with od-frame select)",
				where);
	case OD_KIND_IMAGE:
		return od_error(OD_EFORMAT, "%s: an image frame (encode pictures with od-encode)", where);
	default:
		return od_error(OD_EFORMAT, "%s: training takes text, latent and rays frames, not %s", where,
				od_kind_name(f->kind));
	}
}

static int index_reader(struct od_train_source *s, struct od_reader *r, const char *label,
			const struct od_train_data_opts *o)
{
	struct builder b = { .s = s, .o = o, .label = label };
	int rc;
	for (;;) {
		int64_t pos = reader_pos(r);
		if (pos < 0)
			return od_error(OD_EIO, "'%s': cannot tell the file position: %s", label, strerror(errno));
		long index = (long)r->index;
		struct od_frame f;
		rc = od_reader_next(r, &f);
		if (rc <= 0)
			break;
		rc = add_frame(&b, &f, pos, index);
		od_frame_free(&f);
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
	if ((rc = finish_job(&b)))
		return rc;
	if (!s->n_jobs)
		return od_error(OD_EFORMAT, "'%s': no training jobs in the input (a prompt text frame, then latent frames)", label);
	/* the buckets' job lists */
	for (int i = 0; i < s->n_buckets; i++)
		if (!(s->buckets[i].jobs = malloc((size_t)s->n_jobs * sizeof(int))))
			return od_error(OD_ENOMEM, "out of memory");
	for (int j = 0; j < s->n_jobs; j++) {
		struct od_train_bucket *k = &s->buckets[s->jobs[j].bucket];
		k->jobs[k->n++] = j;
	}
	return OD_OK;
}

void od_train_source_free(struct od_train_source *s)
{
	if (s->fd >= 0)
		close(s->fd);
	for (int i = 0; i < s->n_buckets; i++)
		free(s->buckets[i].jobs);
	free(s->buckets);
	free(s->jobs);
	free(s->path);
	memset(s, 0, sizeof *s);
	s->fd = -1;
}

int od_train_data_index_mem(struct od_train_source *s, const void *buf, size_t len, const char *label,
			    const struct od_train_data_opts *o)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->weight = 1;
	s->bytes = (int64_t)len;
	struct od_reader r;
	od_reader_open_mem(&r, buf, len, label);
	int rc = r.label ? index_reader(s, &r, label, o) : od_error(OD_ENOMEM, "out of memory");
	od_reader_close(&r);
	if (rc)
		od_train_source_free(s);
	return rc;
}

static int index_file(struct od_train_source *s, const struct od_train_data_opts *o)
{
	if (!strcmp(s->path, "-"))
		return od_error(OD_EINVAL, "'-': training data must be files (jobs are read at random), not standard input");
	struct od_reader r;
	int rc = od_reader_open(&r, s->path);
	if (rc)
		return rc;
	struct stat st;
	if (fstat(r.fd, &st) || !S_ISREG(st.st_mode) || lseek(r.fd, 0, SEEK_CUR) < 0) {
		od_reader_close(&r);
		return od_error(OD_EINVAL, "'%s': training data must be a regular file (jobs are read at random)", s->path);
	}
	s->bytes = (int64_t)st.st_size;
	rc = index_reader(s, &r, s->path, o);
	if (!rc) {
		s->fd = r.fd; /* kept open for the random reads */
		r.fd = -1;
	}
	od_reader_close(&r);
	return rc;
}

int od_train_data_open(struct od_train_data *d, char *const *specs, int n, const struct od_train_data_opts *o)
{
	memset(d, 0, sizeof *d);
	d->C = o->channels;
	d->D = o->text_dim;
	if (n < 1)
		return od_error(OD_EINVAL, "no training data");
	if (!(d->src = calloc((size_t)n, sizeof *d->src)))
		return od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		d->src[i].fd = -1;
	d->n_src = n;
	int rc = OD_OK;
	for (int i = 0; !rc && i < n; i++) {
		struct od_train_source *s = &d->src[i];
		if (!(rc = od_train_source_parse(specs[i], &s->path, &s->weight)))
			rc = index_file(s, o);
		d->total_weight += s->weight;
	}
	if (rc)
		od_train_data_close(d);
	return rc;
}

void od_train_data_close(struct od_train_data *d)
{
	for (int i = 0; i < d->n_src; i++)
		od_train_source_free(&d->src[i]);
	free(d->src);
	memset(d, 0, sizeof *d);
}

long od_train_data_jobs(const struct od_train_data *d)
{
	long n = 0;
	for (int i = 0; i < d->n_src; i++)
		n += d->src[i].n_jobs;
	return n;
}

/* ---------------------------------------------------------------- reading */

static int grow(struct od_train_batch *b, int B, size_t nx, size_t nt)
{
	if (B > b->cap_b) {
		int *j = realloc(b->jobs, (size_t)B * sizeof *j);
		if (!j)
			return od_error(OD_ENOMEM, "out of memory");
		b->jobs = j;
		b->cap_b = B;
	}
	if (nx > b->cap_x) {
		float *x = realloc(b->x0, nx * sizeof *x);
		if (!x)
			return od_error(OD_ENOMEM, "out of memory for a batch of %zu latent values", nx);
		b->x0 = x;
		b->cap_x = nx;
	}
	if (nt > b->cap_t) {
		float *t = realloc(b->text, nt * sizeof *t);
		uint8_t *m = t ? realloc(b->mask, nt) : NULL; /* nt >= B·S */
		if (t)
			b->text = t;
		if (!t || !m)
			return od_error(OD_ENOMEM, "out of memory for a batch of %zu text values", nt);
		b->mask = m;
		b->cap_t = nt;
	}
	return OD_OK;
}

/* Read job j of source s into sample slot k of b (x0 and, with stride S, text). */
static int read_job(struct od_train_source *s, int j, struct od_train_batch *b, int k)
{
	const struct od_train_job_ref *jr = &s->jobs[j];
	char where[320];
	snprintf(where, sizeof where, "'%s': frame %ld", s->path, jr->first_frame);
	if (lseek(s->fd, (off_t)jr->offset, SEEK_SET) < 0)
		return od_error(OD_EIO, "%s: cannot seek: %s", where, strerror(errno));
	struct od_reader r;
	od_reader_open_fd(&r, s->fd, s->path);
	if (!r.label)
		return od_error(OD_ENOMEM, "out of memory");
	r.index = (uint64_t)jr->first_frame;
	const size_t fsz = (size_t)b->C * b->h * b->w;
	float *x = b->x0 + (size_t)k * b->F * fsz;
	int rc = OD_OK, img = 0, text = 0;
	for (int i = 0; !rc && i < jr->n_frames; i++) {
		struct od_frame f;
		rc = od_reader_next(&r, &f);
		if (rc == 0)
			rc = od_error(OD_EFORMAT, "%s: the file ends inside the job: it changed since it was indexed", where);
		if (rc < 0)
			break;
		rc = OD_OK;
		if (f.kind == OD_KIND_TEXT && f.role == OD_ROLE_CONDITION && !text) {
			if (f.ndim != 2 || f.shape[0] != jr->S || f.shape[1] != b->D || !f.mask) {
				rc = od_error(OD_EFORMAT, "%s: the job's text changed since the file was indexed", where);
			} else {
				float *t = b->text + (size_t)k * b->S * b->D;
				rc = od_frame_to_f32(&f, t);
				memcpy(b->mask + (size_t)k * b->S, f.mask, (size_t)jr->S);
				text = 1;
			}
		} else if (f.kind == OD_KIND_TEXT && f.role == OD_ROLE_NEGATIVE) {
			/* read past */
		} else if ((f.kind == OD_KIND_LATENT || f.kind == OD_KIND_RAYS) && img < b->F && f.data && f.ndim == 3 &&
			   f.shape[0] == b->C && f.shape[1] == b->h && f.shape[2] == b->w) {
			rc = od_frame_to_f32(&f, x + (size_t)img * fsz);
			img++;
		} else {
			rc = od_error(OD_EFORMAT, "%s: the job changed since the file was indexed", where);
		}
		od_frame_free(&f);
	}
	r.fd = -1; /* the source keeps its descriptor */
	od_reader_close(&r);
	if (!rc && (img != b->F || !text))
		rc = od_error(OD_EFORMAT, "%s: the job changed since the file was indexed", where);
	return rc;
}

int od_train_data_read(struct od_train_data *d, int src, const int *jobs, int B, struct od_train_batch *b)
{
	struct od_train_source *s = &d->src[src];
	const struct od_train_job_ref *j0 = &s->jobs[jobs[0]];
	int S = 0;
	for (int k = 0; k < B; k++) {
		const struct od_train_job_ref *jr = &s->jobs[jobs[k]];
		if (jr->F != j0->F || jr->h != j0->h || jr->w != j0->w)
			return od_error(OD_EINVAL, "'%s': jobs %d and %d differ in shape and cannot share a batch", s->path,
					jobs[0], jobs[k]);
		if (jr->S > S)
			S = jr->S;
	}
	b->B = B, b->F = j0->F, b->C = d->C, b->h = j0->h, b->w = j0->w, b->S = S, b->D = d->D, b->src = src;
	const size_t nx = (size_t)B * b->F * b->C * b->h * b->w, nt = (size_t)B * S * d->D;
	int rc = grow(b, B, nx, nt);
	if (rc)
		return rc;
	memset(b->text, 0, nt * sizeof *b->text);
	memset(b->mask, 0, (size_t)B * S);
	for (int k = 0; k < B && !rc; k++) {
		b->jobs[k] = jobs[k];
		rc = read_job(s, jobs[k], b, k);
	}
	return rc;
}

int od_train_data_sample(struct od_train_data *d, struct od_train_rng *g, int B, struct od_train_batch *b)
{
	/* 1. the file, by weight */
	int src = d->n_src - 1;
	double u = od_train_rand_double(g) * d->total_weight, acc = 0;
	for (int i = 0; i < d->n_src; i++) {
		acc += d->src[i].weight;
		if (u < acc) {
			src = i;
			break;
		}
	}
	struct od_train_source *s = &d->src[src];
	/* 2. a job, which sets the shape; 3. the others of that shape */
	int *jobs = malloc((size_t)B * sizeof *jobs);
	if (!jobs)
		return od_error(OD_ENOMEM, "out of memory");
	jobs[0] = (int)od_train_rand_below(g, (uint32_t)s->n_jobs);
	const struct od_train_bucket *k = &s->buckets[s->jobs[jobs[0]].bucket];
	for (int i = 1; i < B; i++)
		jobs[i] = k->jobs[od_train_rand_below(g, (uint32_t)k->n)];
	int rc = od_train_data_read(d, src, jobs, B, b);
	free(jobs);
	return rc;
}

void od_train_batch_free(struct od_train_batch *b)
{
	free(b->jobs);
	free(b->x0);
	free(b->text);
	free(b->mask);
	memset(b, 0, sizeof *b);
}

void od_train_batch_trim_text(struct od_train_batch *b)
{
	int S = 1;
	for (int k = 0; k < b->B; k++)
		for (int r = b->S - 1; r >= S; r--)
			if (b->mask[(size_t)k * b->S + r]) {
				S = r + 1;
				break;
			}
	if (S == b->S)
		return;
	/* in place, front to back: every row moves to an index no later than its own */
	for (int k = 1; k < b->B; k++) {
		memmove(b->text + (size_t)k * S * b->D, b->text + (size_t)k * b->S * b->D, (size_t)S * b->D * sizeof *b->text);
		memmove(b->mask + (size_t)k * S, b->mask + (size_t)k * b->S, (size_t)S);
	}
	b->S = S;
}

int od_train_batch_drop_text(struct od_train_batch *b, const uint8_t *drop, const float *empty, const uint8_t *empty_mask,
			     int S_e)
{
	int any = 0;
	for (int k = 0; k < b->B; k++)
		any |= drop[k];
	if (!any)
		return OD_OK;
	const int S = b->S > S_e ? b->S : S_e, D = b->D;
	float *t = calloc((size_t)b->B * S * D, sizeof *t);
	uint8_t *m = calloc((size_t)b->B * S, 1);
	if (!t || !m) {
		free(t);
		free(m);
		return od_error(OD_ENOMEM, "out of memory");
	}
	for (int k = 0; k < b->B; k++) {
		const float *src = drop[k] ? empty : b->text + (size_t)k * b->S * D;
		const uint8_t *ms = drop[k] ? empty_mask : b->mask + (size_t)k * b->S;
		int n = drop[k] ? S_e : b->S;
		memcpy(t + (size_t)k * S * D, src, (size_t)n * D * sizeof *t);
		memcpy(m + (size_t)k * S, ms, (size_t)n);
	}
	free(b->text);
	free(b->mask);
	b->text = t;
	b->mask = m;
	b->cap_t = (size_t)b->B * S * D;
	b->S = S;
	return OD_OK;
}
