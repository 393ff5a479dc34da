#!/bin/sh
# t0860: the default model's recipe (train/Makefile) end to end at a toy size:
# scenes, VAE training (crops, then whole pictures), scaling and check, every task's training stream, NextDiT
# initialisation, training and EMA export, TRAINING.md; the model it makes
# runs the README's main job. Then what the recipe promises: a run stopped on
# purpose (UNTIL) and made again ends with the same bytes as an uninterrupted
# one, and a finished run is up to date.
. "$OD_SRCDIR/tests/lib.sh"
t_need make bash
cd "$T_TMP" || exit 1
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
recipe() { # OUT [VARIABLE=VALUE]...
	out=$1
	shift
	make -f "$OD_SRCDIR/train/Makefile" BIN="$OD_BIN" TEXT_FROM="$OD_MODEL" OUT="$out" N=6 CHUNK=4 SIZE=64 VIEWS=2 \
		VAE_STEPS=3 VAE_BATCH=2 VAE_CROP=32 VAE_FULL_STEPS=2 VAE_FULL_BATCH=1 VAE_FULL_WARMUP=100 VAE_CHECK_N=2 \
		DIT_STEPS=4 DIT_BATCH=2 WARMUP=1 SAVE_EVERY=2 SAMPLE_EVERY=2 THREADS=1 "$@"
}

start=$(date +%s)
t_ok "make -j2 -f train/Makefile default (toy size)" recipe "$T_TMP/a" -j2 default
echo "# $(($(date +%s) - start)) s"
M=$T_TMP/a/model
t_ok "the model's files are all there, none a link" sh -c '
	for f in model_index.json scheduler/scheduler_config.json text_encoder/config.json tokenizer/spiece.model \
		vae/config.json vae/diffusion_pytorch_model.safetensors transformer/config.json \
		transformer/diffusion_pytorch_model.safetensors TRAINING.md vae-train.csv vae-full-train.csv \
		dit-train.csv vae-loss.svg vae-full-loss.svg dit-loss.svg samples.png; do
		[ -f "$1/$f" ] && [ ! -L "$1/$f" ] || exit 1
	done
	[ -z "$(find "$1" -type l)" ]' sh "$M"
t_ok "od-model info --check: every tensor matches its config" od-model info --check "$M"
t_ok "the transformer's weights are BF16 (the released type)" sh -c '
	od-model info --check "$1" | grep -q "all 152 tensors match the config (152 BF16)"' sh "$M"
t_ok "the transformer is train/transformer.json's" sh -c 'od-model info "$1" | grep -q "hidden 240"' sh "$M"
t_ok "the whole-picture VAE run's list: each scene picture 3 times, each map once" sh -c '
	[ "$(grep -c /image.png "$1/pictures-full.list")" -eq $((3 * $(grep -c /image.png "$1/pictures.list"))) ] &&
	[ "$(grep -v -c /image.png "$1/pictures-full.list")" -eq "$(grep -v -c /image.png "$1/pictures.list")" ]' sh "$T_TMP/a"
t_ok "the VAE has its own scaling factor (od-train vae-scale)" sh -c '
	! cmp -s "$1/vae/config.json" "$2/vae/config.json"' sh "$M" "$OD_MODEL"
for task in text2image depth semantic canny inpainting multiview pose; do
	t_ok "$task: a training stream of 6 jobs from 2 chunks" sh -c '
		[ -s "$1/streams/$2-000000.odf" ] && [ -s "$1/streams/$2-000004.odf" ] &&
		[ "$(od-frame show "$1/streams/$2.odf" | grep -c " text .* condition ")" -eq 6 ]' sh "$T_TMP/a" "$task"
done
od-frame show "$T_TMP/a/streams/multiview.odf" | sed -n '3,6p' | awk '{ print $2 }' > mv.kinds
printf 'latent\nrays\nlatent\nrays\n' > mv.want
t_ok "multiview jobs: picture and rays, view by view" cmp mv.kinds mv.want
t_grep '^| 1-1 | ' "$M/TRAINING.md" "TRAINING.md: the losses step by step"
t_ok "TRAINING.md: the VAE's reconstructions of 2 held-out scenes, PSNR and SSIM of each kind" sh -c '
	grep -q "^Of view 0 of 2 held-out scenes" "$1" &&
	[ "$(grep -c "^| \(image\|depth\|semantic\|canny\) | [0-9.]* | [0-9.]* |\$" "$1")" -eq 4 ] &&
	[ "$(ls "$2"/vae-check/image/*.png | wc -l)" -eq 2 ]' sh "$M/TRAINING.md" "$T_TMP/a"
t_ok "TRAINING.md: the objects od-eval t2i finds in the pictures and in their reconstructions" sh -c '
	grep -q "^| objects found (od-eval t2i) in | presence | count | colour | position | mean |\$" "$1" &&
	grep -q "^| the pictures | [0-9.]* | [0-9.]* | [0-9.]* | [-0-9.]* | [0-9.]* |\$" "$1" &&
	grep -q "^| the reconstructions | [0-9.]* | [0-9.]* | [0-9.]* | [-0-9.]* | [0-9.]* |\$" "$1"' sh "$M/TRAINING.md"
t_ok "TRAINING.md: the same in 2 held-out scenes of one object each (its position: none to score)" sh -c '
	grep -q "^| the one-object pictures | [0-9.]* | [0-9.]* | [0-9.]* | - | [0-9.]* |\$" "$1" &&
	grep -q "^| the one-object reconstructions | [0-9.]* | [0-9.]* | [0-9.]* | - | [0-9.]* |\$" "$1" &&
	[ "$(ls "$2"/vae-check/object/*.png | wc -l)" -eq 2 ] &&
	for f in "$2"/vae-check/objects/*/scene.json; do [ "$(grep -c "^ *{\"id\": " "$f")" -eq 1 ] || exit 1; done' \
	sh "$M/TRAINING.md" "$T_TMP/a"
t_grep "^| the reconstructed semantic maps | [0-9.]* | [0-9.]* | [0-9.]* |\$" "$M/TRAINING.md" \
	"TRAINING.md: the reconstructed semantic maps read as segmentations"
t_ok "the loss curves: an SVG polyline of every step (runs this short)" sh -c '
	for f in vae-loss.svg:3 vae-full-loss.svg:2 dit-loss.svg:4; do
		n=$(sed -n "s/.*<polyline[^>]*points=\"\([^\"]*\)\".*/\1/p" "$1/${f%:*}" | wc -w)
		[ "$n" -eq "${f#*:}" ] && tail -n 1 "$1/${f%:*}" | grep -q "^</svg>\$" || exit 1
	done' sh "$M"
t_grep '^!\[samples\](samples.png)$' "$M/TRAINING.md" "TRAINING.md shows the last sheet of samples"
t_grep '^The last sheet of samples .* at step 4:$' "$M/TRAINING.md" "... the one of step 4"
t_grep '^4 steps\.$' "$M/TRAINING.md" "TRAINING.md: the NextDiT's 4 steps"
t_grep '^steps=4 batch=2 lr=0.0003 warmup=1 ema=0.999 seed=1$' "$M/TRAINING.md" "TRAINING.md: the recipe's parameters"
t_ok "the README's main job runs on it" sh -c '
	od-tag -m "$1" "a red cube" | od-denoise -m "$1" --steps 2 --size 64x64 | od-decode -m "$1" -o red.png &&
	[ "$(odimg info red.png)" = "64 64" ]' sh "$M"
t_ok "up to date afterwards (make -q)" recipe "$T_TMP/a" -q default
recipe "$T_TMP/a" -s status > status.txt
printf '%s\n' "scenes:  6 of 6" "vae:     step 3 of 3, whole pictures 2 of 2, scaled" "streams: 14 of 14 files" "dit:     step 4 of 4" \
	"model:   $T_TMP/a/model" > status.want
t_ok "make status: every stage done" cmp status.txt status.want

mkdir -p share && cp -r "$OD_MODEL" share/tiny
t_ok "make share: the model into SHARE/NAME" recipe "$T_TMP/a" SHARE="$T_TMP/share" NAME=toy share
t_ok "... the same files" diff -r "$M" share/toy
t_ok "... the text encoder, tokenizer and scheduler linked to the equal ones already there" sh -c '
	for c in text_encoder tokenizer scheduler; do [ "$(readlink share/toy/$c)" = ../tiny/$c ] || exit 1; done
	[ ! -L share/toy/vae ] && [ ! -L share/toy/transformer ]'
recipe "$T_TMP/a" SHARE="$T_TMP/share" NAME=toy2 share > /dev/null 2> share.err
[ $? -ne 0 ]
t_result $? "a second model would pass share/'s 50 MB: refused"
t_grep "would hold [0-9]* bytes with toy2, over 50000000" share.err "... saying so"
t_ok "... and nothing written" test ! -e share/toy2 -a ! -e share/toy2.tmp

# stopped on purpose after step 2, then made again: the same bytes
recipe "$T_TMP/b" UNTIL=2 default > until.out 2> until.err
[ $? -ne 0 ]
t_result $? "UNTIL=2: make stops (non-zero)"
t_grep "stopped at step 2 as asked" until.err "... and says so"
t_ok "... with the checkpoint of step 2" test -d "$T_TMP/b/dit/step-0000002"
recipe "$T_TMP/b" status > status-b.txt 2>&1
t_grep '^dit:     step 2 of 4, loss [0-9.e+-]* (mean of the last 2 steps), [0-9.]* s a step, about [0-9]*h[0-5][0-9]m to go$' \
	status-b.txt "make status of a run under way: its loss, pace and time to go"
t_ok "... and no model" test ! -e "$T_TMP/b/model"
t_ok "make again: the run goes on to the end" recipe "$T_TMP/b" default
for f in transformer/diffusion_pytorch_model.safetensors vae/diffusion_pytorch_model.safetensors vae/config.json; do
	t_ok "$f: the same bytes as the uninterrupted run's" cmp "$T_TMP/a/model/$f" "$T_TMP/b/model/$f"
done
# what a training learns from changed (here the whole-picture VAE run's
# learning rate): that run starts over instead of resuming, and so do the
# stages after it
recipe "$T_TMP/b" VAE_FULL_LR=0.0002 -s default > /dev/null 2>&1
t_result $? "a new VAE_FULL_LR: make again"
t_ok "... the whole-picture VAE run started over at its new rate" sh -c '
	[ "$(cut -d, -f1,5 "$1/vae-full/train.csv" | tr "\n" " ")" = "step,lr 1,2e-06 2,4e-06 " ]' sh "$T_TMP/b"
t_ok "... and the NextDiT after it: 4 steps, on the new latents" sh -c '
	[ "$(tail -n +2 "$1/dit/log.csv" | cut -d, -f1 | tr "\n" " ")" = "1 2 3 4 " ] &&
	! cmp -s "$1/dit/latest/transformer/diffusion_pytorch_model.safetensors" \
		"$2/dit/latest/transformer/diffusion_pytorch_model.safetensors"' sh "$T_TMP/b" "$T_TMP/a"
t_ok "... and the crop run was kept (not trained again)" test "$T_TMP/b/vae-run/done" -ot "$T_TMP/b/vae-full/done"
recipe "$T_TMP/b" -s default > /dev/null 2>&1
t_result $? "back to the first VAE_FULL_LR"
t_ok "... the model is the uninterrupted run's again" cmp "$T_TMP/a/model/transformer/diffusion_pytorch_model.safetensors" \
	"$T_TMP/b/model/transformer/diffusion_pytorch_model.safetensors"
# VAE_FROM: the NextDiT trained on a finished model's VAE instead of a new one;
# given the VAE this recipe made, the same model comes out
t_ok "VAE_FROM=the model: make default" recipe "$T_TMP/c" VAE_FROM="$M" default
t_ok "... trains no VAE" test ! -e "$T_TMP/c/vae-run" -a ! -e "$T_TMP/c/vae-full"
t_ok "... and makes the same bytes as the run that trained it" sh -c '
	for f in vae/diffusion_pytorch_model.safetensors vae/config.json transformer/diffusion_pytorch_model.safetensors; do
		cmp "$1/$f" "$2/$f" || exit 1
	done' sh "$M" "$T_TMP/c/model"
t_ok "... with the VAE's logs of that model" cmp "$M/vae-train.csv" "$T_TMP/c/model/vae-train.csv"
t_grep "Taken as it was from model (VAE_FROM)" "$T_TMP/c/model/TRAINING.md" "... and TRAINING.md says whose VAE it is"
recipe "$T_TMP/c" VAE_FROM="$T_TMP/nothing" default > /dev/null 2> vae-from.err
t_result $(($? == 0)) "VAE_FROM without a model there: make fails"
t_grep "VAE_FROM: $T_TMP/nothing/vae/config.json: no such file" vae-from.err "... naming the missing file"
# DIT_FROM: a model trained further, as over sittings: its NextDiT is the start
cp -r "$M" m2
t_ok "VAE_FROM=DIT_FROM=the model, DIT_STEPS=2: make default" recipe "$T_TMP/d" VAE_FROM=m2 DIT_FROM=m2 DIT_STEPS=2 default
t_ok "... starts from that model's NextDiT" cmp m2/transformer/diffusion_pytorch_model.safetensors \
	"$T_TMP/d/init/transformer/diffusion_pytorch_model.safetensors"
t_ok "... trains it 2 steps further" sh -c '
	[ "$(tail -n +2 "$1/dit/log.csv" | cut -d, -f1 | tr "\n" " ")" = "1 2 " ] &&
	! cmp -s "$1/model/transformer/diffusion_pytorch_model.safetensors" m2/transformer/diffusion_pytorch_model.safetensors' \
	sh "$T_TMP/d"
t_ok "... its log: the 4 steps before, then 2 counted on from them" sh -c '
	[ "$(tail -n +2 "$1/model/dit-train.csv" | cut -d, -f1 | tr "\n" " ")" = "1 2 3 4 5 6 " ] &&
	[ "$(sed -n 5p "$1/model/dit-train.csv")" = "$(tail -n 1 m2/dit-train.csv)" ]' sh "$T_TMP/d"
t_grep "^The NextDiT of m2 (DIT_FROM; its record closes this one) trained further by" "$T_TMP/d/model/TRAINING.md" \
	"... TRAINING.md says what it continued"
t_grep "^With the runs before it: 6 NextDiT steps" "$T_TMP/d/model/TRAINING.md" "... how many steps in all"
t_grep "^## Before this run: m2$" "$T_TMP/d/model/TRAINING.md" "... and holds that model's record"
t_grep "^### The NextDiT (flow matching, every task)$" "$T_TMP/d/model/TRAINING.md" "... one level down"
t_ok "... its figures named, not shown" sh -c '! sed -n "/^## Before this run/,\$p" "$1" | grep -q "^!\["' \
	sh "$T_TMP/d/model/TRAINING.md"
# the model it continued replaced by the new one (as make share does): the run is
# up to date, not started again
rm -rf m2/transformer && cp -r "$T_TMP/d/model/transformer" m2/
t_ok "... that model replaced by the new one: still up to date (make -q)" \
	recipe "$T_TMP/d" VAE_FROM=m2 DIT_FROM=m2 DIT_STEPS=2 -q default
recipe "$T_TMP/d" -s status > /dev/null
t_ok "make status does not touch the run's parameters" recipe "$T_TMP/d" VAE_FROM=m2 DIT_FROM=m2 DIT_STEPS=2 -q default
# CLEAN: clean conditions (od-train --clean-frames), recorded with the run's parameters
t_ok "CLEAN=0.5 CLEAN_T=80, DIT_FROM, 2 steps: make default" recipe "$T_TMP/e" VAE_FROM=m2 DIT_FROM=m2 DIT_STEPS=2 \
	CLEAN=0.5 CLEAN_T=80 default
t_ok "... the run's settings: --clean-frames 0.5 --clean-t 80" sh -c '
	head -c 65536 "$1/dit/latest/train_state.safetensors" | grep -a -q -F "\\\"clean_frames\\\":0.5," &&
	head -c 65536 "$1/dit/latest/train_state.safetensors" | grep -a -q -F "\\\"clean_t\\\":80.0"' sh "$T_TMP/e"
t_grep '^steps=2 batch=2 lr=0.0003 warmup=1 ema=0.999 seed=1 clean=0.5 clean_t=80$' "$T_TMP/e/model/TRAINING.md" \
	"... TRAINING.md: the parameters with CLEAN and CLEAN_T"
t_grep "^Trained with clean conditions (CLEAN, od-train --clean-frames)" "$T_TMP/e/model/TRAINING.md" \
	"... and what its loss means"
t_ok "... a run without CLEAN keeps the stamp it had (no clean= in it)" sh -c '! grep -q clean "$1/.dit"' sh "$T_TMP/d"
# VAE_TUNE: a finished model's VAE trained further on whole pictures (no crop
# run), scaled again; the NextDiT then continued on its latents
t_ok "VAE_TUNE=DIT_FROM=the model, VAE_FULL_STEPS=3, DIT_STEPS=2: make default" recipe "$T_TMP/f" VAE_TUNE=m2 \
	DIT_FROM=m2 VAE_FULL_STEPS=3 DIT_STEPS=2 default
t_ok "... no crop run" test ! -e "$T_TMP/f/vae-run"
od-train vae --threads 1 --progress none --model m2 -o vae-tuned --size 64 --steps 3 --batch 1 --lr 0.0001 \
	--warmup 100 --schedule cosine --seed 1 $(cat "$T_TMP/f/pictures-full.list") 2> /dev/null
t_ok "... the whole-picture run is od-train vae --model (that model) for 3 steps" \
	cmp vae-tuned/vae/diffusion_pytorch_model.safetensors "$T_TMP/f/vae-full/vae/diffusion_pytorch_model.safetensors"
t_ok "... a new VAE, with its own scaling factor" sh -c '
	! cmp -s "$1/vae/diffusion_pytorch_model.safetensors" m2/vae/diffusion_pytorch_model.safetensors &&
	! cmp -s "$1/vae/config.json" m2/vae/config.json' sh "$T_TMP/f/model"
t_ok "... the model's crop log as it was" cmp m2/vae-train.csv "$T_TMP/f/model/vae-train.csv"
t_ok "... its whole-picture log: the 2 steps before, then 3 counted on from them" sh -c '
	[ "$(tail -n +2 "$1/vae-full-train.csv" | cut -d, -f1 | tr "\n" " ")" = "1 2 3 4 5 " ] &&
	[ "$(sed -n 3p "$1/vae-full-train.csv")" = "$(tail -n 1 m2/vae-full-train.csv)" ] &&
	[ "$(sed -n 4p "$1/vae-full-train.csv" | cut -d, -f2-)" = "$(sed -n 2p "$2/vae-full/train.csv" | cut -d, -f2-)" ]' \
	sh "$T_TMP/f/model" "$T_TMP/f"
t_ok "... its curve: every step of both" sh -c '
	[ "$(sed -n "s/.*<polyline[^>]*points=\"\([^\"]*\)\".*/\1/p" "$1" | wc -w)" -eq 5 ]' sh "$T_TMP/f/model/vae-full-loss.svg"
t_grep "^Components: the VAE is m2's trained further here (VAE_TUNE)" "$T_TMP/f/model/TRAINING.md" \
	"... TRAINING.md says whose VAE it trained further"
t_grep "^## The VAE on whole pictures, trained further (reconstruction + KL)" "$T_TMP/f/model/TRAINING.md" \
	"... and shows that run"
t_ok "... the parameters: the whole-picture run's (from the model), not the crop run's" sh -c '
	sed "/^## Before this run/q" "$1" > this-run.md &&
	grep -q "^steps=3 batch=1 lr=0.0001 warmup=100 images=3 from=$2/m2\$" this-run.md &&
	! grep -q "^steps=3 batch=2 crop=32" this-run.md && grep -q "^steps=3 batch=2 crop=32" "$1"' \
	sh "$T_TMP/f/model/TRAINING.md" "$T_TMP"
recipe "$T_TMP/f" VAE_TUNE=m2 DIT_FROM=m2 VAE_FULL_STEPS=3 DIT_STEPS=2 -s status > status-f.txt
t_grep "^vae:     m2's (VAE_TUNE), whole pictures 3 of 3, scaled\$" status-f.txt "... make status says so"
t_ok "... up to date afterwards (make -q)" recipe "$T_TMP/f" VAE_TUNE=m2 DIT_FROM=m2 VAE_FULL_STEPS=3 DIT_STEPS=2 -q default
recipe "$T_TMP/g" VAE_TUNE=m2 VAE_FROM=m2 default > /dev/null 2> tune-from.err
t_result $(($? == 0)) "VAE_TUNE with VAE_FROM: refused"
t_grep "VAE_FROM and VAE_TUNE: give one" tune-from.err "... saying why"
t_ok "... before anything is made" test ! -e "$T_TMP/g/scenes"
recipe "$T_TMP/g" VAE_TUNE="$T_TMP/nothing" VAE_FULL_STEPS=3 "$T_TMP/g/vae-tune/vae/config.json" > /dev/null 2> vae-tune.err
t_result $(($? == 0)) "VAE_TUNE without a model there: make fails"
t_grep "VAE_TUNE: $T_TMP/nothing/vae/config.json: no such file" vae-tune.err "... naming the missing file"
# DECODER_STEPS: the finished run d's VAE decoder trained further alone, its
# encoder frozen: the streams and the NextDiT stay as they were, the model ships
# the new decoder, and the VAE check measures it
D="$T_TMP/d"
set -- VAE_FROM=m2 DIT_FROM=m2 DIT_STEPS=2
cp "$D/model/vae/diffusion_pytorch_model.safetensors" vae-before.safetensors
cp "$D/model/transformer/diffusion_pytorch_model.safetensors" dit-before.safetensors
touch -d '1 second ago' marker
t_ok "DECODER_STEPS=3 on a finished run: make default" recipe "$D" "$@" DECODER_STEPS=3 default
t_ok "... no stream encoded again, no NextDiT step taken" sh -c '
	[ -z "$(find "$1/streams" "$1/dit" "$1/base" -newer marker)" ] &&
	[ "$(tail -n +2 "$1/dit/log.csv" | wc -l)" -eq 2 ]' sh "$D"
t_ok "... the model's NextDiT as it was" cmp dit-before.safetensors "$D/model/transformer/diffusion_pytorch_model.safetensors"
od-train vae --threads 1 --progress none --model "$D/base" --decoder-only -o dec-hand --size 64 --steps 3 --batch 1 \
	--lr 0.0002 --warmup 100 --schedule cosine --seed 1 $(cat "$D/pictures-full.list") 2> /dev/null
t_ok "... the decoder run is od-train vae --decoder-only --model (the base) for 3 steps" \
	cmp dec-hand/vae/diffusion_pytorch_model.safetensors "$D/decoder/vae/diffusion_pytorch_model.safetensors"
t_ok "... the model ships that VAE" cmp dec-hand/vae/diffusion_pytorch_model.safetensors \
	"$D/model/vae/diffusion_pytorch_model.safetensors"
t_ok "... a new decoder, the same encoder: od-encode gives the base's latents, od-decode other pictures" sh -c '
	! cmp -s vae-before.safetensors "$1/model/vae/diffusion_pytorch_model.safetensors" &&
	pic=$(grep -m1 /image.png "$1/pictures.list") &&
	od-encode --model "$1/base" -S 64x64 "$pic" > lat-base.odf && od-encode --model "$1/model" -S 64x64 "$pic" > lat-model.odf &&
	cmp lat-base.odf lat-model.odf && cmp "$1/base/vae/config.json" "$1/model/vae/config.json" &&
	od-decode --model "$1/base" -o dec-base.png < lat-base.odf && od-decode --model "$1/model" -o dec-model.png < lat-base.odf &&
	! cmp -s dec-base.png dec-model.png' sh "$D"
t_ok "... the VAE check measured it again" test "$D/vae-check.md" -nt marker
t_ok "... its log: 3 steps, and their curve" sh -c '
	[ "$(tail -n +2 "$1/vae-decoder-train.csv" | cut -d, -f1 | tr "\n" " ")" = "1 2 3 " ] &&
	[ "$(sed -n "s/.*<polyline[^>]*points=\"\([^\"]*\)\".*/\1/p" "$1/vae-decoder-loss.svg" | wc -w)" -eq 3 ]' sh "$D/model"
t_grep "then the VAE's decoder was trained further alone, its encoder frozen (DECODER_STEPS)" "$D/model/TRAINING.md" \
	"... TRAINING.md names it among the components"
t_grep "^## The VAE's decoder alone, the encoder frozen (reconstruction)" "$D/model/TRAINING.md" "... shows its training"
t_grep "^steps=3 lr=0.0002 batch=1 warmup=100 images=3 seed=1\$" "$D/model/TRAINING.md" "... and its parameters"
recipe "$D" "$@" DECODER_STEPS=3 -s status > status-d.txt
t_grep "^decoder: step 3 of 3 (the encoder frozen)\$" status-d.txt "... make status says how far it has come"
t_grep "^vae:     m2's as it is (VAE_FROM), copied\$" status-d.txt "... and whose VAE it took"
t_ok "... up to date afterwards (make -q)" recipe "$D" "$@" DECODER_STEPS=3 -q default
# VAE_TUNE of a model whose decoder was trained alone: its decoder's log goes on
# with the VAE
rm -rf m3 && cp -r "$D/model" m3
t_ok "VAE_TUNE=DIT_FROM=that model, VAE_FULL_STEPS=1, DIT_STEPS=1: make default" recipe "$T_TMP/h" VAE_TUNE=m3 \
	DIT_FROM=m3 VAE_FULL_STEPS=1 DIT_STEPS=1 default
t_ok "... the model carries the tuned VAE's decoder log and curve as they were" sh -c '
	cmp m3/vae-decoder-train.csv "$1/vae-decoder-train.csv" && cmp m3/vae-decoder-loss.svg "$1/vae-decoder-loss.svg"' \
	sh "$T_TMP/h/model"
t_ok "DECODER_STEPS=0 again: make default" recipe "$D" "$@" default
t_ok "... the model ships the base's VAE again" sh -c '
	cmp vae-before.safetensors "$1/model/vae/diffusion_pytorch_model.safetensors" &&
	! grep -q "decoder alone" "$1/model/TRAINING.md"' sh "$D"
# the ablations: three trainings from the same initialisation, stopped at the same
# step of the model's schedule, scored on multiview; "all" is the model's own run
# at that step, copied
t_ok "make ablations (toy size)" recipe "$T_TMP/a" ABL_STEPS=2 ABL_N=2 ABL_SAMPLER_STEPS=2 -j2 ablations
t_ok "every task: the model's run at step 2, copied" sh -c '
	[ "$(readlink "$1/abl-all/dit/latest")" = step-0000002 ] &&
	cmp "$1/dit/step-0000002/transformer/diffusion_pytorch_model.safetensors" \
		"$1/abl-all/dit/step-0000002/transformer/diffusion_pytorch_model.safetensors"' sh "$T_TMP/a"
# scored ablations are not exported and scored again by a second make (their models'
# other parts are links to base/, older than the training)
recipe "$T_TMP/a" ABL_STEPS=2 ABL_N=2 ABL_SAMPLER_STEPS=2 -n ablations > again.txt
t_ok "make ablations again: nothing to export or score" sh -c '! grep -E "od-train ema|eval/Makefile" "$1"' sh again.txt
# ... which is what training it would give: run b without its step-2 checkpoint trains it
rm -rf "$T_TMP/b/dit/step-0000002"
t_ok "without the model's checkpoint, every task is trained" recipe "$T_TMP/b" ABL_STEPS=2 "$T_TMP/b/abl-all/dit/done"
t_ok "... to the same bytes as the copy" cmp "$T_TMP/a/abl-all/dit/step-0000002/transformer/diffusion_pytorch_model.safetensors" \
	"$T_TMP/b/abl-all/dit/step-0000002/transformer/diffusion_pytorch_model.safetensors"
recipe "$T_TMP/a" ABL_STEPS=2 ABL_N=2 ABL_SAMPLER_STEPS=2 -s status > status-abl.txt
t_grep "^ablations: all scored; norays scored; mvonly scored: $T_TMP/a/ablations.md\$" status-abl.txt \
	"make status: the ablations, scored, and their table"
recipe "$T_TMP/b" ABL_STEPS=2 -s status > status-abl-b.txt
t_grep "^ablations: all trained; norays step 0 of 2; mvonly step 0 of 2\$" status-abl-b.txt \
	"... and how far each has come"
# an ablation's run is resumed where it is, as the model's own: not started over
t_ok "one ablation trained alone (norays)" recipe "$T_TMP/b" ABL_STEPS=2 "$T_TMP/b/abl-norays/dit/done"
touch "$T_TMP/b/abl-norays/dit/kept"
rm "$T_TMP/b/abl-norays/dit/done"
t_ok "... made again (its run at its last step)" recipe "$T_TMP/b" ABL_STEPS=2 "$T_TMP/b/abl-norays/dit/done"
t_ok "... resumed, not started over: its folder kept, its log the same 2 steps" sh -c '
	[ -e "$1/kept" ] && [ "$(tail -n +2 "$1/log.csv" | cut -d, -f1 | tr "\n" " ")" = "1 2 " ]' \
	sh "$T_TMP/b/abl-norays/dit"
t_grep "^2 steps three ways, then scored on held-out scenes: 2 " "$T_TMP/a/ablations.md" "ablations.md: the step they stopped at"
t_ok "ablations.md: three trainings and the baseline, with numbers" awk -F'|' '
	/^\| (every task|multiview alone)/ { n++; if ($5 !~ /[0-9]/ || $6 !~ /[0-9]/ || $4 + 0 != 0) bad++ }
	/^\| baseline: view 0 copied/ { b++ }
	END { exit !(n == 3 && b == 1 && !bad) }' "$T_TMP/a/ablations.md"
# "vs every task" pairs the scenes: its mean is the difference of the two PSNRs
t_ok "ablations.md: each row's difference from every task's, paired by scene" awk -F'|' '
	/^\| every task, multiview with Pl/ { all = $5 }
	/^\| (every task, multiview without|multiview alone|baseline)/ {
		if (split($7, v, " ± ") != 2 || v[2] !~ /^[0-9.]+ *$/) bad++; d[++n] = v[1] - $5 }
	END { for (i = 1; i <= n; i++) if (d[i] + all > 0.015 || d[i] + all < -0.015) bad++
		exit !(n == 3 && all != "" && !bad) }' "$T_TMP/a/ablations.md"
t_ok "the no-rays multiview jobs have pictures only" sh -c '
	[ "$(od-frame show "$1" | grep -c " rays ")" -eq 0 ] && [ "$(od-frame show "$1" | grep -c " latent ")" -eq 12 ]' \
	sh "$T_TMP/a/streams/multiview-norays.odf"
t_grep "rays=0" "$T_TMP/a/abl-norays/eval/.params" "the no-rays model is scored without rays (eval RAYS=0)"
t_grep "rays=1" "$T_TMP/a/abl-mvonly/eval/.params" "... the others with rays"
t_ok "the other two trained to step 2 on the model's schedule" sh -c 'for a in norays mvonly; do
	[ "$(tail -n 1 "$1/abl-$a/dit/log.csv" | cut -d, -f1)" = 2 ] || exit 1
	[ "$(sed -n 2p "$1/abl-$a/dit/log.csv" | cut -d, -f3)" = "$(sed -n 2p "$1/dit/log.csv" | cut -d, -f3)" ] || exit 1
	done' sh "$T_TMP/a"
make -f "$OD_SRCDIR/eval/Makefile" TASKS=colour > /dev/null 2> tasks.err
t_result $(($? == 0)) "eval/Makefile refuses an unknown task"
t_grep "TASKS: colour: not a task" tasks.err "... naming it"

t_ok "jobs.sh refuses an unknown task (exit 2)" sh -c '
	sh "$1/train/jobs.sh" colour 64 1 2 "$2/a/scenes/000000" > /dev/null 2> err; [ $? -eq 2 ] &&
	grep -q "unknown task" err' sh "$OD_SRCDIR" "$T_TMP"
t_done
