/*
 * fuzz_options: the tools' option parser (bin/options.c) on arbitrary command
 * lines.
 *
 * The input is split at NUL bytes into at most 24 arguments and parsed twice
 * against a table with an entry of every type (as the tools declare them):
 * once as given and once with the arguments in reverse order. The parser must
 * come back with a result and never read past argv: parsed (every value in its
 * range, the first operand inside argv), shown (help or the option list, to
 * /dev/null), or a usage error with a one-line message.
 * Seeds (fuzz/seeds/fuzz_options/): command lines of od-denoise and od-tag.
 */
#include "options.h"

#include "base/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out, *refs[3];
static int steps, all, progress, n_refs, size_calls;
static int64_t seed;
static double guidance;

static int size_cb(const struct od_option *opt, const char *arg)
{
	size_calls++;
	if (arg && strlen(arg) > 3)
		return od_error(OD_EINVAL, "--size: '%s' is too long", arg);
	return OD_OK;
}

static const struct od_choice words[] = { { "auto", 0, 0 }, { "none", 1, 0 }, { "off", 1, 1 }, { NULL, 0, 0 } };

static const struct od_option sub[] = {
	OD_OPT_LIST('r', "ref", refs, &n_refs, 3, "TEXT", "references"),
	OD_OPT_END(),
};

static const struct od_option table[] = {
	OD_OPT_GROUP("Options:"),
	OD_OPT_STRING('o', "output", &out, "OUT", "output"),
	OD_OPT_INT('n', "steps", &steps, "N", "steps", 1, 1000),
	OD_OPT_INT64('s', "seed", &seed, "S", "seed", 0, INT64_MAX),
	OD_OPT_NUM('g', "guidance", &guidance, "G", "guidance", -1, 1e6),
	OD_OPT_BOOL('a', "all", &all, "all"),
	OD_OPT_CHOICE_OPTARG(0, "progress", &progress, "MODE", "progress", words),
	OD_OPT_CALLBACK(0, "size", NULL, "WxH", "size", size_cb),
	OD_OPT_CALLBACK_OPTARG(0, "normalize", NULL, "D", "normalize", size_cb),
	OD_OPT_INCLUDE(sub),
	OD_OPT_HELP('h', "help", "help"),
	OD_OPT_END(),
};

static const struct od_usage usage = { "fuzz [OPTIONS] [FILE...]", "Fuzzing.\n", NULL };

static void parse(int argc, char **argv)
{
	out = NULL, steps = all = progress = n_refs = size_calls = 0, seed = 0, guidance = 0;
	int first;
	int rc = od_options_parse(argc, argv, table, &usage, &first);
	if (rc == OD_OPT_PARSED) {
		if (first < 1 || first > argc || n_refs > 3 || (steps && (steps < 1 || steps > 1000)) || seed < 0 ||
		    (progress != 0 && progress != 1))
			abort();
		for (int i = 0; i < n_refs; i++)
			if (!refs[i])
				abort();
	} else if (rc == OD_EINVAL) {
		if (!*od_errmsg())
			abort();
	} else if (rc != OD_OPT_SHOWN) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	if (!quiet)
		quiet = freopen("/dev/null", "w", stdout) != NULL;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	char *argv[26], *rev[26];
	int argc = 0;
	argv[argc++] = "fuzz";
	for (char *p = buf; p <= buf + size && argc < 25; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	rev[0] = argv[0];
	for (int i = 1; i < argc; i++)
		rev[i] = argv[argc - i];
	rev[argc] = NULL;
	parse(argc, argv);
	parse(argc, rev);
	free(buf);
	return 0;
}
