#!/bin/sh
# A run that writes several files writes all of them or none (base/io.h,
# struct od_out_group): a bad later frame, a missing model, a failed last
# output or a signal leave no file of the run behind.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
od-tag "a red cube" > text.odf
od-denoise --steps 1 --size 64x64 text.odf > lat1.odf
cat lat1.odf lat1.odf lat1.odf > lat3.odf
od-frame from-safetensors "$OD_GOLDEN/cases/vae/encode_64x64.safetensors" --tensor image --kind image --squeeze \
	-o img.odf
cat img.odf img.odf > img2.odf
mkdir w

nothing() { # what
	left=$(ls -A w)
	t_result $([ -z "$left" ] && echo 0 || echo 1) "$1: nothing left behind"
	[ -z "$left" ] || { echo "# left:" $left; rm -rf w; mkdir w; }
}

# od-decode -o PATTERN: a bad frame after five good pictures
{ cat lat3.odf lat1.odf lat1.odf; printf 'not a frame at all'; } > bad.odf
t_fails 3 "od-decode -o p%d.png: a bad sixth frame" od-decode -o 'w/p%d.png' bad.odf
nothing "od-decode -o p%d.png with a bad sixth frame"
# ... the model missing at the first latent frame, after two pictures from image frames
cat img2.odf lat1.odf > mixed.odf
t_fails 2 "od-decode -o p%d.png: no model for the third frame" env OD_MODEL= od-decode -o 'w/p%d.png' mixed.odf
nothing "od-decode -o p%d.png with the model missing at the third frame"
# ... the last output (--cameras) failing after the pictures
t_fails 3 "od-decode -o p%d.png --cameras: no ray frames" od-decode -o 'w/p%d.png' --cameras w/cams.json lat3.odf
nothing "od-decode -o p%d.png --cameras without ray frames"
t_fails 3 "od-decode --frames --cameras: no ray frames" od-decode --frames -o w/out.odf --cameras w/cams.json img2.odf
nothing "od-decode --frames --cameras without ray frames"
# ... and when it works, every picture is there
t_ok "od-decode -o p%d.png: three pictures" od-decode -o 'w/p%d.png' lat3.odf
t_ok "... p0, p1 and p2" test -s w/p0.png -a -s w/p1.png -a -s w/p2.png
rm -f w/*

# od-model random: a config that fails after the first component was written
mkdir cfg
cp -R "$OD_MODEL/transformer" "$OD_MODEL/scheduler" cfg/
mkdir cfg/vae
sed 's/"scaling_factor": 1.5305/"scaling_factor": -1/' "$OD_MODEL/vae/config.json" > cfg/vae/config.json
t_fails 4 "od-model random: a bad vae config after the transformer" od-model random cfg w/model
nothing "od-model random with a bad vae config"
# ... into an existing folder: the folder stays, nothing is added
mkdir w/model
t_fails 4 "od-model random into an existing folder: a bad vae config" od-model random cfg w/model
t_ok "... the existing folder is still there, empty" sh -c 'test -d w/model && test -z "$(ls -A w/model)"'
rmdir w/model
# ... killed by a file size limit while writing weights
rc=$(sh -c 'ulimit -f 64; od-model random --dtype f32 "$OD_MODEL" w/model 2>/dev/null; echo $?' 2>/dev/null)
t_result $([ "$rc" -eq 153 ] && echo 0 || echo 1) "od-model random over ulimit -f: killed by SIGXFSZ (exit $rc)"
nothing "od-model random killed in mid-write"
t_ok "od-model random: the whole model otherwise" od-model random --dtype bf16 "$OD_MODEL" w/model
t_ok "... which checks" od-model info --check w/model
rm -rf w/model

# od-denoise -o and --trace: a bad later job leaves neither
{ cat text.odf; printf 'garbage'; } > badjob.odf
t_fails 3 "od-denoise -o --trace: a bad second job" od-denoise --steps 1 --size 64x64 -o w/out.odf --trace w/trace.odf \
	badjob.odf
nothing "od-denoise -o --trace with a bad second job"
t_done
