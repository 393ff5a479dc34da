/* record.c: a generated picture's parameters as the A1111 "parameters" text
 * and as JSON (see record.h). */
#include "pipeline/record.h"
#include "base/error.h"
#include "formats/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *get(const struct od_meta_entry *meta, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(meta[i].key, key))
			return meta[i].value;
	return NULL;
}

/* A growing string; a failed allocation makes it NULL for good. */
struct buf {
	char *p;
	size_t n, cap;
	int failed;
};

static void add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct buf *b, const char *fmt, ...)
{
	if (b->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0 || b->n + (size_t)len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (len >= 0 && cap < b->n + (size_t)len + 1)
			cap *= 2;
		char *p = len < 0 ? NULL : realloc(b->p, cap);
		if (!p) {
			free(b->p);
			b->p = NULL;
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
	va_end(ap);
	b->n += (size_t)len;
}

/* ", Key: value", the value quoted as a JSON string when it needs it (the web
 * UI's quote(): a ',', ':' or '"' or a line break in it). */
static void pair(struct buf *b, const char *key, const char *value)
{
	if (!value)
		return;
	add(b, "%s%s: ", b->n && b->p[b->n - 1] != '\n' ? ", " : "", key);
	if (!strpbrk(value, ",:\"\n\r")) {
		add(b, "%s", value);
		return;
	}
	add(b, "\"");
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			add(b, "\\%c", *p);
		else if (*p == '\n')
			add(b, "\\n");
		else if (*p == '\r')
			add(b, "\\r");
		else if ((unsigned char)*p < 0x20)
			add(b, "\\u%04x", (unsigned char)*p);
		else
			add(b, "%c", *p);
	}
	add(b, "\"");
}

int od_meta_parameters(const struct od_meta_entry *meta, int n, char **out)
{
	if (!get(meta, n, "steps"))
		return OD_OK;
	struct buf b = { 0 };
	const char *prompt = get(meta, n, "prompt"), *neg = get(meta, n, "negative_prompt");
	add(&b, "%s\n", prompt ? prompt : "");
	if (neg && *neg)
		add(&b, "Negative prompt: %s\n", neg);
	/* the keys the web UI knows first, in its order, then od's own */
	pair(&b, "Steps", get(meta, n, "steps"));
	pair(&b, "Sampler", "Euler");
	pair(&b, "Schedule type", "flow matching");
	pair(&b, "CFG scale", get(meta, n, "guidance"));
	pair(&b, "Seed", get(meta, n, "seed"));
	pair(&b, "Size", get(meta, n, "size"));
	pair(&b, "Model", get(meta, n, "model"));
	pair(&b, "Task", get(meta, n, "task"));
	pair(&b, "Mask", get(meta, n, "mask"));
	pair(&b, "Source", get(meta, n, "source"));
	pair(&b, "Variation", get(meta, n, "variation"));
	pair(&b, "Job", get(meta, n, "job"));
	pair(&b, "Version", "od " OD_VERSION);
	if (b.failed)
		return od_error(OD_ENOMEM, "out of memory");
	*out = b.p;
	return OD_OK;
}

int od_meta_json(const struct od_meta_entry *meta, int n, char **out)
{
	json_t *o = json_object();
	int rc = o ? OD_OK : od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; !rc && i < n; i++) {
		json_t *v = json_string(meta[i].value);
		if (!v || json_object_set_new(o, meta[i].key, v))
			rc = od_error(OD_ENOMEM, "out of memory");
	}
	char *s = rc ? NULL : json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!rc && !s)
		rc = od_error(OD_ENOMEM, "out of memory");
	if (rc)
		return rc;
	size_t len = strlen(s);
	char *r = malloc(len + 2);
	if (!r) {
		free(s);
		return od_error(OD_ENOMEM, "out of memory");
	}
	memcpy(r, s, len);
	r[len] = '\n';
	r[len + 1] = 0;
	free(s);
	*out = r;
	return OD_OK;
}
