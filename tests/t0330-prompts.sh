#!/bin/sh
# od-tag's prompt builders give the exact upstream example strings of
# cases.json (numerics.md §6.1, §6.2): every task tag, the semantic-map and
# bounding-box regions, faceid and subject-driven captions, bare tags, and
# prompts used as they are.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
C=$OD_GOLDEN/cases/tokenizer/cases.json

# between TEXT A B: the text after the first A and before the next B (B
# empty: to the end).
between() {
	s=${1#*"$2"}
	[ -z "${3-}" ] || s=${s%%"$3"*}
	printf '%s' "$s"
}

# same NAME od-tag-args...: od-tag --print-prompt ARGS prints the prompt of case NAME.
same() {
	name=$1
	shift
	odcase "$C" bytes "$name" > want.txt
	echo >> want.txt
	if od-tag --print-prompt "$@" > got.txt 2> err.txt && cmp -s got.txt want.txt; then
		t_result 0 "prompt: $name"
	else
		t_result 1 "prompt: $name"
		echo "# want: $(cat want.txt)"
		echo "# got:  $(cat got.txt)"
		sed 's/^/# /' err.txt
	fi
}

P() { odcase "$C" bytes "$1"; }

same upstream_t2i_cat "$(between "$(P upstream_t2i_cat)" '[[text2image]] ')"
same tag_text2image_short -t text2image 'a red apple on a wooden table'
p=$(P upstream_semanticmap)
same upstream_semanticmap --region '#00ffff=Cyan:dragon' --region '#ff0000=yellow:bird' --region '#800080=purple:woman' \
	"$(between "$p" 'woman> ')"
p=$(P upstream_semanticmap_gradio)
same upstream_semanticmap_gradio -t semanticmap2image --region '#00ffff=Cyan: insert/concept/to/segment/here' \
	"$(between "$p" 'here> ')"
same tag_semanticmap_guide --region cyan:dragon 'a dragon circling a castle at sunset'
same tag_semanticmap_multi --region red:car --region lime:tree --region blue:sky --region '#FF8C00=darkorange:sign' \
	--region blueviolet:person/on/bike 'a city street in autumn'
same upstream_bbox_template --box '#00ffff=Cyan:insert/concept/to/segment/here' 'a dog on a beach'
same tag_bbox_two -t boundingbox2image --box '#00FFFF:dog' --box '#FF0000:ball' 'a dog playing with a red ball in a park'
same upstream_depth_caption -t depth2image cat sitting on a table
same upstream_depth_astronaut -t depth2image "$(between "$(P upstream_depth_astronaut)" ']] ')"
same upstream_depth_bare -t depth2image ''
same upstream_inpainting_bare -t image_inpainting --caption ''
same upstream_multiview_bare -t multiview ''
same upstream_multiview_cat -t multiview "$(between "$(P upstream_multiview_cat)" ']] ')"
same upstream_multiview_raven -t multiview "$(between "$(P upstream_multiview_raven)" ']] ')"
same upstream_editing_winter -t image_editing 'change it to winter and snowy weather'
same tag_editing_instruction -t image_editing 'make the sky purple and add two moons'
same tag_deblurring -t deblurring 'a sharp photo of a busy street at night'
same tag_canny -t canny2image 'a small house with a red roof and a white fence'
same tag_hed -t hed2img 'a portrait of an old fisherman'
same tag_pose -t pose2image 'a dancer jumping in the air, arms raised'
p=$(P upstream_faceid_anime)
same upstream_faceid_anime -t faceid --caption "$(between "$p" '[[img0]] ' ' [[img1]]')" -r "$(between "$p" '[[img1]] ')"
p=$(P upstream_faceid_three_refs)
same upstream_faceid_three_refs -t faceid --caption "$(between "$p" '[[img0]] ' ' [[img1]]')" \
	-r "$(between "$p" '[[img1]] ' ' [[img2]]')" -r "$(between "$p" '[[img2]] ' ' [[img3]]')" -r "$(between "$p" '[[img3]] ')"
same upstream_faceid_template -t faceid -r 'a man with a beard' -r 'a man wearing glasses' insert/your/caption/here
same tag_faceid_one_ref -t faceid -r 'a man with short black hair and glasses, smiling' 'a man in a suit giving a speech'
p=$(P upstream_subject_driven_dog)
same upstream_subject_driven_dog -t subject_driven -i 'cartoon dog' --caption "$(between "$p" '[[img0]] ' ' [[img1]]')" \
	-r "$(between "$p" '[[img1]] ')"
same upstream_subject_template -t subject_driven --item insert/item/here -r 'a red teapot on a table' \
	insert/your/target/caption/here
same tag_subject_cat -t subject_driven -i cat --ref-caption 'a photo of a grey tabby cat sleeping on a sofa' \
	'a cat wearing a tiny golden crown on a velvet pillow'
# Prompts that start with a [[tag]] are used as they are.
same upstream_faceid_backslash_continuation "$(P upstream_faceid_backslash_continuation)"
same tag_no_space_after "$(P tag_no_space_after)"
same tag_img_only "$(P tag_img_only)"
t_grep "warning: \[\[img0\]\] is not a task tag" err.txt "a leading tag that is no task tag: a warning"
same upstream_negative_prompt --raw "$(P upstream_negative_prompt)"
# The backslash-continued faceid prompt built from its parts: the same tokens
# (SentencePiece collapses the runs of spaces).
p=$(P upstream_faceid_backslash_continuation)
t_ok "faceid built from parts = the inference.py prompt's ids" sh -c 'test "$(od-tag --ids -t faceid --caption "$1" -r "$2" -r "$3" -r "$4")" = "$(od-tag --raw --ids -- "$5")"' \
	sh "$(between "$p" '[[img0]] ' ' [[img1]]')" "$(between "$p" '[[img1]] ' ' [[img2]]')" \
	"$(between "$p" '[[img2]] ' ' [[img3]]')" "$(between "$p" '[[img3]] ')" "$p"
# Batch: the task applies to every line; a line with its own tag is kept.
printf 'a\n[[multiview]] b\n' | od-tag -t multiview --print-prompt > batch.txt
printf '[[multiview]] a\n[[multiview]] b\n' > batch.want
t_ok "batch prompts" cmp batch.txt batch.want
# The lists.
od-tag --list-tags > tags.txt
t_ok "--list-tags: 13 tags" sh -c "test \$(grep -c '^[a-z_0-9]* ' tags.txt) -eq 13"
t_grep '^faceid .*\[target, ref1, ref2, ref3\]' tags.txt "--list-tags shows frame layouts"
t_grep '^multiview .*\[img0, ray0, img1, ray1, ...\]' tags.txt "--list-tags: multiview layout"
od-tag --list-colors > colors.txt
t_ok "--list-colors: 20 colours" sh -c "test \$(wc -l < colors.txt) -eq 20 && grep -qx '#DA70D6 orchid' colors.txt"
t_ok "--help" sh -c "od-tag --help | grep -q 'Usage: od-tag'"
t_ok "--version" sh -c "od-tag --version | grep -q '^od-tag '"
t_done
