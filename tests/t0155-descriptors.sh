#!/bin/sh
# Closed standard descriptors: every tool opens 0-2 on /dev/null at start-up
# (bin/tool.c), so no file it opens later takes their numbers. With stderr
# closed, messages must not land in the -o output; with stdout closed, data
# for stdout is an error (exit 5), not written into another output; a closed
# stdin is no input at all (exit 3, as an empty one).
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
od-tag "a red cube" > text.odf
od-frame from-safetensors "$OD_GOLDEN/cases/vae/encode_64x64.safetensors" --tensor image --kind image --squeeze \
	-o img.odf
cat img.odf text.odf > mixed.odf

# stderr closed: od-decode warns about the text frame after opening its output
od-decode --frames -o out.odf mixed.odf 2>&-
t_ok "stderr closed: the output is a clean frame stream" od-frame show out.odf
t_ok "stderr closed: one image frame, no message inside" sh -c 'test "$(od-frame show out.odf | wc -l)" -eq 1'
rm -f out.odf

# stdout closed: the frames meant for stdout must not go into the trace file
od-denoise --steps 1 --trace trace.odf text.odf >&- 2> err
rc=$?
t_result $([ $rc -eq 5 ] && echo 0 || echo 1) "stdout closed: od-denoise fails with exit 5 (got $rc)"
t_grep "<stdout>': write failed" err "stdout closed: the message names <stdout>"
t_ok "stdout closed: no trace file" test ! -e trace.odf
od-tag --ids "a red cube" >&- 2> err
rc=$?
t_result $([ $rc -eq 5 ] && echo 0 || echo 1) "stdout closed: od-tag --ids fails with exit 5 (got $rc)"

# stdin closed: no input, as an empty one
t_fails 3 "stdin closed: od-denoise" sh -c 'exec od-denoise --steps 1 -o out.odf <&-'
t_grep "no frames in the input" "$T_ERR" "stdin closed: od-denoise says there was no input"
t_ok "stdin closed: od-denoise leaves no output" test ! -e out.odf
t_fails 3 "stdin closed: od-tag" sh -c 'exec od-tag -o out.odf <&-'
t_ok "stdin closed: od-tag leaves no output" test ! -e out.odf
t_fails 3 "stdin closed: od-encode" sh -c 'exec od-encode -o out.odf <&-'
t_ok "stdin closed: od-encode leaves no output" test ! -e out.odf

t_done
