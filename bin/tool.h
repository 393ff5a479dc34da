/*
 * tool.h: what every od tool's main() shares: start-up, messages, exit
 * statuses, number parsing and progress display.
 *
 * Messages go to stderr as "od-tool: message"; stdout carries data only.
 * Exit statuses (every man page, EXIT STATUS): 0 success, 1 failure,
 * 2 usage error, 3 bad input data, 4 model problem, 5 I/O error,
 * 6 compute device unavailable.
 */
#ifndef OD_TOOL_H
#define OD_TOOL_H

#include <stdint.h>
#include <stdnoreturn.h>

extern const char *od_prog;

/* Set the program name, and re-execute with better OpenBLAS kernels when
 * od_blas_advice() says so (not under valgrind, not when OD_NO_REEXEC is set). */
void od_tool_init(int argc, char **argv, const char *name);

/* Print "prog: message" and exit with the status for code. */
noreturn void od_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "prog: <od_errmsg()>" and exit with the status for code. */
noreturn void od_fail(int code);
/* Print "prog: message (see prog --help)" on one line, exit 2. */
noreturn void od_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "prog: warning: message". */
void od_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "prog VERSION" and exit 0. */
noreturn void od_version(void);

/* Parse numbers for options; on failure a usage error naming the option. */
long long od_opt_int(const char *opt, const char *s, long long lo, long long hi);
double od_opt_num(const char *opt, const char *s, double lo, double hi);
/* Parse "WxH" or "N" (square) into w, h. */
void od_opt_size(const char *opt, const char *s, int *w, int *h);

/* The compute device from --device or $OD_DEVICE (NULL or "": the CPU); a
 * usage error for anything but cpu or cuda. */
#include "compute/backend.h"
enum od_device od_opt_device(const char *s);

/* --precision fp32|bf16 (a usage error otherwise). $OD_PRECISION is read by
 * od_ctx_create() itself; the option overrides it. */
enum od_precision od_opt_precision(const char *s);
#define OD_PRECISION_HELP                                                       \
	"      --precision P        fp32 or bf16 matrix products on the CPU (default:\n" \
	"                           $OD_PRECISION, else bf16 if the CPU has AVX512-BF16\n" \
	"                           or AMX, else fp32; without them bf16 runs as fp32)\n"

/* Progress on stderr. OD_PROGRESS_AUTO shows a line with an ETA only when
 * stderr is a terminal (and only after a short delay, so quick runs print
 * nothing); OD_PROGRESS_MACHINE prints key=value lines for wrappers. */
enum od_progress_mode { OD_PROGRESS_AUTO, OD_PROGRESS_NONE, OD_PROGRESS_MACHINE };
/* Parse --progress=auto|none|machine; usage error otherwise. */
enum od_progress_mode od_opt_progress(const char *s);

struct od_progress {
	enum od_progress_mode mode;
	int tty;
	double start;
	int shown;
	char what[64];
};
void od_progress_begin(struct od_progress *p, enum od_progress_mode mode, const char *what);
/* step counts done steps out of total; job numbers the job in a batch. */
void od_progress_step(struct od_progress *p, long job, int step, int total);
void od_progress_end(struct od_progress *p);

/* Monotonic seconds. */
double od_now(void);

#endif
