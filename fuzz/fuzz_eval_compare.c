/*
 * fuzz_eval_compare: the results.json reader of od-eval compare
 * (lib/eval/compare.c) on arbitrary bytes.
 *
 * The bytes are compared with themselves. When they parse, every value must
 * agree with itself and every task, row, item and failure must find itself
 * (abort() otherwise), whatever the tolerance; and a table of the lines must
 * be made.
 * Seeds (fuzz/seeds/fuzz_eval_compare/): a results.json of make eval (two
 * tasks, with a failed item and null values), and small hand-made ones.
 */
#include "eval/compare.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct od_compare c;
	const struct od_compare_opts o = { .abs = 0, .rel = 0, .summary = size % 2 };
	if (od_compare_results((const char *)data, size, "ref", (const char *)data, size, "got", &o, &c) != 0)
		return 0;
	if (c.beyond || c.unmatched)
		abort();
	for (int i = 0; i < c.n; i++)
		if (c.v[i].items < 1 || c.v[i].beyond || !(c.v[i].worst == 0))
			abort();
	struct od_report r;
	if (od_compare_report(&c, &r) == 0)
		od_report_free(&r);
	od_compare_free(&c);
	return 0;
}
