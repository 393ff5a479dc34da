#!/bin/sh
# BF16 matrix products: od's own AMX / AVX512-BF16 kernels (lib/compute/cpu/cpu_bf16.c)
# against oneDNN (Debian's libdnnl-dev, the library PyTorch's CPU BF16 matmul uses) on
# the NextDiT's linear shapes, interleaved in one process (bench/dnnl/gemm_dnnl.c
# says what each column means). Skipped when oneDNN is not installed
# (apt-get install libdnnl-dev). BENCH_GEMM_ARGS passes options (--reps R, M values).
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
