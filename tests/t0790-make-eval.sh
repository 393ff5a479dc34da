#!/bin/sh
# t0790: make eval end to end (eval/Makefile) on the model that ships in
# share/, as `make eval N=8 SIZE=64 STEPS=2` runs it: a held-out od-scene set,
# every task through the real tools, od-eval's results and contact sheets.
# Then what make is for: a second run does nothing, a deleted output is made
# again alone, and a job that fails is counted as failed in its task's table
# while everything else is scored as before.
. "$OD_SRCDIR/tests/lib.sh"
t_need make bash
cd "$T_TMP" || exit 1
# a make of its own, not a part of make check's
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
EV=$T_TMP/ev
eval_make() {
	make -f "$OD_SRCDIR/eval/Makefile" BIN="$OD_BIN" MODEL="$OD_MODEL" OUT="$EV" N=8 SIZE=64 STEPS=2 THREADS=1 "$@"
}
TASKS="text2image object depth2image image2depth semantic2image image2semantic canny2image inpainting multiview pose"

start=$(date +%s)
t_ok "make -j2 eval N=8 SIZE=64 STEPS=2" eval_make -j2
echo "# $(($(date +%s) - start)) s"
cp "$T_TMP/out" first.out
t_ok "results.md and results.json written" test -s "$EV/results.md" -a -s "$EV/results.json"
t_ok "results.json: every summary value in its metric's range" "$OD_TESTBIN/unit/test_eval_run" --check-results "$EV/results.json"
cp "$T_TMP/out" rows.txt
t_ok "ten tasks of two rows: the model's and a baseline, 8 items each (16 for multiview), none failed" awk -F'|' '
	{ n++; rows[$1]++ }
	$2 == "model" { model++ } $2 ~ /^baseline: / { base++ }
	$3 != ($1 ~ /^multiview/ ? 16 : 8) || $4 != 0 { bad++ }
	END { exit !(n == 20 && length(rows) == 10 && model == 10 && base == 10 && !bad) }' rows.txt
for h in "text → image" "text → one object" "depth → image" "image → depth" "semantic map → image" "image → segmentation" \
	"Canny → image" "inpainting" "multiview (views 1-2 from view 0)" "pose estimation (3 views)"; do
	t_grep "^## $h\$" "$EV/results.md" "results.md: $h"
done
t_ok "results.md: a model and a baseline row in every table, with numbers" awk -F'|' '
	/^\| model \| / { m++; if ($5 !~ /[0-9]/) bad++ }
	/^\| baseline: / { b++; if ($5 !~ /[0-9]/) bad++ }
	END { exit !(m == 10 && b == 10 && !bad) }' "$EV/results.md"
t_grep "^- model: $OD_MODEL\$" "$EV/results.md" "results.md names the model"
t_ok "text → one object: 8 scenes of one object and one view, their captions naming it" sh -c '
	for d in "$1"/objects/0*; do
		[ "$(grep -c "\"shape\":" "$d/scene.json")" -eq 1 ] && [ ! -e "$d/view1" ] &&
			grep -q "^a [a-z]* [a-z]* [a-z]*, on a " "$d/caption.txt" || exit 1
	done
	[ "$(ls -d "$1"/objects/0* | wc -l)" -eq 8 ]' sh "$EV"
# the numbers are od-eval's own: the depth -> image rows scored by od-eval image directly
(cd "$EV/depth2image" && od-eval image --list model.list -F json -o "$T_TMP/d2i.json")
t_ok "the model's depth -> image mean PSNR is od-eval image's" awk -v want="$(sed -n 's/.*"summary": {"items": 8, "psnr": \([^,]*\),.*/\1/p' d2i.json)" '
	/^## depth → image/ { on = 1 } on && /^\| model / { split($0, f, "|"); exit !(want != "" && f[5] + 0 == sprintf("%.4g", want) + 0) }' "$EV/results.md"
t_ok "segmentation's baseline, all background, has no foreground IoU" grep -q '^| baseline: all background | 8 | 0 | [0-9.e-]* | 0 |' "$EV/results.md"
for t in $TASKS; do
	t_ok "$t: a contact sheet" test -s "$EV/$t/sheet.png"
done
# cells of 128 (SHEET_CELL), 2-pixel gaps: 8 rows of 130 + 2; columns by task
t_ok "contact sheet sizes: columns as documented, 8 rows" sh -c '
	for tc in text2image:2 object:2 depth2image:3 image2depth:3 inpainting:3 multiview:5 pose:6; do
		[ "$(odimg info "$1/${tc%:*}/sheet.png")" = "$((${tc#*:} * 130 + 2)) 1042" ] || exit 1
	done' sh "$EV"

# make: nothing to do when everything is up to date; a deleted output is made again alone
t_ok "up to date afterwards (make -q)" eval_make -q
rm "$EV/inpainting/000005.png"
eval_make -n > dry.txt 2>&1
t_ok "one output deleted: its job alone is run again" test "$(grep -c 'od-denoise' dry.txt)" -eq 1
t_grep "masked.png" dry.txt "... the inpainting job"
t_ok "make again" eval_make -j2
t_ok "... up to date" eval_make -q

# fewer scenes: the same outputs, new tables
eval_make N=4 > n4.out 2>&1
t_ok "N=4 afterwards: the tables cover 4 scenes" sh -c "'$OD_TESTBIN/unit/test_eval_run' --check-results '$EV/results.json' |
	awk -F'|' '\$3 != (\$1 ~ /^multiview/ ? 8 : 4) { exit 1 }'"
grep '^  ' n4.out | grep -v '^  results \|^  sheet ' > n4.jobs
t_ok "... and no job ran again" test ! -s n4.jobs
t_ok "N=8 again: up to date but for the tables" eval_make -j2
# the tools found on PATH (no BIN), as a user who installed od runs it
t_ok "the tools on PATH, no BIN: N=4's tables" env PATH="$OD_BIN:$PATH" make -f "$OD_SRCDIR/eval/Makefile" \
	MODEL="$OD_MODEL" OUT="$EV" N=4 SIZE=64 STEPS=2 THREADS=1
t_ok "... cover 4 scenes" sh -c "'$OD_TESTBIN/unit/test_eval_run' --check-results '$EV/results.json' |
	awk -F'|' '\$3 != (\$1 ~ /^multiview/ ? 8 : 4) { exit 1 }'"
t_ok "N=8 again" eval_make -j2

# a job that fails: an unreadable Canny map
others() { awk '/^## / { s = $0 } /^\| / && s !~ /^## Canny/' "$EV/results.md"; }
others > others-before.txt
echo "not a picture" > "$EV/scenes/000002/view0/canny.png"
eval_make -j2 > run3.out 2> run3.err
t_result $? "make runs on after a failing job (exit 0)"
t_grep "^eval: .*canny2image/000002.png failed: od-encode: " run3.err "the failure is reported, with the tool's message"
t_ok "results.json: still well-formed and in range" "$OD_TESTBIN/unit/test_eval_run" --check-results "$EV/results.json"
cp "$T_TMP/out" rows3.txt
t_grep '^Canny → image|model|8|1$' rows3.txt "the Canny task counts 1 failed item of 8"
t_grep '^Canny → image|baseline: the edge map copied|8|1$' rows3.txt "... and so does its baseline (the map copied)"
grep -v '^Canny' rows3.txt > others3.txt
t_ok "every other row (18): nothing failed" awk -F'|' '$4 != 0 { bad++ } END { exit !(NR == 18 && !bad) }' others3.txt
t_grep "^- model: 'canny2image/000002.png': no such file" "$EV/results.md" "results.md lists the failed item"
others > others-after.txt
t_ok "the other tasks' tables are unchanged" cmp others-before.txt others-after.txt
eval_make -n > dry2.txt 2>&1
t_ok "the failed job is tried again on the next run (make -n)" test "$(grep -c 'od-denoise' dry2.txt)" -eq 1

# make eval from the top of the tree: eval/Makefile with the tools of the build
make -n -C "$OD_SRCDIR" B="$OD_BUILD" eval N=3 STEPS=5 OUT="$T_TMP/top" > top.txt 2>&1
t_grep "eval/Makefile BIN=$OD_SRCDIR/$OD_BUILD/bin OUT=$T_TMP/top" top.txt "make eval runs eval/Makefile with the tools of the build"
t_grep "od-scene --output $T_TMP/top/scenes/000002 " top.txt "... N reaches it"
t_grep "od-denoise .*--steps 5 " top.txt "... STEPS reaches it"
t_done
