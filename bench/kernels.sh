#!/bin/sh
# CPU kernels on the full-size NextDiT shapes (512², CFG batch 2: 2048 tokens),
# beside the machine's sgemm peak measured in the same run.
. "$OD_SRCDIR/bench/common.sh"
echo "sgemm peak (all threads): $(bench_sgemm) GFLOP/s"
kernels --reps 3
