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

| training | items | failed | PSNR | SSIM | paper's PSNR |
|:---|---:|---:|---:|---:|---:|
EOT
for a in all norays mvonly; do
	case $a in
	all) name='every task, multiview with Plücker rays' paper=22.5 ;;
	norays) name='every task, multiview without rays' paper=18.2 ;;
	mvonly) name='multiview alone (with rays)' paper=20.1 ;;
	esac
	echo "| $name | $(row $a | sed 's/|/ | /g') | $paper |"
done
echo "| baseline: view 0 copied to every view | | | $(echo "$base" | sed 's/|/ | /') | |"
