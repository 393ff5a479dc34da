#!/bin/sh
# od-train train end to end on a toy data set made by the real tools
# (odpattern pictures -> od-encode, captions -> od-tag) with the tiny model:
#  - the loss falls (fixed seed: deterministic): the mean of the last 20% of the
#    CSV's rows is below 0.8 × the mean of the first 20%;
#  - the checkpoint is a model folder od-denoise and od-model load unchanged;
#  - resuming is exact: 2N steps in one go = N steps (--until), then --resume,
#    byte for byte (weights and training state), with clipping, an EMA, caption
#    dropout and a cosine schedule, and on 1 thread then 2;
#  - samples, the EMA export, a fresh model from a config (init), and the empty
#    prompt from a file (od-tag --raw '') equal to the computed one;
#  - clean conditions (--clean-frames) resume byte for byte and change the run.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"

# ---- the data: 8 pictures of 64×64 (latents 8×8) with captions
for k in red green blue hstripes vstripes checker disc gradient; do
	odpattern $k 64 $k.png || echo "odpattern $k failed"
done
t_ok "a toy data set with od-tag | od-encode" sh -c '
	for k in red green blue hstripes vstripes checker disc gradient; do
		od-tag "a picture: $k" && od-encode -S 64x64 --role target $k.png || exit 1
	done > toy.odf'

# ---- the loss falls
t_ok "train 300 steps" od-train train -o run --steps 300 --batch 4 --lr 1e-3 --seed 1 --progress=none toy.odf
t_ok "a checkpoint and latest" test -f run/latest/transformer/diffusion_pytorch_model.safetensors
rows=$(($(wc -l < run/log.csv) - 1))
t_result "$([ "$rows" -eq 300 ] && echo 0 || echo 1)" "log.csv has a row per step ($rows)"
t_grep '^step,loss,lr,grad_norm,seconds$' run/log.csv "log.csv's header"
awk -F, 'NR > 1 { n++; l[n] = $2 } END {
	k = int(n / 5); a = 0; b = 0
	for (i = 1; i <= k; i++) a += l[i]
	for (i = n - k + 1; i <= n; i++) b += l[i]
	printf "%.4f %.4f\n", a / k, b / k
	exit !(b < 0.8 * a) }' run/log.csv > means.txt
t_result $? "the loss falls: mean of the first and last 20% of the steps $(cat means.txt)"

# ---- the checkpoint loads unchanged
t_ok "od-model checks the checkpoint" od-model info --check run/latest
t_ok "od-denoise samples with it" sh -c 'od-tag "a picture: red" | od-denoise --model run/latest --steps 4 -o red.odf'
t_ok "... and od-decode decodes it" od-decode --model run/latest -o red_out.png red.odf

# ---- resuming is exact
O="--steps 30 --batch 3 --lr 1e-3 --warmup 5 --schedule cosine --min-lr 1e-5 --clip 1 --ema 0.99 --cfg-dropout 0.3 --seed 7 --progress=none"
t_ok "30 steps in one go" od-train train -o A $O toy.odf
t_ok "the first 13 steps (--until), 1 thread" od-train train -o B $O --until 13 -j 1 toy.odf
t_ok "... stopped at step 13" test -d B/step-0000013 -a ! -d B/step-0000030
t_ok "... resumed to 30, 2 threads" od-train train --resume B -j 2 --progress=none
t_ok "the weights are byte-identical" cmp A/latest/transformer/diffusion_pytorch_model.safetensors \
	B/latest/transformer/diffusion_pytorch_model.safetensors
t_ok "the training state is byte-identical (moments, EMA, generators)" cmp A/latest/train_state.safetensors \
	B/latest/train_state.safetensors
cut -d, -f1-4 A/log.csv > a.csv
cut -d, -f1-4 B/log.csv > b.csv
t_ok "the logs agree row by row (step, loss, lr, grad_norm)" cmp a.csv b.csv
t_ok "resuming a finished run does nothing" od-train train --resume B --progress=none
t_ok "... and longer (--steps 35) continues" od-train train --resume B --steps 35 --progress=none
t_ok "... to step 35" test -d B/step-0000035 -a ! -d B/step-0000030

# ---- resuming from an older checkpoint replays the same steps
t_ok "10 steps, a checkpoint every 4, all kept" od-train train -o O --steps 10 --save-every 4 --keep 0 --batch 2 \
	--progress=none toy.odf
cp O/step-0000010/transformer/diffusion_pytorch_model.safetensors ten.safetensors
t_ok "resume from step-0000004" od-train train --resume O/step-0000004 --progress=none
t_ok "... step 10 again, byte for byte" cmp ten.safetensors O/step-0000010/transformer/diffusion_pytorch_model.safetensors
t_ok "... latest -> step-0000010" test "$(readlink O/latest)" = step-0000010

# ---- --save-every, --keep
t_ok "--save-every 4 --keep 2" od-train train -o K --steps 10 --save-every 4 --keep 2 --progress=none toy.odf
t_ok "... keeps the newest two (8 and 10)" test -d K/step-0000008 -a -d K/step-0000010 -a ! -d K/step-0000004
t_ok "... latest -> step-0000010" test "$(readlink K/latest)" = step-0000010

# ---- samples
printf 'a picture: red\na picture: disc\n' > prompts.txt
t_ok "--sample-every with prompts" od-train train -o S --steps 4 --sample-every 2 --sample-prompts prompts.txt \
	--sample-steps 3 --progress=none toy.odf
t_ok "... a sheet at steps 0, 2 and 4" test -f S/samples/step-0000000.png -a -f S/samples/step-0000002.png \
	-a -f S/samples/step-0000004.png
t_ok "... two 64×64 pictures side by side" test "$(odimg info S/samples/step-0000004.png)" = "128 64"
t_ok "... the prompts encoded once" od-frame show S/samples/prompts.odf
od-tag -N "a picture: blue" > jobs.odf
t_ok "--sample-prompts with a frame stream of jobs" od-train train -o S2 --steps 2 --sample-every 2 \
	--sample-prompts jobs.odf --sample-steps 2 --sample-size 32x32 --progress=none toy.odf
t_ok "... a 32×32 sheet" test "$(odimg info S2/samples/step-0000002.png)" = "32 32"

# ---- the EMA
t_ok "od-train ema writes the averaged weights as a model" od-train ema A/latest -o ema_model
t_ok "... which od-model checks" od-model info --check ema_model
t_ok "... equal to the state's ema.*" odcmp --exact \
	ema_model/transformer/diffusion_pytorch_model.safetensors:final_layer.linear.weight \
	A/latest/train_state.safetensors:ema.final_layer.linear.weight
t_ok "od-train ema --dtype bf16: the same weights rounded to BF16" od-train ema --dtype bf16 A/latest -o ema16
t_ok "... which od-model checks (every tensor BF16)" sh -c 'od-model info --check ema16 | grep -q "all [0-9]* tensors match the config ([0-9]* BF16)"'
t_ok "... within BF16 rounding of the float32 ones" odcmp --rtol 0.0040 --atol 1e-30 \
	ema16/transformer/diffusion_pytorch_model.safetensors:final_layer.linear.weight \
	ema_model/transformer/diffusion_pytorch_model.safetensors:final_layer.linear.weight
t_ok "... and samples" sh -c 'od-tag -m ema16 "a red square" | od-denoise -m ema16 --steps 2 | od-decode -m ema16 -o ema16.png'
t_fails 2 "od-train ema --dtype int8: refused" od-train ema --dtype int8 A/latest -o ema8
t_ok "... and no output" test ! -e ema8
t_fails 3 "od-train ema on a run without an EMA" od-train ema run/latest -o ema2
t_ok "... and no output" test ! -e ema2

# ---- the empty prompt from a file equals the computed one
od-tag --raw '' > empty.odf
t_ok "caption dropout 0.5, the empty prompt from od-tag --raw ''" od-train train -o E1 --steps 6 --batch 2 \
	--cfg-dropout 0.5 --empty-text empty.odf --progress=none toy.odf
t_ok "... and computed from the text encoder" od-train train -o E2 --steps 6 --batch 2 --cfg-dropout 0.5 \
	--progress=none toy.odf
t_ok "... give the same weights" cmp E1/latest/transformer/diffusion_pytorch_model.safetensors \
	E2/latest/transformer/diffusion_pytorch_model.safetensors
t_ok "... without dropout" od-train train -o E3 --steps 6 --batch 2 --cfg-dropout 0 --progress=none toy.odf
t_ok "... the weights differ (dropout happened)" sh -c '! cmp -s E3/latest/transformer/diffusion_pytorch_model.safetensors \
	E2/latest/transformer/diffusion_pytorch_model.safetensors'

# ---- clean conditions (--clean-frames): two-frame jobs (a picture and its pattern's neighbour)
t_ok "a toy set of two-frame jobs" sh -c '
	set -- red green blue hstripes vstripes checker disc gradient red
	while [ $# -gt 1 ]; do
		od-tag "a pair: $1" && od-encode -S 64x64 --role target $1.png $2.png || exit 1
		shift
	done > pairs.odf'
C="--steps 12 --batch 3 --lr 1e-3 --clean-frames 0.7 --clean-t 80 --seed 5 --progress=none"
t_ok "--clean-frames 0.7: 12 steps in one go" od-train train -o C1 $C pairs.odf
t_ok "... 5 (--until), then resumed" sh -c "od-train train -o C2 $C --until 5 pairs.odf && \
	od-train train --resume C2 --progress=none"
t_ok "... byte for byte the same weights and state" sh -c 'cmp C1/latest/transformer/diffusion_pytorch_model.safetensors \
	C2/latest/transformer/diffusion_pytorch_model.safetensors && cmp C1/latest/train_state.safetensors \
	C2/latest/train_state.safetensors'
t_ok "... without clean frames (--clean-frames 0)" od-train train -o C3 $C --clean-frames 0 pairs.odf
t_ok "... the weights differ (frames were kept clean)" sh -c '! cmp -s C1/latest/transformer/diffusion_pytorch_model.safetensors \
	C3/latest/transformer/diffusion_pytorch_model.safetensors'
t_fails 2 "--resume with another --clean-frames" od-train train --resume C1 --steps 14 --clean-frames 0.5
t_grep "the run was started with --clean-frames 0.7, not 0.5" "$T_ERR" "... message"
t_fails 2 "--resume with another --clean-t" od-train train --resume C1 --steps 14 --clean-t 50
t_grep "the run was started with --clean-t 80, not 50" "$T_ERR" "... message"
t_fails 2 "--clean-frames 1.5: refused" od-train train -o C4 --steps 2 --clean-frames 1.5 pairs.odf
t_ok "... and no run folder" test ! -e C4

# ---- a fresh model from a config
t_ok "od-train init from the tiny config" od-train init --config "$OD_MODEL/transformer/config.json" -s 3 -o fresh
t_ok "... a model od-model checks" od-model info --check fresh
t_ok "... the final linear layer starts at zero (upstream's init)" odcmp --atol 0 --zero \
	fresh/transformer/diffusion_pytorch_model.safetensors:final_layer.linear.weight
t_ok "train --config: a fresh transformer, the base's other components" od-train train --config \
	"$OD_MODEL/transformer/config.json" -s 3 -o F --steps 3 --progress=none toy.odf
t_ok "... its checkpoint samples in od-denoise" sh -c 'od-tag "a" | od-denoise --model F/latest --steps 2 > /dev/null'
t_ok "--progress=machine prints key=value lines" od-train train -o P --steps 2 --progress=machine toy.odf
t_grep '^progress=train step=2 total=2 loss=' "$T_ERR" "... one per step"
t_done
