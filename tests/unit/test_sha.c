/*
 * test_sha: SHA-256 and SHA-1 (base/sha.h) against the test vectors of
 * FIPS 180-4's examples (NIST CSRC "Example Algorithms"): the empty message,
 * "abc", the 448-bit two-block message and a million 'a's; the same digest
 * whatever the chunking of the updates; and git's object id of a blob (git
 * hash-object's value for "hello\n"). t0180 compares with sha256sum and git
 * on real files.
 */
#include "base/sha.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static void s256(const void *d, size_t n, char hex[65])
{
	struct od_sha256 s;
	od_sha256_init(&s);
	od_sha256_update(&s, d, n);
	od_sha256_hex(&s, hex);
}

static void s1(const void *d, size_t n, char hex[41])
{
	struct od_sha1 s;
	od_sha1_init(&s);
	od_sha1_update(&s, d, n);
	od_sha1_hex(&s, hex);
}

int main(void)
{
	static const struct {
		const char *msg, *sha256, *sha1;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		  "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
		  "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
	};
	char h256[65], h1[41];
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		s256(v[i].msg, strlen(v[i].msg), h256);
		ok(!strcmp(h256, v[i].sha256), "SHA-256 of \"%.10s...\" (%zu bytes): %s", v[i].msg, strlen(v[i].msg), h256);
		s1(v[i].msg, strlen(v[i].msg), h1);
		ok(!strcmp(h1, v[i].sha1), "SHA-1 of \"%.10s...\": %s", v[i].msg, h1);
	}
	/* a million 'a's, fed in uneven pieces */
	char *m = malloc(1000000);
	memset(m, 'a', 1000000);
	struct od_sha256 a;
	struct od_sha1 b;
	od_sha256_init(&a);
	od_sha1_init(&b);
	for (size_t at = 0, k = 1; at < 1000000; at += k, k = k * 3 % 997 + 1) {
		size_t n = at + k > 1000000 ? 1000000 - at : k;
		od_sha256_update(&a, m + at, n);
		od_sha1_update(&b, m + at, n);
	}
	od_sha256_hex(&a, h256);
	od_sha1_hex(&b, h1);
	ok(!strcmp(h256, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
	   "SHA-256 of a million 'a', in pieces: %s", h256);
	ok(!strcmp(h1, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"), "SHA-1 of a million 'a', in pieces: %s", h1);
	/* every length around the block and padding boundaries, in one piece
	 * and byte by byte */
	int same = 1;
	for (size_t n = 0; n < 200; n++) {
		char one[65], each[65];
		s256(m, n, one);
		od_sha256_init(&a);
		for (size_t i = 0; i < n; i++)
			od_sha256_update(&a, m + i, 1);
		od_sha256_hex(&a, each);
		same &= !strcmp(one, each);
	}
	ok(same, "lengths 0 to 199: byte by byte = in one piece");
	free(m);
	od_git_blob_begin(&b, 6);
	od_sha1_update(&b, "hello\n", 6);
	od_sha1_hex(&b, h1);
	ok(!strcmp(h1, "ce013625030ba8dba906f756967f9e9ca394464a"), "git's blob id of \"hello\\n\": %s", h1);
	return tap_done();
}
