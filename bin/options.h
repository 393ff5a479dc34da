/*
 * options.h: command-line options declared once, for the parser and the help.
 *
 * A tool describes its options in one table; the same entries build the
 * getopt_long tables and the --help text, so the two cannot drift apart:
 *
 *   int steps = 50, all = 0;
 *   const char *out = "-";
 *   struct od_common_opts common;
 *   const struct od_option opts[] = {
 *           OD_OPT_COMMON(&common),
 *           OD_OPT_STRING('o', "output", &out, "OUT", "write the frames to OUT (default '-', stdout)"),
 *           OD_OPT_INT('n', "steps", &steps, "N", "sampling steps (default 50)", 1, 100000),
 *           OD_OPT_BOOL('a', "all", &all, "write every frame of the sequence"),
 *           OD_OPT_END(),
 *   };
 *   int i = od_parse_options(argc, argv, opts, &usage);   // tool.h: exits on errors
 *   // argv[i..argc) are the operands
 *
 * Parsing is getopt_long's, so everything it allows works as with any GNU
 * tool: options and operands in any order (operands are moved to the end of
 * argv), `--` ends the options, `-` is an operand, `--opt=value` and
 * `--opt value`, clustered short options (`-aj2`), and unambiguous
 * abbreviations of long options (`--prog=none`). An optional value
 * (OD_OPT_OPTARG) must be attached: `--normalize=2`; a choice with an optional
 * value also takes one of its words as the next argument (`--progress none`).
 *
 * Entries, by type (value is where the result goes; lo/hi a closed range):
 *   OD_OPT_STRING    const char *   the argument as given
 *   OD_OPT_INT       int            a decimal integer in [lo, hi]
 *   OD_OPT_INT64     int64_t        a decimal integer in [lo, hi]
 *   OD_OPT_NUM       double         a finite number in [lo, hi]
 *   OD_OPT_BOOL      int            set to 1
 *   OD_OPT_CHOICE    int or enum    the value of one word of a list (struct od_choice)
 *   OD_OPT_LIST      const char *[] repeatable: appended, at most max
 *   OD_OPT_CALLBACK  anything       fn(opt, arg) parses arg itself (sizes, masks, ...)
 *   OD_OPT_HELP                     print the help on stdout
 *   OD_OPT_GROUP                    a heading in the help, no option
 *   OD_OPT_INCLUDE                  the entries of another table (shared options)
 *
 * Errors are usage errors: od_options_parse() returns OD_EINVAL and leaves one
 * line in od_errmsg(), such as "--steps: 0 is out of range (1 to 100000)",
 * "unknown option '--frobnicate'" or "option '--output' needs a value".
 */
#ifndef OD_OPTIONS_H
#define OD_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

enum od_opt_type {
	OD_OPT_T_END,
	OD_OPT_T_GROUP,
	OD_OPT_T_STRING,
	OD_OPT_T_INT,
	OD_OPT_T_INT64,
	OD_OPT_T_NUM,
	OD_OPT_T_BOOL,
	OD_OPT_T_CHOICE,
	OD_OPT_T_LIST,
	OD_OPT_T_CALLBACK,
	OD_OPT_T_HELP,
	OD_OPT_T_INCLUDE,
};

/* Flags. */
#define OD_OPT_OPTARG 1 /* the value may be left out: --opt or --opt=VALUE */

/* One word of an OD_OPT_CHOICE; a list ends with { NULL }. An alias is
 * accepted but not named in messages. */
struct od_choice {
	const char *name;
	int value;
	int alias;
};

struct od_option;
/* Parse arg (NULL: the option takes no value, or an optional one was left
 * out) into opt->value. Returns 0, or a negative od_status with a one-line
 * od_error() message; it may also exit (a listing option, od_usage_error). */
typedef int od_opt_fn(const struct od_option *opt, const char *arg);
/* An included table built at parse time: write up to room entries to out
 * (pointing into value) and return how many. Called once per parse, before
 * any option is read, so it may also set value's defaults. */
typedef int od_opt_expand_fn(void *value, struct od_option *out, int room);
/* Check an included table's values once every option is parsed. */
typedef int od_opt_finish_fn(void *value);

struct od_option {
	enum od_opt_type type;
	int short_name;                 /* 'm', or 0 */
	const char *long_name;          /* "model", or NULL */
	void *value;                    /* where the result goes (see the types above) */
	const char *argh;               /* the value's name in the help ("DIR"); NULL: no value */
	const char *help;               /* one paragraph, wrapped to the terminal width; '\n' breaks a line */
	int flags;                      /* OD_OPT_OPTARG */
	long long lo, hi;               /* INT, INT64: the range; LIST: hi is the capacity */
	double dlo, dhi;                /* NUM: the range */
	int *count;                     /* LIST: the entries so far */
	const struct od_choice *choices; /* CHOICE */
	od_opt_fn *fn;                  /* CALLBACK */
	const struct od_option *sub;    /* INCLUDE: a fixed table ... */
	od_opt_expand_fn *expand;       /* ... or one built for value */
	od_opt_finish_fn *finish;       /* INCLUDE: optional check after parsing */
};

/* Type-checked pointers: (T *) p, or a compiler error when p is not a T *. */
#define OD_OPT_PTR(T, p) (1 ? (p) : (T *)0)

#define OD_OPT_END() { .type = OD_OPT_T_END }
#define OD_OPT_GROUP(heading) { .type = OD_OPT_T_GROUP, .help = (heading) }
#define OD_OPT_STRING(s, l, v, argh_, help_)                                                               \
	{ .type = OD_OPT_T_STRING, .short_name = (s), .long_name = (l), .value = OD_OPT_PTR(const char *, v), \
	  .argh = (argh_), .help = (help_) }
#define OD_OPT_INT(s, l, v, argh_, help_, min, max)                                                          \
	{ .type = OD_OPT_T_INT, .short_name = (s), .long_name = (l), .value = OD_OPT_PTR(int, v), .argh = (argh_), \
	  .help = (help_), .lo = (min), .hi = (max) }
#define OD_OPT_INT64(s, l, v, argh_, help_, min, max)                                                     \
	{ .type = OD_OPT_T_INT64, .short_name = (s), .long_name = (l), .value = OD_OPT_PTR(int64_t, v),      \
	  .argh = (argh_), .help = (help_), .lo = (min), .hi = (max) }
#define OD_OPT_NUM(s, l, v, argh_, help_, min, max)                                                            \
	{ .type = OD_OPT_T_NUM, .short_name = (s), .long_name = (l), .value = OD_OPT_PTR(double, v), .argh = (argh_), \
	  .help = (help_), .dlo = (min), .dhi = (max) }
#define OD_OPT_BOOL(s, l, v, help_) \
	{ .type = OD_OPT_T_BOOL, .short_name = (s), .long_name = (l), .value = OD_OPT_PTR(int, v), .help = (help_) }
/* v: an int or an enum (the value is stored as an int). */
#define OD_OPT_CHOICE(s, l, v, argh_, help_, list)                                                              \
	{ .type = OD_OPT_T_CHOICE, .short_name = (s), .long_name = (l), .value = (v), .argh = (argh_), .help = (help_), \
	  .choices = (list) }
/* The value may be left out (the first word), attached (--progress=none) or
 * the next argument when it is one of the words (--progress none). */
#define OD_OPT_CHOICE_OPTARG(s, l, v, argh_, help_, list)                                                       \
	{ .type = OD_OPT_T_CHOICE, .short_name = (s), .long_name = (l), .value = (v), .argh = (argh_), .help = (help_), \
	  .choices = (list), .flags = OD_OPT_OPTARG }
/* arr: const char *arr[max]; n: int *, the entries so far. */
#define OD_OPT_LIST(s, l, arr, n, max, argh_, help_)                                                     \
	{ .type = OD_OPT_T_LIST, .short_name = (s), .long_name = (l), .value = OD_OPT_PTR(const char *, arr), \
	  .count = OD_OPT_PTR(int, n), .hi = (max), .argh = (argh_), .help = (help_) }
#define OD_OPT_CALLBACK(s, l, v, argh_, help_, fn_)                                                          \
	{ .type = OD_OPT_T_CALLBACK, .short_name = (s), .long_name = (l), .value = (v), .argh = (argh_), .help = (help_), \
	  .fn = (fn_) }
/* A value that may be left out (only attached: --normalize=2). */
#define OD_OPT_CALLBACK_OPTARG(s, l, v, argh_, help_, fn_)                                                   \
	{ .type = OD_OPT_T_CALLBACK, .short_name = (s), .long_name = (l), .value = (v), .argh = (argh_), .help = (help_), \
	  .fn = (fn_), .flags = OD_OPT_OPTARG }
#define OD_OPT_HELP(s, l, help_) { .type = OD_OPT_T_HELP, .short_name = (s), .long_name = (l), .help = (help_) }
#define OD_OPT_INCLUDE(table) { .type = OD_OPT_T_INCLUDE, .sub = (table) }

/* What --help says around the option list. */
struct od_usage {
	const char *synopsis;    /* the command lines, one per line, without "Usage: " */
	const char *description; /* text after the synopsis (NULL: none) */
	const char *footer;      /* text after the options: examples, "See od-x(1)." (NULL: none) */
};

/* The option vocabulary: a short name and the one long option it stands for
 * in every tool (a list ending with { 0, NULL }). When od_options_vocabulary
 * is set (tool.c sets it to the tools' list), a table that gives a short name
 * to another long option, or uses a short name the list lacks, is refused
 * as broken (OD_EFAIL): "-s" is --seed wherever it exists. */
struct od_short_name {
	int short_name;
	const char *long_name;
};
extern const struct od_short_name *od_options_vocabulary;

/* What od_options_parse() returns when it did not fail. */
enum { OD_OPT_PARSED = 0, OD_OPT_SHOWN = 1 };

/* Most entries one table may expand to, includes and all. */
#define OD_OPT_MAX 128

/* Parse argv[1..argc) (argv[0] names the command) against opts. Returns
 * OD_OPT_PARSED with *first set to the index of the first operand;
 * OD_OPT_SHOWN after printing the help (an OD_OPT_HELP entry) or, for the
 * single argument --list-options, the option list (od_options_list) on stdout;
 * or a negative od_status with a one-line message in od_errmsg(): OD_EINVAL for
 * the user's mistakes, OD_EFAIL for a broken table (an option declared twice,
 * too many entries, a short name outside the vocabulary). May be called again (getopt's state is reset). */
int od_options_parse(int argc, char **argv, const struct od_option *opts, const struct od_usage *u, int *first);

/* The help: "Usage: " and the synopsis, the description, one line per option
 * (short and long name, value, help aligned in a column and wrapped to 80
 * columns), group headings, the footer. */
void od_options_help(FILE *f, const struct od_option *opts, const struct od_usage *u);

/* The options for completion scripts and tests, one per line: the long name,
 * then the short one, then the value's name, separated by spaces
 * ("--model -m DIR", "--all -a", "--normalize [=D]"). */
void od_options_list(FILE *f, const struct od_option *opts);

/* The name of an option in messages: "--steps", or "-x" when it has no long name. */
const char *od_option_name(const struct od_option *opt, char *buf, size_t size);

/* Number parsing as the table's entries do it, for callbacks: 0, or OD_EINVAL
 * with "NAME: 'S' is not an integer" / "NAME: V is out of range (LO to HI)". */
int od_parse_int(const char *name, const char *s, long long lo, long long hi, long long *out);
int od_parse_num(const char *name, const char *s, double lo, double hi, double *out);

#endif
