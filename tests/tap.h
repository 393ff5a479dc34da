/*
 * tap.h: a tiny TAP producer for the C unit tests (run by prove).
 *
 *   ok(cond, "what");          one test point
 *   ok_close(a, e, n, atol, rtol, "what")
 *                              arrays within |a-e| <= atol + rtol|e|, printing
 *                              the worst element on failure
 *   return tap_done();         plan line and exit status
 */
#ifndef OD_TAP_H
#define OD_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>

static int tap_n, tap_fail;

static inline int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!cond)
		tap_fail++;
	fflush(stdout);
	return cond;
}

static inline int ok_close(const float *a, const float *e, size_t n, double atol, double rtol, const char *what)
{
	size_t worst = 0;
	double worst_excess = -INFINITY, max_abs = 0;
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - e[i]), lim = atol + rtol * fabs(e[i]);
		if (!(d <= lim))
			bad = 1;
		double ex = isnan(d) ? INFINITY : d - lim;
		if (ex > worst_excess)
			worst_excess = ex, worst = i;
		if (d > max_abs || isnan(d))
			max_abs = d;
	}
	ok(!bad, "%s (max abs diff %.3g, atol %.3g, rtol %.3g, %zu values)", what, max_abs, atol, rtol, n);
	if (bad)
		printf("# worst element %zu: actual %.9g expected %.9g\n", worst, a[worst], e[worst]);
	return !bad;
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_fail ? 1 : 0;
}

#endif
