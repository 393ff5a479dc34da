#!/bin/sh
# Empty input is an error where the user asked for work (README, Conventions):
# od-denoise, od-tag and od-encode given an empty stream, an empty file, an
# empty file list, an empty directory or a closed stdin fail with exit 3 and
# "no ... in the input", and write no output file; so do od-eval given an
# empty list or folder, and od-train given an empty data file or folder of
# pictures (no run folder).
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
: > empty.odf
: > empty.txt
mkdir emptydir
od-tag "a red cube" > text.odf
od-frame from-safetensors "$OD_GOLDEN/cases/vae/encode_64x64.safetensors" --tensor image --kind image --squeeze \
	-o img.odf
od-encode --pixels -o pics.odf img.odf
mkdir pics
od-decode -o pics/a.png img.odf

empty() { # tool-what message cmd...
	what=$1 msg=$2
	shift 2
	t_fails 3 "$what" "$@"
	t_grep "$msg" "$T_ERR" "$what: message"
	t_ok "$what: no output file" test ! -e out.odf
	rm -f out.odf
}

empty "od-denoise: empty stdin" "no frames in the input" sh -c 'od-denoise --steps 1 -o out.odf < /dev/null'
empty "od-denoise: empty file" "no frames in the input" od-denoise --steps 1 -o out.odf empty.odf
empty "od-denoise: two empty files" "no frames in the input" od-denoise --steps 1 -o out.odf empty.odf empty.odf
t_ok "od-denoise: an empty file among others is nothing" od-denoise --steps 1 -o out.odf empty.odf text.odf
rm -f out.odf

empty "od-tag: empty stdin" "no prompts in the input" sh -c 'od-tag -o out.odf < /dev/null'
empty "od-tag: empty --file" "no prompts in the input" od-tag -f empty.txt -o out.odf
empty "od-tag --ids: empty --file" "no prompts in the input" od-tag --ids -f empty.txt -o out.odf
t_ok "od-tag: an empty line is a prompt (the empty one)" sh -c 'echo | od-tag -o out.odf'
rm -f out.odf

empty "od-encode: empty stdin" "no pictures in the input" sh -c 'od-encode -o out.odf < /dev/null'
empty "od-encode: empty file" "no pictures in the input" od-encode -o out.odf empty.odf
empty "od-encode: empty directory" "no pictures in the input" od-encode -o out.odf emptydir
empty "od-encode: empty directory, stdin not read" "no pictures in the input" \
	sh -c 'od-encode -o out.odf emptydir < pics.odf'
empty "od-encode: empty --list" "no pictures in the input" od-encode -o out.odf --list empty.txt
empty "od-encode --pixels: empty stream" "no pictures in the input" od-encode --pixels -o out.odf empty.odf
t_ok "od-encode: an empty directory among others is nothing" od-encode --pixels -o out.odf emptydir pics
rm -f out.odf

empty "od-eval: an empty --list" "'empty.txt': no items in the input" od-eval image --list empty.txt -o out.odf
empty "od-eval: an empty --list on stdin" "no items in the input" sh -c 'od-eval image --list - -o out.odf < /dev/null'
empty "od-eval: empty folders" "'emptydir': no items in the input" od-eval image emptydir emptydir -o out.odf

empty "od-train: an empty data file" "'empty.odf': no training jobs in the input" \
	od-train train -o out.odf --steps 1 empty.odf
empty "od-train: two empty data files" "'empty.odf': no training jobs in the input" \
	od-train train -o out.odf --steps 1 empty.odf empty.odf
empty "od-train vae: an empty folder" "'emptydir': no pictures in the input" \
	od-train vae --config "$OD_MODEL/vae/config.json" -o out.odf -S 16 --steps 1 emptydir
empty "od-train vae-scale: an empty folder" "'emptydir': no pictures in the input" \
	od-train vae-scale -m "$OD_MODEL" -S 16 --dry-run emptydir

t_done
