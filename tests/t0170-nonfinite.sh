#!/bin/sh
# Non-finite values never leave a tool with exit 0 (README, Conventions): a
# NaN or infinity made anywhere is caught where it is made, with a message
# naming the stage, and the tool writes nothing; absurd configs and cameras
# are refused before any number is computed from them.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"

fails() { # STATUS what grep-pattern cmd...
	st=$1 what=$2 pat=$3
	shift 3
	t_fails "$st" "$what" "$@"
	t_grep "$pat" "$T_ERR" "$what: message"
	t_ok "$what: no output file" test ! -e out.odf
	rm -f out.odf
}

# a model folder whose files are links to the shipped model's
model() { # DIR
	mkdir "$1"
	for c in "$OD_MODEL"/*; do
		mkdir "$1/$(basename "$c")"
		for f in "$c"/*; do ln -s "$f" "$1/$(basename "$c")/$(basename "$f")"; done
	done
}
# replace FILE of model DIR by a copy of the original edited with sed EXPR
edit() { # DIR FILE EXPR
	rm "$1/$2"
	sed "$3" "$OD_MODEL/$2" > "$1/$2"
}
nan_at() { # FILE OFFSET: write a float32 NaN there
	printf '\000\000\300\177' | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
nan_fill() { # FILE: NaN (all bits set) over the middle 80% of it, in 4 KiB blocks
	size=$(wc -c < "$1")
	head -c $((size / 4096 * 4 / 5 * 4096)) /dev/zero | tr '\000' '\377' |
		dd of="$1" bs=4096 seek=$((size / 4096 / 10)) conv=notrunc 2>/dev/null
}

od-tag "a red cube" > text.odf
od-denoise --steps 1 --size 64x64 text.odf > lat.odf
od-decode -o pic.png lat.odf

# cameras: refused where they enter
fails 2 "od-plucker: an orbit distance of 1e300" "distance 1e+300 is over" od-plucker -d 1e300 -o out.odf
fails 2 "od-plucker: a focal length of 1e-300" "focal length" od-plucker --focal 1e-300 -o out.odf
cat > far.json <<'JSON'
{"format": "od-cameras", "version": 1, "convention": "opencv", "cameras": [
 {"c2w": [[1,0,0,0],[0,1,0,0],[0,0,1,1e300],[0,0,0,1]]},
 {"c2w": [[1,0,0,0],[0,1,0,0],[0,0,1,2],[0,0,0,1]]}]}
JSON
fails 3 "od-plucker: a camera 1e300 away" "more than 1e+06 from the origin" od-plucker -c far.json -o out.odf

# od-frame from-safetensors: a NaN tensor, in both import forms
od-frame to-safetensors -o lat.safetensors lat.odf
cp lat.safetensors nan.safetensors
nan_at nan.safetensors $(($(wc -c < lat.safetensors) - 4))
fails 3 "from-safetensors of a NaN frame" "tensor 'frame.0': element 1023 is not finite" \
	od-frame from-safetensors -o out.odf nan.safetensors
fails 3 "from-safetensors --tensor of a NaN tensor" "tensor 'frame.0': element 1023 is not finite" \
	od-frame from-safetensors --tensor frame.0 -o out.odf nan.safetensors

# configs: refused before use
model eps
edit eps transformer/config.json 's/"norm_eps": 1e-05/"norm_eps": -1/'
fails 4 "od-denoise: a negative norm_eps" '"norm_eps" = -1 is outside' \
	od-denoise -m eps --steps 1 -o out.odf text.odf
model sf
edit sf vae/config.json 's/"scaling_factor": 1.5305/"scaling_factor": 1e300/'
fails 4 "od-encode: scaling_factor 1e300" '"scaling_factor" = 1e+300 is outside' \
	od-encode -m sf -S 64x64 -o out.odf pic.png
fails 4 "od-decode: scaling_factor 1e300" '"scaling_factor" = 1e+300 is outside' \
	od-decode -m sf --frames -o out.odf lat.odf

# weights holding a NaN (as a file overwritten in place would): caught in the output
model nan
for c in transformer vae text_encoder; do
	f=$(ls "$OD_MODEL/$c/" | grep safetensors)
	rm "nan/$c/$f"
	cp "$OD_MODEL/$c/$f" "nan/$c/$f"
	# every weight is float32 (all bits set: a NaN)
	nan_fill "nan/$c/$f"
done
fails 4 "od-denoise: a NaN weight" "job 0: the sampler's output is not finite" \
	od-denoise -m nan --steps 1 -o out.odf text.odf
fails 4 "od-encode: a NaN weight" "the VAE encoder's output is not finite" \
	od-encode -m nan -S 64x64 -o out.odf pic.png
fails 4 "od-decode: a NaN weight" "frame 0: the VAE decoder's output is not finite" \
	od-decode -m nan --frames -o out.odf lat.odf
fails 4 "od-tag: a NaN weight" "the T5 encoder's output is not finite" od-tag -m nan -o out.odf "a red cube"
C=$OD_GOLDEN/cases/train/a_b2_f2_8x8.safetensors
fails 4 "od-train grad: a NaN weight" "a_b2_f2_8x8.safetensors': the loss is not finite" \
	od-train grad -m nan --case "$C" -o out.odf
fails 1 "od-train step: a NaN weight" "a_b2_f2_8x8.safetensors': the loss is not finite" \
	od-train step -m nan -o out.odf "$C"
fails 1 "od-train step: weights an absurd weight decay blows up" "is not finite after the steps" \
	od-train step --lr 1e30 --weight-decay 1e30 -o out.odf "$C"
t_done
