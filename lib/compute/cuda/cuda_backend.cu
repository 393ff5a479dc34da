/*
 * cuda_backend.cu: the CUDA plugin's entry point (od_cuda_kernels, called by
 * load_cuda() in compute/backend.c), device memory, the weight caches and the
 * kernel table.
 *
 * Memory: a caching allocator over cudaMalloc (cu_dev_alloc). One stream per
 * context carries every kernel, copy and GEMM, so a freed block can serve the
 * next allocation at once: whatever is queued later on the stream runs after
 * the kernels that used it before. After the first denoising step every
 * allocation is a hit. Blocks are rounded to 512 bytes (up to 1 MB) or 2 MB;
 * a free block up to twice the size asked is reused; when cudaMalloc fails the
 * cached blocks are given back and it is tried once more. (cudaMallocAsync
 * pools would do the same, but not every virtualised GPU supports them.)
 *
 * Weights: the first od_linear/od_conv2d with a tensor uploads it and keeps a
 * BF16 copy (F32 and F16 are rounded to nearest even on the GPU), so a 2.8B
 * checkpoint costs 5.6 GB of GPU memory whatever its file dtype.
 */
#include "compute/cuda/cuda_internal.cuh"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <new>
#include <vector>

int cu_fail(struct od_ctx *c, int code, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (c && c->error)
		c->error(code, "%s", buf);
	return code;
}

int cu_check(struct od_ctx *c, cudaError_t e, const char *what)
{
	if (e == cudaSuccess)
		return OD_OK;
	cudaGetLastError(); /* clear a non-sticky error so the next call starts clean */
	int code = e == cudaErrorMemoryAllocation ? OD_ENOMEM : OD_EDEVICE;
	return cu_fail(c, code, "cuda: %s: %s", what, cudaGetErrorString(e));
}

int cu_launched(struct od_ctx *c, const char *what)
{
	return cu_check(c, cudaGetLastError(), what);
}

void cu_account(struct od_ctx *c, size_t add, size_t sub)
{
	c->bytes_now += add;
	c->bytes_now -= sub;
	if (c->bytes_now > c->bytes_peak)
		c->bytes_peak = c->bytes_now;
}

void *cu_scratch(struct od_ctx *c, size_t bytes, const char *what)
{
	void *p = cu_dev_alloc(c, bytes);
	if (!p) {
		cu_fail(c, OD_ENOMEM, "cuda: %s: out of GPU memory for %zu bytes of scratch", what, bytes);
		return NULL;
	}
	cu_account(c, bytes, 0);
	return p;
}

void cu_scratch_free(struct od_ctx *c, void *p, size_t bytes)
{
	if (!p)
		return;
	cu_dev_free(c, p);
	cu_account(c, 0, bytes);
}

static size_t block_size(size_t b)
{
	if (b <= ((size_t)1 << 20))
		return (b + 511) & ~(size_t)511;
	return (b + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
}

/* Give every cached free block back to the driver. */
static void release_cached(cu_state *s)
{
	if (s->free_blocks.empty())
		return;
	cudaStreamSynchronize(s->stream);
	for (auto &kv : s->free_blocks) {
		cudaFree(kv.second);
		s->reserved -= kv.first;
	}
	s->free_blocks.clear();
}

void *cu_dev_alloc(struct od_ctx *c, size_t bytes)
{
	cu_state *s = cu_st(c);
	const size_t sz = block_size(bytes ? bytes : 1);
	try {
		auto it = s->free_blocks.lower_bound(sz);
		if (it != s->free_blocks.end() && it->first <= 2 * sz) {
			void *p = it->second;
			s->blocks[p] = it->first;
			s->free_blocks.erase(it);
			return p;
		}
		void *p = NULL;
		if (cudaMalloc(&p, sz) != cudaSuccess) {
			cudaGetLastError();
			release_cached(s);
			if (cudaMalloc(&p, sz) != cudaSuccess) {
				cudaGetLastError();
				return NULL;
			}
		}
		s->reserved += sz;
		if (s->reserved > s->reserved_peak)
			s->reserved_peak = s->reserved;
		s->blocks[p] = sz;
		return p;
	} catch (const std::bad_alloc &) {
		return NULL;
	}
}

void cu_dev_free(struct od_ctx *c, void *p)
{
	cu_state *s = cu_st(c);
	auto it = s->blocks.find(p);
	if (it == s->blocks.end())
		return;
	const size_t sz = it->second;
	s->blocks.erase(it);
	try {
		s->free_blocks.emplace(sz, p);
	} catch (const std::bad_alloc &) {
		cudaStreamSynchronize(s->stream);
		cudaFree(p);
		s->reserved -= sz;
	}
}

int64_t cu_numel(const struct od_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

const char *cu_tname(const struct od_tensor *t)
{
	return t && t->name ? t->name : "?";
}

static size_t dtype_size(int dt)
{
	switch (dt) {
	case OD_F32:
		return 4;
	case OD_F16:
	case OD_BF16:
		return 2;
	case OD_F64:
		return 8;
	default:
		return 0;
	}
}

static const char *dtype_name(int dt)
{
	static const char *const names[] = { "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL" };
	return dt >= 0 && dt < (int)(sizeof names / sizeof names[0]) ? names[dt] : "?";
}

/* ---------------------------------------------------------------- conversions */

template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ bf16 from_f32<bf16>(float v) { return __float2bfloat16_rn(v); }

template <typename T>
__global__ void convert_kernel(T *dst, const void *src, int dtype, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
		float v;
		switch (dtype) {
		case OD_F32:
			v = ((const float *)src)[i];
			break;
		case OD_F16:
			v = __half2float(((const __half *)src)[i]);
			break;
		case OD_BF16:
			v = __bfloat162float(((const bf16 *)src)[i]);
			break;
		default:
			v = (float)((const double *)src)[i];
			break;
		}
		dst[i] = from_f32<T>(v);
	}
}

__global__ void f32_to_bf16_kernel(bf16 *dst, const float *src, int64_t n)
{
	int64_t i = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) * 4;
	const int64_t step = (int64_t)gridDim.x * blockDim.x * 4;
	/* Four at a time when the source is 16-byte aligned; the tail one by one. */
	if (((uintptr_t)src & 15) == 0 && ((uintptr_t)dst & 7) == 0) {
		for (; i + 3 < n; i += step) {
			float4 v = *(const float4 *)(src + i);
			__nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
			*(__nv_bfloat162 *)(dst + i) = lo;
			*(__nv_bfloat162 *)(dst + i + 2) = hi;
		}
		for (; i < n; i += step)
			for (int64_t j = i; j < i + 4 && j < n; j++)
				dst[j] = __float2bfloat16_rn(src[j]);
	} else {
		for (; i < n; i += step)
			for (int64_t j = i; j < i + 4 && j < n; j++)
				dst[j] = __float2bfloat16_rn(src[j]);
	}
}

int cu_to_bf16(struct od_ctx *c, bf16 *dst, const float *src, int64_t n)
{
	if (n <= 0)
		return OD_OK;
	f32_to_bf16_kernel<<<cu_blocks((n + 3) / 4), 256, 0, cu_st(c)->stream>>>(dst, src, n);
	return cu_launched(c, "to bf16");
}

/* Whether dtype is already T's representation (a plain copy). */
template <typename T> static bool same_repr(int dtype);
template <> bool same_repr<float>(int dtype) { return dtype == OD_F32; }
template <> bool same_repr<bf16>(int dtype) { return dtype == OD_BF16; }

/* Upload host data of a float dtype and convert it to T on the GPU, in chunks
 * through a bounded staging buffer (copies and conversions are ordered by the
 * stream, so one buffer serves every chunk). */
template <typename T>
static int upload_convert(struct od_ctx *c, T *dst, const void *src, int dtype, int64_t n, const char *name)
{
	cu_state *s = cu_st(c);
	const size_t es = dtype_size(dtype);
	if (!es)
		return cu_fail(c, OD_EMODEL, "tensor '%s' is %s, not a float type", name, dtype_name(dtype));
	if (n <= 0)
		return OD_OK;
	if (same_repr<T>(dtype))
		return cu_check(c, cudaMemcpyAsync(dst, src, (size_t)n * es, cudaMemcpyHostToDevice, s->stream), "upload");
	const int64_t chunk = (int64_t)(((size_t)64 << 20) / es);
	const int64_t len = n < chunk ? n : chunk;
	void *stage = cu_scratch(c, (size_t)len * es, "weight upload");
	if (!stage)
		return OD_ENOMEM;
	int rc = OD_OK;
	for (int64_t i = 0; i < n && !rc; i += chunk) {
		int64_t m = n - i < chunk ? n - i : chunk;
		rc = cu_check(c, cudaMemcpyAsync(stage, (const char *)src + (size_t)i * es, (size_t)m * es,
						 cudaMemcpyHostToDevice, s->stream), "upload");
		if (!rc) {
			convert_kernel<T><<<cu_blocks(m), 256, 0, s->stream>>>(dst + i, stage, dtype, m);
			rc = cu_launched(c, "convert");
		}
	}
	cu_scratch_free(c, stage, (size_t)len * es);
	return rc;
}

/* ---------------------------------------------------------------- weight caches */

template <typename T>
static int cached(struct od_ctx *c, std::unordered_map<const struct od_tensor *, cu_weight> &map,
		  const struct od_tensor *t, const T **out)
{
	cu_state *s = cu_st(c);
	const int64_t n = cu_numel(t);
	auto it = map.find(t);
	if (it != map.end()) {
		cu_weight &e = it->second;
		if (e.data == t->data && e.dtype == (int)t->dtype && e.numel == n) {
			*out = (const T *)e.dev;
			return OD_OK;
		}
		/* a different tensor at a freed struct's address: drop the stale copy */
		cu_dev_free(c, e.dev);
		cu_account(c, 0, e.bytes);
		s->weight_bytes -= e.bytes;
		map.erase(it);
	}
	if (!dtype_size(t->dtype))
		return cu_fail(c, OD_EMODEL, "tensor '%s' is %s, not a float type", cu_tname(t), dtype_name(t->dtype));
	size_t bytes = (size_t)n * sizeof(T);
	void *d = cu_dev_alloc(c, bytes);
	if (!d)
		return cu_fail(c, OD_ENOMEM, "cuda: out of GPU memory for weight '%s' (%zu bytes)", cu_tname(t), bytes);
	cu_account(c, bytes, 0);
	s->weight_bytes += bytes;
	int rc = upload_convert<T>(c, (T *)d, t->data, (int)t->dtype, n, cu_tname(t));
	if (!rc) {
		try {
			map[t] = cu_weight{ t->data, (int)t->dtype, n, d, bytes };
		} catch (const std::bad_alloc &) {
			rc = cu_fail(c, OD_ENOMEM, "out of memory");
		}
	}
	if (rc) {
		cu_dev_free(c, d);
		cu_account(c, 0, bytes);
		s->weight_bytes -= bytes;
		return rc;
	}
	*out = (const T *)d;
	return OD_OK;
}

int cu_weight_bf16(struct od_ctx *c, const struct od_tensor *t, const bf16 **out)
{
	return cached<bf16>(c, cu_st(c)->w16, t, out);
}

int cu_weight_f32(struct od_ctx *c, const struct od_tensor *t, const float **out)
{
	return cached<float>(c, cu_st(c)->w32, t, out);
}

/* ---------------------------------------------------------------- memory */

static void *cu_alloc(struct od_ctx *c, size_t bytes)
{
	cu_state *s = cu_st(c);
	void *p = cu_dev_alloc(c, bytes);
	if (!p)
		return NULL; /* od_alloc_bytes() reports it */
	try {
		s->sizes[p] = bytes;
	} catch (const std::bad_alloc &) {
		cu_dev_free(c, p);
		return NULL;
	}
	cu_account(c, bytes, 0);
	return p;
}

static void cu_free(struct od_ctx *c, void *p)
{
	cu_state *s = cu_st(c);
	if (!p || !s)
		return;
	auto it = s->sizes.find(p);
	if (it == s->sizes.end())
		return; /* not ours: never hand the allocator a foreign pointer */
	cu_dev_free(c, p);
	cu_account(c, 0, it->second);
	s->sizes.erase(it);
}

static int cu_upload(struct od_ctx *c, void *dst, const void *src, size_t bytes)
{
	cu_state *s = cu_st(c);
	if (!bytes)
		return OD_OK;
	int rc = cu_check(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s->stream), "upload");
	if (rc)
		return rc;
	/* From pageable memory the call returns once the source has been staged;
	 * from page-locked memory it is truly asynchronous, and the caller may
	 * reuse src as soon as we return: wait then. */
	cudaPointerAttributes a;
	if (cudaPointerGetAttributes(&a, src) != cudaSuccess) {
		cudaGetLastError();
		return cu_check(c, cudaStreamSynchronize(s->stream), "upload");
	}
	if (a.type == cudaMemoryTypeHost)
		return cu_check(c, cudaStreamSynchronize(s->stream), "upload");
	return OD_OK;
}

static int cu_download(struct od_ctx *c, void *dst, const void *src, size_t bytes)
{
	cu_state *s = cu_st(c);
	if (!bytes)
		return cu_check(c, cudaStreamSynchronize(s->stream), "download");
	int rc = cu_check(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s->stream), "download");
	if (rc)
		return rc;
	return cu_check(c, cudaStreamSynchronize(s->stream), "download");
}

static int cu_copy(struct od_ctx *c, void *dst, const void *src, size_t bytes)
{
	cu_state *s = cu_st(c);
	if (dst == src || !bytes)
		return OD_OK;
	const char *d = (const char *)dst, *r = (const char *)src;
	if (d < r + bytes && r < d + bytes) { /* overlapping: memmove through scratch */
		void *tmp = cu_scratch(c, bytes, "copy");
		if (!tmp)
			return OD_ENOMEM;
		int rc = cu_check(c, cudaMemcpyAsync(tmp, src, bytes, cudaMemcpyDeviceToDevice, s->stream), "copy");
		if (!rc)
			rc = cu_check(c, cudaMemcpyAsync(dst, tmp, bytes, cudaMemcpyDeviceToDevice, s->stream), "copy");
		cu_scratch_free(c, tmp, bytes);
		return rc;
	}
	return cu_check(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s->stream), "copy");
}

static int cu_sync(struct od_ctx *c)
{
	return cu_check(c, cudaStreamSynchronize(cu_st(c)->stream), "synchronize");
}

static int cu_param(struct od_ctx *c, float *dst, const struct od_tensor *t)
{
	if (!dtype_size(t->dtype))
		return cu_fail(c, OD_EMODEL, "tensor '%s' is %s, not a float type", cu_tname(t), dtype_name(t->dtype));
	int rc = upload_convert<float>(c, dst, t->data, (int)t->dtype, cu_numel(t), cu_tname(t));
	if (rc)
		return rc;
	/* a float32 tensor was copied asynchronously from memory the caller owns */
	return cu_sync(c);
}

static void free_weights(struct od_ctx *c, std::unordered_map<const struct od_tensor *, cu_weight> &map)
{
	cu_state *s = cu_st(c);
	for (auto &kv : map) {
		cu_dev_free(c, kv.second.dev);
		cu_account(c, 0, kv.second.bytes);
		s->weight_bytes -= kv.second.bytes;
	}
	map.clear();
}

static void destroy_state(struct od_ctx *c, cu_state *s)
{
	if (!s)
		return;
	if (s->stream) {
		cudaStreamSynchronize(s->stream);
		free_weights(c, s->w16);
		free_weights(c, s->w32);
		for (auto &kv : s->sizes) {
			cu_dev_free(c, (void *)kv.first);
			cu_account(c, 0, kv.second);
		}
		s->sizes.clear();
	}
	cu_gemm_plans_clear(s);
	if (s->workspace) {
		cu_dev_free(c, s->workspace);
		if (s->workspace_counted)
			cu_account(c, 0, s->workspace_bytes);
	}
	if (s->lt)
		cublasLtDestroy(s->lt);
	if (s->blas)
		cublasDestroy(s->blas);
	if (s->stream)
		cudaStreamSynchronize(s->stream);
	for (auto &kv : s->blocks) /* blocks still live (none when every free matched) */
		cudaFree(kv.first);
	s->blocks.clear();
	for (auto &kv : s->free_blocks)
		cudaFree(kv.second);
	s->free_blocks.clear();
	if (s->stream)
		cudaStreamDestroy(s->stream);
	cudaGetLastError();
	delete s;
}

static void cu_release(struct od_ctx *c)
{
	cu_state *s = cu_st(c);
	if (!s)
		return;
	destroy_state(c, s);
	c->dev = NULL;
}

static const struct od_kernels cuda_kernels = {
	/* .name = */ "cuda",
	/* .alloc = */ cu_alloc,
	/* .free = */ cu_free,
	/* .upload = */ cu_upload,
	/* .download = */ cu_download,
	/* .copy = */ cu_copy,
	/* .sync = */ cu_sync,
	/* .param = */ cu_param,
	/* .release = */ cu_release,
	/* .linear = */ cu_linear,
	/* .attention = */ cu_attention,
	/* .rmsnorm = */ cu_rmsnorm,
	/* .layernorm = */ cu_layernorm,
	/* .groupnorm = */ cu_groupnorm,
	/* .act = */ cu_act,
	/* .act_mul = */ cu_act_mul,
	/* .binary = */ cu_binary,
	/* .axpby = */ cu_axpby,
	/* .transpose = */ cu_transpose,
	/* .rmsnorm_modulate = */ cu_rmsnorm_modulate,
	/* .layernorm_modulate = */ cu_layernorm_modulate,
	/* .rmsnorm_gate_add = */ cu_rmsnorm_gate_add,
	/* .rope = */ cu_rope,
	/* .head_gate_add = */ cu_head_gate_add,
	/* .conv2d = */ cu_conv2d,
	/* .upsample2x = */ cu_upsample2x,
	/* .linear_backward_x = */ cu_linear_backward_x,
	/* .linear_backward_w = */ cu_linear_backward_w,
	/* .attention_lse = */ cu_attention_lse,
	/* .attention_backward = */ cu_attention_backward,
	/* .rmsnorm_backward = */ cu_rmsnorm_backward,
	/* .layernorm_backward = */ cu_layernorm_backward,
	/* .rmsnorm_modulate_backward = */ cu_rmsnorm_modulate_backward,
	/* .layernorm_modulate_backward = */ cu_layernorm_modulate_backward,
	/* .rmsnorm_gate_add_backward = */ cu_rmsnorm_gate_add_backward,
	/* .rope_backward = */ cu_rope_backward,
	/* .head_gate_add_backward = */ cu_head_gate_add_backward,
	/* .act_backward = */ cu_act_backward,
	/* .act_mul_backward = */ cu_act_mul_backward,
	/* .conv2d_backward = */ cu_conv2d_backward,
	/* .groupnorm_backward = */ cu_groupnorm_backward,
	/* .upsample2x_backward = */ cu_upsample2x_backward,
	/* .posterior = */ cu_posterior,
	/* .posterior_backward = */ cu_posterior_backward,
};

static size_t env_size(const char *name, size_t dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	return *end || !x ? dflt : (size_t)x;
}

/* The plugin's entry point (load_cuda() in compute/backend.c). NULL with a one-line
 * reason in err when there is no usable driver or GPU. */
extern "C" __attribute__((visibility("default"))) const struct od_kernels *
od_cuda_kernels(struct od_ctx *c, int abi, char *err, size_t errlen)
{
	if (abi != OD_KERNELS_ABI) {
		snprintf(err, errlen, "od-cuda.so implements kernel table version %d, the program wants %d",
			 OD_KERNELS_ABI, abi);
		return NULL;
	}
	/* Without the driver library cudart says "driver version is insufficient",
	 * which misleads on a machine that has no driver at all: say so first. */
	void *drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!drv) {
		snprintf(err, errlen, "no CUDA driver (libcuda.so.1 cannot be loaded)");
		return NULL;
	}
	dlclose(drv);
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n <= 0) {
		snprintf(err, errlen, "no CUDA device: %s",
			 e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports none");
		cudaGetLastError();
		return NULL;
	}
	cudaDeviceProp prop;
	if ((e = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess) {
		snprintf(err, errlen, "no CUDA device: %s", cudaGetErrorString(e));
		return NULL;
	}
	if (prop.major < 8) {
		snprintf(err, errlen, "'%s' (compute capability %d.%d) is too old: od needs 8.0 or newer for BF16",
			 prop.name, prop.major, prop.minor);
		return NULL;
	}
	cu_state *s = new (std::nothrow) cu_state();
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->device = 0;
	s->sm_count = prop.multiProcessorCount;
	s->smem_optin = prop.sharedMemPerBlockOptin;
	const char *v = getenv("OD_CUDA_ATTENTION");
	s->attn_simple = v && !strcmp(v, "simple");
	v = getenv("OD_CUDA_GEMM");
	s->no_lt = v && !strcmp(v, "gemmex");
	s->col_elems = env_size("OD_CUDA_COL_ELEMS", (size_t)64 << 20);
	s->workspace_bytes = (size_t)32 << 20; /* what NVIDIA recommends for Hopper */
	const char *what = "cudaSetDevice";
	cublasStatus_t bs = CUBLAS_STATUS_SUCCESS;
	if ((e = cudaSetDevice(0)) != cudaSuccess)
		goto fail;
	what = "cudaStreamCreate";
	if ((e = cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking)) != cudaSuccess)
		goto fail;
	c->dev = s; /* the allocator reads its state from the context */
	what = "workspace";
	if (!(s->workspace = cu_dev_alloc(c, s->workspace_bytes))) {
		e = cudaErrorMemoryAllocation;
		goto fail;
	}
	if ((bs = cublasCreate(&s->blas)) != CUBLAS_STATUS_SUCCESS || (bs = cublasSetStream(s->blas, s->stream)) ||
	    (bs = cublasSetWorkspace(s->blas, s->workspace, s->workspace_bytes)) ||
	    (bs = cublasLtCreate(&s->lt))) {
		snprintf(err, errlen, "cuBLAS initialisation failed: %s", cublasGetStatusString(bs));
		c->dev = s;
		destroy_state(c, s);
		c->dev = NULL;
		return NULL;
	}
	if ((e = cudaStreamSynchronize(s->stream)) != cudaSuccess)
		goto fail;
	c->dev = s;
	cu_account(c, s->workspace_bytes, 0);
	s->workspace_counted = 1;
	return &cuda_kernels;
fail:
	snprintf(err, errlen, "%s: %s", what, cudaGetErrorString(e));
	cudaGetLastError();
	c->dev = s;
	destroy_state(c, s);
	c->dev = NULL;
	return NULL;
}

/* Memory figures for benchmarks (tests/gpu): bytes of weight copies, bytes
 * counted now and at peak (c->bytes_*), and the caching allocator's
 * high-water mark of memory held from cudaMalloc. Looked up with
 * dlsym(c->plugin, "od_cuda_memory"). */
extern "C" __attribute__((visibility("default"))) int od_cuda_memory(struct od_ctx *c, size_t out[4])
{
	cu_state *s = cu_st(c);
	if (!s)
		return -1;
	out[0] = s->weight_bytes;
	out[1] = c->bytes_now;
	out[2] = c->bytes_peak;
	out[3] = s->reserved_peak;
	return 0;
}
