/*
 * fuzz_eval_list: od-eval's list files (lib/eval/items.c) on arbitrary bytes.
 * The first byte chooses the kind of list (image, depth, seg, cameras, t2i),
 * the rest is the list's text.
 *
 * When a list parses, the invariants od-eval relies on are checked (abort()
 * on violation): at least one item; every path non-empty and joined to the
 * base folder unless absolute; a depth item's scale positive and finite, or
 * absent; a scene.json only on depth lists; line numbers increasing.
 * Seeds (fuzz/seeds/fuzz_eval_list/): the lists of tests/fixtures/eval.
 */
#include "eval/items.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum od_eval_kind kind = (enum od_eval_kind)(data[0] % OD_EVAL_KINDS);
	struct od_eval_items items;
	if (od_eval_list_parse((const char *)data + 1, size - 1, "fuzz", "base", kind, &items) != 0)
		return 0;
	if (items.n < 1)
		abort();
	int line = 0;
	for (int i = 0; i < items.n; i++) {
		const struct od_eval_item *it = &items.v[i];
		if (!it->pred || !it->gt || !*it->pred || !*it->gt)
			abort();
		if ((it->pred[0] != '/' && strncmp(it->pred, "base/", 5)) ||
		    (it->gt[0] != '/' && strncmp(it->gt, "base/", 5)))
			abort();
		if (it->scale != 0 && !(it->scale > 0 && isfinite(it->scale)))
			abort();
		if ((it->scene || it->scale) && kind != OD_EVAL_DEPTH)
			abort();
		if (it->scene && it->scale)
			abort();
		if (it->line <= line)
			abort();
		line = it->line;
	}
	od_eval_items_free(&items);
	return 0;
}
