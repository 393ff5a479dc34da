#!/bin/sh
# t0750: od-eval's numbers against independent reference values
# (tests/fixtures/eval/expected.csv, written by make_fixtures.py with
# scikit-image, numpy and scipy; PROVENANCE.md), hand-checked cases whose
# answers are known by construction, and the ways items are given (list
# files, folders, scene sets, standard input) and reported (csv, json, md).
#
# Tolerances (|od − ref| <= atol + rtol·|ref|). Both sides compute in float64;
# od-eval prints 10 significant digits (a rounding of at most 5e-11 relative),
# so what is left is summation order and the last-digit behaviour of different
# formulas:
#   psnr                 rtol 1e-8   the squared error is an exact integer sum
#                                    on both sides; one log10
#   ssim                 atol 1e-8   five Gaussian filterings summed in another
#                                    order than scipy's (differences ~1e-15)
#   absrel, rmse         rtol 1e-8   a closed-form fit against LAPACK's lstsq
#   rot_err_*            atol 1e-7°  atan2 of the rotation's trace and axis
#                                    against scipy's quaternion magnitude
#   centre_err           rtol 1e-7   Jacobi SVD (od) against LAPACK's
#   delta1, miou*, pixel_acc, rra15, cca10, presence, count, colour,
#   position, mean       atol 1e-9   ratios of counts: exact up to printing
#                                    (make_fixtures.py refuses inputs with a
#                                    pixel, pair or object on a threshold)
#   valid, views, objects, relations  exact
. "$OD_SRCDIR/tests/lib.sh"
F=$OD_SRCDIR/tests/fixtures/eval
CHECK=$OD_TESTBIN/unit/test_eval
cd "$F" || exit 1

# compare NAME CSV: od-eval's CSV output against the rows of NAME in expected.csv
compare() {
	awk -F, -v cmd="$1" '
	function tol(m, e) {
		if (m == "psnr" || m == "absrel" || m == "rmse") return 1e-8 * (e < 0 ? -e : e)
		if (m == "ssim") return 1e-8
		if (m ~ /^rot_err/) return 1e-7
		if (m == "centre_err") return 1e-7 * (e < 0 ? -e : e)
		if (m == "valid" || m == "views" || m == "objects" || m == "relations") return 0
		return 1e-9
	}
	NR == FNR { if (FNR > 1 && $1 == cmd) { ref[$2 SUBSEP $3 SUBSEP $4] = $5; want++ } next }
	FNR == 1 { for (i = 1; i <= NF; i++) name[i] = $i; next }
	$1 == "mean" { next }
	{
		for (i = 3; i <= NF; i++) {
			k = $1 SUBSEP $2 SUBSEP name[i]
			if (!(k in ref)) { printf "# no reference for %s %s %s\n", $1, $2, name[i]; bad++; continue }
			seen++
			a = $i; e = ref[k]
			if (a == "" || e == "" || a == "inf" || e == "inf") {
				if (a != e) { printf "# %s %s: got \"%s\", expected \"%s\"\n", $1, name[i], a, e; bad++ }
				continue
			}
			d = a - e; if (d < 0) d = -d
			t = tol(name[i], e)
			if (d - t > worst_x || worst == "") { worst_x = d - t; worst = sprintf("%s %s: got %s, expected %.17g (diff %.3g, tol %.3g)", $1, name[i], a, e, d, t) }
			if (d > t) bad++
			if (d > maxd[name[i]]) maxd[name[i]] = d
		}
	}
	END {
		if (seen != want) { printf "# %d values compared, %d expected\n", seen, want; bad++ }
		if (bad) printf "# worst: %s\n", worst
		for (m in maxd) printf "# max |diff| %s %.3g\n", m, maxd[m]
		exit bad ? 1 : 0
	}' expected.csv "$2" > "$T_TMP/cmp.txt"
	rc=$?
	t_result $rc "$1: od-eval = reference values ($(grep -c "^$1," expected.csv) values)"
	if [ $rc -ne 0 ]; then sed 's/^/# /' "$2" | head -20; fi
	grep '^#' "$T_TMP/cmp.txt" | head -20
}

for k in image depth seg cameras t2i; do
	t_ok "$k: --list $k.list" od-eval "$k" --list "$k.list" -o "$T_TMP/$k.csv"
	compare "$k" "$T_TMP/$k.csv"
done
t_ok "t2i --hue-tol 40" od-eval t2i --hue-tol 40 --list t2i_hue40.list -o "$T_TMP/t2i_hue40.csv"
compare t2i_hue40 "$T_TMP/t2i_hue40.csv"

# the summary line: the mean of each column, totals of counts
t_ok "image summary = mean of the items" awk -F, 'NR > 1 && $1 != "mean" { p += $3; s += $4; n++ }
	$1 == "mean" { d1 = $3 - p / n; d2 = $4 - s / n; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2; exit !(d1 < 1e-8 && d2 < 1e-9) }' \
	"$T_TMP/image.csv"
t_grep '^mean,,0.06125441578,0.9877657441,0.2935309851,4986$' "$T_TMP/depth.csv" "depth summary: means, valid pixels totalled"
t_grep '^t2i/c_orange.png,t2i/scene_c.json,0,0,0,,0,1,0$' "$T_TMP/t2i.csv" "t2i: no relations -> position empty, mean of the other three"

# ---- hand-checked cases
od-eval image image/g1.png image/g1.png > same.csv 2>/dev/null
t_grep '^image/g1.png,image/g1.png,inf,1$' same.csv "identical pictures: PSNR inf, SSIM exactly 1"
od-eval image -F json image/g3.png image/g3.png > same.json 2>/dev/null
t_grep '"psnr": null, "ssim": 1}' same.json "identical pictures in JSON: PSNR null (no infinity in JSON)"
rm -f same.csv same.json

# small: values like 5.8e-16 are rounding; 1e-12 is far below any real error
small() { awk -F, -v c="$2" 'NR == 2 { v = $c; if (v < 0) v = -v; exit !(v < 1e-12) }' "$1"; }
od-eval depth --depth-scale 0.01 hand/depth_pred8.png hand/depth_gt.png > "$T_TMP/d8.csv"
t_ok "depth: 8-bit map = exact affine function of 1/depth: AbsRel 0" small "$T_TMP/d8.csv" 3
t_grep ',1,[^,]*,100$' "$T_TMP/d8.csv" "... delta1 1 over the 100 valid pixels (a row of zeros left out)"
t_ok "... RMSE 0" small "$T_TMP/d8.csv" 5
od-eval depth hand/depth_pred16.png hand/depth_gt.png > "$T_TMP/d16.csv"
t_ok "depth: 16-bit map = exact affine function of depth: AbsRel 0" small "$T_TMP/d16.csv" 3
t_grep ',1,[^,]*,100$' "$T_TMP/d16.csv" "... delta1 1"
od-eval depth --depth-scale 2 depth/p16.png depth/g1.png > "$T_TMP/s2.csv"
od-eval depth --depth-scale 4 depth/p16.png depth/g1.png > "$T_TMP/s4.csv"
t_ok "depth: AbsRel and delta1 do not depend on the ground truth's scale, RMSE scales with it" awk -F, '
	NR == FNR { if (FNR == 2) { a = $3; d = $4; r = $5 } next }
	FNR == 2 { x = $3 - a; if (x < 0) x = -x; y = $5 - 2 * r; if (y < 0) y = -y; exit !(x < 1e-9 * a && $4 == d && y < 1e-8 * r) }' \
	"$T_TMP/s2.csv" "$T_TMP/s4.csv"
od-eval seg hand/seg_swapped.png hand/seg_gt.png > "$T_TMP/sw.csv"
t_grep '^hand/seg_swapped.png,hand/seg_gt.png,0.3333333333,0,' "$T_TMP/sw.csv" \
	"seg: red and blue swapped: mIoU 1/3 (background 1, red 0, blue 0), foreground mIoU 0"
od-eval seg hand/seg_gt.png hand/seg_gt.png > "$T_TMP/segsame.csv"
t_grep '^hand/seg_gt.png,hand/seg_gt.png,1,1,1$' "$T_TMP/segsame.csv" "seg: a map against itself: 1, 1, 1"
od-eval cameras cameras/p1_exact.json cameras/g1.json > "$T_TMP/c.csv"
t_ok "cameras: equal up to a similarity: rotation errors 0, RRA 1, CCA 1, centre error 0" awk -F, '
	NR == 2 { exit !($3 == 6 && $4 < 1e-9 && $5 < 1e-9 && $6 == 1 && $7 == 1 && $8 < 1e-12) }' "$T_TMP/c.csv"
od-eval cameras cameras/g1_nerfstudio.json cameras/g1.json > "$T_TMP/ns.csv"
t_ok "cameras: the same cameras as nerfstudio transforms.json (OpenGL): errors 0" awk -F, '
	NR == 2 { exit !($3 == 6 && $4 < 1e-9 && $6 == 1 && $7 == 1 && $8 < 1e-12) }' "$T_TMP/ns.csv"
od-eval t2i t2i/a_good.png t2i/scene_a.json > "$T_TMP/good.csv"
t_grep '^t2i/a_good.png,t2i/scene_a.json,1,1,1,1,1,3,2$' "$T_TMP/good.csv" "t2i: the scene drawn as stated scores 1 everywhere"
printf '{"palette": {"red": [255, 0, 0]}, "objects": []}\n' > "$T_TMP/empty.json"
od-eval t2i t2i/a_good.png "$T_TMP/empty.json" > "$T_TMP/empty.csv"
t_grep '^t2i/a_good.png,[^,]*empty.json,,,,,,0,0$' "$T_TMP/empty.csv" "t2i: a scene without objects: every score undefined, not an error"
od-eval t2i t2i/a_swap.png t2i/scene_a.json > "$T_TMP/swap.csv"
t_grep ',1,1,1,0.5,0.875,3,2$' "$T_TMP/swap.csv" "t2i: red and blue swapped: 'left of' fails, 'in front of' holds"

# ---- formats and outputs
t_ok "--format json is valid JSON with items and summary" sh -c \
	"od-eval seg --format json --list seg.list > '$T_TMP/seg.json' && '$CHECK' --json '$T_TMP/seg.json' seg 2"
od-eval image -F md --list image.list > "$T_TMP/image.md"
t_grep '^| pred | gt | psnr | ssim |$' "$T_TMP/image.md" "--format md: a header row"
t_grep '^|:---|:---|---:|---:|$' "$T_TMP/image.md" "... an alignment row"
t_grep '^| \*\*mean\*\* |  | 18.01183086 | 0.2609218108 |$' "$T_TMP/image.md" "... the summary as the last row"
t_ok "-o writes the file, same bytes as stdout" sh -c "od-eval seg --list seg.list -o '$T_TMP/o.csv' && od-eval seg --list seg.list | cmp - '$T_TMP/o.csv'"

# ---- ways to give items
D=$T_TMP/dirs
mkdir -p "$D/pred" "$D/gt"
cp image/p1.png "$D/pred/b.png"; cp image/g1.png "$D/gt/b.png"
cp image/p3.png "$D/pred/a.png"; cp image/g3.png "$D/gt/a.png"
cp image/p2.png "$D/pred/extra.png"; echo notes > "$D/gt/README"
t_ok "two folders: items by matching names" od-eval image "$D/pred" "$D/gt" -o "$T_TMP/dirs.csv"
t_grep "^$D/pred/a.png,$D/gt/a.png,26.85456805,0.8012587352$" "$T_TMP/dirs.csv" "... in name order, numbers as from the list"
t_grep "^$D/pred/b.png,$D/gt/b.png,28.95162954,0.9044651436$" "$T_TMP/dirs.csv" "... the second item"
t_ok "... files of other suffixes and extra predictions ignored" test "$(wc -l < "$T_TMP/dirs.csv")" -eq 4

printf 'image/p1.png\timage/g1.png\n# a comment\n\n  image/p3.png   image/g3.png  \r\n' | od-eval image --list - > "$T_TMP/stdin.csv"
t_grep '^image/p3.png,image/g3.png,26.85456805,0.8012587352$' "$T_TMP/stdin.csv" "--list -: tabs, comments, blank lines, CRLF"
mkdir -p "$T_TMP/with space"
cp image/p1.png "$T_TMP/with space/p 1.png"
printf 'with space/p 1.png\t%s\n' "$F/image/g1.png" > "$T_TMP/tab.list"
od-eval image --list "$T_TMP/tab.list" > "$T_TMP/tab.csv"
t_grep "^$T_TMP/with space/p 1.png,$F/image/g1.png,28.95162954,0.9044651436$" "$T_TMP/tab.csv" \
	"a list's relative paths are relative to its folder; tab-separated fields may hold spaces"

# a scene set made by hand, as od-scene lays it out
S=$T_TMP/set
mkdir -p "$S/000000/view0" "$S/000001/view0" "$T_TMP/pred"
printf '{"format": "od-scene-set", "version": 1, "count": 2, "scenes": ["000000", "000001"], "extra": 1}\n' > "$S/index.json"
for i in 0 1; do
	sed 's/"id": "d1"/"id": "00000'$i'", "future_field": [1, 2]/' depth/scene1.json > "$S/00000$i/scene.json"
	cp depth/g1.png "$S/00000$i/view0/depth16.png"
	cp image/g1.png "$S/00000$i/view0/image.png"
	cp seg/g1.png "$S/00000$i/view0/semantic.png"
	cp cameras/g1.json "$S/00000$i/cameras.json"
done
cp depth/p8.png "$T_TMP/pred/000000.png"; cp depth/p16.png "$T_TMP/pred/000001.png"
t_ok "--set: depth of every scene, depth_scale from each scene.json" od-eval depth --set "$S" "$T_TMP/pred" -o "$T_TMP/set.csv"
t_grep "^$T_TMP/pred/000000.png,$S/000000/view0/depth16.png,0.03401537959,0.9987966306,0.1734697887,1662$" "$T_TMP/set.csv" \
	"... the 8-bit prediction of scene 0 (as from the list)"
t_grep "^$T_TMP/pred/000001.png,$S/000001/view0/depth16.png,0.1156930954,0.9657039711,0.5338911148,1662$" "$T_TMP/set.csv" \
	"... the 16-bit prediction of scene 1"
cp cameras/p1.json "$T_TMP/pred/000000.json"; cp cameras/p1_exact.json "$T_TMP/pred/000001.json"
t_ok "--set: cameras" od-eval cameras --set "$S" "$T_TMP/pred" -o "$T_TMP/setc.csv"
t_grep "^$T_TMP/pred/000000.json,$S/000000/cameras.json,6,23.65683329,24.52173175,0.4,0.8333333333,0.07396809277$" "$T_TMP/setc.csv" "... numbers as from the list"
cp seg/p1.png "$T_TMP/pred/000000.png"; cp seg/g1.png "$T_TMP/pred/000001.png"
od-eval seg --set "$S" "$T_TMP/pred" > "$T_TMP/sets.csv"
t_grep "^$T_TMP/pred/000001.png,$S/000001/view0/semantic.png,1,1,1$" "$T_TMP/sets.csv" "--set: seg"
t_done
