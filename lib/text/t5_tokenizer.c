/*
 * t5_tokenizer.c: transformers' slow T5Tokenizer over spm.c (see
 * t5_tokenizer.h for the steps and tests/golden/README-text.md §1.3 for the evidence).
 */
#include "text/t5_tokenizer.h"
#include "formats/checkpoint.h"
#include "base/error.h"
#include "base/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPIECE_UNDERLINE "\xe2\x96\x81"

/* ------------------------------------------------------------------ UTF-8 */

int od_utf8_replace(const char *str, size_t n, char **out, size_t *out_len, int *n_replaced)
{
	const uint8_t *s = (const uint8_t *)str;
	/* Each input byte becomes at most 3 output bytes (U+FFFD). */
	char *o = malloc(3 * n + 1);
	size_t k = 0, i = 0;
	int reps = 0;
	if (!o)
		return od_error(OD_ENOMEM, "out of memory");
	while (i < n) {
		uint8_t c = s[i];
		int need;
		uint8_t lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			o[k++] = (char)c;
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f; /* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else { /* 80..C1, F5..FF: invalid start byte */
			memcpy(o + k, "\xef\xbf\xbd", 3), k += 3, reps++, i++;
			continue;
		}
		/* CPython's utf8_decode: the maximal valid prefix of a broken
		 * sequence (also one cut by the end of the input) is one U+FFFD. */
		int j, bad = 0;
		for (j = 1; j <= need; j++) {
			if (i + j >= n) {
				bad = 1;
				break;
			}
			uint8_t b = s[i + j];
			if (b < (j == 1 ? lo : 0x80) || b > (j == 1 ? hi : 0xbf)) {
				bad = 1;
				break;
			}
		}
		if (bad) {
			memcpy(o + k, "\xef\xbf\xbd", 3), k += 3, reps++;
			i = i + j < n ? i + j : n;
		} else {
			memcpy(o + k, s + i, (size_t)need + 1);
			k += (size_t)need + 1;
			i += (size_t)need + 1;
		}
	}
	o[k] = 0;
	*out = o;
	*out_len = k;
	if (n_replaced)
		*n_replaced = reps;
	return OD_OK;
}

/* Decode the code point at s (valid UTF-8, as od_utf8_replace leaves it). */
static uint32_t cp_at(const uint8_t *s, size_t n, size_t *len)
{
	if (s[0] < 0x80 || n < 2) {
		*len = 1;
		return s[0];
	}
	if (s[0] < 0xe0) {
		*len = 2;
		return ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
	}
	if (s[0] < 0xf0 && n >= 3) {
		*len = 3;
		return ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
	}
	if (n >= 4) {
		*len = 4;
		return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) | ((uint32_t)(s[2] & 0x3f) << 6) |
		       (s[3] & 0x3f);
	}
	*len = 1;
	return s[0];
}

/* Python's str.isspace(): bidi class WS, B or S, or category Zs. */
static int py_isspace(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	       c == 0x3000;
}

/* Length of the whitespace prefix / suffix of s[0..n). */
static size_t lspace(const char *s, size_t n)
{
	size_t i = 0, l;
	while (i < n && py_isspace(cp_at((const uint8_t *)s + i, n - i, &l)))
		i += l;
	return i;
}

static size_t rspace(const char *s, size_t n)
{
	size_t end = n;
	while (end > 0) {
		size_t st = end - 1;
		while (st > 0 && ((uint8_t)s[st] & 0xc0) == 0x80 && end - st < 4)
			st--;
		size_t l;
		if (!py_isspace(cp_at((const uint8_t *)s + st, end - st, &l)) || st + l != end)
			break;
		end = st;
	}
	return n - end;
}

/* ------------------------------------------------------------------ loading */

int od_t5_tokenizer_load(struct od_t5_tokenizer *t, const char *dir)
{
	memset(t, 0, sizeof *t);
	t->legacy = 1;
	t->add_prefix_space = 1;
	t->extra_ids = 100;
	char *path = od_path_join(dir, "spiece.model");
	char *cfg_path = od_path_join(dir, "tokenizer_config.json");
	int rc = OD_OK;
	if (!path || !cfg_path) {
		rc = od_error(OD_ENOMEM, "out of memory");
		goto out;
	}
	if (!od_is_file(path)) {
		rc = od_error(OD_EMODEL, "'%s': no such file", path);
		goto out;
	}
	if ((rc = od_spm_load(&t->spm, path))) {
		rc = rc == OD_ENOMEM ? rc : OD_EMODEL;
		goto out;
	}
	if (od_is_file(cfg_path)) {
		json_t *cfg;
		long long extra;
		if ((rc = od_json_load(cfg_path, &cfg)))
			goto out;
		rc = od_cfg_bool(cfg, "legacy", 1, 0, &t->legacy, cfg_path);
		if (!rc)
			rc = od_cfg_bool(cfg, "add_prefix_space", 1, 0, &t->add_prefix_space, cfg_path);
		if (!rc)
			rc = od_cfg_int(cfg, "extra_ids", 100, 0, &extra, cfg_path);
		json_decref(cfg);
		if (rc)
			goto out;
		if (extra < 0 || extra > 100000) {
			rc = od_error(OD_EMODEL, "'%s': \"extra_ids\" = %lld is out of range", cfg_path, extra);
			goto out;
		}
		t->extra_ids = (int)extra;
	}
	t->pad_id = od_spm_piece_id(t->spm, "<pad>", 5);
	t->eos_id = od_spm_piece_id(t->spm, "</s>", 4);
	t->unk_id = od_spm_unk_id(t->spm);
	if (t->eos_id < 0 || t->pad_id < 0) {
		rc = od_error(OD_EMODEL, "'%s': no %s piece", path, t->eos_id < 0 ? "</s>" : "<pad>");
		goto out;
	}
	t->vocab = od_spm_size(t->spm) + t->extra_ids;
	struct od_spm_result r;
	if ((rc = od_spm_encode(t->spm, "<unk>", 5, OD_SPM_NO_DUMMY_PREFIX, &r)))
		goto out;
	t->unk_token_length = r.n;
	od_spm_result_free(&r);
out:
	free(path);
	free(cfg_path);
	if (rc)
		od_t5_tokenizer_free(t);
	return rc;
}

void od_t5_tokenizer_free(struct od_t5_tokenizer *t)
{
	od_spm_free(t->spm);
	memset(t, 0, sizeof *t);
}

const char *od_t5_token_text(const struct od_t5_tokenizer *t, int id, char *buf, size_t size, size_t *len)
{
	int np = od_spm_size(t->spm);
	if (id >= 0 && id < np)
		return od_spm_piece(t->spm, id, len);
	if (id >= np && id < t->vocab) {
		int k = snprintf(buf, size, "<extra_id_%d>", t->vocab - 1 - id);
		*len = (size_t)k < size ? (size_t)k : size - 1;
		return buf;
	}
	return NULL;
}

/* ------------------------------------------------------------------ tokens */

static int tokens_add(struct od_t5_tokens *tk, int id, const char *s, size_t n)
{
	if (tk->n == tk->cap) {
		int cap = tk->cap ? 2 * tk->cap : 64;
		int *ni = realloc(tk->id, (size_t)cap * sizeof *ni);
		if (ni)
			tk->id = ni;
		size_t *no = realloc(tk->off, (size_t)cap * sizeof *no);
		if (no)
			tk->off = no;
		size_t *nl = realloc(tk->len, (size_t)cap * sizeof *nl);
		if (nl)
			tk->len = nl;
		if (!ni || !no || !nl)
			return od_error(OD_ENOMEM, "out of memory");
		tk->cap = cap;
	}
	if (tk->text_len + n + 1 > tk->text_cap) {
		size_t cap = tk->text_cap ? tk->text_cap : 256;
		while (cap < tk->text_len + n + 1)
			cap *= 2;
		char *p = realloc(tk->text, cap);
		if (!p)
			return od_error(OD_ENOMEM, "out of memory");
		tk->text = p;
		tk->text_cap = cap;
	}
	memcpy(tk->text + tk->text_len, s, n);
	tk->text[tk->text_len + n] = 0;
	tk->id[tk->n] = id;
	tk->off[tk->n] = tk->text_len;
	tk->len[tk->n++] = n;
	tk->text_len += n;
	return OD_OK;
}

void od_t5_tokens_free(struct od_t5_tokens *tk)
{
	free(tk->id);
	free(tk->off);
	free(tk->len);
	free(tk->text);
	memset(tk, 0, sizeof *tk);
}

/* The special token at s (length *len) and its id, or -1. */
static int special_at(const struct od_t5_tokenizer *t, const char *s, size_t n, size_t *len, int *strip)
{
	*strip = 0;
	if (n < 4 || s[0] != '<')
		return -1;
	if (!memcmp(s, "</s>", 4))
		return *len = 4, t->eos_id;
	if (n >= 5 && !memcmp(s, "<pad>", 5))
		return *len = 5, t->pad_id;
	if (n >= 5 && !memcmp(s, "<unk>", 5))
		return *len = 5, t->unk_id;
	if (n >= 12 && !memcmp(s, "<extra_id_", 10)) {
		/* "<extra_id_N>" for N in 0..extra_ids-1, written as str(N): no
		 * sign, no leading zero. */
		size_t i = 10;
		long v = 0;
		if (s[i] == '0' && i + 1 < n && s[i + 1] != '>')
			return -1;
		while (i < n && s[i] >= '0' && s[i] <= '9' && i < 20)
			v = v * 10 + (s[i++] - '0');
		if (i == 10 || i >= n || s[i] != '>' || v >= t->extra_ids)
			return -1;
		*len = i + 1;
		*strip = 1; /* lstrip and rstrip (tokenizer_config.json) */
		return t->vocab - 1 - (int)v;
	}
	return -1;
}

struct chunk {
	size_t off, len;
	int id; /* special token id, or -1 for text */
	int strip;
};

/* One text chunk through SentencePiece (T5Tokenizer._tokenize). */
static int encode_chunk(const struct od_t5_tokenizer *t, const char *s, size_t n, struct od_t5_tokens *out)
{
	struct od_spm_result r;
	int rc, skip = 0;
	if (t->legacy || !(n && (s[0] == ' ' || (n >= 3 && !memcmp(s, SPIECE_UNDERLINE, 3))))) {
		rc = od_spm_encode(t->spm, s, n, t->legacy ? 0 : OD_SPM_NO_DUMMY_PREFIX, &r);
	} else {
		/* legacy=False: encode "<unk>" + text and drop the pieces of "<unk>",
		 * so that a leading space is kept as "▁" without a dummy prefix. */
		char *tmp = malloc(n + 6);
		if (!tmp)
			return od_error(OD_ENOMEM, "out of memory");
		memcpy(tmp, "<unk>", 5);
		memcpy(tmp + 5, s, n);
		rc = od_spm_encode(t->spm, tmp, n + 5, OD_SPM_NO_DUMMY_PREFIX, &r);
		free(tmp);
		if (!rc && r.n >= t->unk_token_length)
			skip = t->unk_token_length;
	}
	if (rc)
		return rc;
	for (int i = skip; !rc && i < r.n; i++)
		rc = tokens_add(out, r.id[i], r.text[i], r.len[i]);
	od_spm_result_free(&r);
	return rc;
}

int od_t5_tokenize(const struct od_t5_tokenizer *t, const char *text, size_t n, struct od_t5_tokens *out)
{
	memset(out, 0, sizeof *out);
	char *s = NULL;
	size_t len;
	struct chunk *ch = NULL;
	int nch = 0, rc = od_utf8_replace(text, n, &s, &len, NULL);
	if (rc)
		return rc;
	if (!t->legacy && len) {
		/* tokenize(): "▁" -> " ", then a "▁" prefix (add_prefix_space). */
		char *u = malloc(len + 4);
		if (!u) {
			free(s);
			return od_error(OD_ENOMEM, "out of memory");
		}
		size_t k = 0;
		if (t->add_prefix_space)
			memcpy(u, SPIECE_UNDERLINE, 3), k = 3;
		for (size_t i = 0; i < len;) {
			if (i + 3 <= len && !memcmp(s + i, SPIECE_UNDERLINE, 3)) {
				u[k++] = ' ';
				i += 3;
			} else {
				u[k++] = s[i++];
			}
		}
		u[k] = 0;
		free(s);
		s = u;
		len = k;
	}
	/* 1. Split on special tokens (Trie.split: leftmost match). */
	ch = malloc((2 * len + 2) * sizeof *ch);
	if (!ch) {
		free(s);
		return od_error(OD_ENOMEM, "out of memory");
	}
	size_t start = 0;
	for (size_t i = 0; i < len;) {
		size_t tl;
		int strip, id = s[i] == '<' ? special_at(t, s + i, len - i, &tl, &strip) : -1;
		if (id < 0) {
			i++;
			continue;
		}
		if (i > start)
			ch[nch++] = (struct chunk){ start, i - start, -1, 0 };
		ch[nch++] = (struct chunk){ i, tl, id, strip };
		i += tl;
		start = i;
	}
	if (start < len)
		ch[nch++] = (struct chunk){ start, len - start, -1, 0 };
	/* <extra_id_N> strips the whitespace of its neighbours (in list order,
	 * as PreTrainedTokenizer.tokenize mutates the list). */
	for (int i = 0; i < nch; i++) {
		if (ch[i].id < 0 || !ch[i].strip)
			continue;
		if (i + 1 < nch && ch[i + 1].len && ch[i + 1].id < 0) {
			size_t k = lspace(s + ch[i + 1].off, ch[i + 1].len);
			ch[i + 1].off += k;
			ch[i + 1].len -= k;
		}
		if (i > 0 && ch[i - 1].len && ch[i - 1].id < 0)
			ch[i - 1].len -= rspace(s + ch[i - 1].off, ch[i - 1].len);
	}
	/* 2. Each chunk on its own. */
	for (int i = 0; !rc && i < nch; i++) {
		if (!ch[i].len)
			continue;
		if (ch[i].id >= 0)
			rc = tokens_add(out, ch[i].id, s + ch[i].off, ch[i].len);
		else
			rc = encode_chunk(t, s + ch[i].off, ch[i].len, out);
	}
	/* legacy=False: a lone "▁" before a special token is dropped. */
	if (!rc && !t->legacy && out->n > 1 && out->len[0] == 3 && !memcmp(out->text + out->off[0], SPIECE_UNDERLINE, 3)) {
		size_t l1 = out->len[1];
		const char *t1 = out->text + out->off[1];
		size_t tl;
		int strip;
		if (special_at(t, t1, l1, &tl, &strip) >= 0 && tl == l1) {
			memmove(out->id, out->id + 1, (size_t)(out->n - 1) * sizeof *out->id);
			memmove(out->off, out->off + 1, (size_t)(out->n - 1) * sizeof *out->off);
			memmove(out->len, out->len + 1, (size_t)(out->n - 1) * sizeof *out->len);
			out->n--;
		}
	}
	free(ch);
	free(s);
	if (rc)
		od_t5_tokens_free(out);
	return rc;
}

int od_t5_row(const struct od_t5_tokenizer *t, const struct od_t5_tokens *tk, int max_len, int32_t *ids,
	      uint8_t *mask, int *n_cut)
{
	/* prepare_for_model: room for one special token (num_special_tokens_to_add
	 * is 1 even when the text already ends in </s>), then
	 * _add_eos_if_not_present, then padding. */
	int keep = tk->n < max_len - 1 ? tk->n : max_len - 1;
	if (keep < 0)
		keep = 0;
	int n = 0;
	for (int i = 0; i < keep; i++)
		ids[n++] = tk->id[i];
	if (n < max_len && !(n > 0 && ids[n - 1] == t->eos_id))
		ids[n++] = t->eos_id;
	for (int i = 0; i < max_len; i++) {
		if (i >= n)
			ids[i] = t->pad_id;
		mask[i] = i < n;
	}
	if (n_cut)
		*n_cut = tk->n - keep;
	return n;
}

char *od_t5_tokens_join(const struct od_t5_tokens *tk, int from, int to)
{
	size_t total = 1;
	for (int i = from; i < to; i++)
		total += tk->len[i];
	char *o = malloc(total), *p = o;
	if (!o)
		return NULL;
	for (int i = from; i < to; i++) {
		const char *s = tk->text + tk->off[i];
		for (size_t k = 0; k < tk->len[i];) {
			if (k + 3 <= tk->len[i] && !memcmp(s + k, SPIECE_UNDERLINE, 3)) {
				if (p != o)
					*p++ = ' ';
				k += 3;
			} else {
				*p++ = s[k++];
			}
		}
	}
	*p = 0;
	return o;
}
