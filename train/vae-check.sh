#!/bin/sh
# train/vae-check.sh MODEL DIR SIZE: how well MODEL's VAE reconstructs the
# pictures and maps of the scenes in DIR/scenes (view 0 of each), as a Markdown
# table on standard output: for each kind, the mean PSNR and SSIM (od-eval
# image) of encode (the posterior's mean, od-encode --mode) then decode at
# SIZE×SIZE. The reconstructions are kept in DIR/KIND/; then two more tables
# (below): what text → image, text → one object (the scenes of one object each
# in DIR/objects) and image → segmentation can score at best through this VAE.
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
# Then the objects of each scene (its scene.json) found by od-eval t2i in the
# reconstructed pictures, beside those found in the pictures themselves (the
# scorer's ceiling): what text → image can score at best through this VAE; and
# the same for the scenes of one object each in DIR/objects (view 0 of each,
# reconstructed into DIR/object/): what text → one object can score at best. A
# VAE that loses colours loses them here, however good its PSNR.
for scene in "$dir"/objects/[0-9]*/; do
	mkdir -p "$dir/object"
	od-encode --model "$model" --size "${size}x$size" --mode "$scene/view0/image.png" |
		od-decode --model "$model" -o "$dir/object/$(basename "$scene").png"
done
echo
echo "| objects found (od-eval t2i) in | presence | count | colour | position | mean |"
echo "|---|---|---|---|---|---|"
for what in pictures reconstructions one-object-pictures one-object-reconstructions; do
	: > "$dir/t2i-$what.pairs"
	case $what in one-object-*) scenes=objects recon=object ;; *) scenes=scenes recon=image ;; esac
	for scene in "$dir/$scenes"/[0-9]*/; do
		id=$(basename "$scene")
		case $what in *pictures) pred=$scene/view0/image.png ;; *) pred=$dir/$recon/$id.png ;; esac
		echo "$pred $scene/scene.json" >> "$dir/t2i-$what.pairs"
	done
	od-eval t2i --list "$dir/t2i-$what.pairs" | awk -F, -v what="$what" '
		function f(x) { return x == "" ? "-" : sprintf("%.3f", x) }
		BEGIN { sub(/^one-object-/, "one-object ", what) }
		$1 == "mean" { printf "| the %s | %s | %s | %s | %s | %s |\n", what, f($3), f($4), f($5), f($6), f($7); found = 1 }
		END { exit !found }'
done
# Last, the reconstructed semantic maps read as segmentations (od-eval seg,
# against the maps themselves): the most image → segmentation can score
# through this VAE.
echo
echo "| segmentation (od-eval seg) of | mIoU | objects' mIoU | pixel accuracy |"
echo "|---|---|---|---|"
od-eval seg --list "$dir/semantic.pairs" | awk -F, '
	$1 == "mean" { printf "| the reconstructed semantic maps | %.3f | %.3f | %.3f |\n", $3, $4, $5; found = 1 }
	END { exit !found }'
