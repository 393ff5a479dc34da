#!/bin/sh
# t0770: every example of od-eval(1) runs as written, in a folder that holds
# files of the names the examples use (copies of tests/fixtures/eval, and a
# scene set laid out as od-scene writes one). The text -> image example runs
# the tiny model of share/ ($OD_MODEL).
. "$OD_SRCDIR/tests/lib.sh"
F=$OD_SRCDIR/tests/fixtures/eval
mkdir -p "$T_TMP/w" && cd "$T_TMP/w" || exit 1

cp "$F/image/p1.png" generated.png; cp "$F/image/g1.png" reference.png
mkdir -p out ref depth-out pictures set/000000/view0
cp "$F/image/p1.png" out/a.png; cp "$F/image/g1.png" ref/a.png
cp "$F/image/p3.png" out/b.png; cp "$F/image/g3.png" ref/b.png
echo "out/a.png ref/a.png" > pairs.txt
cp "$F/hand/depth_pred8.png" predicted-depth.png; cp "$F/hand/depth_gt.png" gt_depth16.png
printf '{"format": "od-scene-set", "version": 1, "count": 1, "scenes": ["000000"]}\n' > set/index.json
sed 's/"id": "a",/"id": "000000", "depth_scale": 0.0005,/' "$F/t2i/scene_a.json" > set/000000/scene.json
echo "a large red cube to the left of a small blue sphere" > set/000000/caption.txt
cp "$F/cameras/g1.json" set/000000/cameras.json
cp "$F/image/g1.png" set/000000/view0/image.png
cp "$F/depth/g1.png" set/000000/view0/depth16.png
cp "$F/seg/g1.png" set/000000/view0/semantic.png
cp "$F/depth/p8.png" depth-out/000000.png
cp "$F/seg/p1.png" seg.png
cp "$F/cameras/p1.json" estimated.json; cp "$F/cameras/g1_nerfstudio.json" transforms.json
cp "$F/t2i/a_noisy.png" pictures/000000.png
printf 'pictures\timage\tmodel\tpairs.txt\n' > run.tsv

# the examples: .Dl lines and .Bd -literal blocks between EXAMPLES and SEE ALSO
awk '/^\.Sh EXAMPLES/ { on = 1; next } /^\.Sh / { on = 0 }
	on && /^\.Dl / { sub(/^\.Dl /, ""); n++; print > ("ex" n ".sh"); close("ex" n ".sh") }
	on && /^\.Bd -literal/ { lit = 1; n++; next }
	on && lit && /^\.Ed/ { lit = 0; close("ex" n ".sh"); next }
	on && lit { print > ("ex" n ".sh") }
	END { print n > "count" }' "$OD_SRCDIR/man/od-eval.1"
t_ok "od-eval(1) has at least 10 examples (found $(cat count))" test "$(cat count)" -ge 10
for f in $(ls ex*.sh | sort -t x -k 2 -n); do
	if sh -e "$f" > "$f.out" 2> "$f.err" && { [ -s "$f.out" ] || grep -q -- '-o ' "$f"; }; then
		t_result 0 "example runs: $(head -1 "$f")"
	else
		t_result 1 "example runs: $(head -1 "$f")"
		sed 's/^/# /' "$f.err" | head -5
	fi
done
t_ok "... and wrote what it said: scores.json, depth.csv, picture.png" test -s scores.json -a -s depth.csv -a -s picture.png
t_ok "... mean.png, origin.json, sheet.png, results.md, results.json" test -s mean.png -a -s origin.json -a -s sheet.png \
	-a -s results.md -a -s results.json
t_done
