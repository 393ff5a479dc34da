/*
 * odcase: read the golden text-side data from shell tests (a test tool).
 *
 *   odcase CASES.json names              the case names, one per line
 *   odcase CASES.json bytes NAME         the prompt's exact bytes (prompt_utf8_hex), no newline
 *   odcase CASES.json ids NAME           input_ids[:num_real_tokens], space-separated
 *   odcase CASES.json get NAME FIELD     a field: string as is (no newline added),
 *                                        number, or integer array space-separated
 *   odcase FILE.safetensors meta KEY     a metadata value, as is
 *   odcase FILE.safetensors names        the tensor names, one per line (sorted)
 *   odcase FILE.safetensors ints NAME[i] an integer tensor (row i), space-separated
 *   odcase FILE.safetensors real NAME[i] MASK[i]
 *                                        the ints where MASK is 1, space-separated
 * Exit 0, or 2 with a message when something is missing.
 */
#include "od.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *m, const char *what)
{
	fprintf(stderr, "odcase: %s: %s\n", what, m);
	exit(2);
}

static json_t *find_case(json_t *root, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(root, "cases"), i, c) {
		if (!strcmp(json_string_value(json_object_get(c, "name")), name))
			return c;
	}
	die("no such case", name);
	return NULL;
}

static void print_value(json_t *v)
{
	if (json_is_string(v)) {
		fwrite(json_string_value(v), 1, json_string_length(v), stdout);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) printf(i ? " %lld" : "%lld", (long long)json_integer_value(e));
		printf("\n");
	} else if (json_is_integer(v)) {
		printf("%lld\n", (long long)json_integer_value(v));
	} else if (json_is_boolean(v)) {
		printf("%s\n", json_is_true(v) ? "true" : "false");
	} else {
		printf("null\n");
	}
}

/* NAME or NAME[i] of an integer tensor: values (row i) as int64. */
static int64_t *ints(const struct od_safetensors *st, const char *spec, size_t *n)
{
	char name[512];
	long row = -1;
	snprintf(name, sizeof name, "%s", spec);
	char *br = strchr(name, '[');
	if (br) {
		row = strtol(br + 1, NULL, 10);
		*br = 0;
	}
	const struct od_tensor *t = od_st_find(st, name);
	if (!t || t->dtype != OD_I64)
		die("no such I64 tensor", spec);
	size_t total = (size_t)od_tensor_numel(t), first = 0;
	*n = total;
	if (row >= 0) {
		if (t->ndim < 2 || row >= t->shape[0])
			die("no such row", spec);
		*n = total / (size_t)t->shape[0];
		first = (size_t)row * *n;
	}
	int64_t *v = malloc(*n * sizeof *v);
	memcpy(v, (const int64_t *)t->data + first, *n * sizeof *v);
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage: odcase FILE COMMAND ...", "odcase");
	const char *file = argv[1], *cmd = argv[2];
	if (strstr(file, ".safetensors")) {
		struct od_safetensors st;
		if (od_st_open(&st, file))
			die(od_errmsg(), file);
		if (!strcmp(cmd, "names") && argc == 3) {
			for (int i = 0; i < st.n_tensors; i++)
				printf("%s\n", st.tensors[i].name);
		} else if (!strcmp(cmd, "meta") && argc == 4) {
			const char *v = od_st_meta(&st, argv[3]);
			if (!v)
				die("no such metadata key", argv[3]);
			fputs(v, stdout);
		} else if (!strcmp(cmd, "ints") && argc == 4) {
			size_t n;
			int64_t *v = ints(&st, argv[3], &n);
			for (size_t i = 0; i < n; i++)
				printf(i ? " %lld" : "%lld", (long long)v[i]);
			printf("\n");
			free(v);
		} else if (!strcmp(cmd, "real") && argc == 5) {
			size_t n, nm;
			int64_t *v = ints(&st, argv[3], &n), *m = ints(&st, argv[4], &nm);
			if (n != nm)
				die("sizes differ", argv[4]);
			for (size_t i = 0, k = 0; i < n; i++)
				if (m[i])
					printf(k++ ? " %lld" : "%lld", (long long)v[i]);
			printf("\n");
			free(v);
			free(m);
		} else {
			die("unknown command", cmd);
		}
		od_st_close(&st);
		return 0;
	}
	json_error_t jerr;
	json_t *root = json_load_file(file, 0, &jerr);
	if (!root)
		die(jerr.text, file);
	if (!strcmp(cmd, "names")) {
		size_t i;
		json_t *c;
		json_array_foreach(json_object_get(root, "cases"), i, c) printf("%s\n",
										  json_string_value(json_object_get(c, "name")));
	} else if (!strcmp(cmd, "bytes") && argc == 4) {
		const char *h = json_string_value(json_object_get(find_case(root, argv[3]), "prompt_utf8_hex"));
		for (size_t i = 0; h && h[i] && h[i + 1]; i += 2) {
			unsigned v;
			sscanf(h + i, "%2x", &v);
			putchar((int)v);
		}
	} else if (!strcmp(cmd, "ids") && argc == 4) {
		json_t *c = find_case(root, argv[3]);
		json_t *ids = json_object_get(c, "input_ids");
		long long n = json_integer_value(json_object_get(c, "num_real_tokens"));
		for (long long i = 0; i < n; i++)
			printf(i ? " %lld" : "%lld", (long long)json_integer_value(json_array_get(ids, (size_t)i)));
		printf("\n");
	} else if (!strcmp(cmd, "get") && argc == 5) {
		json_t *v = json_object_get(find_case(root, argv[3]), argv[4]);
		if (!v)
			die("no such field", argv[4]);
		print_value(v);
	} else {
		die("unknown command", cmd);
	}
	json_decref(root);
	return 0;
}
