#!/bin/sh
# od-scene throughput: scenes per minute for sets at 64x64, 128x128 and
# 256x256 pixels, one view and three views a scene, on every CPU (median wall
# time of BENCH_REPS runs, default 3, through runstat), with the bytes a scene
# takes on disk. Everything a set holds is counted: rendering, the nine maps
# of each view (PNG encoding included), cameras.json, scene.json, the folder
# and file creation. The goal is thousands of scenes a minute for one-view
# sets at every size; a size below 1000 a minute makes the script fail.
. "$OD_SRCDIR/bench/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/od-bench-scene.XXXXXX")
trap 'rm -rf "$T"' EXIT
REPS=${BENCH_REPS:-3}
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "CPU: $cpu, $(nproc) threads"
status=0
for spec in 64:1:1000 128:1:600 256:1:200 64:3:400 128:3:200 256:3:80; do
	size=${spec%%:*} rest=${spec#*:}
	views=${rest%%:*} n=${rest#*:}
	runstat -n "$REPS" -- od-scene -o "$T/set" --count "$n" -s 1 --size "${size}x$size" --views "$views" --progress=none \
		> "$T/stat.txt" || exit 1
	bytes=$(du -sb "$T/set" | cut -f1)
	awk -v n="$n" -v size="$size" -v views="$views" -v bytes="$bytes" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END {
			rate = n / v["median_s"] * 60
			goal = views > 1 ? "" : rate >= 1000 ? " (goal 1000/min: ok)" : " (goal 1000/min: MISSED)"
			printf "%dx%d, %d view%s: %d scenes in %.2f s (median of %d; min %.2f, max %.2f)", size, size,
				views, (views > 1 ? "s" : ""), n, v["median_s"], v["reps"], v["min_s"], v["max_s"]
			printf " = %.0f scenes/min, %.1f KB a scene%s\n", rate, bytes / n / 1024, goal
			exit (views == 1 && rate < 1000)
		}' "$T/stat.txt" || status=1
	rm -rf "$T/set"
done
exit $status
