#!/bin/sh
# Every documented example runs as written: each code block of README.md and
# each example of the EXAMPLES section of every man page (man/*.1, man/*.5:
# the pages of new tools are picked up as they come) is run on the shipped
# model, in a scratch folder of its own document holding the inputs below,
# the examples of one document in order (a later one may read what an earlier
# one wrote). A block passes when it exits 0.
#
# Speed: the tools on PATH are wrappers that append small sizes and few
# steps to every command (od-denoise -n 2 -S 64x64, od-encode -S 64x64,
# od-plucker -S 64, od TASK -n 2 -S 64x64 but with --dry-run, od-scene
# -S 64x64, od-train train and vae --steps 2 --batch 2, --steps 4 when they
# resume a run), so an example written for the released model at 1024x1024
# and 50 steps, or for a training run of hours, runs in seconds.
#
# Marking an example (a comment right before it; see HACKING.md, Tests):
#   README.md:   <!-- example: DIRECTIVE -->   on the line before the ``` fence
#   man pages:   .\" example: DIRECTIVE       on the line before .Dl or .Bd -literal
# DIRECTIVE is one of
#   skip REASON        not run: a TAP skip with the reason (the network, a GPU,
#                      root, Python, gigabytes)
#   make TARGET...     the block is a Makefile: run make TARGET... with it
#   output             the block is what the example before it prints on its
#                      standard output: compared, not run
#
# The inputs every document's folder starts with (made here from the golden
# pictures; examples name them as a user would name theirs):
#   pictures   photo.jpg photo.png depth.png front.png a.jpg b.jpg c.jpg ref.jpg
#              teapot.jpg edges.png hed.png posemap.png map.png boxes.png
#              masked.png blurred.jpg
#   folders    photos/ (a landscape and a portrait JPEG), depth/ with
#              captions/ (house, tree: a PNG and a .txt each), latents/ (two
#              latent streams)
#   text       captions.txt, prompts.txt (two prompts each)
#   training   data/ (000000.png and 000000.txt, 000001.*: pictures and
#              captions), photos/*.txt (captions) and depth/landscape.png,
#              depth/portrait.png, scenes/ (0001.png, 0002.png, 128x128), small/
#              (a transformer config.json), small-vae.json (a VAE config),
#              a_b2_f2_8x8.safetensors (a golden training case)
#   evaluation set/ (an od-scene set: 2 scenes of 6 views, 64x64),
#              depth-out/ and pictures/ (predictions for it), generated.png
#              and reference.png, out/ and ref/ (a pair each), pairs.txt
#              and run.tsv (an od-eval results spec that scores it),
#              predicted-depth.png and gt_depth16.png, seg.png,
#              estimated.json and transforms.json (6 cameras each)
#   streams    text.odf (od-tag's), latents.odf, all.odf and out.odf (a
#              multiview run with every frame: image latents and ray frames,
#              the rays of views 1 and 2 generated)
#   other      run.safetensors (the golden text-to-image run: prompt_embeds,
#              prompt_mask, init_noise, final_latents), onediffusion/ (the
#              shipped model, standing in for the folder `od-model pull
#              lehduong/OneDiffusion onediffusion` makes); share/ and
#              build/bin/, as in a source folder (the README's quick start)
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
G=$OD_GOLDEN/cases/pipeline

# ---- the wrappers: small sizes, few steps
mkdir wrap
cat > wrap/od-denoise <<EOF
#!/bin/sh
exec "$OD_BIN/od-denoise" "\$@" -n 2 -S 64x64
EOF
cat > wrap/od-encode <<EOF
#!/bin/sh
exec "$OD_BIN/od-encode" "\$@" -S 64x64
EOF
cat > wrap/od-plucker <<EOF
#!/bin/sh
for a in "\$@"; do [ "\$a" = --invert ] && exec "$OD_BIN/od-plucker" "\$@"; done
exec "$OD_BIN/od-plucker" "\$@" -S 64
EOF
cat > wrap/od-scene <<EOF
#!/bin/sh
exec "$OD_BIN/od-scene" "\$@" -S 64x64
EOF
cat > wrap/od-train <<EOF
#!/bin/sh
case \$1 in
train|vae)
	for a in "\$@"; do [ "\$a" = --resume ] && exec "$OD_BIN/od-train" "\$@" --steps 4 --batch 2; done
	exec "$OD_BIN/od-train" "\$@" --steps 2 --batch 2 ;;
esac
exec "$OD_BIN/od-train" "\$@"
EOF
cat > wrap/od <<EOF
#!/bin/sh
case \$1 in
-*|'') exec "$OD_BIN/od" "\$@" ;;
esac
for a in "\$@"; do [ "\$a" = --dry-run ] && exec "$OD_BIN/od" "\$@"; done
exec "$OD_BIN/od" "\$@" -n 2 -S 64x64
EOF
chmod +x wrap/*
PATH=$T_TMP/wrap:$PATH
export PATH

# ---- the inputs
mkdir in
(
	set -e
	cd in
	od-encode --pixels -S 96x64 "$G/rgb_64x64.png" | od-decode -o photo.jpg
	od-encode --pixels -S 96x64 "$G/rgb_64x64.png" | od-decode -o photo.png
	cp "$G/depth_100x75.png" depth.png
	cp "$G/mv_view0_64x64.png" front.png
	for f in a b c ref teapot blurred; do od-encode --pixels -S 64x64 "$G/mv_view0_64x64.png" | od-decode -o $f.jpg; done
	for f in edges hed posemap map boxes masked; do cp "$G/rgb_64x64.png" $f.png; done
	mkdir photos depth captions latents
	cp photo.jpg photos/landscape.jpg
	od-encode --pixels -S 48x80 "$G/rgb_64x64.png" | od-decode -o photos/portrait.jpg
	cp depth.png depth/house.png
	cp "$G/rgb_64x64.png" depth/tree.png
	echo 'a stone house in a green valley' > captions/house.txt
	echo 'a tree on a hill' > captions/tree.txt
	printf 'a red cube on a wooden table\na blue ball on the grass\n' > captions.txt
	cp captions.txt prompts.txt
	od-tag -N 'a red cube' > text.odf
	od-encode photo.jpg > latents.odf
	od-encode photo.jpg > latents/one.odf
	od-encode front.png > latents/two.odf
	{ od-tag -t multiview ''; od-encode a.jpg b.jpg c.jpg; od-plucker -a 0; } |
		od-denoise --mask 000101 --all > all.odf
	cp all.odf out.odf
	cp "$G/t2i_softcap.safetensors" run.safetensors
	# training and evaluation
	F=$OD_SRCDIR/tests/fixtures/eval
	"$OD_BIN/od-scene" -o set --count 2 -s 1 -S 64x64 --views 6
	mkdir data pictures depth-out scenes small out ref
	for i in 000000 000001; do
		cp set/$i/view0/image.png data/$i.png
		cp set/$i/caption.txt data/$i.txt
		cp set/$i/view0/image.png pictures/$i.png
		cp set/$i/view0/depth.png depth-out/$i.png
	done
	"$OD_BIN/od-encode" --pixels -S 128x128 set/000000/view1/image.png | od-decode -o scenes/0001.png
	"$OD_BIN/od-encode" --pixels -S 128x128 set/000001/view1/image.png | od-decode -o scenes/0002.png
	echo 'a field under a wide sky' > photos/landscape.txt
	echo 'a portrait by a window' > photos/portrait.txt
	cp photos/landscape.txt captions/landscape.txt
	cp photos/portrait.txt captions/portrait.txt
	cp depth.png depth/landscape.png
	cp depth.png depth/portrait.png
	cp "$OD_MODEL/transformer/config.json" small/config.json
	cat > small-vae.json <<'JSON'
{"_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3,
 "latent_channels": 16, "block_out_channels": [32, 64, 64, 64],
 "layers_per_block": 1, "norm_num_groups": 8, "act_fn": "silu",
 "mid_block_add_attention": true, "use_quant_conv": false,
 "use_post_quant_conv": false, "scaling_factor": 1.0, "shift_factor": 0.0}
JSON
	cp "$OD_GOLDEN/cases/train/a_b2_f2_8x8.safetensors" .
	cp "$F/image/p1.png" generated.png
	cp "$F/image/g1.png" reference.png
	cp "$F/image/p1.png" out/a.png
	cp "$F/image/g1.png" ref/a.png
	echo "out/a.png ref/a.png" > pairs.txt
	printf 'pictures\timage\tmodel\tpairs.txt\n' > run.tsv
	cp "$F/hand/depth_pred8.png" predicted-depth.png
	cp "$F/hand/depth_gt.png" gt_depth16.png
	cp set/000000/view0/semantic.png seg.png
	cp "$F/cameras/p1.json" estimated.json
	cp "$F/cameras/g1_nerfstudio.json" transforms.json
	ln -s "$OD_MODEL" onediffusion
	ln -s "$OD_SRCDIR/share" share
	mkdir build
	ln -s "$T_TMP/wrap" build/bin
) > inputs.log 2>&1
t_result $? "the inputs are made"
[ -s in/out.odf ] || sed 's/^/# /' inputs.log

# ---- extraction: "@@ N DIRECTIVE" then the example's lines
extract_readme() {
	awk '
	/^<!-- example:.*-->$/ { d = $0; sub(/^<!-- example: */, "", d); sub(/ *-->$/, "", d); next }
	/^```/ {
		if (!inb) { inb = 1; n++; print "@@ " n " " d; d = ""; next }
		inb = 0; next
	}
	inb { print; next }
	/./ { d = "" }
	' "$1"
}
extract_man() {
	awk '
	/^\.Sh / { ex = ($0 == ".Sh EXAMPLES"); next }
	!ex { next }
	/^\.\\" example:/ { d = $0; sub(/^\.\\" example: */, "", d); next }
	/^\.Bd -literal/ { inb = 1; n++; print "@@ " n " " d; d = ""; next }
	/^\.Ed/ { inb = 0; next }
	inb { print; next }
	/^\.Dl / { n++; print "@@ " n " " d; d = ""; sub(/^\.Dl /, ""); print; next }
	' "$1" | sed -e 's/\\e/\\/g' -e 's/\\&//g' -e 's/\\(dq/"/g' -e 's/\\(aq/'"'"'/g' -e 's/\\-/-/g' \
		-e 's/\\(ti/~/g' -e 's/\\(ha/^/g'
}

# ---- running
run_doc() { # name, extracted file
	name=$1
	dir=$T_TMP/run/$(echo "$name" | tr '/.' '__')
	mkdir -p "$dir"
	cp -R in/. "$dir/"
	rm -rf ex
	mkdir ex
	awk -v out=ex '/^@@ /{ n = $2; d = $0; sub(/^@@ [0-9]+ ?/, "", d); print d > (out "/" n ".dir"); next }
		{ print > (out "/" n ".sh") }' "$2"
	count=0
	for f in $(ls ex/*.dir 2>/dev/null | sort -t/ -k2 -n); do
		n=${f#ex/}
		n=${n%.dir}
		count=$((count + 1))
		d=$(cat "$f")
		[ -f "ex/$n.sh" ] || : > "ex/$n.sh"
		what="$name example $n: $(grep -m1 . "ex/$n.sh" | cut -c1-60 | tr -d '\\')" # no backslash: echo would expand it
		case $d in
		skip*)
			T_N=$((T_N + 1))
			echo "ok $T_N - $what # SKIP ${d#skip }"
			continue
			;;
		output)
			cmp -s "ex/$n.sh" stdout.txt
			rc=$?
			t_result $rc "$name example $n: the output the example before it prints"
			if [ $rc -ne 0 ]; then
				echo "# the document shows:"
				sed 's/^/#   /' "ex/$n.sh"
				echo "# the example printed:"
				sed 's/^/#   /' stdout.txt | head -10
			fi
			continue
			;;
		make\ *)
			cp "ex/$n.sh" "$dir/Makefile.example"
			(cd "$dir" && timeout 300 make -s -f Makefile.example ${d#make } < /dev/null) > stdout.txt 2> out.txt
			;;
		*)
			cp "ex/$n.sh" "$dir/example.sh"
			(cd "$dir" && timeout 300 sh -e example.sh < /dev/null) > stdout.txt 2> out.txt
			;;
		esac
		rc=$?
		t_result $rc "$what"
		if [ $rc -ne 0 ]; then
			echo "# exit status $rc; the example:"
			sed 's/^/#   /' "ex/$n.sh"
			cat stdout.txt out.txt | sed 's/^/# /' | head -15
		fi
	done
	t_result $((count == 0)) "$name has examples ($count)"
}

extract_readme "$OD_SRCDIR/README.md" > readme.txt
run_doc README.md readme.txt
for page in "$OD_SRCDIR"/man/*.[1-9]; do
	extract_man "$page" > page.txt
	run_doc "man/${page##*/}" page.txt
done
t_done
