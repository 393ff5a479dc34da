# bench/common.sh: helpers shared by the bench/*.sh scripts (sourced).
#
#   bench_model            make sure $OD_BENCH_MODEL exists (full-size, random BF16)
#   runstat -n R -- CMD    (a program) median wall time and peak RSS of CMD
#   bench_sgemm            the machine's sgemm GFLOP/s (all threads, median)

bench_model() {
	if [ ! -f "$OD_BENCH_MODEL/transformer/diffusion_pytorch_model.safetensors" ]; then
		echo "bench: writing a full-size random BF16 checkpoint to $OD_BENCH_MODEL (several GB)" >&2
		od-model random --dtype bf16 --seed 1 "$OD_SRCDIR/tests/golden/onediffusion-full-configs" "$OD_BENCH_MODEL"
	fi
	if [ ! -d "$OD_BENCH_MODEL/tokenizer" ]; then
		cp -r "$OD_SRCDIR/share/tiny-onediffusion/tokenizer" "$OD_BENCH_MODEL/tokenizer"
	fi
}

bench_sgemm() {
	sgemm --reps 5 | sed 's/.*median_gflops=\([0-9.]*\).*/\1/'
}
