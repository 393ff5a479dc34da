/*
 * fuzz_spiece: the SentencePiece model parser (lib/text/spm.c) on arbitrary bytes.
 *
 * The input is a spiece.model. When it loads, every part of the model is
 * exercised: the normaliser (charsmap double array, user-defined pieces),
 * Viterbi and the unknown/byte handling, on fixed texts and on the input's
 * own tail used as text, and the T5 tokenizer's special-token splitting.
 * Seeds (fuzz/seeds/fuzz_spiece/): small valid models: pieces only; T5's
 * special pieces with a hand-made charsmap (tab -> space, A -> a, U+FB01 ->
 * "fi", U+200B -> nothing); user-defined pieces with byte fallback; the first
 * 2000 pieces of T5's model with that charsmap.
 */
#include "text/spm.h"
#include "text/t5_tokenizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void encode(const struct od_spm *m, const char *s, size_t n, int flags)
{
	struct od_spm_result r;
	if (od_spm_encode(m, s, n, flags, &r) == 0) {
		for (int i = 0; i < r.n; i++) {
			size_t len;
			volatile unsigned sum = 0;
			/* every piece is a real id, and its text is readable */
			if (!od_spm_piece(m, r.id[i], &len))
				abort();
			for (size_t k = 0; k < r.len[i]; k++)
				sum += (unsigned char)r.text[i][k];
		}
		od_spm_result_free(&r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct od_spm *m;
	if (od_spm_load_mem(&m, data, size, "fuzz"))
		return 0;
	static const char *texts[] = {
		"", " ", "Hello world", "  a\t\tb  ", "[[text2image]] A cat </s> <extra_id_0> x",
		"caf\xc3\xa9 \xef\xbc\xa1 \xef\xac\x81 \xe2\x80\x8b \xf0\x9f\x90\xb1 \xe4\xb8\x80\xe5\x8f\xaa", "\xff\xfe\xc3",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		encode(m, texts[i], strlen(texts[i]), 0);
		encode(m, texts[i], strlen(texts[i]), OD_SPM_NO_DUMMY_PREFIX);
	}
	size_t tail = size < 256 ? size : 256;
	encode(m, (const char *)data + size - tail, tail, 0);
	/* The tokenizer layer over this model. */
	struct od_t5_tokenizer t = { .spm = m, .legacy = 1, .add_prefix_space = 1, .extra_ids = 100 };
	t.eos_id = od_spm_piece_id(m, "</s>", 4);
	t.pad_id = od_spm_piece_id(m, "<pad>", 5);
	t.unk_id = od_spm_unk_id(m);
	t.vocab = od_spm_size(m) + t.extra_ids;
	t.unk_token_length = 3;
	for (int legacy = 0; legacy < 2; legacy++) {
		t.legacy = legacy;
		struct od_t5_tokens tk;
		const char *s = "a <extra_id_1> b</s>  <pad>\xe2\x96\x81x <extra_id_99>";
		if (od_t5_tokenize(&t, s, strlen(s), &tk) == 0) {
			int32_t ids[300];
			uint8_t mask[300];
			int cut;
			od_t5_row(&t, &tk, 300, ids, mask, &cut);
			free(od_t5_tokens_join(&tk, 0, tk.n));
			od_t5_tokens_free(&tk);
		}
	}
	od_spm_free(m);
	return 0;
}
