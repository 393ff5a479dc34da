#!/bin/sh
# od-denoise as a batch tool: several jobs in one stream with the weights loaded
# once, the job-delimiting rule, output metadata, determinism (threads, SIMD,
# seeds), progress lines, guidance off, help and version.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
G=$OD_GOLDEN/cases/pipeline
T2I=$G/t2i_softcap.safetensors
D2I=$G/depth2image_mask10_softcap.safetensors

od-frame from-safetensors "$T2I" --tensor prompt_embeds --mask prompt_mask --kind text --role negative,condition \
	--split -o t2i_text.odf
od-frame select --index 1 --set task=text2image --set "prompt=[[text2image]] A tiny red cube" t2i_text.odf > p1.odf
od-frame select --index 0 t2i_text.odf > n1.odf
od-frame from-safetensors "$T2I" --tensor init_noise --kind noise -o t2i_noise.odf
od-frame from-safetensors "$D2I" --tensor prompt_embeds --mask prompt_mask --kind text --role negative,condition \
	--split -o d_text.odf
od-frame from-safetensors "$D2I" --tensor cond_latents --squeeze --role condition -o d_lat.odf
od-frame select --set-role target d_lat.odf > d_tgt.odf
od-frame from-safetensors "$D2I" --tensor init_noise --kind noise -o d_noise.odf

# job 0: text-to-image (prompt first, then negative); job 1: depth->image by roles
cat p1.odf n1.odf t2i_noise.odf d_text.odf d_tgt.odf d_lat.odf d_noise.odf > two.odf
t_ok "two jobs in one stream" sh -c "od-denoise --steps 4 --guidance 4 two.odf > two.out.odf"
od-frame show two.out.odf > two.txt
t_grep '^0: latent f32 (16, 8, 8) target .*job="0" index="0"' two.txt "job 0: one generated frame"
t_grep '^1: latent f32 (16, 8, 8) target .*job="1" index="0"' two.txt "job 1: its generated frame (frame 0 of its sequence)"
t_grep 'task="text2image" prompt="\[\[text2image\]\] A tiny red cube"' two.txt "task and prompt come from the prompt frame"
t_ok "job 0 equals the golden text-to-image run" odcmp --atol 1e-3 two.out.odf@0 "$T2I:final_latents"
t_ok "--all: job 1's two frames equal the golden depth->image run" \
	sh -c "od-denoise --steps 4 --guidance 4 --all two.odf > two.all.odf && odcmp --atol 1e-3 two.all.odf@1-2 $D2I:final_latents"
cat t2i_text.odf t2i_noise.odf > one.odf
od-denoise --steps 4 --guidance 4 one.odf > one.out.odf
t_ok "a job gives the same bits alone and in a batch" odcmp --exact two.out.odf@0 one.out.odf
# text-only jobs back to back: prompt, negative, prompt, negative = two jobs
cat p1.odf n1.odf p1.odf n1.odf > tt.odf
t_ok "two text-to-image jobs back to back" sh -c "od-denoise --steps 2 --seed 3 tt.odf > tt.out.odf"
t_ok "... give two frames that differ: each job has its own seed" sh -c "! odcmp --exact tt.out.odf@0 tt.out.odf@1 > /dev/null"
od-frame show tt.out.odf > tt.txt
t_grep '^1: .*job="1"' tt.txt "... the second is job 1"
t_grep '^0: .*seed="3"' tt.txt "... job 0 uses the seed given"
t_grep '^1: .*seed="4"' tt.txt "... job 1 uses the seed plus 1"
t_ok "... job 1 is a run of its job alone with seed 4" sh -c \
	"cat p1.odf n1.odf | od-denoise --steps 2 --seed 4 | odcmp --exact - tt.out.odf@1"
t_ok "... job 0 is a run of its job alone with seed 3" sh -c \
	"cat p1.odf n1.odf | od-denoise --steps 2 --seed 3 | odcmp --exact - tt.out.odf@0"

# the seed follows the job's index in the whole batch, carried in the prompt
# frame's job metadata, not its place in the stream: a part of a batch (as a
# shard of it would be) gives each job the picture it has in the whole batch
printf 'a red cube\na blue ball\na green cone\n' > prompts.txt
od-tag -f prompts.txt > batch.odf
od-frame show batch.odf > batch.txt
t_grep '^4: text .*job="2"' batch.txt "od-tag numbers its prompts: the third prompt is job 2"
t_ok "the whole batch" sh -c "od-denoise -n 2 -S 16x16 -s 10 batch.odf > batch.out.odf"
t_ok "a part of it: jobs 1 and 2 alone" sh -c "od-frame select --index 2-5 batch.odf | od-denoise -n 2 -S 16x16 -s 10 > part.odf"
t_ok "... job 1 is the same picture as in the whole batch" odcmp --exact part.odf@0 batch.out.odf@1
t_ok "... job 2 too" odcmp --exact part.odf@1 batch.out.odf@2
t_ok "... and is seed 12" sh -c "od-frame show part.odf | grep -q '^1: .*seed=\"12\" .*job=\"2\"'"
t_ok "streams of one job each, concatenated: still a seed each" sh -c \
	"{ od-tag 'a red cube'; od-tag 'a red cube'; } | od-denoise -n 2 -S 16x16 -s 10 > cat.odf &&
	 od-frame show cat.odf | grep -q '^1: .*seed=\"11\"' && ! odcmp --exact cat.odf@0 cat.odf@1 > /dev/null"

# --count: variations, each with its own seed: job J variation V uses S + J*N + V
t_ok "--count 3 on two jobs" sh -c "od-tag -f prompts.txt | od-frame select --index 0-3 | od-denoise -n 2 -S 16x16 -s 10 --count 3 > cnt.odf"
od-frame show cnt.odf > cnt.txt
t_result "$(grep -c '^[0-9]*: latent' cnt.txt | grep -qx 6 && echo 0 || echo 1)" "... six frames"
t_grep '^4: .*seed="14" .*variation="1" count="3" job="1"' cnt.txt "... job 1, variation 1: seed 14"
t_ok "... variation 2 of job 0 is seed 12 alone" sh -c \
	"od-tag 'a red cube' | od-denoise -n 2 -S 16x16 -s 12 | odcmp --exact - cnt.odf@2"
t_fails 2 "--count 0" od-denoise --count 0 t2i_text.odf

# a random seed: drawn, recorded, and the recorded seed gives the same bytes
for r in -1 random; do
	t_ok "--seed $r" sh -c "od-tag 'a red cube' | od-denoise -n 2 -S 16x16 --seed $r > r.odf"
	seed=$(od-frame show r.odf | sed -n 's/.* seed="\([0-9]*\)".*/\1/p')
	t_result $((${#seed} == 0)) "--seed $r: the seed is recorded ($seed)"
	t_ok "--seed $r: the recorded seed makes it again" sh -c \
		"od-tag 'a red cube' | od-denoise -n 2 -S 16x16 --seed $seed | cmp - r.odf"
done
t_ok "-v says which seed was drawn" sh -c "od-tag 'x' | od-denoise -v -n 1 -S 16x16 -s random 2>&1 >/dev/null | grep -q 'od-denoise: seed [0-9]'"
t_fails 2 "--seed -2" od-denoise --seed -2 t2i_text.odf
t_grep "'-2' is not a seed" "$T_ERR" "a bad seed is named"
t_fails 2 "--seed abc" od-denoise -s abc t2i_text.odf
t_ok "input from several files, concatenated" sh -c "od-denoise --steps 4 --guidance 4 p1.odf n1.odf t2i_noise.odf d_text.odf d_tgt.odf d_lat.odf d_noise.odf > files.out.odf && cmp files.out.odf two.out.odf"
t_ok "input from stdin" sh -c "cat two.odf | od-denoise --steps 4 --guidance 4 - > stdin.out.odf && cmp stdin.out.odf two.out.odf"

# determinism: thread count, SIMD or scalar kernels, repeated runs
cat d_text.odf d_lat.odf > d_in.odf
t_ok "--threads 1" sh -c "od-denoise --threads 1 --steps 3 --seed 11 --mask 10 d_in.odf > th1.odf"
t_ok "--threads 2" sh -c "od-denoise --threads 2 --steps 3 --seed 11 --mask 10 d_in.odf > th2.odf"
t_ok "1 and 2 threads give identical bytes" cmp th1.odf th2.odf
t_ok "scalar kernels (OD_NO_SIMD=1) give identical bytes" \
	sh -c "OD_NO_SIMD=1 od-denoise --threads 2 --steps 3 --seed 11 --mask 10 d_in.odf | cmp - th1.odf"
# 80x48 pixels: 15 tokens per frame, so the vector kernels have tails
t_ok "odd token counts: 1 and 2 threads, SIMD and scalar, identical" sh -c "
	od-denoise --threads 1 --steps 2 --size 80x48 t2i_text.odf > o1.odf &&
	od-denoise --threads 2 --steps 2 --size 80x48 t2i_text.odf > o2.odf &&
	OD_NO_SIMD=1 od-denoise --threads 2 --steps 2 --size 80x48 t2i_text.odf > o3.odf &&
	cmp o1.odf o2.odf && cmp o1.odf o3.odf"
od-frame show o1.odf > o1.txt
t_grep '^0: latent f32 (16, 6, 10) target' o1.txt "--size 80x48 gives a 10×6 latent (width 80 = 10·8)"
t_ok "the same seed gives the same bytes again" sh -c "od-denoise --threads 2 --steps 3 --seed 11 --mask 10 d_in.odf | cmp - th1.odf"
t_ok "another seed gives other latents" sh -c "od-denoise --steps 3 --seed 12 --mask 10 d_in.odf > s12.odf && ! odcmp --atol 1e-2 s12.odf th1.odf 2>/dev/null"
t_ok "the default seed is 0" sh -c "od-denoise --steps 1 --mask 10 d_in.odf > s0.odf && od-denoise --steps 1 --seed 0 --mask 10 d_in.odf | cmp - s0.odf"

# kind-aware placement by --mask: faceid [1,0,0,0] takes three references in order;
# camera-pose estimation [0,1,0,1,0,1]... here 000101: image slots 0, 2, 4 take
# the latents in order, ray slot 1 the one given camera, ray slots 3 and 5 are generated
for r in image2depth_mask01 multiview_mask001010; do
	od-frame from-safetensors "$G/${r}_softcap.safetensors" --tensor cond_latents --squeeze --role condition -o "c_$r.odf"
done
cat d_lat.odf c_image2depth_mask01.odf c_multiview_mask001010.odf > refs.odf
t_ok "faceid layout: --mask 1000 with three references" \
	sh -c "cat d_text.odf refs.odf | od-denoise --steps 1 --mask 1000 --all > face.odf"
t_ok "... the references fill frames 1, 2, 3 in order, unchanged" odcmp --exact face.odf@1-3 refs.odf
od-frame from-safetensors "$G/multiview_mask001010_softcap.safetensors" --tensor cond_rays --kind rays \
	--role condition --split -o mvrays.odf
od-frame select --index 0 mvrays.odf > ray0.odf
t_ok "pose layout: --mask 000101 with three images and view 0's rays" \
	sh -c "cat d_text.odf refs.odf ray0.odf | od-denoise --steps 1 --mask 000101 --all > pose.odf"
od-frame show pose.odf > pose.txt
t_grep '^1: rays f32 (16, 8, 8) condition' pose.txt "... frame 1 is the given ray frame"
t_grep '^3: rays f32 (16, 8, 8) target' pose.txt "... frames 3 and 5 are generated ray frames"
t_ok "... images at 0, 2, 4 in order" sh -c "od-frame select --index 0,2,4 pose.odf > imgs.odf && odcmp --exact imgs.odf refs.odf"
t_ok "... the ray frame at 1" sh -c "od-frame select --index 1 pose.odf > r1.odf && odcmp --exact r1.odf ray0.odf"
t_ok "without --all only the generated ray frames come out" \
	sh -c "cat d_text.odf refs.odf ray0.odf | od-denoise --steps 1 --mask 000101 | od-frame show | grep -c 'rays.*target' | grep -qx 2"

# guidance off: batch 1, no negative needed
od-frame select --index 1 d_text.odf > d_prompt.odf
t_ok "--guidance 1 needs no negative prompt" sh -c "cat d_prompt.odf d_lat.odf | od-denoise --guidance 1 --steps 2 --mask 10 > g1.odf"
od-frame show g1.odf > g1.txt
t_grep 'guidance="1"' g1.txt "guidance is recorded"

# progress lines for wrappers
t_ok "--progress=machine" sh -c "od-denoise --steps 2 --progress=machine --mask 10 d_in.odf > /dev/null 2> prog.txt"
t_grep '^progress=denoise job=0 step=2 total=2 elapsed=' prog.txt "one key=value line per step"
t_ok "no progress when stderr is not a terminal" sh -c "od-denoise --steps 2 --mask 10 d_in.odf 2> quiet.txt > /dev/null && test ! -s quiet.txt"

# the default text-to-image size is the config's input_size x 8 (64x64 for the tiny model)
t_ok "text-to-image at the default size" sh -c "od-denoise --steps 1 --guidance 1 p1.odf > def.odf"
od-frame show def.odf > def.txt
t_grep '^0: latent f32 (16, 8, 8) target' def.txt "default size: input_size·8 = 64×64 pixels"

t_ok "--help" od-denoise --help
t_grep 'Usage: od-denoise' "$T_TMP/out" "--help prints the usage"
t_ok "--version" od-denoise --version
t_grep '^od-denoise ' "$T_TMP/out" "--version prints the version"
t_done
