#!/bin/sh
# od-decode of one 1024×1024 picture (latent 16×128×128) with the full-size SD3
# VAE (random BF16 weights, $OD_BENCH_MODEL/vae): the median wall time over
# BENCH_VAE_REPS runs (default 3), the peak RSS (it must stay under 4 GB:
# vae.h explains the memory plan), and the machine's sgemm throughput
# measured in the same run (one core's single-threaded sgemm times the cores,
# as bench/denoise.sh reports it), before and after.
#
# FLOPs counted: the convolutions and the mid-block attention's products (what
# sgemm does), 2·Cout·Cin·k²·Hout·Wout per convolution and, for the attention
# over L = 128² tokens of C = 512 channels, 4 linears 2·L·C² plus Q·Kᵀ and P·V
# 2·2·L²·C. Norms, SiLU, up-sampling and the uint8 conversion are not counted.
# The latent comes from encoding a picture with the tiny VAE (quick); its
# values do not change the decoder's cost.
. "$OD_SRCDIR/bench/common.sh"
if [ ! -f "$OD_BENCH_MODEL/vae/diffusion_pytorch_model.safetensors" ]; then
	bench_model
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/od-bench-vae.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
reps=${BENCH_VAE_REPS:-3}

od-encode -m "$OD_SRCDIR/share/tiny-onediffusion" --mode -S 1024x1024 --progress=none \
	"$OD_SRCDIR/tests/golden/cases/pipeline/rgb_64x64.png" -o "$tmp/lat.odf"

# decoder FLOPs for a latent of h×w, from the SD3 VAE config (block_out 128, 256,
# 512, 512; 3 ResBlocks per up block; 16 latent channels)
flops() {
	awk -v h="$1" -v w="$2" 'function conv(co, ci, k, H, W) { return 2 * co * ci * k * k * H * W }
	function res(ci, co, H, W) { return conv(co, ci, 3, H, W) + conv(co, co, 3, H, W) + (ci != co ? conv(co, ci, 1, H, W) : 0) }
	BEGIN {
		split("512 512 256 128", ch, " ")
		f = conv(512, 16, 3, h, w)                                     # conv_in
		L = h * w; C = 512
		f += 2 * res(512, 512, h, w) + 4 * 2 * L * C * C + 2 * 2 * L * L * C   # mid block
		H = h; W = w; prev = 512
		for (i = 1; i <= 4; i++) {
			for (j = 0; j < 3; j++) { f += res(j ? ch[i] : prev, ch[i], H, W) }
			prev = ch[i]
			if (i < 4) { H *= 2; W *= 2; f += conv(ch[i], ch[i], 3, H, W) }  # upsampler
		}
		f += conv(3, 128, 3, H, W)                                     # conv_out
		printf "%.6e\n", f }'
}

cores=$(nproc)
core_sgemm() { awk -v g="$(sgemm --threads 1 --reps 5 | sed 's/.*median_gflops=\([0-9.]*\).*/\1/')" -v c="$cores" 'BEGIN { print g * c }'; }
s1=$(core_sgemm)
for prec in ${BENCH_PRECISIONS:-fp32 bf16}; do
flock /tmp/od-bench.lock runstat -n "$reps" -- od-decode -m "$OD_BENCH_MODEL" --precision "$prec" --progress=none \
	-o "$tmp/out.png" "$tmp/lat.odf" > "$tmp/stat.txt"
s2=$(core_sgemm)
f=$(flops 128 128)
awk -v prec="$prec" -v s1="$s1" -v s2="$s2" -v f="$f" -v cores="$cores" '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END {
		t = v["median_s"]; sg = (s1 + s2) / 2; g = f / t / 1e9
		printf "%s: decode 1024x1024 (latent 128x128), full SD3 VAE, BF16 weights: median %.1f s over %d runs (min %.1f, max %.1f), %.2f TFLOP\n", prec, t, v["reps"], v["min_s"], v["max_s"], f / 1e12
		printf "achieved %.1f GFLOP/s = %.0f%% of the machine'"'"'s sgemm %.1f GFLOP/s (%d cores x 1-core sgemm; before %.1f, after %.1f)\n", g, 100 * g / sg, sg, cores, s1, s2
		printf "peak RSS %d MB (limit 4096 MB): %s\n", v["peak_rss_mb"], v["peak_rss_mb"] < 4096 ? "ok" : "OVER"
		exit v["peak_rss_mb"] < 4096 ? 0 : 1
	}' "$tmp/stat.txt"
done
