/*
 * spm.h: a SentencePiece unigram model in C: reads a spiece.model, normalises
 * text and cuts it into pieces exactly as Google's sentencepiece library
 * (0.1.9x) does (numerics.md §3.1).
 *
 * The model file is a ModelProto protobuf. What is read from it:
 *   pieces            piece string, score (float), type (normal, unknown,
 *                     control, user-defined, unused, byte);
 *   trainer_spec      model_type (only UNIGRAM is supported), byte_fallback,
 *                     treat_whitespace_as_suffix (must be false);
 *   normalizer_spec   precompiled_charsmap, add_dummy_prefix,
 *                     remove_extra_whitespaces, escape_whitespaces.
 * Everything else is skipped. The parser checks every length and offset (it
 * is fuzzed: fuzz/fuzz_spiece.c), and refuses what sentencepiece refuses:
 * empty or duplicate pieces, no unknown piece or two, byte pieces without
 * byte_fallback.
 *
 * Normalisation (sentencepiece normalizer.cc): the precompiled charsmap is a
 * Darts double-array trie over UTF-8 byte strings whose values point into a
 * blob of NUL-terminated replacement strings; at each position the longest
 * matching rule is applied (user-defined pieces match first and are kept as
 * they are), a byte that is not valid UTF-8 becomes U+FFFD (one per byte),
 * leading, trailing and repeated spaces are dropped, spaces become U+2581
 * ("▁") and a "▁" dummy prefix is added. T5's charsmap is nmt_nfkc: NFKC plus
 * mapping of control and zero-width characters.
 *
 * Encoding (unigram_model.cc, EncodeOptimized): Viterbi over the pieces that
 * match at each character, a character no piece covers becomes the unknown
 * piece with score min_score − 10, user-defined pieces always win; then
 * (sentencepiece_processor.cc) runs of unknown pieces are merged into one, or
 * spelled as <0xXX> byte pieces when byte_fallback is on.
 */
#ifndef OD_SPM_H
#define OD_SPM_H

#include <stddef.h>
#include <stdint.h>

enum od_spm_type {
	OD_SPM_NORMAL = 1,
	OD_SPM_UNKNOWN = 2,
	OD_SPM_CONTROL = 3,
	OD_SPM_USER_DEFINED = 4,
	OD_SPM_UNUSED = 5,
	OD_SPM_BYTE = 6,
};

/* Limits on what a model file may declare (a bigger one is refused). */
#define OD_SPM_MAX_FILE ((size_t)256 << 20)
#define OD_SPM_MAX_PIECES (1 << 22)
#define OD_SPM_MAX_PIECE_LEN 4096

struct od_spm;

/* Load a model from a file; errors are OD_EIO (cannot read) or OD_EMODEL
 * (corrupt or unsupported), and name the file. */
int od_spm_load(struct od_spm **out, const char *path);
/* The same from memory; label names it in messages. The bytes are copied. */
int od_spm_load_mem(struct od_spm **out, const void *data, size_t len, const char *label);
void od_spm_free(struct od_spm *m);

int od_spm_size(const struct od_spm *m);                 /* number of pieces */
const char *od_spm_piece(const struct od_spm *m, int id, size_t *len); /* NULL if out of range */
float od_spm_score(const struct od_spm *m, int id);
enum od_spm_type od_spm_type(const struct od_spm *m, int id);
int od_spm_unk_id(const struct od_spm *m);
/* The id of a piece string, or -1 if none (sentencepiece returns unk_id there). */
int od_spm_piece_id(const struct od_spm *m, const char *piece, size_t len);

/* Flags for od_spm_normalize / od_spm_encode. */
enum {
	OD_SPM_NO_DUMMY_PREFIX = 1, /* as if normalizer_spec.add_dummy_prefix were false */
};

/* Normalise n bytes of text (any bytes; NULs are characters). *out is a
 * malloc'd NUL-terminated string of *out_len bytes. */
int od_spm_normalize(const struct od_spm *m, const char *text, size_t n, int flags, char **out, size_t *out_len);

/* The result of encoding one text. Piece i is id[i] and the bytes
 * text[i], len[i]: a span of `normalized`, or a byte piece of the model; both
 * stay valid until od_spm_result_free (and the model lives). */
struct od_spm_result {
	char *normalized;
	size_t normalized_len;
	int n;
	int *id;
	const char **text;
	size_t *len;
};

int od_spm_encode(const struct od_spm *m, const char *text, size_t n, int flags, struct od_spm_result *r);
void od_spm_result_free(struct od_spm_result *r);

#endif
