/* test_blas.c: the OpenBLAS kernel advice (blas.h) and the tools' re-exec. */
#include "od.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

int main(void)
{
	__builtin_cpu_init();
	int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		     __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
	const char *a = od_blas_advice_for("Prescott");
	if (avx512)
		ok(a && (!strcmp(a, "SkylakeX") || !strcmp(a, "Cooperlake")), "Prescott on an AVX-512 CPU -> %s", a ? a : "none");
	else if (avx2)
		ok(a && !strcmp(a, "Haswell"), "Prescott on an AVX2 CPU -> %s", a ? a : "none");
	else
		ok(a == NULL, "no advice on a CPU without AVX2");
	ok(od_blas_advice_for("Haswell") == NULL, "Haswell kernels are kept");
	ok(od_blas_advice_for("Zen") == NULL, "Zen kernels are kept");
	ok(od_blas_advice_for("SkylakeX") == NULL, "SkylakeX kernels are kept");
	setenv("OPENBLAS_CORETYPE", "Prescott", 1);
	ok(od_blas_advice() == NULL, "a user's OPENBLAS_CORETYPE always wins");
	ok(strlen(od_blas_corename()) > 0, "OpenBLAS reports its kernels: %s", od_blas_corename());
	return tap_done();
}
