#!/bin/sh
# od-train vae resumes bit for bit: 12 steps, then --resume to 24, give the
# bytes of 24 steps in one go (weights, optimiser state, generators, log),
# whatever the thread counts of the sessions; a checkpoint every 5 steps on
# the way changes nothing. Resuming checks the run's settings and pictures.
# --decoder-only leaves the encoder, and so the latents, as they were.
# An interrupt (SIGINT, SIGTERM) writes the checkpoint of its step.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
mkdir pics
for i in 1 2 3 4; do odimg synth $((i + 10)) 40 40 pics/p$i.png; done
cat > tiny.json <<'JSON'
{"_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
 "block_out_channels": [8, 16], "layers_per_block": 1, "norm_num_groups": 4,
 "mid_block_add_attention": true, "use_quant_conv": false, "use_post_quant_conv": false}
JSON
set -- --config tiny.json --size 16 --batch 3 --lr 2e-3 --beta 0.01 --seed 7
t_ok "12 steps" od-train vae "$@" -o half --steps 12 -j 2 pics
t_ok "a checkpoint at step 12" test "$(readlink half/latest)" = step-0000012
t_ok "resume to step 24 (one thread)" od-train vae --resume half --steps 24 -j 1
t_ok "24 steps in one go, a checkpoint every 5" od-train vae "$@" -o whole --steps 24 --save-every 5 pics
t_ok "the same weights" cmp half/vae/diffusion_pytorch_model.safetensors whole/vae/diffusion_pytorch_model.safetensors
t_ok "the same config" cmp half/vae/config.json whole/vae/config.json
t_ok "the same optimiser state and generators" cmp half/latest/train_state.safetensors whole/latest/train_state.safetensors
t_ok "the same log" cmp half/train.csv whole/train.csv
t_ok "only the latest checkpoint is kept" test "$(ls -d whole/step-*)" = whole/step-0000024
t_ok "resuming a finished run does nothing" od-train vae --resume whole --steps 24
t_ok "... and leaves it as it was" cmp half/train.csv whole/train.csv
t_ok "resume with the pictures given again" od-train vae --resume half --steps 25 --lr 2e-3 pics
t_fails 2 "resume with another learning rate" od-train vae --resume half --steps 30 --lr 1e-3
t_grep "'half': --lr differs from the run's" "$T_ERR" "... names the option"
t_fails 2 "resume with other pictures" od-train vae --resume half --steps 30 pics/p1.png
t_fails 2 "a new run into a folder that holds one" od-train vae "$@" -o half --steps 30 pics
t_fails 2 "resume a folder without a run" od-train vae --resume pics --steps 30

# a warm-up and cosine schedule: stopped at 12 with --until and resumed, it
# gives the bytes of one go; its log's rate is the schedule's
set -- --config tiny.json --size 16 --batch 3 --lr 2e-3 --beta 0.01 --seed 7 --warmup 4 --schedule cosine --min-lr 1e-4
t_ok "a cosine run stopped at 12 of 24" od-train vae "$@" -o chalf --steps 24 --until 12 pics
t_ok "... its checkpoint is step 12" test "$(readlink chalf/latest)" = step-0000012
t_ok "resumed to 24" od-train vae --resume chalf --steps 24 --schedule cosine
t_ok "the cosine run in one go" od-train vae "$@" -o cwhole --steps 24 pics
t_ok "the same weights" cmp chalf/vae/diffusion_pytorch_model.safetensors cwhole/vae/diffusion_pytorch_model.safetensors
t_ok "the same optimiser state" cmp chalf/latest/train_state.safetensors cwhole/latest/train_state.safetensors
t_ok "the same log" cmp chalf/train.csv cwhole/train.csv
lr_of() { awk -F, -v k="$1" '$1 == k { print $5 }' cwhole/train.csv; }
t_ok "step 2 warms up to 2/4 of the peak" awk -v v="$(lr_of 2)" 'BEGIN { exit !(v == 0.001) }'
t_ok "step 14 is half-way down the cosine" awk -v v="$(lr_of 14)" 'BEGIN { exit !(v > 0.00104999 && v < 0.00105001) }'
t_ok "step 24 is the floor" awk -v v="$(lr_of 24)" 'BEGIN { exit !(v == 0.0001) }'
t_ok "the constant run logs its one rate" test "$(awk -F, 'NR > 1 { print $5 }' whole/train.csv | sort -u)" = 0.002
t_fails 2 "training past the cosine's end" od-train vae --resume cwhole --steps 30
t_grep "'cwhole': --steps 30 is past the run's cosine, which ends at step 24" "$T_ERR" "... says where it ends"
t_fails 2 "resume with another schedule" od-train vae --resume chalf --steps 24 --schedule constant
t_grep "'chalf': --schedule differs from the run's" "$T_ERR" "... names the option"
t_fails 2 "resume with another warm-up" od-train vae --resume chalf --steps 24 --warmup 5
t_fails 2 "--until past --steps" od-train vae "$@" -o late --steps 10 --until 11 pics
t_ok "... and leaves no folder" test ! -e late

# the decoder alone (--decoder-only): the encoder keeps its bytes, so od-encode
# gives the latents of the model it started from, which the tuned decoder draws
# otherwise; it resumes bit for bit like a whole-VAE run
set -- --size 16 --batch 3 --lr 2e-3 --seed 7 --decoder-only
t_ok "the decoder alone, 3 steps from the 24-step run" od-train vae --model whole "$@" -o dec --steps 3 pics
t_ok "... resumed to 6" od-train vae --resume dec --steps 6 --decoder-only
t_ok "... 6 steps in one go" od-train vae --model whole "$@" -o dec6 --steps 6 pics
t_ok "... the same weights" cmp dec/vae/diffusion_pytorch_model.safetensors dec6/vae/diffusion_pytorch_model.safetensors
t_ok "... the same optimiser state" cmp dec/latest/train_state.safetensors dec6/latest/train_state.safetensors
t_ok "... od-encode gives the latents of the model it started from" sh -c '
	od-encode --model whole -S 32x32 pics/p1.png pics/p2.png > base.odf &&
	od-encode --model dec -S 32x32 pics/p1.png pics/p2.png > dec.odf && cmp base.odf dec.odf'
t_ok "... od-decode draws them otherwise" sh -c '
	od-decode --model whole -o base_%d.png < base.odf && od-decode --model dec -o dec_%d.png < base.odf &&
	test -s base_0.png && test -s dec_0.png && ! cmp -s base_0.png dec_0.png'
t_fails 2 "a whole-VAE run resumed with --decoder-only" od-train vae --resume whole --steps 30 --decoder-only
t_grep "'whole': --decoder-only differs from the run's" "$T_ERR" "... names the option"
t_fails 2 "--decoder-only on a fresh model" od-train vae --config tiny.json "$@" -o fresh --steps 3 pics
t_grep "give --model BASE" "$T_ERR" "... says it needs a model"
t_ok "... and leaves no folder" test ! -e fresh

# an interrupt: the step in progress ends and its checkpoint is written; resumed
# from it, the run gives the bytes of one that was never interrupted
# (env --default-signal: the signals' default actions, whatever this script inherited)
set -- --config tiny.json --size 16 --batch 3 --lr 2e-3 --beta 0.01 --seed 7
env --default-signal od-train vae "$@" -o int --steps 1000000 --progress=none pics 2> int.err &
pid=$!
t_wait_lines int/train.csv 3
kill -INT $pid
wait $pid
st=$?
t_result "$([ $st -eq 1 ] && [ "$(wc -l < int.err)" -eq 1 ] && echo 0 || echo 1)" "an interrupt: exit 1, one line ($st)"
t_grep "interrupted at step [0-9]*; the checkpoint of that step is saved (continue with --resume int)" int.err \
	"... naming the step and how to go on"
n=$(tail -n 1 int/train.csv | cut -d, -f1)
t_ok "... the checkpoint of that step ($n) is written" test "$(readlink int/latest)" = "$(printf 'step-%07d' "$n")"
t_ok "... the run resumes, 2 steps further" od-train vae --resume int --steps $((n + 2)) --progress=none
t_ok "... $((n + 2)) steps in one go" od-train vae "$@" -o nonstop --steps $((n + 2)) --progress=none pics
t_ok "... the same weights" cmp int/vae/diffusion_pytorch_model.safetensors nonstop/vae/diffusion_pytorch_model.safetensors
t_ok "... and the same log" cmp int/train.csv nonstop/train.csv
t_done
