#!/bin/sh
# od-train vae: a tiny VAE (2 levels of 8 and 16 channels, 4 latent channels,
# the mid-block attention) trained for 160 steps on 6 generated pictures
# (odimg synth) at 16x16 crops. The loss falls: the mean reconstruction term
# of the last 40 steps is below 0.8 times that of the first 40 (measured: 0.363
# -> 0.262 for this seed). The run is deterministic: a second run with one
# thread gives the same weights, state and log bytes. The output folder loads
# in od-encode | od-decode unchanged, and od-train vae-scale sets its
# scaling_factor and shift_factor, which od-encode then reports.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
mkdir pics
for i in 1 2 3 4 5 6; do odimg synth $i 48 40 pics/p$i.png; done
cat > tiny.json <<'JSON'
{"_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
 "block_out_channels": [8, 16], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
 "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "layers_per_block": 1, "norm_num_groups": 4,
 "act_fn": "silu", "mid_block_add_attention": true, "use_quant_conv": false, "use_post_quant_conv": false,
 "scaling_factor": 1.0, "shift_factor": 0.0}
JSON
train() { # OUTDIR THREADS
	od-train vae --config tiny.json -o "$1" --size 16 --steps 160 --batch 4 --lr 3e-3 --seed 1 -j "$2" pics
}
t_ok "od-train vae: 160 steps of a tiny VAE" train run 2
t_ok "the log has a row per step" test "$(wc -l < run/train.csv)" -eq 161
t_grep '^step,loss,recon,kl,lr,grad_norm$' run/train.csv "the log's header"
awk -F, 'NR > 1 && NR <= 41 { a += $3 } NR > 121 { b += $3 } END {
	printf "# recon: first 40 steps %.4f, last 40 steps %.4f\n", a / 40, b / 40; exit !(b < 0.8 * a) }' run/train.csv
t_result $? "the reconstruction loss falls (last 40 steps < 0.8 x first 40)"
t_ok "a second run, one thread" train again 1
t_ok "the same weights, bit for bit" cmp run/vae/diffusion_pytorch_model.safetensors again/vae/diffusion_pytorch_model.safetensors
t_ok "the same training state" cmp run/latest/train_state.safetensors again/latest/train_state.safetensors
t_ok "the same log" cmp run/train.csv again/train.csv
t_ok "the checkpoint layout: latest -> step-0000160, vae -> latest/vae" \
	test "$(readlink run/latest)" = step-0000160 -a "$(readlink run/vae)" = latest/vae -a -f run/vae/config.json
t_ok "od-encode | od-decode with the trained VAE" \
	sh -c 'od-encode --model run --size 32x32 --mode pics/p1.png | od-decode --model run -o dec.png'
t_ok "the decoded picture is 32x32" test "$(odimg info dec.png)" = "32 32"
t_ok "od-train vae-scale" sh -c 'od-train vae-scale -m run --size 16 pics > scale.txt'
t_grep '^scaling_factor=[0-9.e+-]* shift_factor=[0-9.e+-]* mean=[0-9.e+-]* std=[0-9.e+-]* pictures=6$' scale.txt \
	"vae-scale prints the factors and the statistics"
sf=$(sed 's/^scaling_factor=\([^ ]*\) .*/\1/' scale.txt)
t_ok "od-encode with the new factor" sh -c "od-encode --model run --size 16x16 pics/p2.png | od-frame show - > info.txt"
t_grep "scaling_factor=\"$(printf '%.7g' "$sf")\"" info.txt "the latent frame carries scaling_factor $sf"
t_done
