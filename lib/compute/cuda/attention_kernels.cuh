/*
 * attention_kernels.cuh: the device code of od_attention on CUDA (the host side
 * and the design notes are in cuda_attention.cu): the K/V packing kernels, the
 * fused flash kernel (mma.sync BF16) and the float32 one-warp-per-row kernel.
 *
 * Kept apart so that tests/gpu/emulate_attention.cc can compile the very same
 * kernels for the CPU (OD_CUDA_EMULATE: threads as std::threads, warp shuffles
 * and mma.sync emulated from the PTX fragment layouts) and check their index
 * arithmetic on a machine without a GPU.
 */
#ifndef OD_ATTENTION_KERNELS_CUH
#define OD_ATTENTION_KERNELS_CUH

#define BN 64 /* packed K/V are padded to a multiple of BN keys (the largest key tile) */
#define LOG2E 1.4426950408889634f

/* ---------------------------------------------------------------- packing */

/* Kb[b][kh][j][d] = bf16(k) for j < kv_len, d < head_dim; zero padding. */
__global__ void pack_k_kernel(bf16 *Kb, const float *k, int kv_len, int Lp, int kv_heads, int hd, int DP,
			      int kv_stride, int64_t total)
{
	for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
		const int d = (int)(e % DP);
		const int j = (int)((e / DP) % Lp);
		const int64_t bk = e / ((int64_t)DP * Lp);
		const int64_t b = bk / kv_heads;
		const int kh = (int)(bk % kv_heads);
		float v = 0.0f;
		if (j < kv_len && d < hd)
			v = k[(b * kv_len + j) * kv_stride + (int64_t)kh * hd + d];
		Kb[e] = __float2bfloat16_rn(v);
	}
}

/* Vt[b][kh][d][j] = bf16(v[b][j][kh][d]), through a 32×32 shared tile. */
__global__ void pack_vt_kernel(bf16 *Vt, const float *v, int kv_len, int Lp, int kv_heads, int hd, int DP,
			       int kv_stride)
{
	__shared__ float t[32][33];
	const int j0 = blockIdx.x * 32, d0 = blockIdx.y * 32;
	const int64_t bk = blockIdx.z, b = bk / kv_heads;
	const int kh = (int)(bk % kv_heads);
	for (int i = threadIdx.y; i < 32; i += 8) {
		const int j = j0 + i, d = d0 + threadIdx.x;
		t[i][threadIdx.x] = j < kv_len && d < hd ? v[(b * kv_len + j) * kv_stride + (int64_t)kh * hd + d] : 0.0f;
	}
	__syncthreads();
	for (int i = threadIdx.y; i < 32; i += 8) {
		const int d = d0 + i, j = j0 + threadIdx.x;
		Vt[(bk * DP + d) * Lp + j] = __float2bfloat16_rn(t[threadIdx.x][i]);
	}
}

/* ---------------------------------------------------------------- the fused kernel */

struct attn_params {
	float *o;
	const float *q;
	const bf16 *Kb, *Vt;
	const uint8_t *mask;
	const float *bias;
	int q_len, kv_len, Lp, q_heads, kv_heads, hd, rep, tiled, q_stride, o_stride;
	float scale, softcap, inv_cap;
};

#ifndef OD_CUDA_EMULATE /* tests/gpu/emulate_attention.cc supplies these on the CPU */
__device__ __forceinline__ uint32_t ld32(const bf16 *p)
{
	return *(const uint32_t *)p;
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi)
{
	__nv_bfloat162 v = __floats2bfloat162_rn(lo, hi); /* .x (low half) = lo */
	return *(uint32_t *)&v;
}

__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], const uint32_t b[2])
{
	asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
		     "{%0,%1,%2,%3};\n"
		     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
		     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ float tanh_approx(float x)
{
	float y;
	asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
	return y;
}

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem)
{
	const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}

__device__ __forceinline__ void cp_async_commit()
{
	asm volatile("cp.async.commit_group;\n" ::);
}

template <int N> __device__ __forceinline__ void cp_async_wait()
{
	asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

#define OD_DYNAMIC_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#endif

template <int DP> constexpr int qk_stride() { return DP + 8; } /* bf16 elements; +16 bytes against bank conflicts */
template <int BK> constexpr int vt_stride() { return BK + 8; }

/* A variant of the fused kernel: DP padded head_dim, NW warps of MT m-tiles
 * (16 query rows each; a K or V fragment loaded from shared memory feeds MT
 * MMAs), key tiles of BK (32 or 64; packed K/V are padded to whole 64s). */
template <int DP, int NW, int MT, int BK> constexpr size_t flash_smem()
{
	return ((size_t)NW * MT * 16 * qk_stride<DP>() + 2 * (size_t)BK * qk_stride<DP>() +
		2 * (size_t)DP * vt_stride<BK>()) *
	       sizeof(bf16);
}

/* Copy key tile t of Kb/Vt into shared buffer buf (one commit group). */
template <int DP, int NW, int BK>
__device__ __forceinline__ void load_kv_tile(bf16 *Ks, bf16 *Vs, const bf16 *Kg, const bf16 *Vg, int Lp, int t, int buf)
{
	constexpr int QS = qk_stride<DP>(), VS = vt_stride<BK>();
	const bf16 *kg = Kg + (int64_t)t * BK * DP;
	bf16 *ks = Ks + buf * BK * QS;
	for (int e = threadIdx.x; e < BK * DP / 8; e += NW * 32) {
		const int r = e / (DP / 8), c8 = (e % (DP / 8)) * 8;
		cp_async16(ks + r * QS + c8, kg + r * DP + c8);
	}
	const bf16 *vg = Vg + (int64_t)t * BK;
	bf16 *vs = Vs + buf * DP * VS;
	for (int e = threadIdx.x; e < DP * BK / 8; e += NW * 32) {
		const int d = e / (BK / 8), c8 = (e % (BK / 8)) * 8;
		cp_async16(vs + d * VS + c8, vg + (int64_t)d * Lp + c8);
	}
	cp_async_commit();
}

/* grid (q tiles of NW·MT·16 rows, q_heads, batch); NW·32 threads. */
template <int DP, int NW, int MT, int BK>
__global__ void __launch_bounds__(NW * 32) flash_kernel(attn_params p)
{
	constexpr int BM = NW * MT * 16, QS = qk_stride<DP>(), VS = vt_stride<BK>();
	OD_DYNAMIC_SMEM(smem);
	bf16 *Qs = (bf16 *)smem;
	bf16 *Ks = Qs + BM * QS;
	bf16 *Vs = Ks + 2 * BK * QS;

	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t4 = lane & 3;
	const int h = blockIdx.y, q0 = blockIdx.x * BM;
	const int64_t b = blockIdx.z;
	const int kh = p.tiled ? h % p.kv_heads : h / p.rep;
	const bf16 *Kg = p.Kb + (b * p.kv_heads + kh) * (int64_t)p.Lp * DP;
	const bf16 *Vg = p.Vt + (b * p.kv_heads + kh) * (int64_t)DP * p.Lp;
	const int ntiles = (p.kv_len + BK - 1) / BK;

	load_kv_tile<DP, NW, BK>(Ks, Vs, Kg, Vg, p.Lp, 0, 0);

	/* Q tile, rounded to BF16; rows past q_len and dims past head_dim are 0 */
	for (int e = threadIdx.x; e < BM * DP; e += NW * 32) {
		const int r = e / DP, d = e % DP, qi = q0 + r;
		float v = 0.0f;
		if (qi < p.q_len && d < p.hd)
			v = p.q[(b * p.q_len + qi) * p.q_stride + (int64_t)h * p.hd + d];
		Qs[r * QS + d] = __float2bfloat16_rn(v);
	}

	/* m-tile mt of this warp holds tile rows row0[mt] and row0[mt] + 8 */
	int row0[MT], qr[MT][2];
	const float *bz[MT][2];
#pragma unroll
	for (int mt = 0; mt < MT; mt++) {
		row0[mt] = (warp * MT + mt) * 16 + g;
		qr[mt][0] = q0 + row0[mt];
		qr[mt][1] = q0 + row0[mt] + 8;
		for (int r = 0; r < 2; r++)
			bz[mt][r] = p.bias && qr[mt][r] < p.q_len ? p.bias + ((int64_t)h * p.q_len + qr[mt][r]) * p.kv_len : NULL;
	}
	const uint8_t *mk = p.mask ? p.mask + b * p.kv_len : NULL;

	float o[MT][DP / 8][4];
	float m_run[MT][2], l_run[MT][2];
#pragma unroll
	for (int mt = 0; mt < MT; mt++) {
#pragma unroll
		for (int i = 0; i < DP / 8; i++)
			o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.0f;
		m_run[mt][0] = m_run[mt][1] = -INFINITY;
		l_run[mt][0] = l_run[mt][1] = 0.0f;
	}

	for (int t = 0; t < ntiles; t++) {
		if (t + 1 < ntiles) {
			load_kv_tile<DP, NW, BK>(Ks, Vs, Kg, Vg, p.Lp, t + 1, (t + 1) & 1);
			cp_async_wait<1>();
		} else {
			cp_async_wait<0>();
		}
		__syncthreads();
		const bf16 *ks = Ks + (t & 1) * BK * QS;
		const bf16 *vs = Vs + (t & 1) * DP * VS;

		/* S = Q·Kᵀ for this warp's MT·16 rows × BK keys */
		float s[MT][BK / 8][4];
#pragma unroll
		for (int mt = 0; mt < MT; mt++)
#pragma unroll
			for (int i = 0; i < BK / 8; i++)
				s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.0f;
#pragma unroll
		for (int kk = 0; kk < DP / 16; kk++) {
			uint32_t a[MT][4];
#pragma unroll
			for (int mt = 0; mt < MT; mt++) {
				const bf16 *qa = Qs + row0[mt] * QS + kk * 16 + t4 * 2;
				a[mt][0] = ld32(qa);
				a[mt][1] = ld32(qa + 8 * QS);
				a[mt][2] = ld32(qa + 8);
				a[mt][3] = ld32(qa + 8 * QS + 8);
			}
#pragma unroll
			for (int nt = 0; nt < BK / 8; nt++) {
				const bf16 *kb = ks + (nt * 8 + g) * QS + kk * 16 + t4 * 2;
				const uint32_t bb[2] = { ld32(kb), ld32(kb + 8) };
#pragma unroll
				for (int mt = 0; mt < MT; mt++)
					mma16816(s[mt][nt], a[mt], bb);
			}
		}

		const int key0 = t * BK;
#pragma unroll
		for (int mt = 0; mt < MT; mt++) {
			/* logits: scale, soft-cap, bias, mask (the order of backend.h) */
			float mx[2] = { -INFINITY, -INFINITY };
#pragma unroll
			for (int nt = 0; nt < BK / 8; nt++)
#pragma unroll
				for (int i = 0; i < 4; i++) {
					const int j = key0 + nt * 8 + t4 * 2 + (i & 1), r = i >> 1;
					float v = s[mt][nt][i] * p.scale;
					if (p.softcap > 0.0f)
						v = p.softcap * tanh_approx(v * p.inv_cap);
					if (j < p.kv_len) {
						if (bz[mt][r])
							v += bz[mt][r][j];
						if (mk && !mk[j])
							v = -INFINITY;
					} else {
						v = -INFINITY;
					}
					s[mt][nt][i] = v;
					mx[r] = fmaxf(mx[r], v);
				}
			/* online softmax: the four lanes of a quad share rows g and g+8 */
			float mu[2];
#pragma unroll
			for (int r = 0; r < 2; r++) {
				mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
				mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
				const float mn = fmaxf(m_run[mt][r], mx[r]);
				mu[r] = mn == -INFINITY ? 0.0f : mn; /* every key so far masked: keep zeros */
				const float alpha = exp2f((m_run[mt][r] - mu[r]) * LOG2E);
				m_run[mt][r] = mn;
				l_run[mt][r] *= alpha;
#pragma unroll
				for (int dt = 0; dt < DP / 8; dt++) {
					o[mt][dt][2 * r] *= alpha;
					o[mt][dt][2 * r + 1] *= alpha;
				}
			}
#pragma unroll
			for (int nt = 0; nt < BK / 8; nt++)
#pragma unroll
				for (int i = 0; i < 4; i++) {
					const float pv = exp2f((s[mt][nt][i] - mu[i >> 1]) * LOG2E);
					s[mt][nt][i] = pv;
					l_run[mt][i >> 1] += pv;
				}
		}

		/* O += P·V, P straight from the score registers */
#pragma unroll
		for (int kk = 0; kk < BK / 16; kk++) {
			uint32_t a[MT][4];
#pragma unroll
			for (int mt = 0; mt < MT; mt++) {
				a[mt][0] = pack_bf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
				a[mt][1] = pack_bf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
				a[mt][2] = pack_bf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
				a[mt][3] = pack_bf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
			}
#pragma unroll
			for (int dt = 0; dt < DP / 8; dt++) {
				const bf16 *vb = vs + (dt * 8 + g) * VS + kk * 16 + t4 * 2;
				const uint32_t bb[2] = { ld32(vb), ld32(vb + 8) };
#pragma unroll
				for (int mt = 0; mt < MT; mt++)
					mma16816(o[mt][dt], a[mt], bb);
			}
		}
		__syncthreads(); /* this buffer is refilled two tiles on */
	}

#pragma unroll
	for (int mt = 0; mt < MT; mt++) {
		float inv[2];
#pragma unroll
		for (int r = 0; r < 2; r++) {
			float l = l_run[mt][r];
			l += __shfl_xor_sync(0xffffffffu, l, 1);
			l += __shfl_xor_sync(0xffffffffu, l, 2);
			inv[r] = l > 0.0f ? 1.0f / l : 0.0f; /* a row whose keys are all masked gets 0 */
		}
#pragma unroll
		for (int dt = 0; dt < DP / 8; dt++)
#pragma unroll
			for (int i = 0; i < 4; i++) {
				const int r = i >> 1, d = dt * 8 + t4 * 2 + (i & 1);
				if (qr[mt][r] < p.q_len && d < p.hd)
					p.o[(b * p.q_len + qr[mt][r]) * p.o_stride + (int64_t)h * p.hd + d] = o[mt][dt][i] * inv[r];
			}
	}
}

/* ---------------------------------------------------------------- the GEMM path (head_dim > 128) */

/* dst (rows, cols) BF16, dense = src rows of stride floats, rounded. */
__global__ void gather_bf16_kernel(bf16 *dst, const float *src, int64_t rows, int cols, int64_t stride)
{
	const int64_t n = rows * cols;
	for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x)
		dst[e] = __float2bfloat16_rn(src[(e / cols) * stride + e % cols]);
}

#define SM_NT 256

__device__ __forceinline__ float sm_logit(float s, float scale, float softcap, const float *bz, const uint8_t *mk, int j)
{
	float v = s * scale;
	if (softcap > 0.0f)
		v = softcap * tanhf(v / softcap);
	if (bz)
		v += bz[j];
	if (mk && !mk[j])
		v = -INFINITY;
	return v;
}

/* Reduce over the block (SM_NT threads) in a fixed order; every thread gets it. */
__device__ __forceinline__ float sm_reduce(float v, int is_max)
{
	__shared__ float sh[SM_NT / 32];
	for (int o = 16; o > 0; o >>= 1) {
		const float w = __shfl_xor_sync(0xffffffffu, v, o);
		v = is_max ? fmaxf(v, w) : v + w;
	}
	if ((threadIdx.x & 31) == 0)
		sh[threadIdx.x >> 5] = v;
	__syncthreads();
	float t = sh[0];
	for (int i = 1; i < SM_NT / 32; i++)
		t = is_max ? fmaxf(t, sh[i]) : t + sh[i];
	__syncthreads();
	return t;
}

/* P (n, kv) BF16 = softmax over each row of the logits of S (n, kv) float32
 * (scale, soft-cap, bias rows, key mask: the order of backend.h); a row whose
 * keys are all masked gets zeros. bias: this block's first row, or NULL. */
__global__ void __launch_bounds__(SM_NT) softmax_rows_kernel(bf16 *P, const float *S, int n, int kv, float scale,
							     float softcap, const float *bias, const uint8_t *mask)
{
	for (int r = blockIdx.x; r < n; r += gridDim.x) {
		const float *s = S + (int64_t)r * kv;
		const float *bz = bias ? bias + (int64_t)r * kv : NULL;
		bf16 *p = P + (int64_t)r * kv;
		float mx = -INFINITY;
		for (int j = threadIdx.x; j < kv; j += SM_NT)
			mx = fmaxf(mx, sm_logit(s[j], scale, softcap, bz, mask, j));
		mx = sm_reduce(mx, 1);
		if (mx == -INFINITY) {
			for (int j = threadIdx.x; j < kv; j += SM_NT)
				p[j] = __float2bfloat16_rn(0.0f);
			continue;
		}
		float sum = 0.0f;
		for (int j = threadIdx.x; j < kv; j += SM_NT)
			sum += expf(sm_logit(s[j], scale, softcap, bz, mask, j) - mx);
		const float inv = 1.0f / sm_reduce(sum, 0);
		for (int j = threadIdx.x; j < kv; j += SM_NT)
			p[j] = __float2bfloat16_rn(expf(sm_logit(s[j], scale, softcap, bz, mask, j) - mx) * inv);
	}
}

/* ---------------------------------------------------------------- the simple path */

struct simple_params {
	float *o;
	const float *q, *k, *v;
	const uint8_t *mask;
	const float *bias;
	int batch, q_len, kv_len, q_heads, kv_heads, hd, rep, tiled, q_stride, kv_stride, o_stride;
	float scale, softcap;
};

/* One warp per (batch, head, query row); lane holds dims lane + 32·u. */
template <int NPL> __global__ void simple_kernel(simple_params p)
{
	const int64_t gw = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5;
	const int lane = threadIdx.x & 31;
	if (gw >= (int64_t)p.batch * p.q_heads * p.q_len)
		return;
	const int i = (int)(gw % p.q_len), h = (int)((gw / p.q_len) % p.q_heads);
	const int64_t b = gw / ((int64_t)p.q_len * p.q_heads);
	const int kh = p.tiled ? h % p.kv_heads : h / p.rep;
	const float *qr = p.q + (b * p.q_len + i) * p.q_stride + (int64_t)h * p.hd;
	float qv[NPL], acc[NPL];
#pragma unroll
	for (int u = 0; u < NPL; u++) {
		const int d = lane + 32 * u;
		qv[u] = d < p.hd ? qr[d] : 0.0f;
		acc[u] = 0.0f;
	}
	const float *bias = p.bias ? p.bias + ((int64_t)h * p.q_len + i) * p.kv_len : NULL;
	const uint8_t *mk = p.mask ? p.mask + b * p.kv_len : NULL;
	float m = -INFINITY, l = 0.0f;
	for (int j = 0; j < p.kv_len; j++) {
		if (mk && !mk[j])
			continue;
		const float *kr = p.k + (b * p.kv_len + j) * p.kv_stride + (int64_t)kh * p.hd;
		const float *vr = p.v + (b * p.kv_len + j) * p.kv_stride + (int64_t)kh * p.hd;
		float s = 0.0f;
#pragma unroll
		for (int u = 0; u < NPL; u++) {
			const int d = lane + 32 * u;
			if (d < p.hd)
				s += qv[u] * kr[d];
		}
		for (int off = 16; off > 0; off >>= 1)
			s += __shfl_xor_sync(0xffffffffu, s, off);
		s *= p.scale;
		if (p.softcap > 0.0f)
			s = p.softcap * tanhf(s / p.softcap);
		if (bias)
			s += bias[j];
		if (s == -INFINITY)
			continue;
		const float mn = fmaxf(m, s), corr = expf(m - mn), e = expf(s - mn);
		l = l * corr + e;
#pragma unroll
		for (int u = 0; u < NPL; u++) {
			const int d = lane + 32 * u;
			acc[u] = acc[u] * corr + (d < p.hd ? e * vr[d] : 0.0f);
		}
		m = mn;
	}
	const float inv = l > 0.0f ? 1.0f / l : 0.0f;
	float *orow = p.o + (b * p.q_len + i) * p.o_stride + (int64_t)h * p.hd;
#pragma unroll
	for (int u = 0; u < NPL; u++) {
		const int d = lane + 32 * u;
		if (d < p.hd)
			orow[d] = acc[u] * inv;
	}
}

#endif
