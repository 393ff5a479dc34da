#!/bin/sh
# t0760: od-eval on bad input and bad usage: one line on stderr naming the
# file, the documented exit status (2 usage, 3 bad data, 5 I/O), and no output
# file.
. "$OD_SRCDIR/tests/lib.sh"
F=$OD_SRCDIR/tests/fixtures/eval
cd "$F" || exit 1
O=$T_TMP/out.csv

# fails STATUS WHAT PATTERN od-eval ARGS...: the status, one stderr line matching PATTERN, no -o file
fails() {
	want=$1 what=$2 pat=$3
	shift 3
	t_fails "$want" "$what" "$@" -o "$O"
	if [ -e "$O" ]; then
		echo "# $O was written"
		t_result 1 "... no output file"
		rm -f "$O"
	elif ! grep -q -- "$pat" "$T_ERR"; then
		t_result 1 "... the message says '$pat'"
		sed 's/^/# /' "$T_ERR"
	fi
}

# ---- usage (2)
t_fails 2 "no command" od-eval
t_fails 2 "unknown command" od-eval psnr a.png b.png
fails 2 "unknown option" "unknown option '--frobnicate'" od-eval image --frobnicate image/p1.png image/g1.png
fails 2 "one argument" "give PRED and GT" od-eval image image/p1.png
fails 2 "three arguments" "give PRED and GT" od-eval seg seg/p1.png seg/g1.png seg/g1.png
fails 2 "--list with arguments" "no PRED or GT arguments with --list" od-eval image --list image.list image/p1.png
fails 2 "--list and --set" "either as --list or as --set" od-eval image --list image.list --set x y
fails 2 "bad --format" "--format: 'xml'" od-eval image -F xml image/p1.png image/g1.png
fails 2 "--depth-scale for pictures" "^od-eval: image: unknown option '--depth-scale' (see od-eval image --help)$" \
	od-eval image --depth-scale 2 image/p1.png image/g1.png
fails 2 "--depth-scale and --scene" "not both" od-eval depth --depth-scale 2 --scene depth/scene1.json depth/p8.png depth/g1.png
fails 2 "--depth-scale 0" "--depth-scale" od-eval depth --depth-scale 0 depth/p8.png depth/g1.png
fails 2 "--hue-tol for seg" "^od-eval: seg: unknown option '--hue-tol'" od-eval seg --hue-tol 10 seg/p1.png seg/g1.png
fails 2 "--hue-tol 200" "--hue-tol" od-eval t2i --hue-tol 200 t2i/a_good.png t2i/scene_a.json
fails 2 "--min-area 0" "--min-area" od-eval t2i --min-area 0 t2i/a_good.png t2i/scene_a.json
fails 2 "--view without --set" "--view chooses the view of a --set" od-eval image --view 1 image/p1.png image/g1.png
fails 2 "a folder and a file" "'image' is a folder but 'image/g1.png' is not" od-eval image image image/g1.png

# ---- bad data (3)
fails 3 "pictures of different sizes" "'image/p1.png' is 48x40 but 'image/g2.png' is 11x11" \
	od-eval image image/p1.png image/g2.png
fails 3 "smaller than the SSIM window" "'hand/small8x8.png': 8x8 is smaller than the 11x11 SSIM window" \
	od-eval image hand/small8x8.png hand/small8x8.png
fails 3 "not a picture" "'depth.list'" od-eval image depth.list image/g1.png
fails 3 "depth maps of different sizes" "'hand/depth_pred8.png' is 20x6 but 'depth/g1.png' is 48x40" \
	od-eval depth hand/depth_pred8.png depth/g1.png
fails 3 "an 8-bit depth ground truth" "'hand/depth_gt8.png': a 8-bit grey PNG, not a 16-bit grey one" \
	od-eval depth hand/depth_pred8.png hand/depth_gt8.png
fails 3 "a depth ground truth that is not a PNG" "'t2i/scene_a.json': not a PNG file" od-eval depth depth/p8.png t2i/scene_a.json
fails 3 "no valid ground-truth depth" "'hand/depth_gt_zero.png': no valid pixel" \
	od-eval depth hand/depth_pred8.png hand/depth_gt_zero.png
printf '{"palette": {}}\n' > "$T_TMP/noscale.json"
fails 3 "--scene without depth_scale" "no depth_scale" od-eval depth --scene "$T_TMP/noscale.json" depth/p8.png depth/g1.png
fails 3 "segmentation maps of different sizes" "'seg/p1.png' is 48x40 but 'hand/seg_gt.png' is 30x20" \
	od-eval seg seg/p1.png hand/seg_gt.png
fails 3 "a ground-truth colour that is no class" \
	"'hand/seg_gt_bad.png': pixel (7, 5) is #FE0000, not black or one of the 20 region colours" \
	od-eval seg hand/seg_swapped.png hand/seg_gt_bad.png
fails 3 "camera files with different view counts" "'cameras/p2.json' has 3 cameras but 'cameras/g1.json' has 6" \
	od-eval cameras cameras/p2.json cameras/g1.json
printf '{"cameras": [{"c2w": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}, null]}\n' > "$T_TMP/null.json"
printf '{"cameras": [{"c2w": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}, {"c2w": [[1,0,0,1],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}\n' > "$T_TMP/two.json"
fails 3 "a camera without a pose" "null.json': camera 1 has no pose" od-eval cameras "$T_TMP/null.json" "$T_TMP/two.json"
printf '{"cameras": [{"c2w": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}\n' > "$T_TMP/one.json"
fails 3 "a single camera" "at least 2" od-eval cameras "$T_TMP/one.json" "$T_TMP/one.json"
printf '{"cameras": [{"c2w": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}, {"c2w": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}\n' > "$T_TMP/same.json"
fails 3 "ground-truth cameras all at one point" "no scene scale" od-eval cameras "$T_TMP/two.json" "$T_TMP/same.json"
printf '{"cameras": [{"c2w": [[2,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}\n' > "$T_TMP/bad.json"
fails 3 "a camera file with a non-rigid matrix" "bad.json" od-eval cameras "$T_TMP/bad.json" "$T_TMP/two.json"
printf '{"palette": {"red": [255, 0, 0]}, "objects": [{"id": 1, "colour": "mauve"}]}\n' > "$T_TMP/s1.json"
fails 3 "t2i: a colour not in the palette" "objects\[0\].colour 'mauve' is not in the palette" \
	od-eval t2i t2i/a_good.png "$T_TMP/s1.json"
printf '{"objects": [' > "$T_TMP/s3.json"
fails 3 "t2i: a scene.json that is not JSON" "s3.json': not valid JSON" od-eval t2i t2i/a_good.png "$T_TMP/s3.json"

# lists
: > "$T_TMP/empty.list"
fails 3 "an empty list" "empty.list': no items" od-eval image --list "$T_TMP/empty.list"
printf 'image/p1.png image/g1.png\nimage/p2.png\n' > "$T_TMP/short.list"
fails 3 "a list line with one field" "short.list': line 2 has 1 field" od-eval image --list "$T_TMP/short.list"
printf '%s/image/p1.png %s/image/g1.png\n%s/image/p1.png %s/image/g2.png\n' "$F" "$F" "$F" "$F" > "$T_TMP/mixed.list"
fails 3 "a bad item in a list: nothing is written" "mixed.list' line 2: '$F/image/p1.png' is 48x40" \
	od-eval image --list "$T_TMP/mixed.list"
fails 3 "a bad scale in a depth list" "'<stdin>': line 1: depth scale -1 is not" sh -c \
	"echo 'depth/p8.png depth/g1.png -1' | od-eval depth --list - \"\$@\"" sh
fails 3 "four fields in a depth list" "line 1 has 4 fields" sh -c \
	"echo 'depth/p8.png depth/g1.png 1 2' | od-eval depth --list - \"\$@\"" sh
mkdir -p "$T_TMP/a" "$T_TMP/b" "$T_TMP/c"
cp image/p1.png "$T_TMP/a/x.png"; cp image/g1.png "$T_TMP/b/x.png"; cp image/g3.png "$T_TMP/b/y.png"
fails 3 "folders: a reference without a prediction" "no prediction for '$T_TMP/b/y.png'" od-eval image "$T_TMP/a" "$T_TMP/b"
fails 3 "folders: no references" "'$T_TMP/c': no items in the input (no .png or .jpg files in the folder)" od-eval image "$T_TMP/a" "$T_TMP/c"
cp image/p3.png "$T_TMP/a/x.jpg"
fails 3 "folders: two files of one name" "both 'x.jpg' and 'x.png'" od-eval image "$T_TMP/a" "$T_TMP/b"

# scene sets
S=$T_TMP/set
mkdir -p "$S/000000/view0" "$T_TMP/p"
printf '{"format": "od-scene-set", "scenes": ["000000"]}\n' > "$S/index.json"
fails 3 "--set: a scene without a prediction" "no prediction for scene 000000" od-eval image --set "$S" "$T_TMP/p"
printf '{"format": "od-scene-set", "scenes": []}\n' > "$S/index.json"
fails 3 "--set: no scenes" "no scenes in the input (the set is empty)" od-eval image --set "$S" "$T_TMP/p"
printf '{"format": "od-scene-set", "scenes": ["../etc"]}\n' > "$S/index.json"
fails 3 "--set: a scene id that is not a folder name" "scenes\[0\] is not a folder name" od-eval image --set "$S" "$T_TMP/p"

# ---- I/O (5)
fails 5 "a missing prediction file" "'nope.png'" od-eval image nope.png image/g1.png
fails 5 "a missing list" "'nope.list'" od-eval seg --list nope.list
fails 5 "a missing camera file" "'nope.json'" od-eval cameras nope.json cameras/g1.json
fails 5 "--set: no index.json" "index.json'" od-eval image --set "$T_TMP/p" "$T_TMP/p"
printf '{"format": "od-scene-set", "scenes": ["000000"]}\n' > "$S/index.json"
cp image/p1.png "$T_TMP/p/000000.png"
fails 5 "--set: a missing reference picture" "000000/view0/image.png'" od-eval image --set "$S" "$T_TMP/p"

# ---- results, sheet, baseline
R=$T_TMP/runs
mkdir -p "$R"
printf 'p\timage\tmodel\t%s/image.list\n' "$F" > "$R/good.tsv"
printf 'p\timage\tmodel\n' > "$R/short.tsv"
printf 'p\tpsnr\tmodel\tx.list\n' > "$R/cmd.tsv"
printf 'p\timage\tm\ta.list\np\tseg\tb\tb.list\n' > "$R/two.tsv"
printf 'p\timage\tm\ta.list\np\timage\tm\tb.list\n' > "$R/dup.tsv"
printf '# nothing\n' > "$R/empty.tsv"
printf 'p\timage\tmodel\tnope.list\n' > "$R/nolist.tsv"
fails 2 "results: no spec" "give one SPEC file" od-eval results
fails 2 "results: a --param without =" "--param: 'model' is not KEY=VALUE" od-eval results --param model "$R/good.tsv"
fails 2 "results: bad --format" "--format: 'xml'" od-eval results -F xml "$R/good.tsv"
fails 2 "results: an option of another command" "unknown option '--set'" od-eval results --set x "$R/good.tsv"
fails 3 "results: a line of three fields" "short.tsv': line 1 has 3 fields" od-eval results "$R/short.tsv"
fails 3 "results: an unknown command" "'psnr' is not an od-eval command" od-eval results "$R/cmd.tsv"
fails 3 "results: a task scored by two commands" "task 'p' is scored by image on line 1, not seg" od-eval results "$R/two.tsv"
fails 3 "results: a row twice" "task 'p' has a row 'm' already" od-eval results "$R/dup.tsv"
fails 3 "results: no rows" "no rows (an empty spec)" od-eval results "$R/empty.tsv"
fails 5 "results: a missing spec" "'nope.tsv'" od-eval results nope.tsv
fails 5 "results: a missing list" "nope.list'" od-eval results "$R/nolist.tsv"
t_fails 5 "results: a missing list, with --json" od-eval results --json "$R/r.json" -o "$R/r.md" "$R/nolist.tsv"
t_ok "... neither output written" test ! -e "$R/r.json" -a ! -e "$R/r.md"
printf 'not a picture\n' > "$R/bad.png"
fails 2 "sheet: no files" "give the files of the cells" od-eval sheet
fails 2 "sheet: --columns 0" "--columns" od-eval sheet --columns 0 image/p1.png
fails 2 "sheet: a bad --cell" "--cell" od-eval sheet --cell 0x5 image/p1.png
fails 5 "sheet: a missing picture" "'nope.png'" od-eval sheet image/p1.png nope.png
fails 3 "sheet: an unreadable picture" "bad.png': not a PNG or JPEG image" od-eval sheet image/p1.png "$R/bad.png"
fails 3 "sheet: camera files of one row with different numbers of cameras" "the first camera file of its row" \
	od-eval sheet cameras/g1.json cameras/g2.json
t_ok "sheet --missing: missing and unreadable files are crossed cells" od-eval sheet --missing -o "$R/s.png" \
	image/p1.png nope.png "$R/bad.png"
fails 2 "baseline: no kind" "give the kind" od-eval baseline
fails 2 "baseline: an unknown kind" "unknown kind 'grey'" od-eval baseline grey image/g1.png
fails 5 "baseline: a missing reference" "'nope.png'" od-eval baseline mean nope.png
fails 3 "baseline: an unreadable picture" "bad.png': not a PNG or JPEG image" od-eval baseline black "$R/bad.png"
fails 3 "baseline origin: a malformed camera file" "bad.png'" od-eval baseline origin "$R/bad.png"
t_done
