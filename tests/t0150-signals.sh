#!/bin/sh
# Nothing is left behind: a tool killed by a signal (SIGINT, SIGTERM, SIGHUP,
# SIGXFSZ) while it writes -o FILE removes its temporary file and still ends
# by the signal (exit status 128+N); so does every early exit (a usage error
# found after the output was opened). bin/tool.c installs the handlers; the
# temporaries are registered by base/io.c.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
od-tag "a red cube" > text.odf
od-denoise --steps 1 text.odf > lat.odf
{ cat text.odf; printf garbage; } > bad.odf
mkdir w
cd w

# nothing in the folder the tools write to
clean() { # what
	left=$(ls -A | grep -v -e '^fifo$')
	if [ -z "$left" ]; then
		t_result 0 "$1: nothing left behind"
	else
		t_result 1 "$1: nothing left behind"
		echo "# left:" $left
		rm -f -- $left
	fi
}

# wait until a temporary named .NAME.* exists (the tool has opened its output)
wait_for() { # NAME
	i=0
	while [ $i -lt 100 ]; do
		for f in ."$1".*; do
			[ -e "$f" ] && return 0
		done
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# killed(SIGNAL, NUMBER, what, cmd...): run cmd reading a FIFO that stays open,
# send SIGNAL once its temporary exists, expect exit 128+NUMBER
killed() {
	sig=$1 num=$2 what=$3
	shift 3
	rm -f fifo
	mkfifo fifo
	# background jobs of a script ignore SIGINT, and a script run under nohup
	# ignores SIGHUP: env puts every signal's default back
	env --default-signal "$@" < fifo 2> /dev/null &
	pid=$!
	exec 3> fifo
	if wait_for out.odf; then
		kill -s "$sig" $pid
	else
		echo "# no temporary appeared"
	fi
	{ wait $pid; } 2>/dev/null
	rc=$?
	exec 3>&-
	t_result $([ $rc -eq $((128 + num)) ] && echo 0 || echo 1) "$what: killed by SIG$sig (exit $rc)"
	clean "$what"
}

killed INT 2 "od-denoise" od-denoise --steps 1 -o out.odf
killed TERM 15 "od-denoise" od-denoise --steps 1 -o out.odf
killed HUP 1 "od-denoise" od-denoise --steps 1 -o out.odf
killed TERM 15 "od-denoise with --trace" od-denoise --steps 1 --trace trace.odf -o out.odf
killed INT 2 "od-frame select" od-frame select -o out.odf
killed TERM 15 "od-decode --frames" od-decode --frames -o out.odf

# a file size limit (as a full disk would be) kills with SIGXFSZ in mid-write
rc=$(sh -c 'ulimit -f 1; od-frame select -o out.odf ../text.odf 2>/dev/null; echo $?' 2>/dev/null)
t_result $([ $rc -eq 153 ] && echo 0 || echo 1) "od-frame select over ulimit -f: killed by SIGXFSZ (exit $rc)"
clean "od-frame select over ulimit -f"

# early exits after the output was opened
t_fails 2 "od-decode --frames without a model: usage error" env OD_MODEL= od-decode --frames -o out.odf ../lat.odf
clean "od-decode --frames without a model"
t_fails 3 "od-denoise: a bad frame after the output was opened" od-denoise --steps 1 -o out.odf ../bad.odf
clean "od-denoise with a bad input"

t_done
