#!/bin/sh
# --device cuda and $OD_DEVICE=cuda where no GPU can be used: every computing
# tool stops with exit status 6 (device unavailable), one line on stderr that
# names the device, and no output file. The GPUs are hidden
# (CUDA_VISIBLE_DEVICES=""), so the error path is the same on a machine that
# has one. Tools not built yet are passed over; with none it is a TAP skip.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
export CUDA_VISIBLE_DEVICES=
unset OD_DEVICE
IMG=$OD_GOLDEN/cases/pipeline/rgb_64x64.png
have() { [ -x "$OD_BIN/$1" ]; }

# one tool: its name, then the command that would compute, writing out.*
device_error() {
	tool=$1
	shift
	t_fails 6 "$tool --device cuda without a usable GPU: exit 6" "$tool" --device cuda "$@"
	t_grep 'cuda' "$T_ERR" "$tool: the message names the cuda device"
	t_grep "^$tool: " "$T_ERR" "$tool: the message starts with the tool's name"
	t_ok "$tool: no output file" sh -c '! ls out.* 2>/dev/null | grep -q .'
	t_fails 6 "$tool with OD_DEVICE=cuda: exit 6" env OD_DEVICE=cuda "$tool" "$@"
	t_fails 2 "$tool --device tpu is a usage error" "$tool" --device tpu "$@"
}

tools=0
if have od-denoise; then
	tools=$((tools + 1))
	device_error od-denoise -m "$OD_MODEL" -o out.odf /dev/null
fi
if have od-tag; then
	tools=$((tools + 1))
	device_error od-tag -m "$OD_MODEL" -o out.odf 'a red cube on a table'
fi
if have od-encode; then
	tools=$((tools + 1))
	device_error od-encode -m "$OD_MODEL" -o out.odf "$IMG"
	if have od-decode && od-encode -m "$OD_MODEL" --mode -o lat.odf "$IMG" 2>/dev/null; then
		tools=$((tools + 1))
		device_error od-decode -m "$OD_MODEL" -o out.png lat.odf
	fi
fi
if [ "$tools" -eq 0 ]; then
	echo "1..0 # SKIP no computing tool (od-denoise, od-tag, od-encode, od-decode) is built yet"
	exit 0
fi
t_done
