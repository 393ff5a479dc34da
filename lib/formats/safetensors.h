/*
 * safetensors.h: read and write .safetensors files.
 *
 * Format: an 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string", ...}}, then the raw little-endian data;
 * offsets count from the end of the header.
 *
 * Reading maps the file and validates every entry before anything uses it: known
 * dtype, at most OD_MAX_DIMS dimensions, no overflow in the element count, offsets
 * inside the data area, byte length equal to the shape's. Tensors are views into
 * the map (zero copy). od_st_parse() does the same on a buffer the caller keeps
 * alive (used by the fuzz target and by stream readers).
 *
 * Writing takes tensor descriptors; data comes from a pointer or, for tensors too
 * large to hold, from a fill callback called chunk by chunk (od-model random).
 * Names are written sorted; the header is padded with spaces to a multiple of 8.
 */
#ifndef OD_SAFETENSORS_H
#define OD_SAFETENSORS_H

#include "base/io.h"
#include "base/tensor.h"

#include <stddef.h>

#define OD_ST_MAX_HEADER (256u << 20) /* 256 MiB of JSON is far beyond any real file */

struct od_st_meta {
	char *key;
	char *value;
};

struct od_safetensors {
	char *path;                 /* for messages */
	struct od_map map;          /* empty when parsed from a caller's buffer */
	struct od_tensor *tensors;  /* sorted by name */
	int n_tensors;
	struct od_st_meta *meta;
	int n_meta;
	char *strings;              /* storage for names */
};

/* Parse buf (not copied: tensors point into it). label names it in errors. */
int od_st_parse(struct od_safetensors *st, const void *buf, size_t len, const char *label);
/* Map and parse a file. */
int od_st_open(struct od_safetensors *st, const char *path);
void od_st_close(struct od_safetensors *st);

/* Tensor by name, or NULL. */
const struct od_tensor *od_st_find(const struct od_safetensors *st, const char *name);
/* Metadata value by key, or NULL. */
const char *od_st_meta(const struct od_safetensors *st, const char *key);

/* ---- writing */
typedef int (*od_st_fill_fn)(void *user, const char *name, enum od_dtype dtype,
			     size_t first, size_t count, void *buf);

struct od_st_writer;
struct od_st_writer *od_st_writer_new(void);
void od_st_writer_free(struct od_st_writer *w);
/* Add a tensor; data (copied by pointer, must stay valid until written) may be
 * NULL, then the fill callback supplies it. */
int od_st_writer_add(struct od_st_writer *w, const char *name, enum od_dtype dtype,
		     int ndim, const int64_t *shape, const void *data);
int od_st_writer_meta(struct od_st_writer *w, const char *key, const char *value);
/* Write everything to out. */
int od_st_writer_write(struct od_st_writer *w, struct od_out *out, od_st_fill_fn fill, void *user);

#endif
