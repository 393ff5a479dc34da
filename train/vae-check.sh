#!/bin/sh
# train/vae-check.sh MODEL DIR SIZE: how well MODEL's VAE reconstructs the
# pictures and maps of the scenes in DIR/scenes (view 0 of each), as a Markdown
# table on standard output: for each kind, the mean PSNR and SSIM (od-eval
# image) of encode (the posterior's mean, od-encode --mode) then decode at
# SIZE×SIZE. The reconstructions are kept in DIR/KIND/.
set -eu
model=$1 dir=$2 size=$3
echo "| kind | PSNR (dB) | SSIM |"
echo "|---|---|---|"
for kind in image depth semantic canny; do
	mkdir -p "$dir/$kind"
	: > "$dir/$kind.pairs"
	for scene in "$dir"/scenes/[0-9]*/; do
		id=$(basename "$scene")
		od-encode --model "$model" --size "${size}x$size" --mode "$scene/view0/$kind.png" |
			od-decode --model "$model" -o "$dir/$kind/$id.png"
		echo "$dir/$kind/$id.png $scene/view0/$kind.png" >> "$dir/$kind.pairs"
	done
	od-eval image --list "$dir/$kind.pairs" | awk -F, -v kind="$kind" '
		$1 == "mean" { printf "| %s | %.2f | %.3f |\n", kind, $3, $4; found = 1 }
		END { exit !found }'
done
