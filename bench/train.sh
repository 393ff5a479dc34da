#!/bin/sh
# One training step (forward + backward: od_nextdit_loss_grad, float32, CPU) of two
# NextDiT sizes on random weights and inputs, with all activations kept and with
# --recompute (each block's internals recomputed during its backward):
#   small: hidden 264 (4 heads of 66, 2 kv heads; 256 is not a multiple of 6·heads,
#          which the 3-D RoPE needs), depth 6, 128 tokens per example (one frame of
#          16×32 latents), batch 8, 64 text positions of width 512;
#   mid:   hidden 1008 (8 heads of 126, 2 kv heads), depth 8, 256×256 pictures
#          (32×32 latents = 256 tokens per frame), batch 2, 120 text positions of
#          width 2048 (T5's).
# Reported: seconds per step (median of steps 2..N), the matrix-product FLOPs of a
# step and the GFLOP/s achieved, next to the machine's sgemm throughput (one core's
# single-threaded sgemm times the cores od uses, as bench/denoise.sh), and the
# peak RSS of the process.
#
# FLOPs counted (what sgemm does), per step with M = B·L token rows, G = B·frames
# adaLN rows, R = B·S text rows, per block:
#   forward   2·M·(2·D·D + 2·D·KV + 3·D·FF)  wq wo wk wv w1 w3 w2
#             2·G·A·4D                       adaLN
#             4·B·L²·D + 4·B·L·S·D           self- and cross-attention, Q·Kᵀ and P·V
#             4·R·Dc·KV                      wk_y, wv_y
#   backward  twice the linears (dx and dW), the adaLN's likewise;
#             10·B·L²·D + 10·B·L·S·D         S again, dP, dQ, dK, dV;
#             10·R·Dc·KV                     wk_y again, dx and dW of wk_y and wv_y
#   --recompute adds the block forwards once more (the text side is recomputed
#   in both modes). Embedders and final layer: 2·M·P·D·2 forward, 2·M·P·D·3 backward.
# Elementwise work (norms, softmax, RoPE) is not counted as FLOPs.
. "$OD_SRCDIR/bench/common.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/od-bench-train.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
STEPS=${BENCH_TRAIN_STEPS:-4}

model() { # NAME HIDDEN HEADS KV DEPTH CAPTION
	mkdir -p "$tmp/cfg-$1/transformer"
	cat > "$tmp/cfg-$1/transformer/config.json" <<EOF
{"hidden_size": $2, "num_heads": $3, "num_kv_heads": $4, "depth": $5, "caption_channels": $6,
 "multiple_of": 256, "qk_norm": true, "in_channels": 16, "patch_size": [1, 2, 2],
 "rotary_max_length": 128, "input_size": [1, 32, 32], "norm_eps": 1e-5}
EOF
	od-model random --dtype f32 --seed 1 "$tmp/cfg-$1" "$tmp/$1" >/dev/null
}

flops() { # D KV FF A Dc depth B F L S P recompute
	awk -v D="$1" -v KV="$2" -v FF="$3" -v A="$4" -v Dc="$5" -v depth="$6" -v B="$7" -v F="$8" -v L="$9" \
	    -v S="${10}" -v P="${11}" -v rc="${12}" 'BEGIN {
		M = B * L; G = B * F; R = B * S
		lin = 2 * M * (2 * D * D + 2 * D * KV + 3 * D * FF)
		ada = 2 * G * A * 4 * D
		att = 4 * B * L * L * D + 4 * B * L * S * D
		txt = 4 * R * Dc * KV
		fwd = lin + ada + att
		bwd = 2 * lin + 2 * ada + 2.5 * att + 2.5 * txt
		blk = fwd + txt + bwd + (rc ? fwd : 0)
		printf "%.6e\n", depth * blk + 2 * M * P * D * 5 }'
}

cores=$(nproc)
core_sgemm() { awk -v g="$(sgemm --threads 1 --reps 5 | sed 's/.*median_gflops=\([0-9.]*\).*/\1/')" -v c="$cores" 'BEGIN { print g * c }'; }

run() { # LABEL MODEL D KV FF A Dc depth B F LATENT S
	label=$1 m=$2 D=$3 KV=$4 FF=$5 A=$6 Dc=$7 depth=$8 B=$9 F=${10} lat=${11} S=${12}
	lw=${lat%x*} lh=${lat#*x}
	L=$((F * (lh / 2) * (lw / 2)))
	for rc in 0 1; do
		flag=; [ $rc = 1 ] && flag=--recompute
		s1=$(core_sgemm)
		out=$(flock /tmp/od-bench.lock train-step --model "$tmp/$m" --batch "$B" --frames "$F" --latent "$lat" \
			--text "$S" --steps "$STEPS" $flag)
		s2=$(core_sgemm)
		f=$(flops "$D" "$KV" "$FF" "$A" "$Dc" "$depth" "$B" "$F" "$L" "$S" 64 $rc)
		echo "$out" | awk -v s1="$s1" -v s2="$s2" -v f="$f" -v label="$label" -v rc="$rc" -v cores="$cores" '{
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			sg = (s1 + s2) / 2; g = f / v["step_s"] / 1e9
			printf "%s%s: %.3f s per step (first %.3f s), %.1f GFLOP per step, %.1f GFLOP/s = %.0f%% of sgemm %.1f GFLOP/s (%d cores x 1-core sgemm; before %.1f, after %.1f); peak RSS %d MB\n",
				label, rc ? ", --recompute" : ", all activations kept", v["step_s"], v["first_s"], f / 1e9, g,
				100 * g / sg, sg, cores, s1, s2, v["peak_rss_mb"] }'
	done
}

echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $cores cores"
model small 264 4 2 6 512
model mid 1008 8 2 8 2048
# FF = multiple_of·ceil(int(8D/3)/multiple_of): 768 (small), 2816 (mid); A = min(D, 1024)
run "small (hidden 264, depth 6, batch 8 x 128 tokens)" small 264 132 768 264 512 6 8 1 32x16 64
run "mid (hidden 1008, depth 8, batch 2 x 256 tokens, 256x256 pictures)" mid 1008 252 2816 1008 2048 8 2 1 32x32 120
