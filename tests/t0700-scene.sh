#!/bin/sh
# od-scene: scene sets are deterministic (same seed, same bytes, any thread
# count; --single and --first give the set's own scenes), every view's maps
# agree with the scene's geometry (tests/tools/odscene check: instances,
# semantic map, boxes, box map, depth16 against closed forms, depth.png's
# order, mask), the cameras round-trip through od-plucker and its --invert
# within t0510's 1e-5, the od-tag options of every task run on the shipped
# model, and impossible requests are refused with one line and no output.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP" || exit 1

# ---- determinism
t_ok "a set of 6 scenes, 3 views, 64x64, one thread" od-scene -o a --count 6 -s 42 --views 3 --size 64 --objects 2-4 -j 1
t_ok "the same again on two threads" od-scene -o b --count 6 -s 42 --views 3 --size 64 --objects 2-4 -j 2
t_ok "the same seed gives the same bytes, whatever the thread count" diff -r a b
od-scene -o c --count 6 -s 43 --views 3 --size 64 --objects 2-4
t_result "$(cmp -s a/000000/view0/image.png c/000000/view0/image.png && echo 1 || echo 0)" \
	"another seed gives another scene"
t_ok "--single writes the set's scene into the folder itself" sh -c \
	"od-scene -o one --single -s 42 --first 4 --views 3 --size 64 --objects 2-4 && diff -r one a/000004"
t_ok "--first continues the same set" sh -c \
	"od-scene -o part --count 2 --first 4 -s 42 --views 3 --size 64 --objects 2-4 && diff -r part/000004 a/000004 &&
	 diff -r part/000005 a/000005 && test ! -e part/000000"
t_grep '"scenes": \[
    "000000", "000001", "000002", "000003", "000004", "000005"' a/index.json "index.json lists the scenes"
t_grep '"format": "od-scene-set"' a/index.json "index.json says what it is"
t_grep '"first": 4,' part/index.json "a part of a set says where it starts"
ls a/000000 | tr '\n' ' ' > ls-scene.txt
ls a/000000/view1 | tr '\n' ' ' > ls-view.txt
t_grep '^cameras.json caption.txt scene.json tasks.txt view0 view1 view2 $' ls-scene.txt \
	"a scene folder holds cameras.json, caption.txt, scene.json, tasks.txt and a folder a view"
t_grep '^boxes.png canny.png depth.png depth16.png image.png instances.png mask.png masked.png semantic.png $' \
	ls-view.txt "a view folder holds the nine maps"
t_ok "no temporary files are left" sh -c "! find a -name '.*' | grep -q ."

# ---- the maps against the geometry
for d in a/000000 a/000003 a/000005; do
	t_ok "$d: every view's maps agree with scene.json and cameras.json" odscene check "$d"
done
t_ok "non-square pictures, 0 to 6 objects" od-scene -o ns --count 4 -s 7 --size 96x64 --views 2 --objects 0-6
for d in ns/0*; do
	t_ok "$d (96x64): maps agree with the geometry" odscene check "$d"
done
t_ok "spheres only (depth against the closed form)" od-scene -o sph --count 3 -s 8 --size 64 --shapes sphere --objects 1-3
t_ok "the ground alone" od-scene -o gnd --count 2 -s 9 --size 80x48 --objects 0 --elevation 0-10 --views 2
for d in sph/0* gnd/0*; do
	t_ok "$d: maps agree with the geometry" odscene check "$d"
done
t_grep '"caption": "an empty ' gnd/000000/scene.json "a scene without objects says so"
t_ok "cameras close and high, every shape" od-scene -o near --count 2 -s 10 --size 64 --distance 1.95 --elevation 60-85 \
	--objects 6 --views 2
for d in near/0*; do
	t_ok "$d: maps agree with the geometry" odscene check "$d"
done

# ---- cameras: od-plucker and back (t0510's round trip)
t_ok "cameras.json -> rays -> --invert -> rays (atol 1e-5)" sh -c \
	"od-plucker -c a/000002/cameras.json -S 64 > r.odf && od-plucker --invert r.odf > back.json &&
	 od-plucker -c back.json -S 64 > r2.odf && odcmp --atol 1e-5 r2.odf r.odf"
t_grep '"image": "view2/image.png"' a/000002/cameras.json "cameras.json names each view's picture"

# ---- the od-tag options of every task, on the shipped model
cp a/000001/tasks.txt tasks.txt
t_result "$([ "$(cut -f1 tasks.txt | tr '\n' ' ')" = \
	"text2image depth2image canny2image semanticmap2image boundingbox2image image_inpainting multiview " ] &&
	echo 0 || echo 1)" "a multiview scene with objects offers seven tasks"
while IFS='	' read -r tag opts; do
	eval "set -- $opts"
	t_ok "$tag: od-tag runs the options of scene.json" od-tag -m "$OD_MODEL" -o "$tag.odf" "$@"
	od-frame show "$tag.odf" > "$tag.txt" 2>&1
	t_grep "^0: text .* condition .*task=\"$tag\" prompt=\"\[\[$tag\]\] " "$tag.txt" \
		"$tag: a prompt frame with the tag"
done < tasks.txt
t_grep 'prompt="\[\[semanticmap2image\]\] <#[0-9A-F]* [a-z]* mask: [a-z]* [a-z]* [a-z]*> ' semanticmap2image.txt \
	"semanticmap2image: regions in the prompt"
t_grep 'prompt="\[\[boundingbox2image\]\] <#[0-9A-F]* [a-z]* boundingbox: ' boundingbox2image.txt \
	"boundingbox2image: boxes in the prompt"
t_ok "a one-view scene without objects offers no region tasks and no multiview" sh -c \
	"! grep -q 'semanticmap2image\|boundingbox2image' gnd/000000/tasks.txt &&
	 od-scene -o solo --single -s 1 --size 64 && ! grep -q multiview solo/tasks.txt"

# ---- progress for wrappers
t_ok "--progress=machine" sh -c "od-scene -o pm --count 3 --size 32 --progress=machine 2> pm.txt"
t_grep '^progress=scenes job=0 step=3 total=3 ' pm.txt "progress lines name the scenes done"

# ---- impossible requests and bad input
t_fails 2 "a size that is not a multiple of 16" od-scene -o bad --size 100
t_grep "multiples of 16" "$T_ERR" "the size message says why"
t_fails 2 "a size over 2048" od-scene -o bad --size 4096x64
t_fails 2 "more objects than fit on the ground" od-scene -o bad --objects 7
t_grep "do not fit on the ground" "$T_ERR" "the objects message says why"
t_fails 2 "an object range from high to low" od-scene -o bad --objects 3-2
t_fails 2 "no views" od-scene -o bad --views 0
t_fails 2 "65 views" od-scene -o bad --views 65
t_fails 2 "cameras inside the objects" od-scene -o bad --distance 1
t_grep "inside or too close to objects" "$T_ERR" "the distance message says why"
t_fails 2 "cameras too far for depth16" od-scene -o bad --distance 20
t_fails 2 "cameras below the ground" od-scene -o bad --elevation -10-20
t_fails 2 "cameras overhead" od-scene -o bad --elevation 30-90
t_fails 2 "an unknown shape" od-scene -o bad --shapes cube,torus
t_fails 2 "no output folder" od-scene --count 2
t_fails 2 "standard output for a set" od-scene -o - --count 2
t_fails 2 "--single with a count" od-scene -o bad --single --count 3
t_fails 2 "a seed of 2^53" od-scene -o bad -s 9007199254740992
t_fails 2 "an unknown option" od-scene -o bad --colour red
t_fails 2 "a stray argument" od-scene -o bad extra
t_ok "a refused run writes nothing" test ! -e bad
printf 'x' > afile
t_fails 5 "a file where the set's folder goes" od-scene -o afile/set --count 2 --size 32
cp -r a blocked
rm -rf blocked/000003
printf 'x' > blocked/000003
t_fails 5 "a file where a scene's folder goes" od-scene -o blocked --count 6 -s 42 --views 3 --size 64 --objects 2-4 -j 2
t_grep "blocked/000003': cannot create the folder" "$T_ERR" "the message names the scene's folder"
t_ok "a failed run changes nothing: the earlier set's index.json stays" cmp blocked/index.json a/index.json
t_ok "... and its scenes are as they were" diff -r blocked/000005 a/000005
t_ok "... and no temporary file or folder is left" sh -c "! find blocked -name '.*' | grep -q ."
# all or nothing: the files of a set appear when it is complete
env --default-signal od-scene -o big --count 100000 --size 64 -j 1 2>/dev/null &
pid=$!
i=0
while [ ! -d big ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.5
kill -INT $pid
wait $pid
st=$?
t_result $((st != 130)) "a set interrupted while written: killed by SIGINT ($st)"
t_ok "... leaves nothing, not even its folder" test ! -e big
t_done
