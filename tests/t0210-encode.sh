#!/bin/sh
# od-encode: the golden VAE encodes (tests/golden/README.md §6) and the
# pipeline's condition latents (§8) through the real binary, the seed mapping
# of numerics.md §5.5, --mode, scaling_factor from the config, and bad input.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
VAE=$OD_GOLDEN/cases/vae
PIPE=$OD_GOLDEN/cases/pipeline

# a hand-made safetensors file holding one F32 tensor "x" of zeros
st() { # name shape-json floats
	hdr="{\"x\":{\"dtype\":\"F32\",\"shape\":$2,\"data_offsets\":[0,$(($3 * 4))]}}"
	while [ $(( ${#hdr} % 8 )) -ne 0 ]; do hdr="$hdr "; done
	n=${#hdr}
	printf "$(printf '\\%03o' $((n & 255)) $((n >> 8 & 255)) 0 0 0 0 0 0)" > "$1"
	printf '%s' "$hdr" >> "$1"
	head -c $(($3 * 4)) /dev/zero >> "$1"
}

# a copy of the model whose VAE config says scaling_factor 1: its latents are z itself
mkdir -p sf1/vae
ln -s "$OD_MODEL/vae/diffusion_pytorch_model.safetensors" sf1/vae/
sed 's/"scaling_factor": 1.5305/"scaling_factor": 1.0/' "$OD_MODEL/vae/config.json" > sf1/vae/config.json

for c in encode_64x64 encode_48x80; do
	F=$VAE/$c.safetensors
	t_ok "$c: image and eps as frames" sh -c "od-frame from-safetensors $F --tensor image --kind image --squeeze -o $c.img.odf &&
		od-frame from-safetensors $F --tensor eps --kind noise --squeeze -o $c.eps.odf"
	t_ok "$c: z_model with the recorded eps (atol 5e-5)" sh -c \
		"od-encode --noise $c.eps.odf $c.img.odf | odcmp --atol 5e-5 - $F:z_model"
	t_ok "$c: scaling_factor comes from vae/config.json (1.0 gives z)" sh -c \
		"od-encode -m sf1 --noise $c.eps.odf $c.img.odf | odcmp --atol 5e-5 - $F:z"
	t_ok "$c: --mode is the posterior mean (atol 5e-5)" sh -c \
		"od-encode -m sf1 --mode $c.img.odf | odcmp --atol 5e-5 - $F:mean"
	seed=$(grep -ao '"seed": *"[0-9]*"' "$F" | head -1 | tr -dc 0-9)
	t_ok "$c: --seed $seed --skip 0 draws the recorded eps (the golden draws it first)" sh -c \
		"od-encode --seed $seed --skip 0 $c.img.odf | odcmp --atol 1e-4 - $F:z_model"
done
t_ok "the mode differs from a sample (the test can fail)" sh -c \
	"! od-encode --mode encode_64x64.img.odf | odcmp --atol 1e-3 - $VAE/encode_64x64.safetensors:z_model >/dev/null"
st zero.safetensors '[16,8,8]' 1024
t_ok "--mode equals a sample with zero noise, exactly" sh -c \
	"od-frame from-safetensors zero.safetensors --tensor x --kind noise -o zero.odf &&
	 od-encode --noise zero.odf encode_64x64.img.odf | odcmp --exact - \$(od-encode --mode encode_64x64.img.odf > mode.odf; echo mode.odf)"

# the pipeline's condition pictures: preprocessing, recorded eps, and the run's seed
for r in depth2image_mask10:depth_100x75:1002 image2depth_mask01:rgb_64x64:1003 multiview_mask001010:mv_view0_64x64:1004; do
	run=${r%%:*}
	rest=${r#*:}
	pic=${rest%%:*}
	seed=${rest#*:}
	for v in nocap softcap; do
		P=$PIPE/${run}_$v.safetensors
		t_ok "$run ($v): eps as noise" od-frame from-safetensors "$P" --tensor rand1.vae_posterior_eps --kind noise -o eps.odf
		t_ok "$run ($v): cond_latents from $pic.png with the recorded eps (atol 5e-5)" sh -c \
			"od-encode -S 64x64 --noise eps.odf $PIPE/$pic.png | odcmp --atol 5e-5 - $P:cond_latents"
	done
	t_ok "$run: cond_latents from --seed $seed alone (atol 1e-4)" sh -c \
		"od-encode -S 64x64 --seed $seed $PIPE/$pic.png | odcmp --atol 1e-4 - $PIPE/${run}_nocap.safetensors:cond_latents"
done
t_ok "a different seed gives a different latent (the test can fail)" sh -c \
	"! od-encode -S 64x64 --seed 1003 $PIPE/depth_100x75.png | odcmp --atol 1e-3 - $PIPE/depth2image_mask10_nocap.safetensors:cond_latents >/dev/null"
t_ok "the seed's eps is the run's rand1 draw: --seed and --noise agree to 2e-5" sh -c \
	"od-frame from-safetensors $PIPE/depth2image_mask10_nocap.safetensors --tensor rand1.vae_posterior_eps --kind noise -o eps.odf &&
	 od-encode -S 64x64 --noise eps.odf $PIPE/depth_100x75.png > by-noise.odf &&
	 od-encode -S 64x64 --seed 1002 $PIPE/depth_100x75.png | odcmp --atol 2e-5 - by-noise.odf"

# seed mapping: picture k of a run starts after (1 + k)·16·h·w words
t_ok "two pictures, one seed" sh -c "od-encode -S 64x64 --seed 7 $PIPE/rgb_64x64.png $PIPE/mv_view0_64x64.png > two.odf"
t_ok "picture 1 = --skip 2·1024 on its own" sh -c \
	"od-encode -S 64x64 --seed 7 --skip 2048 $PIPE/mv_view0_64x64.png | odcmp --exact - two.odf@1"
t_ok "picture 0 = --skip 1024 on its own" sh -c \
	"od-encode -S 64x64 --seed 7 --skip 1024 $PIPE/rgb_64x64.png | odcmp --exact - two.odf@0"
t_ok "noise frames are consumed in order across pictures" sh -c \
	"od-frame from-safetensors $VAE/encode_64x64.safetensors --tensor eps --kind noise --squeeze > e1.odf &&
	 od-frame from-safetensors $PIPE/depth2image_mask10_nocap.safetensors --tensor rand1.vae_posterior_eps --kind noise > e2.odf &&
	 cat e1.odf e2.odf > e12.odf &&
	 od-encode -S 64x64 --noise e12.odf encode_64x64.img.odf $PIPE/depth_100x75.png > n2.odf &&
	 odcmp --atol 5e-5 n2.odf@1 $PIPE/depth2image_mask10_nocap.safetensors:cond_latents"

# inputs: a directory, a list, stdin; metadata
mkdir pics
cp "$PIPE/rgb_64x64.png" pics/b.png
cp "$PIPE/mv_view0_64x64.png" pics/a.png
printf 'not a picture' > pics/notes.txt
t_ok "a directory: its pictures in name order" sh -c "od-encode -S 64x64 --mode pics > dir.odf"
t_ok "the same latents as the files in that order" sh -c "od-encode -S 64x64 --mode pics/a.png pics/b.png | odcmp --exact - dir.odf"
od-frame show dir.odf > dirshow.txt
t_grep '^0: .*job="0" id="a"' dirshow.txt "a directory's pictures are jobs of their own: job and id of the first"
t_grep '^1: .*job="1" id="b"' dirshow.txt "... of the second"
t_ok "pictures named as arguments are one job's: no job number" sh -c \
	"od-encode -S 64x64 --mode pics/a.png pics/b.png | od-frame show | grep -v 'job=' | grep -q '^1: '"
t_ok "a directory's pictures are each their own upstream call: job 1 with seed 8 is picture b alone with seed 8" \
	sh -c "od-encode -S 64x64 -s 7 pics > dir7.odf && od-encode -S 64x64 -s 8 pics/b.png | odcmp --exact - dir7.odf@1"
t_ok "--list" sh -c "printf 'pics/a.png\npics/b.png\n' | od-encode -S 64x64 --mode --list - | cmp - dir.odf"
t_ok "stdin" sh -c "od-encode -S 64x64 --mode < pics/a.png | odcmp --exact - dir.odf@0"
t_ok "frame metadata" sh -c "od-encode -S 64x64 --seed 3 --task depth2image --set k=v pics/a.png | od-frame show > show.txt"
t_grep 'latent f32 (16, 8, 8) condition' show.txt "a (16, h, w) condition latent"
for kv in 'scaling_factor="1.5305"' 'height="64"' 'width="64"' 'seed="3"' 'posterior="sample"' 'task="depth2image"' 'k="v"' 'source="pics/a.png"'; do
	t_grep "$kv" show.txt "metadata $kv"
done
t_ok "the same bytes with 1 and 2 threads" sh -c "od-encode -j 1 -S 64x64 pics/a.png > j1.odf && od-encode -j 2 -S 64x64 pics/a.png | cmp - j1.odf"
t_ok "--role target" sh -c "od-encode -S 64x64 --mode --role target pics/a.png | od-frame show | grep -q target"
t_ok "--pixels then encode = encode" sh -c "od-encode -S 64x64 --pixels pics/a.png | od-encode --mode | odcmp --exact - dir.odf@0"

# buckets: the pictures of a directory (or a --list) are jobs of their own and
# each gets its own bucket; pictures named as arguments (one job's conditions)
# share the first one's; each frame records its picture's own size unless
# --size chose the size
mkdir mixed
cp "$PIPE/depth_100x75.png" mixed/a-landscape.png
od-encode --pixels -S 48x80 "$PIPE/rgb_64x64.png" | od-decode -o mixed/b-portrait.png
t_ok "a directory of a landscape and a portrait picture" sh -c "od-encode --pixels mixed | od-frame show > mixed.txt"
t_grep '^0: image f32 (3, 416, 576) .*picture_size="100x75"' mixed.txt "the landscape one: its bucket, its size recorded"
t_grep '^1: image f32 (3, 640, 384) .*picture_size="48x80"' mixed.txt "the portrait one: its own bucket, not cropped to the first's"
t_ok "the same pictures as arguments share the first one's bucket" sh -c \
	"od-encode --pixels mixed/a-landscape.png mixed/b-portrait.png | od-frame show | grep -c '(3, 416, 576)' | grep -qx 2"
t_ok "--bucket each: arguments each their own" sh -c \
	"od-encode --pixels --bucket each mixed/a-landscape.png mixed/b-portrait.png | od-frame show | grep -q '^1: .*(3, 640, 384)'"
t_ok "--bucket shared: a directory in one bucket" sh -c \
	"od-encode --pixels --bucket shared mixed | od-frame show | grep -c '(3, 416, 576)' | grep -qx 2"
t_ok "--list: each its own" sh -c \
	"ls mixed/*.png | od-encode --pixels --list - | od-frame show | grep -q '^1: .*(3, 640, 384)'"
t_ok "--size: no picture_size" sh -c "od-encode --pixels -S 64x64 mixed | od-frame show > sized.txt && ! grep -q picture_size sized.txt"
t_fails 2 "--bucket bogus" od-encode --pixels --bucket bogus mixed

# bad input: one line, the documented status, no output file
t_fails 2 "--size not a multiple of 16" od-encode -S 100x64 pics/a.png
t_grep "not a multiple of 16" "$T_ERR" "size message"
t_fails 2 "--mode with --seed" od-encode --mode --seed 1 pics/a.png
t_fails 2 "no model" env -u OD_MODEL od-encode pics/a.png
t_fails 2 "bad --role" od-encode --role negative pics/a.png
t_fails 2 "unknown option" od-encode --frobnicate
t_fails 2 "--device nonsense" od-encode --device tpu pics/a.png
# a (3, 8, 8) image frame and a (4, 8, 8) one, from hand-made safetensors
st small.safetensors '[3,8,8]' 192
st four.safetensors '[4,16,16]' 1024
t_ok "hand-made tensors" sh -c "od-frame from-safetensors small.safetensors --tensor x --kind image -o small.odf &&
	od-frame from-safetensors four.safetensors --tensor x --kind image -o four.odf &&
	od-frame from-safetensors four.safetensors --tensor x --kind latent -o lat4.odf"
t_fails 3 "image frame 8x8: not a multiple of 16" od-encode -o out.odf small.odf
t_grep "'small.odf': frame 0: 8x8 is not a multiple of 16" "$T_ERR" "names file, frame and size"
t_ok "no output file" test ! -e out.odf
t_fails 3 "image frame with 4 channels" od-encode -o out.odf four.odf
t_grep "frame 0 is image f32 (4, 16, 16)" "$T_ERR" "names the wrong shape"
t_fails 3 "a latent frame is not an image" od-encode -o out.odf lat4.odf
t_fails 3 "image frame of another size than --size" od-encode -S 32x32 encode_64x64.img.odf
t_fails 3 "noise runs out" od-encode -S 64x64 --noise e1.odf -o out.odf pics/a.png pics/b.png
t_grep "the noise ran out at picture 1" "$T_ERR" "noise message"
t_ok "no output file" test ! -e out.odf
t_fails 3 "noise frames must be of kind noise" od-encode --noise lat4.odf pics/a.png
t_fails 3 "truncated frame stream" sh -c "head -c 1000 encode_64x64.img.odf | od-encode"
# missing or mismatched VAE weights
mkdir -p noweights/vae
cp "$OD_MODEL/vae/config.json" noweights/vae/
t_fails 4 "VAE without weights" od-encode -m noweights -o out.odf pics/a.png
t_ok "no output file" test ! -e out.odf
mkdir -p wrong/vae
ln -s "$OD_MODEL/vae/diffusion_pytorch_model.safetensors" wrong/vae/
sed 's/"latent_channels": 16/"latent_channels": 8/' "$OD_MODEL/vae/config.json" > wrong/vae/config.json
t_fails 4 "weights that do not match the config" od-encode -m wrong pics/a.png
t_grep "has shape" "$T_ERR" "names the tensor and the shapes"
t_fails 4 "no such model" od-encode -m no-such-model pics/a.png
t_done
