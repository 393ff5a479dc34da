/*
 * spm.c: SentencePiece unigram models (see spm.h for what is reproduced).
 *
 * Layout of this file: a minimal protobuf reader; two byte tries (one over
 * the vocabulary for Viterbi, one over user-defined pieces for the
 * normaliser's prefix matcher); the Darts double array of the precompiled
 * charsmap; the normaliser; the unigram Viterbi; the post-processing of
 * unknown pieces.
 *
 * The model file is outside input: every varint, length, offset and trie
 * index is checked before use, and sizes are capped (spm.h), so a corrupt
 * or hostile file gives an OD_EMODEL error, never a crash or a huge
 * allocation.
 */
#include "text/spm.h"
#include "base/error.h"
#include "base/io.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ tries */

/* A byte trie: node 0 is the root; edges live in one open-addressed hash
 * keyed by (node, byte). value[node] is the piece id ending there, or -1. */
struct trie {
	int32_t *value;
	int n, cap;
	uint64_t *ekey; /* 0: empty slot; else ((node + 1) << 8) | byte */
	int32_t *echild;
	size_t ecap, en;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static void trie_free(struct trie *t)
{
	free(t->value);
	free(t->ekey);
	free(t->echild);
	memset(t, 0, sizeof *t);
}

static int trie_init(struct trie *t)
{
	memset(t, 0, sizeof *t);
	t->cap = 64;
	t->value = malloc((size_t)t->cap * sizeof *t->value);
	t->ecap = 128;
	t->ekey = calloc(t->ecap, sizeof *t->ekey);
	t->echild = malloc(t->ecap * sizeof *t->echild);
	if (!t->value || !t->ekey || !t->echild)
		return OD_ENOMEM;
	t->value[0] = -1;
	t->n = 1;
	return OD_OK;
}

static inline int trie_child(const struct trie *t, int node, uint8_t byte)
{
	uint64_t key = ((uint64_t)(node + 1) << 8) | byte;
	for (size_t i = mix64(key) & (t->ecap - 1);; i = (i + 1) & (t->ecap - 1)) {
		if (t->ekey[i] == key)
			return t->echild[i];
		if (!t->ekey[i])
			return -1;
	}
}

static int trie_grow_edges(struct trie *t)
{
	size_t cap = t->ecap * 2;
	uint64_t *k = calloc(cap, sizeof *k);
	int32_t *c = malloc(cap * sizeof *c);
	if (!k || !c) {
		free(k);
		free(c);
		return OD_ENOMEM;
	}
	for (size_t i = 0; i < t->ecap; i++) {
		if (!t->ekey[i])
			continue;
		size_t j = mix64(t->ekey[i]) & (cap - 1);
		while (k[j])
			j = (j + 1) & (cap - 1);
		k[j] = t->ekey[i];
		c[j] = t->echild[i];
	}
	free(t->ekey);
	free(t->echild);
	t->ekey = k;
	t->echild = c;
	t->ecap = cap;
	return OD_OK;
}

/* Insert s[0..n) with value id unless the node has one already; *prev gets
 * the value it had (-1 if none). Returns OD_OK or OD_ENOMEM. */
static int trie_insert(struct trie *t, const uint8_t *s, size_t n, int id, int *prev)
{
	int node = 0;
	for (size_t i = 0; i < n; i++) {
		int ch = trie_child(t, node, s[i]);
		if (ch < 0) {
			if (t->n == t->cap) {
				int cap = t->cap * 2;
				int32_t *v = realloc(t->value, (size_t)cap * sizeof *v);
				if (!v)
					return OD_ENOMEM;
				t->value = v;
				t->cap = cap;
			}
			if (2 * (t->en + 1) > t->ecap && trie_grow_edges(t))
				return OD_ENOMEM;
			ch = t->n++;
			t->value[ch] = -1;
			uint64_t key = ((uint64_t)(node + 1) << 8) | s[i];
			size_t j = mix64(key) & (t->ecap - 1);
			while (t->ekey[j])
				j = (j + 1) & (t->ecap - 1);
			t->ekey[j] = key;
			t->echild[j] = ch;
			t->en++;
		}
		node = ch;
	}
	*prev = t->value[node];
	if (*prev < 0)
		t->value[node] = id;
	return OD_OK;
}

/* ------------------------------------------------------------------ model */

struct od_spm {
	char *label;
	uint8_t *blob; /* the file's bytes; piece strings point into it */
	size_t blob_len;
	int n;
	const char **piece;
	uint32_t *plen;
	float *score;
	uint8_t *type;
	int unk_id;
	int byte_fallback;
	int byte_id[256];
	struct trie normal;   /* NORMAL, USER_DEFINED, UNUSED pieces (sentencepiece's pieces_) */
	struct trie reserved; /* CONTROL, UNKNOWN, BYTE pieces (reserved_id_map_) */
	struct trie user;     /* USER_DEFINED pieces: the normaliser's prefix matcher */
	int n_user;
	float min_score, max_score;
	/* normalizer_spec */
	const uint8_t *darts; /* the double array, n_units little-endian uint32 */
	size_t n_units;
	const char *repl;     /* NUL-terminated replacement strings */
	size_t repl_len;
	int add_dummy_prefix, remove_extra_ws, escape_ws;
};

/* ------------------------------------------------------------------ protobuf */

struct pb {
	const uint8_t *p, *end;
};

static int pb_varint(struct pb *b, uint64_t *v)
{
	uint64_t r = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (b->p >= b->end)
			return -1;
		uint8_t c = *b->p++;
		if (shift == 63 && (c & 0x7e))
			return -1;
		r |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

/* One field: number, wire type, and the value (varint in *v; bytes for
 * length-delimited and fixed types in *data and *len). */
static int pb_field(struct pb *b, int *field, int *wire, uint64_t *v, const uint8_t **data, size_t *len)
{
	uint64_t key;
	if (pb_varint(b, &key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return -1;
	*field = (int)(key >> 3);
	*wire = (int)(key & 7);
	switch (*wire) {
	case 0:
		return pb_varint(b, v);
	case 1:
	case 5: {
		size_t n = *wire == 1 ? 8 : 4;
		if ((size_t)(b->end - b->p) < n)
			return -1;
		*data = b->p;
		*len = n;
		b->p += n;
		return 0;
	}
	case 2: {
		uint64_t n;
		if (pb_varint(b, &n) || n > (uint64_t)(b->end - b->p))
			return -1;
		*data = b->p;
		*len = (size_t)n;
		b->p += n;
		return 0;
	}
	default: /* groups (3, 4) do not occur in ModelProto */
		return -1;
	}
}

#define BAD(...) od_error(OD_EMODEL, __VA_ARGS__)

static int parse_piece(struct od_spm *m, const uint8_t *d, size_t n, int idx)
{
	struct pb b = { d, d + n };
	int field, wire;
	uint64_t v = 0;
	const uint8_t *data = NULL;
	size_t len = 0;
	m->piece[idx] = "";
	m->plen[idx] = 0;
	m->score[idx] = 0;
	m->type[idx] = OD_SPM_NORMAL;
	while (b.p < b.end) {
		if (pb_field(&b, &field, &wire, &v, &data, &len))
			return BAD("'%s': piece %d: malformed protobuf", m->label, idx);
		if (field == 1) {
			if (wire != 2)
				return BAD("'%s': piece %d: malformed protobuf", m->label, idx);
			if (len > OD_SPM_MAX_PIECE_LEN)
				return BAD("'%s': piece %d is longer than %d bytes", m->label, idx, OD_SPM_MAX_PIECE_LEN);
			m->piece[idx] = (const char *)data;
			m->plen[idx] = (uint32_t)len;
		} else if (field == 2) {
			if (wire != 5)
				return BAD("'%s': piece %d: malformed protobuf", m->label, idx);
			memcpy(&m->score[idx], data, 4);
		} else if (field == 3) {
			if (wire != 0)
				return BAD("'%s': piece %d: malformed protobuf", m->label, idx);
			if (v < OD_SPM_NORMAL || v > OD_SPM_BYTE)
				return BAD("'%s': piece %d has unknown type %llu", m->label, idx, (unsigned long long)v);
			m->type[idx] = (uint8_t)v;
		}
	}
	return OD_OK;
}

static int parse_trainer(struct od_spm *m, const uint8_t *d, size_t n)
{
	struct pb b = { d, d + n };
	int field, wire;
	uint64_t v = 0;
	const uint8_t *data;
	size_t len;
	while (b.p < b.end) {
		if (pb_field(&b, &field, &wire, &v, &data, &len))
			return BAD("'%s': trainer_spec: malformed protobuf", m->label);
		if ((field == 3 || field == 24 || field == 35) && wire != 0)
			return BAD("'%s': trainer_spec: malformed protobuf", m->label);
		if (field == 3 && v != 1) /* model_type: UNIGRAM = 1, BPE = 2, WORD = 3, CHAR = 4 */
			return BAD("'%s': model_type %llu is not supported (only unigram models are)", m->label,
				   (unsigned long long)v);
		if (field == 24 && v)
			return BAD("'%s': treat_whitespace_as_suffix is not supported", m->label);
		if (field == 35)
			m->byte_fallback = v != 0;
	}
	return OD_OK;
}

static int parse_normalizer(struct od_spm *m, const uint8_t *d, size_t n)
{
	struct pb b = { d, d + n };
	int field, wire;
	uint64_t v = 0;
	const uint8_t *data;
	size_t len;
	while (b.p < b.end) {
		if (pb_field(&b, &field, &wire, &v, &data, &len))
			return BAD("'%s': normalizer_spec: malformed protobuf", m->label);
		if ((field == 2 && wire != 2) || (field >= 3 && field <= 5 && wire != 0))
			return BAD("'%s': normalizer_spec: malformed protobuf", m->label);
		if (field == 2) {
			/* normalizer.cc DecodePrecompiledCharsMap: u32 trie size, trie, strings. */
			m->darts = NULL;
			m->n_units = 0;
			m->repl = NULL;
			m->repl_len = 0;
			if (!len)
				continue;
			uint32_t tsz;
			if (len <= 4)
				return BAD("'%s': precompiled_charsmap is broken", m->label);
			memcpy(&tsz, data, 4); /* little-endian, as x86 and the file are */
			if (tsz > len - 4)
				return BAD("'%s': precompiled_charsmap trie size %u exceeds the blob", m->label, tsz);
			m->darts = data + 4;
			m->n_units = tsz / 4;
			m->repl = (const char *)data + 4 + tsz;
			m->repl_len = len - 4 - tsz;
		} else if (field == 3) {
			m->add_dummy_prefix = v != 0;
		} else if (field == 4) {
			m->remove_extra_ws = v != 0;
		} else if (field == 5) {
			m->escape_ws = v != 0;
		}
	}
	return OD_OK;
}

/* "<0x41>" -> 0x41, or -1 (sentencepiece PieceToByte). */
static int piece_to_byte(const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
		return -1;
	const char *a = memchr(hex, s[3], 16), *c = memchr(hex, s[4], 16);
	if (!a || !c || !s[3] || !s[4])
		return -1;
	return (int)((a - hex) * 16 + (c - hex));
}

static int build(struct od_spm *m)
{
	const uint8_t *d = m->blob;
	struct pb b = { d, d + m->blob_len };
	int field, wire;
	uint64_t v = 0;
	const uint8_t *data;
	size_t len;
	int n = 0, rc;
	/* First pass: count pieces; parse the specs (later occurrences merge into earlier, as protobuf does). */
	m->add_dummy_prefix = m->remove_extra_ws = m->escape_ws = 1; /* proto2 defaults */
	while (b.p < b.end) {
		if (pb_field(&b, &field, &wire, &v, &data, &len))
			return BAD("'%s': not a SentencePiece model (malformed protobuf)", m->label);
		if (field >= 1 && field <= 3 && wire != 2)
			return BAD("'%s': not a SentencePiece model (malformed protobuf)", m->label);
		if (field == 1) {
			if (++n > OD_SPM_MAX_PIECES)
				return BAD("'%s': more than %d pieces", m->label, OD_SPM_MAX_PIECES);
		} else if (field == 2) {
			if ((rc = parse_trainer(m, data, len)))
				return rc;
		} else if (field == 3) {
			if ((rc = parse_normalizer(m, data, len)))
				return rc;
		}
	}
	if (!n)
		return BAD("'%s': not a SentencePiece model (no pieces)", m->label);
	m->n = n;
	m->piece = calloc((size_t)n, sizeof *m->piece);
	m->plen = calloc((size_t)n, sizeof *m->plen);
	m->score = calloc((size_t)n, sizeof *m->score);
	m->type = calloc((size_t)n, sizeof *m->type);
	if (!m->piece || !m->plen || !m->score || !m->type)
		return od_error(OD_ENOMEM, "out of memory");
	b.p = d;
	int i = 0;
	while (b.p < b.end) {
		pb_field(&b, &field, &wire, &v, &data, &len); /* checked in the first pass */
		if (field == 1 && (rc = parse_piece(m, data, len, i++)))
			return rc;
	}
	/* model_interface.cc InitializePieces */
	if ((rc = trie_init(&m->normal)) || (rc = trie_init(&m->reserved)) || (rc = trie_init(&m->user)))
		return od_error(OD_ENOMEM, "out of memory");
	m->unk_id = -1;
	for (int k = 0; k < 256; k++)
		m->byte_id[k] = -1;
	m->min_score = FLT_MAX;
	m->max_score = FLT_MIN; /* sic: sentencepiece starts from FLT_MIN, the smallest positive float */
	for (i = 0; i < n; i++) {
		int t = m->type[i], prev;
		if (!m->plen[i])
			return BAD("'%s': piece %d is empty", m->label, i);
		int normal = t == OD_SPM_NORMAL || t == OD_SPM_USER_DEFINED || t == OD_SPM_UNUSED;
		if (trie_insert(normal ? &m->normal : &m->reserved, (const uint8_t *)m->piece[i], m->plen[i], i, &prev))
			return od_error(OD_ENOMEM, "out of memory");
		if (prev >= 0)
			return BAD("'%s': piece %d '%.*s' is already defined (as %d)", m->label, i,
				   m->plen[i] < 40 ? (int)m->plen[i] : 40, m->piece[i], prev);
		if (t == OD_SPM_USER_DEFINED) {
			if (trie_insert(&m->user, (const uint8_t *)m->piece[i], m->plen[i], i, &prev))
				return od_error(OD_ENOMEM, "out of memory");
			m->n_user++;
		}
		if (t == OD_SPM_UNKNOWN) {
			if (m->unk_id >= 0)
				return BAD("'%s': two unknown pieces (%d and %d)", m->label, m->unk_id, i);
			m->unk_id = i;
		}
		if (t == OD_SPM_BYTE) {
			if (!m->byte_fallback)
				return BAD("'%s': byte piece %d although byte_fallback is off", m->label, i);
			int byte = piece_to_byte(m->piece[i], m->plen[i]);
			if (byte < 0)
				return BAD("'%s': byte piece %d is not <0xXX>", m->label, i);
			m->byte_id[byte] = i;
		}
		if (t == OD_SPM_NORMAL) {
			if (m->score[i] < m->min_score)
				m->min_score = m->score[i];
			if (m->score[i] > m->max_score)
				m->max_score = m->score[i];
		}
	}
	if (m->unk_id < 0)
		return BAD("'%s': no unknown piece", m->label);
	if (m->byte_fallback)
		for (int k = 0; k < 256; k++)
			if (m->byte_id[k] < 0)
				return BAD("'%s': byte_fallback is on but piece <0x%02X> is missing", m->label, k);
	return OD_OK;
}

int od_spm_load_mem(struct od_spm **out, const void *data, size_t len, const char *label)
{
	*out = NULL;
	if (len > OD_SPM_MAX_FILE)
		return BAD("'%s': larger than %zu bytes", label, OD_SPM_MAX_FILE);
	struct od_spm *m = calloc(1, sizeof *m);
	if (!m || !(m->label = strdup(label)) || !(m->blob = malloc(len ? len : 1))) {
		od_spm_free(m);
		return od_error(OD_ENOMEM, "out of memory");
	}
	memcpy(m->blob, data, len);
	m->blob_len = len;
	int rc = build(m);
	if (rc) {
		od_spm_free(m);
		return rc;
	}
	*out = m;
	return OD_OK;
}

int od_spm_load(struct od_spm **out, const char *path)
{
	char *data;
	size_t len;
	*out = NULL;
	int rc = od_read_file(path, OD_SPM_MAX_FILE, &data, &len);
	if (rc)
		return rc;
	rc = od_spm_load_mem(out, data, len, path);
	free(data);
	return rc;
}

void od_spm_free(struct od_spm *m)
{
	if (!m)
		return;
	trie_free(&m->normal);
	trie_free(&m->reserved);
	trie_free(&m->user);
	free(m->piece);
	free(m->plen);
	free(m->score);
	free(m->type);
	free(m->blob);
	free(m->label);
	free(m);
}

int od_spm_size(const struct od_spm *m) { return m->n; }
int od_spm_unk_id(const struct od_spm *m) { return m->unk_id; }

const char *od_spm_piece(const struct od_spm *m, int id, size_t *len)
{
	if (id < 0 || id >= m->n)
		return NULL;
	if (len)
		*len = m->plen[id];
	return m->piece[id];
}

float od_spm_score(const struct od_spm *m, int id) { return id >= 0 && id < m->n ? m->score[id] : 0; }
enum od_spm_type od_spm_type(const struct od_spm *m, int id)
{
	return id >= 0 && id < m->n ? (enum od_spm_type)m->type[id] : OD_SPM_UNUSED;
}

static int trie_lookup(const struct trie *t, const char *s, size_t n)
{
	int node = 0;
	for (size_t i = 0; i < n && node >= 0; i++)
		node = trie_child(t, node, (uint8_t)s[i]);
	return node >= 0 ? t->value[node] : -1;
}

int od_spm_piece_id(const struct od_spm *m, const char *piece, size_t len)
{
	int id = trie_lookup(&m->normal, piece, len);
	return id >= 0 ? id : trie_lookup(&m->reserved, piece, len);
}

/* ------------------------------------------------------------------ UTF-8 (sentencepiece util.cc) */

/* Bytes in the character that starts with lead byte c, from its top nibble. */
static inline size_t one_char_len(uint8_t c)
{
	static const uint8_t len[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
	return len[c >> 4];
}

static inline int trail(uint8_t c) { return (c & 0xc0) == 0x80; }
static inline int valid_cp(uint32_t c) { return c < 0xd800 || (c >= 0xe000 && c <= 0x10ffff); }

/* DecodeUTF8 + IsValidDecodeUTF8: the length of a valid character at s, or 0. */
static size_t valid_utf8_len(const uint8_t *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	if (n >= 2 && (s[0] & 0xe0) == 0xc0) {
		uint32_t cp = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
		if (trail(s[1]) && cp >= 0x80 && valid_cp(cp))
			return 2;
	} else if (n >= 3 && (s[0] & 0xf0) == 0xe0) {
		uint32_t cp = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
		if (trail(s[1]) && trail(s[2]) && cp >= 0x800 && valid_cp(cp))
			return 3;
	} else if (n >= 4 && (s[0] & 0xf8) == 0xf0) {
		uint32_t cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
			      ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
		if (trail(s[1]) && trail(s[2]) && trail(s[3]) && cp >= 0x10000 && valid_cp(cp))
			return 4;
	}
	return 0;
}

/* ------------------------------------------------------------------ normaliser */

static inline uint32_t unit_at(const struct od_spm *m, size_t i)
{
	uint32_t u;
	memcpy(&u, m->darts + 4 * i, 4);
	return u;
}

/* Darts-clone DoubleArray::commonPrefixSearch, keeping only the longest
 * match: its length (0 if none) and value. Indices are bounds-checked. */
static size_t darts_longest(const struct od_spm *m, const uint8_t *s, size_t n, uint32_t *value)
{
	if (!m->n_units)
		return 0;
#define OFFSET(u) (((u) >> 10) << (((u) & (1u << 9)) >> 6))
#define HAS_LEAF(u) (((u) >> 8) & 1)
#define LABEL(u) ((u) & ((1u << 31) | 0xff))
#define VALUE(u) ((u) & ((1u << 31) - 1))
	size_t best = 0;
	uint32_t unit = unit_at(m, 0);
	size_t pos = OFFSET(unit);
	for (size_t i = 0; i < n; i++) {
		pos ^= s[i];
		if (pos >= m->n_units)
			break;
		unit = unit_at(m, pos);
		if (LABEL(unit) != s[i])
			break;
		pos ^= OFFSET(unit);
		if (HAS_LEAF(unit)) {
			if (pos >= m->n_units)
				break;
			*value = VALUE(unit_at(m, pos));
			best = i + 1;
		}
	}
	return best;
#undef OFFSET
#undef HAS_LEAF
#undef LABEL
#undef VALUE
}

/* normalizer.cc NormalizePrefix: how many input bytes the next rule
 * consumes, and its replacement (*rep, *rep_len). */
static size_t norm_prefix(const struct od_spm *m, const uint8_t *s, size_t n, const char **rep, size_t *rep_len)
{
	if (m->n_user) { /* user-defined pieces are never normalised */
		int node = 0;
		size_t best = 0;
		for (size_t i = 0; i < n; i++) {
			if ((node = trie_child(&m->user, node, s[i])) < 0)
				break;
			if (m->user.value[node] >= 0)
				best = i + 1;
		}
		if (best) {
			*rep = (const char *)s;
			*rep_len = best;
			return best;
		}
	}
	uint32_t value = 0;
	size_t len = darts_longest(m, s, n, &value);
	if (len) {
		if (value >= m->repl_len) { /* a corrupt rule: treated as deleting the match */
			*rep = "";
			*rep_len = 0;
		} else {
			*rep = m->repl + value;
			const char *nul = memchr(*rep, 0, m->repl_len - value);
			*rep_len = nul ? (size_t)(nul - *rep) : m->repl_len - value;
		}
		return len;
	}
	size_t cl = valid_utf8_len(s, n);
	if (!cl) { /* malformed UTF-8: one byte becomes U+FFFD */
		*rep = "\xef\xbf\xbd";
		*rep_len = 3;
		return 1;
	}
	*rep = (const char *)s;
	*rep_len = cl;
	return cl;
}

struct buf {
	char *p;
	size_t n, cap;
};

/* A bound on normalised text: real rules expand a character at most ~18
 * times; only a hostile charsmap gets near this. */
#define MAX_NORMALIZED ((size_t)64 << 20)

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n > MAX_NORMALIZED)
		return od_error(OD_EFORMAT, "normalised text longer than %zu bytes", MAX_NORMALIZED);
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return od_error(OD_ENOMEM, "out of memory");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
	return OD_OK;
}

#define SPACE_SYMBOL "\xe2\x96\x81" /* U+2581 */

int od_spm_normalize(const struct od_spm *m, const char *text, size_t n, int flags, char **out, size_t *out_len)
{
	const uint8_t *s = (const uint8_t *)text;
	struct buf b = { 0 };
	const char *rep;
	size_t rl, i = 0;
	int rc = buf_add(&b, "", 0);
	if (rc)
		return rc;
	if (m->remove_extra_ws) { /* skip leading whitespace */
		while (i < n) {
			size_t c = norm_prefix(m, s + i, n - i, &rep, &rl);
			if (!(rl == 1 && rep[0] == ' '))
				break;
			i += c;
		}
	}
	if (i < n) {
		if (m->add_dummy_prefix && !(flags & OD_SPM_NO_DUMMY_PREFIX))
			rc = m->escape_ws ? buf_add(&b, SPACE_SYMBOL, 3) : buf_add(&b, " ", 1);
		int prev_space = m->remove_extra_ws;
		while (!rc && i < n) {
			size_t c = norm_prefix(m, s + i, n - i, &rep, &rl);
			if (prev_space)
				while (rl && rep[0] == ' ')
					rep++, rl--;
			for (size_t k = 0; !rc && k < rl; k++)
				rc = m->escape_ws && rep[k] == ' ' ? buf_add(&b, SPACE_SYMBOL, 3) : buf_add(&b, rep + k, 1);
			if (rl)
				prev_space = rep[rl - 1] == ' ';
			i += c;
			if (!m->remove_extra_ws)
				prev_space = 0;
		}
		if (!rc && m->remove_extra_ws) { /* drop trailing whitespace */
			const char *sp = m->escape_ws ? SPACE_SYMBOL : " ";
			size_t sl = strlen(sp);
			while (b.n >= sl && !memcmp(b.p + b.n - sl, sp, sl))
				b.n -= sl;
			b.p[b.n] = 0;
		}
	}
	if (rc) {
		free(b.p);
		return rc;
	}
	*out = b.p;
	*out_len = b.n;
	return OD_OK;
}

/* ------------------------------------------------------------------ Viterbi */

struct best_node {
	int id;
	float score;    /* best path score ending here */
	int64_t starts; /* start of the last piece, -1: not reached */
};

#define UNK_PENALTY 10.0f /* unigram_model.h kUnkPenalty */

int od_spm_encode(const struct od_spm *m, const char *text, size_t n, int flags, struct od_spm_result *r)
{
	memset(r, 0, sizeof *r);
	int rc = od_spm_normalize(m, text, n, flags, &r->normalized, &r->normalized_len);
	if (rc)
		return rc;
	const size_t size = r->normalized_len;
	const uint8_t *s = (const uint8_t *)r->normalized;
	if (!size)
		return OD_OK;
	struct best_node *best = malloc((size + 1) * sizeof *best);
	int *ids = NULL;
	int64_t *starts = NULL;
	if (!best)
		goto oom;
	for (size_t i = 0; i <= size; i++)
		best[i] = (struct best_node){ -1, 0, -1 };
	best[0].score = 0;
	const float unk_score = m->min_score - UNK_PENALTY;
	/* unigram_model.cc EncodeOptimized: a lattice built on the fly, keeping
	 * only the best path that ends at each byte position. */
	for (size_t start = 0; start < size;) {
		const float till_here = best[start].score;
		size_t mblen = one_char_len(s[start]);
		if (mblen > size - start)
			mblen = size - start;
		int single = 0, node = 0;
		for (size_t k = start; k < size; k++) {
			if ((node = trie_child(&m->normal, node, s[k])) < 0)
				break;
			int id = m->normal.value[node];
			if (id < 0)
				continue;
			if (m->type[id] == OD_SPM_UNUSED)
				continue;
			size_t length = k + 1 - start;
			struct best_node *t = &best[k + 1];
			/* The score is a double there: (length·max_score − 0.1) for
			 * user-defined pieces makes the conditional's type double. */
			double score = m->type[id] == OD_SPM_USER_DEFINED ? (double)((float)length * m->max_score) - 0.1
									   : (double)m->score[id];
			double cand = score + (double)till_here;
			if (t->starts == -1 || cand > (double)t->score) {
				t->score = (float)cand;
				t->starts = (int64_t)start;
				t->id = id;
			}
			if (!single && length == mblen)
				single = 1;
		}
		if (!single) {
			struct best_node *t = &best[start + mblen];
			float cand = unk_score + till_here;
			if (t->starts == -1 || cand > t->score) {
				t->score = cand;
				t->starts = (int64_t)start;
				t->id = m->unk_id;
			}
		}
		start += mblen;
	}
	/* Backtrack. */
	int count = 0;
	for (int64_t e = (int64_t)size; e > 0; e = best[e].starts) {
		if (best[e].starts < 0 || best[e].starts >= e) { /* cannot happen; guards the loop */
			free(best);
			return od_error(OD_EFAIL, "spm: broken lattice");
		}
		count++;
	}
	ids = malloc((size_t)count * sizeof *ids);
	starts = malloc((size_t)count * sizeof *starts);
	if (!ids || !starts)
		goto oom;
	int k = count;
	for (int64_t e = (int64_t)size; e > 0; e = best[e].starts) {
		k--;
		ids[k] = best[e].id;
		starts[k] = best[e].starts;
	}
	/* sentencepiece_processor.cc: merge runs of unknown pieces, or spell
	 * them as byte pieces with byte_fallback. */
	size_t cap = (size_t)count * (m->byte_fallback ? 4 : 1);
	r->id = malloc(cap * sizeof *r->id);
	r->text = malloc(cap * sizeof *r->text);
	r->len = malloc(cap * sizeof *r->len);
	if (!r->id || !r->text || !r->len)
		goto oom;
	int prev_unk = 0;
	for (k = 0; k < count; k++) {
		size_t b0 = (size_t)starts[k], b1 = k + 1 < count ? (size_t)starts[k + 1] : size;
		int unk = ids[k] == m->unk_id;
		if (unk && m->byte_fallback) {
			for (size_t j = b0; j < b1; j++) {
				int bid = m->byte_id[s[j]];
				r->id[r->n] = bid;
				r->text[r->n] = m->piece[bid];
				r->len[r->n++] = m->plen[bid];
			}
		} else if (unk && prev_unk) {
			r->len[r->n - 1] += b1 - b0;
		} else {
			r->id[r->n] = ids[k];
			r->text[r->n] = r->normalized + b0;
			r->len[r->n++] = b1 - b0;
		}
		prev_unk = unk;
	}
	free(best);
	free(ids);
	free(starts);
	return OD_OK;
oom:
	free(best);
	free(ids);
	free(starts);
	od_spm_result_free(r);
	return od_error(OD_ENOMEM, "out of memory");
}

void od_spm_result_free(struct od_spm_result *r)
{
	free(r->normalized);
	free(r->id);
	free(r->text);
	free(r->len);
	memset(r, 0, sizeof *r);
}
