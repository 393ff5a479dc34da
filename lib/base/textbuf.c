/*
 * textbuf.c: a growing text buffer and od-eval's escaping (textbuf.h).
 */
#include "base/textbuf.h"
#include "base/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void od_tbuf_put(struct od_tbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *ns = realloc(b->s, cap);
		if (!ns) {
			b->oom = 1;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

void od_tbuf_puts(struct od_tbuf *b, const char *s)
{
	od_tbuf_put(b, s, strlen(s));
}

void od_tbuf_printf(struct od_tbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		od_tbuf_put(b, tmp, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	od_tbuf_put(b, big, (size_t)n);
	free(big);
}

void od_tbuf_number(struct od_tbuf *b, double v, int is_count, int json, const char *real_fmt)
{
	if (isnan(v) || (json && isinf(v))) {
		if (json)
			od_tbuf_puts(b, "null");
		return;
	}
	if (isinf(v))
		od_tbuf_puts(b, v > 0 ? "inf" : "-inf");
	else if (is_count)
		od_tbuf_printf(b, "%.0f", v);
	else
		od_tbuf_printf(b, real_fmt, v);
}

void od_tbuf_csv(struct od_tbuf *b, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		od_tbuf_puts(b, s);
		return;
	}
	od_tbuf_puts(b, "\"");
	for (; *s; s++)
		od_tbuf_put(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
	od_tbuf_puts(b, "\"");
}

/* The length of the valid UTF-8 sequence at s, or 0. */
static int utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	int n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
	for (int k = 1; k < n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	return n;
}

void od_tbuf_json(struct od_tbuf *b, const char *s)
{
	od_tbuf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		if (*p == '"' || *p == '\\') {
			char e[2] = { '\\', (char)*p };
			od_tbuf_put(b, e, 2);
			p++;
		} else if (*p < 0x20) {
			od_tbuf_printf(b, "\\u%04x", *p);
			p++;
		} else {
			int n = utf8_len(p);
			if (n == 0) {
				od_tbuf_puts(b, "\\ufffd"); /* not UTF-8: the replacement character */
				p++;
			} else {
				od_tbuf_put(b, (const char *)p, (size_t)n);
				p += n;
			}
		}
	}
	od_tbuf_puts(b, "\"");
}

void od_tbuf_md(struct od_tbuf *b, const char *s)
{
	for (; *s; s++)
		if (*s == '|')
			od_tbuf_puts(b, "\\|");
		else if (*s == '\n' || *s == '\r')
			od_tbuf_puts(b, " ");
		else
			od_tbuf_put(b, s, 1);
}

int od_tbuf_write(struct od_tbuf *b, struct od_out *o)
{
	int rc = b->oom ? od_error(OD_ENOMEM, "out of memory") : od_out_write(o, b->s ? b->s : "", b->n);
	od_tbuf_free(b);
	return rc;
}

void od_tbuf_free(struct od_tbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof *b);
}
