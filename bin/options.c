/*
 * options.c: the option table parser and help generator (see options.h).
 *
 * A table is flattened first (includes expanded) into at most OD_OPT_MAX
 * entries on the stack, then getopt_long's tables are built from it: every
 * long option's val is 256 + its entry index, so a result maps back to its
 * entry without a second list. Nothing is allocated, so a usage error that
 * exits leaves nothing behind.
 */
#include "options.h"

#include "base/error.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HELP_WIDTH 80 /* columns of --help */
#define HELP_COL_MAX 30 /* the widest option column; longer options put their help on the next line */

const char *od_option_name(const struct od_option *opt, char *buf, size_t size)
{
	if (opt->long_name)
		snprintf(buf, size, "--%s", opt->long_name);
	else
		snprintf(buf, size, "-%c", opt->short_name);
	return buf;
}

int od_parse_int(const char *name, const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return od_error(OD_EINVAL, "%s: '%s' is not an integer", name, s);
	if (v < lo || v > hi)
		return od_error(OD_EINVAL, "%s: %lld is out of range (%lld to %lld)", name, v, lo, hi);
	*out = v;
	return OD_OK;
}

int od_parse_num(const char *name, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		return od_error(OD_EINVAL, "%s: '%s' is not a number", name, s);
	if (v < lo || v > hi)
		return od_error(OD_EINVAL, "%s: %g is out of range (%g to %g)", name, v, lo, hi);
	*out = v;
	return OD_OK;
}

/* ---------------------------------------------------------------- flattening */

struct flat {
	struct od_option e[OD_OPT_MAX];
	int n;
	/* the includes with a finish check, in table order */
	const struct od_option *fin[OD_OPT_MAX];
	int n_fin;
};

static int flatten(struct flat *t, const struct od_option *opts, int depth)
{
	if (depth > 8)
		return od_error(OD_EFAIL, "option table: includes nested too deep");
	for (const struct od_option *o = opts; o->type != OD_OPT_T_END; o++) {
		int rc;
		if (o->type != OD_OPT_T_INCLUDE) {
			if (t->n == OD_OPT_MAX)
				return od_error(OD_EFAIL, "option table: more than %d entries", OD_OPT_MAX);
			t->e[t->n++] = *o;
			continue;
		}
		if (o->sub && (rc = flatten(t, o->sub, depth + 1)))
			return rc;
		if (o->expand) {
			struct od_option built[OD_OPT_MAX];
			int n = o->expand(o->value, built, OD_OPT_MAX - 1);
			if (n < 0 || n >= OD_OPT_MAX)
				return od_error(OD_EFAIL, "option table: an included table does not fit");
			built[n] = (struct od_option)OD_OPT_END();
			if ((rc = flatten(t, built, depth + 1)))
				return rc;
		}
		if (o->finish)
			t->fin[t->n_fin++] = o;
	}
	return OD_OK;
}

static int is_option(const struct od_option *o)
{
	return o->type != OD_OPT_T_GROUP && o->type != OD_OPT_T_END && o->type != OD_OPT_T_INCLUDE;
}

static int takes_value(const struct od_option *o)
{
	switch (o->type) {
	case OD_OPT_T_BOOL:
	case OD_OPT_T_HELP:
		return 0;
	case OD_OPT_T_CALLBACK:
		return o->argh != NULL;
	default:
		return 1;
	}
}

const struct od_short_name *od_options_vocabulary;

/* A short name must mean what the vocabulary says it means. */
static int check_vocabulary(const struct od_option *a)
{
	if (!od_options_vocabulary || !a->short_name)
		return OD_OK;
	for (const struct od_short_name *v = od_options_vocabulary; v->short_name; v++)
		if (v->short_name == a->short_name) {
			if (a->long_name && !strcmp(a->long_name, v->long_name))
				return OD_OK;
			return od_error(OD_EFAIL, "option table: -%c stands for --%s in every tool, not for %s%s",
					a->short_name, v->long_name, a->long_name ? "--" : "an option without a long name",
					a->long_name ? a->long_name : "");
		}
	return od_error(OD_EFAIL, "option table: -%c is not in the option vocabulary", a->short_name);
}

/* An option declared twice is a mistake in the tool (an include overlapping
 * the tool's own entries, say): reject it rather than let getopt pick one. */
static int check_unique(const struct flat *t)
{
	for (int i = 0; i < t->n; i++) {
		const struct od_option *a = &t->e[i];
		if (!is_option(a))
			continue;
		if (!a->long_name && !a->short_name)
			return od_error(OD_EFAIL, "option table: entry %d has no name", i);
		int rc = check_vocabulary(a);
		if (rc)
			return rc;
		for (int j = 0; j < i; j++) {
			const struct od_option *b = &t->e[j];
			if (!is_option(b))
				continue;
			if (a->long_name && b->long_name && !strcmp(a->long_name, b->long_name))
				return od_error(OD_EFAIL, "option table: --%s is declared twice", a->long_name);
			if (a->short_name && a->short_name == b->short_name)
				return od_error(OD_EFAIL, "option table: -%c is declared twice", a->short_name);
		}
	}
	return OD_OK;
}

/* ---------------------------------------------------------------- help */

/* "  -m, --model DIR" and its width. */
static int left_part(const struct od_option *o, char *buf, size_t size)
{
	char arg[96] = "";
	if (takes_value(o) && o->argh) {
		if (o->flags & OD_OPT_OPTARG)
			snprintf(arg, sizeof arg, "[=%s]", o->argh);
		else
			snprintf(arg, sizeof arg, " %s", o->argh);
	}
	if (o->short_name && o->long_name)
		return snprintf(buf, size, "  -%c, --%s%s", o->short_name, o->long_name, arg);
	if (o->long_name)
		return snprintf(buf, size, "      --%s%s", o->long_name, arg);
	return snprintf(buf, size, "  -%c%s", o->short_name, arg);
}

/* Print text from column col (the cursor is at column at; a new line first
 * when it is already past col - 2), wrapped at HELP_WIDTH on spaces; '\n'
 * starts a new line. A word longer than a line gets a line of its own. */
static void wrap(FILE *f, const char *text, int col, int at)
{
	if (at > col - 2) {
		fputc('\n', f);
		at = 0;
	}
	for (const char *p = text;;) {
		const char *end = p + strcspn(p, " \n"), *q;
		while (*end == ' ' && (q = end + 1 + strcspn(end + 1, " \n"), col + (q - p) <= HELP_WIDTH))
			end = q;
		fprintf(f, "%*s%.*s\n", col - at, "", (int)(end - p), p);
		if (!*end || !end[1])
			break;
		p = end + 1;
		at = 0;
	}
}

void od_options_help(FILE *f, const struct od_option *opts, const struct od_usage *u)
{
	struct flat t = { .n = 0 };
	if (flatten(&t, opts, 0))
		return;
	const char *s = u && u->synopsis ? u->synopsis : "";
	for (int first = 1; *s || first; first = 0) {
		size_t n = strcspn(s, "\n");
		fprintf(f, "%s%.*s\n", first ? "Usage: " : "       ", (int)n, s);
		s += n + (s[n] == '\n');
	}
	if (u && u->description)
		fputs(u->description, f);
	int col = 0;
	char left[256];
	for (int i = 0; i < t.n; i++)
		if (is_option(&t.e[i])) {
			int w = left_part(&t.e[i], left, sizeof left) + 2;
			if (w > col)
				col = w;
		}
	if (col > HELP_COL_MAX)
		col = HELP_COL_MAX;
	for (int i = 0; i < t.n; i++) {
		const struct od_option *o = &t.e[i];
		if (o->type == OD_OPT_T_GROUP) {
			fprintf(f, "%s\n", o->help);
			continue;
		}
		if (!is_option(o))
			continue;
		int w = left_part(o, left, sizeof left);
		fputs(left, f);
		if (o->help && *o->help)
			wrap(f, o->help, col, w);
		else
			fputc('\n', f);
	}
	if (u && u->footer)
		fputs(u->footer, f);
}

void od_options_list(FILE *f, const struct od_option *opts)
{
	struct flat t = { .n = 0 };
	if (flatten(&t, opts, 0))
		return;
	for (int i = 0; i < t.n; i++) {
		const struct od_option *o = &t.e[i];
		if (!is_option(o))
			continue;
		if (o->long_name)
			fprintf(f, "--%s", o->long_name);
		if (o->short_name)
			fprintf(f, "%s-%c", o->long_name ? " " : "", o->short_name);
		if (takes_value(o) && o->argh)
			fprintf(f, (o->flags & OD_OPT_OPTARG) ? " [=%s]" : " %s", o->argh);
		fputc('\n', f);
	}
}

/* ---------------------------------------------------------------- parsing */

/* "a, b or c": the words of a choice list, aliases left out. */
static void choice_words(const struct od_choice *c, char *buf, size_t size)
{
	int n = 0, k = 0;
	for (const struct od_choice *p = c; p->name; p++)
		n += !p->alias;
	buf[0] = 0;
	for (const struct od_choice *p = c; p->name; p++) {
		if (p->alias)
			continue;
		size_t len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s", k == 0 ? "" : k == n - 1 ? " or " : ", ", p->name);
		k++;
	}
}

static const struct od_choice *choice_find(const struct od_choice *c, const char *word)
{
	for (; c->name; c++)
		if (!strcmp(c->name, word))
			return c;
	return NULL;
}

/* Store arg (NULL: no value given) for entry o. */
static int apply(const struct od_option *o, const char *arg, const struct od_option *all, const struct od_usage *u)
{
	char name[128], words[512];
	long long v;
	double d;
	int rc;
	od_option_name(o, name, sizeof name);
	switch (o->type) {
	case OD_OPT_T_STRING:
		*(const char **)o->value = arg;
		return OD_OK;
	case OD_OPT_T_INT:
		if ((rc = od_parse_int(name, arg, o->lo, o->hi, &v)))
			return rc;
		*(int *)o->value = (int)v;
		return OD_OK;
	case OD_OPT_T_INT64:
		if ((rc = od_parse_int(name, arg, o->lo, o->hi, &v)))
			return rc;
		*(int64_t *)o->value = v;
		return OD_OK;
	case OD_OPT_T_NUM:
		if ((rc = od_parse_num(name, arg, o->dlo, o->dhi, &d)))
			return rc;
		*(double *)o->value = d;
		return OD_OK;
	case OD_OPT_T_BOOL:
		*(int *)o->value = 1;
		return OD_OK;
	case OD_OPT_T_CHOICE: {
		/* a left-out optional value: the first word */
		const struct od_choice *c = arg ? choice_find(o->choices, arg) : o->choices;
		if (!c) {
			choice_words(o->choices, words, sizeof words);
			return od_error(OD_EINVAL, "%s: '%s' is not %s", name, arg, words);
		}
		*(int *)o->value = c->value;
		return OD_OK;
	}
	case OD_OPT_T_LIST:
		if (*o->count >= o->hi)
			return od_error(OD_EINVAL, "%s: at most %lld", name, o->hi);
		((const char **)o->value)[(*o->count)++] = arg;
		return OD_OK;
	case OD_OPT_T_CALLBACK:
		return o->fn(o, arg);
	case OD_OPT_T_HELP:
		od_options_help(stdout, all, u);
		return OD_OPT_SHOWN;
	default:
		return od_error(OD_EFAIL, "option table: %s has no type", name);
	}
}

/* The long options that start with prefix, for an ambiguity message. */
static int ambiguous(const struct flat *t, const char *prefix, size_t len, char *buf, size_t size)
{
	int n = 0;
	buf[0] = 0;
	for (int i = 0; i < t->n; i++) {
		const struct od_option *o = &t->e[i];
		if (!is_option(o) || !o->long_name || strncmp(o->long_name, prefix, len))
			continue;
		size_t l = strlen(buf);
		snprintf(buf + l, size - l, "%s--%s", n ? ", " : "", o->long_name);
		n++;
	}
	return n > 1;
}

int od_options_parse(int argc, char **argv, const struct od_option *opts, const struct od_usage *u, int *first)
{
	struct flat t = { .n = 0 };
	struct option lo[OD_OPT_MAX + 1];
	char so[3 * OD_OPT_MAX + 2];
	int n_lo = 0, n_so = 0, rc;
	*first = argc;
	if ((rc = flatten(&t, opts, 0)) || (rc = check_unique(&t)))
		return rc;
	if (argc == 2 && !strcmp(argv[1], "--list-options")) {
		od_options_list(stdout, opts);
		return OD_OPT_SHOWN;
	}
	so[n_so++] = ':'; /* a missing value returns ':', and getopt prints nothing */
	for (int i = 0; i < t.n; i++) {
		const struct od_option *o = &t.e[i];
		if (!is_option(o))
			continue;
		int has = !takes_value(o) ? no_argument : (o->flags & OD_OPT_OPTARG) ? optional_argument : required_argument;
		if (o->long_name)
			lo[n_lo++] = (struct option){ o->long_name, has, NULL, 256 + i };
		if (o->short_name) {
			so[n_so++] = (char)o->short_name;
			if (has != no_argument)
				so[n_so++] = ':';
			if (has == optional_argument)
				so[n_so++] = ':';
		}
	}
	lo[n_lo] = (struct option){ 0 };
	so[n_so] = 0;

	optind = 0; /* a full reset: GNU getopt starts again at argv[1] */
	opterr = 0;
	int c;
	char name[128], list[512];
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		const struct od_option *o = NULL;
		if (c == '?') {
			if (optopt >= 256)
				return od_error(OD_EINVAL, "option '%s' takes no value",
						od_option_name(&t.e[optopt - 256], name, sizeof name));
			if (optopt)
				return od_error(OD_EINVAL, "unknown option '-%c'", optopt);
			/* an unknown or ambiguous long option: argv[optind - 1] */
			const char *a = argv[optind - 1];
			size_t len = strcspn(a, "=");
			if (len > 2 && ambiguous(&t, a + 2, len - 2, list, sizeof list))
				return od_error(OD_EINVAL, "option '%.*s' is ambiguous (%s)", (int)len, a, list);
			return od_error(OD_EINVAL, "unknown option '%.*s'", (int)len, a);
		}
		if (c == ':') {
			if (optopt >= 256)
				od_option_name(&t.e[optopt - 256], name, sizeof name);
			else
				snprintf(name, sizeof name, "-%c", optopt);
			return od_error(OD_EINVAL, "option '%s' needs a value", name);
		}
		if (c >= 256) {
			o = &t.e[c - 256];
		} else {
			for (int i = 0; i < t.n && !o; i++)
				if (is_option(&t.e[i]) && t.e[i].short_name == c)
					o = &t.e[i];
		}
		if (!o)
			return od_error(OD_EFAIL, "option table: getopt returned %d", c);
		const char *arg = optarg;
		/* a choice's optional value may also be the next argument, when it
		 * is one of the words: --progress none */
		if (!arg && o->type == OD_OPT_T_CHOICE && (o->flags & OD_OPT_OPTARG) && optind < argc &&
		    choice_find(o->choices, argv[optind]))
			arg = argv[optind++];
		if ((rc = apply(o, arg, opts, u)))
			return rc;
	}
	*first = optind;
	for (int i = 0; i < t.n_fin; i++)
		if ((rc = t.fin[i]->finish(t.fin[i]->value)))
			return rc;
	return OD_OPT_PARSED;
}
