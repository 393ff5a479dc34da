/*
 * sha.h: SHA-256 and SHA-1 (FIPS 180-4), streaming.
 *
 * od-model pull checks every downloaded file against the Hugging Face hub's
 * metadata: a large (LFS) file by the SHA-256 of its content, a small one by
 * its git object id, the SHA-1 of "blob SIZE\0" followed by the content
 * (od_git_blob_begin starts such a hash).
 */
#ifndef OD_SHA_H
#define OD_SHA_H

#include <stddef.h>
#include <stdint.h>

struct od_sha256 {
	uint32_t h[8];
	uint64_t len;      /* bytes hashed */
	uint8_t buf[64];
	size_t n;          /* bytes in buf */
};

struct od_sha1 {
	uint32_t h[5];
	uint64_t len;
	uint8_t buf[64];
	size_t n;
};

void od_sha256_init(struct od_sha256 *s);
void od_sha256_update(struct od_sha256 *s, const void *data, size_t len);
/* The digest as 64 lowercase hex digits and a NUL. */
void od_sha256_hex(struct od_sha256 *s, char hex[65]);

void od_sha1_init(struct od_sha1 *s);
void od_sha1_update(struct od_sha1 *s, const void *data, size_t len);
void od_sha1_hex(struct od_sha1 *s, char hex[41]);

/* Start the git object id of a blob of size bytes: SHA-1 of "blob SIZE\0". */
void od_git_blob_begin(struct od_sha1 *s, uint64_t size);

#endif
