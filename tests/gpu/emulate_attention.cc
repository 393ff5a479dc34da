/*
 * emulate_attention.cc: run the CUDA attention kernels (lib/compute/cuda/
 * attention_kernels.cuh, the same source the plugin compiles) on the CPU, to
 * check their index arithmetic, tiling, masking and online softmax where no
 * GPU is at hand. A developer tool, not part of make check:
 *
 *   g++ -std=c++20 -O1 -pthread -Ilib tests/gpu/emulate_attention.cc -o /tmp/emu && /tmp/emu [CASE]
 *
 * (a few minutes for all cases: thousands of OS threads.)
 *
 * Each CUDA thread of a block is a std::thread; __syncthreads is a barrier of
 * the block; a warp's shuffles and mma.sync go through a per-warp exchange area
 * between two warp barriers. mma.sync m16n8k16 is emulated from the fragment
 * layout of the PTX ISA (the same table as cuda_attention.cu's comment):
 *   A: a[0] (g, 2t..2t+1)  a[1] (g+8, 2t..)  a[2] (g, 2t+8..)  a[3] (g+8, 2t+8..)
 *   B: b[0] (k 2t..2t+1, n g)  b[1] (k 2t+8.., n g)
 *   C: c[0..1] (g, 2t..2t+1)  c[2..3] (g+8, 2t..2t+1)       lane = 4g + t
 * so it verifies the kernels against that table, not the table itself (which
 * only a GPU can: tests/unit/test_cuda_twins.c there).
 *
 * The reference is plain float64 attention on the BF16-rounded q, k, v, so the
 * comparison tolerance is the kernel's own rounding of P to BF16 (rtol/atol
 * 1e-2 of the output's max), exactly as in test_cuda_twins.
 */
#include <barrier>
#include <string>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

/* ---------------------------------------------------------------- CUDA shims */

struct emu_dim3 {
	unsigned x = 1, y = 1, z = 1;
};
static thread_local emu_dim3 threadIdx, blockIdx;
static emu_dim3 blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static /* blocks run one after the other */
#define __align__(n) alignas(n)
#define OD_CUDA_EMULATE 1

struct bf16 {
	uint16_t x;
};
struct __nv_bfloat162 {
	bf16 x, y;
};

static uint16_t f2bf(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

static float bf2f(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline bf16 __float2bfloat16_rn(float f) { return bf16{ f2bf(f) }; }
static inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return { { f2bf(a) }, { f2bf(b) } }; }

struct block_ctx {
	std::barrier<> *block;
	std::vector<std::barrier<> *> warp;
	std::vector<float> slots;    /* 32 per warp: shuffles */
	std::vector<uint32_t> frags; /* 32 × 10 per warp: mma operands */
	unsigned char *smem;
};
static thread_local block_ctx *emu_blk;
static thread_local int emu_tid;

static void __syncthreads() { emu_blk->block->arrive_and_wait(); }

static float __shfl_xor_sync(unsigned, float v, int m)
{
	const int w = emu_tid / 32, lane = emu_tid % 32;
	float *s = &emu_blk->slots[(size_t)w * 32];
	s[lane] = v;
	emu_blk->warp[w]->arrive_and_wait();
	float r = s[lane ^ m];
	emu_blk->warp[w]->arrive_and_wait();
	return r;
}

static inline uint32_t ld32(const bf16 *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint32_t pack_bf16(float lo, float hi) { return (uint32_t)f2bf(lo) | (uint32_t)f2bf(hi) << 16; }
static inline float tanh_approx(float x) { return tanhf(x); }
static inline void cp_async16(void *s, const void *g) { memcpy(s, g, 16); }
static inline void cp_async_commit() {}
template <int N> static inline void cp_async_wait() {}
#define OD_DYNAMIC_SMEM(name) unsigned char *name = emu_blk->smem

static float half_of(uint32_t reg, int hi) { return bf2f((uint16_t)(hi ? reg >> 16 : reg & 0xffff)); }

static void mma16816(float c[4], const uint32_t a[4], const uint32_t b[2])
{
	const int w = emu_tid / 32, lane = emu_tid % 32;
	uint32_t *f = &emu_blk->frags[(size_t)w * 32 * 6];
	for (int i = 0; i < 4; i++)
		f[lane * 6 + i] = a[i];
	f[lane * 6 + 4] = b[0];
	f[lane * 6 + 5] = b[1];
	emu_blk->warp[w]->arrive_and_wait();
	auto A = [&](int r, int k) {
		int ln = 4 * (r % 8) + (k % 8) / 2, reg = (r >= 8) + 2 * (k >= 8);
		return half_of(f[ln * 6 + reg], k & 1);
	};
	auto B = [&](int k, int n) {
		int ln = 4 * n + (k % 8) / 2, reg = k >= 8;
		return half_of(f[ln * 6 + 4 + reg], k & 1);
	};
	const int g = lane / 4, t = lane % 4;
	float d[4];
	for (int i = 0; i < 4; i++) {
		int r = i < 2 ? g : g + 8, n = 2 * t + (i & 1);
		float acc = c[i];
		for (int k = 0; k < 16; k++)
			acc += A(r, k) * B(k, n);
		d[i] = acc;
	}
	emu_blk->warp[w]->arrive_and_wait();
	for (int i = 0; i < 4; i++)
		c[i] = d[i];
}

#include "compute/cuda/attention_kernels.cuh"

/* Run fn() as a grid of blocks of nthreads threads each. */
template <typename F> static void launch(emu_dim3 grid, emu_dim3 block, size_t smem, F fn)
{
	gridDim = grid;
	blockDim = block;
	const int nt = (int)(block.x * block.y * block.z), nw = (nt + 31) / 32;
	std::vector<unsigned char> mem(smem + 16);
	for (unsigned z = 0; z < grid.z; z++)
		for (unsigned y = 0; y < grid.y; y++)
			for (unsigned x = 0; x < grid.x; x++) {
				block_ctx bc;
				std::barrier<> bb(nt);
				bc.block = &bb;
				std::vector<std::barrier<> *> wb;
				for (int i = 0; i < nw; i++)
					bc.warp.push_back(new std::barrier<>(i == nw - 1 && nt % 32 ? nt % 32 : 32));
				bc.slots.assign((size_t)nw * 32, 0.0f);
				bc.frags.assign((size_t)nw * 32 * 6, 0);
				bc.smem = (unsigned char *)(((uintptr_t)mem.data() + 15) & ~(uintptr_t)15);
				memset(bc.smem, 0xcd, smem); /* garbage, as on a GPU */
				std::vector<std::thread> th;
				for (int tid = 0; tid < nt; tid++)
					th.emplace_back([&, tid] {
						emu_blk = &bc;
						emu_tid = tid;
						threadIdx.x = tid % block.x;
						threadIdx.y = tid / block.x % block.y;
						threadIdx.z = tid / (block.x * block.y);
						blockIdx.x = x;
						blockIdx.y = y;
						blockIdx.z = z;
						fn();
					});
				for (auto &t : th)
					t.join();
				for (auto *b : bc.warp)
					delete b;
			}
}

/* ---------------------------------------------------------------- the check */

struct acase {
	const char *name;
	int batch, q_len, kv_len, qh, kvh, hd, qpad, kvpad, opad, tiled, variant; /* cuda_attention.cu's 1-3 */
	float softcap, scale;
	int mask, bias;
};

static uint64_t rng = 88172645463325252ull;
static float frand()
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static float rb(float x) { return bf2f(f2bf(x)); }

static int run_case(const acase &c, int simple)
{
	const int qs = c.qh * c.hd + c.qpad, ks = c.kvh * c.hd + c.kvpad, os = c.qh * c.hd + c.opad;
	const float scale = c.scale ? c.scale : 1.0f / sqrtf((float)c.hd);
	std::vector<float> q((size_t)c.batch * c.q_len * qs), k((size_t)c.batch * c.kv_len * ks), v(k.size()),
		o((size_t)c.batch * c.q_len * os, 0.125f), bias;
	std::vector<uint8_t> mask;
	for (auto &x : q)
		x = rb(3 * frand());
	for (auto &x : k)
		x = rb(frand());
	for (auto &x : v)
		x = rb(frand());
	if (c.mask) {
		mask.resize((size_t)c.batch * c.kv_len);
		for (auto &m : mask)
			m = frand() > -0.4f;
		mask[0] = 1;
		if (c.batch > 1)
			memset(mask.data() + c.kv_len, 0, (size_t)c.kv_len);
	}
	if (c.bias) {
		bias.resize((size_t)c.qh * c.q_len * c.kv_len);
		for (auto &x : bias)
			x = 2 * frand();
	}
	/* reference: float64 softmax attention */
	std::vector<float> want = o;
	const int rep = c.qh / c.kvh;
	for (int b = 0; b < c.batch; b++)
		for (int h = 0; h < c.qh; h++) {
			int kh = c.tiled ? h % c.kvh : h / rep;
			for (int i = 0; i < c.q_len; i++) {
				std::vector<double> s(c.kv_len);
				double mx = -INFINITY;
				for (int j = 0; j < c.kv_len; j++) {
					double d = 0;
					for (int e = 0; e < c.hd; e++)
						d += (double)q[((size_t)b * c.q_len + i) * qs + h * c.hd + e] *
						     k[((size_t)b * c.kv_len + j) * ks + kh * c.hd + e];
					d *= scale;
					if (c.softcap > 0)
						d = c.softcap * tanh(d / c.softcap);
					if (c.bias)
						d += bias[((size_t)h * c.q_len + i) * c.kv_len + j];
					if (c.mask && !mask[(size_t)b * c.kv_len + j])
						d = -INFINITY;
					s[j] = d;
					mx = d > mx ? d : mx;
				}
				for (int e = 0; e < c.hd; e++) {
					double num = 0, den = 0;
					for (int j = 0; j < c.kv_len && mx > -INFINITY; j++) {
						double p = exp(s[j] - mx);
						den += p;
						num += p * v[((size_t)b * c.kv_len + j) * ks + kh * c.hd + e];
					}
					want[((size_t)b * c.q_len + i) * os + h * c.hd + e] = den > 0 ? (float)(num / den) : 0.0f;
				}
			}
		}
	/* the kernels, dispatched as cuda_attention.cu does */
	uint8_t *mk = c.mask ? mask.data() : nullptr;
	float *bz = c.bias ? bias.data() : nullptr;
	if (simple) {
		simple_params p;
		p.o = o.data(), p.q = q.data(), p.k = k.data(), p.v = v.data(), p.mask = mk, p.bias = bz;
		p.batch = c.batch, p.q_len = c.q_len, p.kv_len = c.kv_len, p.q_heads = c.qh, p.kv_heads = c.kvh;
		p.hd = c.hd, p.rep = rep, p.tiled = c.tiled, p.q_stride = qs, p.kv_stride = ks, p.o_stride = os;
		p.scale = scale, p.softcap = c.softcap;
		const int64_t warps = (int64_t)c.batch * c.qh * c.q_len;
		emu_dim3 g{ (unsigned)((warps + 7) / 8), 1, 1 }, bl{ 256, 1, 1 };
		if (c.hd <= 128)
			launch(g, bl, 0, [&] { simple_kernel<4>(p); });
		else if (c.hd <= 256)
			launch(g, bl, 0, [&] { simple_kernel<8>(p); });
		else
			launch(g, bl, 0, [&] { simple_kernel<16>(p); });
	} else {
		const int DP = c.hd <= 32 ? 32 : c.hd <= 64 ? 64 : 128;
		const int Lp = (c.kv_len + BN - 1) / BN * BN;
		const int64_t elems = (int64_t)c.batch * c.kvh * Lp * DP;
		std::vector<bf16> Kb(elems), Vt(elems);
		memset(Kb.data(), 0xab, elems * 2);
		memset(Vt.data(), 0xab, elems * 2);
		launch(emu_dim3{ 4, 1, 1 }, emu_dim3{ 256, 1, 1 }, 0,
		       [&] { pack_k_kernel(Kb.data(), k.data(), c.kv_len, Lp, c.kvh, c.hd, DP, ks, elems); });
		launch(emu_dim3{ (unsigned)(Lp / 32), (unsigned)(DP / 32), (unsigned)(c.batch * c.kvh) }, emu_dim3{ 32, 8, 1 }, 0,
		       [&] { pack_vt_kernel(Vt.data(), v.data(), c.kv_len, Lp, c.kvh, c.hd, DP, ks); });
		attn_params p;
		p.o = o.data(), p.q = q.data(), p.Kb = Kb.data(), p.Vt = Vt.data(), p.mask = mk, p.bias = bz;
		p.q_len = c.q_len, p.kv_len = c.kv_len, p.Lp = Lp, p.q_heads = c.qh, p.kv_heads = c.kvh, p.hd = c.hd;
		p.rep = rep, p.tiled = c.tiled, p.q_stride = qs, p.o_stride = os, p.scale = scale, p.softcap = c.softcap;
		p.inv_cap = c.softcap > 0 ? 1.0f / c.softcap : 0.0f;
		const int NW = c.variant == 2 ? 8 : 4, MT = c.variant == 3 ? 2 : 1, BM = NW * MT * 16;
		emu_dim3 g{ (unsigned)((c.q_len + BM - 1) / BM), (unsigned)c.qh, (unsigned)c.batch };
		emu_dim3 bl{ (unsigned)(NW * 32), 1, 1 };
#define RUN(D)                                                                                              \
	(c.variant == 1   ? launch(g, bl, flash_smem<D, 4, 1, 64>(), [&] { flash_kernel<D, 4, 1, 64>(p); }) \
	 : c.variant == 2 ? launch(g, bl, flash_smem<D, 8, 1, 64>(), [&] { flash_kernel<D, 8, 1, 64>(p); }) \
			  : launch(g, bl, flash_smem<D, 4, 2, 32>(), [&] { flash_kernel<D, 4, 2, 32>(p); }))
		if (DP == 32)
			RUN(32);
		else if (DP == 64)
			RUN(64);
		else
			RUN(128);
	}
	double mx = 0, md = 0;
	size_t worst = 0;
	for (size_t i = 0; i < want.size(); i++)
		mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
	int bad = 0;
	const double tol = simple ? 1e-4 : 1e-2;
	for (size_t i = 0; i < want.size(); i++) {
		double d = fabs((double)o[i] - want[i]);
		if (!(d <= tol * mx + tol * fabs(want[i])))
			bad = 1;
		if (d > md || std::isnan(d))
			md = d, worst = i;
	}
	printf("%s - %s%s %s: max |diff| %.3g (element %zu: kernel %.6g reference %.6g), max |ref| %.3g\n", bad ? "FAIL" : "ok",
	       simple ? "simple" : "flash variant ", simple ? "" : std::to_string(c.variant).c_str(), c.name, md, worst, o[worst], want[worst], mx);
	return bad;
}

/* softmax_rows_kernel (the GEMM path's softmax) against float64 */
static int check_softmax(int n, int kv, float softcap, int use_bias, int use_mask)
{
	std::vector<float> S((size_t)n * kv), bias;
	std::vector<uint8_t> mask;
	std::vector<bf16> P((size_t)n * kv);
	for (auto &x : S)
		x = 20 * frand();
	if (use_bias) {
		bias.resize(S.size());
		for (auto &x : bias)
			x = 2 * frand();
	}
	if (use_mask) {
		mask.resize(kv);
		for (auto &m : mask)
			m = frand() > 0;
		mask[kv - 1] = 1;
	}
	const float scale = 0.125f;
	launch(emu_dim3{ (unsigned)(n < 7 ? n : 7), 1, 1 }, emu_dim3{ SM_NT, 1, 1 }, 0, [&] {
		softmax_rows_kernel(P.data(), S.data(), n, kv, scale, softcap, use_bias ? bias.data() : nullptr,
				    use_mask ? mask.data() : nullptr);
	});
	double md = 0;
	for (int r = 0; r < n; r++) {
		std::vector<double> l(kv);
		double mx = -INFINITY, sum = 0;
		for (int j = 0; j < kv; j++) {
			double v = S[(size_t)r * kv + j] * scale;
			if (softcap > 0)
				v = softcap * tanh(v / softcap);
			if (use_bias)
				v += bias[(size_t)r * kv + j];
			if (use_mask && !mask[j])
				v = -INFINITY;
			l[j] = v;
			mx = v > mx ? v : mx;
		}
		for (int j = 0; j < kv; j++)
			sum += exp(l[j] - mx);
		for (int j = 0; j < kv; j++) {
			double d = fabs(bf2f(P[(size_t)r * kv + j].x) - exp(l[j] - mx) / sum);
			md = d > md ? d : md;
		}
	}
	const int bad = !(md < 4e-3);
	printf("%s - softmax rows %d × %d softcap %g%s%s: max |diff| %.3g (BF16 output)\n", bad ? "FAIL" : "ok", n, kv,
	       softcap, use_bias ? " bias" : "", use_mask ? " mask" : "", md);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "softmax"))
		return check_softmax(9, 300, 0, 0, 0) + check_softmax(20, 77, 30, 1, 1) + check_softmax(3, 1000, 2, 0, 1);
	const int only = argc > 1 ? atoi(argv[1]) : -1; /* one case, by index */
	const acase cases[] = {
		{ "hd 24 GQA grouped softcap 30, 77 rows", 2, 77, 77, 4, 2, 24, 0, 0, 0, 0, 1, 30, 0, 0, 0 },
		{ "hd 24 tiled + mask, batch 1 all masked", 2, 70, 13, 4, 2, 24, 0, 0, 0, 1, 3, 0, 0, 1, 0 },
		{ "hd 64 bias + mask, scale 1", 2, 45, 45, 2, 2, 64, 0, 0, 0, 0, 1, 0, 1, 1, 1 },
		{ "hd 64 bias + mask, scale 1, 32-row warps", 1, 140, 45, 2, 2, 64, 0, 0, 0, 0, 3, 0, 1, 1, 1 },
		{ "hd 120 padded strides, 150 keys", 1, 130, 150, 2, 1, 120, 8, 4, 3, 0, 1, 30, 0, 0, 0 },
		{ "hd 120, 8 warps", 1, 200, 140, 2, 1, 120, 0, 0, 0, 0, 2, 30, 0, 0, 0 },
		{ "hd 120, 32-row warps, 32-key tiles", 1, 200, 140, 2, 1, 120, 8, 4, 3, 0, 3, 30, 0, 0, 0 },
		{ "hd 7 odd strides", 3, 5, 9, 3, 1, 7, 1, 3, 2, 1, 1, 30, 0, 1, 0 },
		{ "hd 32, 8 warps, tiled", 1, 150, 70, 2, 1, 32, 0, 0, 0, 1, 2, 2, 0, 0, 0 },
		{ "hd 128 whole tiles", 1, 64, 128, 1, 1, 128, 0, 0, 0, 0, 1, 0, 0, 0, 0 },
		{ "hd 128, 32-row warps, 33 keys", 1, 129, 33, 1, 1, 128, 0, 0, 0, 0, 3, 0, 0, 0, 0 },
		{ "one query one key", 1, 1, 1, 1, 1, 16, 0, 0, 0, 0, 1, 0, 0, 0, 0 },
	};
	int bad = 0, i = 0;
	for (const auto &c : cases) {
		if (only < 0 || only == i) {
			bad += run_case(c, 0);
			bad += run_case(c, 1);
		}
		i++;
	}
	acase big = { "hd 200 (simple only)", 1, 9, 33, 2, 1, 200, 0, 0, 0, 0, 4, 30, 0, 0, 0 };
	if (only < 0 || only == i)
		bad += run_case(big, 1);
	printf("%s\n", bad ? "emulate_attention: FAILED" : "emulate_attention: all ok");
	return bad != 0;
}
