#!/bin/sh
# od-train vae and vae-scale on bad input: one line on stderr, the documented
# status (od-train(1): 2 usage, 3 bad input data, 4 model problem), and no
# checkpoint, link or log left behind.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
mkdir pics empty
for i in 1 2; do odimg synth $i 40 40 pics/p$i.png; done
odimg synth 3 12 40 small.png
printf 'not a picture' > broken.png
cat > tiny.json <<'JSON'
{"in_channels": 3, "out_channels": 3, "latent_channels": 4, "block_out_channels": [8, 16],
 "layers_per_block": 1, "norm_num_groups": 4}
JSON
sed 's/"in_channels": 3/"in_channels": 4/' tiny.json > four.json
sed 's/\[8, 16\]/[8, 18]/' tiny.json > groups.json
printf '{"in_channels": ' > cut.json
set -- --size 16 --steps 2 --batch 2
nothing_left() { # OUTDIR: not even the folder (it did not exist before)
	! test -e "$1"
}
t_fails 3 "no pictures (an empty folder)" od-train vae --config tiny.json -o o1 "$@" empty
t_grep "'empty': no pictures" "$T_ERR" "... names the folder"
t_ok "... and leaves nothing" nothing_left o1
t_fails 3 "a picture smaller than the crop" od-train vae --config tiny.json -o o2 "$@" pics small.png
t_grep "'small.png': 12x40 is smaller than the 16x16 crop" "$T_ERR" "... names the picture and the sizes"
t_ok "... and leaves nothing" nothing_left o2
t_fails 3 "a broken picture" od-train vae --config tiny.json -o o3 "$@" pics broken.png
t_fails 4 "a config with 4 input channels" od-train vae --config four.json -o o4 "$@" pics
t_grep "in_channels 4 and out_channels 3" "$T_ERR" "... says which channels do not fit"
t_fails 4 "a config whose channels do not fit its groups" od-train vae --config groups.json -o o5 "$@" pics
t_grep "block_out_channels\[1\] = 18 is not a positive multiple of 4" "$T_ERR" "... names the channels"
t_fails 4 "a truncated config" od-train vae --config cut.json -o o6 "$@" pics
t_fails 4 "a missing config" od-train vae --config nothing.json -o o7 "$@" pics
t_fails 2 "a crop size the VAE cannot take" od-train vae --config tiny.json -o o8 --size 15 --steps 2 pics
t_fails 2 "no --steps" od-train vae --config tiny.json -o o9 --size 16 pics
t_fails 2 "both --config and --model" od-train vae --config tiny.json --model "$OD_MODEL" -o o9 "$@" pics
t_fails 2 "no pictures given" od-train vae --config tiny.json -o o9 "$@"
t_fails 2 "--resume with --config" od-train vae --resume o1 --config tiny.json --steps 2
t_fails 2 "an unknown option" od-train vae --config tiny.json -o o9 "$@" --bogus pics
t_fails 4 "a model folder without vae/" od-train vae --model pics -o o10 "$@" pics
t_fails 3 "vae-scale: no pictures" od-train vae-scale -m "$OD_MODEL" --size 16 empty
t_fails 2 "vae-scale: a size the VAE cannot take" od-train vae-scale -m "$OD_MODEL" --size 20 pics
# a fatal signal (not an interrupt, which writes a checkpoint: t0851) before the
# first checkpoint: nothing of the run stays
env --default-signal od-train vae --config tiny.json -o sig --size 16 --steps 100000000 --progress=none pics \
	2> /dev/null &
pid=$!
t_wait_lines sig/train.csv 3
kill -HUP $pid
{ wait $pid; } 2> /dev/null
st=$?
t_result $((st != 129)) "SIGHUP before the first checkpoint: killed by the signal ($st)"
t_ok "... and leaves nothing" nothing_left sig
t_done
