#!/bin/sh
# od-train vae resumes bit for bit: 12 steps, then --resume to 24, give the
# bytes of 24 steps in one go (weights, optimiser state, generators, log),
# whatever the thread counts of the sessions; a checkpoint every 5 steps on
# the way changes nothing. Resuming checks the run's settings and pictures.
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
t_done
