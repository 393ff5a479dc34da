#!/bin/sh
# Every tool the tests run is installed by the README's set-up (./bootstrap)
# on a fresh Debian 12 (debootstrap --variant=minbase: the Essential and
# "required" packages only). The list below names every program beyond the
# shell's built-ins that a test script runs; a test that starts using another
# one adds it here and its package to bootstrap's PACKAGES.
. "$OD_SRCDIR/tests/lib.sh"
TOOLS="awk cat cmp cp cut dd env file find grep head ln ls make mandoc mkdir mkfifo mktemp prove pkg-config readlink
rm rmdir sed sh sleep sort tail tee timeout touch tr truncate wc"
if ! command -v dpkg-query > /dev/null 2>&1; then
	echo "1..0 # SKIP not a Debian system: no dpkg to ask"
	exit 0
fi
packages=$(sed -n '/^PACKAGES="/,/"$/p' "$OD_SRCDIR/bootstrap" | tr -d '"\\' | sed 's/^PACKAGES=//')
for t in $TOOLS; do
	p=$(command -v "$t")
	if [ -z "$p" ]; then
		t_result 1 "$t is installed"
		continue
	fi
	# dpkg knows a file by the path its package installed (/bin/cat or
	# /usr/bin/cat, whatever the merged /usr makes of it)
	pkg=
	for f in "$p" "$(readlink -f "$p")" "/bin/$t" "/usr/bin/$t"; do
		pkg=$(dpkg-query -S "$f" 2>/dev/null | grep -v "^diversion" | head -n 1 | cut -d: -f1)
		[ -n "$pkg" ] && break
	done
	if [ -z "$pkg" ]; then
		t_result 0 "$t ($p) # SKIP not from a Debian package here"
		continue
	fi
	how=$(dpkg-query -W -f='${Essential} ${Priority}' "$pkg" 2>/dev/null)
	case " $packages " in
	*" $pkg "*) t_result 0 "$t: $pkg is installed by ./bootstrap" ;;
	*)
		case "$how" in
		yes*|*required) t_result 0 "$t: $pkg is part of every Debian system ($how)" ;;
		*)
			# a package bootstrap installs may pull it in (pkgconf -> pkgconf-bin)
			dep=
			for b in $packages; do
				if dpkg-query -W -f='${Depends}\n' "$b" 2>/dev/null | tr ',|' '\n\n' | sed 's/ *(.*//; s/^ *//; s/:any$//' |
					grep -qx "$pkg"; then
					dep=$b
					break
				fi
			done
			if [ -n "$dep" ]; then
				t_result 0 "$t: $pkg comes with $dep, which ./bootstrap installs"
			else
				t_result 1 "$t: $pkg ($how) is not installed by ./bootstrap"
			fi
			;;
		esac
		;;
	esac
done
t_done
