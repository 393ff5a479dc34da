/*
 * test_spm: the SentencePiece core and the T5Tokenizer layer against
 * tests/golden/cases/tokenizer/cases.json (tests/golden/README-text.md §1.4): for every
 * prompt, sp_normalized and sp_ids (SentencePiece on the whole prompt),
 * hf_tokens, input_ids and attention_mask (legacy=True, 300 long), and the
 * legacy=False rows where they differ. All exact. Also: the Python-style
 * UTF-8 replacement, and refusal of broken model files.
 */
#include "od.h"
#include "text/spm.h"
#include "text/t5_tokenizer.h"
#include "tap.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static char *unhex(const char *h, size_t *n)
{
	size_t l = strlen(h) / 2;
	char *o = malloc(l + 1);
	for (size_t i = 0; i < l; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		o[i] = (char)v;
	}
	o[l] = 0;
	*n = l;
	return o;
}

static int ids_equal(const int *a, int na, json_t *arr)
{
	if ((size_t)na != json_array_size(arr))
		return 0;
	for (int i = 0; i < na; i++)
		if (a[i] != json_integer_value(json_array_get(arr, (size_t)i)))
			return 0;
	return 1;
}

static void show_ids(const char *what, const int *a, int n)
{
	printf("# %s:", what);
	for (int i = 0; i < n && i < 60; i++)
		printf(" %d", a[i]);
	printf("\n");
}

static void utf8_cases(void)
{
	static const struct {
		const char *in, *want;
		int reps;
	} c[] = {
		{ "abc", "abc", 0 },
		{ "a\xff" "b", "a\xef\xbf\xbd" "b", 1 },
		{ "\xe2\x82", "\xef\xbf\xbd", 1 },                 /* truncated at the end: one U+FFFD */
		{ "\xe2\x82" "A", "\xef\xbf\xbd" "A", 1 },         /* maximal subpart */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3 }, /* surrogate: each byte */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", 2 },     /* overlong */
		{ "\xf0\x9f\x90\xb1", "\xf0\x9f\x90\xb1", 0 },
		{ "\xf0\x9f\x90", "\xef\xbf\xbd", 1 },
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 4 },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		char *o;
		size_t n;
		int reps;
		od_utf8_replace(c[i].in, strlen(c[i].in), &o, &n, &reps);
		ok(n == strlen(c[i].want) && !memcmp(o, c[i].want, n) && reps == c[i].reps,
		   "utf-8 replacement as Python's errors='replace', case %zu", i);
		free(o);
	}
}

static void broken_models(const char *path)
{
	char *data;
	size_t len;
	if (od_read_file(path, 1 << 30, &data, &len)) {
		ok(0, "read %s", path);
		return;
	}
	struct od_spm *m;
	ok(od_spm_load_mem(&m, data, len, "whole") == OD_OK, "the real model loads from memory");
	od_spm_free(m);
	ok(od_spm_load_mem(&m, data, len / 2, "half") == OD_EMODEL && !m, "a truncated model is refused (%s)", od_errmsg());
	ok(od_spm_load_mem(&m, "", 0, "empty") == OD_EMODEL, "an empty file is refused (%s)", od_errmsg());
	ok(od_spm_load_mem(&m, "hello world, not a model", 24, "text") == OD_EMODEL, "text is refused (%s)",
	   od_errmsg());
	char piece_only[] = { 0x0a, 0x05, 0x0a, 0x03, 'a', 'b', 'c' };
	ok(od_spm_load_mem(&m, piece_only, sizeof piece_only, "nounk") == OD_EMODEL && strstr(od_errmsg(), "no unknown"),
	   "a model without an unknown piece is refused (%s)", od_errmsg());
	char dup[] = { 0x0a, 0x05, 0x0a, 0x03, 'a', 'b', 'c', 0x0a, 0x05, 0x0a, 0x03, 'a', 'b', 'c' };
	ok(od_spm_load_mem(&m, dup, sizeof dup, "dup") == OD_EMODEL && strstr(od_errmsg(), "already defined"),
	   "duplicate pieces are refused (%s)", od_errmsg());
	char bpe[] = { 0x0a, 0x07, 0x0a, 0x03, 'a', 'b', 'c', 0x18, 0x02, 0x12, 0x02, 0x18, 0x02 };
	ok(od_spm_load_mem(&m, bpe, sizeof bpe, "bpe") == OD_EMODEL && strstr(od_errmsg(), "model_type"),
	   "a BPE model is refused (%s)", od_errmsg());
	/* A minimal valid model: <unk>, "▁a", "b"; no charsmap. */
	char mini[] = { 0x0a, 0x09, 0x0a, 0x05, '<', 'u', 'n', 'k', '>', 0x18, 0x02,
			0x0a, 0x0b, 0x0a, 0x04, (char)0xe2, (char)0x96, (char)0x81, 'a', 0x15, 0, 0, (char)0x80, (char)0xbf,
			0x0a, 0x08, 0x0a, 0x01, 'b', 0x15, 0, 0, 0, (char)0xc0 };
	ok(od_spm_load_mem(&m, mini, sizeof mini, "mini") == OD_OK, "a minimal model loads (%s)", od_errmsg());
	if (m) {
		struct od_spm_result r;
		od_spm_encode(m, "  a  bb\xff", 9, 0, &r);
		int want[] = { 1, 0, 2, 2, 0 }; /* ▁a, ▁ (unk, merged with nothing), b, b, U+FFFD (unk) */
		int good = r.n == 5;
		for (int i = 0; good && i < 5; i++)
			good = r.id[i] == want[i];
		ok(good && !strcmp(r.normalized, "\xe2\x96\x81" "a\xe2\x96\x81" "bb\xef\xbf\xbd"),
		   "minimal model: whitespace collapsed, unknowns, invalid byte -> U+FFFD");
		if (!good)
			show_ids("got", r.id, r.n);
		od_spm_result_free(&r);
		od_spm_free(m);
	}
	free(data);
}

int main(void)
{
	const char *golden = getenv("OD_GOLDEN"), *model = getenv("OD_MODEL");
	if (!golden || !model) {
		printf("1..0 # SKIP run through make check\n");
		return 0;
	}
	char path[4096], tokdir[4096];
	snprintf(path, sizeof path, "%s/cases/tokenizer/cases.json", golden);
	snprintf(tokdir, sizeof tokdir, "%s/tokenizer", model);
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	ok(root != NULL, "load %s", path);
	if (!root)
		return tap_done();
	struct od_t5_tokenizer tok, tok_nl;
	int rc = od_t5_tokenizer_load(&tok, tokdir);
	ok(rc == OD_OK, "load the T5 tokenizer (%s)", od_errmsg());
	if (rc)
		return tap_done();
	ok(tok.legacy == 1 && tok.extra_ids == 100 && tok.eos_id == 1 && tok.pad_id == 0 && tok.unk_id == 2 &&
		   tok.vocab == 32100 && od_spm_size(tok.spm) == 32000,
	   "tokenizer: legacy, 100 extra ids, pad 0, eos 1, unk 2, 32000 pieces");
	od_t5_tokenizer_load(&tok_nl, tokdir);
	tok_nl.legacy = 0;

	json_t *cases = json_object_get(root, "cases");
	size_t idx;
	json_t *c;
	int n_sp = 0, n_norm = 0, n_hf = 0, n_row = 0, n_nl = 0, n_nl_total = 0;
	json_array_foreach(cases, idx, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		size_t len;
		char *text = unhex(json_string_value(json_object_get(c, "prompt_utf8_hex")), &len);

		struct od_spm_result r;
		od_spm_encode(tok.spm, text, len, 0, &r);
		const char *want_norm = json_string_value(json_object_get(c, "sp_normalized"));
		int norm_ok = !strcmp(r.normalized, want_norm);
		int sp_ok = ids_equal(r.id, r.n, json_object_get(c, "sp_ids"));
		/* pieces == sp_pieces */
		json_t *pieces = json_object_get(c, "sp_pieces");
		for (int i = 0; sp_ok && i < r.n; i++) {
			const char *w = json_string_value(json_array_get(pieces, (size_t)i));
			sp_ok = strlen(w) == r.len[i] && !memcmp(w, r.text[i], r.len[i]);
		}
		n_norm += norm_ok;
		n_sp += sp_ok;
		if (!norm_ok)
			printf("# %s: normalized '%s'\n#   expected '%s'\n", name, r.normalized, want_norm);
		if (!sp_ok)
			show_ids(name, r.id, r.n);
		od_spm_result_free(&r);

		struct od_t5_tokens tk;
		od_t5_tokenize(&tok, text, len, &tk);
		json_t *hf = json_object_get(c, "hf_tokens");
		int hf_ok = json_array_size(hf) == (size_t)tk.n;
		for (int i = 0; hf_ok && i < tk.n; i++) {
			const char *w = json_string_value(json_array_get(hf, (size_t)i));
			hf_ok = strlen(w) == tk.len[i] && !memcmp(w, tk.text + tk.off[i], tk.len[i]);
		}
		n_hf += hf_ok;
		if (!hf_ok)
			show_ids("hf tokens of", tk.id, tk.n);
		int32_t ids[OD_T5_MAX_LENGTH];
		uint8_t mask[OD_T5_MAX_LENGTH];
		int cut, real = od_t5_row(&tok, &tk, OD_T5_MAX_LENGTH, ids, mask, &cut);
		int row_ok = 1;
		json_t *wid = json_object_get(c, "input_ids"), *wm = json_object_get(c, "attention_mask");
		for (int i = 0; i < OD_T5_MAX_LENGTH; i++)
			row_ok &= ids[i] == json_integer_value(json_array_get(wid, (size_t)i)) &&
				  mask[i] == json_integer_value(json_array_get(wm, (size_t)i));
		row_ok &= real == json_integer_value(json_object_get(c, "num_real_tokens"));
		row_ok &= (cut > 0) == json_is_true(json_object_get(c, "truncated"));
		row_ok &= tk.n + (tk.n && tk.id[tk.n - 1] == 1 ? 0 : 1) ==
			  json_integer_value(json_object_get(c, "untruncated_length"));
		n_row += row_ok;
		if (!row_ok) {
			printf("# %s: row differs\n", name);
			int tmp[OD_T5_MAX_LENGTH];
			for (int i = 0; i < OD_T5_MAX_LENGTH; i++)
				tmp[i] = ids[i];
			show_ids("got", tmp, real);
		}
		od_t5_tokens_free(&tk);

		/* legacy=False */
		od_t5_tokenize(&tok_nl, text, len, &tk);
		od_t5_row(&tok_nl, &tk, OD_T5_MAX_LENGTH, ids, mask, &cut);
		if (json_is_true(json_object_get(c, "legacy_false_differs"))) {
			wid = json_object_get(c, "legacy_false_input_ids");
			wm = json_object_get(c, "legacy_false_attention_mask");
		}
		int nl_ok = 1;
		for (int i = 0; i < OD_T5_MAX_LENGTH; i++)
			nl_ok &= ids[i] == json_integer_value(json_array_get(wid, (size_t)i)) &&
				 mask[i] == json_integer_value(json_array_get(wm, (size_t)i));
		n_nl_total++;
		n_nl += nl_ok;
		if (!nl_ok) {
			printf("# %s: legacy=False row differs\n", name);
			int tmp[OD_T5_MAX_LENGTH];
			for (int i = 0; i < OD_T5_MAX_LENGTH; i++)
				tmp[i] = ids[i];
			show_ids("got", tmp, 40);
		}
		od_t5_tokens_free(&tk);
		free(text);
	}
	int total = (int)json_array_size(cases);
	ok(total == 68, "68 tokenizer cases");
	ok(n_norm == total, "sp_normalized exact: %d of %d", n_norm, total);
	ok(n_sp == total, "sp_ids and sp_pieces exact: %d of %d", n_sp, total);
	ok(n_hf == total, "hf_tokens exact: %d of %d", n_hf, total);
	ok(n_row == total, "input_ids, attention_mask, num_real_tokens, truncation exact: %d of %d", n_row, total);
	ok(n_nl == n_nl_total, "legacy=False rows exact: %d of %d", n_nl, n_nl_total);

	/* The published T5 examples (tests/golden/README-text.md §1.1). */
	struct od_t5_tokens tk;
	od_t5_tokenize(&tok, "Hello world", 11, &tk);
	ok(tk.n == 2 && tk.id[0] == 8774 && tk.id[1] == 296, "'Hello world' -> 8774 296");
	char *j = od_t5_tokens_join(&tk, 0, tk.n);
	ok(!strcmp(j, "Hello world"), "tokens join back to the text");
	free(j);
	od_t5_tokens_free(&tk);
	char buf[32];
	size_t l;
	ok(!strcmp(od_t5_token_text(&tok, 32099, buf, sizeof buf, &l), "<extra_id_0>") &&
		   !strcmp(od_t5_token_text(&tok, 32000, buf, sizeof buf, &l), "<extra_id_99>") &&
		   !od_t5_token_text(&tok, 32100, buf, sizeof buf, &l),
	   "extra id token names");

	utf8_cases();
	char mpath[4096];
	snprintf(mpath, sizeof mpath, "%s/spiece.model", tokdir);
	broken_models(mpath);
	struct od_t5_tokenizer bad;
	ok(od_t5_tokenizer_load(&bad, "/nonexistent") == OD_EMODEL && strstr(od_errmsg(), "spiece.model"),
	   "missing spiece.model: model error naming it (%s)", od_errmsg());

	od_t5_tokenizer_free(&tok);
	od_t5_tokenizer_free(&tok_nl);
	json_decref(root);
	return tap_done();
}
