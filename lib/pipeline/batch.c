/* batch.c: shards, job identities and output name patterns (batch.h). The
 * pattern code checks every value it puts into a name, since the values come
 * from frame metadata, which is outside input. */
#include "pipeline/batch.h"
#include "base/error.h"
#include "base/sha.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 1000000L
#define MAX_COMPONENT 255

static int parse_long(const char *s, const char *end, long *v)
{
	if (s == end || end - s > 9)
		return 0;
	long x = 0;
	for (const char *p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		x = 10 * x + (*p - '0');
	}
	*v = x;
	return 1;
}

int od_shard_parse(const char *s, struct od_shard *sh)
{
	const char *slash = strchr(s, '/');
	long i, n;
	if (!slash || !parse_long(s, slash, &i) || !parse_long(slash + 1, slash + strlen(slash), &n))
		return od_error(OD_EINVAL, "'%s' is not a shard like 0/4 (shard I of N, I from 0 to N-1)", s);
	if (n < 1 || n > MAX_SHARDS)
		return od_error(OD_EINVAL, "'%s': the number of shards must be from 1 to %ld", s, MAX_SHARDS);
	if (i >= n)
		return od_error(OD_EINVAL, "'%s': the shard number must be from 0 to %ld", s, n - 1);
	sh->i = i;
	sh->n = n;
	return OD_OK;
}

int od_shard_has(const struct od_shard *sh, long job)
{
	return sh->n <= 1 || job % sh->n == sh->i;
}

int od_frame_job(const struct od_frame *f, long *job)
{
	const char *v = od_frame_get(f, "job");
	if (!v)
		return 0;
	char *e;
	errno = 0;
	long long x = strtoll(v, &e, 10);
	if (e == v || *e || *v == '-' || *v == '+' || x < 0 || x >= LONG_MAX || errno)
		return od_error(OD_EFORMAT, "job='%s' is not a job number", v);
	*job = (long)x;
	return 1;
}

void od_prompt_id(long line, const char *s, char *buf, size_t size)
{
	struct od_sha256 h;
	char hex[65];
	od_sha256_init(&h);
	od_sha256_update(&h, s, strlen(s));
	od_sha256_hex(&h, hex);
	snprintf(buf, size, "%06ld-%.8s", line, hex);
}

void od_path_stem(const char *path, char *buf, size_t size)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	size_t n = dot && dot > base && strcmp(base, "..") ? (size_t)(dot - base) : strlen(base);
	snprintf(buf, size, "%.*s", (int)n, base);
}

/* The key of "%{KEY}" at p (p at '{'): its length, 0 when malformed. */
static size_t key_len(const char *p)
{
	size_t n = 0;
	for (p++; p[n] && p[n] != '}'; n++) {
		char c = p[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '-'))
			return 0;
	}
	return p[n] == '}' ? n : 0;
}

int od_name_check(const char *pattern)
{
	int what = 0, numbers = 0;
	for (const char *p = pattern; *p; p++) {
		if (*p != '%')
			continue;
		if (p[1] == '%') {
			p++;
			continue;
		}
		const char *conv = p++;
		int zero = *p == '0';
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == 'd') {
			what |= OD_NAME_NUMBER;
			numbers++;
		} else if (*p == '{') {
			size_t k = key_len(p);
			if (!k)
				return od_error(OD_EINVAL, "'%s': %.*s... is not a %%{KEY} with KEY of letters, digits, '_', "
							   "'.' and '-'", pattern, (int)(p - conv + 1), conv);
			if (p > conv + 1 && !zero)
				return od_error(OD_EINVAL, "'%s': a width in %%{KEY} pads with zeros: write %%0N{KEY}",
						pattern);
			what |= OD_NAME_META;
			p += k + 1;
		} else {
			return od_error(OD_EINVAL, "'%s' may hold only %%d (like %%03d), %%{KEY} and %%%%", pattern);
		}
	}
	if (numbers > 1)
		return od_error(OD_EINVAL, "'%s' holds more than one %%d conversion", pattern);
	return what;
}

static const char *meta_get(const struct od_meta_entry *meta, int n, const char *key, size_t klen)
{
	for (int i = 0; i < n; i++)
		if (strlen(meta[i].key) == klen && !memcmp(meta[i].key, key, klen))
			return meta[i].value;
	return NULL;
}

/* Whether v can be one component of a path: no way out of the folder. */
static const char *unsafe(const char *v)
{
	if (!*v)
		return "it is empty";
	if (!strcmp(v, ".") || !strcmp(v, ".."))
		return "it names a folder, not a file in it";
	if (strlen(v) > MAX_COMPONENT)
		return "it is longer than 255 bytes";
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '/')
			return "it holds a '/' (it would name a file outside the output folder)";
		if (*p < 0x20 || *p == 0x7f)
			return "it holds a control character";
	}
	return NULL;
}

/* Append n bytes of s to out at *len. */
static int put(char *out, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len + n >= size)
		return 0;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = 0;
	return 1;
}

int od_name_expand(const char *pattern, long number, const struct od_meta_entry *meta, int n, const char *where,
		   char *out, size_t size)
{
	size_t len = 0;
	int fits = size > 0;
	if (fits)
		out[0] = 0;
	for (const char *p = pattern; *p && fits; p++) {
		if (*p != '%') {
			fits = put(out, size, &len, p, 1);
			continue;
		}
		if (p[1] == '%') {
			fits = put(out, size, &len, p++, 1);
			continue;
		}
		p++;
		/* %[0][WIDTH]d as printf reads it (a leading 0: zeros, else spaces),
		 * formatted from the parsed values: the pattern's digits never reach
		 * a format string, however many there are */
		const int zeros = *p == '0';
		int width = 0;
		for (; *p >= '0' && *p <= '9'; p++)
			if (width < 1000)
				width = 10 * width + (*p - '0');
		if (width > 1000)
			width = 1000;
		if (*p == 'd') {
			char num[1100];
			snprintf(num, sizeof num, zeros ? "%0*ld" : "%*ld", width, number);
			fits = put(out, size, &len, num, strlen(num));
			continue;
		}
		/* %{KEY} (checked by od_name_check) */
		size_t k = key_len(p);
		if (!k)
			return od_error(OD_EINVAL, "'%s' is not a checked name pattern", pattern);
		const char *key = p + 1;
		p += k + 1;
		char stem[4096];
		int is_source = k == 6 && !memcmp(key, "source", 6);
		const char *v = meta_get(meta, n, key, k);
		if (!v)
			return od_error(OD_EFORMAT, "%s has no '%.*s' metadata for %%{%.*s} in the output name", where,
					(int)k, key, (int)k, key);
		if (is_source) {
			/* the first source ("a.png, b.png"), its stem */
			const char *comma = strstr(v, ", ");
			char first[4096];
			snprintf(first, sizeof first, "%.*s", (int)(comma ? (size_t)(comma - v) : strlen(v)), v);
			od_path_stem(first, stem, sizeof stem);
			v = stem;
		}
		const char *why = unsafe(v);
		if (why) {
			/* the value as it is, but on one line: a message is one line */
			char shown[61];
			size_t m = 0;
			for (; v[m] && m < sizeof shown - 1; m++)
				shown[m] = (unsigned char)v[m] < 0x20 || v[m] == 0x7f ? '?' : v[m];
			shown[m] = 0;
			return od_error(OD_EFORMAT, "%s: %.*s='%s' cannot be part of an output name: %s", where, (int)k,
					key, shown, why);
		}
		for (size_t l = strlen(v); fits && (int)l < width; l++)
			fits = put(out, size, &len, "0", 1);
		if (fits)
			fits = put(out, size, &len, v, strlen(v));
	}
	if (!fits)
		return od_error(OD_EINVAL, "the output name made from '%s' is too long", pattern);
	return OD_OK;
}
