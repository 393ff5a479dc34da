/* tensor.c: element types and conversions (see tensor.h). */
#include "base/tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	size_t size;
} dtypes[OD_DTYPE_COUNT] = {
	[OD_F32] = { "F32", 4 }, [OD_F16] = { "F16", 2 }, [OD_BF16] = { "BF16", 2 },
	[OD_F64] = { "F64", 8 }, [OD_I64] = { "I64", 8 }, [OD_I32] = { "I32", 4 },
	[OD_I16] = { "I16", 2 }, [OD_I8] = { "I8", 1 },   [OD_U8] = { "U8", 1 },
	[OD_BOOL] = { "BOOL", 1 },
};

size_t od_dtype_size(enum od_dtype t)
{
	return (unsigned)t < OD_DTYPE_COUNT ? dtypes[t].size : 0;
}

const char *od_dtype_name(enum od_dtype t)
{
	return (unsigned)t < OD_DTYPE_COUNT ? dtypes[t].name : "?";
}

int od_dtype_parse(const char *name, enum od_dtype *out)
{
	for (int i = 0; i < OD_DTYPE_COUNT; i++)
		if (!strcmp(name, dtypes[i].name)) {
			*out = (enum od_dtype)i;
			return 0;
		}
	return -1;
}

int od_float_dtype_parse(const char *name, enum od_dtype *out)
{
	if (!strcasecmp(name, "f32") || !strcasecmp(name, "fp32") || !strcasecmp(name, "float32"))
		*out = OD_F32;
	else if (!strcasecmp(name, "f16") || !strcasecmp(name, "fp16") || !strcasecmp(name, "float16"))
		*out = OD_F16;
	else if (!strcasecmp(name, "bf16") || !strcasecmp(name, "bfloat16"))
		*out = OD_BF16;
	else
		return -1;
	return 0;
}

int od_dtype_is_float(enum od_dtype t)
{
	return t == OD_F32 || t == OD_F16 || t == OD_BF16 || t == OD_F64;
}

int64_t od_tensor_numel(const struct od_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

double od_tensor_elem(const struct od_tensor *t, size_t i)
{
	const char *p = t->data;
	switch (t->dtype) {
	case OD_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
	case OD_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
	case OD_F16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return od_f16_to_f32(v); }
	case OD_BF16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return od_bf16_to_f32(v); }
	case OD_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
	case OD_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
	case OD_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
	case OD_I8: return (int8_t)p[i];
	case OD_U8: case OD_BOOL: return (unsigned char)p[i];
	default: return 0;
	}
}

char *od_shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
	size_t k = 0;
	k += (size_t)snprintf(buf + k, size - k, "(");
	for (int i = 0; i < ndim && k < size; i++)
		k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
	if (k < size)
		snprintf(buf + k, size - k, ")");
	return buf;
}

static inline uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static inline float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

float od_bf16_to_f32(uint16_t h)
{
	return bits_f32((uint32_t)h << 16);
}

uint16_t od_f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it a (quiet) NaN */
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1); /* round to nearest, ties to even */
	return (uint16_t)(u >> 16);
}

float od_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t man = h & 0x3ff;
	if (exp == 0) {
		if (man == 0)
			return bits_f32(sign);
		/* subnormal: value = man * 2^-24 */
		float v = (float)man * 0x1p-24f;
		return sign ? -v : v;
	}
	if (exp == 31)
		return bits_f32(sign | 0x7f800000u | (man << 13));
	return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t od_f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	uint32_t a = u & 0x7fffffffu;
	if (a > 0x7f800000u)
		return sign | 0x7e00; /* NaN */
	if (a >= 0x477ff000u)   /* rounds to >= 65520: infinity */
		return sign | 0x7c00;
	if (a < 0x38800000u) {  /* below the smallest normal half: subnormal or zero */
		float v = bits_f32(a) * 0x1p24f; /* in units of 2^-24, exact */
		/* round half to even via the FPU's default rounding */
		return sign | (uint16_t)lrintf(v);
	}
	uint32_t r = a + 0xfffu + ((a >> 13) & 1);
	return sign | (uint16_t)((r - 0x38000000u) >> 13);
}

/* Widening BF16 is a shift; the CPU linear kernel does it for every weight of
 * a BF16 checkpoint on the float32 path, so it has an AVX2 loop (chosen at run
 * time; the same bits as the scalar one). */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx2"))) static size_t bf16_widen_avx2(float *dst, const uint16_t *s, size_t n)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256i a = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + i)));
		__m256i b = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + i + 8)));
		_mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(a, 16));
		_mm256_storeu_si256((__m256i *)(dst + i + 8), _mm256_slli_epi32(b, 16));
	}
	return i;
}
static int have_avx2(void)
{
	static int v = -1;
	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("avx2");
	}
	return v;
}
#endif

void od_to_f32(float *dst, const void *src, enum od_dtype t, size_t n)
{
	switch (t) {
	case OD_F32:
		memmove(dst, src, n * 4);
		break;
	case OD_BF16: {
		const uint16_t *s = src;
		size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
		if (have_avx2())
			i = bf16_widen_avx2(dst, s, n);
#endif
		for (; i < n; i++)
			dst[i] = bits_f32((uint32_t)s[i] << 16);
		break;
	}
	case OD_F16: {
		const uint16_t *s = src;
		for (size_t i = 0; i < n; i++)
			dst[i] = od_f16_to_f32(s[i]);
		break;
	}
	case OD_F64: {
		const double *s = src;
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)s[i];
		break;
	}
	default:
		memset(dst, 0, n * 4);
		break;
	}
}

void od_from_f32(void *dst, const float *src, enum od_dtype t, size_t n)
{
	switch (t) {
	case OD_F32:
		memmove(dst, src, n * 4);
		break;
	case OD_BF16: {
		uint16_t *d = dst;
		for (size_t i = 0; i < n; i++)
			d[i] = od_f32_to_bf16(src[i]);
		break;
	}
	case OD_F16: {
		uint16_t *d = dst;
		for (size_t i = 0; i < n; i++)
			d[i] = od_f32_to_f16(src[i]);
		break;
	}
	case OD_F64: {
		double *d = dst;
		for (size_t i = 0; i < n; i++)
			d[i] = src[i];
		break;
	}
	default:
		break;
	}
}

void od_round_to(float *x, enum od_dtype t, size_t n)
{
	if (t == OD_BF16)
		for (size_t i = 0; i < n; i++)
			x[i] = od_bf16_to_f32(od_f32_to_bf16(x[i]));
	else if (t == OD_F16)
		for (size_t i = 0; i < n; i++)
			x[i] = od_f16_to_f32(od_f32_to_f16(x[i]));
}

int64_t od_first_nonfinite(const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return (int64_t)i;
	return -1;
}

int64_t od_first_nonfinite_raw(const void *data, enum od_dtype t, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		int bad;
		if (t == OD_F32) {
			uint32_t u;
			memcpy(&u, p + 4 * i, 4);
			bad = (u & 0x7f800000u) == 0x7f800000u;
		} else if (t == OD_F16 || t == OD_BF16) {
			uint16_t u;
			memcpy(&u, p + 2 * i, 2);
			bad = t == OD_BF16 ? (u & 0x7f80u) == 0x7f80u : (u & 0x7c00u) == 0x7c00u;
		} else if (t == OD_F64) {
			uint64_t u;
			memcpy(&u, p + 8 * i, 8);
			bad = (u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
		} else {
			return -1;
		}
		if (bad)
			return (int64_t)i;
	}
	return -1;
}
