/*
 * fuzz_eval_results: the specs of od-eval results (lib/eval/results.c) on
 * arbitrary bytes.
 *
 * When a spec parses, the invariants od-eval relies on are checked (abort()
 * on violation): at least one row; every task, row and list non-empty and no
 * longer than the limits; lists joined to the base folder unless absolute; a
 * known command, the same on every row of a task; no row label twice in a
 * task; line numbers increasing.
 * Seeds (fuzz/seeds/fuzz_eval_results/): the spec make eval writes, and small
 * ones with comments, notes and CRLF line ends.
 */
#include "eval/results.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct od_results_spec s;
	if (od_results_spec_parse((const char *)data, size, "fuzz", "base", &s) != 0)
		return 0;
	if (s.n < 1)
		abort();
	int line = 0;
	for (int i = 0; i < s.n; i++) {
		const struct od_results_line *l = &s.v[i];
		if (!l->task || !l->row || !l->list || !*l->task || !*l->row || !*l->list)
			abort();
		if (strlen(l->task) > OD_RESULTS_LABEL_MAX || strlen(l->row) > OD_RESULTS_LABEL_MAX ||
		    (l->note && strlen(l->note) > OD_RESULTS_NOTE_MAX))
			abort();
		if (l->list[0] != '/' && strncmp(l->list, "base/", 5))
			abort();
		if ((int)l->kind < 0 || l->kind >= OD_EVAL_KINDS || l->line <= line)
			abort();
		line = l->line;
		for (int j = 0; j < i; j++)
			if (!strcmp(s.v[j].task, l->task) && (s.v[j].kind != l->kind || !strcmp(s.v[j].row, l->row)))
				abort();
	}
	od_results_spec_free(&s);
	return 0;
}
