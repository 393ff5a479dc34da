#!/bin/sh
# od-denoise reproduces the golden pipeline runs (tests/golden/README.md §8):
# text-to-image, depth->image [1,0], image->depth [0,1] and multiview [0,0,1,0,1,0],
# each without (--no-softcap, upstream's fp32 path) and with the soft-cap, as
# shell pipelines from golden-made frames. Step 0's model output within 2e-4
# (via --trace) and the final latents within 1e-3 (numerics.md §10.1); the condition
# frames come out exactly as they went in. Then the same runs from --seed
# instead of stored noise (upstream's draw order, numerics.md §5.5), and the
# frame layouts by roles instead of --mask.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
G=$OD_GOLDEN/cases/pipeline

# frames of one run: text (negative, prompt), condition latent, condition rays, noise
frames() { # RUN
	P=$G/$1.safetensors
	od-frame from-safetensors "$P" --tensor prompt_embeds --mask prompt_mask --kind text \
		--role negative,condition --split -o text.odf &&
	od-frame from-safetensors "$P" --tensor init_noise --kind noise -o noise.odf &&
	if [ "${1#t2i}" = "$1" ]; then
		od-frame from-safetensors "$P" --tensor cond_latents --squeeze --role condition -o lat.odf
	else
		: > lat.odf
	fi &&
	if [ "${1#multiview}" != "$1" ]; then
		od-frame from-safetensors "$P" --tensor cond_rays --kind rays --role condition --split -o rays.odf
	else
		: > rays.odf
	fi
}

for run in t2i depth2image_mask10 image2depth_mask01 multiview_mask001010; do
	case $run in *_mask*) mask="--mask ${run##*_mask}" ;; *) mask= ;; esac
	for cap in nocap softcap; do
		P=$G/${run}_$cap.safetensors
		flag=; [ $cap = nocap ] && flag=--no-softcap
		t_ok "$run $cap: input frames from the golden file" frames ${run}_$cap
		cat text.odf lat.odf rays.odf noise.odf > in.odf
		t_ok "$run $cap: od-denoise --steps 4 --guidance 4 $mask $flag" \
			sh -c "od-denoise --steps 4 --guidance 4 $mask $flag --all --trace trace.odf in.odf > out.odf"
		n=$(od-frame show trace.odf | grep -c 'step="0"')
		t_ok "$run $cap: step 0 model output (both CFG halves, $n frames) within 2e-4" \
			odcmp --atol 2e-4 "trace.odf@0-$((n - 1))" "$P:step0.model_out"
		t_ok "$run $cap: final latents of every frame within 1e-3" odcmp --atol 1e-3 out.odf "$P:final_latents"
		if [ -s lat.odf ]; then
			idx=$(od-frame show out.odf | grep 'latent f32 (16, 8, 8) condition' | head -1 | cut -d: -f1)
			t_ok "$run $cap: the condition latent comes out unchanged" odcmp --exact "out.odf@$idx" lat.odf
		fi
		# the generated frames only (the default output), with their metadata
		od-denoise --steps 4 --guidance 4 $mask $flag in.odf > gen.odf 2>/dev/null
		od-frame show gen.odf > gen.txt
		t_grep 'target .*steps="4" guidance="4" size="64x64" mask="[01]*" model="tiny-onediffusion".* job="0" index=' gen.txt "$run $cap: generated frames are role target with metadata"
	done
done

# --seed: the noise od_randn draws in upstream's order reproduces the same runs
for rs in t2i:1001 depth2image_mask10:1002 image2depth_mask01:1003 multiview_mask001010:1004; do
	run=${rs%:*} seed=${rs#*:}
	case $run in *_mask*) mask="--mask ${run##*_mask}" ;; *) mask= ;; esac
	frames ${run}_softcap
	cat text.odf lat.odf rays.odf > in.odf
	t_ok "$run: --seed $seed reproduces the final latents within 1e-3" \
		sh -c "od-denoise --steps 4 --guidance 4 --seed $seed $mask --all in.odf > out.odf &&
		       odcmp --atol 1e-3 out.odf $G/${run}_softcap.safetensors:final_latents"
	od-frame show out.odf > seed.txt
	t_grep "target .*seed=\"$seed\"" seed.txt "$run: generated frames name their seed"
	cat text.odf lat.odf rays.odf noise.odf > innoise.odf
	t_ok "$run: --seed $seed gives the very bits of upstream's recorded noise" \
		sh -c "od-denoise --steps 4 --guidance 4 $mask --all innoise.odf > outnoise.odf && odcmp --exact out.odf outnoise.odf"
done

# frame layouts by roles (no --mask): a target frame (its data unused) where the mask has a 1
frames depth2image_mask10_softcap
od-frame select --set-role target lat.odf > tgt.odf
cat text.odf tgt.odf lat.odf noise.odf > in.odf
t_ok "depth2image by roles: [target, condition]" \
	sh -c "od-denoise --steps 4 --guidance 4 --all in.odf > out.odf &&
	       odcmp --atol 1e-3 out.odf $G/depth2image_mask10_softcap.safetensors:final_latents"
frames multiview_mask001010_softcap
od-frame select --set-role target lat.odf > tgt.odf
for i in 0 1 2; do od-frame select --index $i rays.odf > r$i.odf; done
cat text.odf lat.odf r0.odf tgt.odf r1.odf tgt.odf r2.odf noise.odf > in.odf
t_ok "multiview by roles: [image, rays, target, rays, target, rays]" \
	sh -c "od-denoise --steps 4 --guidance 4 --all in.odf > out.odf &&
	       odcmp --atol 1e-3 out.odf $G/multiview_mask001010_softcap.safetensors:final_latents"
# noise for the generated frames only (2 of 6 frames)
od-frame from-safetensors $G/multiview_mask001010_softcap.safetensors --tensor init_noise --kind noise \
	--squeeze --split -o nsplit.odf
od-frame select --index 2,4 nsplit.odf > ngen.odf
cat text.odf lat.odf r0.odf r1.odf r2.odf ngen.odf > in.odf
t_ok "noise frames for the generated frames only" \
	sh -c "od-denoise --steps 4 --guidance 4 --mask 001010 --all in.odf > out.odf &&
	       odcmp --atol 1e-3 out.odf $G/multiview_mask001010_softcap.safetensors:final_latents"
t_done
