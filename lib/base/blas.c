/* blas.c: OpenBLAS kernel advice and work buffers (see blas.h). */
#include "base/blas.h"
#include "base/error.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

const char *od_blas_corename(void)
{
	const char *n = openblas_get_corename();
	return n ? n : "unknown";
}

const char *od_blas_advice(void)
{
	const char *env = getenv("OPENBLAS_CORETYPE");
	if (env && *env)
		return NULL;
	return od_blas_advice_for(od_blas_corename());
}

const char *od_blas_advice_for(const char *cur)
{
	static const char *const fast[] = { "Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids" };
	for (unsigned i = 0; i < sizeof fast / sizeof *fast; i++)
		if (!strcasecmp(cur, fast[i]))
			return NULL;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
		return __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return "Haswell";
	return NULL;
}

/* OpenBLAS's buffer pool (driver/others/memory.c): exported, not in its
 * headers. Weak, so that another BLAS links too (and is left alone). */
extern void *blas_memory_alloc(int procpos) __attribute__((weak));
extern void blas_memory_free(void *buffer) __attribute__((weak));

/* The most one OpenBLAS work buffer takes: BUFFER_SIZE (32 << 22 for the
 * AVX-512 kernels of a DYNAMIC_ARCH build) plus its alignment slack, rounded
 * up. Probing for this much per buffer errs on the safe side. */
#define BUFFER_PROBE ((size_t)136 << 20)
/* OpenBLAS's pool has 2·MAX_THREADS slots; beyond them it gives up (returns
 * NULL) instead of retrying, so there is nothing to reserve. */
#define MAX_RESERVE 128

static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static int reserved;

int od_blas_reserve(int n)
{
	if (!blas_memory_alloc || !blas_memory_free)
		return OD_OK;
	if (n > MAX_RESERVE)
		n = MAX_RESERVE;
	pthread_mutex_lock(&reserve_lock);
	int rc = OD_OK;
	if (n > reserved) {
		/* First prove that the address space holds them (an mmap fails
		 * cleanly), then give it back and let OpenBLAS take it. */
		void *probe[MAX_RESERVE];
		int k = 0;
		for (; k < n - reserved; k++) {
			probe[k] = mmap(NULL, BUFFER_PROBE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (probe[k] == MAP_FAILED)
				break;
		}
		int ok = k == n - reserved;
		for (int i = 0; i < k; i++)
			munmap(probe[i], BUFFER_PROBE);
		if (!ok) {
			rc = od_error(OD_ENOMEM, "out of memory: %d compute threads need %zu MiB of address space for their "
						 "BLAS buffers (a memory limit such as ulimit -v? fewer --threads need less)",
				      n, (size_t)n * (BUFFER_PROBE >> 20));
		} else {
			/* Hold n buffers at once, so that the pool has n slots with
			 * memory; each later call reuses one of them. */
			void *held[MAX_RESERVE];
			int h = 0;
			for (; h < n; h++)
				if (!(held[h] = blas_memory_alloc(0)))
					break;
			for (int i = 0; i < h; i++)
				blas_memory_free(held[i]);
			reserved = h;
		}
	}
	pthread_mutex_unlock(&reserve_lock);
	return rc;
}
