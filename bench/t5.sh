#!/bin/sh
# The T5 v1.1 XL encoder (full-size config, random BF16 weights): prompts of
# exactly 300 tokens through od-tag, beside the machine's sgemm peak measured
# in the same run.
#
# Encode time: od-tag --progress=machine prints one line per job (job=0, 1,
# ...) with the time elapsed since start when the job is done; the first job
# also carries the start-up and the negative prompt's encode, so a run with
# two prompts times one encode, job 1's (the median is over the runs). Wall time and peak RSS:
# runstat on a one-prompt run (start-up, two encodes, output). The weights
# stay memory-mapped BF16; the peak RSS must stay under 6 GB. Each precision
# of BENCH_PRECISIONS (default: fp32 bf16) is measured in turn.
# The whole script holds /tmp/od-bench.lock (one full-size run at a time).
if [ -z "${OD_BENCH_LOCKED:-}" ] && command -v flock >/dev/null; then
	OD_BENCH_LOCKED=1 exec flock /tmp/od-bench.lock sh "$0" "$@"
fi
. "$OD_SRCDIR/bench/common.sh"
bench_model
M=$OD_BENCH_MODEL
T=$(mktemp -d "${TMPDIR:-/tmp}/od-bench-t5.XXXXXX")
trap 'rm -rf "$T"' EXIT
REPS=${BENCH_REPS:-3}

# "cat" is one piece: 299 of them and </s> fill the row with no padding.
p=$(i=0; while [ $i -lt 299 ]; do printf 'cat '; i=$((i + 1)); done)
printf '%s\n' "$p" > "$T/one.txt"
printf '%s\n%s\n' "$p" "$p" > "$T/two.txt"
n=$(od-tag -m "$M" --raw --ids -f "$T/one.txt" | wc -w)
[ "$n" -eq 300 ] || { echo "t5: the prompt has $n tokens, not 300" >&2; exit 1; }

for prec in ${BENCH_PRECISIONS:-fp32 bf16}; do
	{
		if command -v sgemm >/dev/null; then
			echo "peak $(bench_sgemm)"
		fi
		runstat -n "$REPS" -- od-tag -m "$M" --precision "$prec" --raw -f "$T/one.txt" -o "$T/out.odf"
		r=0
		while [ $r -lt "$REPS" ]; do
			od-tag -m "$M" --precision "$prec" --raw --progress=machine -f "$T/two.txt" -o "$T/out.odf" 2>&1 >/dev/null |
				sed -n 's/.*job=\([0-9]*\) .*elapsed=\([0-9.]*\).*/job \1 \2/p'
			r=$((r + 1))
		done
	} > "$T/raw.txt"

	cfg=$M/text_encoder/config.json
	key() { sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" "$cfg" | head -1; }
	awk -v prec="$prec" -v D="$(key d_model)" -v H="$(key num_heads)" -v K="$(key d_kv)" -v F="$(key d_ff)" -v NL="$(key num_layers)" '
	/^peak / { peak = $2 }
	/median_s=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	/^job / { if ($2 > 0) e[n++] = $3 - prev; prev = $3 }
	END {
		L = 300; I = H * K
		flop = NL * (2 * L * D * I * 4 + 2 * L * D * F * 3 + 2 * 2 * L * L * I)
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (e[j] < e[i]) { t = e[i]; e[i] = e[j]; e[j] = t }
		enc = n % 2 ? e[int(n / 2)] : (e[n / 2 - 1] + e[n / 2]) / 2
		printf "T5 encoder d_model %d, %d layers, d_ff %d, 300 tokens: %.1f GFLOP per encode\n", D, NL, F, flop / 1e9
		printf "%s: one encode: median %.2f s of %d (min %.2f, max %.2f), %.1f GFLOP/s\n", prec, enc, n, e[0], e[n - 1], flop / enc / 1e9
		printf "%s: od-tag, one prompt (start-up, 2 encodes, output): median %.2f s, peak RSS %d MB%s\n", prec, v["median_s"],
			v["peak_rss_mb"], v["peak_rss_mb"] < 6144 ? "" : " (over 6 GB!)"
		if (peak != "") printf "sgemm peak: %.1f GFLOP/s; the encode runs at %.0f%% of it\n", peak, 100 * flop / enc / 1e9 / peak
		else print "sgemm peak: not measured (bench/sgemm not built)"
	}' "$T/raw.txt"
done
