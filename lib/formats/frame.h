/*
 * frame.h: the od frame stream, the format every od tool reads and writes
 * (documented for users in od-frame(5)).
 *
 * A stream is frames back to back, nothing else. A frame is a 64-byte header,
 * then metadata, then the tensor data, then an optional mask plane:
 *
 *   off size  field
 *    0   8    magic        89 4F 44 46 0D 0A 1A 0A  ("\x89ODF\r\n\x1a\n")
 *    8   2    version      1
 *   10   2    kind         od_kind
 *   12   1    dtype        1 F32, 2 F16, 3 BF16
 *   13   1    role         od_role
 *   14   1    ndim         1..6
 *   15   1    flags        0
 *   16  24    shape[6]     u32 each, unused dimensions 0
 *   40   4    meta_len     bytes of metadata (at most 1 MiB)
 *   44   4    mask_len     0, or shape[0] bytes of 0/1 (text frames: the key mask)
 *   48   8    data_len     prod(shape)·sizeof(dtype), or 0 for a placeholder
 *   56   8    reserved     0
 *
 * All integers are little-endian. Metadata is a sequence of "key=value\0"
 * entries: keys are [A-Za-z0-9_.-]+, values UTF-8 without NUL. A frame's total
 * size is 64 + meta_len + data_len + mask_len, so a reader can skip a kind it does
 * not know. A placeholder (data_len 0) is a target frame that says only its
 * shape: "generate a frame of this size here".
 *
 * The reader checks everything before allocating: magic, version, known dtype,
 * shape and element count within limits (a memory bomb is refused, not
 * allocated), data_len equal to the shape's, mask values, metadata syntax and
 * UTF-8; and it tells a clean end of stream from a truncated frame.
 */
#ifndef OD_FRAME_H
#define OD_FRAME_H

#include "base/io.h"
#include "base/tensor.h"

#include <stddef.h>
#include <stdint.h>

#define OD_FRAME_MAGIC "\x89ODF\r\n\x1a\n"
#define OD_FRAME_VERSION 1
#define OD_FRAME_HEADER 64
#define OD_FRAME_MAX_DIMS 6
#define OD_FRAME_MAX_META (1u << 20)
#define OD_FRAME_MAX_DIM (1u << 24)
/* Default cap on one frame's data; od_reader.max_bytes overrides it. */
#define OD_FRAME_DEFAULT_MAX_BYTES ((size_t)2 << 30)

enum od_kind {
	OD_KIND_LATENT = 1, /* (C, h, w) model-space latent: scaling_factor · z (numerics.md §4.3) */
	OD_KIND_RAYS = 2,   /* (16, h, w) Plücker ray frame in model-latent space (§7.3) */
	OD_KIND_TEXT = 3,   /* (S, D) T5 last_hidden_state; mask plane = attention mask */
	OD_KIND_NOISE = 4,  /* any shape: N(0,1) draws, consumed in order */
	OD_KIND_IMAGE = 5,  /* (3, H, W) pixels in [-1, 1], RGB */
};

enum od_role {
	OD_ROLE_NONE = 0,
	OD_ROLE_CONDITION = 1, /* a clean frame the sequence is conditioned on; for text: the prompt */
	OD_ROLE_TARGET = 2,    /* a frame to generate (or a generated one) */
	OD_ROLE_NEGATIVE = 3,  /* text only: the negative / unconditional prompt */
};

struct od_meta_entry {
	char *key;
	char *value;
};

struct od_frame {
	enum od_kind kind;
	enum od_dtype dtype;      /* OD_F32, OD_F16 or OD_BF16 */
	enum od_role role;
	int ndim;
	int64_t shape[OD_FRAME_MAX_DIMS];
	void *data;               /* data_len bytes; NULL for a placeholder */
	size_t data_len;
	uint8_t *mask;            /* mask_len bytes of 0/1, or NULL */
	size_t mask_len;
	struct od_meta_entry *meta;
	int n_meta;
};

const char *od_kind_name(int kind);     /* "latent", ... or "unknown" */
const char *od_kind_a(int kind);        /* with its article, for "%s frame": "a latent", "an image", "an unknown" */
int od_kind_parse(const char *name);    /* or -1 */
const char *od_role_name(int role);     /* "condition", ... */
int od_role_parse(const char *name);    /* or -1 */

/* Set up f with the given description and zeroed data (alloc_data) or none (a
 * placeholder). Validates limits. */
int od_frame_init(struct od_frame *f, enum od_kind kind, enum od_role role, enum od_dtype dtype, int ndim,
		  const int64_t *shape, int alloc_data);
void od_frame_free(struct od_frame *f);
/* A deep copy. */
int od_frame_copy(struct od_frame *dst, const struct od_frame *src);
int64_t od_frame_numel(const struct od_frame *f);
/* Add or replace a metadata entry. An invalid UTF-8 value has its bad bytes
 * replaced by U+FFFD (the documented behaviour). */
int od_frame_set(struct od_frame *f, const char *key, const char *value);
int od_frame_setf(struct od_frame *f, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *od_frame_get(const struct od_frame *f, const char *key);
/* Remove a metadata entry if present. */
void od_frame_unset(struct od_frame *f, const char *key);
/* Payload as float32 (numel floats). Fails on a placeholder. */
int od_frame_to_f32(const struct od_frame *f, float *out);
/* Store numel floats, converting to f->dtype (allocates data if needed). */
int od_frame_from_f32(struct od_frame *f, const float *in);
/* Allocate and fill a mask plane of shape[0] bytes. */
int od_frame_set_mask(struct od_frame *f, const uint8_t *mask);
/* "latent f32 (16, 8, 8) condition" into buf. */
char *od_frame_describe(const struct od_frame *f, char *buf, size_t size);

/* Check that a string is valid UTF-8 (no overlongs, no surrogates). */
int od_utf8_valid(const char *s, size_t n);

/* ---- reading */
struct od_reader {
	int fd;                 /* -1 when reading from memory */
	const unsigned char *mem;
	size_t mem_len, mem_pos;
	char *label;            /* file name for messages ("<stdin>") */
	size_t max_bytes;       /* per-frame data limit */
	uint64_t index;         /* frames read so far */
};

int od_reader_open(struct od_reader *r, const char *path);
void od_reader_open_fd(struct od_reader *r, int fd, const char *label);
void od_reader_open_mem(struct od_reader *r, const void *buf, size_t len, const char *label);
/* Read the next frame: 1 = got one, 0 = clean end of stream, < 0 = error
 * ("'x.odf': frame 3: truncated data (10 of 4096 bytes)"). */
int od_reader_next(struct od_reader *r, struct od_frame *f);
void od_reader_close(struct od_reader *r);

/* ---- several inputs as one stream: what every tool's FILE... arguments mean */
struct od_inputs {
	char *const *paths;     /* n paths read in turn; "-" is stdin */
	int n, i;
	struct od_reader r;
	int open;
	const char *label;      /* the current frame's file, for messages */
	long index;             /* the current frame's number in that file */
};

/* Read paths[0..n) in turn; n == 0 means standard input. */
void od_inputs_init(struct od_inputs *in, char *const *paths, int n);
/* The next frame: 1, 0 at the end of the last input, or < 0 on error. */
int od_inputs_next(struct od_inputs *in, struct od_frame *f);
void od_inputs_close(struct od_inputs *in);

/* ---- writing (validates f first) */
int od_frame_write(struct od_out *o, const struct od_frame *f);

#endif
