#!/bin/sh
# One training step of a small VAE (block_out_channels 32, 64, 64, 64,
# layers_per_block 1, 16 latent channels, the mid-block attention; bench/vae-train.c)
# at 64² and 128² crops, batch 8: loss, gradient of every weight and the AdamW
# update, the median over BENCH_VAE_TRAIN_REPS timed steps (default 3) after
# one warm-up step, seconds per step and GFLOP/s of the GEMM work, beside the
# machine's sgemm throughput measured in the same run.
. "$OD_SRCDIR/bench/common.sh"
reps=${BENCH_VAE_TRAIN_REPS:-3}
echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) threads"
echo "sgemm peak (all threads): $(bench_sgemm) GFLOP/s"
for s in 64 128; do
	flock /tmp/od-bench.lock vae-train --size "$s" --batch 8 --reps "$reps"
done
