#!/bin/sh
# train/curve.sh CSV COLUMN TITLE: a training log's loss curve as an SVG
# picture on standard output (no plotting program needed): COLUMN of CSV (a
# header row, then one row a step, the step first) against the step, each
# point the mean of a window of about 1/100 of the run, with the axes' ranges
# written on them.
set -eu
awk -F, -v col="$2" -v title="$3" '
	NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i
		if (!c) { print "curve.sh: no column " col > "/dev/stderr"; exit 2 }
		next }
	{ n++; step[n] = $1; v[n] = $c }
	END {
		if (!n) { print "curve.sh: no rows" > "/dev/stderr"; exit 2 }
		w = int(n / 100); if (w < 1) w = 1
		m = 0
		for (i = 1; i <= n; i += w) {
			s = 0; k = 0
			for (j = i; j < i + w && j <= n; j++) { s += v[j]; k++ }
			m++; xs[m] = step[j - 1]; ys[m] = s / k
			if (m == 1 || ys[m] < lo) lo = ys[m]
			if (m == 1 || ys[m] > hi) hi = ys[m]
		}
		if (hi == lo) hi = lo + 1
		x0 = step[1]; x1 = step[n]; if (x1 == x0) x1 = x0 + 1
		W = 640; H = 320; L = 60; R = 20; T = 30; B = 40
		printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
		printf "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H
		printf "<text x=\"%d\" y=\"18\">%s</text>\n", L, title
		printf "<path d=\"M%d %d V%d H%d\" stroke=\"black\" fill=\"none\"/>\n", L, T, H - B, W - R
		printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>\n", L - 4, T + 4, hi
		printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>\n", L - 4, H - B, lo
		printf "<text x=\"%d\" y=\"%d\">%d</text>\n", L, H - B + 16, x0
		printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%d</text>\n", W - R, H - B + 16, x1
		printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step (%s: mean of %d steps a point)</text>\n", (L + W - R) / 2, H - 6, col, w
		printf "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\""
		for (i = 1; i <= m; i++)
			printf "%.1f,%.1f ", L + (xs[i] - x0) / (x1 - x0) * (W - L - R), T + (hi - ys[i]) / (hi - lo) * (H - T - B)
		print "\"/>\n</svg>"
	}' "$1"
