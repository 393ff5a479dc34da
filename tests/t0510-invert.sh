#!/bin/sh
# od-plucker --invert: ray frames -> cameras JSON against the golden rays_to_cameras
# results (tests/golden/README.md §7: r2c, r2c_default, r2c_intrinsics; R atol 1e-5,
# T and centres 1e-4 as numerics.md §10.1), round trips through the binaries, and bad input.
# The JSON is checked by `test_camera --json` (reads it with jansson directly).
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
G=$OD_GOLDEN/cases/rays
CHECK=$OD_TESTBIN/unit/test_camera

# check_json WHAT JSON SET PREFIX: the cameras in JSON equal the golden PREFIX.{R,T,centers}
check_json() {
	if "$CHECK" --json "$2" "$G/$3.safetensors" "$4" > check.txt 2>&1 && ! grep -q '^not ok' check.txt; then
		t_result 0 "$1"
	else
		t_result 1 "$1"
		grep -v '^ok' check.txt | sed 's/^/# /' | head -10
	fi
}

# rays16 of SET at S as ray frames
frames() {
	od-frame from-safetensors "$G/$1.safetensors" --tensor "S$2.rays16" --kind rays --role target --split -o "$1.S$2.odf"
}

for c in default_4v:8:1.3887 default_4v:64:1.3887 gradio_3v:8:1.3887 varied_4v:8:1.3887 varied_4v:16:1.3887 \
	pole_2v:8:1.3887 explicit_3v:8:1.2 explicit_3v:32:1.2 explicit_offcenter_2v:8:1.4; do
	set=${c%%:*} rest=${c#*:}
	s=${rest%%:*} f=${rest#*:}
	frames "$set" "$s"
	t_ok "$set S$s: --invert --focal $f" od-plucker --invert --focal "$f" "$set.S$s.odf" -o "$set.S$s.json"
	check_json "$set S$s: cameras = r2c (the matching focal)" "$set.S$s.json" "$set" "S$s.r2c"
	if [ "$s" = 8 ]; then
		od-plucker --invert --focal 1.7265 "$set.S8.odf" > "$set.default.json"
		check_json "$set S8: --focal 1.7265 = r2c_default (upstream's focal_length=(3.453,))" \
			"$set.default.json" "$set" "S8.r2c_default"
	fi
done

cat > e2.json <<'EOF'
{
  "convention": "opengl",
  "cameras": [
    {"c2w": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1.5], [0, 0, 0, 1]],
     "intrinsics": [[1.4, 0, 0.45], [0, 1.3, 0.55], [0, 0, 1]]},
    {"c2w": [[0.7071067811865476, 0, 0.7071067811865476, 1.0606601717798212], [0, 1, 0, 0.1], [-0.7071067811865476, 0, 0.7071067811865476, 1.0606601717798212], [0, 0, 0, 1]],
     "intrinsics": [[1.1, 0, 0.52], [0, 1.25, 0.48], [0, 0, 1]]}
  ]
}
EOF
printf '{"cameras": [{"intrinsics": [[1.2,0,0.5],[0,1.2,0.5],[0,0,1]]}, null, {"intrinsics": [[1.2,0,0.5],[0,1.2,0.5],[0,0,1]]}]}' > k3.json
od-plucker --invert --cameras e2.json explicit_offcenter_2v.S8.odf > off.json
check_json "explicit_offcenter_2v: --cameras intrinsics (fx != fy, off-centre) = r2c_intrinsics" off.json \
	explicit_offcenter_2v S8.r2c_intrinsics
od-plucker --invert --cameras k3.json explicit_3v.S32.odf > e3k.json
check_json "explicit_3v S32: --cameras with intrinsics only (and a null) = r2c_intrinsics" e3k.json explicit_3v \
	S32.r2c_intrinsics
od-plucker -c e2.json -S 64 | od-plucker --invert > meta.json
check_json "intrinsics from the frames' camera= metadata = r2c_intrinsics" meta.json explicit_offcenter_2v \
	S8.r2c_intrinsics
od-plucker --invert --channels first --focal 1.3887 default_4v.S8.odf > first.json
check_json "--channels first (channels 0-5 only) = r2c" first.json default_4v S8.r2c

# round trips through the binaries: cameras -> rays -> cameras -> rays
t_ok "round trip: orbit cameras -> rays -> cameras.json -> rays (atol 1e-5)" sh -c \
	"od-plucker -a 0,40,100,200 -e 0,20,-30,70 -d 1.5,1.2,2,1.7 --focal 1.1 -S 128 > rt.odf &&
	 od-plucker --invert rt.odf > rt.json && od-plucker -c rt.json -S 128 > rt2.odf && odcmp --atol 1e-5 rt2.odf rt.odf"
t_ok "round trip: off-centre intrinsics and a transforms.json-free camera file (atol 1e-5)" sh -c \
	"od-plucker -c e2.json -S 64 > e2.odf && od-plucker --invert e2.odf -o e2back.json &&
	 od-plucker -c e2back.json -S 64 | odcmp --atol 1e-5 - e2.odf"
t_grep '"convention": "opencv"' rt.json "the output says its convention"
t_grep '"fit": {"rays": 256, "used": 256, "rms_angle_deg": ' rt.json "the output reports the fit"
t_grep '"view": 3,' rt.json "views numbered from the frames' view="
t_ok "other frames in the stream (latents) are skipped" sh -c \
	"od-frame from-safetensors $OD_GOLDEN/cases/vae/encode_64x64.safetensors --tensor image --kind image --squeeze > img.odf &&
	 cat img.odf rt.odf img.odf | od-plucker --invert > mixed.json && cmp mixed.json rt.json"

# --- bad input
od-plucker -a 0,30 --target 1 -S 64 > tgt.odf
t_fails 3 "a target placeholder" od-plucker --invert tgt.odf -o bad.json
t_grep "tgt.odf': frame 1: a placeholder" "$T_ERR" "placeholder message names file and frame"
t_fails 3 "no ray frames at all" od-plucker --invert img.odf -o bad.json
# an all-zero ray frame (16, 8, 8), made as a safetensors file by hand
h='{"z":{"dtype":"F32","shape":[16,8,8],"data_offsets":[0,4096]}}'
while [ $(( ${#h} % 8 )) -ne 0 ]; do h="$h "; done
{ printf "\\$(printf %03o ${#h})\\000\\000\\000\\000\\000\\000\\000"; printf '%s' "$h"; head -c 4096 /dev/zero; } > zero.safetensors
od-frame from-safetensors zero.safetensors --tensor z --kind rays -o zero.odf
t_fails 3 "all-zero rays" od-plucker --invert zero.odf -o bad.json
t_grep "zero.odf': frame 0: 64 of 64 ray directions are zero" "$T_ERR" "zero-ray message"
t_fails 2 "--focal count does not match the frames" od-plucker --invert --focal 1,2,3 rt.odf -o bad.json
t_fails 2 "--cameras count does not match the frames" od-plucker --invert --cameras e2.json rt.odf -o bad.json
t_fails 2 "--focal and --cameras together" od-plucker --invert --focal 1 --cameras e2.json rt.odf -o bad.json
t_fails 2 "--focal 0" od-plucker --invert --focal 0 rt.odf -o bad.json
t_fails 2 "bad --channels" od-plucker --invert --channels second rt.odf -o bad.json
printf 'not a frame stream, but long enough to hold a header of sixty-four bytes.......' > junk.odf
t_fails 3 "garbage stream" od-plucker --invert junk.odf -o bad.json
t_fails 5 "missing input" od-plucker --invert nope.odf -o bad.json
t_ok "no output file after any failure" test ! -e bad.json
t_done
