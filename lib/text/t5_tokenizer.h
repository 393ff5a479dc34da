/*
 * t5_tokenizer.h: the Hugging Face T5Tokenizer (slow, transformers 4.45) on
 * top of the SentencePiece model, as OneDiffusion calls it (numerics.md §3.1):
 *
 *   tokenizer(prompt, padding="max_length", max_length=300, truncation=True)
 *
 * What that does, step by step (tests/golden/README-text.md §1.3):
 *  0. Bytes that are not valid UTF-8 are replaced by U+FFFD the way Python's
 *     bytes.decode("utf-8", errors="replace") does (one U+FFFD per maximal
 *     invalid subsequence), since upstream only ever sees Python strings.
 *  1. The text is split on the special tokens </s>, <pad>, <unk> and
 *     <extra_id_0>..<extra_id_N-1> (exact matches, leftmost first).
 *     <extra_id_N> eats the whitespace (Python str.isspace) on both sides.
 *  2. Each chunk between them is encoded by SentencePiece on its own, with
 *     its own dummy prefix (legacy=True). With legacy=False (read from
 *     tokenizer_config.json; absent means True) the transformers rules for
 *     that mode are followed instead.
 *  3. Truncation to max_length − 1 ids, then EOS unless the last id already
 *     is EOS; padding to max_length; the attention mask is 1 on every
 *     position before the padding (a literal <pad> in the text counts).
 *
 * Ids: the SentencePiece ids, and <extra_id_N> = pieces + extra_ids − 1 − N
 * (32099 − N for T5).
 */
#ifndef OD_T5_TOKENIZER_H
#define OD_T5_TOKENIZER_H

#include "text/spm.h"

#include <stddef.h>
#include <stdint.h>

/* The text length the pipeline pads and truncates to (numerics.md §3.1). */
#define OD_T5_MAX_LENGTH 300

struct od_t5_tokenizer {
	struct od_spm *spm;
	int legacy;            /* tokenizer_config.json "legacy" (default true) */
	int add_prefix_space;  /* "add_prefix_space" (default true; legacy=False only) */
	int extra_ids;         /* "extra_ids" (default 100) */
	int pad_id, eos_id, unk_id;
	int unk_token_length;  /* pieces of "<unk>" without dummy prefix (legacy=False) */
	int vocab;             /* SentencePiece pieces + extra ids */
};

/* Load DIR/spiece.model and, when present, DIR/tokenizer_config.json. A
 * missing or corrupt file is an OD_EMODEL error naming it. */
int od_t5_tokenizer_load(struct od_t5_tokenizer *t, const char *dir);
void od_t5_tokenizer_free(struct od_t5_tokenizer *t);

/* The token string of an id (a piece, or "<extra_id_N>" written into buf),
 * or NULL if the id is out of range. */
const char *od_t5_token_text(const struct od_t5_tokenizer *t, int id, char *buf, size_t size, size_t *len);

/* A tokenized text: ids and their token strings, untruncated, no EOS. */
struct od_t5_tokens {
	int n;
	int *id;
	size_t *off, *len;     /* token i is text[off[i] .. off[i]+len[i]) */
	char *text;            /* the token strings back to back */
	size_t text_len, text_cap;
	int cap;
};

/* Tokenize n bytes of text (T5Tokenizer.tokenize + convert_tokens_to_ids). */
int od_t5_tokenize(const struct od_t5_tokenizer *t, const char *text, size_t n, struct od_t5_tokens *out);
void od_t5_tokens_free(struct od_t5_tokens *tk);

/* The encoder's input row: ids[max_len] and mask[max_len] (step 3 above).
 * Returns the number of real (mask 1) positions; *n_cut gets how many
 * tokens truncation dropped (they are tk's tokens from max_len − 1 on). */
int od_t5_row(const struct od_t5_tokenizer *t, const struct od_t5_tokens *tk, int max_len, int32_t *ids,
	      uint8_t *mask, int *n_cut);

/* The text of tokens [from, to) as the decoder would show it: the token
 * strings joined, U+2581 turned into spaces, leading spaces dropped.
 * malloc'd; NULL on OOM. */
char *od_t5_tokens_join(const struct od_t5_tokens *tk, int from, int to);

/* Python's bytes.decode("utf-8", errors="replace"), re-encoded: a malloc'd
 * NUL-terminated copy with each maximal invalid subsequence replaced by
 * U+FFFD. *n_replaced (may be NULL) counts the replacements. */
int od_utf8_replace(const char *s, size_t n, char **out, size_t *out_len, int *n_replaced);

#endif
