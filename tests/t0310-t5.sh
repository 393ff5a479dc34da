#!/bin/sh
# od-tag frames: the T5 encoder through the real binary against the golden
# encoder cases (tests/golden/README-text.md §2.4, §2.5): the 9 prompts of cases/t5 with the
# F32 weights and of cases/t5_bf16 with tests/golden/text_encoder_bf16 (BF16
# weights, float32 compute), last_hidden_state at all 300 positions within the
# strict tolerance 1e-5 (§3), the frame's mask plane = attention_mask exactly,
# and the frame's metadata.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
C=$OD_GOLDEN/cases/tokenizer/cases.json
CASES="empty upstream_t2i_cat upstream_faceid_backslash_continuation upstream_semanticmap upstream_negative_prompt
emoji literal_eos_middle exact_299_pieces long_paragraph_x5"

# A model folder with the BF16 text encoder and the real tokenizer.
mkdir -p bf16
ln -s "$OD_GOLDEN/text_encoder_bf16" bf16/text_encoder
ln -s "$OD_MODEL/tokenizer" bf16/tokenizer

for set in t5 t5_bf16; do
	if [ $set = t5 ]; then M=$OD_MODEL; else M=bf16; fi
	for name in $CASES; do
		G=$OD_GOLDEN/cases/$set/$name.safetensors
		P=$(odcase "$C" bytes "$name")
		t_ok "$set $name: od-tag" sh -c 'od-tag -m "$1" --raw -o out.odf -- "$2" 2>/dev/null' sh "$M" "$P"
		t_ok "$set $name: last_hidden_state (atol 1e-5)" odcmp --atol 1e-5 out.odf@0 "$G:last_hidden_state"
		od-frame to-safetensors out.odf -o out.safetensors
		t_ok "$set $name: mask plane = attention_mask" odcmp --exact out.safetensors:frame.0.mask "$G:attention_mask"
	done
done

# Frame layout and metadata.
od-tag --raw -o cat.odf -- "$(odcase "$C" bytes upstream_t2i_cat)"
od-frame show cat.odf > show.txt
t_grep '^0: text f32 (300, 64) condition mask=61/300 task="text2image" prompt="\[\[text2image\]\] A bipedal' show.txt \
	"prompt frame: text, (300, 64), condition, mask, task, prompt"
t_grep '^0: .* tokens="61"' show.txt "prompt frame: tokens"
t_grep '^1: text f32 (300, 64) negative mask=1/300 task="text2image" prompt="" tokens="1" negative="1" job="0"$' show.txt \
	"negative frame: the empty prompt by default"
t_ok "the default negative is upstream's empty prompt" odcmp --atol 1e-5 cat.odf@1 "$OD_GOLDEN/cases/t5/empty.safetensors:last_hidden_state"
t_ok "--standard-negative is NEGATIVE_PROMPT" sh -c "od-tag -N -t text2image --caption x -o neg.odf &&
	odcmp --atol 1e-5 neg.odf@1 '$OD_GOLDEN/cases/t5/upstream_negative_prompt.safetensors:last_hidden_state'"
t_ok "--negative TEXT" sh -c "od-tag --negative \"\$(odcase '$C' bytes emoji)\" x -o neg2.odf &&
	odcmp --atol 1e-5 neg2.odf@1 '$OD_GOLDEN/cases/t5/emoji.safetensors:last_hidden_state'"

# --dtype: the same values rounded.
t_ok "--dtype bf16" sh -c "od-tag --dtype bf16 --raw -o b.odf -- '$(odcase "$C" bytes upstream_t2i_cat)' &&
	od-frame show b.odf | grep -q '^0: text bf16 (300, 64)' &&
	odcmp --atol 0 --rtol 0.00390625 b.odf@0 cat.odf@0"
t_ok "--dtype f16" sh -c "od-tag --dtype f16 --raw -o h.odf -- '$(odcase "$C" bytes upstream_t2i_cat)' &&
	odcmp --atol 1e-4 --rtol 0.0009765625 h.odf@0 cat.odf@0"

# Batch: prompt and negative frames back to back, one pair per line, each the
# same bits as a run of its own; thread count does not change the bits.
printf 'a red apple\n[[depth2image]]\n' > two.txt
od-tag -f two.txt -o two.odf
od-tag 'a red apple' -o one.odf
od-tag --raw '[[depth2image]]' -o d.odf
t_ok "batch: 4 frames, condition/negative alternating" sh -c \
	"od-frame show two.odf | cut -d' ' -f6 | tr '\n' ' ' | grep -qx 'condition negative condition negative '"
t_ok "batch: job 0 = a run of its own" odcmp --exact two.odf@0,1 one.odf
t_ok "batch: job 1 = a run of its own" odcmp --exact two.odf@2,3 d.odf
t_ok "batch: the line's task in the metadata" sh -c "od-frame show two.odf | sed -n 3p | grep -q 'task=\"depth2image\"'"
t_ok "--threads 1 gives the same bits" sh -c "od-tag --threads 1 -f two.txt | odcmp --exact - two.odf"
t_ok "stdin batch" sh -c "od-tag < two.txt | odcmp --exact - two.odf"
t_done
