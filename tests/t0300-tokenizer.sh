#!/bin/sh
# od-tag --ids: the T5 tokenizer on all 68 golden prompts (tests/golden/README-text.md §1),
# through the real binary; plus invalid UTF-8, truncation and --pieces.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
C=$OD_GOLDEN/cases/tokenizer/cases.json

# Every case: od-tag --raw --ids (the prompt exactly as given) equals
# input_ids[:num_real_tokens]; the rest of the row is padding (0).
for name in $(odcase "$C" names); do
	odcase "$C" bytes "$name" > prompt.txt
	odcase "$C" ids "$name" > want.txt
	if od-tag --raw --ids -- "$(cat prompt.txt)" > got.txt 2> err.txt && cmp -s got.txt want.txt; then
		t_result 0 "ids: $name"
	else
		t_result 1 "ids: $name"
		echo "# want: $(cut -c1-200 want.txt)"
		echo "# got:  $(cut -c1-200 got.txt)"
		sed 's/^/# /' err.txt
	fi
done

# Truncation: the tool warns, naming what was cut; the row is 299 + </s>.
P=$(odcase "$C" bytes long_paragraph_x5)
t_ok "a 676-token prompt is cut, not refused" od-tag --raw --ids -- "$P"
t_grep "warning: the prompt has 676 tokens with </s>; cut to 300, dropping the last 376: " "$T_ERR" \
	"truncation warning names the count"
t_grep '376: "between balconies, fishing boats' "$T_ERR" "truncation warning quotes the dropped text"
t_ok "300 ids after truncation, the last </s>" sh -c "od-tag --raw --ids -- '$P' 2>/dev/null | wc -w | grep -qx 300 &&
	od-tag --raw --ids -- '$P' 2>/dev/null | grep -q ' 1\$'"
t_ok "no warning when nothing is cut" sh -c "od-tag --raw --ids -- '$(odcase "$C" bytes exact_299_pieces)' 2>err2.txt && test ! -s err2.txt"

# Invalid UTF-8 is decoded as Python's errors='replace' would: each maximal
# invalid subsequence becomes U+FFFD, then the text is tokenized.
t_ok "invalid byte = U+FFFD" sh -c "test \"\$(od-tag --raw --ids \"\$(printf 'caf\\351 ok')\")\" = \
	\"\$(od-tag --raw --ids \"\$(printf 'caf\\357\\277\\275 ok')\")\""
t_ok "truncated sequence = one U+FFFD" sh -c "test \"\$(od-tag --raw --ids \"\$(printf 'a\\342\\202b')\")\" = \
	\"\$(od-tag --raw --ids \"\$(printf 'a\\357\\277\\275b')\")\""

# --pieces: the tokens as text; a merged unknown run shows its characters.
od-tag --raw --pieces 'Hello <extra_id_0>. 一只猫' > pieces.txt
t_grep '^▁Hello <extra_id_0> ▁ \. ▁ 一只猫 </s>$' pieces.txt "--pieces shows pieces, special tokens and </s>"
# The task tag is part of the prompt unless --raw.
od-tag --ids 'a cat' > tagged.txt
od-tag --raw --ids '[[text2image]] a cat' > raw.txt
t_ok "default task adds [[text2image]]" cmp tagged.txt raw.txt
t_ok "--ids needs no text_encoder" sh -c "mkdir -p tokonly && ln -s '$OD_MODEL/tokenizer' tokonly/tokenizer &&
	od-tag -m tokonly --ids 'a cat' | cmp - tagged.txt"
# Batch: one line per job.
printf 'a cat\r\n[[depth2image]]\n\nlast line without newline' > jobs.txt
od-tag --ids -f jobs.txt > jobs.ids
t_ok "--file: one line of ids per line, CRLF handled" sh -c "test \$(wc -l < jobs.ids) -eq 4 &&
	sed -n 1p jobs.ids | cmp - tagged.txt && test \"\$(sed -n 2p jobs.ids)\" = \"\$(od-tag --raw --ids '[[depth2image]]')\" &&
	test \"\$(sed -n 3p jobs.ids)\" = \"\$(od-tag --raw --ids '[[text2image]]')\""
t_ok "prompts on stdin" sh -c "od-tag --ids < jobs.txt | cmp - jobs.ids"
t_done
