# tests/lib.sh: TAP helpers for the shell tests (sourced; run by prove).
#
#   . "$OD_SRCDIR/tests/lib.sh"
#   t_ok "what" command...          passes when the command exits 0
#   t_fails STATUS "what" command... passes when it exits STATUS and writes
#                                    exactly one line to stderr (kept in $T_ERR)
#   t_grep PATTERN FILE "what"      passes when FILE matches PATTERN
#   t_done                          plan line; exit status
#   t_need PROGRAM...               skip the whole file (a 1..0 plan) when one is missing
#   t_wait_lines FILE N             wait until FILE has N lines (a background run's
#                                   log; gives up after 60 s, the check that follows fails)
#
# Environment from `make check`: OD_BIN (tools), OD_TESTBIN (test programs),
# OD_SRCDIR, OD_MODEL (the tiny checkpoint), OD_GOLDEN (tests/golden).

set -u
: "${OD_BIN:?run through make check}"
PATH="$OD_BIN:$OD_TESTBIN/tools:$PATH"
export PATH
T_N=0
T_FAIL=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/odtest.XXXXXX")
trap 'rm -rf "$T_TMP"' EXIT
T_ERR=$T_TMP/stderr

t_need() {
	for t in "$@"; do
		if ! command -v "$t" > /dev/null 2>&1; then
			echo "1..0 # SKIP $t is missing"
			exit 0
		fi
	done
}

t_result() { # status description
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		T_FAIL=$((T_FAIL + 1))
	fi
}

t_ok() {
	local what=$1
	shift
	if "$@" >"$T_TMP/out" 2>"$T_ERR"; then
		t_result 0 "$what"
	else
		local rc=$?
		t_result 1 "$what"
		echo "# exit status $rc: $*"
		sed 's/^/# /' "$T_ERR" | head -20
		sed 's/^/# out: /' "$T_TMP/out" | head -20
	fi
}

t_fails() {
	local want=$1 what=$2
	shift 2
	"$@" >"$T_TMP/out" 2>"$T_ERR"
	local rc=$? lines
	lines=$(wc -l <"$T_ERR")
	if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ]; then
		t_result 0 "$what"
	else
		t_result 1 "$what"
		echo "# wanted exit $want and one line on stderr, got exit $rc and $lines lines: $*"
		sed 's/^/# /' "$T_ERR" | head -10
	fi
}

t_grep() {
	if grep -q -- "$1" "$2"; then
		t_result 0 "$3"
	else
		t_result 1 "$3"
		echo "# '$1' not found in:"
		sed 's/^/# /' "$2" | head -10
	fi
}

t_wait_lines() {
	_i=0
	while [ ! -s "$1" ] || [ "$(wc -l < "$1")" -lt "$2" ]; do
		sleep 0.1; _i=$((_i + 1)); [ $_i -gt 600 ] && break
	done
	:
}

t_done() {
	echo "1..$T_N"
	[ "$T_FAIL" -eq 0 ]
}
