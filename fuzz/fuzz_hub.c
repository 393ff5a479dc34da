/*
 * fuzz_hub: what od-model pull reads from the Hugging Face hub
 * (lib/formats/hub.c) on arbitrary bytes: the input's first line is a Link
 * header value (od_hub_next_link), the rest a page of the tree endpoint's
 * JSON (od_hub_parse_tree).
 *
 * Invariants (abort() on violation): a next link found is non-empty, fits
 * and comes from between '<' and '>'; every file parsed has a relative path
 * that stays inside the model folder (no "..", ".", empty or absolute part, no
 * backslash), a 40-digit lowercase hex git id, a SHA-256 of 64 such digits or
 * none, and no path twice.
 * Seeds (fuzz/seeds/fuzz_hub/): pages like the hub's (LFS and plain files,
 * folders), a Link header with next and prev.
 */
#include "formats/hub.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hl = nl ? (size_t)(nl - data) : size;
	char *link = malloc(hl + 1);
	memcpy(link, data, hl);
	link[hl] = 0;
	char url[512];
	int r = od_hub_next_link(link, url, sizeof url);
	if (r == 1 && (!url[0] || strlen(url) >= sizeof url || !strchr(link, '<') || !strchr(link, '>')))
		abort();
	free(link);
	if (!nl)
		return 0;
	struct od_hub_file *files = NULL;
	int n = 0;
	if (od_hub_parse_tree((const char *)nl + 1, size - hl - 1, "fuzz", &files, &n) == 0) {
		for (int i = 0; i < n; i++) {
			const char *p = files[i].path;
			if (!p[0] || p[0] == '/' || strstr(p, "//") || strchr(p, '\\') || p[strlen(p) - 1] == '/')
				abort();
			for (const char *s = p; *s;) {
				size_t k = strcspn(s, "/");
				if ((k == 1 && s[0] == '.') || (k == 2 && !strncmp(s, "..", 2)))
					abort();
				s += k + (s[k] == '/');
			}
			if (!hex(files[i].git_oid, 40) || (files[i].sha256[0] && !hex(files[i].sha256, 64)))
				abort();
			for (int j = 0; j < i; j++)
				if (!strcmp(files[j].path, p))
					abort();
		}
	}
	od_hub_files_free(files, n);
	return 0;
}
