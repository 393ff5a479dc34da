/*
 * cuda_attention.cu: multi-head attention on the GPU (the twin of
 * cpu_attention.c; contract in backend.h, struct od_attention_desc).
 *
 * The fast path is a fused kernel in the flash-attention manner: a block owns
 * BM query rows of one (batch, head), walks the keys in tiles of BK (32 or 64)
 * with an online softmax (running row max and sum, the partial output
 * rescaled when the max grows), and never holds more than a BM × BK tile of
 * scores, in registers. Both products, S = Q·Kᵀ and O += P·V, are BF16
 * tensor-core MMAs (mma.sync m16n8k16, FP32 accumulation); scale, soft-cap
 * (softcap·tanh(s/softcap), numerics.md §2.6 item 1: tanh.approx, as the
 * flash-attn kernels upstream ran use), additive bias, key mask and the
 * softmax are FP32. head_dim is padded with zeros to DP = 32, 64 or 128 (120 ->
 * 128), so any head_dim ≤ 128 runs here. Three variants (run_flash_dp): 4
 * warps × 16 rows (short sequences: T5, 300 rows), 8 warps × 16 rows, and 4
 * warps × 32 rows with 32-key tiles (the default from 1024 rows: each K/V
 * fragment read from shared memory feeds two MMAs, halving that traffic, which
 * bounds mma.sync kernels; 255 registers, no spills, 2 blocks per SM).
 *
 * Before the kernel, K and V of every (batch, kv head) are rounded to BF16 once
 * into scratch: K as (kv_len, DP) rows, V transposed to (DP, kv_len), both
 * zero-padded to a multiple of 64 keys, so the kernel streams them with
 * 16-byte cp.async copies into double-buffered shared memory (the next tile
 * loads while this one is multiplied) and every MMA fragment is one 32-bit
 * shared load. Q is read from the float32 input once per block. GQA: query
 * head h reads kv head h / (q_heads/kv_heads) (grouped) or h % kv_heads (tiled).
 *
 * mma.sync m16n8k16 fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16"),
 * for lane = 4·g + t:
 *   A (16×16, row-major): a[0] = (row g, cols 2t,2t+1), a[1] = (row g+8, same),
 *                         a[2] = (row g, cols 2t+8,2t+9), a[3] = (row g+8, same)
 *   B (16×8, B[k][n]):    b[0] = (k 2t,2t+1; n g), b[1] = (k 2t+8,2t+9; n g)
 *   C (16×8):             c[0..1] = (row g, cols 2t,2t+1), c[2..3] = (row g+8, same)
 * With B[k][n] = K[key n][dim k], b[0] is two adjacent dims of one key row; with
 * B[k][n] = V[key k][dim n] = Vt[n][k], two adjacent keys of one Vt row. The
 * score accumulators of two adjacent 8-key tiles are exactly the A fragment of
 * P for a 16-key step, so P never leaves registers.
 *
 * head_dim > 128 (the VAE's one 512-channel head) takes the GEMM path:
 * cuBLAS for S = Q·Kᵀ and O = P·V a block of query rows at a time, a softmax
 * kernel between (run_gemm_path). The simple path (kv_len == 0, or
 * OD_CUDA_ATTENTION=simple for testing) is one warp per query row, float32
 * throughout, exact tanhf, head_dim ≤ 512.
 */
#include "compute/cuda/cuda_internal.cuh"

#include <cstdlib>
#include <cstring>

#include "compute/cuda/attention_kernels.cuh"

static int run_simple(struct od_ctx *c, float *o, const float *q, const float *k, const float *v,
		      const struct od_attention_desc *d)
{
	simple_params p;
	p.o = o;
	p.q = q;
	p.k = k;
	p.v = v;
	p.mask = d->key_mask;
	p.bias = d->bias;
	p.batch = d->batch;
	p.q_len = d->q_len;
	p.kv_len = d->kv_len > 0 ? d->kv_len : 0;
	p.q_heads = d->q_heads;
	p.kv_heads = d->kv_heads;
	p.hd = d->head_dim;
	p.rep = d->q_heads / d->kv_heads;
	p.tiled = d->kv_map == OD_KV_TILED;
	p.q_stride = d->q_stride;
	p.kv_stride = d->kv_stride;
	p.o_stride = d->o_stride;
	p.scale = d->scale;
	p.softcap = d->softcap;
	const int64_t warps = (int64_t)d->batch * d->q_heads * d->q_len;
	const int64_t blocks = (warps + 7) / 8;
	if (blocks > INT32_MAX)
		return cu_fail(c, OD_ENOMEM, "attention: %lld query rows are too many", (long long)warps);
	cudaStream_t st = cu_st(c)->stream;
	if (d->head_dim <= 128)
		simple_kernel<4><<<(unsigned)blocks, 256, 0, st>>>(p);
	else if (d->head_dim <= 256)
		simple_kernel<8><<<(unsigned)blocks, 256, 0, st>>>(p);
	else
		simple_kernel<16><<<(unsigned)blocks, 256, 0, st>>>(p);
	return cu_launched(c, "attention");
}

/* head_dim > 128: per (batch, head) and block of query rows, S = Q·Kᵀ and
 * O = P·V are cuBLAS BF16 GEMMs (FP32 accumulation) around a softmax kernel,
 * with at most OD_CUDA_COL_ELEMS scores in memory (the VAE's mid-block
 * attention: one head of 512 channels over 128² = 16384 tokens at 1024²). */
static int run_gemm_path(struct od_ctx *c, float *o, const float *q, const float *k, const float *v,
			 const struct od_attention_desc *d)
{
	cu_state *s = cu_st(c);
	const int hd = d->head_dim, kv = d->kv_len, rep = d->q_heads / d->kv_heads;
	int64_t n = (int64_t)s->col_elems / kv;
	if (n < 1)
		n = 1;
	if (n > d->q_len)
		n = d->q_len;
	const size_t kvb = (size_t)kv * hd * sizeof(bf16), qb = (size_t)n * hd * sizeof(bf16),
		     sb = (size_t)n * kv * sizeof(float), pb = (size_t)n * kv * sizeof(bf16);
	const size_t total = 2 * kvb + qb + sb + pb;
	char *buf = (char *)cu_scratch(c, total, "attention");
	if (!buf)
		return OD_ENOMEM;
	bf16 *Kb = (bf16 *)buf, *Vb = (bf16 *)(buf + kvb), *Qb = (bf16 *)(buf + 2 * kvb);
	float *S = (float *)(buf + 2 * kvb + qb);
	bf16 *P = (bf16 *)(buf + 2 * kvb + qb + sb);
	cudaStream_t st = s->stream;
	int rc = OD_OK;
	for (int b = 0; b < d->batch && !rc; b++)
		for (int kh = 0; kh < d->kv_heads && !rc; kh++) {
			const float *kr = k + (int64_t)b * kv * d->kv_stride + (int64_t)kh * hd;
			const float *vr = v + (int64_t)b * kv * d->kv_stride + (int64_t)kh * hd;
			gather_bf16_kernel<<<cu_blocks((int64_t)kv * hd), 256, 0, st>>>(Kb, kr, kv, hd, d->kv_stride);
			gather_bf16_kernel<<<cu_blocks((int64_t)kv * hd), 256, 0, st>>>(Vb, vr, kv, hd, d->kv_stride);
			rc = cu_launched(c, "attention");
			for (int h = 0; h < d->q_heads && !rc; h++) {
				if ((d->kv_map == OD_KV_TILED ? h % d->kv_heads : h / rep) != kh)
					continue;
				for (int64_t q0 = 0; q0 < d->q_len && !rc; q0 += n) {
					const int nr = (int)(d->q_len - q0 < n ? d->q_len - q0 : n);
					gather_bf16_kernel<<<cu_blocks((int64_t)nr * hd), 256, 0, st>>>(
						Qb, q + ((int64_t)b * d->q_len + q0) * d->q_stride + (int64_t)h * hd, nr, hd,
						d->q_stride);
					rc = cu_launched(c, "attention");
					/* S (nr × kv, row-major) = Q·Kᵀ: the "TN" product of cu_linear */
					if (!rc)
						rc = cu_gemm(c, CUBLAS_OP_T, CUBLAS_OP_N, kv, nr, hd, Kb, hd, Qb, hd, S, kv, NULL);
					if (!rc) {
						softmax_rows_kernel<<<(unsigned)nr, SM_NT, 0, st>>>(
							P, S, nr, kv, d->scale, d->softcap,
							d->bias ? d->bias + ((int64_t)h * d->q_len + q0) * kv : NULL,
							d->key_mask ? d->key_mask + (int64_t)b * kv : NULL);
						rc = cu_launched(c, "attention softmax");
					}
					/* O rows (nr × hd, stride o_stride) = P·V: column-major
					 * Oᵀ (hd × nr) = Vᵀ (hd × kv, ld hd) · Pᵀ (kv × nr, ld kv) */
					if (!rc)
						rc = cu_gemm(c, CUBLAS_OP_N, CUBLAS_OP_N, hd, nr, kv, Vb, hd, P, kv,
							     o + ((int64_t)b * d->q_len + q0) * d->o_stride + (int64_t)h * hd,
							     d->o_stride, NULL);
				}
			}
		}
	cu_scratch_free(c, buf, total);
	return rc;
}

template <int DP, int NW, int MT, int BK> static int launch_flash(struct od_ctx *c, const attn_params &p, int batch)
{
	constexpr size_t smem = flash_smem<DP, NW, MT, BK>();
	cudaError_t e = cudaFuncSetAttribute(flash_kernel<DP, NW, MT, BK>, cudaFuncAttributeMaxDynamicSharedMemorySize,
					     (int)smem);
	if (e != cudaSuccess)
		return cu_check(c, e, "attention shared memory");
	const int BM = NW * MT * 16;
	dim3 grid((unsigned)((p.q_len + BM - 1) / BM), (unsigned)p.q_heads, (unsigned)batch);
	flash_kernel<DP, NW, MT, BK><<<grid, NW * 32, smem, cu_st(c)->stream>>>(p);
	return cu_launched(c, "attention");
}

/* The variants: 1 = 4 warps × 16 rows (64-row blocks), 2 = 8 warps × 16 rows,
 * 3 = 4 warps × 32 rows with 32-key tiles (128-row blocks, each K/V fragment
 * feeding two MMAs: half the shared-memory traffic per FLOP). */
template <int DP> static int run_flash_dp(struct od_ctx *c, const attn_params &p, int batch, int variant)
{
	switch (variant) {
	case 1:
		return launch_flash<DP, 4, 1, 64>(c, p, batch);
	case 2:
		return launch_flash<DP, 8, 1, 64>(c, p, batch);
	default:
		return launch_flash<DP, 4, 2, 32>(c, p, batch);
	}
}

int cu_attention(struct od_ctx *c, float *o, const float *q, const float *k, const float *v,
		 const struct od_attention_desc *d)
{
	if (d->kv_heads <= 0 || d->q_heads <= 0 || d->q_heads % d->kv_heads)
		return cu_fail(c, OD_EINVAL, "attention: %d query heads for %d kv heads", d->q_heads, d->kv_heads);
	if (d->batch <= 0 || d->q_len <= 0 || d->head_dim <= 0)
		return OD_OK;
	if (d->batch > 65535 || d->q_heads > 65535)
		return cu_fail(c, OD_EINVAL, "attention: batch %d × %d heads exceeds the grid", d->batch, d->q_heads);
	cu_state *s = cu_st(c);
	const int hd = d->head_dim;
	if (s->attn_simple || d->kv_len <= 0) {
		if (hd > 512)
			return cu_fail(c, OD_EINVAL, "attention: head_dim %d > 512 is not supported on cuda", hd);
		return run_simple(c, o, q, k, v, d);
	}
	if (hd > 128)
		return run_gemm_path(c, o, q, k, v, d);
	const int DP = hd <= 32 ? 32 : hd <= 64 ? 64 : 128;
	const int Lp = (d->kv_len + BN - 1) / BN * BN;
	const int64_t elems = (int64_t)d->batch * d->kv_heads * Lp * DP;
	const size_t bytes = (size_t)elems * sizeof(bf16);
	bf16 *Kb = (bf16 *)cu_scratch(c, 2 * bytes, "attention");
	if (!Kb)
		return OD_ENOMEM;
	bf16 *Vt = Kb + elems;
	cudaStream_t st = s->stream;
	pack_k_kernel<<<cu_blocks(elems), 256, 0, st>>>(Kb, k, d->kv_len, Lp, d->kv_heads, hd, DP, d->kv_stride, elems);
	pack_vt_kernel<<<dim3(Lp / 32, DP / 32, (unsigned)(d->batch * d->kv_heads)), dim3(32, 8), 0, st>>>(
		Vt, v, d->kv_len, Lp, d->kv_heads, hd, DP, d->kv_stride);
	int rc = cu_launched(c, "attention packing");
	if (!rc) {
		attn_params p;
		p.o = o;
		p.q = q;
		p.Kb = Kb;
		p.Vt = Vt;
		p.mask = d->key_mask;
		p.bias = d->bias;
		p.q_len = d->q_len;
		p.kv_len = d->kv_len;
		p.Lp = Lp;
		p.q_heads = d->q_heads;
		p.kv_heads = d->kv_heads;
		p.hd = hd;
		p.rep = d->q_heads / d->kv_heads;
		p.tiled = d->kv_map == OD_KV_TILED;
		p.q_stride = d->q_stride;
		p.o_stride = d->o_stride;
		p.scale = d->scale;
		p.softcap = d->softcap;
		p.inv_cap = d->softcap > 0.0f ? 1.0f / d->softcap : 0.0f;
		/* 128-row blocks halve the K/V traffic of long sequences; short ones
		 * (T5, 300 rows) want more blocks. OD_CUDA_ATTN=1|2|3 picks a variant
		 * for tuning (run_flash_dp). */
		int variant = d->q_len >= 1024 ? 3 : 1;
		const char *env = getenv("OD_CUDA_ATTN");
		if (env && env[0] >= '1' && env[0] <= '3' && !env[1])
			variant = env[0] - '0';
		rc = DP == 32 ? run_flash_dp<32>(c, p, d->batch, variant)
		     : DP == 64 ? run_flash_dp<64>(c, p, d->batch, variant)
				: run_flash_dp<128>(c, p, d->batch, variant);
	}
	cu_scratch_free(c, Kb, 2 * bytes);
	return rc;
}

/*
 * Training (numerics.md §11.10): attention_lse and attention_backward, the
 * twins of cpu_attention.c's, written plainly in float32: one warp per query
 * row (the row statistic, D_i = dO_i·O_i and dQ) or per key row (dK and dV,
 * visiting the query heads that read its kv head and their rows in order), each
 * dot product a warp sum in a fixed order. O(L²·head_dim) per head, no shared
 * memory tiling: a reference for the CPU's numbers, not a fast path.
 * attention_lse gives o from attention() itself (the same bytes) and the row
 * statistic from float32 logits with exact tanhf.
 */
struct tr_params {
	const float *q, *k, *v, *o, *dout, *lse, *bias, *Di;
	const uint8_t *mask;
	float *dq, *dk, *dv, *lse_out, *Di_out;
	int batch, q_len, kv_len, q_heads, kv_heads, hd, rep, tiled, q_stride, kv_stride, o_stride;
	float scale, softcap;
};

__device__ __forceinline__ float tr_warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

/* the logit of score s for (h, i, j), and d logit / d s in *fac; −inf when masked */
__device__ __forceinline__ float tr_logit(const tr_params &p, float s, int b, int h, int i, int j, float *fac)
{
	float l;
	if (p.softcap > 0) {
		const float t = tanhf(s * (p.scale / p.softcap));
		l = p.softcap * t;
		*fac = p.scale * (1.0f - t * t);
	} else {
		l = s * p.scale;
		*fac = p.scale;
	}
	if (p.bias)
		l += p.bias[((size_t)h * p.q_len + i) * p.kv_len + j];
	if (p.mask && !p.mask[(size_t)b * p.kv_len + j])
		l = -INFINITY;
	return l;
}

__device__ __forceinline__ float tr_dot(const float *a, const float *b, int n)
{
	float s = 0;
	for (int e = threadIdx.x & 31; e < n; e += 32)
		s += a[e] * b[e];
	return tr_warp_sum(s);
}

/* one warp per (b, h, i): lse and D_i */
__global__ void tr_rows_kernel(tr_params p)
{
	const int64_t w = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32,
		      rows = (int64_t)p.batch * p.q_heads * p.q_len;
	if (w >= rows)
		return;
	const int i = (int)(w % p.q_len), h = (int)(w / p.q_len % p.q_heads), b = (int)(w / ((int64_t)p.q_len * p.q_heads));
	const int kh = p.tiled ? h % p.kv_heads : h / p.rep;
	const float *q = p.q + ((size_t)b * p.q_len + i) * p.q_stride + (size_t)h * p.hd;
	if (p.lse_out) {
		float mx = -INFINITY, sum = 0, fac;
		for (int j = 0; j < p.kv_len; j++) {
			const float *k = p.k + ((size_t)b * p.kv_len + j) * p.kv_stride + (size_t)kh * p.hd;
			const float l = tr_logit(p, tr_dot(q, k, p.hd), b, h, i, j, &fac);
			if (l == -INFINITY)
				continue;
			if (l > mx) {
				sum = sum * expf(mx - l) + 1.0f;
				mx = l;
			} else {
				sum += expf(l - mx);
			}
		}
		if ((threadIdx.x & 31) == 0)
			p.lse_out[w] = mx == -INFINITY ? -INFINITY : mx + logf(sum);
	}
	if (p.Di_out) {
		const size_t off = ((size_t)b * p.q_len + i) * p.o_stride + (size_t)h * p.hd;
		const float d = tr_dot(p.dout + off, p.o + off, p.hd);
		if ((threadIdx.x & 31) == 0)
			p.Di_out[w] = d;
	}
}

#define TR_MAXE 16 /* head_dim ≤ 512: 16 values per lane */

/* one warp per (b, h, i): dQ_i += Σ_j ds_ij K_j */
__global__ void tr_dq_kernel(tr_params p)
{
	const int64_t w = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32,
		      rows = (int64_t)p.batch * p.q_heads * p.q_len;
	if (w >= rows)
		return;
	const int lane = threadIdx.x & 31;
	const int i = (int)(w % p.q_len), h = (int)(w / p.q_len % p.q_heads), b = (int)(w / ((int64_t)p.q_len * p.q_heads));
	const int kh = p.tiled ? h % p.kv_heads : h / p.rep;
	const float L = p.lse[w], Di = p.Di[w];
	if (L == -INFINITY)
		return;
	const size_t qoff = ((size_t)b * p.q_len + i) * p.q_stride + (size_t)h * p.hd,
		     ooff = ((size_t)b * p.q_len + i) * p.o_stride + (size_t)h * p.hd;
	float acc[TR_MAXE];
	for (int t = 0; t < TR_MAXE; t++)
		acc[t] = 0;
	for (int j = 0; j < p.kv_len; j++) {
		const size_t koff = ((size_t)b * p.kv_len + j) * p.kv_stride + (size_t)kh * p.hd;
		float fac;
		const float l = tr_logit(p, tr_dot(p.q + qoff, p.k + koff, p.hd), b, h, i, j, &fac);
		if (l == -INFINITY)
			continue;
		const float pr = expf(l - L), dp = tr_dot(p.dout + ooff, p.v + koff, p.hd), ds = pr * (dp - Di) * fac;
		for (int t = 0, e = lane; e < p.hd; t++, e += 32)
			acc[t] += ds * p.k[koff + e];
	}
	for (int t = 0, e = lane; e < p.hd; t++, e += 32)
		p.dq[qoff + e] += acc[t];
}

/* one warp per (b, kv head, j): dK_j += Σ ds_ij Q_i, dV_j += Σ p_ij dO_i over the heads reading it, in order */
__global__ void tr_dkv_kernel(tr_params p)
{
	const int64_t w = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32,
		      rows = (int64_t)p.batch * p.kv_heads * p.kv_len;
	if (w >= rows)
		return;
	const int lane = threadIdx.x & 31;
	const int j = (int)(w % p.kv_len), kh = (int)(w / p.kv_len % p.kv_heads),
		  b = (int)(w / ((int64_t)p.kv_len * p.kv_heads));
	if (p.mask && !p.mask[(size_t)b * p.kv_len + j])
		return;
	const size_t koff = ((size_t)b * p.kv_len + j) * p.kv_stride + (size_t)kh * p.hd;
	float ak[TR_MAXE], av[TR_MAXE];
	for (int t = 0; t < TR_MAXE; t++)
		ak[t] = av[t] = 0;
	for (int r = 0; r < p.rep; r++) {
		const int h = p.tiled ? kh + r * p.kv_heads : kh * p.rep + r;
		for (int i = 0; i < p.q_len; i++) {
			const int64_t row = ((int64_t)b * p.q_heads + h) * p.q_len + i;
			const float L = p.lse[row];
			if (L == -INFINITY)
				continue;
			const size_t qoff = ((size_t)b * p.q_len + i) * p.q_stride + (size_t)h * p.hd,
				     ooff = ((size_t)b * p.q_len + i) * p.o_stride + (size_t)h * p.hd;
			float fac;
			const float l = tr_logit(p, tr_dot(p.q + qoff, p.k + koff, p.hd), b, h, i, j, &fac);
			const float pr = expf(l - L), dp = tr_dot(p.dout + ooff, p.v + koff, p.hd),
				    ds = pr * (dp - p.Di[row]) * fac;
			for (int t = 0, e = lane; e < p.hd; t++, e += 32) {
				ak[t] += ds * p.q[qoff + e];
				av[t] += pr * p.dout[ooff + e];
			}
		}
	}
	for (int t = 0, e = lane; e < p.hd; t++, e += 32) {
		if (p.dk)
			p.dk[koff + e] += ak[t];
		if (p.dv)
			p.dv[koff + e] += av[t];
	}
}

static tr_params tr_from(const struct od_attention_desc *d)
{
	tr_params p;
	memset(&p, 0, sizeof p);
	p.bias = d->bias;
	p.mask = d->key_mask;
	p.batch = d->batch, p.q_len = d->q_len, p.kv_len = d->kv_len, p.q_heads = d->q_heads, p.kv_heads = d->kv_heads;
	p.hd = d->head_dim, p.rep = d->q_heads / d->kv_heads, p.tiled = d->kv_map == OD_KV_TILED;
	p.q_stride = d->q_stride, p.kv_stride = d->kv_stride, p.o_stride = d->o_stride;
	p.scale = d->scale, p.softcap = d->softcap;
	return p;
}

static int tr_check(struct od_ctx *c, const struct od_attention_desc *d, const char *what)
{
	if (d->kv_heads <= 0 || d->q_heads <= 0 || d->q_heads % d->kv_heads)
		return cu_fail(c, OD_EINVAL, "%s: %d query heads for %d kv heads", what, d->q_heads, d->kv_heads);
	if (d->head_dim > 32 * TR_MAXE)
		return cu_fail(c, OD_EINVAL, "%s: head_dim %d > %d is not supported on cuda", what, d->head_dim,
			       32 * TR_MAXE);
	return OD_OK;
}

int cu_attention_lse(struct od_ctx *c, float *o, float *lse, const float *q, const float *k, const float *v,
		     const struct od_attention_desc *d)
{
	int rc = tr_check(c, d, "attention_lse");
	if (rc || d->batch <= 0 || d->q_len <= 0 || d->head_dim <= 0)
		return rc;
	if ((rc = cu_attention(c, o, q, k, v, d)) || !lse)
		return rc;
	tr_params p = tr_from(d);
	p.q = q, p.k = k, p.lse_out = lse;
	const int64_t threads = (int64_t)d->batch * d->q_heads * d->q_len * 32;
	tr_rows_kernel<<<cu_blocks(threads), 256, 0, cu_st(c)->stream>>>(p);
	return cu_launched(c, "attention_lse");
}

int cu_attention_backward(struct od_ctx *c, float *dq, float *dk, float *dv, const float *dout, const float *q,
			  const float *k, const float *v, const float *o, const float *lse,
			  const struct od_attention_desc *d)
{
	int rc = tr_check(c, d, "attention backward");
	if (rc || d->batch <= 0 || d->q_len <= 0 || d->kv_len <= 0 || d->head_dim <= 0)
		return rc;
	const int64_t rows = (int64_t)d->batch * d->q_heads * d->q_len;
	const size_t bytes = (size_t)rows * sizeof(float);
	float *Di = (float *)cu_scratch(c, bytes, "attention backward");
	if (!Di)
		return OD_ENOMEM;
	tr_params p = tr_from(d);
	p.q = q, p.k = k, p.v = v, p.o = o, p.dout = dout, p.lse = lse, p.Di_out = Di;
	cudaStream_t st = cu_st(c)->stream;
	tr_rows_kernel<<<cu_blocks(rows * 32), 256, 0, st>>>(p);
	rc = cu_launched(c, "attention backward (D)");
	p.Di_out = NULL, p.Di = Di, p.dq = dq, p.dk = dk, p.dv = dv;
	if (!rc && dq) {
		tr_dq_kernel<<<cu_blocks(rows * 32), 256, 0, st>>>(p);
		rc = cu_launched(c, "attention backward (dq)");
	}
	if (!rc && (dk || dv)) {
		const int64_t krows = (int64_t)d->batch * d->kv_heads * d->kv_len;
		tr_dkv_kernel<<<cu_blocks(krows * 32), 256, 0, st>>>(p);
		rc = cu_launched(c, "attention backward (dk, dv)");
	}
	cu_scratch_free(c, Di, bytes);
	return rc;
}
