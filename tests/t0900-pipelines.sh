#!/bin/sh
# The four golden pipeline runs (tests/golden/README.md §8, soft-cap versions)
# end to end through the real binaries, from what a user has: the prompt, the
# condition pictures, the cameras and the seed. od-tag -> od-encode ->
# od-plucker -> od-denoise -> od-decode; the final latents within 1e-3 and the
# pictures within 2 levels of upstream's (numerics.md §10.1). Then camera-pose
# estimation as a pipeline, and the README's main job.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
G=$OD_GOLDEN/cases/pipeline

# text2image: __call__, seed 1001, 64x64, 4 steps, guidance 4, standard negative
t_ok "t2i: od-tag | od-denoise | od-decode" sh -c \
	"od-tag -N '[[text2image]] A tiny red cube on a wooden table, studio light' |
	 od-denoise --size 64x64 --steps 4 --guidance 4 --seed 1001 |
	 tee t2i.odf | od-decode -o t2i.png"
t_ok "t2i: final latents within 1e-3" odcmp --atol 1e-3 t2i.odf "$G/t2i_softcap.safetensors:final_latents"
t_ok "t2i: picture within 2 levels" odimg cmp --max 2 t2i.png "$G/t2i_softcap_out0.png"

# depth2image [1,0]: the depth picture 100x75, centre-cropped and resized to 64x64
t_ok "depth2image: od-tag + od-encode | od-denoise --mask 10 | od-decode" sh -c \
	"{ od-tag -N '[[depth2image]] a small stone house in a green valley';
	   od-encode -S 64x64 --seed 1002 $G/depth_100x75.png; } |
	 od-denoise --mask 10 --steps 4 --guidance 4 --seed 1002 --all | tee d2i.odf |
	 od-decode --role target -o d2i.png"
t_ok "depth2image: final latents within 1e-3" odcmp --atol 1e-3 d2i.odf "$G/depth2image_mask10_softcap.safetensors:final_latents"
t_ok "depth2image: picture within 2 levels" odimg cmp --max 2 d2i.png "$G/depth2image_mask10_softcap_out0.png"

# image2depth [0,1]: no caption, the empty negative prompt (upstream's default)
t_ok "image2depth: od-tag + od-encode | od-denoise --mask 01 | od-decode" sh -c \
	"{ od-tag '[[depth2image]]'; od-encode -S 64x64 --seed 1003 $G/rgb_64x64.png; } |
	 od-denoise --mask 01 --steps 4 --guidance 4 --seed 1003 --all | tee i2d.odf |
	 od-decode --role target -o i2d.png"
t_ok "image2depth: final latents within 1e-3" odcmp --atol 1e-3 i2d.odf "$G/image2depth_mask01_softcap.safetensors:final_latents"
t_ok "image2depth: picture within 2 levels" odimg cmp --max 2 i2d.png "$G/image2depth_mask01_softcap_out0.png"
t_ok "image2depth: a Spectral depth display" sh -c "od-decode --role target --colormap spectral -o depth.png i2d.odf && test -s depth.png"

# multiview [0,0,1,0,1,0]: view 0's picture, the rays of all three cameras
t_ok "multiview: od-tag + od-encode + od-plucker | od-denoise --mask 001010 | od-decode" sh -c \
	"{ od-tag -N '[[multiview]] a wooden chair';
	   od-encode -S 64x64 --seed 1004 $G/mv_view0_64x64.png;
	   od-plucker -a 0,45,90 -e 0,10,-10 -d 1.5 --focal 1.3887 --size 64; } |
	 od-denoise --mask 001010 --steps 4 --guidance 4 --seed 1004 --all | tee mv.odf |
	 od-decode --role target --skip-rays -o mv_%d.png"
t_ok "multiview: final latents within 1e-3" odcmp --atol 1e-3 mv.odf "$G/multiview_mask001010_softcap.safetensors:final_latents"
t_ok "multiview: view 1 within 2 levels" odimg cmp --max 2 mv_0.png "$G/multiview_mask001010_softcap_out0.png"
t_ok "multiview: view 2 within 2 levels" odimg cmp --max 2 mv_1.png "$G/multiview_mask001010_softcap_out1.png"
t_ok "multiview: one contact sheet" sh -c "od-decode --role target --skip-rays --grid auto -o sheet.png mv.odf && odimg info sheet.png | grep -q '^128 64$'"

# camera-pose estimation: all pictures given, view 0's camera given, the rays of
# views 1 and 2 generated and turned into cameras
t_ok "pose estimation: pictures + first camera -> cameras JSON" sh -c \
	"{ od-tag '[[multiview]]';
	   od-encode -S 64x64 --seed 5 $G/mv_view0_64x64.png $G/rgb_64x64.png $G/mv_view0_64x64.png;
	   od-plucker -a 0 --size 64; } |
	 od-denoise --mask 000101 --steps 2 --guidance 4 --seed 5 --all |
	 od-decode --role target --cameras cams.json"
t_grep '"view": 2' cams.json "pose estimation: the generated views' cameras"
t_grep '"c2w"' cams.json "pose estimation: camera-to-world matrices"

# the README's main job, on the model in share/
t_ok "main job: text to image, 256x256" sh -c \
	"od-tag 'a red cube on a wooden table' | od-denoise --size 256x256 --steps 8 --seed 7 | od-decode -o cube.png &&
	 odimg info cube.png | grep -q '^256 256$'"
t_done
