#!/bin/sh
# The EXAMPLES of od-scene(1) run as written, one after the other in one
# folder, on the model that ships in share/ (each literal block is a test
# point; a block stops at its first failing command, in a pipeline too: bash
# -o pipefail).
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP" || exit 1
PAGE=$OD_SRCDIR/man/od-scene.1

# the literal blocks of EXAMPLES, each followed by a line that records it ran
awk '/^\.Sh EXAMPLES/ { on = 1; next } /^\.Sh / { on = 0 }
	on && /^\.Bd -literal/ { lit = 1; n++; next }
	on && /^\.Ed/ { if (lit) printf "echo %d >> done.txt\n", n; lit = 0; next }
	on && lit { gsub(/\\e/, "\\"); print }
	END { printf "# %d blocks\n", n }' "$PAGE" > examples.sh
blocks=$(sed -n 's/^# \([0-9]*\) blocks$/\1/p' examples.sh)
t_result "$([ "${blocks:-0}" -ge 5 ] && echo 0 || echo 1)" "od-scene(1) has $blocks example blocks"
: > done.txt
OD_MODEL=$OD_SRCDIR/share/tiny-onediffusion bash -e -o pipefail examples.sh > out.txt 2>&1
rc=$?
i=1
while [ "$i" -le "${blocks:-0}" ]; do
	if grep -qx "$i" done.txt; then
		t_result 0 "example block $i runs"
	else
		t_result 1 "example block $i runs"
		[ "$i" -eq "$(($(wc -l < done.txt) + 1))" ] && sed 's/^/# /' out.txt | tail -n 10
	fi
	i=$((i + 1))
done
t_result "$rc" "the examples exit 0"
t_ok "the examples' pictures exist" test -s picture.png -a -s from-map.png -a -s filled.png -a -s view_1.png
t_grep '"format": "od-cameras"' estimated.json "pose estimation writes cameras"
t_done
