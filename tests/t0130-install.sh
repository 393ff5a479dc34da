# t0130: `make install` puts the tools, the library, the public headers (and
# only those) and od.pc where a program can use them: a small C program built
# with `pkg-config --cflags --libs od` against the staged install runs.
. "$OD_SRCDIR/tests/lib.sh"
cd "$OD_SRCDIR" || exit 1
D=$T_TMP/stage
t_ok "make install DESTDIR=..." make -s B="$OD_BUILD" SANITIZE="${OD_SANITIZE:-}" DESTDIR="$D" install
inc=$(find "$D" -type d -path '*/include/od' | head -1)
t_result "$([ -f "$inc/od.h" ] && echo 0 || echo 1)" "od.h is installed"
t_result "$(find "$inc" -path '*/compute/cpu/*' -o -path '*/compute/cuda/*' -o -name fastmath.h -o -name png_source.h | grep -q . && echo 1 || echo 0)" \
	"no private header is installed"
# every header od.h includes is installed
missing=
for h in $(sed -n 's/^#include "\(.*\)"/\1/p' lib/od.h); do [ -f "$inc/$h" ] || missing="$missing $h"; done
t_result "$([ -z "$missing" ] && echo 0 || echo 1)" "every header od.h includes is installed (missing:${missing:- none})"
pc=$(find "$D" -name od.pc | head -1)
prefix=$(sed -n 's/^prefix=//p' "$pc")
sed "s|^prefix=.*|prefix=$D$prefix|" "$pc" >"$T_TMP/od.pc"
cat >"$T_TMP/use.c" <<'C'
#include <od.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	json_t *j;
	struct od_nextdit_config cfg;
	int64_t params = 0;
	if (argc != 2 || od_json_load(argv[1], &j) || od_nextdit_config_parse(j, &cfg, argv[1]) ||
	    od_spec_count(od_nextdit_spec, &cfg, &params, NULL))
		return 1;
	printf("%s %lld\n", od_status_name(OD_EFORMAT), (long long)params);
	json_decref(j);
	return 0;
}
C
# the installed tools find the installed model without OD_MODEL (beside their
# own folder, so a staged install finds its own)
bin=$(dirname "$(find "$D" -type f -name od-tag -path '*/bin/*' | head -1)")
t_ok "the porcelain is installed" test -x "$bin/od"
t_ok "an installed tool runs without OD_MODEL" sh -c \
	"env -u OD_MODEL XDG_DATA_HOME=$T_TMP/nothing '$bin/od-tag' -v 'a cat' 2> '$T_TMP/inst.err' > '$T_TMP/inst.odf'"
t_grep "model '$D.*/share/od/scene-onediffusion'" "$T_TMP/inst.err" "... on the installed trained model"
m=$(find "$D" -type d -path '*/share/od/scene-onediffusion' | head -1)
t_ok "its text encoder, tokenizer and scheduler link to the installed tiny model's" sh -c '
	for c in text_encoder tokenizer scheduler; do
		[ -L "$1/$c" ] && [ "$(readlink "$1/$c")" = "../tiny-onediffusion/$c" ] && [ -n "$(ls "$1/$c/")" ] || exit 1
	done' sh "$m"
t_ok "the porcelain too" sh -c \
	"cd '$T_TMP' && env -u OD_MODEL XDG_DATA_HOME=$T_TMP/nothing '$bin/od' text2image x -S 16x16 -n 1 -o inst.png && test -s inst.png"
flags=$(PKG_CONFIG_PATH=$T_TMP pkg-config --cflags --libs --static od 2>"$T_ERR")
t_ok "a program compiles and links against the installed library" \
	cc ${OD_SANITIZE:+-fsanitize=address,undefined} -o "$T_TMP/use" "$T_TMP/use.c" $flags
t_ok "and runs" "$T_TMP/use" "$OD_GOLDEN/onediffusion-full-configs/transformer/config.json"
t_grep '^bad input 2800389184$' "$T_TMP/out" "it counts the full transformer's parameters"
t_done
