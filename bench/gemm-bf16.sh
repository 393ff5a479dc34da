#!/bin/sh
# BF16 matrix products: od's own AMX / AVX512-BF16 kernels (lib/compute/cpu/cpu_bf16.c)
# against oneDNN (Debian's libdnnl-dev, the library PyTorch's CPU BF16 matmul uses) on
# the NextDiT's linear shapes, interleaved in one process (bench/dnnl/gemm_dnnl.c
# says what each column means). Skipped when oneDNN is not installed
# (apt-get install libdnnl-dev). BENCH_GEMM_ARGS passes options (--reps R, M values).
#
# Why od uses its own kernels: on an Intel Xeon with AMX (family 6, model 207),
# 2 threads, oneDNN 2.6.3 running its AMX brgemm (brg:avx512_core_amx_bf16),
# medians of 5 interleaved rounds on a busy shared machine (absolute GFLOP/s
# several times below a quiet machine's), od's time over oneDNN's:
#   M     wq/wo 3840x3840  w1/w3 10240x3840  w2 3840x10240  wk/wv 960x3840
#   512   0.65 (any 0.57)  1.02 (0.93)       1.00 (0.74)    0.73 (0.84)
#   2048  0.72 (0.71)      0.85 (0.78)       1.22 (0.86)    1.05 (1.03)
# ("any": oneDNN with its preferred weight layout, reordered once beforehand;
# otherwise the weights as stored). od is as fast or faster on most shapes
# while reading the checkpoint's BF16 weights in place (no packed copy of the
# model), running on od's thread pool (oneDNN brings its own OpenMP threads)
# and giving the same bytes for every thread count; the outputs agree to
# float32 rounding (max |difference| 7e-7 for outputs up to 0.7).
set -eu
: "${OD_SRCDIR:?run through make bench}"
if [ ! -f /usr/include/oneapi/dnnl/dnnl.h ]; then
	echo "gemm-bf16: skipped (no oneDNN: apt-get install libdnnl-dev)"
	exit 0
fi
B=${B:-$OD_SRCDIR/build}
mk() { sed -n "s/^$1 = //p" "$OD_SRCDIR/config.mk"; }
out=$OD_SRCDIR/bench/out
mkdir -p "$out"
$(mk CC) -O2 -std=c11 -D_GNU_SOURCE -I"$OD_SRCDIR/lib" -o "$out/gemm_dnnl" "$OD_SRCDIR/bench/dnnl/gemm_dnnl.c" \
	"$B/libod.a" -ldnnl $(mk BLAS_LIBS) $(mk PNG_LIBS) $(mk JPEG_LIBS) $(mk JANSSON_LIBS) -lm -lpthread -ldl
grep -m1 'model name' /proc/cpuinfo | sed 's/^[^:]*: */# CPU: /'
threads=${BENCH_THREADS:-$(nproc)}
OMP_NUM_THREADS=$threads flock /tmp/od-bench.lock "$out/gemm_dnnl" --threads "$threads" ${BENCH_GEMM_ARGS:-}
