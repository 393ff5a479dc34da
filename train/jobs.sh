#!/bin/sh
# train/jobs.sh: one task's training jobs, as a frame stream (od-frame(5)) on
# standard output, for od-train train: for each od-scene scene folder given,
# the job od-denoise would run for that task (eval/Makefile builds the same
# jobs for evaluation), with every frame present and encoded (the paper's
# training noises each frame on its own: od-train(1), The objective).
#
#   train/jobs.sh TASK SIZE SEED VIEWS SCENE_DIR...
#
# TASK: text2image, depth, semantic, canny, inpainting, multiview, pose or
# multiview-norays.
# The frame order is the one od-denoise builds:
#   text2image   [picture]
#   depth        [picture, depth map]           (depth → image and image → depth)
#   semantic     [picture, semantic map]        (the region prompt of tasks.txt)
#   canny        [picture, Canny edges]
#   inpainting   [picture, masked picture]
#   multiview    [picture_0, rays_0, ..., picture_V-1, rays_V-1], the caption
#   pose         the same frames without a caption (as eval/Makefile asks for poses)
#   multiview-norays  [picture_0, ..., picture_V-1], the caption: no cameras (the
#                ablation of train/Makefile, as eval/Makefile RAYS=0 asks)
# Rays are relative to view 0 (od-plucker(1)). SEED seeds the posterior
# samples (od-encode --seed), differently for every scene and view.
# The od tools come from PATH; OD_MODEL names the model whose VAE and text
# encoder make the frames.
set -eu
task=$1 size=$2 seed=$3 views=$4
shift 4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/od-train-jobs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
run='--threads 1 --progress none'

enc() { # SCENE VIEW FILE: one picture as a target latent frame ($n: the scene's number)
	od-encode $run --size "${size}x${size}" --seed "$((seed + 1000 * n + $2))" --role target "$1/view$2/$3"
}
# the od-tag options of a task from the scene's tasks.txt (shell words written by od-scene)
tag() { # SCENE TASK
	args=$(sed -n "s/^$2	//p" "$1/tasks.txt")
	eval "set -- $args"
	od-tag $run "$@"
}

for s in "$@"; do
	s=${s%/}
	n=$(basename "$s")
	case $n in *[!0-9]*) echo "jobs.sh: $s: not an od-scene scene folder (NNNNNN)" >&2; exit 2;; esac
	n=$(echo "$n" | sed 's/^0*//'); n=${n:-0}
	case $task in
	text2image) tag "$s" text2image; enc "$s" 0 image.png ;;
	depth) tag "$s" depth2image; enc "$s" 0 image.png; enc "$s" 0 depth.png ;;
	semantic) tag "$s" semanticmap2image; enc "$s" 0 image.png; enc "$s" 0 semantic.png ;;
	canny) tag "$s" canny2image; enc "$s" 0 image.png; enc "$s" 0 canny.png ;;
	inpainting) tag "$s" image_inpainting; enc "$s" 0 image.png; enc "$s" 0 masked.png ;;
	multiview | pose)
		if [ "$task" = multiview ]; then tag "$s" multiview; else od-tag $run --task multiview --caption ''; fi
		od-plucker --cameras "$s/cameras.json" --select "$(seq -s, 0 $((views - 1)))" --size "$size" \
			-o "$tmp/rays.odf"
		v=0
		while [ "$v" -lt "$views" ]; do
			enc "$s" "$v" image.png
			od-frame select --index "$v" "$tmp/rays.odf"
			v=$((v + 1))
		done ;;
	multiview-norays)
		tag "$s" multiview
		v=0
		while [ "$v" -lt "$views" ]; do
			enc "$s" "$v" image.png
			v=$((v + 1))
		done ;;
	*) echo "jobs.sh: unknown task '$task'" >&2; exit 2 ;;
	esac
done
