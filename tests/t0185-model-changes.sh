#!/bin/sh
# A model file that changes while a tool has it mapped: truncated, the tool
# gets SIGBUS when it touches the missing pages, and says which file changed
# (one line, exit 5, no output file) instead of dying silently; overwritten in
# place with other numbers (here NaN), the non-finite check catches the
# output (exit 4).
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
od-tag "a red cube" > text.odf
W=transformer/diffusion_pytorch_model.safetensors

# run od-denoise on a private copy of the model; once it has opened its output
# (the model is mapped by then), change the weights with CMD, then give it
# its input
changed() { # what cmd...
	what=$1
	shift
	rm -rf m fifo .out.odf.*
	cp -R "$OD_MODEL" m
	mkfifo fifo
	od-denoise -m m --steps 1 --size 64x64 -o out.odf < fifo 2> err &
	pid=$!
	exec 3> fifo
	i=0
	while [ $i -lt 1200 ] && ! ls -A | grep -q '^\.out\.odf\.'; do
		sleep 0.05
		i=$((i + 1))
	done
	"$@"
	cat text.odf >&3
	exec 3>&-
	wait $pid
	rc=$?
}

changed "truncated" truncate -s 4096 m/$W
t_result $([ $rc -eq 5 ] && echo 0 || echo 1) "weights truncated while mapped: exit 5 (got $rc)"
[ $rc -eq 5 ] || sed 's/^/# /' err
t_result $([ "$(wc -l < err)" -eq 1 ] && echo 0 || echo 1) "... one line on stderr"
t_grep "'m/$W': the file changed while in use" err "... naming the file"
t_ok "... no output file" test ! -e out.odf
t_ok "... no temporary" sh -c '! ls -A | grep -q "^\.out"'

nan_fill() { # FILE: NaN (all bits set) over the middle 80% of it, in place
	size=$(wc -c < "$1")
	head -c $((size / 4096 * 4 / 5 * 4096)) /dev/zero | tr '\000' '\377' |
		dd of="$1" bs=4096 seek=$((size / 4096 / 10)) conv=notrunc 2>/dev/null
}
changed "overwritten" nan_fill m/$W
t_result $([ $rc -eq 4 ] && echo 0 || echo 1) "weights overwritten with NaN while mapped: exit 4 (got $rc)"
[ $rc -eq 4 ] || sed 's/^/# /' err
t_grep "the sampler's output is not finite" err "... the non-finite check names the stage"
t_ok "... no output file" test ! -e out.odf
t_done
