#!/bin/sh
# One option vocabulary for every tool: README.md's option table says what
# each short name stands for, and every tool (and every command of a tool made
# of commands) found in $OD_BIN keeps to it: a short name means the long option
# of the table, a long option the table gives a short name has it everywhere,
# and -q/--quiet, -v/--verbose, -h/--help, -V/--version are everywhere. New
# tools are picked up without a change here.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"

# the table: "| `-s`, `--seed S` | ..." and "| `--device DEV` | ..."
sed -n '/^## Options/,/^## /p' "$OD_SRCDIR/README.md" | grep '^| `-' > table.txt
t_result $(($(wc -l < table.txt) < 10)) "README.md has an option table ($(wc -l < table.txt) rows)"
sed -n 's/^| `-\([a-zA-Z]\)`, `--\([a-z0-9-]*\).*/\1 \2/p' table.txt > shorts.txt
sed -n 's/^| `--\([a-z0-9-]*\).*/\1/p' table.txt > longs.txt
t_result $(($(wc -l < shorts.txt) < 10)) "the table names short options ($(wc -l < shorts.txt))"
dup=$(cut -d' ' -f1 shorts.txt | sort | uniq -d)
t_result $((${#dup} != 0)) "each short name has one meaning in the table${dup:+ (twice: $dup)}"

tools=$(cd "$OD_BIN" && for f in od od-*; do [ -x "$f" ] && [ -f "$f" ] && case $f in *.[od]) ;; *) echo "$f" ;; esac; done)
t_result $(($(echo "$tools" | wc -w) < 7)) "the tools: $(echo $tools)"
for t in $tools; do
	"$t" --list-options > list.txt 2> err.txt
	t_result $? "$t --list-options"
	units=$t
	for c in $(grep -v '^-' list.txt); do
		units="$units,$t $c"
	done
	echo "$units" | tr ',' '\n' > units.txt
	while read -r u; do
		# shellcheck disable=SC2086 # u is "tool" or "tool command"
		$u --list-options | grep '^-' > opts.txt
		bad=""
		while read -r long a b; do
			case $a in -?) short=${a#-} ;; *) short="" ;; esac
			long=${long#--}
			if [ -n "$short" ]; then
				want=$(awk -v s="$short" '$1 == s { print $2 }' shorts.txt)
				[ -z "$want" ] && bad="$bad -$short(not in the table)"
				[ -n "$want" ] && [ "$want" != "$long" ] && bad="$bad -$short(--$long, the table says --$want)"
			else
				want=$(awk -v l="$long" '$2 == l { print $1 }' shorts.txt)
				[ -n "$want" ] && bad="$bad --$long(without -$want)"
			fi
		done < opts.txt
		t_result $((${#bad} != 0)) "$u keeps to the vocabulary${bad:+:$bad}"
		for o in "--quiet -q" "--verbose -v" "--help -h" "--version -V"; do
			grep -qx -- "$o" opts.txt
			t_result $? "$u has $o"
		done
	done < units.txt
done
t_done
