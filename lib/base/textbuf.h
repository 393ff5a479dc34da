/*
 * textbuf.h: a growing text buffer (the JSON that camera_json.c and
 * scene_write.c write, od-eval's reports) and the escaping rules of od-eval's
 * outputs (eval/report.h, eval/results.h): CSV fields (RFC 4180), JSON strings
 * (bytes that are not UTF-8 become U+FFFD), Markdown table cells, and numbers.
 *
 * Running out of memory is remembered (oom) and reported once, by
 * od_tbuf_write, so that the writers need not check every call.
 */
#ifndef OD_BASE_TEXTBUF_H
#define OD_BASE_TEXTBUF_H

#include "base/io.h"

#include <stddef.h>

struct od_tbuf {
	char *s;
	size_t n, cap;
	int oom;
};

void od_tbuf_put(struct od_tbuf *b, const char *s, size_t n);
void od_tbuf_puts(struct od_tbuf *b, const char *s);
void od_tbuf_printf(struct od_tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A CSV field, quoted when it holds a comma, a quote or a line break. */
void od_tbuf_csv(struct od_tbuf *b, const char *s);
/* A JSON string, quotes included. */
void od_tbuf_json(struct od_tbuf *b, const char *s);
/* Markdown table cell text: '|' escaped, line breaks as spaces. */
void od_tbuf_md(struct od_tbuf *b, const char *s);

/* A number: counts as integers, reals with real_fmt (a printf conversion of
 * one double, "%.10g"); NAN (undefined) as nothing, or null in JSON; ±inf as
 * "inf"/"-inf", or null in JSON (which has no infinity). */
void od_tbuf_number(struct od_tbuf *b, double v, int is_count, int json, const char *real_fmt);

/* Write the text to o (not committed) and free it; OD_ENOMEM when it ran out. */
int od_tbuf_write(struct od_tbuf *b, struct od_out *o);
void od_tbuf_free(struct od_tbuf *b);

#endif
