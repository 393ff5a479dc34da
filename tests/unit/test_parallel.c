/*
 * test_parallel: the thread pool (base/parallel.h) hands every index of
 * [0, n) to exactly one call, in at most OD_PARALLEL_PARTS parts per thread;
 * a call from inside a part runs serially; the usage counters add up.
 */
#include "od.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

struct cover {
	int64_t n;
	int *hits;       /* per index: how many calls covered it */
	int64_t *starts; /* per index: 1 + the begin of the part that covered it */
	int nested_ok;
};

static void mark(void *p, int64_t b, int64_t e)
{
	struct cover *c = p;
	for (int64_t i = b; i < e; i++) {
		__atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
		c->starts[i] = b + 1;
	}
}

static void inner(void *p, int64_t b, int64_t e)
{
	int *sum = p;
	*sum += (int)(e - b);
}

static void outer(void *p, int64_t b, int64_t e)
{
	struct cover *c = p;
	mark(c, b, e);
	int sum = 0; /* a nested call runs on this thread alone, so sum needs no lock */
	od_parallel_for(37, inner, &sum);
	if (sum != 37)
		__atomic_store_n(&c->nested_ok, 0, __ATOMIC_RELAXED);
}

/* Run [0, n) on `threads` threads; 1 when every index was covered once and
 * the parts were not too many. */
static int cover_once(int threads, int64_t n, void (*fn)(void *, int64_t, int64_t), int *nested)
{
	od_set_threads(threads);
	struct cover c = { n, calloc((size_t)n, sizeof(int)), calloc((size_t)n, sizeof(int64_t)), 1 };
	od_parallel_for(n, fn, &c);
	int64_t bad = -1;
	for (int64_t i = 0; i < n && bad < 0; i++)
		if (c.hits[i] != 1)
			bad = i;
	if (bad >= 0)
		printf("# threads %d, n %lld: index %lld covered %d times\n", threads, (long long)n, (long long)bad,
		       c.hits[bad]);
	int64_t parts = 0;
	for (int64_t i = 0; i < n; i++)
		parts += c.starts[i] == i + 1;
	if (parts > (int64_t)threads * OD_PARALLEL_PARTS) {
		printf("# threads %d, n %lld: %lld parts\n", threads, (long long)n, (long long)parts);
		bad = 0;
	}
	if (nested)
		*nested = c.nested_ok;
	free(c.hits), free(c.starts);
	return bad < 0;
}

int main(void)
{
	const int64_t sizes[] = { 1, 2, 3, 7, 64, 129, 1000, 100003 };
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		const int64_t n = sizes[s];
		const int threads[] = { 1, 2, 3, 5 };
		int all = 1;
		for (size_t t = 0; t < sizeof threads / sizeof *threads; t++)
			all &= cover_once(threads[t], n, mark, NULL);
		ok(all, "n = %lld: every index covered exactly once on 1, 2, 3 and 5 threads", (long long)n);
	}

	int nested = 0;
	ok(cover_once(3, 1000, outer, &nested) && nested, "a call from inside a part runs serially and whole");

	double wall0, busy0, wall1, busy1;
	od_set_threads(2);
	od_parallel_usage(&wall0, &busy0);
	struct cover c = { 100003, calloc(100003, sizeof(int)), calloc(100003, sizeof(int64_t)), 1 };
	for (int r = 0; r < 20; r++)
		od_parallel_for(c.n, mark, &c);
	od_parallel_usage(&wall1, &busy1);
	ok(wall1 > wall0 && busy1 > busy0 && busy1 - busy0 <= (wall1 - wall0) * 1.000001,
	   "usage: the threads' busy time (%.6f s) grows and stays within their wall time (%.6f s)", busy1 - busy0,
	   wall1 - wall0);
	free(c.hits), free(c.starts);
	return tap_done();
}
