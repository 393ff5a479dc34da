#!/bin/sh
# od-decode: ray frames -> cameras JSON (numerics.md §7.5), beside pictures.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
R=$OD_GOLDEN/cases/rays/gradio_3v.safetensors

t_ok "rays of three views" sh -c "od-plucker -a 0,45,90 -e 0,10,-10 -d 1.5 --size 64 > rays.odf"
t_ok "od-decode --cameras" od-decode --cameras cams.json rays.odf
t_ok "same cameras as od-plucker --invert" sh -c "od-plucker --invert rays.odf > inv.json && cmp cams.json inv.json"
t_grep '"convention": "opencv"' cams.json "camera JSON format"
# the golden ray frames (×1.658 packing) give back the golden PyTorch3D cameras
t_ok "golden rays16 as frames" sh -c "od-frame from-safetensors $R --tensor S8.rays16 --split --kind rays --role target > g.odf"
t_ok "decode golden rays" od-decode --focal 1.3887 --cameras gold.json g.odf
"$OD_TESTBIN/unit/test_camera" --json gold.json "$R" S8.r2c > check.txt 2>&1
t_ok "recovered cameras match the golden r2c (R 1e-5, T and centres 1e-4)" sh -c "! grep -q '^not ok' check.txt && grep -q '^ok' check.txt"
od-frame from-safetensors "$OD_GOLDEN/cases/vae/dec_8x8.safetensors" --tensor z_model --squeeze > z.odf
t_ok "pictures and cameras from one stream" sh -c "cat z.odf rays.odf | od-decode --cameras c2.json -o pic_%d.png"
t_ok "the picture was written" test -s pic_0.png
t_ok "and the cameras" cmp c2.json cams.json
t_fails 2 "a ray frame without --cameras" od-decode rays.odf
t_grep "give --cameras" "$T_ERR" "message says what to do"
t_fails 3 "--skip-rays passes over them: nothing left to decode" od-decode --skip-rays rays.odf
t_ok "--skip-rays --allow-empty" od-decode --skip-rays --allow-empty rays.odf
t_fails 2 "pictures and cameras cannot share stdout" sh -c "cat z.odf rays.odf | od-decode --cameras -"
t_fails 3 "no ray frames for --cameras" od-decode --cameras none.json z.odf
t_ok "no camera file after failure" test ! -e none.json
t_done
