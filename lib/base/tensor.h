/*
 * tensor.h: element types and the tensor view.
 *
 * A struct od_tensor is a *view*: a name, an element type, a shape and a pointer
 * to data it does not own (typically a memory-mapped checkpoint file, see
 * safetensors.h). Shapes are in PyTorch order, row-major, last index fastest,
 * exactly as the checkpoints store them, so Linear weights are (out, in).
 *
 * Conversions between F32, F16 and BF16 follow IEEE round-to-nearest-even, as
 * torch does for `.to(torch.bfloat16)`; widening is exact.
 */
#ifndef OD_TENSOR_H
#define OD_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define OD_MAX_DIMS 8

enum od_dtype {
	OD_F32 = 0,
	OD_F16 = 1,
	OD_BF16 = 2,
	OD_F64 = 3,
	OD_I64 = 4,
	OD_I32 = 5,
	OD_I16 = 6,
	OD_I8 = 7,
	OD_U8 = 8,
	OD_BOOL = 9,
	OD_DTYPE_COUNT
};

struct od_tensor {
	const char *name;
	enum od_dtype dtype;
	int ndim;
	int64_t shape[OD_MAX_DIMS];
	const void *data;
	size_t nbytes;
};

/* Bytes per element (1 for BOOL). */
size_t od_dtype_size(enum od_dtype t);
/* The safetensors spelling ("F32", "BF16", ...). */
const char *od_dtype_name(enum od_dtype t);
/* Parse a safetensors dtype name; returns 0 and sets *out, or -1 if unknown. */
int od_dtype_parse(const char *name, enum od_dtype *out);
/* Parse a user-facing name ("f32", "fp16", "bf16", case-insensitive) for the
 * floating types only; returns 0 or -1. */
int od_float_dtype_parse(const char *name, enum od_dtype *out);
/* True for F32, F16, BF16 and F64. */
int od_dtype_is_float(enum od_dtype t);

int64_t od_tensor_numel(const struct od_tensor *t);
/* Element i of a tensor of any numeric dtype, as double. */
double od_tensor_elem(const struct od_tensor *t, size_t i);
/* "(3840, 64)" into buf; returns buf. */
char *od_shape_str(char *buf, size_t size, int ndim, const int64_t *shape);

/* Scalar conversions. */
float od_bf16_to_f32(uint16_t h);
uint16_t od_f32_to_bf16(float f);
float od_f16_to_f32(uint16_t h);
uint16_t od_f32_to_f16(float f);

/* Convert n elements of a float type (F32, F16, BF16, F64) to F32. */
void od_to_f32(float *dst, const void *src, enum od_dtype t, size_t n);
/* Convert n floats to a float type (F32, F16, BF16, F64). */
void od_from_f32(void *dst, const float *src, enum od_dtype t, size_t n);
/* Round n floats in place to the precision of t (F32: unchanged). */
void od_round_to(float *x, enum od_dtype t, size_t n);

/* The index of the first NaN or infinity among n floats, or -1 when all are
 * finite. Every stage that hands numbers on checks its output with it, once
 * (README, Conventions: non-finite values never leave a tool). */
int64_t od_first_nonfinite(const float *x, size_t n);
/* The same for n elements of a float type (F32, F16, BF16, F64), read from
 * their bits; other types are always finite. */
int64_t od_first_nonfinite_raw(const void *data, enum od_dtype t, size_t n);

#endif
