#!/bin/sh
# Binary data and terminals, as gzip does it: a tool refuses to write frames
# or pictures to a terminal, and to wait for frames typed on one; the same
# commands work with -o or a pipe. The progress line of several tools on one
# terminal: whole lines that replace each other. A pseudo-terminal comes from
# script(1) (util-linux).
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
if ! command -v script > /dev/null 2>&1; then
	echo "1..0 # SKIP script(1) (util-linux) is missing: no pseudo-terminal"
	exit 0
fi
PIC=$OD_GOLDEN/cases/pipeline/rgb_64x64.png
od-tag 'a cat' > text.odf
od-encode -S 16x16 --mode "$PIC" > lat.odf
od-plucker -a 0 -S 16 > rays.odf
od-frame to-safetensors text.odf -o text.safetensors

# on_tty "what" STATUS 'command': run the command with a terminal as its
# standard input, output and error; the terminal's text is in tty.txt
on_tty() {
	script -qec "$3" /dev/null < /dev/null > tty.txt 2>&1
	rc=$?
	t_result $((rc != $2)) "$1: exit $rc (want $2)"
}
refused() { # what STATUS command... : exit 2 and one line naming the terminal
	on_tty "$1" 2 "$2"
	n=$(tr -d '\r' < tty.txt | grep -c .)
	t_result $((n != 1)) "$1: one line ($n)"
	t_grep "refusing to $3 terminal" tty.txt "$1: says why"
}
# writing to a terminal
refused "od-tag to a terminal" "od-tag 'a cat'" "write frames to a"
refused "od-encode to a terminal" "od-encode -S 16x16 $PIC" "write frames to a"
refused "od-plucker to a terminal" "od-plucker -a 0 -S 16" "write frames to a"
refused "od-denoise to a terminal" "od-denoise -n 1 -S 16x16 text.odf" "write frames to a"
refused "od-decode to a terminal" "od-decode lat.odf" "write pictures to a"
refused "od-decode --frames to a terminal" "od-decode --frames lat.odf" "write frames to a"
refused "od-frame select to a terminal" "od-frame select text.odf" "write frames to a"
refused "od-frame from-safetensors to a terminal" "od-frame from-safetensors text.safetensors" "write frames to a"
refused "od-frame to-safetensors to a terminal" "od-frame to-safetensors text.odf" "write a safetensors file to a"
# reading from a terminal
refused "od-denoise from a terminal" "od-denoise -o x.odf" "read frames from a"
refused "od-decode from a terminal" "od-decode -o x.png" "read frames from a"
refused "od-decode - from a terminal" "od-decode -o x.png -" "read frames from a"
refused "od-encode from a terminal" "od-encode -o x.odf" "read pictures or frames from a"
refused "od-plucker --invert from a terminal" "od-plucker --invert -o c.json" "read frames from a"
refused "od-frame show from a terminal" "od-frame show" "read frames from a"
refused "od-frame from-safetensors - from a terminal" "od-frame from-safetensors -o x.odf -" "read a safetensors file from a"
# what is not binary, or not a terminal, goes
on_tty "od-tag --print-prompt on a terminal" 0 "od-tag --print-prompt 'a cat'"
t_grep "text2image" tty.txt "od-tag --print-prompt: the prompt on the terminal"
on_tty "od-frame show of a file on a terminal" 0 "od-frame show text.odf"
on_tty "od-plucker --invert: JSON on a terminal" 0 "od-plucker --invert rays.odf"
on_tty "od-decode --cameras -: JSON on a terminal" 0 "od-decode --cameras - rays.odf"
on_tty "with -o, a terminal is no matter" 0 "od-tag -o t.odf 'a cat' && od-denoise -n 1 -S 16x16 -o d.odf t.odf && od-decode -o d.png d.odf"
t_ok "... and the files are there" test -s d.png
on_tty "through a pipe" 0 "od-tag 'a cat' | od-denoise -n 1 -S 16x16 | od-decode -o p.png"
t_ok "... the picture is there" test -s p.png
on_tty "from a file on standard input" 0 "od-decode -o s.png < lat.odf"

# progress of a pipeline on one terminal: every update is a whole line that
# starts with \r and ends by erasing the rest of the line; no line mixes two
# tools, and each tool erases its line when it ends
on_tty "a pipeline with progress on a terminal" 0 \
	"od-tag 'a' | od-denoise -n 40 -S 128x128 | od-decode -o prog.png"
tr '\r' '\n' < tty.txt | sed 's/\x1b\[K$//' | grep . > lines.txt || true
n=$(grep -c '^od-denoise: denoise job 1: step [0-9]*/40, ' lines.txt)
t_result $((n == 0)) "od-denoise's status lines ($n)"
bad=$(grep -v '^od-[a-z]*: [a-z]* job [0-9]*[:,] ' lines.txt | head -3)
t_result $((${#bad} != 0)) "every update is one tool's whole line${bad:+: $bad}"
t_result "$(tail -c 4 tty.txt | od -An -c | tr -d ' \n' | grep -q '\\r033\[K$' && echo 0 || echo 1)" \
	"the last update erased its line"
# every tool numbers jobs the same way: from 0 in key=value lines (as in the
# frames' job metadata), from 1 on a terminal
printf 'a\nb\n' > two.txt
od-tag -f two.txt --progress=machine > two.odf 2> tag.prog
t_grep '^progress=tag job=1 step=1 total=1 ' tag.prog "od-tag: a line per job, from 0"
od-encode -S 16x16 --progress=machine "$PIC" "$PIC" > /dev/null 2> enc.prog
t_grep '^progress=encode job=1 step=1 total=1 ' enc.prog "od-encode: the same"
od-denoise -n 1 -S 16x16 --progress=machine two.odf 2> dn.prog | od-decode --progress=machine -o 'two_%d.png' 2> dec.prog
t_grep '^progress=denoise job=1 step=1 total=1 ' dn.prog "od-denoise: the same"
t_grep '^progress=decode job=1 step=1 total=1 ' dec.prog "od-decode: the same"
on_tty "-q: no progress line" 0 "od-tag 'a' | od-denoise -q -n 40 -S 128x128 -o q.odf"
t_result "$(grep -c 'step' tty.txt)" "-q: nothing on the terminal"
t_done
