#!/bin/sh
# od-denoise on bad input: one line on stderr naming the file and frame, the
# documented exit status (2 usage, 3 bad input data, 4 model, 5 I/O, 6 device),
# and no output file.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
G=$OD_GOLDEN/cases/pipeline
D2I=$G/depth2image_mask10_softcap.safetensors
od-frame from-safetensors "$D2I" --tensor prompt_embeds --mask prompt_mask --kind text --role negative,condition \
	--split -o text.odf
od-frame select --index 1 text.odf > prompt.odf
od-frame select --index 0 text.odf > negative.odf
od-frame from-safetensors "$D2I" --tensor cond_latents --squeeze --role condition -o lat.odf
od-frame select --set-role target lat.odf > tgt.odf
# a 16 × 8 × 10 latent from a golden transformer case (different size)
od-frame from-safetensors "$OD_GOLDEN/cases/transformer/nonsquare_8x12.safetensors" --tensor samples --squeeze \
	--role condition -o lat812.odf

fails() { # STATUS WHAT GREP-PATTERN cmd...
	st=$1 what=$2 pat=$3
	shift 3
	t_fails "$st" "$what" "$@"
	t_grep "$pat" "$T_ERR" "$what: message"
	t_ok "$what: no output file" test ! -e out.odf
}

cat text.odf lat.odf lat812.odf > sizes.odf
fails 3 "frames of mismatched sizes" "sizes.odf': frame 3: size 8×12 differs from the job's 8×8" \
	od-denoise --steps 1 sizes.odf -o out.odf
cat text.odf lat.odf > notarget.odf
fails 3 "no target frame" "job 0 has no target frame" od-denoise --steps 1 notarget.odf -o out.odf
cat lat.odf text.odf > notext.odf
fails 3 "image frames before any text frame" "notext.odf': frame 0: a latent frame before any prompt text frame" \
	od-denoise --steps 1 notext.odf -o out.odf
cat negative.odf lat.odf > noprompt.odf
fails 3 "a negative but no prompt" "job 0 has a negative text frame but no prompt" \
	od-denoise --steps 1 noprompt.odf -o out.odf
cat prompt.odf tgt.odf lat.odf > noneg.odf
fails 3 "guidance without a negative text frame" "job 0 has no negative text frame, which guidance needs" \
	od-denoise --steps 1 noneg.odf -o out.odf
t_ok "... fine with --guidance 1" sh -c "od-denoise --steps 1 --guidance 1 noneg.odf > /dev/null"
cat text.odf lat.odf lat.odf > twolat.odf
fails 3 "more condition frames than the mask's zeros" "twolat.odf': frame 3: more condition latent frames than the mask has image slots" \
	od-denoise --steps 1 --mask 10 twolat.odf -o out.odf
cat text.odf lat.odf > one.odf
fails 3 "fewer condition frames than the mask's zeros" "the mask has more condition image slots than" \
	od-denoise --steps 1 --mask 001 one.odf -o out.odf
cat text.odf tgt.odf lat.odf > tgt.odf2
fails 3 "a target frame with --mask" "a target frame with --mask" od-denoise --steps 1 --mask 10 tgt.odf2 -o out.odf
fails 3 "a mask with nothing to generate" "job 0 has no target frame" od-denoise --steps 1 --mask 0 one.odf -o out.odf
# RoPE limits (numerics.md §2.5.2): 129 frames, 129 patch columns
cp text.odf many.odf
i=0
while [ $i -lt 129 ]; do cat tgt.odf >> many.odf; i=$((i + 1)); done
fails 3 "more frames than rotary_max_length_t" "129 frames exceed the model's rotary_max_length_t of 128" \
	od-denoise --steps 1 many.odf -o out.odf
fails 3 "latents wider than the RoPE table" "exceed the model's rotary_max_length of 128 per axis" \
	od-denoise --steps 1 --size 2064x16 text.odf -o out.odf
# NaN in a condition latent: the frame reader refuses it
cp lat.odf nan.odf
printf '\000\000\300\177' | dd of=nan.odf bs=1 seek=$(($(wc -c < lat.odf) - 4)) conv=notrunc 2>/dev/null
cat text.odf tgt.odf nan.odf > nanjob.odf
fails 3 "NaN in an input frame" "not finite" od-denoise --steps 1 nanjob.odf -o out.odf
head -c 3000 lat.odf > trunc.odf
cat text.odf tgt.odf trunc.odf > truncjob.odf
fails 3 "a truncated stream" "truncated" od-denoise --steps 1 truncjob.odf -o out.odf
od-frame from-safetensors "$OD_GOLDEN/cases/vae/encode_64x64.safetensors" --tensor image --kind image --squeeze \
	-o img.odf
cat text.odf img.odf > imgjob.odf
fails 3 "an image frame" "not image (encode images with od-encode)" od-denoise --steps 1 imgjob.odf -o out.odf
od-frame from-safetensors "$OD_GOLDEN/cases/vae/encode_64x64.safetensors" --tensor moments --squeeze \
	--role target -o ch32.odf
cat text.odf ch32.odf > chjob.odf
fails 3 "latents with the wrong channel count" "frame 2: 32 channels, the model takes 16" od-denoise --steps 1 chjob.odf -o out.odf
# text of the wrong width (96 for a model that takes 64)
od-frame from-safetensors "$OD_GOLDEN/cases/transformer/t2i_1f.safetensors" --tensor x_embed --mask encoder_attention_mask --kind text --squeeze \
	--role condition -o wide.odf
cat wide.odf negative.odf tgt.odf > widejob.odf
fails 3 "text of the wrong width" "widejob.odf': frame 0: a text frame must be (S, 64) T5 states" \
	od-denoise --steps 1 widejob.odf -o out.odf
# the model: weights that do not match the config
cp -r "$OD_MODEL" badmodel
sed 's/"hidden_size": 96/"hidden_size": 120/' "$OD_MODEL/transformer/config.json" > badmodel/transformer/config.json
fails 4 "weights that do not match the config" "x_embedder.weight' has shape (96, 64), the config implies (120, 64)" \
	od-denoise --model badmodel --steps 1 one.odf -o out.odf
cp -r "$OD_MODEL" nosched
rm nosched/scheduler/scheduler_config.json
fails 4 "no scheduler config" "scheduler_config.json': no such file" od-denoise --model nosched --steps 1 one.odf -o out.odf
fails 4 "no such model folder" "no-such-model': no such model folder" od-denoise --model no-such-model one.odf -o out.odf
# usage
fails 2 "no model" "no model: give --model DIR or set OD_MODEL" env -u OD_MODEL od-denoise one.odf -o out.odf
fails 2 "--size not a multiple of 16" "--size: 72x64 is not a multiple of 16" od-denoise --size 72x64 one.odf -o out.odf
fails 2 "a bad --mask" "--mask: '1x0' is not a list of 0 and 1" od-denoise --mask 1x0 one.odf -o out.odf
fails 2 "--steps 0" "--steps: 0 is out of range" od-denoise --steps 0 one.odf -o out.odf
fails 2 "an unknown device" "--device: 'tpu' is not cpu or cuda" od-denoise --device tpu one.odf -o out.odf
fails 5 "a missing input file" "no-such.odf" od-denoise no-such.odf -o out.odf
if ! nvidia-smi -L >/dev/null 2>&1; then
	fails 6 "--device cuda without a GPU" "cuda" od-denoise --device cuda one.odf -o out.odf
fi
# an error in the second job: nothing is written to a file output
cat text.odf tgt.odf lat.odf text.odf lat.odf > secondbad.odf
fails 3 "an error in the second job leaves no partial output" "job 1 has no target frame" \
	od-denoise --steps 1 secondbad.odf -o out.odf
t_done
