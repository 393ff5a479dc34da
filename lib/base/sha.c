/* sha.c: SHA-256 and SHA-1 as FIPS 180-4 defines them (see sha.h). */
#include "base/sha.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 §6.2.2 */
static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];
	for (int t = 0; t < 16; t++)
		w[t] = be32(p + 4 * t);
	for (int t = 16; t < 64; t++) {
		uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
		uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
	for (int t = 0; t < 64; t++) {
		uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[t] + w[t];
		uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

/* FIPS 180-4 §6.1.2 */
static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80];
	for (int t = 0; t < 16; t++)
		w[t] = be32(p + 4 * t);
	for (int t = 16; t < 80; t++)
		w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int t = 0; t < 80; t++) {
		uint32_t f, k;
		if (t < 20)
			f = (b & c) | (~b & d), k = 0x5a827999;
		else if (t < 40)
			f = b ^ c ^ d, k = 0x6ed9eba1;
		else if (t < 60)
			f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
		else
			f = b ^ c ^ d, k = 0xca62c1d6;
		uint32_t tmp = rotl(a, 5) + f + e + k + w[t];
		e = d, d = c, c = rotl(b, 30), b = a, a = tmp;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

/* The shared buffering and padding (§5.1.1): both hashes take 64-byte blocks
 * and end with 0x80, zeros and the bit length big-endian. */
static void update(uint32_t *h, void (*block)(uint32_t *, const uint8_t *), uint8_t *buf, size_t *n,
		   uint64_t *len, const void *data, size_t size)
{
	const uint8_t *p = data;
	*len += size;
	if (*n) {
		size_t k = 64 - *n < size ? 64 - *n : size;
		memcpy(buf + *n, p, k);
		*n += k, p += k, size -= k;
		if (*n < 64)
			return;
		block(h, buf);
		*n = 0;
	}
	for (; size >= 64; p += 64, size -= 64)
		block(h, p);
	memcpy(buf, p, size);
	*n = size;
}

static void finish(uint32_t *h, void (*block)(uint32_t *, const uint8_t *), uint8_t *buf, size_t n, uint64_t len)
{
	const uint64_t bits = len * 8;
	buf[n++] = 0x80;
	if (n > 56) {
		memset(buf + n, 0, 64 - n);
		block(h, buf);
		n = 0;
	}
	memset(buf + n, 0, 56 - n);
	for (int i = 0; i < 8; i++)
		buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	block(h, buf);
}

void od_sha256_init(struct od_sha256 *s)
{
	static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(s->h, h0, sizeof h0);
	s->len = 0;
	s->n = 0;
}

static void block256(uint32_t *h, const uint8_t *p) { sha256_block(h, p); }
static void block1(uint32_t *h, const uint8_t *p) { sha1_block(h, p); }

void od_sha256_update(struct od_sha256 *s, const void *data, size_t len)
{
	update(s->h, block256, s->buf, &s->n, &s->len, data, len);
}

void od_sha256_hex(struct od_sha256 *s, char hex[65])
{
	finish(s->h, block256, s->buf, s->n, s->len);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 8 * i, 9, "%08" PRIx32, s->h[i]);
}

void od_sha1_init(struct od_sha1 *s)
{
	static const uint32_t h0[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
	memcpy(s->h, h0, sizeof h0);
	s->len = 0;
	s->n = 0;
}

void od_sha1_update(struct od_sha1 *s, const void *data, size_t len)
{
	update(s->h, block1, s->buf, &s->n, &s->len, data, len);
}

void od_sha1_hex(struct od_sha1 *s, char hex[41])
{
	finish(s->h, block1, s->buf, s->n, s->len);
	for (int i = 0; i < 5; i++)
		snprintf(hex + 8 * i, 9, "%08" PRIx32, s->h[i]);
}

void od_git_blob_begin(struct od_sha1 *s, uint64_t size)
{
	char head[40];
	int n = snprintf(head, sizeof head, "blob %" PRIu64, size);
	od_sha1_init(s);
	od_sha1_update(s, head, (size_t)n + 1); /* with its NUL */
}
