/*
 * fuzz_name: output names made from frame metadata (lib/pipeline/batch.c), as
 * od-decode -o 'out/%{source}.png' makes them, and the shard spec parser.
 *
 * The input is split at its first two NUL bytes: an output name pattern, a
 * metadata value (given to the keys source, id and job), and a shard spec.
 * The invariants checked (abort() on violation): an accepted pattern expands
 * either to an error or to a name whose every part that came from the value
 * is one safe path component, so that the name never leaves the folder the
 * pattern names: it holds no more '/' than the pattern's text does, and no
 * "." or ".." component that the pattern did not have; a parsed shard has
 * 0 <= i < n.
 * Seeds (fuzz/seeds/fuzz_name/): the documented patterns with safe and
 * escaping values, and shard specs.
 */
#include "pipeline/batch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int count(const char *s, char c)
{
	int n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

/* Components equal to "." or "..". */
static int dots(const char *s)
{
	int n = 0;
	const char *p = s;
	for (;;) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if ((l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			n++;
		if (!e)
			break;
		p = e + 1;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 3);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = 0;
	const char *pattern = buf;
	const char *value = pattern + strlen(pattern) + 1;
	if (value > buf + size)
		value = buf + size + 1;
	const char *spec = value + strlen(value) + 1;
	if (spec > buf + size + 1)
		spec = buf + size + 2;

	struct od_shard sh;
	if (od_shard_parse(spec, &sh) == 0 && !(sh.n >= 1 && sh.i >= 0 && sh.i < sh.n))
		abort();

	int what = od_name_check(pattern);
	if (what >= 0) {
		struct od_meta_entry meta[3] = { { "source", (char *)value }, { "id", (char *)value },
						 { "job", (char *)value } };
		struct od_meta_entry plain[3] = { { "source", "x" }, { "id", "x" }, { "job", "x" } };
		static char name[4096], ref[8192];
		/* the name, and the pattern's own text with every conversion made "x" */
		if (od_name_expand(pattern, 7, meta, 3, "fuzz", name, sizeof name) == 0 &&
		    od_name_expand(pattern, 7, plain, 3, "fuzz", ref, sizeof ref) == 0 &&
		    (count(name, '/') != count(ref, '/') || dots(name) > dots(ref)))
			abort();
	}
	free(buf);
	return 0;
}
