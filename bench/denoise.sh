#!/bin/sh
# od-denoise on the full-size NextDiT (2.8B parameters, random BF16 weights):
#  1. seconds per forward pass at 512² with guidance (one target frame, batch 2 =
#     2048 tokens), against the machine's sgemm throughput measured in the same
#     run (before and after; their mean), and the peak RSS of that process.
#     The machine's sgemm throughput is one core's single-threaded sgemm (what
#     `sgemm` measures: od runs OpenBLAS single-threaded, parallel.c) times the
#     number of cores od uses, i.e. perfect scaling;
#  2. with BENCH_MULTIVIEW=1: one step of a 4-view 512² multiview sequence
#     (8 frames, 8192 tokens, guidance off), its time and peak RSS.
#
# FLOPs counted: the matrix products only (what sgemm does), per forward with
# B batch, L tokens per batch entry, M = B·L, G = B·frames, depth 16, D 3840,
# KV 960, FF 10240, A 1024, P 64, S = 300 text positions:
#   linears      2·M·(2·D·D + 2·D·KV + 3·D·FF)·depth     wq, wo, wk, wv, w1, w3, w2
#   adaLN        2·G·A·4D·depth + 2·G·A·D                per frame (nextdit.h)
#   self-attn    2·2·B·L·L·D·depth                       Q·Kᵀ and P·V, all heads
#   cross-attn   2·2·B·L·S·D·depth                       all 300 keys, masked or not
#   embed/final  2·M·P·D + 2·M·D·P
# The text side (per job, not per forward) is left out. Elementwise work
# (norms, softmax, RoPE) is not counted as FLOPs.
. "$OD_SRCDIR/bench/common.sh"
# only the transformer and the scheduler config are needed (no tokenizer)
[ -f "$OD_BENCH_MODEL/transformer/diffusion_pytorch_model.safetensors" ] || bench_model
tmp=$(mktemp -d "${TMPDIR:-/tmp}/od-bench-denoise.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
M=$OD_BENCH_MODEL

flops() { # B L frames
	awk -v B="$1" -v L="$2" -v F="$3" 'BEGIN {
		D = 3840; KV = 960; FF = 10240; A = 1024; P = 64; S = 300; depth = 16
		M = B * L; G = B * F
		lin = 2 * M * (2 * D * D + 2 * D * KV + 3 * D * FF) * depth
		ada = 2 * G * A * 4 * D * depth + 2 * G * A * D
		self = 2 * 2 * B * L * L * D * depth
		cross = 2 * 2 * B * L * S * D * depth
		emb = 2 * M * P * D * 2
		printf "%.6e\n", lin + ada + self + cross + emb }'
}

denoise-input --size 512x512 > "$tmp/t2i.odf"
cores=$(nproc)
core_sgemm() { awk -v g="$(sgemm --threads 1 --reps 5 | sed 's/.*median_gflops=\([0-9.]*\).*/\1/')" -v c="$cores" 'BEGIN { print g * c }'; }
s1=$(core_sgemm)
# three steps: the first also pages the 5.6 GB of weights in; steps 2 and 3 are timed
flock /tmp/od-bench.lock runstat -n 1 -- od-denoise --model "$M" --steps 3 --progress=machine \
	"$tmp/t2i.odf" -o "$tmp/out.odf" 2> "$tmp/prog.txt" > "$tmp/rss.txt"
s2=$(core_sgemm)
f=$(flops 2 1024 1)
awk -v s1="$s1" -v s2="$s2" -v f="$f" -v cores="$cores" -v rss="$(sed 's/.*peak_rss_mb=\([0-9]*\).*/\1/' "$tmp/rss.txt")" '
	/^progress=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		       t[v["step"]] = v["elapsed"] }
	END {
		fwd = (t[3] - t[1]) / 2
		sg = (s1 + s2) / 2
		g = f / fwd / 1e9
		printf "512x512, guidance (2048 tokens): %.1f s per forward (first step %.1f s), %.2f TFLOP per forward\n", fwd, t[1], f / 1e12
		printf "achieved %.1f GFLOP/s = %.0f%% of the machine'"'"'s sgemm %.1f GFLOP/s (%d cores x 1-core sgemm; before %.1f, after %.1f); peak RSS %d MB\n", g, 100 * g / sg, sg, cores, s1, s2, rss
	}' "$tmp/prog.txt"

if [ "${BENCH_MULTIVIEW:-0}" = 1 ]; then
	denoise-input --size 512x512 --rays --layout 00101010 > "$tmp/mv.odf"
	flock /tmp/od-bench.lock runstat -n 1 -- od-denoise --model "$M" --steps 1 --guidance 1 --progress=machine \
		"$tmp/mv.odf" -o "$tmp/mv.out.odf" 2> "$tmp/mvprog.txt" > "$tmp/mvrss.txt"
	f=$(flops 1 8192 8)
	awk -v f="$f" -v rss="$(sed 's/.*peak_rss_mb=\([0-9]*\).*/\1/' "$tmp/mvrss.txt")" '
		/^progress=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } t = v["elapsed"] }
		END { printf "multiview 4 views 512x512 (8 frames, 8192 tokens, no guidance): %.1f s per forward, %.1f TFLOP, %.1f GFLOP/s; peak RSS %d MB\n", t, f / 1e12, f / t / 1e9, rss }' "$tmp/mvprog.txt"
fi
