#!/bin/sh
# The tools' options, generated from one table per tool (bin/options.h): every
# option a tool (or a command of od-frame and od-model) declares is in its
# --help and its man page, and the options shared through tool.c behave the
# same in every tool that takes them.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
TOOLS="od od-tag od-encode od-plucker od-denoise od-decode od-frame od-model od-train od-eval od-scene"
PIC=$OD_GOLDEN/cases/pipeline/depth_100x75.png

# -- every declared option is in the help and the man page
have_mandoc=0
command -v mandoc > /dev/null 2>&1 && have_mandoc=1
[ $have_mandoc = 1 ] || echo "# mandoc is missing: the man pages are not checked"
for t in $TOOLS; do
	t_ok "$t --list-options" $t --list-options
	cp "$T_TMP/out" "$t.list"
	# the man page as text, without the overstrike of bold
	[ $have_mandoc = 1 ] && mandoc -Tascii "$OD_SRCDIR/man/$t.1" | sed 's/.\x08//g' > "$t.man"
	units=$t
	for c in $(grep -v '^-' "$t.list"); do
		units="$units,$t $c"
	done
	echo "$units" | tr ',' '\n' > units.txt
	while read -r u; do
		# shellcheck disable=SC2086 # u is "tool" or "tool command"
		$u --help > help.txt 2> help.err
		t_result $? "$u --help exits 0"
		t_grep "^Usage: $u" help.txt "$u --help starts with its usage"
		$u --list-options | grep '^-' > opts.txt
		missing="" noman=""
		while read -r long a b; do
			case $a in -?) short=$a arg=$b ;; *) short="" arg=$a ;; esac
			# the help shows "-s, --long ARG", "--long[=ARG]" or "--long"
			want="$long"
			[ -n "$short" ] && want="$short, $want"
			case $arg in
			"") want="$want " ;;
			"[="*) want="$want$arg " ;;
			*) want="$want $arg " ;;
			esac
			sed 's/$/ /' help.txt | grep -qF -- "  $want" || missing="$missing $long"
			# the man page names it, with its short name
			if [ $have_mandoc = 1 ]; then
				grep -q -- "$long\([^a-z-]\|$\)" "$t.man" || noman="$noman $long"
				[ -z "$short" ] || grep -q -- "$short\([ ,]\|$\)" "$t.man" || noman="$noman $short"
			fi
		done < opts.txt
		n=$(wc -l < opts.txt)
		t_result $((n == 0)) "$u declares options ($n)"
		t_result $((${#missing} != 0)) "$u --help shows all $n options, each with its short name and value"
		[ -n "$missing" ] && echo "# not in the help:$missing"
		if [ $have_mandoc = 1 ]; then
			t_result $((${#noman} != 0)) "man/$t.1 names all of them"
			[ -n "$noman" ] && echo "# not in the man page:$noman"
		fi
		w=$(wc -L < help.txt)
		t_result $((w > 80)) "$u --help fits in 80 columns ($w)"
		t_fails 2 "$u: an unknown option" $u --frobnicate
		t_grep "^$t: \(${u#* }: \)\?unknown option '--frobnicate' (see $u --help)$" "$T_ERR" \
			"$u: the unknown option named, and where to look"
		t_fails 2 "$u: a value for --help" $u --help=x
		t_grep "option '--help' takes no value" "$T_ERR" "$u: --help takes no value"
		t_ok "$u --version" $u --version
		t_grep "^$t [0-9]" "$T_TMP/out" "$u --version prints the version"
		t_ok "$u -V" $u -V
	done < units.txt
done

# -- the options shared through tool.c: the same in every tool that has them
od-encode -S 16x16 --mode "$PIC" > lat.odf
od-tag 'a cat' > text.odf
# a command that works without a model (or with the tiny one) for each tool
run() { # tool, then its options
	t=$1
	shift
	case $t in
	od-tag) od-tag --print-prompt "$@" 'a cat' ;;
	od-encode) od-encode --pixels -S 16x16 "$@" "$PIC" ;;
	od-decode) od-decode --frames "$@" lat.odf ;;
	od-denoise) od-denoise --steps 1 --size 16x16 "$@" text.odf ;;
	esac
}
common=""
for t in $TOOLS; do
	grep -q '^--model -m DIR$' "$t.list" && common="$common $t"
done
t_result $(( $(echo $common | wc -w) != 4 )) "od-tag, od-encode, od-decode and od-denoise share the common options:$common"
for t in $common; do
	for o in model device threads progress; do
		grep -q "^--$o" "$t.list"
		t_result $? "$t has --$o"
	done
	grep -q '^--progress \[=MODE\]$' "$t.list" && grep -q '^--threads -j N$' "$t.list" && grep -q '^--device DEV$' "$t.list"
	t_result $? "$t: the same --progress, --threads and --device"
	run $t > "$t.plain"
	t_result $? "$t: a plain run"
	for args in "--progress none" "--progress=machine" "--progress" "--prog=none" "-j 1" "--threads=2" \
		"--threads 0" "--device cpu" "--device=cpu -j1"; do
		# shellcheck disable=SC2086 # args are several words
		run $t $args > run.out 2> run.err
		t_result $? "$t $args"
		t_ok "$t $args: the same output" cmp run.out "$t.plain"
		if [ "$args" = --progress=machine ] && [ $t != od-tag ]; then
			t_grep "^progress=[a-z]* job=0 step=1 total=1 elapsed=" run.err "$t: machine progress lines"
		fi
	done
	for dev in cpu ""; do
		(OD_DEVICE=$dev && export OD_DEVICE && run $t > run.out)
		t_result $? "$t with OD_DEVICE='$dev'"
		t_ok "$t with OD_DEVICE='$dev': the same output" cmp run.out "$t.plain"
	done
	t_fails 2 "$t --threads many" $t --threads many
	t_grep "^$t: --threads: 'many' is not an integer (see $t --help)$" "$T_ERR" "$t: --threads message"
	t_fails 2 "$t -j 5000" $t -j 5000
	t_grep "^$t: --threads: 5000 is out of range (0 to 4096)" "$T_ERR" "$t: the --threads range"
	t_fails 2 "$t --device tpu" $t --device tpu
	t_grep "^$t: --device: 'tpu' is not cpu or cuda" "$T_ERR" "$t: --device message"
	t_fails 2 "$t with OD_DEVICE=tpu" env OD_DEVICE=tpu $t
	t_grep "^$t: --device: 'tpu' is not cpu or cuda" "$T_ERR" "$t: \$OD_DEVICE is checked as --device is"
	t_fails 2 "$t --progress=bogus" $t --progress=bogus
	t_grep "^$t: --progress: 'bogus' is not auto, none or machine" "$T_ERR" "$t: --progress message"
	t_fails 2 "$t --threads without a value" $t --threads
	t_grep "^$t: option '--threads' needs a value" "$T_ERR" "$t: a missing value is named"
	t_fails 2 "$t -m without a value" $t -m
	t_grep "^$t: option '-m' needs a value" "$T_ERR" "$t: a missing value of a short option"
done
# where a model is needed: the same message whether it is missing or empty
for t in $common; do
	t_fails 2 "$t without a model" env -u OD_MODEL OD_PIC="$PIC" PATH="$PATH" sh -c '
		case $0 in
		od-tag) od-tag "a cat" ;;
		od-encode) od-encode -S 16x16 "$OD_PIC" ;;
		od-decode) od-decode lat.odf ;;
		od-denoise) od-denoise --steps 1 text.odf ;;
		esac' $t
	t_grep "^$t: no model: give --model DIR or set OD_MODEL, or get one with .od-model pull lehduong/OneDiffusion. (see $t --help)$" "$T_ERR" "$t: the no-model message"
	t_fails 2 "$t with an empty --model" env -u OD_MODEL OD_PIC="$PIC" PATH="$PATH" sh -c '
		case $0 in
		od-tag) od-tag -m "" "a cat" ;;
		od-encode) od-encode -m "" -S 16x16 "$OD_PIC" ;;
		od-decode) od-decode --model= lat.odf ;;
		od-denoise) od-denoise -m "" --steps 1 text.odf ;;
		esac' $t
	t_grep "no model: give --model DIR" "$T_ERR" "$t: an empty --model is no model"
done

# -- the shared options in the commands of od-train, where a command takes them:
# the same entries and the same messages, with the command named
shared() { # the shared options a command of od-train takes
	case $1 in
	train) echo model threads progress ;;
	init | step) echo model threads ;;
	grad) echo model device threads ;;
	vae) echo threads progress ;;
	vae-scale) echo threads ;;
	esac
}
for c in train init ema step grad vae vae-scale; do
	u="od-train $c"
	$u --list-options > cmd.list
	want=""
	for o in $(shared $c); do
		case $o in
		model) want="$want--model -m DIR," ;;
		device) want="$want--device DEV," ;;
		threads) want="$want--threads -j N," ;;
		progress) want="$want--progress [=MODE]," ;;
		esac
	done
	have=$(grep -E '^--(model -m DIR|device DEV|threads -j N|progress \[=MODE\])$' cmd.list | tr '\n' ',')
	t_result "$([ "$have" = "$want" ] && echo 0 || echo 1)" "$u: the shared options it takes ($(shared $c))"
	[ "$have" = "$want" ] || echo "# have '$have', want '$want'"
	for o in $(shared $c); do
		# each form is taken: the command then stops at its own usage error
		case $o in
		model) forms="-m$OD_MODEL|--model=$OD_MODEL|--mod $OD_MODEL" ;;
		device) forms="--device cpu|--device=cpu|--dev cpu" ;;
		threads) forms="-j 1|-j0|--threads=2|--threads 0" ;;
		progress) forms="--progress none|--progress=machine|--progress|--prog=none" ;;
		esac
		bad=""
		IFS='|'
		for f in $forms; do
			unset IFS
			# shellcheck disable=SC2086 # f is one or two words
			$u $f > /dev/null 2> form.err
			st=$?
			{ [ $st -eq 2 ] && ! grep -q -- "--$o\|option" form.err; } || bad="$bad [$f: $st $(cat form.err)]"
			IFS='|'
		done
		unset IFS
		t_result "$([ -z "$bad" ] && echo 0 || echo 1)" "$u: --$o is taken in every form"
		[ -z "$bad" ] || echo "# $bad"
		case $o in
		threads)
			t_fails 2 "$u --threads many" $u --threads many
			t_grep "^od-train: $c: --threads: 'many' is not an integer (see $u --help)$" "$T_ERR" "$u: --threads message"
			t_fails 2 "$u -j 5000" $u -j 5000
			t_grep "^od-train: $c: --threads: 5000 is out of range (0 to 4096)" "$T_ERR" "$u: the --threads range" ;;
		progress)
			t_fails 2 "$u --progress=bogus" $u --progress=bogus
			t_grep "^od-train: $c: --progress: 'bogus' is not auto, none or machine" "$T_ERR" "$u: --progress message" ;;
		device)
			t_fails 2 "$u --device tpu" $u --device tpu
			t_grep "^od-train: $c: --device: 'tpu' is not cpu or cuda" "$T_ERR" "$u: --device message"
			t_fails 2 "$u with OD_DEVICE=tpu" env OD_DEVICE=tpu $u
			t_grep "^od-train: $c: --device: 'tpu' is not cpu or cuda" "$T_ERR" "$u: \$OD_DEVICE is checked" ;;
		model)
			t_fails 2 "$u -m without a value" $u -m
			t_grep "^od-train: $c: option '-m' needs a value" "$T_ERR" "$u: a missing value of -m" ;;
		esac
	done
	case " $(shared $c) " in
	*" device "*) ;;
	*)
		# a command without --device pays no attention to $OD_DEVICE
		t_fails 2 "$u with OD_DEVICE=tpu: only its own usage error" env OD_DEVICE=tpu $u
		! grep -q -- --device "$T_ERR"
		t_result $? "$u: \$OD_DEVICE is not its business" ;;
	esac
done
# the commands that need a model: the tools' message, whether it is missing or empty
for c in grad step; do
	case $c in
	grad) args="--case x.safetensors -o out.x" ;;
	step) args="-o out.x x.safetensors" ;;
	esac
	# shellcheck disable=SC2086 # args are several words
	t_fails 2 "od-train $c without a model" env -u OD_MODEL PATH="$PATH" od-train $c $args
	t_grep "^od-train: $c: no model: give --model DIR or set OD_MODEL, or get one with 'od-model pull lehduong/OneDiffusion' (see od-train $c --help)$" "$T_ERR" \
		"od-train $c: the no-model message"
	# shellcheck disable=SC2086
	t_fails 2 "od-train $c with an empty --model" od-train $c --model= $args
	t_grep "no model: give --model DIR" "$T_ERR" "od-train $c: an empty --model is no model"
done
# -- the default thread count: $OD_THREADS, else a share of the CPUs under
# make -jN, else every CPU this process may use
threads() { # the thread count od-tag -v reports, in the environment given
	n=$(env -u OD_THREADS -u MAKEFLAGS "$@" od-tag -v x 2>&1 >/dev/null | sed -n 's/.*, \([0-9]*\) threads\{0,1\}$/\1/p')
	echo "${n:--1}"
}
cpus=$(nproc)
t_result $(($(threads) != cpus)) "by default every CPU this process may use ($cpus)"
t_result $(($(threads OD_THREADS=3) != 3)) "OD_THREADS=3"
t_result $(($(threads OD_THREADS=3 MAKEFLAGS=-j2) != 3)) "OD_THREADS wins over make -j"
j=$(env -u MAKEFLAGS OD_THREADS=3 od-tag -j 2 -v x 2>&1 >/dev/null | grep -c ', 2 threads$')
t_result $((j != 1)) "-j wins over OD_THREADS"
want=$((cpus / 2 > 1 ? cpus / 2 : 1))
t_result $(($(threads MAKEFLAGS=' -j2 --jobserver-auth=3,4') != want)) "within make -j2: half the CPUs ($want)"
t_result $(($(threads MAKEFLAGS='w -j --jobserver-auth=3,4') != 1)) "within an unlimited make -j: 1"
t_result $(($(threads MAKEFLAGS='-j1') != cpus)) "within make -j1: every CPU"
t_result $(($(threads MAKEFLAGS='--jobs=64') != 1)) "within make --jobs=64 on fewer CPUs: 1"
t_fails 2 "OD_THREADS=many" env OD_THREADS=many od-tag -o x.odf x
t_grep "^od-tag: OD_THREADS: 'many' is not an integer" "$T_ERR" "a bad OD_THREADS is named"

# -- operands: '-' is standard input, '--' ends the options
t_ok "od-frame show - reads stdin" sh -c "od-frame show - < text.odf | grep -c text | grep -qx 2"
t_ok "od-tag: -- ends the options" sh -c "od-tag --print-prompt -- --raw -x | grep -qx '\[\[text2image\]\] --raw -x'"
t_ok "od-tag: options after operands" sh -c "od-tag 'a cat' --print-prompt | grep -qx '\[\[text2image\]\] a cat'"
t_ok "abbreviated long options" sh -c "od-tag --print-p --neg x 'a cat' | grep -qx '\[\[text2image\]\] a cat'"
t_fails 2 "an ambiguous abbreviation" od-tag --list- x
t_grep "option '--list-' is ambiguous (--list-tags, --list-colors)" "$T_ERR" "the candidates are named"
t_fails 2 "an unknown command" od-frame frobnicate
t_grep "^od-frame: unknown command 'frobnicate' (see od-frame --help)$" "$T_ERR" "unknown command message"
t_fails 2 "no command" od-model
t_grep "^od-model: give a command: info, random or pull" "$T_ERR" "the commands are listed"
t_done
