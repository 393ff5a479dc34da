/*
 * odcmp: compare two tensors element by element with a tolerance (a test tool).
 *
 *   odcmp [--atol A] [--rtol R] [--exact] ACTUAL EXPECTED
 *   odcmp --atol A --zero ACTUAL       |actual| <= A everywhere
 *
 * An operand is either
 *   FILE.safetensors:NAME[i]   a tensor (optionally one index, or [i:j] a range,
 *                              of its first dimension), any numeric dtype; or
 *   STREAM[@LIST]              an od frame stream: the data of its frames
 *                              (those in LIST, e.g. @0,2-3) back to back.
 * Values are compared in flattened order; the counts must agree. Passes when
 * |actual − expected| <= atol + rtol·|expected| everywhere (--exact: equal
 * bits as float32). On failure it prints the worst element, its index in the
 * expected tensor's shape, both values, and the maximum difference. Exit 0
 * pass, 1 fail, 2 usage or unreadable input.
 */
#include "od.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vec {
	double *v;
	size_t n;
	int ndim;
	int64_t shape[OD_MAX_DIMS];
	char label[512];
};


static int in_list(const char *list, long i)
{
	const char *p = list;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b = a;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		if (i >= a && i <= b)
			return 1;
		if (*end != ',')
			break;
		p = end + 1;
	}
	return 0;
}

static void die(const char *m, const char *what)
{
	fprintf(stderr, "odcmp: %s%s%s\n", what ? what : "", what ? ": " : "", m);
	exit(2);
}

static void load(const char *arg, struct vec *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->label, sizeof out->label, "%s", arg);
	const char *colon = strstr(arg, ".safetensors:");
	if (colon) {
		char path[1024], name[512];
		snprintf(path, sizeof path, "%.*s", (int)(colon - arg) + 12, arg);
		snprintf(name, sizeof name, "%s", colon + 13);
		long lo = -1, hi = -1;
		char *br = strchr(name, '[');
		if (br) {
			*br = 0;
			char *end;
			lo = strtol(br + 1, &end, 10);
			hi = lo + 1;
			if (*end == ':')
				hi = strtol(end + 1, &end, 10);
			if (*end != ']' || lo < 0 || hi <= lo)
				die("bad index", arg);
		}
		struct od_safetensors st;
		if (od_st_open(&st, path))
			die(od_errmsg(), NULL);
		const struct od_tensor *t = od_st_find(&st, name);
		if (!t)
			die("no such tensor", arg);
		size_t total = (size_t)od_tensor_numel(t), per = total, first = 0, count = total;
		out->ndim = t->ndim;
		memcpy(out->shape, t->shape, sizeof out->shape);
		if (lo >= 0) {
			if (t->ndim < 1 || hi > t->shape[0])
				die("index out of range", arg);
			per = total / (size_t)t->shape[0];
			first = (size_t)lo * per;
			count = (size_t)(hi - lo) * per;
			out->shape[0] = hi - lo;
		}
		out->v = malloc((count ? count : 1) * sizeof *out->v);
		for (size_t i = 0; i < count; i++)
			out->v[i] = od_tensor_elem(t, first + i);
		out->n = count;
		od_st_close(&st);
		return;
	}
	char path[1024];
	const char *at = strrchr(arg, '@'), *list = NULL;
	snprintf(path, sizeof path, "%s", arg);
	if (at && !od_is_file(arg)) {
		snprintf(path, sizeof path, "%.*s", (int)(at - arg), arg);
		list = at + 1;
	}
	struct od_reader r;
	if (od_reader_open(&r, path))
		die(od_errmsg(), NULL);
	struct od_frame f;
	int rc;
	long idx = 0;
	size_t cap = 0;
	while ((rc = od_reader_next(&r, &f)) > 0) {
		if (!list || in_list(list, idx)) {
			if (!f.data)
				die("frame is a placeholder", arg);
			size_t n = (size_t)od_frame_numel(&f);
			if (out->n + n > cap) {
				cap = (out->n + n) * 2;
				out->v = realloc(out->v, cap * sizeof *out->v);
			}
			float *tmp = malloc(n * sizeof *tmp);
			od_frame_to_f32(&f, tmp);
			for (size_t i = 0; i < n; i++)
				out->v[out->n + i] = tmp[i];
			free(tmp);
			out->n += n;
			out->ndim = f.ndim;
			memcpy(out->shape, f.shape, sizeof f.shape);
		}
		idx++;
		od_frame_free(&f);
	}
	if (rc < 0)
		die(od_errmsg(), NULL);
	od_reader_close(&r);
	out->ndim = 0; /* a concatenation: report flat indices */
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "atol", required_argument, 0, 'a' }, { "rtol", required_argument, 0, 'r' },
					      { "exact", no_argument, 0, 'e' }, { "zero", no_argument, 0, 'z' },
					      { 0 } };
	double atol = 0, rtol = 0;
	int exact = 0, zero = 0, c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			atol = atof(optarg);
		else if (c == 'r')
			rtol = atof(optarg);
		else if (c == 'e')
			exact = 1;
		else if (c == 'z')
			zero = 1;
		else
			die("usage: odcmp [--atol A] [--rtol R] [--exact] ACTUAL EXPECTED | --zero ACTUAL", NULL);
	}
	if (argc - optind != 2 - zero)
		die("usage: odcmp [--atol A] [--rtol R] [--exact] ACTUAL EXPECTED | --zero ACTUAL", NULL);
	struct vec a, e;
	load(argv[optind], &a);
	if (zero) { /* the expected values: zeros of the actual's shape */
		e = a;
		snprintf(e.label, sizeof e.label, "%.480s (against 0)", a.label);
		e.v = calloc(a.n ? a.n : 1, sizeof *e.v);
	} else {
		load(argv[optind + 1], &e);
	}
	if (a.n != e.n) {
		fprintf(stderr, "odcmp: %s has %zu values, %s has %zu\n", a.label, a.n, e.label, e.n);
		free(a.v);
		free(e.v);
		return 1;
	}
	size_t worst = 0;
	double worst_ex = -INFINITY, max_abs = 0;
	int bad = 0;
	for (size_t i = 0; i < a.n; i++) {
		double d = fabs(a.v[i] - e.v[i]), lim = atol + rtol * fabs(e.v[i]);
		int fail = exact ? (float)a.v[i] != (float)e.v[i] : !(d <= lim);
		double ex = isnan(d) ? INFINITY : d - lim;
		if (fail)
			bad = 1;
		if (ex > worst_ex)
			worst_ex = ex, worst = i;
		if (d > max_abs || isnan(d))
			max_abs = d;
	}
	char idx[256] = "";
	if (e.ndim > 0) {
		size_t rem = worst;
		int64_t sub[OD_MAX_DIMS];
		for (int d = e.ndim - 1; d >= 0; d--) {
			sub[d] = (int64_t)(rem % (size_t)e.shape[d]);
			rem /= (size_t)e.shape[d];
		}
		od_shape_str(idx, sizeof idx, e.ndim, sub);
	}
	if (bad) {
		fprintf(stderr, "odcmp: FAIL %s vs %s: max abs diff %.6g; worst element %zu %s: actual %.9g expected %.9g "
				"(atol %g, rtol %g%s)\n",
			a.label, e.label, max_abs, worst, idx, a.v[worst], e.v[worst], atol, rtol, exact ? ", exact" : "");
		free(a.v);
		free(e.v);
		return 1;
	}
	printf("odcmp: ok %s: max abs diff %.3g over %zu values (atol %g, rtol %g%s)\n", e.label, max_abs, a.n, atol,
	       rtol, exact ? ", exact" : "");
	free(a.v);
	free(e.v);
	return 0;
}
