/* od-encode: pictures -> VAE latent frames, as OneDiffusion encodes its
 * condition images (od-encode(1); numerics.md §4, §6.3). */
#include "od.h"
#include "pipeline/decode.h"
#include "pipeline/encode.h"
#include "formats/image.h"
#include "pipeline/preprocess.h"
#include "tool.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const struct od_usage usage = {
	.synopsis = "od-encode [OPTION]... [INPUT]...",
	.description =
		"Encode pictures into latent frames with the AutoencoderKL (SD3 VAE) encoder,\n"
		"as OneDiffusion prepares its condition images: aspect-ratio bucket (or --size),\n"
		"centre crop, bilinear resize, normalisation, posterior sample, times\n"
		"scaling_factor. INPUT is a PNG or JPEG file, a directory (its .png/.jpg/.jpeg\n"
		"files in name order), or a stream of image frames (pixels in [-1, 1], encoded\n"
		"as they are); '-' or no INPUT reads standard input. All latent frames go to\n"
		"one stream.\n",
	.footer = "Exit status: 0 ok, 1 failure, 2 usage, 3 bad input, 4 model, 5 I/O, 6 no device.\n"
		  "See od-encode(1).\n",
};

/* One input: a file (read again when needed) or the bytes of standard input. */
struct source {
	char *path;
	const char *label;
	int own;         /* from a directory or a list: a job of its own, its own bucket */
	long number;     /* its place among the inputs, from 0: a job of its own is job `number` */
	int W, H;        /* the size it is encoded at (pictures) */
	int pw, ph;      /* the picture's own size, after its EXIF orientation */
	int twice;       /* upstream's double normalisation applies */
};

struct sources {
	struct source *v;
	int n, cap;
	char *stdin_buf;   /* standard input, read once */
	size_t stdin_len;
	int stdin_used;
	int adding_own;    /* add_source: the sources being added come from a directory or list */
};

static void add_source(struct sources *s, const char *path)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = realloc(s->v, (size_t)s->cap * sizeof *s->v);
		if (!s->v)
			od_die(OD_ENOMEM, "out of memory");
	}
	memset(&s->v[s->n], 0, sizeof s->v[s->n]);
	s->v[s->n].path = strdup(path);
	s->v[s->n].label = strcmp(path, "-") ? s->v[s->n].path : "<stdin>";
	s->v[s->n].own = s->adding_own;
	s->v[s->n].number = s->n;
	s->n++;
}

static int is_picture_name(const char *name)
{
	return name[0] != '.' && od_image_format_from_name(name) != OD_IMAGE_UNKNOWN;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's pictures in name order. */
static void add_dir(struct sources *s, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		od_die(OD_EIO, "'%s': cannot read the directory", dir);
	char **names = NULL;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (!is_picture_name(e->d_name))
			continue;
		names = realloc(names, (size_t)(n + 1) * sizeof *names);
		if (!names || !(names[n++] = od_path_join(dir, e->d_name)))
			od_die(OD_ENOMEM, "out of memory");
	}
	closedir(d);
	if (n)
		qsort(names, (size_t)n, sizeof *names, cmp_str);
	for (int i = 0; i < n; i++) {
		if (od_is_file(names[i]) && !od_is_dir(names[i]))
			add_source(s, names[i]);
		free(names[i]);
	}
	free(names);
}

static void add_input(struct sources *s, const char *path)
{
	if (strcmp(path, "-") && od_is_dir(path)) {
		int was = s->adding_own;
		s->adding_own = 1;
		add_dir(s, path);
		s->adding_own = was;
	} else {
		add_source(s, path);
	}
}

static void add_list(struct sources *s, const char *list)
{
	char *buf;
	size_t len;
	int rc = od_read_file(list, (size_t)64 << 20, &buf, &len);
	if (rc)
		od_fail(rc);
	s->adding_own = 1;
	for (char *save = NULL, *line = strtok_r(buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
		if (*line)
			add_input(s, line);
	s->adding_own = 0;
	free(buf);
}

static int is_frame_stream(const char *buf, size_t len)
{
	return len >= 8 && !memcmp(buf, OD_FRAME_MAGIC, 8);
}

/* The bytes of a picture source (a malloc'd copy of a file, or the stdin
 * buffer). A file that is a frame stream is not read here (*frames set, *buf
 * NULL): it is streamed frame by frame. */
static int load(struct sources *s, const struct source *src, char **buf, size_t *len, int *owned, int *frames)
{
	*owned = *frames = 0;
	*buf = NULL;
	*len = 0;
	if (!strcmp(src->path, "-")) {
		if (!s->stdin_buf) {
			int rc = od_read_file("-", OD_IMAGE_MAX_FILE, &s->stdin_buf, &s->stdin_len);
			if (rc)
				return rc;
		}
		*buf = s->stdin_buf;
		*len = s->stdin_len;
		*frames = !*len || is_frame_stream(*buf, *len); /* nothing at all: an empty stream */
		return OD_OK;
	}
	int fd = od_in_open(src->path);
	if (fd < 0)
		return fd;
	char magic[8];
	size_t got = 0;
	for (ssize_t k; got < sizeof magic && (k = read(fd, magic + got, sizeof magic - got)) > 0;)
		got += (size_t)k;
	close(fd);
	if ((*frames = !got || is_frame_stream(magic, got))) /* an empty file: an empty stream */
		return OD_OK;
	*owned = 1;
	return od_read_file(src->path, OD_IMAGE_MAX_FILE, buf, len);
}

enum bucket_mode { BUCKET_AUTO, BUCKET_EACH, BUCKET_SHARED };

struct opts {
	int W, H, size_given, crop, double_norm, mode;
	enum bucket_mode bucket;
	struct od_image_opts img;
	enum od_role role;
	const char *task;
	struct od_kv_list sets;
};

/* Decode and preprocess picture src into x (3, H, W) at src's size; the caller frees x. */
static int picture(const struct opts *o, const char *buf, size_t len, const struct source *src, float **x)
{
	struct od_image img;
	int rc = od_image_read_mem(&img, buf, len, src->label, &o->img);
	if (rc)
		return rc;
	*x = malloc((size_t)3 * src->H * src->W * sizeof **x);
	rc = *x ? od_preprocess_image(&img, src->H, src->W, o->crop, *x) : od_error(OD_ENOMEM, "out of memory");
	od_image_free(&img);
	return rc;
}

/* A picture that is a job of its own carries the job's number and identity
 * (pipeline/batch.h): job, its place among the inputs, and id, its file's
 * stem; the prompt frames of --prompt get them too. */
static int identify(struct od_frame *f, const struct source *src)
{
	char id[4096];
	od_path_stem(src->path, id, sizeof id);
	int rc = od_frame_setf(f, "job", "%ld", src->number);
	if (!rc && strcmp(src->path, "-"))
		rc = od_frame_set(f, "id", id);
	return rc;
}

static int finish_frame(const struct opts *o, struct od_frame *f, const char *source, const struct source *src)
{
	int rc = OD_OK;
	if (source && !od_frame_get(f, "source"))
		rc = od_frame_set(f, "source", source);
	if (!rc && src && src->own)
		rc = identify(f, src);
	/* the picture's own size, when the size was chosen here (not -S): a map
	 * generated from it is given back at this size (od-decode) */
	if (!rc && src && !o->size_given)
		rc = od_frame_setf(f, "picture_size", "%dx%d", src->pw, src->ph);
	if (!rc && o->task)
		rc = od_frame_set(f, "task", o->task);
	if (!rc)
		rc = od_frame_set_all(f, &o->sets);
	return rc;
}

struct run {
	const struct opts *o;
	struct od_encoder *enc; /* NULL: --pixels */
	struct od_out *out;
	struct od_frame *prompt; /* --prompt: frames written before every job's picture */
	int n_prompt;
};

/* --prompt: the prompt frames, as the job's own (its number and identity). */
static int emit_prompt(struct run *r, const struct source *src)
{
	int rc = OD_OK;
	for (int i = 0; !rc && i < r->n_prompt; i++) {
		struct od_frame f;
		if ((rc = od_frame_copy(&f, &r->prompt[i])))
			break;
		od_frame_unset(&f, "line"); /* od-tag's line is not this job's */
		if (!(rc = identify(&f, src)))
			rc = od_frame_write(r->out, &f);
		od_frame_free(&f);
	}
	return rc;
}

/* Read --prompt FILE: text frames only (what od-tag writes). */
static void read_prompt(const char *path, struct run *r)
{
	struct od_reader rd;
	int rc = od_reader_open(&rd, path), got;
	if (rc)
		od_fail(rc);
	for (;;) {
		struct od_frame f;
		if ((got = od_reader_next(&rd, &f)) <= 0)
			break;
		if (f.kind != OD_KIND_TEXT) {
			od_frame_free(&f);
			od_die(OD_EFORMAT, "'%s': frame %d is %s frame: --prompt takes od-tag's text frames", rd.label,
			       r->n_prompt, od_kind_a(f.kind));
		}
		struct od_frame *nf = realloc(r->prompt, (size_t)(r->n_prompt + 1) * sizeof *nf);
		if (!nf)
			od_die(OD_ENOMEM, "out of memory");
		r->prompt = nf;
		r->prompt[r->n_prompt++] = f;
	}
	if (got < 0)
		od_fail(got);
	if (!r->n_prompt)
		od_die(OD_EFORMAT, "'%s': --prompt: no frames in the file", rd.label);
	od_reader_close(&rd);
}

/* Encode x (3, H, W) (or, with --pixels, keep it as an image frame) and write
 * the frame with the metadata of in (may be NULL) and of the options. */
static int emit(struct run *r, const float *x, int H, int W, const struct od_frame *in, const char *source,
		const struct source *src)
{
	struct od_frame f;
	int rc;
	if (r->enc) {
		rc = od_encoder_encode(r->enc, x, H, W, r->o->role, &f);
	} else {
		int64_t shape[3] = { 3, H, W };
		if (!(rc = od_frame_init(&f, OD_KIND_IMAGE, r->o->role, OD_F32, 3, shape, 1)))
			rc = od_frame_from_f32(&f, x);
	}
	if (rc)
		return rc;
	for (int k = 0; in && !rc && k < in->n_meta; k++)
		if (!od_frame_get(&f, in->meta[k].key))
			rc = od_frame_set(&f, in->meta[k].key, in->meta[k].value);
	if (!rc && !(rc = finish_frame(r->o, &f, source, src)))
		rc = od_frame_write(r->out, &f);
	od_frame_free(&f);
	return rc;
}

static int size_cb(const struct od_option *opt, const char *arg)
{
	struct opts *o = opt->value;
	od_opt_size("--size", arg, &o->W, &o->H);
	o->size_given = 1;
	if (od_preprocess_check_size(o->W, o->H))
		return od_error_prefix(OD_EINVAL, "--size");
	if (o->W > 4096 || o->H > 4096)
		return od_error(OD_EINVAL, "--size: %dx%d is over 4096 pixels per side", o->W, o->H);
	return OD_OK;
}

static const struct od_choice bucket_choices[] = {
	{ "auto", BUCKET_AUTO, 0 }, { "each", BUCKET_EACH, 0 }, { "shared", BUCKET_SHARED, 0 }, { NULL, 0, 0 }
};

static const struct od_choice role_choices[] = {
	{ "condition", OD_ROLE_CONDITION, 0 }, { "target", OD_ROLE_TARGET, 0 }, { NULL, 0, 0 }
};

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-encode");
	struct opts o = { .role = OD_ROLE_CONDITION };
	struct od_common_opts common;
	const char *out_path = "-", *noise_path = NULL, *lists[16], *prompt_path = NULL;
	int n_lists = 0, pixels = 0, no_crop = 0, no_double_norm = 0;
	struct od_shard shard = { 0, 1 };
	int64_t seed = -1, skip = -1; /* -1: not given */
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &out_path, "FILE", "write the frames to FILE (default: standard output)"),
		OD_OPT_LIST(0, "list", lists, &n_lists, 16, "FILE", "read more INPUTs from FILE, one per line ('-': stdin)"),
		OD_OPT_CALLBACK(0, "shard", &shard, "I/N",
				"only the pictures whose number J (from 0, in input order) has J mod N = I, each a job of "
				"its own, keeping J", od_opt_shard_cb),
		OD_OPT_STRING(0, "prompt", &prompt_path, "FILE",
			      "write FILE's text frames (od-tag's) before every picture, each picture a job of its own: "
			      "a folder becomes a batch for od-denoise"),
		OD_OPT_CALLBACK('S', "size", &o, "WxH",
				"encode at W x H pixels (multiples of 16); default: the ASPECT_RATIO_512 bucket closest "
				"to the picture (see --bucket)", size_cb),
		OD_OPT_CHOICE(0, "bucket", &o.bucket, "MODE",
			      "without --size: each (every picture its own bucket), shared (all the bucket of the "
			      "first), or auto (the default: the pictures of a directory or --list each their own, "
			      "the pictures named as arguments the first one's: they are one job's)",
			      bucket_choices),
		OD_OPT_BOOL(0, "no-crop", &no_crop, "resize the whole picture instead of centre-cropping it"),
		OD_OPT_BOOL(0, "no-double-norm", &no_double_norm,
			    "do not repeat upstream's second normalisation of an all-bright batch (applied by default, "
			    "as upstream does)"),
		OD_OPT_BOOL(0, "ignore-orientation", &o.img.ignore_orientation, "do not apply the EXIF orientation"),
		OD_OPT_BOOL(0, "mode", &o.mode, "use the posterior mean instead of a sample"),
		OD_OPT_INT64('s', "seed", &seed, "N",
			     "sample with torch.randn of seed N (default 0), as the pipeline's generator would for "
			     "condition image k", 0, INT64_MAX),
		OD_OPT_INT64(0, "skip", &skip, "WORDS",
			     "start the seed's stream after WORDS 32-bit words (default: 16*h*w, the pipeline's unused "
			     "first draw)", 0, (long long)1 << 40),
		OD_OPT_STRING(0, "noise", &noise_path, "FILE", "take the posterior noise from noise frames, in order"),
		OD_OPT_CHOICE(0, "role", &o.role, "ROLE", "condition (default) or target", role_choices),
		OD_OPT_BOOL(0, "pixels", &pixels,
			    "write the preprocessed VAE input as image frames instead of latents (no model needed)"),
		OD_OPT_STRING('t', "task", &o.task, "TASK", "add task=TASK to every frame"),
		OD_OPT_CALLBACK(0, "set", &o.sets, "KEY=VALUE", "add KEY=VALUE to every frame (repeatable)",
				od_opt_set_cb),
		OD_OPT_COMMON(&common),
		OD_OPT_END(),
	};
	const int first = od_parse_options(argc, argv, opts, &usage);
	o.crop = !no_crop;
	o.double_norm = !no_double_norm;
	const char *model = pixels ? NULL : od_common_model(&common);
	const int have_seed = seed >= 0;
	if (o.mode + (noise_path != NULL) + have_seed > 1)
		od_usage_error("--mode, --seed and --noise exclude each other");
	if (skip >= 0 && noise_path)
		od_usage_error("--skip goes with --seed, not --noise");

	/* the inputs, in order */
	struct sources s = { 0 };
	for (int i = first; i < argc; i++)
		add_input(&s, argv[i]);
	for (int i = 0; i < n_lists; i++)
		add_list(&s, lists[i]);
	if (first == argc && !n_lists)
		add_source(&s, "-");
	if (!s.n)
		od_fail(od_empty_input("pictures"));
	int n_stdin = 0;
	for (int i = 0; i < s.n; i++)
		n_stdin += !strcmp(s.v[i].path, "-");
	for (int i = 0; i < n_lists; i++)
		n_stdin += !strcmp(lists[i], "-");
	if (noise_path && !strcmp(noise_path, "-"))
		n_stdin++;
	if (prompt_path && !strcmp(prompt_path, "-"))
		n_stdin++;
	if (n_stdin > 1)
		od_usage_error("standard input can be read only once");
	/* a shard: every picture a job of its own, the others left out before
	 * any is read */
	const int jobs = shard.n > 1 || prompt_path;
	if (jobs) {
		int kept = 0;
		for (int i = 0; i < s.n; i++) {
			s.v[i].own = 1;
			if (od_shard_has(&shard, s.v[i].number))
				s.v[kept++] = s.v[i];
			else
				free(s.v[i].path);
		}
		if (!kept)
			od_die(OD_EFORMAT, "no pictures in shard %ld/%ld: the input has %d, fewer than the %ld shards",
			       shard.i, shard.n, s.n, shard.n);
		s.n = kept;
	}
	if (n_stdin)
		od_refuse_terminal_input(NULL, 0, "pictures or frames");
	od_refuse_terminal_output(out_path, "frames");

	/* A first pass over the pictures: each one's own size; the size it is
	 * encoded at (--size, else its bucket: its own for a picture that is a job
	 * of its own, the first shared picture's for the others, which form one
	 * job); and upstream's double normalisation, which looks at the minimum of
	 * the job's whole batch of condition pictures (numerics.md §6.3 item 4).
	 * An image frame fixes its own size. */
	int rc = OD_OK, have_shared = 0;
	float shared_min = INFINITY;
	char *buf;
	size_t len;
	int owned, frames;
	for (int i = 0; i < s.n && !rc; i++) {
		struct source *src = &s.v[i];
		if ((rc = load(&s, src, &buf, &len, &owned, &frames)))
			break;
		if (frames && jobs) {
			rc = od_error(OD_EFORMAT, "'%s' is a frame stream: --shard and --prompt take pictures",
				      src->label);
			break;
		}
		if (!frames) {
			struct od_image img;
			const int alone = o.bucket == BUCKET_EACH || (o.bucket == BUCKET_AUTO && src->own);
			if (!(rc = od_image_read_mem(&img, buf, len, src->label, &o.img))) {
				src->pw = img.width;
				src->ph = img.height;
				const struct od_bucket *b = od_bucket_closest(img.height, img.width);
				od_image_free(&img);
				if (o.size_given) {
					src->W = o.W, src->H = o.H;
				} else if (alone) {
					src->W = b->width, src->H = b->height;
				} else {
					if (!have_shared)
						o.W = b->width, o.H = b->height;
					src->W = o.W, src->H = o.H;
				}
				have_shared |= !alone;
			}
			float *x;
			if (!rc && o.double_norm && !(rc = picture(&o, buf, len, src, &x))) {
				float m = od_min_value(x, (size_t)3 * src->H * src->W);
				free(x);
				if (alone)
					src->twice = m >= 0.0f;
				else
					shared_min = m < shared_min ? m : shared_min;
			}
			src->twice |= 2 * !alone; /* decided below, once the group's minimum is known */
		}
		if (owned)
			free(buf);
	}
	if (rc)
		od_fail(rc);
	for (int i = 0; i < s.n; i++)
		if (s.v[i].twice & 2)
			s.v[i].twice = o.double_norm && shared_min >= 0.0f;

	struct od_ctx *ctx = NULL;
	struct od_vae vae;
	struct od_encoder enc;
	struct od_reader noise;
	if (!pixels) {
		if ((rc = od_common_ctx_create(&common, &ctx)) || (rc = od_vae_open(&vae, ctx, model)))
			od_fail(rc);
		od_encoder_init(&enc, &vae);
		if (noise_path) {
			if ((rc = od_reader_open(&noise, noise_path)))
				od_fail(rc);
			od_encoder_use_noise(&enc, &noise);
		} else if (!o.mode) {
			od_encoder_use_seed(&enc, have_seed ? (uint64_t)seed : 0, skip >= 0 ? (uint64_t)skip : UINT64_MAX);
		}
	}
	struct od_out out;
	if ((rc = od_out_open(&out, out_path)))
		od_fail(rc);
	struct run run = { &o, pixels ? NULL : &enc, &out, NULL, 0 };
	if (prompt_path)
		read_prompt(prompt_path, &run);
	struct od_progress prog;
	od_progress_begin(&prog, common.progress, "encode");
	long done = 0;
	for (int i = 0; i < s.n && !rc; i++) {
		const struct source *src = &s.v[i];
		if ((rc = load(&s, src, &buf, &len, &owned, &frames)))
			break;
		if (!frames) {
			float *x;
			/* a job of its own is its own upstream call: seed S + J, as
			 * od-denoise seeds job J (pipeline/job.h) */
			if (!pixels && src->own && !noise_path && !o.mode)
				od_encoder_restart(&enc, (uint64_t)(have_seed ? seed : 0) + (uint64_t)src->number);
			if (!(rc = picture(&o, buf, len, src, &x))) {
				if (src->twice)
					od_double_normalize(x, (size_t)3 * src->H * src->W);
				rc = emit_prompt(&run, src);
				if (!rc)
					rc = emit(&run, x, src->H, src->W, NULL, src->path, src);
				free(x);
			}
			od_progress_step(&prog, done++, 1, 1);
		} else {
			/* image frames: the VAE input exactly, no resize or normalisation */
			struct od_reader r;
			if (buf)
				od_reader_open_mem(&r, buf, len, src->label);
			else if ((rc = od_reader_open(&r, src->path)))
				break;
			struct od_frame in;
			int got;
			while (!rc && (got = od_reader_next(&r, &in)) != 0) {
				if (got < 0) {
					rc = got;
					break;
				}
				long idx = (long)r.index - 1;
				int H, W;
				if (!(rc = od_image_frame_check(&in, src->label, idx, &H, &W))) {
					if (od_preprocess_check_size(W, H))
						rc = od_error_prefix(OD_EFORMAT, "'%s': frame %ld", src->label, idx);
					else if (o.W && (H != o.H || W != o.W))
						rc = od_error(OD_EFORMAT, "'%s': frame %ld is %dx%d, not the %dx%d of this run",
							      src->label, idx, W, H, o.W, o.H);
				}
				float *x = NULL;
				if (!rc && !(x = malloc((size_t)od_frame_numel(&in) * sizeof *x)))
					rc = od_error(OD_ENOMEM, "out of memory");
				if (!rc && !(rc = od_frame_to_f32(&in, x)))
					rc = emit(&run, x, H, W, &in, src->path, NULL);
				free(x);
				od_frame_free(&in);
				od_progress_step(&prog, done++, 1, 1);
			}
			od_reader_close(&r);
		}
		if (owned)
			free(buf);
	}
	od_progress_end(&prog);
	if (!rc && !done)
		rc = od_empty_input("pictures");
	if (!rc)
		rc = od_out_commit(&out);
	if (rc) {
		od_out_abort(&out);
		od_fail(rc);
	}
	if (!pixels) {
		od_encoder_free(&enc);
		if (noise_path)
			od_reader_close(&noise);
		od_vae_close(&vae);
		od_ctx_destroy(ctx);
	}
	for (int i = 0; i < run.n_prompt; i++)
		od_frame_free(&run.prompt[i]);
	free(run.prompt);
	for (int i = 0; i < s.n; i++)
		free(s.v[i].path);
	free(s.v);
	free(s.stdin_buf);
	return 0;
}
