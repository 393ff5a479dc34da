/*
 * tool.h: what every od tool's main() shares: start-up, messages, exit
 * statuses, the options several tools take, commands, and progress display.
 *
 * Messages go to stderr as "od-tool: message"; stdout carries data only.
 * Exit statuses (every man page, EXIT STATUS): 0 success, 1 failure,
 * 2 usage error, 3 bad input data, 4 model problem, 5 I/O error,
 * 6 compute device unavailable.
 *
 * A tool's main():
 *
 *   od_tool_init(argc, argv, "od-x");
 *   struct od_common_opts common;
 *   const struct od_option opts[] = { OD_OPT_COMMON(&common), ..., OD_OPT_END() };
 *   int i = od_parse_options(argc, argv, opts, &usage);   // operands: argv[i..argc)
 *   ... od_ctx_create(&ctx, common.device, common.threads) ...
 *
 * A tool made of commands (od-frame, od-model) gives od_run_command() a table
 * of struct od_command, and each command parses its own options with
 * od_parse_command().
 */
#ifndef OD_TOOL_H
#define OD_TOOL_H

#include "options.h"

#include "compute/backend.h"
#include "formats/frame.h"

#include <stdint.h>
#include <stdnoreturn.h>

extern const char *od_prog;

/* A macro's value as a string, for help texts: OD_STR(OD_DEFAULT_FOCAL) is "1.3887". */
#define OD_STR_(x) #x
#define OD_STR(x) OD_STR_(x)

/* Start a tool: set the program name; open descriptors 0-2 on /dev/null
 * where they are closed (a closed stdin reads as empty input); on every fatal
 * signal and at exit, remove the temporaries of outputs not committed
 * (base/io.h), then end as the signal would have; a SIGBUS from a mapped file
 * that shrank is reported as "'FILE': the file changed while in use" with
 * exit status 5. Then re-execute with OPENBLAS_NUM_THREADS=1 and better
 * OpenBLAS kernels when od_blas_advice() says so (not under valgrind, not
 * when OD_NO_REEXEC is set). */
void od_tool_init(int argc, char **argv, const char *name);

/* Print "prog: message" and exit with the status for code. */
noreturn void od_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "prog: <od_errmsg()>" and exit with the status for code. */
noreturn void od_fail(int code);
/* Print "prog: <od_errmsg()>" and carry on. Every message is one line:
 * control characters (a newline in a file name) are escaped as \n, \xNN. */
void od_report(int code);
/* Print "prog: message (see prog --help)" on one line, exit 2. Within a
 * command: "prog: command: message (see prog command --help)". */
noreturn void od_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "prog: warning: message" (not with -q). */
void od_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The empty-input rule (README, Conventions): a tool asked to produce output
 * that receives no input at all (an empty stream, file or file list, an empty
 * directory, a closed stdin) fails: returns OD_EFORMAT (exit 3) with the
 * message "no WHAT in the input", and the tool writes nothing. */
int od_empty_input(const char *what);
/* Print "prog: message" with -v only: what the tool is doing (the model it
 * uses, the seed it drew, the files it wrote). */
void od_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* -q (-1), neither (0) or -v (1, more with -vv): every tool and command takes
 * -q/--quiet and -v/--verbose, with -h/--help and -V/--version. */
extern int od_verbosity;
/* Print "prog VERSION" and exit 0. */
noreturn void od_version(void);

/* ---------------------------------------------------------------- options */

/* Parse argv with opts plus -h/--help and -V/--version (every tool has them):
 * returns the index of the first operand. --help prints the help generated from
 * the table and u and exits 0; a usage error prints one line and exits 2. */
int od_parse_options(int argc, char **argv, const struct od_option *opts, const struct od_usage *u);

/* The option vocabulary of every tool (README.md, "Options"): the short names
 * and the long option each stands for. options.c refuses a table that
 * departs from it. */
extern const struct od_short_name od_vocabulary[];

/* --progress: see od_progress_begin. */
enum od_progress_mode { OD_PROGRESS_AUTO, OD_PROGRESS_NONE, OD_PROGRESS_MACHINE };

/* The options of the tools that run a model, declared once (tool.c):
 *   -m, --model DIR       default $OD_MODEL ("" counts as unset), else the
 *                         default model (od_default_model)
 *       --device DEV      cpu or cuda; default $OD_DEVICE, else cpu
 *   -j, --threads N       default od_default_threads(); 0: all CPUs
 *       --progress=MODE   auto, none or machine
 *       --precision P     fp32 or bf16 matrix products on the CPU; default
 *                         $OD_PRECISION, else bf16 where the CPU has AVX512-BF16
 *                         or AMX, else fp32 (od_ctx_create reads both)
 * OD_OPT_COMMON(&c) in a table sets c's defaults when parsing starts and checks
 * --device (or $OD_DEVICE) and --precision when it ends. */
struct od_common_opts {
	const char *model;              /* NULL: none given */
	const char *device_name;        /* as given */
	enum od_device device;          /* device_name, parsed */
	int threads;
	enum od_progress_mode progress;
	const char *precision_name;     /* --precision as given, or NULL */
	enum od_precision precision;    /* precision_name, parsed */
	struct {
		int model, device, threads, progress;
	} given;                        /* on the command line (not from the environment or a default) */
};
od_opt_expand_fn od_common_options;
od_opt_finish_fn od_common_finish;
#define OD_OPT_COMMON(c)                                                                                 \
	{ .type = OD_OPT_T_INCLUDE, .value = OD_OPT_PTR(struct od_common_opts, c), .expand = od_common_options, \
	  .finish = od_common_finish }

/* Some of them only, for a command that has no use for the others (a trainer
 * that runs on the CPU only takes no --device): which is a set of OD_COMMON_*
 * bits. Those left out keep their defaults (no model, the CPU, od_default_threads(),
 * auto), whatever $OD_MODEL and $OD_DEVICE say. */
enum {
	OD_COMMON_MODEL = 1, OD_COMMON_DEVICE = 2, OD_COMMON_THREADS = 4, OD_COMMON_PROGRESS = 8, OD_COMMON_PRECISION = 16,
	OD_COMMON_ALL = 31
};
struct od_common_some {
	struct od_common_opts *c;
	unsigned which;
};
od_opt_expand_fn od_common_some_options;
od_opt_finish_fn od_common_some_finish;
#define OD_OPT_COMMON_SOME(opts_, which_)                                                                          \
	{ .type = OD_OPT_T_INCLUDE,                                                                            \
	  .value = &(struct od_common_some){ .c = OD_OPT_PTR(struct od_common_opts, opts_), .which = (which_) }, \
	  .expand = od_common_some_options, .finish = od_common_some_finish }

/* od_ctx_create() with c's device and threads, then c's --precision when given. */
int od_common_ctx_create(const struct od_common_opts *c, struct od_ctx **ctx);

/* The model folder: --model, $OD_MODEL, or od_default_model(); none of them is
 * a usage error "no model: give --model DIR or set OD_MODEL, or get one with
 * 'od-model pull lehduong/OneDiffusion'". */
const char *od_common_model(const struct od_common_opts *c);

/* The model the tools use when neither --model nor $OD_MODEL names one (a
 * static buffer, or NULL when there is none), the first folder of:
 *   ${XDG_DATA_HOME:-$HOME/.local/share}/od/OneDiffusion   od-model pull's default
 *   DATADIR/od/OneDiffusion                                a system-wide pull
 *   DATADIR/od/tiny-onediffusion                           what make install installs
 * DATADIR is the installed data folder: found from the executable's place
 * (BINDIR/../share, so that a staged or moved install works), else the one
 * configured. */
const char *od_default_model(void);
/* The folder od-model pull writes the repository owner/NAME to without a DIR:
 * ${XDG_DATA_HOME:-$HOME/.local/share}/od/NAME (a static buffer, or NULL
 * without $HOME). */
const char *od_default_pull_dir(const char *repo);

/* The thread count when -j is not given: $OD_THREADS when set (0: all CPUs);
 * within `make -jN` (MAKEFLAGS), the CPUs this process may use divided by N,
 * at least 1 (and 1 under an unlimited `make -j`), so that parallel recipes
 * do not oversubscribe the machine; otherwise the CPUs this process may use
 * (its affinity mask, as nproc counts them). */
int od_default_threads(void);

/* Binary data and terminals (as gzip does): when path is "-" and standard
 * output is a terminal, exit 2 with "refusing to write WHAT to a terminal; use
 * -o FILE or a pipe". */
void od_refuse_terminal_output(const char *path, const char *what);
/* When one of paths[0..n) is "-" (n == 0: standard input is implied) and
 * standard input is a terminal, exit 2 with "refusing to read WHAT from a
 * terminal; give a FILE or a pipe" rather than wait silently for them. */
void od_refuse_terminal_input(char *const *paths, int n, const char *what);

/* Option values more than one tool parses, for OD_OPT_CALLBACK entries. */
od_opt_fn od_opt_dtype_cb; /* value: enum od_dtype *; f32, f16 or bf16 */
od_opt_fn od_opt_role_cb;  /* value: int *; a role name (none, condition, target, negative) */
od_opt_fn od_opt_set_cb;   /* value: struct od_kv_list *; KEY=VALUE, repeatable */
od_opt_fn od_opt_shard_cb; /* value: struct od_shard *; I/N (pipeline/batch.h) */
/* --channels: the ray channels to read (enum od_rays_channels): average or first. */
extern const struct od_choice od_rays_channel_choices[];

/* KEY=VALUE metadata for every frame a tool writes (--set). */
struct od_kv_list {
	const char *v[64];
	int n;
};
/* Set every KEY=VALUE of l on f. */
int od_frame_set_all(struct od_frame *f, const struct od_kv_list *l);

/* Parse numbers for options outside a table; on failure a usage error naming
 * the option (the messages of od_parse_int and od_parse_num). */
long long od_opt_int(const char *opt, const char *s, long long lo, long long hi);
double od_opt_num(const char *opt, const char *s, double lo, double hi);
/* Parse "WxH" or "N" (square) into w, h. */
void od_opt_size(const char *opt, const char *s, int *w, int *h);

/* ---------------------------------------------------------------- commands */

/* One command of a tool made of commands. run gets argv[0] = the command's
 * name and returns the exit status. */
struct od_command {
	const char *name;
	int (*run)(int argc, char **argv, const struct od_command *cmd);
	const char *summary;  /* one line for the tool's command list */
	const char *synopsis; /* "od-frame show [--stats] [FILE...]"; more forms on more lines */
};

/* main() of a tool made of commands (a table ending with { NULL }): run the
 * command argv[1] names. "--help" lists every command's synopsis, u's
 * description, the commands with their summaries, and u's footer; no command
 * or an unknown one is a usage error. */
int od_run_command(int argc, char **argv, const struct od_command *cmds, const struct od_usage *u);

/* od_parse_options for a command: its help is cmd's synopsis and summary,
 * then opts, then the tool's footer. */
int od_parse_command(int argc, char **argv, const struct od_option *opts, const struct od_command *cmd);

/* ---------------------------------------------------------------- progress */

/* Progress on stderr. OD_PROGRESS_AUTO shows a status line with an ETA only
 * when stderr is a terminal (and only after a short delay, so quick runs print
 * nothing; never with -q); OD_PROGRESS_MACHINE prints key=value lines for
 * wrappers ("progress=WHAT job=J step=S total=T elapsed=E eta=E", J from 0 as
 * in the frames' job metadata).
 *
 * Several tools of one pipeline share the terminal's last line: every update
 * is one write(2) of "\r" + the whole line (cut to the terminal's width) +
 * "erase to the end of the line", at most ten a second, so lines from
 * different tools replace each other whole and never mix; a tool erases its
 * line when it ends, and a message (od_warn, od_die, ...) erases it before it
 * is printed. On the terminal jobs count from 1 ("job 1"). */
struct od_progress {
	enum od_progress_mode mode;
	int tty;
	double start, last;
	int shown;
	char what[64];
};
void od_progress_begin(struct od_progress *p, enum od_progress_mode mode, const char *what);
/* step counts done steps out of total; job numbers the job in a batch, from 0. */
void od_progress_step(struct od_progress *p, long job, int step, int total);
void od_progress_end(struct od_progress *p);

/* A status line of one's own on a terminal's last line, as the progress line
 * is written (one write, cut to the terminal's width); od_status_clear
 * erases it. The caller decides whether stderr is a terminal and how often. */
void od_status_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void od_status_clear(void);

/* Monotonic seconds. */
double od_now(void);

#endif
