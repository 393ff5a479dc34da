#!/bin/sh
# One guided sampling step of the full-size NextDiT (2.8B parameters, random
# weights; batch 2 = the unconditional and conditional rows) at 256² (512
# tokens) and 512² (2048 tokens): od against PyTorch on the same CPU, the same
# weights and the same inputs, interleaved round by round so that a busy
# machine slows every contender alike.
#
# Contenders (one process each, every round):
#   od fp32  / f32 weights     od fp32  / bf16 weights (widened a tile at a time)
#   od bf16  / f32 weights (rounded a tile at a time)   od bf16 / bf16 weights
#   torch fp32                 torch autocast bf16        torch cast to bf16
# PyTorch loads the BF16 checkpoint (widened to float32 for fp32 and
# autocast), so its check against od runs on exactly od's weights.
# od runs bench/dit-step.c; PyTorch runs bench/step_torch.py, the same forward
# FLOP for FLOP, which first checks its output against od's on the same inputs
# (dit-step --dump, BF16 weights): max |torch − od| / max |od| within 1e-3 for
# fp32 against od fp32, within 6e-2 for each BF16 mode against od bf16 (two
# independent BF16 roundings of a 16-layer network). A failed check stops the
# benchmark.
#
# Prints per contender: median seconds per step over the rounds (each round's
# value is the median of STEP_REPS steps after one untimed step), GFLOP/s,
# peak RSS, and the ratios od/torch (time of the faster PyTorch BF16 mode over
# od bf16's; PyTorch fp32's over od fp32's), with the CPU's model name.
#
# Environment:
#   OD_BENCH_MODEL      full-size BF16 checkpoint (made when missing; bench/common.sh)
#   OD_BENCH_MODEL_F32  full-size F32 transformer (made when missing; 11 GB) for od's
#                       f32-weight contenders; STEP_F32=0 leaves them out
#   OD_BENCH_VENV       the PyTorch virtual environment (default /work/venv-bench;
#                       created with `python3 -m venv` and `pip install torch` when missing)
#   STEP_SIZES (256 512), STEP_ROUNDS (3), STEP_REPS (3), BENCH_THREADS (all CPUs),
#   STEP_SKIP_TORCH=1 (od only), STEP_SGEMM=1 (also od fp32 with the linear
#   layers on OpenBLAS, OD_CPU_ISA=avx2: the float32 kernel's before/after), STEP_CONFIGS (the configs of missing models;
#   default the full-size ones)
set -eu
. "$OD_SRCDIR/bench/common.sh"
sizes=${STEP_SIZES:-256 512}
rounds=${STEP_ROUNDS:-3}
reps=${STEP_REPS:-3}
threads=${BENCH_THREADS:-$(nproc)}
venv=${OD_BENCH_VENV:-/work/venv-bench}
M16=$OD_BENCH_MODEL
M32=${OD_BENCH_MODEL_F32:-$OD_SRCDIR/bench/out/full-f32}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/od-bench-step.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# the transformer alone, in the given dtype
transformer_model() { # OUT DTYPE
	[ -f "$1/transformer/config.json" ] && return 0
	echo "step: writing a full-size random $2 transformer to $1" >&2
	mkdir -p "$tmp/cfg/transformer"
	cp "${STEP_CONFIGS:-$OD_SRCDIR/tests/golden/onediffusion-full-configs}/transformer/config.json" "$tmp/cfg/transformer/"
	od-model random --dtype "$2" --seed 1 "$tmp/cfg" "$1"
}
[ -f "$M16/transformer/config.json" ] || transformer_model "$M16" bf16
f32=${STEP_F32:-1}
[ "$f32" = 1 ] && transformer_model "$M32" f32

torch=${STEP_SKIP_TORCH:-0}
sgemm=${STEP_SGEMM:-0}
if [ "$torch" != 1 ] && [ ! -x "$venv/bin/python" ]; then
	echo "step: creating $venv with PyTorch from PyPI" >&2
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q torch
fi
kv() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p"; }

grep -m1 'model name' /proc/cpuinfo | sed 's/^[^:]*: */CPU: /'
echo "threads $threads, $rounds rounds of $reps steps (after one untimed step) per contender"
for size in $sizes; do
	# agreement: od's outputs, then PyTorch's on the same inputs and weights
	if [ "$torch" != 1 ]; then
		dit-step --precision fp32 --threads "$threads" --reps 1 --dump "$tmp/o32.st" "$M16" "$size" > /dev/null
		dit-step --precision bf16 --threads "$threads" --reps 1 --dump "$tmp/o16.st" "$M16" "$size" > /dev/null
	fi
	: > "$tmp/res.$size"
	for r in $(seq "$rounds"); do
		contenders="od:fp32:f32 torch:fp32 od:fp32:bf16 od:bf16:bf16 torch:cast od:bf16:f32 torch:autocast"
		[ "$sgemm" = 1 ] && contenders="$contenders od:fp32-sgemm:f32"
		for c in $contenders; do
			eng=${c%%:*} rest=${c#*:}
			prec=${rest%%:*} wt=${rest#*:}
			if [ "$eng" = od ]; then
				m=$M16
				if [ "$wt" = f32 ]; then
					[ "$f32" = 1 ] || continue
					m=$M32
				fi
				isa=${OD_CPU_ISA:-}
				[ "$prec" = fp32-sgemm ] && isa=avx2
				line=$(OD_CPU_ISA=$isa flock /tmp/od-bench.lock dit-step --precision "${prec%-sgemm}" --threads "$threads" \
					--reps "$reps" "$m" "$size")
				name="od $prec/${wt}w"
			else
				[ "$torch" = 1 ] && continue
				m=$M16 ref=$tmp/o16.st lim=6e-2
				[ "$prec" = fp32 ] && ref=$tmp/o32.st lim=1e-3
				line=$(flock /tmp/od-bench.lock "$venv/bin/python" "$OD_SRCDIR/bench/step_torch.py" --threads "$threads" \
					--mode "$prec" --reps "$reps" --inputs "$ref" "$m/transformer")
				d=$(echo "$line" | kv max_rel_diff_vs_od)
				if ! awk -v d="$d" -v l="$lim" 'BEGIN { exit !(d <= l) }'; then
					echo "step: FAIL: torch $prec differs from od by $d of od's largest output (limit $lim) at $size²" >&2
					exit 1
				fi
				name="torch $prec"
			fi
			echo "$name|$(echo "$line" | kv seconds)|$(echo "$line" | kv gflops)|$(echo "$line" | kv peak_rss_mb)|$(echo "$line" | kv max_rel_diff_vs_od)" >> "$tmp/res.$size"
		done
	done
	echo "== ${size}x${size}, guidance (batch 2, $((size * size / 128)) tokens)"
	awk -F'|' -v size="$size" '
		{ n[$1]++; t[$1, n[$1]] = $2; g[$1, n[$1]] = $3; if ($4 > rss[$1]) rss[$1] = $4; d[$1] = $5; order[$1] = order[$1] ? order[$1] : ++k; name[k] = $1 }
		function med(a, key, cnt,   i, j, x, v) { for (i = 1; i <= cnt; i++) v[i] = a[key, i] + 0
			for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
			return cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2 }
		END {
			printf "%-16s %10s %9s %12s %s\n", "contender", "s/step", "GFLOP/s", "peak RSS MB", "check vs od"
			for (i = 1; i <= k; i++) { c = name[i]; s[c] = med(t, c, n[c]); gf = med(g, c, n[c])
				printf "%-16s %10.3f %9.0f %12d %s\n", c, s[c], gf, rss[c], d[c] == "" ? "" : d[c] }
			tb = s["torch cast"]; if (s["torch autocast"] && (!tb || s["torch autocast"] < tb)) tb = s["torch autocast"]
			if (tb && s["od bf16/bf16w"]) printf "od bf16/bf16w vs the faster PyTorch BF16 mode: %.2fx (target >= 1.2)\n", tb / s["od bf16/bf16w"]
			if (tb && s["od bf16/f32w"]) printf "od bf16/f32w vs the faster PyTorch BF16 mode: %.2fx\n", tb / s["od bf16/f32w"]
			if (s["torch fp32"] && s["od fp32/f32w"]) printf "od fp32/f32w vs PyTorch fp32: %.2fx (target >= 1.0)\n", s["torch fp32"] / s["od fp32/f32w"]
			if (s["torch fp32"] && s["od fp32/bf16w"]) printf "od fp32/bf16w vs PyTorch fp32: %.2fx\n", s["torch fp32"] / s["od fp32/bf16w"]
			if (s["od fp32-sgemm/f32w"] && s["od fp32/f32w"]) printf "od fp32/f32w vs od fp32 on OpenBLAS: %.2fx\n", s["od fp32-sgemm/f32w"] / s["od fp32/f32w"]
			if (s["od fp32/f32w"] && s["od fp32/bf16w"]) printf "od fp32: bf16 weights / f32 weights time: %.3f\n", s["od fp32/bf16w"] / s["od fp32/f32w"]
		}' "$tmp/res.$size"
done
