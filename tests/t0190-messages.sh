#!/bin/sh
# Messages stay one line naming the file, whatever the input: a newline in a
# file name is escaped, a bad metadata key or a zero-size dimension in a
# safetensors file names the file (and is bad input, exit 3), and a frame of
# an unknown kind is "an unknown frame".
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"

# st_file NAME HEADER-JSON DATA-BYTES(printf format): a .safetensors file
st_file() {
	h=$2
	while [ $((${#h} % 8)) -ne 0 ]; do h="$h "; done
	n=${#h}
	printf "\\$(printf %o $((n % 256)))\\$(printf %o $((n / 256)))\\000\\000\\000\\000\\000\\000" > "$1"
	printf '%s' "$h" >> "$1"
	printf "$3" >> "$1"
}

newline=$(printf 'two\nlines.odf')
t_fails 5 "a file name with a newline" od-frame show "$newline"
t_grep "two\\\\nlines.odf" "$T_ERR" "... the newline escaped"
t_fails 4 "a missing model with a newline in its name" od-denoise -m "$newline" --steps 1 /dev/null
t_fails 2 "a usage error quoting a newline" od-decode --format "$(printf 'p\nng')"

meta='{"kind":"latent","role":"none","dtype":"F32","shape":[1],"meta":{"bad key!":"v"}}'
meta=$(printf '%s' "$meta" | sed 's/"/\\"/g')
st_file badkey.safetensors "{\"__metadata__\":{\"od.frames\":\"1\",\"frame.0\":\"$meta\"},\"frame.0\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}" '\000\000\200\077'
t_fails 3 "a bad metadata key in a frame safetensors file: bad input" od-frame from-safetensors -o out.odf badkey.safetensors
t_grep "'badkey.safetensors': frame 0: metadata key 'bad key!'" "$T_ERR" "... naming the file and frame"
t_ok "... no output" test ! -e out.odf

st_file zero.safetensors '{"x":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}}' ''
t_fails 3 "a zero-size dimension" od-frame from-safetensors --tensor x -o out.odf zero.safetensors
t_grep "'zero.safetensors': tensor 'x': dimension 0 is 0" "$T_ERR" "... naming the file and tensor"

# a frame of kind 7 (unknown): the header's kind field is bytes 10-11
od-plucker -a 0 -S 64 -o rays.odf
cp rays.odf unknown.odf
printf '\007\000' | dd of=unknown.odf bs=1 seek=10 conv=notrunc 2>/dev/null
t_fails 3 "od-denoise: an unknown frame first" od-denoise --steps 1 -o out.odf unknown.odf
t_grep "frame 0: an unknown frame before any prompt" "$T_ERR" "... is 'an unknown frame'"
t_fails 3 "od-plucker --invert --cameras: a frame of unknown kind is not a ray frame" \
	od-plucker --invert -o out.json unknown.odf
t_done
