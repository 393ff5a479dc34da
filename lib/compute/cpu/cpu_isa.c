/*
 * cpu_isa.c: which instruction-set level the CPU kernels may use, and the
 * precision a context starts with (backend.h: od_cpu_isa, od_precision).
 *
 * Detected at run time, never at build time, so one binary runs on any
 * x86-64: cpuid says what the CPU has, xgetbv what the OS saves on a context
 * switch (AVX-512 and AMX state are useless if it does not), and Linux hands
 * out the 8 KB AMX tile state only to processes that ask for it
 * (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)); a refusal means the
 * AVX512-BF16 level. The ISA-specific kernels live in cpu_bf16.c and
 * cpu_f32.c, compiled for their instruction sets function by function.
 */
#include "compute/cpu/cpu_kernels.h"
#include "base/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

static enum od_cpu_isa detect(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(0, &a, &b, &c, &d) || a < 7)
		return OD_ISA_GENERIC;
	unsigned max = a;
	__cpuid_count(1, 0, a, b, c, d);
	const int osxsave = c >> 27 & 1, fma = c >> 12 & 1, avx = c >> 28 & 1;
	if (!osxsave || !avx || !fma)
		return OD_ISA_GENERIC;
	const uint64_t xcr0 = xgetbv0();
	if ((xcr0 & 0x6) != 0x6) /* SSE and AVX state */
		return OD_ISA_GENERIC;
	__cpuid_count(7, 0, a, b, c, d);
	const unsigned b7 = b, d7 = d;
	if (!(b7 >> 5 & 1)) /* AVX2 */
		return OD_ISA_GENERIC;
	enum od_cpu_isa lvl = OD_ISA_AVX2;
	/* AVX-512 F, DQ, BW, VL and the opmask/ZMM state */
	const int avx512 = (b7 >> 16 & 1) && (b7 >> 17 & 1) && (b7 >> 30 & 1) && (b7 >> 31 & 1) && (xcr0 & 0xe0) == 0xe0;
	unsigned a71 = 0;
	if (max >= 7) {
		__cpuid_count(7, 1, a, b, c, d);
		a71 = a;
	}
	if (!avx512)
		return lvl;
	lvl = OD_ISA_AVX512;
	if (!(a71 >> 5 & 1)) /* AVX512_BF16 */
		return lvl;
	lvl = OD_ISA_AVX512BF16;
	/* AMX-BF16 (edx bit 22), AMX-TILE (bit 24), and the OS saving tile state (XCR0 bits 17, 18) */
	if (!(d7 >> 22 & 1) || !(d7 >> 24 & 1) || (xcr0 & 0x60000) != 0x60000)
		return lvl;
	if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
		return lvl; /* refused (old kernel, seccomp, signal stack too small): AVX512-BF16 */
	return OD_ISA_AMX;
}
#else
static enum od_cpu_isa detect(void)
{
	return OD_ISA_GENERIC;
}
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum od_cpu_isa supported, active;
static int env_bad;

static void init(void)
{
	supported = active = detect();
	const char *e = getenv("OD_CPU_ISA");
	enum od_cpu_isa want;
	if (e && *e) {
		if (od_cpu_isa_parse(e, &want))
			env_bad = 1;
		else if (want < active)
			active = want;
	}
}

enum od_cpu_isa od_cpu_isa_supported(void)
{
	pthread_once(&once, init);
	return supported;
}

enum od_cpu_isa od_cpu_isa(void)
{
	pthread_once(&once, init);
	return __atomic_load_n(&active, __ATOMIC_RELAXED);
}

enum od_cpu_isa od_cpu_isa_limit(enum od_cpu_isa max)
{
	pthread_once(&once, init);
	enum od_cpu_isa now = max < supported ? max : supported;
	__atomic_store_n(&active, now, __ATOMIC_RELAXED);
	return now;
}

static const char *const isa_names[] = { "generic", "avx2", "avx512", "avx512bf16", "amx" };
#define N_ISA (int)(sizeof isa_names / sizeof isa_names[0])

int od_cpu_isa_parse(const char *name, enum od_cpu_isa *out)
{
	for (int i = 0; i < N_ISA; i++)
		if (!strcmp(name, isa_names[i])) {
			*out = (enum od_cpu_isa)i;
			return 0;
		}
	return -1;
}

const char *od_cpu_isa_name(enum od_cpu_isa i)
{
	return (unsigned)i < N_ISA ? isa_names[i] : "?";
}

int od_precision_parse(const char *name, enum od_precision *out)
{
	if (!strcmp(name, "fp32") || !strcmp(name, "f32"))
		*out = OD_PRECISION_FP32;
	else if (!strcmp(name, "bf16"))
		*out = OD_PRECISION_BF16;
	else
		return -1;
	return 0;
}

const char *od_precision_name(enum od_precision p)
{
	return p == OD_PRECISION_BF16 ? "bf16" : "fp32";
}

enum od_precision od_precision_default(void)
{
	return od_cpu_isa() >= OD_ISA_AVX512BF16 ? OD_PRECISION_BF16 : OD_PRECISION_FP32;
}

int od_cpu_env_precision(enum od_precision *out)
{
	pthread_once(&once, init);
	if (env_bad)
		return od_error(OD_EINVAL, "OD_CPU_ISA: '%s' is not amx, avx512bf16, avx512, avx2 or generic", getenv("OD_CPU_ISA"));
	const char *e = getenv("OD_PRECISION");
	if (e && *e) {
		if (od_precision_parse(e, out))
			return od_error(OD_EINVAL, "OD_PRECISION: '%s' is not fp32 or bf16", e);
	} else {
		*out = od_precision_default();
	}
	return OD_OK;
}

int od_cpu_bf16(const struct od_ctx *c)
{
	return c->precision == OD_PRECISION_BF16 && od_cpu_isa() >= OD_ISA_AVX512BF16;
}
