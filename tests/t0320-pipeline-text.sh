#!/bin/sh
# od-tag reproduces the text side of every golden pipeline run
# (tests/golden/README.md §8): for each run's prompt and negative prompt, the
# token ids (prompt.input_ids, negative.input_ids), the embeddings the DiT
# received (prompt_embeds row 1 = prompt, row 0 = negative; atol 1e-5,
# tests/golden/README-text.md §3) and the masks (prompt_mask), exactly.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
for run in t2i depth2image_mask10 image2depth_mask01 multiview_mask001010; do
	G=$OD_GOLDEN/cases/pipeline/${run}_nocap.safetensors
	prompt=$(odcase "$G" meta prompt)
	neg=$(odcase "$G" meta negative_prompt)
	# upstream's None is the empty string (numerics.md §3.1): od-tag's default.
	if [ "$neg" = null ]; then
		set --
	elif [ $run = t2i ]; then
		set -- -N # NEGATIVE_PROMPT (checked against the metadata below)
	else
		set -- --negative "$neg"
	fi
	# The prompt carries its tag: od-tag uses it as it is.
	t_ok "$run: od-tag $*" od-tag "$@" -o out.odf -- "$prompt"
	t_ok "$run: prompt ids" sh -c 'test "$(od-tag --ids -- "$1")" = "$(odcase "$2" real "prompt.input_ids[0]" "prompt.attention_mask[0]")"' \
		sh "$prompt" "$G"
	t_ok "$run: prompt embedding = prompt_embeds[1]" odcmp --atol 1e-5 out.odf@0 "$G:prompt_embeds[1]"
	t_ok "$run: negative embedding = prompt_embeds[0]" odcmp --atol 1e-5 out.odf@1 "$G:prompt_embeds[0]"
	od-frame to-safetensors out.odf -o out.safetensors
	t_ok "$run: prompt mask = prompt_mask[1]" odcmp --exact out.safetensors:frame.0.mask "$G:prompt_mask[1]"
	t_ok "$run: negative mask = prompt_mask[0]" odcmp --exact out.safetensors:frame.1.mask "$G:prompt_mask[0]"
	t_ok "$run: negative mask = negative.attention_mask" odcmp --exact out.safetensors:frame.1.mask "$G:negative.attention_mask"
done
# The standard negative prompt is upstream's NEGATIVE_PROMPT, byte for byte.
t_ok "-N is NEGATIVE_PROMPT of inference.py" sh -c "od-tag -N x -o n.odf && od-frame show n.odf | sed -n 2p > neg.txt &&
	grep -qF \"prompt=\\\"\$(odcase '$OD_GOLDEN/cases/pipeline/t2i_nocap.safetensors' meta negative_prompt)\\\"\" neg.txt"
t_done
