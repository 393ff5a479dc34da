#!/bin/sh
# od-frame: conversions, selection, and bad streams (od-frame(1), od-frame(5)).
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
V=$OD_GOLDEN/cases/vae/encode_64x64.safetensors
P=$OD_GOLDEN/cases/pipeline/t2i_softcap.safetensors

t_ok "import a tensor as an image frame" sh -c "od-frame from-safetensors $V --tensor image --kind image --squeeze -o img.odf"
t_ok "the frame holds the tensor exactly" odcmp --exact img.odf "$V:image"
t_ok "stream -> safetensors" od-frame to-safetensors img.odf -o img.safetensors
t_ok "safetensors -> stream round trip" sh -c "od-frame from-safetensors img.safetensors > back.odf && cmp img.odf back.odf"
t_ok "from-safetensors - reads standard input" sh -c "od-frame from-safetensors - < img.safetensors | cmp - img.odf"
t_ok "from-safetensors - with --tensor" sh -c "od-frame from-safetensors --tensor image --kind image --squeeze - < $V > in.odf && odcmp --exact in.odf img.odf && od-frame show in.odf | grep -q 'source=\"<stdin>:image\"'"
t_fails 3 "from-safetensors - of a truncated file" sh -c "head -c 100 img.safetensors | od-frame from-safetensors -o x.odf -"
t_grep "^od-frame: .<stdin>.: " "$T_ERR" "standard input is named <stdin>"
t_ok "no output" test ! -e x.odf
t_ok "text frames with masks, split, roles" sh -c \
	"od-frame from-safetensors $P --tensor prompt_embeds --mask prompt_mask --kind text --role negative,condition --split > text.odf"
od-frame show text.odf > show.txt
t_grep '^0: text f32 (300, 64) negative mask=114/300' show.txt "show: negative text frame with its mask"
t_grep '^1: text f32 (300, 64) condition mask=21/300' show.txt "show: prompt text frame with its mask"
t_ok "text frame values" odcmp --exact text.odf@1 "$P:prompt_embeds[1]"
t_ok "select by role" sh -c "od-frame select --role condition text.odf > cond.odf && od-frame show cond.odf | grep -c text | grep -qx 1"
t_ok "select --set and --set-role" sh -c "od-frame select --index 0 --set-role target --set task=test img.odf | od-frame show | grep 'target' | grep -q 'task=\"test\"'"
t_ok "read from stdin" sh -c "cat img.odf text.odf | od-frame show - | wc -l | grep -qx 3"

# bad input: one line on stderr naming the file, exit 3, no output file
head -c 20000 img.odf > trunc.odf
t_fails 3 "truncated frame" od-frame to-safetensors trunc.odf -o out.safetensors
t_grep "trunc.odf': frame 0: truncated data" "$T_ERR" "truncation message names file, frame and part"
t_ok "no partial output after failure" test ! -e out.safetensors
printf 'garbage that is not a frame stream at all, long enough for a header........' > junk.odf
t_fails 3 "garbage stream" od-frame show junk.odf
t_grep "junk.odf': frame 0: not an od frame stream" "$T_ERR" "garbage message"
head -c 30 img.odf > short.odf
t_fails 3 "truncated header" od-frame show short.odf
# a header whose shape claims 16M x 16M elements must be refused, not allocated
cp img.odf bomb.odf
printf '\377\377\377\000\377\377\377\000' | dd of=bomb.odf bs=1 seek=16 conv=notrunc 2>/dev/null
t_fails 3 "memory bomb header" od-frame show bomb.odf
# NaN in data
cp img.odf nan.odf
printf '\000\000\300\177' | dd of=nan.odf bs=1 seek=$(( $(wc -c < img.odf) - 4 )) conv=notrunc 2>/dev/null
t_fails 3 "NaN element refused" od-frame show nan.odf
t_grep "not finite" "$T_ERR" "NaN message"
t_fails 5 "missing file" od-frame show does-not-exist.odf
t_fails 2 "unknown command" od-frame frobnicate
t_fails 2 "bad --kind" od-frame from-safetensors "$V" --tensor image --kind bogus
t_fails 3 "unknown tensor" od-frame from-safetensors "$V" --tensor nope -o x.odf
t_ok "no output for unknown tensor" test ! -e x.odf
# a frame whose tensor is missing would be a placeholder, which only a target may be
od-frame to-safetensors -o img.st img.odf
LC_ALL=C sed 's/"frame\.0":{"/"framf.0":{"/' img.st > hole.st
t_fails 3 "from-safetensors: a non-target frame without its tensor" od-frame from-safetensors -o x.odf hole.st
t_grep "'hole.st': frame 0 has no tensor 'frame.0'" "$T_ERR" "... named"
t_ok "... and no output" test ! -e x.odf
t_ok "-o /dev/null writes in place" od-frame select -o /dev/null img.odf
t_ok "/dev/null is still a device" test -c /dev/null
mkfifo fifo
( cat fifo > from-fifo & od-frame select -o fifo img.odf; wait )
t_ok "-o FIFO writes into the pipe" cmp from-fifo img.odf
t_done
