#!/bin/sh
# Under a memory limit (ulimit -v) every tool ends promptly: it either
# succeeds (exit 0) or says "out of memory" on one line and exits 1, and
# leaves no output file. Never a hang: OpenBLAS retries a failed buffer
# allocation forever, so its buffers are taken up front (base/blas.h) and the
# tools start without OpenBLAS's own threads (bin/tool.c).
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
if [ -n "${OD_SANITIZE:-}" ]; then
	# AddressSanitizer reserves terabytes of address space: no limit can be set
	echo "1..0 # SKIP a memory limit under AddressSanitizer"
	exit 0
fi
od-tag "a red cube" > text.odf
od-denoise --steps 1 --size 64x64 text.odf > lat.odf
od-decode lat.odf -o pic.png

limited() { # KB what cmd...
	kb=$1 what=$2
	shift 2
	(ulimit -v "$kb" && exec timeout "${OD_TEST_TIMEOUT:-60}" "$@") > /dev/null 2> err
	rc=$?
	if [ $rc -eq 0 ]; then
		t_result 0 "$what under ulimit -v $kb: succeeds"
	elif [ $rc -eq 1 ] && [ "$(wc -l < err)" -eq 1 ] && grep -q "out of memory" err; then
		t_result 0 "$what under ulimit -v $kb: out of memory, exit 1"
	else
		t_result 1 "$what under ulimit -v $kb: exit $rc (124: it hung)"
		sed 's/^/# /' err | head -5
	fi
	# the output when it succeeded, nothing else
	[ $rc -ne 0 ] || rm -f out.odf out.png
	left=$(ls -A | grep -v -e '^text\.odf$' -e '^lat\.odf$' -e '^pic\.png$' -e '^err$' -e '^out$' -e '^stderr$')
	t_result $([ -z "$left" ] && echo 0 || echo 1) "$what under ulimit -v $kb: no other file"
	[ -z "$left" ] || rm -f -- $left
}

for kb in 100000 200000 400000; do
	limited $kb "od-tag" od-tag "a red cube" -o out.odf
	limited $kb "od-denoise" od-denoise --steps 2 --size 64x64 -o out.odf text.odf
	limited $kb "od-denoise -j 1" od-denoise -j 1 --steps 2 --size 64x64 -o out.odf text.odf
	limited $kb "od-decode" od-decode -o out.png lat.odf
	limited $kb "od-encode" od-encode -S 64x64 -o out.odf pic.png
	limited $kb "od-plucker" od-plucker -o out.odf
	limited $kb "od-model info --check" od-model info --check "$OD_MODEL"
done
t_done
