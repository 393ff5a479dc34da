/* od-frame: inspect, convert and select frame streams (od-frame(1), od-frame(5)). */
#include "od.h"
#include "formats/frame_safetensors.h"
#include "tool.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	printf("Usage: od-frame show [--stats] [FILE...]\n"
	       "       od-frame to-safetensors [-o OUT] [FILE...]\n"
	       "       od-frame from-safetensors [-o OUT] [--tensor NAME [--mask NAME] [--kind KIND]\n"
	       "                [--role ROLE[,ROLE...]] [--dtype T] [--squeeze] [--split]]... FILE\n"
	       "       od-frame select [-o OUT] [--kind KIND] [--role ROLE] [--index LIST]\n"
	       "                [--set-role ROLE] [--set KEY=VALUE]... [FILE...]\n"
	       "Inspect, convert and select od frame streams. FILE defaults to '-' (stdin).\n"
	       "  -o, --output OUT   write to OUT instead of stdout\n"
	       "      --stats        show min, max, mean and rms of each frame's data\n"
	       "  -h, --help         this help;  -V, --version  the version\n"
	       "See od-frame(1) and od-frame(5).\n");
}

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

static int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = { { "stats", no_argument, 0, 's' }, { "help", no_argument, 0, 'h' }, { 0 } };
	int stats = 0, c;
	while ((c = getopt_long(argc, argv, "sh", opts, NULL)) != -1) {
		if (c == 's')
			stats = 1;
		else if (c == 'h')
			usage(), exit(0);
		else
			od_usage_error("show: unknown option");
	}
	struct od_inputs in;
	od_inputs_init(&in, argv + optind, argc - optind);
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

static int cmd_to_st(int argc, char **argv)
{
	static const struct option opts[] = { { "output", required_argument, 0, 'o' }, { "help", no_argument, 0, 'h' },
					      { 0 } };
	const char *out_path = "-";
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if (c == 'o')
			out_path = optarg;
		else if (c == 'h')
			usage(), exit(0);
		else
			od_usage_error("to-safetensors: unknown option");
	}
	struct od_inputs in;
	od_inputs_init(&in, argv + optind, argc - optind);
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

static int cmd_from_st(int argc, char **argv)
{
	enum { O_TENSOR = 256, O_MASK, O_KIND, O_ROLE, O_DTYPE, O_SQUEEZE, O_SPLIT };
	static const struct option opts[] = {
		{ "output", required_argument, 0, 'o' }, { "tensor", required_argument, 0, O_TENSOR },
		{ "mask", required_argument, 0, O_MASK }, { "kind", required_argument, 0, O_KIND },
		{ "role", required_argument, 0, O_ROLE }, { "dtype", required_argument, 0, O_DTYPE },
		{ "squeeze", no_argument, 0, O_SQUEEZE }, { "split", no_argument, 0, O_SPLIT },
		{ "help", no_argument, 0, 'h' }, { 0 }
	};
	const char *out_path = "-";
	struct import imp[64];
	int n_imp = 0, c;
	struct import *cur = NULL;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if (c != 'o' && c != 'h' && c != O_TENSOR && !cur)
			od_usage_error("from-safetensors: --tensor must come before its options");
		switch (c) {
		case 'o': out_path = optarg; break;
		case 'h': usage(); exit(0);
		case O_TENSOR:
			if (n_imp == 64)
				od_usage_error("from-safetensors: at most 64 --tensor options");
			cur = &imp[n_imp++];
			memset(cur, 0, sizeof *cur);
			cur->tensor = optarg;
			cur->kind = OD_KIND_LATENT;
			cur->dtype = OD_F32;
			break;
		case O_MASK: cur->mask = optarg; break;
		case O_KIND: {
			int k = od_kind_parse(optarg);
			if (k < 0)
				od_usage_error("--kind: '%s' is not latent, rays, text, noise or image", optarg);
			cur->kind = (enum od_kind)k;
			break;
		}
		case O_ROLE: {
			char *s = strdup(optarg), *save = NULL;
			cur->n_roles = 0;
			for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				int r = od_role_parse(tok);
				if (r < 0)
					od_usage_error("--role: '%s' is not none, condition, target or negative", tok);
				if (cur->n_roles < 64)
					cur->roles[cur->n_roles++] = (enum od_role)r;
			}
			free(s);
			break;
		}
		case O_DTYPE:
			if (od_float_dtype_parse(optarg, &cur->dtype))
				od_usage_error("--dtype: '%s' is not f32, f16 or bf16", optarg);
			break;
		case O_SQUEEZE: cur->squeeze = 1; break;
		case O_SPLIT: cur->split = 1; break;
		default: od_usage_error("from-safetensors: unknown option");
		}
	}
	if (optind != argc - 1)
		od_usage_error("from-safetensors: give exactly one input file");
	struct od_safetensors st;
	int rc = od_st_open(&st, argv[optind]);
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

static int cmd_select(int argc, char **argv)
{
	enum { O_KIND = 256, O_ROLE, O_INDEX, O_SET_ROLE, O_SET };
	static const struct option opts[] = {
		{ "output", required_argument, 0, 'o' }, { "kind", required_argument, 0, O_KIND },
		{ "role", required_argument, 0, O_ROLE }, { "index", required_argument, 0, O_INDEX },
		{ "set-role", required_argument, 0, O_SET_ROLE }, { "set", required_argument, 0, O_SET },
		{ "help", no_argument, 0, 'h' }, { 0 }
	};
	const char *out_path = "-", *index = NULL, *sets[64];
	int kind = -1, role = -1, set_role = -1, n_sets = 0, c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out_path = optarg; break;
		case 'h': usage(); exit(0);
		case O_KIND:
			if ((kind = od_kind_parse(optarg)) < 0)
				od_usage_error("--kind: '%s' is not latent, rays, text, noise or image", optarg);
			break;
		case O_ROLE:
			if ((role = od_role_parse(optarg)) < 0)
				od_usage_error("--role: '%s' is not none, condition, target or negative", optarg);
			break;
		case O_SET_ROLE:
			if ((set_role = od_role_parse(optarg)) < 0)
				od_usage_error("--set-role: '%s' is not none, condition, target or negative", optarg);
			break;
		case O_INDEX:
			index = optarg;
			in_list(index, -1); /* validate early */
			break;
		case O_SET:
			if (!strchr(optarg, '=') || optarg[0] == '=')
				od_usage_error("--set: '%s' is not KEY=VALUE", optarg);
			if (n_sets == 64)
				od_usage_error("--set: at most 64");
			sets[n_sets++] = optarg;
			break;
		default: od_usage_error("select: unknown option");
		}
	}
	struct od_inputs in;
	od_inputs_init(&in, argv + optind, argc - optind);
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
			for (int k = 0; !rc && k < n_sets; k++) {
				char key[256];
				const char *eq = strchr(sets[k], '=');
				snprintf(key, sizeof key, "%.*s", (int)(eq - sets[k]), sets[k]);
				rc = od_frame_set(&f, key, eq + 1);
			}
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

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-frame");
	if (argc < 2)
		od_usage_error("give a command: show, to-safetensors, from-safetensors or select");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage();
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version"))
		od_version();
	argv[1] = argv[0];
	if (!strcmp(cmd, "show"))
		return cmd_show(argc - 1, argv + 1);
	if (!strcmp(cmd, "to-safetensors"))
		return cmd_to_st(argc - 1, argv + 1);
	if (!strcmp(cmd, "from-safetensors"))
		return cmd_from_st(argc - 1, argv + 1);
	if (!strcmp(cmd, "select"))
		return cmd_select(argc - 1, argv + 1);
	od_usage_error("unknown command '%s'", cmd);
}
