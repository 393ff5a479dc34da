# t0120: lib/ is layered (lib/README.md): every include of a libod header names
# its folder, no file reaches into a layer above its own, and the CPU kernels'
# and the CUDA backend's internals stay out of the public headers.
. "$OD_SRCDIR/tests/lib.sh"
cd "$OD_SRCDIR" || exit 1

LAYERS="base formats compute model text camera pipeline train scene eval"
rank() { n=0; for l in $LAYERS; do [ "$l" = "$1" ] && { echo $n; return; }; n=$((n + 1)); done; echo 99; }

# every folder of lib/ is a known layer
unknown=
for d in lib/*/; do
	d=${d#lib/}; d=${d%/}
	[ "$(rank "$d")" = 99 ] && unknown="$unknown $d"
done
t_result "$([ -z "$unknown" ] && echo 0 || echo 1)" "every folder of lib/ is a layer (unknown:${unknown:- none})"

up=$T_TMP/up; : >"$up"
flat=$T_TMP/flat; : >"$flat"
for f in $(find lib -name '*.[ch]' -o -name '*.cu' -o -name '*.cuh'); do
	[ "$f" = lib/od.h ] && continue
	mine=$(echo "$f" | cut -d/ -f2); r=$(rank "$mine")
	grep -o '#include "[^"]*"' "$f" | sed 's/#include "//; s/"$//' | while read -r inc; do
		case $inc in
		*/*) l=${inc%%/*}; [ "$(rank "$l")" -gt "$r" ] && echo "$f -> $inc" >>"$up" ;;
		*) echo "$f -> $inc" >>"$flat" ;;
		esac
	done
done
t_result "$([ -s "$up" ] && echo 1 || echo 0)" "no file of lib/ includes a layer above its own"
sed 's/^/# upward: /' "$up"
t_result "$([ -s "$flat" ] && echo 1 || echo 0)" "every include in lib/ names its layer"
sed 's/^/# without a layer: /' "$flat"

# public headers never pull in a backend's internals
priv=$(grep -l '#include "compute/\(cpu\|cuda\)/' $(find lib -name '*.h' ! -path 'lib/compute/cpu/*' ! -path 'lib/compute/cuda/*') 2>/dev/null)
t_result "$([ -z "$priv" ] && echo 0 || echo 1)" "public headers do not include compute/cpu or compute/cuda (${priv:-none})"

# and tools only talk to the library through its headers, never to a backend
tools=$(grep -l '#include "compute/\(cpu\|cuda\)/' bin/*.c 2>/dev/null)
t_result "$([ -z "$tools" ] && echo 0 || echo 1)" "tools do not include backend internals (${tools:-none})"
t_done
