/* od-frame: inspect, convert and select frame streams (od-frame(1), od-frame(5)). */
#include "od.h"
#include "formats/frame_safetensors.h"
#include "tool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct od_usage usage = {
	.description = "Inspect, convert and select od frame streams. FILE defaults to '-' (stdin).\n",
	.footer = "See od-frame(1) and od-frame(5).\n",
};

/* The largest .safetensors file read from standard input (it is held in memory). */
#define MAX_STDIN ((size_t)1 << 36)

static void print_value(const char *v)
{
	putchar('"');
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			printf("\\n");
		else if ((unsigned char)*p < 0x20)
			printf("\\x%02x", (unsigned char)*p);
		else
			putchar(*p);
	}
	putchar('"');
}

static int cmd_show(int argc, char **argv, const struct od_command *cmd)
{
	int stats = 0;
	const struct od_option opts[] = {
		OD_OPT_BOOL(0, "stats", &stats, "show min, max, mean and rms of each frame's data"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	od_refuse_terminal_input(argv + first, argc - first, "frames");
	struct od_inputs in;
	od_inputs_init(&in, argv + first, argc - first);
	struct od_frame f;
	int rc;
	long idx = 0;
	while ((rc = od_inputs_next(&in, &f)) > 0) {
		char d[256];
		printf("%ld: %s", idx++, od_frame_describe(&f, d, sizeof d));
		if (f.mask) {
			size_t ones = 0;
			for (size_t i = 0; i < f.mask_len; i++)
				ones += f.mask[i];
			printf(" mask=%zu/%zu", ones, f.mask_len);
		}
		if (stats && f.data) {
			size_t n = (size_t)od_frame_numel(&f);
			float *x = malloc(n * sizeof *x);
			if (!x)
				od_die(OD_ENOMEM, "out of memory");
			od_frame_to_f32(&f, x);
			double mn = INFINITY, mx = -INFINITY, s = 0, ss = 0;
			for (size_t i = 0; i < n; i++) {
				mn = x[i] < mn ? x[i] : mn;
				mx = x[i] > mx ? x[i] : mx;
				s += x[i];
				ss += (double)x[i] * x[i];
			}
			printf(" min=%.6g max=%.6g mean=%.6g rms=%.6g", mn, mx, s / n, sqrt(ss / n));
			free(x);
		}
		for (int i = 0; i < f.n_meta; i++) {
			printf(" %s=", f.meta[i].key);
			print_value(f.meta[i].value);
		}
		putchar('\n');
		od_frame_free(&f);
	}
	if (fflush(stdout) != 0)
		od_die(OD_EIO, "<stdout>: write failed");
	if (rc < 0)
		od_fail(rc);
	return 0;
}

static int cmd_to_st(int argc, char **argv, const struct od_command *cmd)
{
	const char *out_path = "-";
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &out_path, "OUT", "write to OUT instead of stdout"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	od_refuse_terminal_input(argv + first, argc - first, "frames");
	od_refuse_terminal_output(out_path, "a safetensors file");
	struct od_inputs in;
	od_inputs_init(&in, argv + first, argc - first);
	struct od_frame *frames = NULL;
	int n = 0, rc;
	for (;;) {
		struct od_frame *nf = realloc(frames, (size_t)(n + 1) * sizeof *nf);
		if (!nf)
			od_die(OD_ENOMEM, "out of memory");
		frames = nf;
		rc = od_inputs_next(&in, &frames[n]);
		if (rc <= 0)
			break;
		n++;
	}
	if (rc < 0)
		od_fail(rc);
	struct od_out out;
	if ((rc = od_out_open(&out, out_path)))
		od_fail(rc);
	rc = od_frames_write_safetensors(&out, frames, n);
	if (!rc)
		rc = od_out_commit(&out);
	if (rc) {
		od_out_abort(&out);
		od_fail(rc);
	}
	for (int i = 0; i < n; i++)
		od_frame_free(&frames[i]);
	free(frames);
	return 0;
}

struct import {
	const char *tensor, *mask;
	enum od_kind kind;
	enum od_role roles[64];
	int n_roles, squeeze, split;
	enum od_dtype dtype;
};

/* The --tensor options: each one starts an import that the options after it
 * describe. */
struct imports {
	struct import v[64];
	int n;
};

/* The import the option describes: the last --tensor's. */
static struct import *current(const struct od_option *opt)
{
	struct imports *im = opt->value;
	if (!im->n)
		od_usage_error("--tensor must come before its options");
	return &im->v[im->n - 1];
}

static int tensor_cb(const struct od_option *opt, const char *arg)
{
	struct imports *im = opt->value;
	if (im->n == (int)(sizeof im->v / sizeof *im->v))
		return od_error(OD_EINVAL, "at most %d --tensor options", (int)(sizeof im->v / sizeof *im->v));
	struct import *cur = &im->v[im->n++];
	memset(cur, 0, sizeof *cur);
	cur->tensor = arg;
	cur->kind = OD_KIND_LATENT;
	cur->dtype = OD_F32;
	return OD_OK;
}

static int mask_cb(const struct od_option *opt, const char *arg)
{
	current(opt)->mask = arg;
	return OD_OK;
}

/* --kind for from-safetensors (the current import) and select (an int). */
static int parse_kind(const char *arg)
{
	int k = od_kind_parse(arg);
	if (k < 0)
		od_usage_error("--kind: '%s' is not latent, rays, text, noise or image", arg);
	return k;
}

static int kind_cb(const struct od_option *opt, const char *arg)
{
	struct import *cur = current(opt);
	cur->kind = (enum od_kind)parse_kind(arg);
	return OD_OK;
}

static int roles_cb(const struct od_option *opt, const char *arg)
{
	struct import *cur = current(opt);
	char *s = strdup(arg), *save = NULL;
	if (!s)
		od_die(OD_ENOMEM, "out of memory");
	cur->n_roles = 0;
	for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int r = od_role_parse(tok);
		if (r < 0) {
			od_error(OD_EINVAL, "--role: '%s' is not none, condition, target or negative", tok);
			free(s);
			return OD_EINVAL;
		}
		if (cur->n_roles < 64)
			cur->roles[cur->n_roles++] = (enum od_role)r;
	}
	free(s);
	return OD_OK;
}

static int dtype_cb(const struct od_option *opt, const char *arg)
{
	struct import *cur = current(opt);
	const struct od_option o = { .long_name = "dtype", .value = &cur->dtype };
	return od_opt_dtype_cb(&o, arg);
}

static int squeeze_cb(const struct od_option *opt, const char *arg)
{
	current(opt)->squeeze = 1;
	return OD_OK;
}

static int split_cb(const struct od_option *opt, const char *arg)
{
	current(opt)->split = 1;
	return OD_OK;
}

static int cmd_from_st(int argc, char **argv, const struct od_command *cmd)
{
	const char *out_path = "-";
	struct imports im = { .n = 0 };
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &out_path, "OUT", "write to OUT instead of stdout"),
		OD_OPT_CALLBACK(0, "tensor", &im, "NAME",
				"turn the tensor NAME, of any numeric type, into frames (repeat); the options "
				"below apply to the last --tensor. Without --tensor: read back a file written by "
				"to-safetensors", tensor_cb),
		OD_OPT_CALLBACK(0, "mask", &im, "NAME",
				"a tensor whose values become the frames' mask planes, split the same way", mask_cb),
		OD_OPT_CALLBACK(0, "kind", &im, "KIND", "latent (default), rays, text, noise or image", kind_cb),
		OD_OPT_CALLBACK(0, "role", &im, "ROLE[,ROLE...]",
				"none, condition, target or negative; a comma-separated list gives one role per "
				"frame, the last repeating",
				roles_cb),
		OD_OPT_CALLBACK(0, "dtype", &im, "T", "frame data type: f32 (default), f16 or bf16", dtype_cb),
		OD_OPT_CALLBACK(0, "squeeze", &im, NULL, "drop leading dimensions of size 1", squeeze_cb),
		OD_OPT_CALLBACK(0, "split", &im, NULL, "one frame per index of the first remaining dimension", split_cb),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	const struct import *imp = im.v;
	const int n_imp = im.n;
	if (first != argc - 1)
		od_usage_error("give exactly one input file ('-': standard input)");
	od_refuse_terminal_input(argv + first, 1, "a safetensors file");
	od_refuse_terminal_output(out_path, "frames");
	struct od_safetensors st = { .path = NULL };
	char *stdin_buf = NULL; /* standard input, read whole: the tensors point into it */
	size_t stdin_len;
	int rc;
	if (!strcmp(argv[first], "-")) {
		if (!(st.path = strdup("<stdin>")))
			rc = od_error(OD_ENOMEM, "out of memory");
		else if (!(rc = od_read_file("-", MAX_STDIN, &stdin_buf, &stdin_len)))
			rc = od_st_parse(&st, stdin_buf, stdin_len, "<stdin>");
	} else {
		rc = od_st_open(&st, argv[first]);
	}
	if (rc)
		od_fail(rc == OD_EMODEL ? OD_EIO : rc);
	struct od_out out;
	if ((rc = od_out_open(&out, out_path)))
		od_fail(rc);
	struct od_frame *frames = NULL;
	int n = 0;
	if (!n_imp) {
		rc = od_frames_read_safetensors(&st, &frames, &n);
		for (int i = 0; !rc && i < n; i++)
			rc = od_frame_write(&out, &frames[i]);
		for (int i = 0; i < n; i++)
			od_frame_free(&frames[i]);
		free(frames);
	}
	for (int k = 0; !rc && k < n_imp; k++) {
		rc = od_frames_from_tensor(&st, imp[k].tensor, imp[k].mask, imp[k].kind, imp[k].roles, imp[k].n_roles,
					   imp[k].dtype, imp[k].squeeze, imp[k].split, &frames, &n);
		for (int i = 0; !rc && i < n; i++)
			rc = od_frame_write(&out, &frames[i]);
		for (int i = 0; !rc && i < n; i++)
			od_frame_free(&frames[i]);
		if (!rc)
			free(frames);
	}
	if (!rc)
		rc = od_out_commit(&out);
	od_st_close(&st);
	free(stdin_buf);
	if (rc) {
		od_out_abort(&out);
		od_fail(rc);
	}
	return 0;
}

/* "0,2,5-7" -> membership test */
static int in_list(const char *list, long i)
{
	const char *p = list;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b = a;
		if (end == p)
			od_usage_error("--index: '%s' is not a list like 0,2,5-7", list);
		if (*end == '-') {
			p = end + 1;
			b = strtol(p, &end, 10);
			if (end == p)
				od_usage_error("--index: '%s' is not a list like 0,2,5-7", list);
		}
		if (i >= a && i <= b)
			return 1;
		p = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			od_usage_error("--index: '%s' is not a list like 0,2,5-7", list);
	}
	return 0;
}

static int select_kind_cb(const struct od_option *opt, const char *arg)
{
	*(int *)opt->value = parse_kind(arg);
	return OD_OK;
}

static int index_cb(const struct od_option *opt, const char *arg)
{
	in_list(arg, -1); /* validate early */
	*(const char **)opt->value = arg;
	return OD_OK;
}

static int cmd_select(int argc, char **argv, const struct od_command *cmd)
{
	const char *out_path = "-", *index = NULL;
	int kind = -1, role = -1, set_role = -1;
	struct od_kv_list sets = { .n = 0 };
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &out_path, "OUT", "write to OUT instead of stdout"),
		OD_OPT_CALLBACK(0, "kind", &kind, "KIND", "copy frames of this kind (latent, rays, text, noise, image)",
				select_kind_cb),
		OD_OPT_CALLBACK(0, "role", &role, "ROLE", "copy frames of this role (none, condition, target, negative)",
				od_opt_role_cb),
		OD_OPT_CALLBACK(0, "index", &index, "LIST", "copy the frames with these numbers, from 0 (0,2,5-7)",
				index_cb),
		OD_OPT_CALLBACK(0, "set-role", &set_role, "ROLE", "change the role of the copied frames", od_opt_role_cb),
		OD_OPT_CALLBACK(0, "set", &sets, "KEY=VALUE", "add or replace metadata of the copied frames (repeatable)",
				od_opt_set_cb),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	od_refuse_terminal_input(argv + first, argc - first, "frames");
	od_refuse_terminal_output(out_path, "frames");
	struct od_inputs in;
	od_inputs_init(&in, argv + first, argc - first);
	struct od_out out;
	int rc = od_out_open(&out, out_path);
	if (rc)
		od_fail(rc);
	struct od_frame f;
	long i = 0;
	int got;
	while ((got = od_inputs_next(&in, &f)) > 0) {
		int keep = (kind < 0 || (int)f.kind == kind) && (role < 0 || (int)f.role == role) &&
			   (!index || in_list(index, i));
		i++;
		if (keep) {
			if (set_role >= 0)
				f.role = (enum od_role)set_role;
			rc = od_frame_set_all(&f, &sets);
			if (!rc)
				rc = od_frame_write(&out, &f);
		}
		od_frame_free(&f);
		if (rc)
			break;
	}
	if (!rc && got < 0)
		rc = got;
	if (!rc)
		rc = od_out_commit(&out);
	if (rc) {
		od_out_abort(&out);
		od_fail(rc);
	}
	return 0;
}

/* A frame's job (pipeline/batch.h): its job metadata, else the job of the
 * frame before it (*job, -1 before any). */
static int job_of(const struct od_frame *f, const char *label, long index, long *job)
{
	long j;
	int rc = od_frame_job(f, &j);
	if (rc < 0)
		return od_error_prefix(rc, "'%s': frame %ld", label, index);
	if (rc)
		*job = j;
	else if (*job < 0)
		return od_error(OD_EFORMAT, "'%s': frame %ld has no job number (job=...), nor a frame before it", label,
				index);
	return OD_OK;
}

static int cmd_split(int argc, char **argv, const struct od_command *cmd)
{
	const char *pattern = NULL;
	long shards = 0;
	int64_t n64 = 0;
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &pattern, "PATTERN",
			      "the shards' files: a name with %d, the shard's number (part-%d.odf)"),
		OD_OPT_INT64(0, "shards", &n64, "N", "how many shards: job J goes to shard J mod N", 1, 1000000),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	shards = (long)n64;
	if (!shards || !pattern)
		od_usage_error("split needs --shards N and -o PATTERN");
	int what = od_name_check(pattern);
	if (what < 0)
		od_usage_error("--output: %s", od_errmsg());
	if (what != OD_NAME_NUMBER)
		od_usage_error("--output: '%s' must hold %%d (the shard's number) and no %%{KEY}", pattern);
	od_refuse_terminal_input(argv + first, argc - first, "frames");
	struct od_out_group g;
	od_group_init(&g);
	struct od_out **outs = calloc((size_t)shards, sizeof *outs);
	if (!outs)
		od_die(OD_ENOMEM, "out of memory");
	int rc = OD_OK, got;
	for (long i = 0; !rc && i < shards; i++) {
		char name[4096];
		if (!(rc = od_name_expand(pattern, i, NULL, 0, "", name, sizeof name)))
			rc = od_group_open(&g, name, &outs[i]);
	}
	struct od_inputs in;
	od_inputs_init(&in, argv + first, argc - first);
	struct od_frame f;
	long job = -1;
	int last_file = -1;
	while (!rc && (got = od_inputs_next(&in, &f)) != 0) {
		if (got < 0) {
			rc = got;
			break;
		}
		if (last_file != in.i)
			job = -1, last_file = in.i; /* a new file starts its own jobs */
		if (!(rc = job_of(&f, in.label, in.index, &job)))
			rc = od_frame_write(outs[job % shards], &f);
		od_frame_free(&f);
	}
	od_inputs_close(&in);
	if (!rc)
		rc = od_group_commit(&g);
	free(outs);
	if (rc) {
		od_group_abort(&g);
		od_fail(rc);
	}
	return 0;
}

/* concat: one input's next frame and its job. */
struct head {
	struct od_reader r;
	struct od_frame f;
	int have;    /* f holds the next frame */
	long job;    /* its job */
	long index;  /* its number in the file */
};

static int advance(struct head *h)
{
	int got = od_reader_next(&h->r, &h->f);
	if (got <= 0) {
		h->have = 0;
		return got;
	}
	h->index = (long)h->r.index - 1;
	h->have = 1;
	long prev = h->job;
	int rc = job_of(&h->f, h->r.label, h->index, &h->job);
	if (!rc && h->job < prev)
		rc = od_error(OD_EFORMAT, "'%s': frame %ld is job %ld after job %ld: concat takes streams in job "
					  "order (od-frame split's shards, a shard of a pipeline)", h->r.label, h->index,
			      h->job, prev);
	if (rc) {
		od_frame_free(&h->f);
		h->have = 0;
	}
	return rc;
}

static int cmd_concat(int argc, char **argv, const struct od_command *cmd)
{
	const char *out_path = "-";
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &out_path, "OUT", "write to OUT instead of stdout"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	const int n = argc - first;
	if (n < 1)
		od_usage_error("concat needs the streams to merge: FILE...");
	int n_stdin = 0;
	for (int i = first; i < argc; i++)
		n_stdin += !strcmp(argv[i], "-");
	if (n_stdin > 1)
		od_usage_error("standard input can be read only once");
	od_refuse_terminal_input(argv + first, n, "frames");
	od_refuse_terminal_output(out_path, "frames");
	struct head *h = calloc((size_t)n, sizeof *h);
	if (!h)
		od_die(OD_ENOMEM, "out of memory");
	int rc = OD_OK;
	for (int i = 0; !rc && i < n; i++) {
		h[i].job = -1;
		if (!(rc = od_reader_open(&h[i].r, argv[first + i])))
			rc = advance(&h[i]);
	}
	struct od_out out;
	if (!rc)
		rc = od_out_open(&out, out_path);
	else
		od_fail(rc);
	/* merge: the smallest job first, all of its frames; a job in two inputs is
	 * an error (it would be made twice) */
	long last = -1;
	int last_from = -1;
	while (!rc) {
		int k = -1;
		for (int i = 0; i < n; i++)
			if (h[i].have && (k < 0 || h[i].job < h[k].job))
				k = i;
		if (k < 0)
			break;
		if (h[k].job == last) {
			rc = od_error(OD_EFORMAT, "job %ld is in both '%s' and '%s'", last, h[last_from].r.label,
				      h[k].r.label);
			break;
		}
		last = h[k].job;
		last_from = k;
		while (!rc && h[k].have && h[k].job == last) {
			rc = od_frame_write(&out, &h[k].f);
			od_frame_free(&h[k].f);
			h[k].have = 0;
			if (!rc)
				rc = advance(&h[k]);
		}
	}
	for (int i = 0; i < n; i++) {
		if (h[i].have)
			od_frame_free(&h[i].f);
		od_reader_close(&h[i].r);
	}
	free(h);
	if (!rc)
		rc = od_out_commit(&out);
	if (rc) {
		od_out_abort(&out);
		od_fail(rc);
	}
	return 0;
}

static const struct od_command commands[] = {
	{ "show", cmd_show, "one line per frame: kind, type, shape, role, mask, metadata",
	  "od-frame show [--stats] [FILE...]" },
	{ "to-safetensors", cmd_to_st, "write all frames to one .safetensors file",
	  "od-frame to-safetensors [-o OUT] [FILE...]" },
	{ "from-safetensors", cmd_from_st, "make frames from the tensors of a .safetensors file",
	  "od-frame from-safetensors [-o OUT] [--tensor NAME [--mask NAME]\n"
	  "         [--kind KIND] [--role ROLE[,ROLE...]] [--dtype T] [--squeeze]\n"
	  "         [--split]]... FILE" },
	{ "select", cmd_select, "copy the frames that match, changing role and metadata",
	  "od-frame select [-o OUT] [--kind KIND] [--role ROLE] [--index LIST]\n"
	  "         [--set-role ROLE] [--set KEY=VALUE]... [FILE...]" },
	{ "split", cmd_split, "split a stream by job into N shards: job J to shard J mod N",
	  "od-frame split --shards N -o PATTERN [FILE...]" },
	{ "concat", cmd_concat, "merge streams in job order (shards back into one batch)",
	  "od-frame concat [-o OUT] FILE..." },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-frame");
	return od_run_command(argc, argv, commands, &usage);
}
