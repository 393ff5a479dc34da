#!/bin/sh
# train/record.sh OUT: the record of a run of train/Makefile, as Markdown on
# standard output (the model's TRAINING.md): the recipe's parameters, the
# machine, the time and steps of each training, and the losses along the way
# (the full logs are OUT/vae-run/train.csv, OUT/vae-full/train.csv and
# OUT/dit/log.csv, copied next to the model as vae-train.csv,
# vae-full-train.csv and dit-train.csv; a run given VAE_FROM names that
# model's VAE instead of the VAE's trainings; one given VAE_TUNE names the
# model whose VAE it trained further and shows that training alone; one given
# DECODER_STEPS shows the decoder's training with the encoder frozen; one given
# DIT_FROM says whose NextDiT it continued and ends with that model's record).
set -eu
out=$1
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/^[^:]*: *//')
vae_from=$(cat "$out/.vae-from" 2>/dev/null || echo 'trained here')
dit_from=$(cat "$out/.dit-from" 2>/dev/null || echo 'a seed')
# VAE_TUNE: named in the whole-picture run's stamp (train/Makefile)
vae_tune=$(sed -n 's/.* from=//p' "$out/.vae-full")
# DECODER_STEPS: the VAE the model ships is OUT/decoder's (train/Makefile)
decoder=
[ "$(cat "$out/.vae-final" 2>/dev/null)" != 'the decoder trained further' ] || decoder=yes
# the parameters of the stages this run trained (as the arguments)
set -- "$out/.scenes"
if [ "$vae_from" = 'trained here' ]; then
	[ -n "$vae_tune" ] || set -- "$@" "$out/.vae"
	set -- "$@" "$out/.vae-full"
fi
[ -z "$decoder" ] || set -- "$@" "$out/.decoder"
set -- "$@" "$out/.dit"
if [ "$dit_from" = 'a seed' ]; then
	how='Trained from a seed'
else
	how="The NextDiT of $(basename "$dit_from") (DIT_FROM; its record closes this one) trained further"
fi
if [ -n "$vae_tune" ]; then
	trained="the VAE is $(basename "$vae_tune")'s trained further here (VAE_TUNE), the NextDiT was trained here"
elif [ "$vae_from" = 'trained here' ]; then
	trained='the VAE and the NextDiT were trained here'
else
	trained="the VAE is $(basename "$vae_from")'s, the NextDiT was trained here"
fi
[ -z "$decoder" ] || trained="$trained; then the VAE's decoder was trained further alone, its encoder frozen (DECODER_STEPS)"
cat <<EOT
# How this model was made

$how by \`make -C train default\` (train/Makefile in od's source
tree) with od's own tools on this machine: $cpu, $(nproc) CPU threads.
The recipe's parameters (train/Makefile variables):

\`\`\`
$(cat "$@")
\`\`\`

Components: $trained; the text encoder and
tokenizer are share/tiny-onediffusion's, a frozen T5 with random weights and the
real 32,128-token vocabulary, used as a fixed text featuriser; the scheduler is
upstream's.
EOT
# $1 CSV, $2 title, $3 loss column: at ten evenly spaced steps (every step of
# a shorter run), the mean loss over the steps since the previous one shown
summary() {
	awk -F, -v title="$2" -v col="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
		{ step[NR - 1] = $1; loss[NR - 1] = $c; n = NR - 1 }
		END {
			printf "\n## %s\n\n%d steps.\n\n| steps | mean %s |\n|---|---|\n", title, n, col
			rows = n < 10 ? n : 10; lo = 1
			for (k = 1; k <= rows; k++) {
				hi = int(n * k / rows); s = 0
				for (i = lo; i <= hi; i++) s += loss[i]
				printf "| %d-%d | %.4f |\n", step[lo], step[hi], s / (hi - lo + 1)
				lo = hi + 1
			}
		}' "$1"
}
if [ -n "$vae_tune" ]; then
	printf '\n## The VAE\n\nThe VAE of %s (VAE_TUNE), trained further here on whole pictures: its\n' "$(basename "$vae_tune")"
	echo "earlier training is in that model's TRAINING.md (its logs are copied here, and this run's"
	echo "steps follow its whole-picture run's in vae-full-train.csv)."
	summary "$out/vae-full/train.csv" "The VAE on whole pictures, trained further (reconstruction + KL)" loss
	echo
	echo "![the VAE's loss on whole pictures](vae-full-loss.svg) (every step of both runs: vae-full-train.csv)"
elif [ "$vae_from" = 'trained here' ]; then
	summary "$out/vae-run/train.csv" "The VAE on crops (reconstruction + KL)" loss
	echo
	echo "![the VAE's loss on crops](vae-loss.svg) (every step: vae-train.csv)"
	summary "$out/vae-full/train.csv" "The VAE on whole pictures (reconstruction + KL)" loss
	echo
	echo "![the VAE's loss on whole pictures](vae-full-loss.svg) (every step: vae-full-train.csv)"
else
	printf '\n## The VAE\n\nTaken as it was from %s (VAE_FROM), not trained in this run: its\n' "$(basename "$vae_from")"
	echo "training is in that model's TRAINING.md (its logs, where it had them, are copied here)."
fi
if [ -n "$decoder" ]; then
	summary "$out/decoder/train.csv" "The VAE's decoder alone, the encoder frozen (reconstruction)" recon
	echo
	echo "od-train vae --decoder-only: the encoder keeps its bytes, so the latents the streams hold"
	echo "and the NextDiT learnt from are the VAE's above; the decoder learnt to draw them better."
	echo "The loss is the reconstruction's alone (the KL term is the frozen encoder's, a constant)."
	echo
	echo "![the decoder's loss](vae-decoder-loss.svg) (every step: vae-decoder-train.csv)"
fi
if [ -f "$out/vae-check.md" ]; then
	printf '\n## The VAE'"'"'s reconstructions\n\n'
	echo "Of view 0 of $(ls -d "$out"/vae-check/scenes/[0-9]* | wc -l) held-out scenes (od-scene seed 9101), encoded (the"
	echo "posterior's mean) and decoded at the training size; mean PSNR and SSIM (od-eval image),"
	echo "then the scenes' objects found (od-eval t2i) in the reconstructed pictures beside those"
	echo "found in the pictures themselves, the same for as many scenes of one object each"
	echo "(od-scene --objects 1, seed 9101), and the reconstructed semantic maps read as"
	echo "segmentations (od-eval seg): the most text → image, text → one object and"
	echo "image → segmentation can score through this VAE:"
	echo
	cat "$out/vae-check.md"
fi
summary "$out/dit/log.csv" "The NextDiT (flow matching, every task)" loss
if grep -q ' clean=' "$out/.dit"; then
	echo
	echo "Trained with clean conditions (CLEAN, od-train --clean-frames): the loss is the mean over"
	echo "the frames still noised, so it is not comparable with a run's without them."
fi
echo
echo "![the NextDiT's loss](dit-loss.svg) (every step: dit-train.csv)"
if [ -f "$out/model/samples.png" ]; then
	echo
	echo "The last sheet of samples (train/prompts.txt, the run's seed), at step $(ls "$out/dit/samples" | sed -n 's/^step-0*\([0-9]*\)\.png$/\1/p' | tail -n 1):"
	echo
	echo "![samples](samples.png)"
fi
secs=$(awk -F, 'NR > 1 { s = $NF } END { printf "%.0f", s }' "$out/dit/log.csv")
echo
echo "NextDiT training time (as logged, all sittings): $secs s."
if [ "$dit_from" != 'a seed' ]; then
	# the model's dit-train.csv: every step of every run
	awk -F, 'NR > 1 { n = $1; s = $NF } END { printf "\nWith the runs before it: %d NextDiT steps, %.0f s.\n", n, s }' \
		"$out/model/dit-train.csv"
	if [ -f "$out/dit-from/TRAINING.md" ]; then
		printf '\n## Before this run: %s\n\n' "$(basename "$dit_from")"
		# its figures were that run's files: named, not shown
		sed -e 's/^#/##/' -e 's/^!\[\([^]]*\)\]([^)]*)/(\1: a figure of that run, not kept here)/' \
			"$out/dit-from/TRAINING.md"
	fi
fi
