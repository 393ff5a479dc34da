/* tool.c: shared start-up, messages and progress for the od tools (see tool.h). */
#include "tool.h"

#include "base/blas.h"
#include "base/error.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *od_prog = "od";

void od_tool_init(int argc, char **argv, const char *name)
{
	(void)argc;
	od_prog = name;
	signal(SIGPIPE, SIG_DFL);
	const char *advice = od_blas_advice();
	const char *preload = getenv("LD_PRELOAD");
	int under_valgrind = preload && strstr(preload, "vgpreload");
	if (advice && !under_valgrind && !getenv("OD_NO_REEXEC")) {
		/* OpenBLAS has already chosen its kernels in its constructor; the only
		 * way to change them is to start again with the variable set. */
		setenv("OPENBLAS_CORETYPE", advice, 1);
		execv("/proc/self/exe", argv);
		/* exec failed: carry on with the slower kernels */
	}
}

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	char buf[2048];
	vsnprintf(buf, sizeof buf, fmt, ap);
	fprintf(stderr, "%s: %s%s\n", od_prog, prefix, buf);
}

void od_die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	exit(od_exit_status(code));
}

void od_fail(int code)
{
	const char *m = od_errmsg();
	fprintf(stderr, "%s: %s\n", od_prog, *m ? m : od_status_name(code));
	exit(od_exit_status(code));
}

void od_usage_error(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s (see %s --help)\n", od_prog, buf, od_prog);
	exit(OD_EXIT_USAGE);
}

void od_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void od_version(void)
{
	printf("%s %s\n", od_prog, OD_VERSION);
	exit(0);
}

long long od_opt_int(const char *opt, const char *s, long long lo, long long hi)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		od_usage_error("%s: '%s' is not an integer", opt, s);
	if (v < lo || v > hi)
		od_usage_error("%s: %lld is out of range (%lld to %lld)", opt, v, lo, hi);
	return v;
}

double od_opt_num(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		od_usage_error("%s: '%s' is not a number", opt, s);
	if (v < lo || v > hi)
		od_usage_error("%s: %g is out of range (%g to %g)", opt, v, lo, hi);
	return v;
}

void od_opt_size(const char *opt, const char *s, int *w, int *h)
{
	char *end;
	errno = 0;
	long a = strtol(s, &end, 10), b = a;
	if (!errno && end != s && (*end == 'x' || *end == 'X')) {
		const char *p = end + 1;
		b = strtol(p, &end, 10);
		if (end == p)
			b = -1;
	}
	if (errno || end == s || *end || a <= 0 || b <= 0 || a > 65536 || b > 65536)
		od_usage_error("%s: '%s' is not a size (WIDTHxHEIGHT or N)", opt, s);
	*w = (int)a;
	*h = (int)b;
}

enum od_device od_opt_device(const char *s)
{
	enum od_device d = OD_DEVICE_CPU;
	if (s && *s && od_device_parse(s, &d))
		od_usage_error("--device: '%s' is not cpu or cuda", s);
	return d;
}

enum od_precision od_opt_precision(const char *s)
{
	enum od_precision p = OD_PRECISION_FP32;
	if (od_precision_parse(s, &p))
		od_usage_error("--precision: '%s' is not fp32 or bf16", s);
	return p;
}

enum od_progress_mode od_opt_progress(const char *s)
{
	if (!s || !strcmp(s, "auto"))
		return OD_PROGRESS_AUTO;
	if (!strcmp(s, "none"))
		return OD_PROGRESS_NONE;
	if (!strcmp(s, "machine"))
		return OD_PROGRESS_MACHINE;
	od_usage_error("--progress: '%s' is not auto, none or machine", s);
}

double od_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void od_progress_begin(struct od_progress *p, enum od_progress_mode mode, const char *what)
{
	memset(p, 0, sizeof *p);
	p->mode = mode;
	p->tty = isatty(STDERR_FILENO);
	p->start = od_now();
	snprintf(p->what, sizeof p->what, "%s", what);
}

void od_progress_step(struct od_progress *p, long job, int step, int total)
{
	double el = od_now() - p->start;
	double eta = step > 0 ? el / step * (total - step) : 0;
	if (p->mode == OD_PROGRESS_MACHINE) {
		fprintf(stderr, "progress=%s job=%ld step=%d total=%d elapsed=%.3f eta=%.3f\n", p->what, job, step, total,
			el, eta);
		fflush(stderr);
		return;
	}
	if (p->mode != OD_PROGRESS_AUTO || !p->tty)
		return;
	if (!p->shown && el < 0.5 && step < total)
		return; /* quick runs stay silent */
	fprintf(stderr, "\r%s: %s job %ld: step %d/%d, %.1fs elapsed, ETA %.1fs\033[K", od_prog, p->what, job, step,
		total, el, eta);
	p->shown = 1;
}

void od_progress_end(struct od_progress *p)
{
	if (p->shown)
		fputc('\n', stderr);
	p->shown = 0;
}
