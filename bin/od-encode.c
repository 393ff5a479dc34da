/* od-encode: pictures -> VAE latent frames, as OneDiffusion encodes its
 * condition images (od-encode(1); upstream.md §4, §6.3). */
#include "od.h"
#include "pipeline/encode.h"
#include "formats/image.h"
#include "pipeline/preprocess.h"
#include "tool.h"

#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void usage(void)
{
	printf("Usage: od-encode [OPTION]... [INPUT]...\n"
	       "Encode pictures into latent frames with the AutoencoderKL (SD3 VAE) encoder, as\n"
	       "OneDiffusion prepares its condition images: aspect-ratio bucket (or --size), centre\n"
	       "crop, bilinear resize, normalisation, posterior sample, times scaling_factor.\n"
	       "INPUT is a PNG or JPEG file, a directory (its .png/.jpg/.jpeg files in name order),\n"
	       "or a stream of image frames (pixels in [-1, 1], encoded as they are); '-' or no\n"
	       "INPUT reads standard input. All latent frames go to one stream.\n"
	       "  -o, --output FILE        write the frames to FILE (default: standard output)\n"
	       "      --list FILE          read more INPUTs from FILE, one per line ('-': stdin)\n"
	       "  -s, --size WxH           encode at W x H pixels (multiples of 16); default: the\n"
	       "                           ASPECT_RATIO_512 bucket closest to the first picture\n"
	       "      --no-crop            resize the whole picture instead of centre-cropping it\n"
	       "      --no-double-norm     do not repeat upstream's second normalisation of an\n"
	       "                           all-bright batch (applied by default, as upstream does)\n"
	       "      --ignore-orientation do not apply the EXIF orientation\n"
	       "      --mode               use the posterior mean instead of a sample\n"
	       "      --seed N             sample with torch.randn of seed N (default 0), as the\n"
	       "                           pipeline's generator would for condition image k\n"
	       "      --skip WORDS         start the seed's stream after WORDS 32-bit words\n"
	       "                           (default: 16*h*w, the pipeline's unused first draw)\n"
	       "      --noise FILE         take the posterior noise from noise frames, in order\n"
	       "      --role ROLE          condition (default) or target\n"
	       "      --pixels             write the preprocessed VAE input as image frames instead\n"
	       "                           of latents (no model needed)\n"
	       "      --task TASK          add task=TASK to every frame\n"
	       "      --set KEY=VALUE      add KEY=VALUE to every frame (repeatable)\n"
	       "  -m, --model DIR          the OneDiffusion checkpoint (default: $OD_MODEL)\n"
	       "      --device cpu|cuda    compute device (default: $OD_DEVICE, else cpu)\n"
	       "  -j, --threads N          CPU threads (default: all)\n"
	       OD_PRECISION_HELP
	       "      --progress=MODE      auto (default), none or machine\n"
	       "  -h, --help               this help;  -V, --version  the version\n"
	       "Exit status: 0 ok, 1 failure, 2 usage, 3 bad input, 4 model, 5 I/O, 6 no device.\n"
	       "See od-encode(1).\n");
}

/* One input: a file (read again when needed) or the bytes of standard input. */
struct source {
	char *path;
	const char *label;
};

struct sources {
	struct source *v;
	int n, cap;
	char *stdin_buf;   /* standard input, read once */
	size_t stdin_len;
	int stdin_used;
};

static void add_source(struct sources *s, const char *path)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = realloc(s->v, (size_t)s->cap * sizeof *s->v);
		if (!s->v)
			od_die(OD_ENOMEM, "out of memory");
	}
	s->v[s->n].path = strdup(path);
	s->v[s->n].label = strcmp(path, "-") ? s->v[s->n].path : "<stdin>";
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
	if (strcmp(path, "-") && od_is_dir(path))
		add_dir(s, path);
	else
		add_source(s, path);
}

static void add_list(struct sources *s, const char *list)
{
	char *buf;
	size_t len;
	int rc = od_read_file(list, (size_t)64 << 20, &buf, &len);
	if (rc)
		od_fail(rc);
	for (char *save = NULL, *line = strtok_r(buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
		if (*line)
			add_input(s, line);
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
		*frames = is_frame_stream(*buf, *len);
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
	if ((*frames = is_frame_stream(magic, got)))
		return OD_OK;
	*owned = 1;
	return od_read_file(src->path, OD_IMAGE_MAX_FILE, buf, len);
}

struct opts {
	int W, H, crop, double_norm, mode;
	struct od_image_opts img;
	enum od_role role;
	const char *task, *sets[64];
	int n_sets;
};

/* Decode and preprocess picture src into x (3, H, W); the caller frees x. */
static int picture(const struct opts *o, const char *buf, size_t len, const char *label, float **x)
{
	struct od_image img;
	int rc = od_image_read_mem(&img, buf, len, label, &o->img);
	if (rc)
		return rc;
	*x = malloc((size_t)3 * o->H * o->W * sizeof **x);
	rc = *x ? od_preprocess_image(&img, o->H, o->W, o->crop, *x) : od_error(OD_ENOMEM, "out of memory");
	od_image_free(&img);
	return rc;
}

static int finish_frame(const struct opts *o, struct od_frame *f, const char *source)
{
	int rc = OD_OK;
	if (source && !od_frame_get(f, "source"))
		rc = od_frame_set(f, "source", source);
	if (!rc && o->task)
		rc = od_frame_set(f, "task", o->task);
	for (int k = 0; !rc && k < o->n_sets; k++) {
		char key[256];
		const char *eq = strchr(o->sets[k], '=');
		snprintf(key, sizeof key, "%.*s", (int)(eq - o->sets[k]), o->sets[k]);
		rc = od_frame_set(f, key, eq + 1);
	}
	return rc;
}

struct run {
	const struct opts *o;
	struct od_encoder *enc; /* NULL: --pixels */
	struct od_out *out;
};

/* Encode x (3, H, W) (or, with --pixels, keep it as an image frame) and write
 * the frame with the metadata of in (may be NULL) and of the options. */
static int emit(struct run *r, const float *x, int H, int W, const struct od_frame *in, const char *source)
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
	if (!rc && !(rc = finish_frame(r->o, &f, source)))
		rc = od_frame_write(r->out, &f);
	od_frame_free(&f);
	return rc;
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-encode");
	enum { O_LIST = 256, O_NOCROP, O_NODN, O_NOORIENT, O_MODE, O_SEED, O_SKIP, O_NOISE, O_ROLE, O_TASK, O_SET, O_PIXELS,
	       O_DEVICE, O_PROGRESS, O_PRECISION };
	static const struct option lopts[] = {
		{ "output", required_argument, 0, 'o' }, { "list", required_argument, 0, O_LIST },
		{ "size", required_argument, 0, 's' }, { "no-crop", no_argument, 0, O_NOCROP },
		{ "no-double-norm", no_argument, 0, O_NODN }, { "ignore-orientation", no_argument, 0, O_NOORIENT },
		{ "mode", no_argument, 0, O_MODE }, { "seed", required_argument, 0, O_SEED },
		{ "skip", required_argument, 0, O_SKIP }, { "noise", required_argument, 0, O_NOISE },
		{ "role", required_argument, 0, O_ROLE }, { "task", required_argument, 0, O_TASK },
		{ "set", required_argument, 0, O_SET }, { "pixels", no_argument, 0, O_PIXELS }, { "model", required_argument, 0, 'm' },
		{ "device", required_argument, 0, O_DEVICE }, { "threads", required_argument, 0, 'j' },
		{ "progress", optional_argument, 0, O_PROGRESS }, { "help", no_argument, 0, 'h' },
		{ "precision", required_argument, 0, O_PRECISION },
		{ "version", no_argument, 0, 'V' }, { 0 }
	};
	struct opts o = { .crop = 1, .double_norm = 1, .role = OD_ROLE_CONDITION };
	const char *out_path = "-", *model = getenv("OD_MODEL"), *noise_path = NULL, *lists[16];
	const char *dev_name = getenv("OD_DEVICE");
	int precision = -1;
	int n_lists = 0, threads = 0, have_seed = 0, pixels = 0;
	uint64_t seed = 0, skip = UINT64_MAX;
	enum od_progress_mode pmode = OD_PROGRESS_AUTO;
	int c;
	opterr = 0; /* one line of our own for a bad option */
	while ((c = getopt_long(argc, argv, ":o:s:m:j:hV", lopts, NULL)) != -1) {
		switch (c) {
		case 'o': out_path = optarg; break;
		case O_LIST:
			if (n_lists == 16)
				od_usage_error("--list: at most 16");
			lists[n_lists++] = optarg;
			break;
		case 's':
			od_opt_size("--size", optarg, &o.W, &o.H);
			if (o.W % 16 || o.H % 16)
				od_usage_error("--size: %dx%d is not a multiple of 16 (upstream requires it, pipe:859-860)",
					       o.W, o.H);
			if (o.W > 4096 || o.H > 4096)
				od_usage_error("--size: %dx%d is over 4096 pixels per side", o.W, o.H);
			break;
		case O_NOCROP: o.crop = 0; break;
		case O_NODN: o.double_norm = 0; break;
		case O_NOORIENT: o.img.ignore_orientation = 1; break;
		case O_MODE: o.mode = 1; break;
		case O_SEED:
			seed = (uint64_t)od_opt_int("--seed", optarg, 0, INT64_MAX);
			have_seed = 1;
			break;
		case O_SKIP: skip = (uint64_t)od_opt_int("--skip", optarg, 0, (long long)1 << 40); break;
		case O_NOISE: noise_path = optarg; break;
		case O_ROLE: {
			int r = od_role_parse(optarg);
			if (r != OD_ROLE_CONDITION && r != OD_ROLE_TARGET)
				od_usage_error("--role: '%s' is not condition or target", optarg);
			o.role = (enum od_role)r;
			break;
		}
		case O_TASK: o.task = optarg; break;
		case O_PIXELS: pixels = 1; break;
		case O_SET:
			if (!strchr(optarg, '=') || optarg[0] == '=')
				od_usage_error("--set: '%s' is not KEY=VALUE", optarg);
			if (o.n_sets == 64)
				od_usage_error("--set: at most 64");
			o.sets[o.n_sets++] = optarg;
			break;
		case 'm': model = optarg; break;
		case O_DEVICE: dev_name = optarg; break;
		case 'j': threads = (int)od_opt_int("--threads", optarg, 1, 1024); break;
		case O_PRECISION: precision = (int)od_opt_precision(optarg); break;
		case O_PROGRESS: pmode = od_opt_progress(optarg); break;
		case 'h': usage(); return 0;
		case 'V': od_version();
		case ':': od_usage_error("%s needs a value", argv[optind - 1]);
		default: od_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!pixels && (!model || !*model))
		od_usage_error("no model: give --model DIR or set OD_MODEL");
	enum od_device dev = od_opt_device(dev_name);
	if (o.mode + (noise_path != NULL) + have_seed > 1)
		od_usage_error("--mode, --seed and --noise exclude each other");
	if (skip != UINT64_MAX && noise_path)
		od_usage_error("--skip goes with --seed, not --noise");

	/* the inputs, in order */
	struct sources s = { 0 };
	for (int i = optind; i < argc; i++)
		add_input(&s, argv[i]);
	for (int i = 0; i < n_lists; i++)
		add_list(&s, lists[i]);
	if (!s.n && !n_lists)
		add_source(&s, "-");
	if (!s.n)
		od_die(OD_EFORMAT, "no input pictures");
	int n_stdin = 0;
	for (int i = 0; i < s.n; i++)
		n_stdin += !strcmp(s.v[i].path, "-");
	for (int i = 0; i < n_lists; i++)
		n_stdin += !strcmp(lists[i], "-");
	if (noise_path && !strcmp(noise_path, "-"))
		n_stdin++;
	if (n_stdin > 1)
		od_usage_error("standard input can be read only once");

	/* the size: --size, or the bucket of the first picture (an image frame
	 * fixes its own size) */
	int rc = OD_OK, any_picture = 0;
	char *buf;
	size_t len;
	int owned, frames;
	for (int i = 0; i < s.n && !rc; i++) {
		if ((rc = load(&s, &s.v[i], &buf, &len, &owned, &frames)))
			break;
		if (!frames) {
			any_picture = 1;
			if (!o.W) {
				struct od_image img;
				if (!(rc = od_image_read_mem(&img, buf, len, s.v[i].label, &o.img))) {
					const struct od_bucket *b = od_bucket_closest(img.height, img.width);
					o.H = b->height;
					o.W = b->width;
					od_image_free(&img);
				}
			}
		}
		if (owned)
			free(buf);
		if (any_picture)
			break;
	}
	if (rc)
		od_fail(rc);

	/* upstream's double normalisation looks at the minimum of the whole batch
	 * of condition pictures (improc:570-579): a first pass over them */
	int twice = 0;
	if (any_picture && o.double_norm) {
		float mn = INFINITY;
		for (int i = 0; i < s.n && !rc; i++) {
			if ((rc = load(&s, &s.v[i], &buf, &len, &owned, &frames)))
				break;
			if (!frames) {
				float *x;
				if (!(rc = picture(&o, buf, len, s.v[i].label, &x))) {
					float m = od_min_value(x, (size_t)3 * o.H * o.W);
					mn = m < mn ? m : mn;
					free(x);
				}
			}
			if (owned)
				free(buf);
		}
		if (rc)
			od_fail(rc);
		twice = mn >= 0.0f;
	}

	struct od_ctx *ctx = NULL;
	struct od_vae vae;
	struct od_encoder enc;
	struct od_reader noise;
	if (!pixels) {
		if (!(rc = od_ctx_create(&ctx, dev, threads)) && precision >= 0)
			ctx->precision = (enum od_precision)precision;
		if (rc || (rc = od_vae_open(&vae, ctx, model)))
			od_fail(rc);
		od_encoder_init(&enc, &vae);
		if (noise_path) {
			if ((rc = od_reader_open(&noise, noise_path)))
				od_fail(rc);
			od_encoder_use_noise(&enc, &noise);
		} else if (!o.mode) {
			od_encoder_use_seed(&enc, seed, skip);
		}
	}
	struct od_out out;
	if ((rc = od_out_open(&out, out_path)))
		od_fail(rc);
	struct run run = { &o, pixels ? NULL : &enc, &out };
	struct od_progress prog;
	od_progress_begin(&prog, pmode, "encode");
	long done = 0;
	for (int i = 0; i < s.n && !rc; i++) {
		const struct source *src = &s.v[i];
		if ((rc = load(&s, src, &buf, &len, &owned, &frames)))
			break;
		if (!frames) {
			float *x;
			if (!(rc = picture(&o, buf, len, src->label, &x))) {
				if (twice)
					od_double_normalize(x, (size_t)3 * o.H * o.W);
				rc = emit(&run, x, o.H, o.W, NULL, src->path);
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
				char d[160];
				int lead = in.ndim == 4 && in.shape[0] == 1;
				const int64_t *sh = in.shape + lead;
				if (in.kind != OD_KIND_IMAGE || !in.data || in.ndim - lead != 3 || sh[0] != 3)
					rc = od_error(OD_EFORMAT, "'%s': frame %ld is %s; od-encode takes image frames (3, H, W)",
						      src->label, idx, od_frame_describe(&in, d, sizeof d));
				else if (sh[1] % 16 || sh[2] % 16)
					rc = od_error(OD_EFORMAT, "'%s': frame %ld: %lldx%lld is not a multiple of 16",
						      src->label, idx, (long long)sh[2], (long long)sh[1]);
				else if (o.W && (sh[1] != o.H || sh[2] != o.W))
					rc = od_error(OD_EFORMAT, "'%s': frame %ld is %lldx%lld, not the %dx%d of this run",
						      src->label, idx, (long long)sh[2], (long long)sh[1], o.W, o.H);
				float *x = NULL;
				if (!rc && !(x = malloc((size_t)od_frame_numel(&in) * sizeof *x)))
					rc = od_error(OD_ENOMEM, "out of memory");
				if (!rc && !(rc = od_frame_to_f32(&in, x)))
					rc = emit(&run, x, (int)sh[1], (int)sh[2], &in, src->path);
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
		rc = od_error(OD_EFORMAT, "no pictures in the input");
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
	for (int i = 0; i < s.n; i++)
		free(s.v[i].path);
	free(s.v);
	free(s.stdin_buf);
	return 0;
}
