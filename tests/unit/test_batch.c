/*
 * test_batch: shards, job identities and output names (pipeline/batch.h):
 * shard specs and their limits, which jobs a shard holds, the prompt id
 * against sha256sum's digest of the line, path stems, and the name patterns:
 * %d with its width, %{KEY}, %0N{KEY}, %%, a missing key, every kind of
 * unsafe value, a name too long for its buffer. t0195 runs them through the
 * tools.
 */
#include "pipeline/batch.h"
#include "base/error.h"
#include "tap.h"

#include <string.h>

static int expand(const char *pattern, const char *key, const char *value, char *out, size_t size)
{
	struct od_meta_entry m[2] = { { (char *)key, (char *)value }, { "job", "42" } };
	return od_name_expand(pattern, 7, m, 2, "'x.odf': frame 3", out, size);
}

int main(void)
{
	struct od_shard sh;
	ok(!od_shard_parse("0/1", &sh) && sh.i == 0 && sh.n == 1, "0/1");
	ok(!od_shard_parse("3/4", &sh) && sh.i == 3 && sh.n == 4, "3/4");
	ok(od_shard_parse("4/4", &sh) == OD_EINVAL && strstr(od_errmsg(), "from 0 to 3"), "4/4: %s", od_errmsg());
	ok(od_shard_parse("0/0", &sh) == OD_EINVAL, "0/0");
	ok(od_shard_parse("-1/2", &sh) == OD_EINVAL, "-1/2");
	ok(od_shard_parse("1/2x", &sh) == OD_EINVAL, "1/2x");
	ok(od_shard_parse("1", &sh) == OD_EINVAL, "1");
	ok(od_shard_parse("/2", &sh) == OD_EINVAL, "/2");
	ok(od_shard_parse("0/1000001", &sh) == OD_EINVAL, "more than a million shards");
	ok(od_shard_parse("99999999999/2", &sh) == OD_EINVAL, "a number too long");
	od_shard_parse("1/3", &sh);
	ok(!od_shard_has(&sh, 0) && od_shard_has(&sh, 1) && !od_shard_has(&sh, 2) && od_shard_has(&sh, 4),
	   "shard 1/3 holds jobs 1, 4, ...");
	struct od_shard all = { 0, 1 };
	ok(od_shard_has(&all, 0) && od_shard_has(&all, 12345), "1 shard holds every job");

	char id[64];
	od_prompt_id(42, "a green cone on a table", id, sizeof id);
	/* printf 'a green cone on a table' | sha256sum */
	ok(!strcmp(id, "000042-a38d9a74"), "prompt id: %s", id);
	od_prompt_id(1234567, "", id, sizeof id);
	ok(!strcmp(id, "1234567-e3b0c442"), "a long line number, an empty line: %s", id);

	char b[256];
	od_path_stem("photos/IMG_0042.jpg", b, sizeof b);
	ok(!strcmp(b, "IMG_0042"), "stem of photos/IMG_0042.jpg: %s", b);
	od_path_stem("a.b/c.tar.gz", b, sizeof b);
	ok(!strcmp(b, "c.tar"), "stem of a.b/c.tar.gz: %s", b);
	od_path_stem(".hidden", b, sizeof b);
	ok(!strcmp(b, ".hidden"), "stem of .hidden: %s", b);
	od_path_stem("x/..", b, sizeof b);
	ok(!strcmp(b, ".."), "stem of x/..: %s", b);

	ok(od_name_check("plain.png") == 0, "a plain name");
	ok(od_name_check("out_%03d.png") == OD_NAME_NUMBER, "%%03d");
	ok(od_name_check("d/%{source}.png") == OD_NAME_META, "%%{source}");
	ok(od_name_check("%04{job}-%d-100%%.png") == (OD_NAME_META | OD_NAME_NUMBER), "both, and %%%%");
	ok(od_name_check("%d%d") == OD_EINVAL, "two %%d");
	ok(od_name_check("%s") == OD_EINVAL, "%%s");
	ok(od_name_check("%-3d") == OD_EINVAL, "%%-3d");
	ok(od_name_check("%{a") == OD_EINVAL, "%%{ without }");
	ok(od_name_check("%{}") == OD_EINVAL, "an empty key");
	ok(od_name_check("%{a/b}") == OD_EINVAL, "a key with /");
	ok(od_name_check("%4{job}") == OD_EINVAL, "a width without 0");
	ok(od_name_check("100%") == OD_EINVAL, "a final %%");

	ok(!expand("d/%{source}.png", "source", "photos/IMG_0042.jpg, depth/IMG_0042.png", b, sizeof b) &&
		   !strcmp(b, "d/IMG_0042.png"), "%%{source}: the first source's stem: %s", b);
	ok(!expand("%{id}-%03d-%%.png", "id", "000001-9f967626", b, sizeof b) && !strcmp(b, "000001-9f967626-007-%.png"),
	   "%%{id}, %%03d, %%%%: %s", b);
	ok(!expand("%06{job}.png", "id", "x", b, sizeof b) && !strcmp(b, "000042.png"), "%%06{job}: %s", b);
	ok(!expand("%02{job}.png", "id", "x", b, sizeof b) && !strcmp(b, "42.png"), "a width shorter than the value");
	ok(!expand("%5d.png", "id", "x", b, sizeof b) && !strcmp(b, "    7.png"), "%%5d pads with spaces: '%s'", b);
	ok(!expand("u%000000000000000000000000000000000000003d", "id", "x", b, sizeof b) && !strcmp(b, "u007"),
	   "a run of zeros before the width (found by fuzz_name): '%s'", b);
	ok(!expand("%0000000000000000000000000000000000000000d", "id", "x", b, sizeof b) && !strcmp(b, "7"),
	   "zeros and no width: '%s'", b);
	ok(expand("%099999999999d", "id", "x", b, sizeof b) == OD_EINVAL, "a width past the buffer: too long");
	ok(expand("%{seed}.png", "id", "x", b, sizeof b) == OD_EFORMAT &&
		   !strcmp(od_errmsg(), "'x.odf': frame 3 has no 'seed' metadata for %{seed} in the output name"),
	   "a missing key: %s", od_errmsg());
	const char *bad[] = { "", ".", "..", "a/b", "/etc/passwd", "../x", "a\nb", "a\x7f" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(expand("out/%{id}.png", "id", bad[i], b, sizeof b) == OD_EFORMAT &&
			   strstr(od_errmsg(), "cannot be part of an output name"),
		   "id value %zu refused: %s", i, od_errmsg());
	char longv[300];
	memset(longv, 'a', 256);
	longv[256] = 0;
	ok(expand("%{id}", "id", longv, b, sizeof b) == OD_EFORMAT, "a value over 255 bytes");
	ok(expand("%{source}.png", "source", "../../etc/..png", b, sizeof b) == OD_EFORMAT, "a source whose stem is ..");
	ok(expand("out/%{id}.png", "id", "0123456789", b, 12) == OD_EINVAL, "a name too long for its buffer");
	ok(expand("...%{id}", "id", "..", b, sizeof b) == OD_EFORMAT, "'..' refused even after dots");
	ok(expand("%{id}", "id", "a\nb", b, sizeof b) == OD_EFORMAT && !strchr(od_errmsg(), '\n'),
	   "a control character is not printed: the message stays one line");
	return tap_done();
}
