#!/bin/sh
# od-plucker: cameras -> ray frames against tests/golden/cases/rays
# (tests/golden/README.md §7; rays16 atol 4e-6 as numerics.md §10.1), the frame
# layout and metadata, view selection, and
# every bad input (one stderr line, the documented status, no output file).
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
G=$OD_GOLDEN/cases/rays

# --- the angle sets, every stored S (size = 8 S)
t_ok "default_4v S8: pipeline defaults (az 0,30,60,90, el 0, d 1.7, focal 1.3887)" \
	sh -c "od-plucker --size 64 > d8.odf && odcmp --atol 4e-6 d8.odf $G/default_4v.safetensors:S8.rays16"
t_ok "default_4v S64: no options at all (size 512)" \
	sh -c "od-plucker > d64.odf && odcmp --atol 4e-6 d64.odf $G/default_4v.safetensors:S64.rays16"
t_ok "gradio_3v S8" sh -c "od-plucker -a 0,45,90 -e 0,10,-10 -d 1.5 -S 64 | odcmp --atol 4e-6 - $G/gradio_3v.safetensors:S8.rays16"
for s in 8 16; do
	t_ok "varied_4v S$s" sh -c "od-plucker -a 0,120,240,300 -e 0,30,-20,60 -d 1.5,2.0,1.2,1.7 -S $((8 * s)) |
		odcmp --atol 4e-6 - $G/varied_4v.safetensors:S$s.rays16"
done
t_ok "the pipeline golden's condition rays (multiview_mask001010: gradio's 3 views, S8)" sh -c \
	"od-plucker -a 0,45,90 -e 0,10,-10 -d 1.5 -S 64 |
	 odcmp --atol 4e-6 - $OD_GOLDEN/cases/pipeline/multiview_mask001010_nocap.safetensors:cond_rays"
t_ok "pole_2v S8: a camera at the pole (world_up (0,1,0) branch)" \
	sh -c "od-plucker -a 0,90 -e 0,90 -S 64 | odcmp --atol 4e-6 - $G/pole_2v.safetensors:S8.rays16"

# --- explicit cameras: od-cameras JSON (OpenGL c2w, normalised intrinsics)
cat > e3.json <<'EOF'
{
  "format": "od-cameras", "version": 1, "convention": "opengl",
  "cameras": [
    {"c2w": [[1, 0, 0, 0.1], [0, 1, 0, -0.2], [0, 0, 1, 2.0], [0, 0, 0, 1]],
     "intrinsics": [[1.2, 0, 0.5], [0, 1.2, 0.5], [0, 0, 1]]},
    {"c2w": [[0.8660254037844387, 0, 0.5, 1.0], [0, 1, 0, 0.0], [-0.5, 0, 0.8660254037844387, 1.7320508075688772], [0, 0, 0, 1]],
     "intrinsics": [[1.2, 0, 0.5], [0, 1.2, 0.5], [0, 0, 1]]},
    {"c2w": [[0.9396926207859084, -0.3420201433256687, 0, -0.3], [0.3213938048432697, 0.8830222215594891, -0.3420201433256687, 0.6], [0.116977778440511, 0.3213938048432697, 0.9396926207859083, 1.9], [0, 0, 0, 1]],
     "intrinsics": [[1.2, 0, 0.5], [0, 1.2, 0.5], [0, 0, 1]]}
  ]
}
EOF
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
for s in 8 32; do
	t_ok "explicit_3v S$s from an od-cameras file" \
		sh -c "od-plucker -c e3.json -S $((8 * s)) | odcmp --atol 4e-6 - $G/explicit_3v.safetensors:S$s.rays16"
done
t_ok "explicit_offcenter_2v S8: fx != fy, off-centre principal points" \
	sh -c "od-plucker -c e2.json -S 64 | odcmp --atol 4e-6 - $G/explicit_offcenter_2v.safetensors:S8.rays16"
# the same cameras as a nerfstudio transforms.json: 1000x1000 pixels, fl 1200 -> 1.2
cat > transforms.json <<'EOF'
{
  "camera_model": "OPENCV", "fl_x": 1200, "fl_y": 1200, "cx": 510, "cy": 490, "w": 1000, "h": 1000, "k1": 0.01,
  "frames": [
    {"file_path": "images/a.png", "transform_matrix": [[1, 0, 0, 0.1], [0, 1, 0, -0.2], [0, 0, 1, 2.0], [0, 0, 0, 1]]},
    {"file_path": "images/b.png", "transform_matrix": [[0.8660254037844387, 0, 0.5, 1.0], [0, 1, 0, 0.0], [-0.5, 0, 0.8660254037844387, 1.7320508075688772], [0, 0, 0, 1]]},
    {"file_path": "images/c.png", "transform_matrix": [[0.9396926207859084, -0.3420201433256687, 0, -0.3], [0.3213938048432697, 0.8830222215594891, -0.3420201433256687, 0.6], [0.116977778440511, 0.3213938048432697, 0.9396926207859083, 1.9], [0, 0, 0, 1]]}
  ]
}
EOF
t_ok "explicit_3v S8 from a nerfstudio transforms.json (cx, cy ignored as upstream)" \
	sh -c "od-plucker -c transforms.json -S 64 | odcmp --atol 4e-6 - $G/explicit_3v.safetensors:S8.rays16"
t_ok "--select picks and orders cameras of a file" \
	sh -c "od-plucker -c e3.json --select 1-2 -S 64 > sel.odf && od-plucker -c e3.json --skip 0 -S 64 > skip0.odf &&
		od-frame show sel.odf | grep -c 'view=\"[01]\" reference_view=\"0\"' | grep -qx 2"

# --- frames and metadata
od-frame show d8.odf > show.txt
t_grep '^0: rays f32 (16, 8, 8) condition view="0" reference_view="0" size="64" azimuth="0" elevation="0" distance="1.7"' \
	show.txt "frame 0: rays, F32 (16, S, S), condition, view and orbit metadata"
t_grep '^3: rays .* camera="{\\"view\\": 3, \\"c2w\\": \[\[0, 0, -1, 1.7\], \[0, 1, 0, 0\], \[1, 0, 0, 1.7\], \[0, 0, 0, 1\]\], \\"intrinsics\\": \[\[1.3887, 0, 0.5\]' \
	show.txt "camera= metadata: c2w relative to view 0 (OpenCV) and intrinsics"
od-plucker -a 0,30,60 --target 1,2 -S 64 > tgt.odf
od-frame show tgt.odf > tgt.txt
t_grep '^1: rays f32 (16, 8, 8) target placeholder view="1"' tgt.txt "--target: views 1, 2 are target placeholders"
t_ok "--target: the placeholders have no data, the condition keeps its rays" \
	sh -c "od-frame show --stats tgt.odf | grep -c 'min=' | grep -qx 1 && odcmp --atol 4e-6 tgt.odf@0 $G/default_4v.safetensors:S8.rays16[0]"
od-plucker -a 0,none,none -S 64 > none.odf
t_ok "'none' azimuths: views without a camera become targets" \
	sh -c "od-frame show none.odf | grep -c ' target ' | grep -qx 2 && od-frame show none.odf | grep -c ' condition ' | grep -qx 1"
t_ok "--skip drops a view; view indices stay" \
	sh -c "od-plucker --skip 1 -S 64 | od-frame show | grep -o ' view=\"[0-9]\"' | tr -d '\n' | grep -qx ' view=\"0\" view=\"2\" view=\"3\"'"
t_ok "rays are relative to the first condition view (upstream drops None views)" \
	sh -c "od-plucker -a 30,60,90 --target 0 -S 64 > rel.odf && od-plucker -a 0,30 -S 64 > ref.odf &&
		od-frame show rel.odf | grep -q '^2: .*reference_view=\"1\"' && odcmp --atol 1e-6 rel.odf@2 ref.odf@1"
t_ok "-o writes a file; stdout stays empty" sh -c "od-plucker -S 64 -o out.odf > stdout.txt && test -s out.odf && test ! -s stdout.txt"
t_ok "--normalize: camera 0 at 1.7 from where the axes meet" \
	sh -c "od-plucker -a 0,30 -d 3 --normalize -S 64 > n.odf && od-plucker -a 0,30 -d 1.7 -S 64 > n2.odf && odcmp --atol 1e-6 n.odf n2.odf"

# --- bad input
t_fails 2 "3 azimuths, 2 elevations" od-plucker -a 0,30,60 -e 0,10 -o bad.odf
t_grep "has 2 values but --azimuth has 3" "$T_ERR" "count mismatch message"
t_fails 2 "non-square size" od-plucker --size 512x384 -o bad.odf
t_grep "not square" "$T_ERR" "non-square message"
t_fails 2 "size not a multiple of 16" od-plucker --size 500 -o bad.odf
t_fails 2 "focal 0" od-plucker --focal 0 -o bad.odf
t_fails 2 "negative focal" od-plucker -f -1.3 -o bad.odf
t_fails 2 "negative distance" od-plucker -d -1 -o bad.odf
t_fails 2 "azimuth not a number" od-plucker -a 0,x -o bad.odf
t_fails 2 "--target of a view that does not exist" od-plucker -a 0,30 --target 2 -o bad.odf
t_fails 2 "a view both target and skipped" od-plucker --target 1 --skip 1 -o bad.odf
t_fails 2 "every view skipped" od-plucker -a 0,30 --skip 0-1 -o bad.odf
t_fails 2 "angles and a camera file" od-plucker -a 0 -c e3.json -o bad.odf
t_fails 2 "stray argument" od-plucker e3.json -o bad.odf
t_fails 2 "--normalize with one view" od-plucker -a 0 --normalize -o bad.odf
printf '{"cameras": [{"c2w": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], "focus": 2}]}' > unknown.json
t_fails 3 "unknown camera-file field" od-plucker -c unknown.json -o bad.odf
t_grep "unknown.json': cameras\[0\]: unknown field 'focus'" "$T_ERR" "unknown field message names file, camera and field"
printf '{"cameras": [{"c2w": [[1,0,0,0],[0,1,0,0],[0,0,0,0],[0,0,0,1]]}]}' > singular.json
t_fails 3 "singular camera matrix" od-plucker -c singular.json -o bad.odf
t_grep "singular" "$T_ERR" "singular message"
printf '{"cameras": [{"c2w": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], "intrinsics": [[0,0,0.5],[0,1,0.5],[0,0,1]]}]}' > f0.json
t_fails 3 "camera-file focal <= 0" od-plucker -c f0.json -o bad.odf
printf '{"fl_x": 1, "w": 2, "h": 2, "frames": [{"transform_matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], "depth": 1}]}' > ns.json
t_fails 3 "unknown transforms.json field" od-plucker -c ns.json -o bad.odf
printf '{"cameras": [' > trunc.json
t_fails 3 "truncated JSON" od-plucker -c trunc.json -o bad.odf
t_fails 5 "missing camera file" od-plucker -c nope.json -o bad.odf
t_ok "no output file after any failure" test ! -e bad.odf
t_done
