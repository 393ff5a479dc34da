/* blas.c: OpenBLAS kernel advice (see blas.h). */
#include "base/blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <strings.h>

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
