/*
 * test_options: the tools' option parser and help generator (bin/options.c),
 * driven with argv arrays: values of every type, ranges, bad numbers, missing
 * values, unknown and ambiguous options, permutation, `--`, `-`, optional
 * values, includes, broken tables, and the generated help and option list;
 * then the options the tools share (bin/tool.c: OD_OPT_COMMON and a part of
 * it, OD_OPT_COMMON_SOME) with their environment defaults.
 * tests/t0140-options.sh checks the tools themselves.
 */
#include "options.h"
#include "tool.h"

#include "base/error.h"
#include "tap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The values a table fills, reset before every parse. */
static const char *out;
static int steps, all, mode, progress, n_refs, size, finished;
static int64_t seed;
static double guidance;
static const char *refs[2], *normalize_arg, *extra;
static int normalize_calls;

static int size_cb(const struct od_option *opt, const char *arg)
{
	if (strcmp(arg, "3") && strcmp(arg, "5"))
		return od_error(OD_EINVAL, "--size: '%s' is not 3 or 5", arg);
	*(int *)opt->value = atoi(arg);
	return OD_OK;
}

static int normalize_cb(const struct od_option *opt, const char *arg)
{
	normalize_arg = arg;
	normalize_calls++;
	return OD_OK;
}

static const struct od_choice progress_words[] = {
	{ "auto", 0, 0 }, { "none", 1, 0 }, { "machine", 2, 0 }, { NULL, 0, 0 }
};
static const struct od_choice mode_words[] = { { "x", 10, 0 }, { "y", 11, 0 }, { "z", 11, 1 }, { NULL, 0, 0 } };

/* An included table built for its value, with defaults and a final check. */
struct sub {
	const char *extra;
	int checked;
};

static int sub_expand(void *value, struct od_option *o, int room)
{
	struct sub *s = value;
	s->extra = "default";
	const struct od_option t[] = { OD_OPT_STRING('x', "extra", &s->extra, "X", "an included option") };
	memcpy(o, t, sizeof t);
	return 1;
}

static int sub_finish(void *value)
{
	struct sub *s = value;
	s->checked = 1;
	if (!strcmp(s->extra, "bad"))
		return od_error(OD_EINVAL, "--extra: 'bad' is refused after parsing");
	return OD_OK;
}

static struct sub sub;

static const struct od_option fixed_sub[] = {
	OD_OPT_BOOL('F', "fixed", &finished, "an option of a fixed included table"),
	OD_OPT_END(),
};

static const struct od_option table[] = {
	OD_OPT_GROUP("Values:"),
	OD_OPT_STRING('o', "output", &out, "OUT", "write to OUT"),
	OD_OPT_INT('n', "steps", &steps, "N", "steps, 1 to 100", 1, 100),
	OD_OPT_INT64(0, "seed", &seed, "S", "a seed", 0, INT64_MAX),
	OD_OPT_NUM('g', "guidance", &guidance, "G", "guidance, 0 to 10", 0, 10),
	OD_OPT_BOOL('a', "all", &all, "everything"),
	OD_OPT_CHOICE_OPTARG(0, "progress", &progress, "MODE", "auto, none or machine", progress_words),
	OD_OPT_CHOICE(0, "mode", &mode, "M", "x or y", mode_words),
	OD_OPT_LIST('r', "ref", refs, &n_refs, 2, "TEXT", "a reference (twice at most)"),
	OD_OPT_CALLBACK(0, "size", &size, "N", "3 or 5", size_cb),
	OD_OPT_CALLBACK_OPTARG(0, "normalize", NULL, "D",
			       "a long help text that has to be wrapped because it does not fit on one line of "
			       "eighty columns, not even nearly, and goes on", normalize_cb),
	OD_OPT_GROUP("Included:"),
	{ .type = OD_OPT_T_INCLUDE, .value = &sub, .expand = sub_expand, .finish = sub_finish },
	OD_OPT_INCLUDE(fixed_sub),
	OD_OPT_HELP('h', "help", "this help"),
	OD_OPT_END(),
};

static const struct od_usage usage = { "prog [OPTIONS] [FILE...]\nprog --other", "A test program.\n", "The end.\n" };

static char *argv_buf[32];
static int argc_n, first;

/* Parse the NULL-terminated words after "prog"; returns od_options_parse's
 * result, with stdout (help, option list) sent to /dev/null. */
static int parse_with(const struct od_option *t, const char *w, ...)
{
	out = NULL, steps = all = mode = progress = n_refs = size = finished = normalize_calls = 0;
	seed = 0, guidance = 0, refs[0] = refs[1] = normalize_arg = extra = NULL;
	memset(&sub, 0, sizeof sub);
	od_error_clear();
	va_list ap;
	va_start(ap, w);
	argc_n = 0;
	argv_buf[argc_n++] = "prog";
	for (const char *s = w; s; s = va_arg(ap, const char *))
		argv_buf[argc_n++] = (char *)s;
	va_end(ap);
	argv_buf[argc_n] = NULL;
	fflush(stdout);
	int saved = dup(1), null = open("/dev/null", O_WRONLY);
	dup2(null, 1);
	close(null);
	int rc = od_options_parse(argc_n, argv_buf, t, &usage, &first);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	return rc;
}

#define parse(...) parse_with(table, __VA_ARGS__, (const char *)NULL)

/* A usage error with exactly this message. */
static int refused(int rc, const char *msg)
{
	int good = rc == OD_EINVAL && !strcmp(od_errmsg(), msg);
	if (!good)
		printf("# rc %d, message '%s'\n# wanted '%s'\n", rc, od_errmsg(), msg);
	return good;
}

static int operands(int n, ...)
{
	va_list ap;
	va_start(ap, n);
	int good = argc_n - first == n;
	for (int i = 0; i < n && good; i++)
		good = !strcmp(argv_buf[first + i], va_arg(ap, const char *));
	va_end(ap);
	if (!good)
		for (int i = first; i < argc_n; i++)
			printf("# operand '%s'\n", argv_buf[i]);
	return good;
}

static char *capture(void (*fn)(FILE *, const struct od_option *, const struct od_usage *), const struct od_option *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fn(f, t, &usage);
	fclose(f);
	return buf;
}

static void list(FILE *f, const struct od_option *t, const struct od_usage *u)
{
	od_options_list(f, t);
}

int main(void)
{
	int rc;

	/* values and operands */
	rc = parse("file");
	ok(rc == OD_OPT_PARSED && operands(1, "file") && !out && steps == 0, "an operand alone");
	rc = parse("-o", "x.odf", "--steps", "5", "in.odf");
	ok(rc == 0 && !strcmp(out, "x.odf") && steps == 5 && operands(1, "in.odf"), "short and long with values");
	rc = parse("a.odf", "-a", "--steps=7", "b.odf", "--output=o", "-g", "2.5");
	ok(rc == 0 && all && steps == 7 && !strcmp(out, "o") && guidance == 2.5 && operands(2, "a.odf", "b.odf"),
	   "options after operands; operands keep their order");
	rc = parse("-a", "--", "-n", "3", "--all");
	ok(rc == 0 && all && steps == 0 && operands(3, "-n", "3", "--all"), "-- ends the options");
	rc = parse("-", "-a");
	ok(rc == 0 && all && operands(1, "-"), "- is an operand");
	rc = parse("-an3", "-ofile");
	ok(rc == 0 && all && steps == 3 && !strcmp(out, "file"), "clustered short options, attached values");
	rc = parse("--gui", "4", "--st=9", "--ou", "x");
	ok(rc == 0 && guidance == 4 && steps == 9 && !strcmp(out, "x"), "unambiguous abbreviations");
	rc = parse("--seed", "9223372036854775807");
	ok(rc == 0 && seed == INT64_MAX, "a 64-bit integer");
	rc = parse("-n", "1", "-n", "100");
	ok(rc == 0 && steps == 100, "the last value counts; both ends of the range");

	/* bad values */
	ok(refused(parse("--steps", "0"), "--steps: 0 is out of range (1 to 100)"), "below the range");
	ok(refused(parse("-n", "101"), "--steps: 101 is out of range (1 to 100)"), "above the range, short name");
	ok(refused(parse("--steps", "12x"), "--steps: '12x' is not an integer"), "trailing garbage");
	ok(refused(parse("--steps", ""), "--steps: '' is not an integer"), "an empty value");
	ok(refused(parse("--steps", "1.5"), "--steps: '1.5' is not an integer"), "a fraction for an integer");
	ok(refused(parse("--steps", "99999999999999999999"), "--steps: '99999999999999999999' is not an integer"),
	   "an integer that overflows");
	ok(refused(parse("--seed", "9223372036854775808"), "--seed: '9223372036854775808' is not an integer"),
	   "one past INT64_MAX");
	ok(refused(parse("--seed", "-1"), "--seed: -1 is out of range (0 to 9223372036854775807)"), "a negative seed");
	ok(refused(parse("-g", "nan"), "--guidance: 'nan' is not a number"), "NaN");
	ok(refused(parse("-g", "inf"), "--guidance: 'inf' is not a number"), "infinity");
	ok(refused(parse("-g", "1e999"), "--guidance: '1e999' is not a number"), "a number that overflows");
	ok(refused(parse("-g", "10.5"), "--guidance: 10.5 is out of range (0 to 10)"), "a number above the range");
	ok(refused(parse("-g", "2,5"), "--guidance: '2,5' is not a number"), "a decimal comma");

	/* missing values, unknown options */
	ok(refused(parse("-n"), "option '-n' needs a value"), "a short option without its value");
	ok(refused(parse("--steps"), "option '--steps' needs a value"), "a long option without its value");
	ok(refused(parse("--ste"), "option '--steps' needs a value"), "an abbreviation without its value");
	ok(refused(parse("-a", "-o"), "option '-o' needs a value"), "the value missing at the end");
	ok(refused(parse("--frobnicate"), "unknown option '--frobnicate'"), "an unknown long option");
	ok(refused(parse("--frobnicate=3"), "unknown option '--frobnicate'"), "an unknown long option with a value");
	ok(refused(parse("-q"), "unknown option '-q'"), "an unknown short option");
	ok(refused(parse("-aq"), "unknown option '-q'"), "an unknown short option in a cluster");
	ok(refused(parse("--all=1"), "option '--all' takes no value"), "a value for a flag");
	ok(refused(parse("--s", "3"), "option '--s' is ambiguous (--steps, --seed, --size)"), "an ambiguous abbreviation");
	ok(refused(parse("--list-options", "x"), "unknown option '--list-options'"),
	   "--list-options is an option only alone");

	/* choices */
	rc = parse("--progress");
	ok(rc == 0 && progress == 0, "a bare optional choice takes the first word");
	rc = parse("--progress", "none", "f");
	ok(rc == 0 && progress == 1 && operands(1, "f"), "an optional choice takes one of its words as the next argument");
	rc = parse("f", "--progress", "machine");
	ok(rc == 0 && progress == 2 && operands(1, "f"), "... after an operand too");
	rc = parse("--progress=machine");
	ok(rc == 0 && progress == 2, "an attached choice");
	rc = parse("--progress", "frob");
	ok(rc == 0 && progress == 0 && operands(1, "frob"), "any other next argument is an operand");
	ok(refused(parse("--progress=frob"), "--progress: 'frob' is not auto, none or machine"), "a word not in the list");
	rc = parse("--mode", "z");
	ok(rc == 0 && mode == 11, "an alias");
	ok(refused(parse("--mode", "w"), "--mode: 'w' is not x or y"), "aliases are not named in the message");

	/* lists and callbacks */
	rc = parse("-r", "a", "--ref=b");
	ok(rc == 0 && n_refs == 2 && !strcmp(refs[0], "a") && !strcmp(refs[1], "b"), "a repeated option");
	ok(refused(parse("-r", "a", "-r", "b", "-r", "c"), "--ref: at most 2"), "one repetition too many");
	rc = parse("--size", "5");
	ok(rc == 0 && size == 5, "a callback");
	ok(refused(parse("--size", "4"), "--size: '4' is not 3 or 5"), "a callback's error");
	rc = parse("--normalize");
	ok(rc == 0 && normalize_calls == 1 && !normalize_arg, "an optional value left out");
	rc = parse("--normalize=2");
	ok(rc == 0 && normalize_arg && !strcmp(normalize_arg, "2"), "an optional value attached");
	rc = parse("--normalize", "2");
	ok(rc == 0 && !normalize_arg && operands(1, "2"), "an optional value is never the next argument");

	/* includes */
	rc = parse("a");
	ok(rc == 0 && sub.extra && !strcmp(sub.extra, "default") && sub.checked, "an include's defaults and check");
	rc = parse("-x", "given", "--fixed");
	ok(rc == 0 && !strcmp(sub.extra, "given") && finished, "included options");
	ok(refused(parse("--extra=bad"), "--extra: 'bad' is refused after parsing"), "an include's check fails");

	/* help and the option list */
	rc = parse("--help", "--frobnicate");
	ok(rc == OD_OPT_SHOWN, "--help stops at once");
	rc = parse("-h");
	ok(rc == OD_OPT_SHOWN, "-h");
	rc = parse("--list-options");
	ok(rc == OD_OPT_SHOWN, "--list-options alone");
	char *help = capture(od_options_help, table);
	if (getenv("SHOW_HELP"))
		fputs(help, stdout);
	ok(!strncmp(help, "Usage: prog [OPTIONS] [FILE...]\n       prog --other\nA test program.\nValues:\n", 71),
	   "help: synopsis, description, group heading");
	/* the column: the widest option, "      --progress[=MODE]", and two spaces */
	ok(strstr(help, "\n  -o, --output OUT       write to OUT\n") != NULL, "help: short and long name aligned");
	ok(strstr(help, "\n      --seed S           a seed\n") != NULL, "help: long name only");
	ok(strstr(help, "\n      --normalize[=D]    a long help text") != NULL, "help: an optional value");
	ok(strstr(help, "\n  -x, --extra X          an included option\n") != NULL, "help: included options");
	ok(strstr(help, "The end.\n") && help[strlen(help) - 1] == '\n', "help: the footer last");
	int longest = 0, wrapped = 0;
	for (char *p = help, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		if (nl - p > longest)
			longest = (int)(nl - p);
		wrapped += !strncmp(p, "                         ", 25) && p[25] != ' ';
	}
	ok(longest <= 80 && wrapped >= 2, "help: lines of at most 80 columns (%d), long help wrapped (%d lines)", longest,
	   wrapped);
	char *names = capture(list, table);
	ok(!strcmp(names, "--output -o OUT\n--steps -n N\n--seed S\n--guidance -g G\n--all -a\n--progress [=MODE]\n"
			  "--mode M\n--ref -r TEXT\n--size N\n--normalize [=D]\n--extra -x X\n--fixed -F\n--help -h\n"),
	   "the option list");
	if (strncmp(names, "--output", 8))
		printf("# %s", names);
	int listed = 1;
	for (char *p = names, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		char opt[64];
		snprintf(opt, sizeof opt, "%.*s", (int)strcspn(p, " \n"), p);
		char *at = strstr(help, opt);
		listed &= at && (at[strlen(opt)] == ' ' || at[strlen(opt)] == '[');
	}
	ok(listed, "the help shows every option of the list");
	free(help);
	free(names);

	/* broken tables are the tool's bug, not the user's */
	const struct od_option twice_long[] = {
		OD_OPT_BOOL('a', "all", &all, "x"), OD_OPT_INCLUDE(table), OD_OPT_END(),
	};
	rc = parse_with(twice_long, "x", (const char *)NULL);
	ok(rc == OD_EFAIL && strstr(od_errmsg(), "--all is declared twice"), "an option declared twice: %s", od_errmsg());
	const struct od_option twice_short[] = {
		OD_OPT_BOOL('a', "every", &all, "x"), OD_OPT_BOOL('a', "any", &all, "y"), OD_OPT_END(),
	};
	rc = parse_with(twice_short, "x", (const char *)NULL);
	ok(rc == OD_EFAIL && strstr(od_errmsg(), "-a is declared twice"), "a short name declared twice: %s", od_errmsg());
	/* the vocabulary: a short name stands for one long option in every tool */
	static const struct od_short_name vocab[] = { { 's', "seed" }, { 'S', "size" }, { 0, NULL } };
	const struct od_option seed_ok[] = { OD_OPT_INT64('s', "seed", &seed, "S", "x", 0, 9), OD_OPT_END() };
	const struct od_option s_is_size[] = { OD_OPT_INT('s', "size", &size, "N", "x", 0, 9), OD_OPT_END() };
	const struct od_option s_alone[] = { OD_OPT_INT('s', NULL, &size, "N", "x", 0, 9), OD_OPT_END() };
	const struct od_option unlisted[] = { OD_OPT_BOOL('z', "zed", &all, "x"), OD_OPT_END() };
	od_options_vocabulary = vocab;
	rc = parse_with(seed_ok, "x", "-s", "3", (const char *)NULL);
	ok(rc == 0 && seed == 3, "the vocabulary: -s as --seed is accepted");
	rc = parse_with(s_is_size, "x", (const char *)NULL);
	ok(rc == OD_EFAIL && strstr(od_errmsg(), "-s stands for --seed in every tool, not for --size"),
	   "the vocabulary: -s as --size is refused: %s", od_errmsg());
	rc = parse_with(s_alone, "x", (const char *)NULL);
	ok(rc == OD_EFAIL && strstr(od_errmsg(), "-s stands for --seed"), "the vocabulary: -s without --seed is refused");
	rc = parse_with(unlisted, "x", (const char *)NULL);
	ok(rc == OD_EFAIL && strstr(od_errmsg(), "-z is not in the option vocabulary"),
	   "the vocabulary: a letter outside it is refused: %s", od_errmsg());
	od_options_vocabulary = NULL;
	rc = parse_with(unlisted, "x", "-z", (const char *)NULL);
	ok(rc == 0 && all, "without a vocabulary any letter goes");

	const struct od_option empty[] = { OD_OPT_END() };
	rc = parse_with(empty, "a", "-", (const char *)NULL);
	ok(rc == 0 && operands(2, "a", "-"), "an empty table");
	ok(refused(parse_with(empty, "-h", (const char *)NULL), "unknown option '-h'"), "no help unless the table has it");

	/* the shared options: all of them, or some */
	struct od_common_opts c;
	const struct od_option all_common[] = { OD_OPT_COMMON(&c), OD_OPT_END() };
	const struct od_option some_common[] = {
		OD_OPT_COMMON_SOME(&c, OD_COMMON_THREADS | OD_COMMON_PROGRESS), OD_OPT_END(),
	};
	const struct od_option model_only[] = { OD_OPT_COMMON_SOME(&c, OD_COMMON_MODEL), OD_OPT_END() };
	setenv("OD_MODEL", "envmodel", 1);
	setenv("OD_DEVICE", "tpu", 1);
	ok(refused(parse_with(all_common, "x", (const char *)NULL), "--device: 'tpu' is not cpu or cuda"),
	   "common: $OD_DEVICE is checked");
	setenv("OD_DEVICE", "cpu", 1);
	rc = parse_with(all_common, "x", (const char *)NULL);
	/* the thread count's default is od_default_threads() ($OD_THREADS, a share under make -jN, else every CPU) */
	ok(rc == 0 && c.model && !strcmp(c.model, "envmodel") && !c.given.model && c.device == OD_DEVICE_CPU &&
		   c.threads == od_default_threads() && !c.given.threads && c.progress == OD_PROGRESS_AUTO,
	   "common: the defaults, the model from $OD_MODEL (not given)");
	rc = parse_with(all_common, "-m", "mine", "-j3", "--progress=none", (const char *)NULL);
	ok(rc == 0 && !strcmp(c.model, "mine") && c.given.model && c.threads == 3 && c.progress == OD_PROGRESS_NONE,
	   "common: --model given, --threads, --progress");
	rc = parse_with(all_common, "--model=", (const char *)NULL);
	ok(rc == 0 && !c.model && c.given.model, "common: an empty --model is no model, but given");
	char *names_all = capture(list, all_common), *names_some = capture(list, some_common);
	ok(!strcmp(names_all, "--model -m DIR\n--device DEV\n--threads -j N\n--progress [=MODE]\n--precision P\n"),
	   "common: the list");
	rc = parse_with(all_common, "--precision", "bf16", (const char *)NULL);
	ok(rc == 0 && c.precision_name && c.precision == OD_PRECISION_BF16, "common: --precision bf16");
	ok(refused(parse_with(all_common, "--precision", "fp16", (const char *)NULL),
		   "--precision: 'fp16' is not fp32 or bf16"),
	   "common: --precision is checked");
	ok(!strcmp(names_some, "--threads -j N\n--progress [=MODE]\n"), "some: only the options asked for");
	free(names_all);
	free(names_some);
	setenv("OD_DEVICE", "tpu", 1);
	rc = parse_with(some_common, "-j", "2", "--progress", "machine", (const char *)NULL);
	ok(rc == 0 && c.threads == 2 && c.progress == OD_PROGRESS_MACHINE && c.device == OD_DEVICE_CPU && !c.model,
	   "some: parsed; no model and no device taken from the environment");
	ok(refused(parse_with(some_common, "--device", "cpu", (const char *)NULL), "unknown option '--device'"),
	   "some: --device is not one of them");
	ok(refused(parse_with(some_common, "-m", "x", (const char *)NULL), "unknown option '-m'"),
	   "some: nor -m");
	ok(refused(parse_with(some_common, "-j", "5000", (const char *)NULL),
		   "--threads: 5000 is out of range (0 to 4096)"),
	   "some: the range of --threads");
	rc = parse_with(model_only, (const char *)NULL);
	ok(rc == 0 && !strcmp(c.model, "envmodel") && !c.given.model && c.threads == od_default_threads(),
	   "some: --model alone, from $OD_MODEL");
	const struct od_option twice_common[] = {
		OD_OPT_COMMON_SOME(&c, OD_COMMON_THREADS), OD_OPT_INT('j', "jobs", &steps, "N", "x", 0, 9), OD_OPT_END(),
	};
	rc = parse_with(twice_common, (const char *)NULL);
	ok(rc == OD_EFAIL && strstr(od_errmsg(), "-j is declared twice"), "some: a tool's own -j is refused: %s",
	   od_errmsg());
	return tap_done();
}
