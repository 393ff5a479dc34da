/*
 * blas.h: choosing OpenBLAS kernels that suit this CPU.
 *
 * Debian's OpenBLAS 0.3.21 does not know recent Intel models and falls back to
 * its generic SSE3 "Prescott" kernels, 3-5x slower than the AVX2/AVX-512 ones
 * the CPU can run (bench/sgemm.sh measures both). OpenBLAS reads
 * OPENBLAS_CORETYPE in a library constructor, before main(), so a tool that
 * wants other kernels must set the variable and re-execute itself.
 * od_blas_advice() says whether that is worth doing; bin/tool.c does it (libod
 * itself never execs). A user who sets OPENBLAS_CORETYPE always wins.
 */
#ifndef OD_BLAS_H
#define OD_BLAS_H

/* The kernel family OpenBLAS chose ("Haswell", "Prescott", ...). */
const char *od_blas_corename(void);

/* The OPENBLAS_CORETYPE value to run with instead, or NULL when the current
 * choice is already a fast one for this CPU or the user set the variable. */
const char *od_blas_advice(void);

/* The same decision for a given kernel family name on this CPU, ignoring the
 * environment (for tests). */
const char *od_blas_advice_for(const char *corename);

/* Make sure OpenBLAS holds a work buffer for each of n threads calling sgemm
 * at once. OpenBLAS allocates one (128 MiB for its AVX-512 kernels) the first
 * time a thread needs it, and when that allocation fails it retries forever:
 * under a memory limit (ulimit -v) a tool would spin at 100% CPU. So the
 * buffers are taken here, up front, after checking that the address space
 * can hold them; OD_ENOMEM ("out of memory: ...") when it cannot. Does
 * nothing with a BLAS that is not OpenBLAS. */
int od_blas_reserve(int n);

#endif
