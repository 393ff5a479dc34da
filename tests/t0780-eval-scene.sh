#!/bin/sh
# t0780: od-eval on a real scene set written by od-scene (skipped where
# od-scene is not built): it reads index.json, scene.json, cameras.json and
# every map as od-scene writes them, and each reference scores what it must
# against itself. The scene set's own depth.png (8-bit, near = bright) against
# its depth16.png checks that the disparity alignment fits what od-scene
# writes (only 8-bit rounding is left); the view-0 renders against their
# scene.json check the t2i detector on the pictures it is meant for.
. "$OD_SRCDIR/tests/lib.sh"
if [ ! -x "$OD_BIN/od-scene" ]; then
	echo "1..0 # skip: od-scene is not built"
	exit 0
fi
cd "$T_TMP" || exit 1
od-scene -o set --count 12 -s 5 --size 128x128 --views 3 -j 1 --progress none 2>err || { cat err; exit 1; }
mkdir -p img depth sem cam
for d in set/0000*; do
	id=${d#set/}
	cp "$d/view0/image.png" "img/$id.png"; cp "$d/view0/depth.png" "depth/$id.png"
	cp "$d/view0/semantic.png" "sem/$id.png"; cp "$d/cameras.json" "cam/$id.json"
done

t_ok "image: each view-0 picture against itself" od-eval image --set set img -o image.csv
t_grep '^mean,,inf,1$' image.csv "... PSNR inf, SSIM 1 throughout"
t_ok "seg: each semantic.png against itself" od-eval seg --set set sem -o seg.csv
t_grep '^mean,,1,1,1$' seg.csv "... mIoU 1 (every pixel of semantic.png a class)"
t_ok "cameras: each cameras.json against itself" od-eval cameras --set set cam -o cam.csv
t_ok "... rotation errors 0, RRA 1, CCA 1 (3 views each)" awk -F, '
	$1 == "mean" { exit !($3 == 36 && $4 < 1e-9 && $6 == 1 && $7 == 1 && $8 < 1e-9) }' cam.csv
t_ok "depth: depth.png against depth16.png with each scene.json's depth_scale" od-eval depth --set set depth -o depth.csv
t_ok "... AbsRel < 0.01 and delta1 = 1: depth.png is an affine map of 1/depth, as assumed" awk -F, '
	$1 == "mean" { exit !($3 < 0.01 && $4 == 1) }' depth.csv
t_ok "t2i: each view-0 render against its scene.json" od-eval t2i --set set img -o t2i.csv
t_ok "... presence and colour >= 0.9 over the set" awk -F, '$1 == "mean" { exit !($3 >= 0.9 && $5 >= 0.9) }' t2i.csv
sed 's/^/# /' t2i.csv | tail -1

# od-eval t2i looks for the objects the caption names, by od-scene's own rule
# (scene/scene.h, od_scene_mention_threshold): at 64x64 the threshold is
# 4096 / 2000 rounded down, 2 pixels, and scene 000013 of seed 3 names an
# object of exactly 2 pixels in view 0.
od-scene -o small --count 20 -s 3 --size 64x64 -j 1 --progress none 2>err || { cat err; exit 1; }
mkdir -p small-img
for d in small/0000*; do cp "$d/view0/image.png" "small-img/${d#small/}.png"; done
t_ok "t2i on 20 scenes at 64x64" od-eval t2i --set small small-img -o small.csv
bad=0
for d in small/0000*; do
	id=${d#small/}
	named=$(grep -o '\(large\|small\) [a-z]* \(sphere\|cube\|cylinder\|cone\)' "$d/caption.txt" | wc -l)
	scored=$(awk -F, -v p="small-img/$id.png" '$1 == p { print $8 }' small.csv)
	[ "$named" = "$scored" ] || { bad=$((bad + 1)); echo "# $id: the caption names $named objects, od-eval scores $scored"; }
done
t_ok "... every scene: od-eval scores as many objects as its caption names" test "$bad" -eq 0
t_done
