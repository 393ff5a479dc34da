#!/bin/sh
# CPU kernels on the full-size NextDiT shapes (512², CFG batch 2: 2048 tokens;
# 256²: 512 tokens), beside the machine's sgemm peak measured in the same run,
# in both precisions. Where the CPU has AVX-512 the float32 linear layers run
# twice: on od's kernel (the default) and on OpenBLAS (OD_CPU_ISA=avx2).
. "$OD_SRCDIR/bench/common.sh"
grep -m1 'model name' /proc/cpuinfo | sed 's/^[^:]*: */CPU: /'
echo "sgemm peak (all threads): $(bench_sgemm) GFLOP/s"
for m in 2048 512; do
	OD_PRECISION=bf16 kernels --reps 3 --tokens "$m"
	OD_PRECISION=fp32 kernels --reps 3 --tokens "$m"
	grep -qw avx512f /proc/cpuinfo && OD_PRECISION=fp32 OD_CPU_ISA=avx2 kernels --reps 3 --tokens "$m" | grep -v '^attention'
done
