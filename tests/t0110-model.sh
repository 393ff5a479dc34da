#!/bin/sh
# od-model: parameter counts from configs alone, weight validation, bad checkpoints.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
FULL=$OD_GOLDEN/onediffusion-full-configs

t_ok "full-size configs load" od-model info --params "$FULL"
cp "$T_TMP/out" params.txt
t_grep '^transformer 2800389184$' params.txt "NextDiT has 2,800,389,184 parameters (numerics.md §1.2)"
t_grep '^text_encoder 1223527424$' params.txt "T5-XL encoder has 1.2235B parameters (numerics.md §1.3)"
t_grep '^vae 83819683$' params.txt "SD3 VAE parameter count"
t_ok "tiny checkpoint weights validate" od-model info --check "$OD_MODEL"
cp "$T_TMP/out" info.txt
t_grep 'all 60 tensors match' info.txt "tiny transformer: 60 tensors"
t_grep '353320 parameters' info.txt "tiny transformer: 353,320 parameters (tests/golden/README.md §3)"
t_grep '1753347 parameters' info.txt "tiny VAE: 1,753,347 parameters"

# a checkpoint whose config disagrees with its weights
cp -r "$OD_MODEL" bad
sed 's/"hidden_size": 96/"hidden_size": 120/' "$OD_MODEL/transformer/config.json" > bad/transformer/config.json
t_fails 4 "config/weights mismatch is a model error" od-model info --check bad
t_grep "x_embedder.weight' has shape (96, 64), the config implies (120, 64)" "$T_ERR" "mismatch names tensor and shapes"
# truncated weights
cp -r "$OD_MODEL" trunc
head -c 100000 "$OD_MODEL/vae/diffusion_pytorch_model.safetensors" > trunc/vae/diffusion_pytorch_model.safetensors
t_fails 4 "truncated safetensors is a model error" od-model info --check trunc
t_grep "truncated" "$T_ERR" "truncation is named"
# broken JSON
cp -r "$OD_MODEL" badjson
printf '{"hidden_size": ' > badjson/transformer/config.json
t_fails 4 "bad config JSON" od-model info badjson
t_fails 4 "missing model folder" od-model info no-such-model

# random weights from configs (tiny, so it is quick): same spec, loads back
t_ok "random bf16 checkpoint from configs" od-model random --dtype bf16 --seed 7 "$OD_MODEL" rnd
t_ok "random checkpoint validates" od-model info --check rnd
cp "$T_TMP/out" rnd.txt
t_grep '60 BF16' rnd.txt "random weights are BF16"
t_ok "random weights are deterministic" sh -c "od-model random --dtype bf16 --seed 7 '$OD_MODEL' rnd2 && cmp rnd/transformer/diffusion_pytorch_model.safetensors rnd2/transformer/diffusion_pytorch_model.safetensors"
t_done
