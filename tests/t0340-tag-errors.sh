#!/bin/sh
# od-tag on bad input: one line on stderr, the documented exit status
# (od-tag(1): 2 usage, 3 bad input data, 4 model problem, 5 I/O, 6 device),
# and no output file.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"

# bad MODEL DIR...: fails with STATUS and leaves no out.odf behind
nofile() { t_ok "$1: no output file" test ! -e out.odf; }

# Model problems (exit 4).
mkdir -p notok
ln -s "$OD_MODEL/text_encoder" notok/text_encoder
t_fails 4 "missing tokenizer/spiece.model" od-tag -m notok -o out.odf 'a cat'
t_grep "notok/tokenizer/spiece.model': no such file" "$T_ERR" "message names the missing file"
nofile "missing spiece.model"
mkdir -p badtok/tokenizer
ln -s "$OD_MODEL/text_encoder" badtok/text_encoder
head -c 100000 "$OD_MODEL/tokenizer/spiece.model" > badtok/tokenizer/spiece.model
t_fails 4 "truncated spiece.model" od-tag -m badtok -o out.odf 'a cat'
t_grep "badtok/tokenizer/spiece.model': not a SentencePiece model" "$T_ERR" "message names the corrupt file"
nofile "corrupt spiece.model"
printf 'this is not a protobuf' > badtok/tokenizer/spiece.model
t_fails 4 "garbage spiece.model" od-tag -m badtok --ids 'a cat'
mkdir -p noweights/text_encoder
ln -s "$OD_MODEL/tokenizer" noweights/tokenizer
cp "$OD_MODEL/text_encoder/config.json" noweights/text_encoder/
t_fails 4 "no text_encoder weights" od-tag -m noweights -o out.odf 'a cat'
nofile "no weights"
head -c 1000000 "$OD_MODEL/text_encoder/model.safetensors" > noweights/text_encoder/model.safetensors
t_fails 4 "truncated text_encoder weights" od-tag -m noweights -o out.odf 'a cat'
t_grep "model.safetensors'" "$T_ERR" "message names the weights file"
nofile "truncated weights"
rm -f noweights/text_encoder/model.safetensors
t_fails 4 "no text_encoder folder" od-tag -m badtok/tokenizer -o out.odf 'a cat'
t_fails 4 "no such model folder" od-tag -m does-not-exist -o out.odf 'a cat'
nofile "no model folder"

# Usage errors (exit 2).
t_fails 2 "unknown task" od-tag -t text2video -o out.odf 'a cat'
t_grep "'text2video' is not a task tag" "$T_ERR" "unknown task message"
t_fails 2 "colour not in the list" od-tag --region '#123456:dragon' -o out.odf 'a dragon'
t_grep "colour #123456 is not one of the 20 colours" "$T_ERR" "colour message"
t_fails 2 "colour name not in the list" od-tag --box 'mauve:dog' -o out.odf 'a dog'
t_fails 2 "not COLOUR:OBJECT" od-tag --region 'cyan' 'a dragon'
t_fails 2 "no object" od-tag --region 'cyan: ' 'a dragon'
t_fails 2 "bad hex" od-tag --region '#00ffzz:dog' 'a dog'
t_ok "colour names and hex digits match in any case" od-tag --print-prompt --region CYAN:a --region '#00FfFf:b' x
t_fails 2 "faceid without reference captions" od-tag -t faceid -o out.odf 'a man'
t_grep "faceid needs 1 to 3 reference captions" "$T_ERR" "missing reference captions message"
t_fails 2 "faceid with four references" od-tag -t faceid -r a -r b -r c -r d 'a man'
t_fails 2 "subject_driven without --item" od-tag -t subject_driven -r 'a teapot' 'a teapot on a beach'
t_grep "needs an item name" "$T_ERR" "missing item message"
t_fails 2 "subject_driven without the source caption" od-tag -t subject_driven -i teapot 'a teapot on a beach'
t_fails 2 "--region for another task" od-tag -t faceid -r x --region cyan:dog 'a dog'
t_fails 2 "--ref-caption for text2image" od-tag -r x 'a dog'
t_fails 2 "--region and --box together" od-tag --region cyan:a --box cyan:b x
t_fails 2 "--raw with --task" od-tag --raw -t depth2image x
t_fails 2 "prompt tag contradicts --task" od-tag -t faceid -r x '[[depth2image]] a house'
t_fails 2 "a tagged prompt with builder options" od-tag --region cyan:x '[[semanticmap2image]] a'
t_fails 2 "prompt and --caption together" od-tag --caption a b
t_fails 2 "--negative and --standard-negative together" od-tag --negative a -N b
t_fails 2 "bad --dtype" od-tag --dtype int8 x
t_fails 2 "bad --device" od-tag --device tpu x
t_fails 2 "bad --threads" od-tag --threads many x
t_fails 2 "two output modes" od-tag --ids --pieces x
t_fails 2 "unknown option" od-tag --frobnicate x
t_fails 2 "no model" env -u OD_MODEL od-tag -o out.odf 'a cat'
t_grep "give --model DIR or set OD_MODEL" "$T_ERR" "no model message"
nofile "usage errors"

# Bad input data in a prompt file (exit 3): nothing is written, even when
# earlier lines were fine.
printf 'a cat\n[[depth2image]] a house\n' > lines.txt
t_fails 3 "a line contradicts --task" od-tag -t faceid -r x -f lines.txt -o out.odf
t_grep "lines.txt': line 2: the prompt's tag \[\[depth2image\]\] contradicts --task faceid" "$T_ERR" \
	"the message names file and line"
nofile "bad line"
printf 'a cat\nnul\000byte\n' > nul.txt
t_fails 3 "a NUL byte in a line" od-tag -f nul.txt -o out.odf
t_grep "nul.txt': line 2: contains a NUL byte" "$T_ERR" "NUL message"
t_fails 3 "bad line on stdin, stdout untouched" sh -c "od-tag -t faceid -r x < lines.txt > stdout.odf"
t_ok "nothing on stdout" test ! -s stdout.odf

# I/O (exit 5).
t_fails 5 "missing prompt file" od-tag -f no-such-file.txt -o out.odf
t_fails 5 "unwritable output" od-tag -o no-such-dir/out.odf x

# Device: cuda either works or is refused with exit 6.
od-tag --device cuda -o cuda.odf x > /dev/null 2> cuda.err
rc=$?
if [ $rc -eq 0 ]; then
	t_ok "cuda: same frames as the CPU within BF16 tolerance (2e-2 relative)" sh -c "od-tag -o cpu.odf x && odcmp --atol 2e-2 --rtol 2e-2 cuda.odf cpu.odf"
else
	t_result $([ $rc -eq 6 ] && [ "$(wc -l < cuda.err)" -eq 1 ] && echo 0 || echo 1) "no cuda: exit 6, one line ($rc)"
fi

# A long prompt is cut with a warning, not refused; invalid UTF-8 is replaced.
t_ok "invalid UTF-8 is not an error" od-tag --raw -o out.odf "$(printf 'caf\351')"
want=$(printf 'prompt="caf\357\277\275"')
t_ok "the metadata holds the replaced text" sh -c 'od-frame show out.odf | grep -qF "$1"' sh "$want"
t_done
