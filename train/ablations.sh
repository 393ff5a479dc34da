#!/bin/sh
# train/ablations.sh OUT: the table of train/Makefile's ablations, as Markdown
# on standard output, from each variant's eval results (OUT/abl-NAME/eval/results.md):
# its multiview PSNR and SSIM on the held-out scenes, the copy-the-input
# baseline's, and the paper's numbers for the same comparison.
set -eu
out=$1
row() { # NAME: the model row of the multiview table, "items|failed|psnr|ssim"
	awk -F'|' '/^## multiview/ { on = 1 } on && /^\| model \|/ {
		for (i = 3; i <= 6; i++) gsub(/ /, "", $i); print $3 "|" $4 "|" $5 "|" $6; exit }' "$out/abl-$1/eval/results.md"
}
base=$(awk -F'|' '/^## multiview/ { on = 1 } on && /^\| baseline/ { gsub(/ /, "", $5); gsub(/ /, "", $6); print $5 "|" $6; exit }' \
	"$out/abl-all/eval/results.md")
# a variant's PSNR scene by scene ("SCENE PSNR" lines, sorted), the mean over its
# views: differences between variants are paired by scene, and a scene's views are
# not independent of each other
scene_psnr() { # EVAL_DIR LIST
	(cd "$1" && od-eval image -q --list "$2") | awk -F, 'NR > 1 && $1 != "mean" {
		s = $2; sub(/\/view[0-9]+\/image\.png$/, "", s); sub(/.*\//, "", s); sum[s] += $3; n[s]++ }
		END { for (s in sum) print s, sum[s] / n[s] }' | sort
}
# the mean of the scene-by-scene differences A - B, and two standard errors of it
paired() { # A B: names of scene_psnr's files in $tmp (variants, or baseline)
	join "$tmp/$1" "$tmp/$2" | awk '{ d = $2 - $3; s += d; ss += d * d; n++ }
		END { if (!n) { print "ablations.sh: " out ": no scene scored in both " A " and " B > "/dev/stderr"; exit 1 }
			m = s / n; v = n > 1 ? (ss - n * m * m) / (n - 1) : 0
			printf "%+.2f ± %.2f", m, 2 * sqrt((v > 0 ? v : 0) / n) }' out="$out" A="$1" B="$2"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for a in all norays mvonly; do scene_psnr "$out/abl-$a/eval" multiview/model.list > "$tmp/$a"; done
scene_psnr "$out/abl-all/eval" multiview/baseline.list > "$tmp/baseline"
# the step they stopped at: ABL_STEPS (.abl), or the schedule's end (.dit) before it
until=$(sed -n 's/^until=\([0-9]*\)$/\1/p' "$out/.abl")
total=$(sed -n 's/^steps=\([0-9]*\) .*/\1/p' "$out/.dit")
steps=$((until < total ? until : total))
scenes=$(sed -n 's/^- scenes: //p' "$out/abl-all/eval/results.md")
sampler=$(sed -n 's/^- sampler: //p' "$out/abl-all/eval/results.md")
cat <<EOT
# Ablations: multiview generation (views 1 and on from view 0)

The same NextDiT (train/transformer.json, the same initialisation) trained
$steps steps three ways, then scored on held-out scenes: $scenes;
sampler $sampler. Made by \`make -C train ablations\`.
"vs every task": the PSNR's difference from the model trained on every task,
scene by scene (the mean over a scene's views), as its mean ± two standard
errors: a difference within that margin of 0 is not one this test can see.

| training | items | failed | PSNR | SSIM | vs every task | paper's PSNR |
|:---|---:|---:|---:|---:|---:|---:|
EOT
for a in all norays mvonly; do
	case $a in
	all) name='every task, multiview with Plücker rays' paper=22.5 ;;
	norays) name='every task, multiview without rays' paper=18.2 ;;
	mvonly) name='multiview alone (with rays)' paper=20.1 ;;
	esac
	vs=; [ $a = all ] || vs=$(paired $a all)
	echo "| $name | $(row $a | sed 's/|/ | /g') | $vs | $paper |"
done
vs=$(paired baseline all)
echo "| baseline: view 0 copied to every view | | | $(echo "$base" | sed 's/|/ | /') | $vs | |"
