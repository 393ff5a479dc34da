#!/bin/sh
# od-decode: the golden VAE decodes (tests/golden/README.md §6) and the
# pipelines' output pictures (§8) through the real binary; output names, formats,
# metadata, colour maps, contact sheets; bad input.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
VAE=$OD_GOLDEN/cases/vae
PIPE=$OD_GOLDEN/cases/pipeline

for c in dec_8x8 dec_6x10 dec_b2_8x8; do
	F=$VAE/$c.safetensors
	t_ok "$c: latents as frames" od-frame from-safetensors "$F" --tensor z_model --split -o $c.odf
	t_ok "$c: decoded (atol 1e-4)" sh -c "od-decode --frames $c.odf | odcmp --atol 1e-4 - $F:decoded"
	t_ok "$c: pictures" od-decode -o $c-%d.png $c.odf
	t_ok "$c: picture 0 within 1 level of image_uint8" odimg cmp --max 1 $c-0.png "$F:image_uint8[0]"
done
t_ok "dec_b2_8x8: picture 1 within 1 level" odimg cmp --max 1 dec_b2_8x8-1.png "$VAE/dec_b2_8x8.safetensors:image_uint8[1]"
t_ok "the two pictures differ (the comparison can fail)" sh -c \
	"! odimg cmp --max 1 dec_b2_8x8-1.png '$VAE/dec_b2_8x8.safetensors:image_uint8[0]' >/dev/null"
t_ok "the same bytes with 1 and 2 threads" sh -c "od-decode -j 1 --frames dec_b2_8x8.odf > j1.odf && od-decode -j 2 --frames dec_b2_8x8.odf | cmp - j1.odf"
t_ok "dec_6x10 is 80x48" sh -c "odimg info dec_6x10-0.png | grep -qx '80 48'"
t_ok "image frames are written directly, as the latents' pictures" sh -c \
	"od-decode --frames dec_b2_8x8.odf | od-decode -o img-%d.png && cmp img-0.png dec_b2_8x8-0.png && cmp img-1.png dec_b2_8x8-1.png"

# the pipelines: final latents -> the generated frames' pictures (images_uint8 and the PNGs, ±2 levels)
for r in t2i:0 depth2image_mask10:0 image2depth_mask01:1 multiview_mask001010:2,4; do
	run=${r%%:*}
	idx=${r#*:}
	for v in nocap softcap; do
		P=$PIPE/${run}_$v.safetensors
		if [ "$run" = t2i ]; then
			t_ok "$run ($v): final latents" od-frame from-safetensors "$P" --tensor final_latents --squeeze -o fl.odf
		else
			t_ok "$run ($v): final latents, generated frames $idx" sh -c \
				"od-frame from-safetensors $P --tensor final_latents --squeeze --split | od-frame select --index $idx > fl.odf"
		fi
		t_ok "$run ($v): decoder output (atol 1e-4)" sh -c "od-decode --frames fl.odf | odcmp --atol 1e-4 - $P:vae_decode_out"
		rm -f out-*.png
		t_ok "$run ($v): pictures" od-decode -o out-%d.png fl.odf
		k=0
		for i in $(echo "$idx" | tr , ' '); do
			t_ok "$run ($v): picture $k vs images_uint8 (±2)" odimg cmp --max 2 out-$k.png "$P:images_uint8[$k]"
			t_ok "$run ($v): picture $k vs ${run}_${v}_out$k.png (±2)" odimg cmp --max 2 out-$k.png "$PIPE/${run}_${v}_out$k.png"
			k=$((k + 1))
		done
	done
done

F=$VAE/dec_b2_8x8.safetensors
# output names and formats
t_ok "one picture to stdout (PNG)" sh -c "od-decode dec_8x8.odf > one.png && cmp one.png dec_8x8-0.png"
t_ok "several pictures on stdout follow each other" sh -c "od-decode dec_b2_8x8.odf > two.bin && cat dec_b2_8x8-0.png dec_b2_8x8-1.png | cmp - two.bin"
t_ok "--start and a %03d pattern" sh -c "od-decode --start 5 -o 'p_%03d.png' dec_b2_8x8.odf && test -s p_005.png && test -s p_006.png"
t_ok "%% is a percent sign" sh -c "od-decode -o 'a%%_%d.png' dec_8x8.odf && test -s 'a%_0.png'"
t_ok "JPEG from the extension" sh -c "od-decode --quality 100 -o j.jpg dec_8x8.odf && file j.jpg | grep -q JPEG"
t_ok "JPEG q100 within 8 levels of the PNG" odimg cmp --max 8 j.jpg dec_8x8-0.png
t_ok "--format jpeg on stdout" sh -c "od-decode -F jpeg dec_8x8.odf | head -c 3 | od -An -tx1 | grep -q 'ff d8 ff'"
t_ok "metadata in PNG text chunks" sh -c \
	"od-frame select --set prompt='a cat' --set seed=42 dec_8x8.odf | od-decode -o meta.png && grep -aq 'prompt.a cat' meta.png && grep -aq 'seed.42' meta.png"
t_ok "non-ASCII metadata in an iTXt chunk" sh -c \
	"od-frame select --set prompt='café' dec_8x8.odf | od-decode -o u.png && grep -aq iTXt u.png && grep -aq 'café' u.png"
t_ok "metadata in a JPEG comment" sh -c \
	"od-frame select --set prompt='a dog' dec_8x8.odf | od-decode -o meta.jpg && grep -aq 'prompt=a dog' meta.jpg"
# contact sheets
t_ok "--grid auto" sh -c "od-decode --grid auto -o sheet.png dec_b2_8x8.odf && odimg info sheet.png | grep -qx '128 64'"
t_ok "--grid 1x2" sh -c "od-decode --grid 1x2 -o sheet2.png dec_b2_8x8.odf && odimg info sheet2.png | grep -qx '64 128'"
t_ok "sheet cell 0 is picture 0" sh -c \
	"test \"\$(odimg pixel sheet2.png 10 20)\" = \"\$(odimg pixel dec_b2_8x8-0.png 10 20)\""
t_ok "sheet cell 1 is picture 1" sh -c \
	"test \"\$(odimg pixel sheet2.png 10 84)\" = \"\$(odimg pixel dec_b2_8x8-1.png 10 20)\""
t_fails 2 "--grid too small" od-decode --grid 1x1 -o s.png dec_b2_8x8.odf
# colour maps
t_ok "--colormap gray: one channel" sh -c "od-decode --colormap gray -o g.png dec_8x8.odf && file g.png | grep -q grayscale"
odimg make png-gray8 grey.png
t_ok "a grey picture's luma is itself" sh -c \
	"od-encode --pixels -S 48x32 grey.png | od-decode --colormap gray -o g2.png && odimg cmp g2.png grey.png"
t_ok "--colormap spectral" sh -c "od-encode --pixels -S 48x32 grey.png | od-decode --colormap spectral -o sp.png"
t_ok "spectral: the brightest pixel (255, the marker) is Spectral's red end" sh -c "test \"\$(odimg pixel sp.png 0 0)\" = '158 1 66'"
t_ok "spectral: the darkest (0, the bar's start) is its blue end" sh -c "test \"\$(odimg pixel sp.png 0 12)\" = '94 79 162'"

# roles, rays, other kinds
t_ok "--role target keeps only targets" sh -c \
	"od-frame select --index 1 --set-role target dec_b2_8x8.odf > t1.odf && cat dec_8x8.odf t1.odf | od-decode --role target > r.png && cmp r.png dec_b2_8x8-1.png"
od-frame from-safetensors "$OD_GOLDEN/cases/rays/gradio_3v.safetensors" --tensor S8.rays16 --kind rays --split -o rays.odf
t_fails 2 "a ray frame without --cameras or --skip-rays is a usage error" od-decode -o x.png rays.odf
t_grep "frame 0 is a ray frame: give --cameras FILE" "$T_ERR" "ray message says what to do"
t_ok "--skip-rays passes over them" sh -c "cat dec_8x8.odf rays.odf | od-decode --skip-rays -o sk.png && cmp sk.png dec_8x8-0.png"
t_ok "image frames need no model" sh -c "od-decode --frames dec_8x8.odf > img.odf && env -u OD_MODEL od-decode img.odf > nomodel.png && cmp nomodel.png dec_8x8-0.png"

# bad input: one line, documented status, no output
t_fails 2 "two pictures for one file name" od-decode -o single.png dec_b2_8x8.odf
t_grep "names one file but the input has several pictures" "$T_ERR" "message says what to do"
t_ok "nothing written" test ! -e single.png
t_fails 2 "unknown extension" od-decode -o x.bmp dec_8x8.odf
t_fails 2 "two conversions in the pattern" od-decode -o '%d_%d.png' dec_8x8.odf
t_fails 2 "%s in the pattern" od-decode -o '%s.png' dec_8x8.odf
t_fails 2 "bad --colormap" od-decode --colormap jet dec_8x8.odf
t_fails 2 "bad --quality" od-decode --quality 0 dec_8x8.odf
t_fails 2 "--frames with --grid" od-decode --frames --grid auto dec_8x8.odf
t_fails 2 "a latent without a model" env -u OD_MODEL od-decode dec_8x8.odf
t_fails 2 "unknown option" od-decode --frobnicate
mkdir -p bad/vae
cp "$OD_MODEL/vae/config.json" bad/vae/
head -c 5000 "$OD_MODEL/vae/diffusion_pytorch_model.safetensors" > bad/vae/diffusion_pytorch_model.safetensors
t_fails 4 "truncated VAE weights" od-decode -m bad -o x.png dec_8x8.odf
t_ok "no output" test ! -e x.png
od-frame from-safetensors "$OD_GOLDEN/cases/rays/gradio_3v.safetensors" --tensor S8.rays6 --kind latent --split -o six.odf
t_fails 3 "a latent frame of the wrong shape" od-decode -o x.png six.odf
t_grep "'six.odf': frame 0 is latent f32 (8, 8, 6)" "$T_ERR" "names file, frame and shape"
t_ok "no output" test ! -e x.png
t_fails 3 "a truncated stream" sh -c "head -c 3000 dec_b2_8x8.odf | od-decode -o 'y_%d.png'"
t_fails 3 "an image frame of the wrong shape" sh -c \
	"od-frame from-safetensors $OD_GOLDEN/cases/rays/gradio_3v.safetensors --tensor S8.rays6 --kind image --split | od-decode --frames"

# every generated picture records all the parameters of its run: a PNG text
# chunk per key, and the A1111-style "parameters" chunk; --json a sidecar
PIPE=$OD_GOLDEN/cases/pipeline
t_ok "a depth map from a picture, every parameter recorded" sh -c \
	"{ od-tag -N -t depth2image 'a house'; od-encode -S 64x64 --set picture_size=100x75 $PIPE/depth_100x75.png; } |
	 od-denoise --mask 01 -n 2 -g 3 -s 42 > map.odf && od-decode -o map.png --json map.odf && odimg text map.png > map.txt"
for kv in 'prompt=\[\[depth2image\]\] a house$' 'negative_prompt=monochrome, greyscale' 'task=depth2image$' 'seed=42$' \
	'steps=2$' 'guidance=3$' 'size=64x64$' 'mask=01$' 'model=tiny-onediffusion$' "source=$PIPE/depth_100x75.png\$" \
	'picture_size=100x75$'; do
	t_grep "^$kv" map.txt "the PNG records ${kv%%=*}"
done
t_grep '^parameters=\[\[depth2image\]\] a house\\nNegative prompt: monochrome, greyscale.*\\nSteps: 2, Sampler: Euler, .*CFG scale: 3, Seed: 42, Size: 64x64, Model: tiny-onediffusion, Task: depth2image, Mask: 01, Source: ' \
	map.txt "the A1111 parameters chunk: prompt, negative prompt, then Key: value pairs"
t_ok "--json: map.json beside map.png" test -s map.json
t_grep '"seed": "42",' map.json "the JSON holds the seed"
t_grep '"negative_prompt": "monochrome, ' map.json "the JSON holds the negative prompt"
t_grep '"picture_size": "100x75",' map.json "the JSON holds the picture's size"
# an image->map task gives the map back at the input picture's size
t_ok "the map at the picture's size, 100x75" sh -c "odimg info map.png | grep -qx '100 75'"
t_ok "--bucket-size keeps the model's 64x64" sh -c "od-decode --bucket-size -o mapb.png map.odf && odimg info mapb.png | grep -qx '64 64'"
t_ok "a task whose frames are not one scene (faceid) keeps its size" sh -c \
	"{ od-tag -t faceid -r 'a man' 'the man'; od-encode -S 64x64 --set picture_size=100x75 $PIPE/rgb_64x64.png; } |
	 od-denoise --mask 10 -n 1 | od-decode -o face.png && odimg info face.png | grep -qx '64 64'"
t_ok "a pattern: one JSON per picture" sh -c \
	"printf 'a\nb\n' | od-tag -f - | od-denoise -n 1 -S 16x16 | od-decode --json -o 'pj_%d.png' &&
	 test -s pj_0.json && test -s pj_1.json && grep -q '\"job\": \"1\"' pj_1.json"
t_ok "a contact sheet: a JSON array of every picture" sh -c \
	"printf 'a\nb\n' | od-tag -f - | od-denoise -n 1 -S 16x16 | od-decode --json --grid auto -o sheet.png &&
	 head -c 1 sheet.json | grep -q '\[' && grep -c '\"job\"' sheet.json | grep -qx 2"
t_fails 2 "--json on standard output" od-decode --json map.odf
t_fails 2 "--json with --frames" od-decode --json --frames -o x.odf map.odf
t_ok "a picture that was not generated has no parameters chunk" sh -c \
	"od-decode -o plain.png dec_8x8.odf && ! odimg text plain.png | grep -q '^parameters='"

# no frames, or nothing to decode, is a failure (so that a pipeline whose first
# tools failed fails too), unless --allow-empty
t_fails 3 "no frames at all" od-decode -o none.png /dev/null
t_grep "^od-decode: no frames in the input$" "$T_ERR" "no frames: the message"
t_ok "no output" test ! -e none.png
t_fails 3 "no frames on standard input" sh -c "od-decode -o none.png < /dev/null"
t_fails 3 "no frames: --frames too" sh -c "od-decode --frames -o none.odf < /dev/null"
t_ok "no output" test ! -e none.odf
t_ok "--allow-empty: no frames is fine" od-decode --allow-empty -o none.png /dev/null
t_ok "--allow-empty: and writes nothing" test ! -e none.png
od-tag 'a cat' > text.odf
t_fails 3 "only text frames" sh -c "od-decode -q -o none.png text.odf"
t_grep "no pictures in the input: 2 frames, none with a picture or camera" "$T_ERR" "only text: the message"
t_fails 3 "no frame of the role asked for" od-decode --role target -o none.png dec_8x8.odf
t_ok "--allow-empty with nothing to decode" sh -c "od-decode -q --allow-empty --role target -o none.png dec_8x8.odf && test ! -e none.png"
t_fails 3 "a pipeline whose picture is corrupt fails at its end" sh -c \
	"printf 'not a png' > bad.png; od-encode -S 16x16 bad.png 2>/dev/null | od-decode -o bad-out.png"
t_ok "and leaves no picture" test ! -e bad-out.png
t_done
