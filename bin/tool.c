/* tool.c: shared start-up, messages, options, commands and progress for the
 * od tools (see tool.h). The options several tools take are declared here,
 * once, and tools include them in their tables (OD_OPT_COMMON). */
#include "tool.h"

#include "base/blas.h"
#include "base/io.h"
#include "base/error.h"
#include "camera/rays_to_cameras.h"
#include "pipeline/batch.h"

#include "base/io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *od_prog = "od";
int od_verbosity;

/* A progress line is on the terminal (od_progress_step): messages erase it first. */
static int progress_on_screen;

/* ---------------------------------------------------------------- the option vocabulary
 * One meaning per short name in every tool; README.md's option table says the
 * same, and t0150 checks that every tool keeps to it. Long-only options with a
 * shared meaning (--device, --progress, --count, --json, --dry-run, ...) are
 * in the README table too. A new tool uses these letters for these options
 * and adds a letter here (and to the README) only for a new meaning. */
const struct od_short_name od_vocabulary[] = {
	{ 'h', "help" },
	{ 'V', "version" },
	{ 'q', "quiet" },
	{ 'v', "verbose" },
	{ 'o', "output" },
	{ 'm', "model" },
	{ 'j', "threads" },
	{ 's', "seed" },
	{ 'S', "size" },
	{ 'n', "steps" },
	{ 'g', "guidance" },
	{ 'F', "format" },
	{ 'f', "file" },
	{ 't', "task" },
	{ 'N', "standard-negative" },
	{ 'r', "ref-caption" },
	{ 'i', "item" },
	{ 'c', "cameras" },
	{ 'a', "azimuth" },
	{ 'e', "elevation" },
	{ 'd', "distance" },
	{ 0, NULL },
};

/* ---------------------------------------------------------------- start-up */

/* Descriptors 0-2 must be open before anything else is: a tool started with
 * one closed would otherwise hand its number to the first file it opens, and
 * write messages into an output file (stderr closed) or data into a file
 * meant to be read. A closed stdin reads as empty (/dev/null); a closed
 * stdout refuses writes (/dev/null opened for reading), so output meant for
 * it fails loudly instead of vanishing; a closed stderr drops messages. */
static void open_standard_descriptors(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int nfd = open("/dev/null", fd == 2 ? O_WRONLY : O_RDONLY);
		if (nfd < 0)
			_exit(OD_EXIT_IO); /* no /dev/null: nothing can be said, and nothing is safe to do */
		if (nfd != fd) {
			dup2(nfd, fd);
			close(nfd);
		}
	}
}

/* Signals that end a process by default; each removes the registered
 * temporaries (base/io.h) and then ends the process as it would have, so the
 * exit status still says which signal. The hardware faults pass on to the
 * handler that was there before (the default, or a sanitizer's). */
static const int fatal_signals[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2,
				     SIGXCPU, SIGXFSZ, SIGBUS,  SIGSEGV, SIGILL,  SIGFPE,  SIGABRT };
static struct sigaction previous[NSIG];

static int is_fault(int sig)
{
	return sig == SIGBUS || sig == SIGSEGV || sig == SIGILL || sig == SIGFPE;
}

/* Append s to buf (async-signal-safe), control characters escaped. */
static size_t put_escaped(char *buf, size_t at, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	for (; *s && at + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n' || c == '\t' || c == '\r') {
			buf[at++] = '\\';
			buf[at++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		} else if (c < 0x20 || c == 0x7f || c == '\\') {
			if (c == '\\') {
				buf[at++] = '\\';
				buf[at++] = '\\';
			} else {
				buf[at++] = '\\';
				buf[at++] = 'x';
				buf[at++] = hex[c >> 4];
				buf[at++] = hex[c & 15];
			}
		} else {
			buf[at++] = (char)c;
		}
	}
	return at;
}

static size_t put_raw(char *buf, size_t at, size_t size, const char *s)
{
	for (; *s && at + 1 < size; s++)
		buf[at++] = *s;
	return at;
}

static void on_fatal_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int saved = errno;
	if (sig == SIGBUS && si && si->si_code > 0) {
		/* A mapped file shrank under its map (numerics never touch a map past
		 * its end otherwise): say which one, and end as an I/O error. */
		char path[1024], msg[2048];
		if (od_map_owner(si->si_addr, path, sizeof path)) {
			/* several compute threads may fault at once: one reports, the
			 * others wait for its _exit */
			static atomic_flag reporting = ATOMIC_FLAG_INIT;
			if (atomic_flag_test_and_set(&reporting))
				for (;;)
					pause();
			size_t n = 0;
			n = put_raw(msg, n, sizeof msg, od_prog);
			n = put_raw(msg, n, sizeof msg, ": '");
			n = put_escaped(msg, n, sizeof msg - 64, path);
			n = put_raw(msg, n, sizeof msg, "': the file changed while in use (truncated?)\n");
			od_out_remove_all();
			ssize_t w = write(STDERR_FILENO, msg, n);
			(void)w;
			_exit(OD_EXIT_IO);
		}
	}
	od_out_remove_all();
	sigaction(sig, &previous[sig], NULL);
	/* A fault returns to the faulting instruction, which faults again into the
	 * previous handler; anything sent (kill, a terminal, raise) is sent again,
	 * delivered when this handler returns. */
	if (!is_fault(sig) || !si || si->si_code <= 0)
		raise(sig);
	errno = saved;
}

static void remove_temporaries_at_exit(void)
{
	od_out_remove_all();
}

static void install_cleanup(void)
{
	atexit(remove_temporaries_at_exit);
	for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals; i++) {
		int sig = fatal_signals[i];
		if (sigaction(sig, NULL, &previous[sig]) != 0)
			continue;
		/* a signal the caller ignores stays ignored (nohup, background jobs),
		 * except SIGPIPE: a closed pipe must end a tool, not fail its writes */
		if (previous[sig].sa_handler == SIG_IGN && !(previous[sig].sa_flags & SA_SIGINFO)) {
			if (sig != SIGPIPE)
				continue;
			previous[sig].sa_handler = SIG_DFL;
		}
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_fatal_signal;
		sa.sa_flags = SA_SIGINFO;
		sigfillset(&sa.sa_mask);
		sigaction(sig, &sa, NULL);
	}
}

void od_tool_init(int argc, char **argv, const char *name)
{
	(void)argc;
	od_prog = name;
	open_standard_descriptors();
	install_cleanup(); /* SIGPIPE included: a closed pipe ends the tool, temporaries removed */
	od_options_vocabulary = od_vocabulary;
	const char *advice = od_blas_advice();
	const char *preload = getenv("LD_PRELOAD");
	const char *nt = getenv("OPENBLAS_NUM_THREADS");
	int under_valgrind = preload && strstr(preload, "vgpreload");
	int one_thread = nt && !strcmp(nt, "1");
	if ((advice || !one_thread) && !under_valgrind && !getenv("OD_NO_REEXEC")) {
		/* OpenBLAS chooses its kernels and starts its threads in its
		 * constructor, before main(); the only way to change either is to
		 * start again with the variables set. od never uses OpenBLAS's threads
		 * (base/parallel.h), and each would reserve a work buffer of 128 MiB
		 * on starting: under a memory limit they spin forever. */
		if (advice)
			setenv("OPENBLAS_CORETYPE", advice, 1);
		setenv("OPENBLAS_NUM_THREADS", "1", 1);
		execv("/proc/self/exe", argv);
		/* exec failed: carry on with the slower kernels */
	}
}

/* Erase a progress line before a message, so that the message starts at the
 * beginning of an empty line. */
static const char *erase(void)
{
	if (!progress_on_screen)
		return "";
	progress_on_screen = 0;
	return "\r\033[K";
}

/* A message line on stderr: "prog: prefix message", control characters
 * escaped so that it stays one line whatever file names it quotes, after
 * erasing a progress line. */
static void message_line(const char *prefix, const char *msg, const char *suffix)
{
	char buf[4200];
	size_t n = 0;
	n = put_raw(buf, n, sizeof buf, od_prog);
	n = put_raw(buf, n, sizeof buf, ": ");
	n = put_raw(buf, n, sizeof buf, prefix);
	n = put_escaped(buf, n, sizeof buf - 256, msg);
	n = put_raw(buf, n, sizeof buf, suffix);
	buf[n] = 0;
	fprintf(stderr, "%s%s\n", erase(), buf);
}

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	char buf[2048];
	vsnprintf(buf, sizeof buf, fmt, ap);
	message_line(prefix, buf, "");
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
	od_report(code);
	exit(od_exit_status(code));
}

void od_report(int code)
{
	const char *m = od_errmsg();
	message_line("", *m ? m : od_status_name(code), "");
}

/* The command being run (od_run_command), for usage errors and help. */
static const struct od_command *cur_cmd;
static const struct od_usage *tool_usage;

void od_usage_error(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	char prefix[256], suffix[512];
	if (cur_cmd) {
		snprintf(prefix, sizeof prefix, "%s: ", cur_cmd->name);
		snprintf(suffix, sizeof suffix, " (see %s %s --help)", od_prog, cur_cmd->name);
	} else {
		prefix[0] = 0;
		snprintf(suffix, sizeof suffix, " (see %s --help)", od_prog);
	}
	message_line(prefix, buf, suffix);
	exit(OD_EXIT_USAGE);
}

void od_warn(const char *fmt, ...)
{
	if (od_verbosity < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

int od_empty_input(const char *what)
{
	return od_error(OD_EFORMAT, "no %s in the input", what);
}

void od_info(const char *fmt, ...)
{
	if (od_verbosity < 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void od_version(void)
{
	printf("%s %s\n", od_prog, OD_VERSION);
	exit(0);
}

long long od_opt_int(const char *opt, const char *s, long long lo, long long hi)
{
	long long v;
	if (od_parse_int(opt, s, lo, hi, &v))
		od_usage_error("%s", od_errmsg());
	return v;
}

double od_opt_num(const char *opt, const char *s, double lo, double hi)
{
	double v;
	if (od_parse_num(opt, s, lo, hi, &v))
		od_usage_error("%s", od_errmsg());
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

/* ---------------------------------------------------------------- shared options */

static int version_cb(const struct od_option *opt, const char *arg)
{
	od_version();
}

static int quiet_cb(const struct od_option *opt, const char *arg)
{
	od_verbosity = -1;
	return OD_OK;
}

static int verbose_cb(const struct od_option *opt, const char *arg)
{
	od_verbosity = od_verbosity < 0 ? 1 : od_verbosity + 1;
	return OD_OK;
}

/* What every tool and command takes. */
static const struct od_option standard_options[] = {
	OD_OPT_CALLBACK('q', "quiet", NULL, NULL, "no warnings and no progress line, only errors", quiet_cb),
	OD_OPT_CALLBACK('v', "verbose", NULL, NULL, "say what is done (model, threads, seeds, files written)",
			verbose_cb),
	OD_OPT_HELP('h', "help", "this help"),
	OD_OPT_CALLBACK('V', "version", NULL, NULL, "the version", version_cb),
	OD_OPT_END(),
};

static const struct od_choice progress_choices[] = {
	{ "auto", OD_PROGRESS_AUTO, 0 }, { "none", OD_PROGRESS_NONE, 0 }, { "machine", OD_PROGRESS_MACHINE, 0 },
	{ NULL, 0, 0 }
};

static int model_cb(const struct od_option *opt, const char *arg)
{
	struct od_common_opts *c = opt->value;
	c->model = arg;
	c->given.model = 1;
	return OD_OK;
}

/* The entries of which (OD_COMMON_* bits) for c, with c's defaults. */
static int common_entries(struct od_common_opts *c, unsigned which, struct od_option *out, int room)
{
	const char *model = which & OD_COMMON_MODEL ? getenv("OD_MODEL") : NULL;
	*c = (struct od_common_opts){ .model = model && *model ? model : NULL,
				      .device_name = which & OD_COMMON_DEVICE ? getenv("OD_DEVICE") : NULL,
				      .device = OD_DEVICE_CPU, .threads = -1, .progress = OD_PROGRESS_AUTO };
	const struct od_option t[] = {
		OD_OPT_CALLBACK('m', "model", c, "DIR",
				"the OneDiffusion checkpoint folder (default: $OD_MODEL, else the pulled or installed "
				"model)", model_cb),
		OD_OPT_STRING(0, "device", &c->device_name, "DEV",
			      "compute device, cpu or cuda (default: $OD_DEVICE, else cpu)"),
		OD_OPT_INT('j', "threads", &c->threads, "N",
			   "CPU threads; 0: all (default: $OD_THREADS, else a fair share of the CPUs)", 0, 4096),
		OD_OPT_CHOICE_OPTARG(0, "progress", &c->progress, "MODE",
				     "auto (the default: a progress line when stderr is a terminal), none, or machine "
				     "(key=value lines)", progress_choices),
		OD_OPT_STRING(0, "precision", &c->precision_name, "P",
			      "matrix products on the CPU in fp32 or bf16 (default: $OD_PRECISION, else bf16 where "
			      "the CPU has AVX512-BF16 or AMX, else fp32; without them bf16 computes in fp32)"),
	};
	const unsigned bit[] = { OD_COMMON_MODEL, OD_COMMON_DEVICE, OD_COMMON_THREADS, OD_COMMON_PROGRESS,
				 OD_COMMON_PRECISION };
	int n = 0;
	for (int i = 0; i < (int)(sizeof t / sizeof *t); i++)
		if (which & bit[i]) {
			if (n == room)
				return -1;
			out[n++] = t[i];
		}
	return n;
}

int od_common_options(void *value, struct od_option *out, int room)
{
	return common_entries(value, OD_COMMON_ALL, out, room);
}

int od_common_finish(void *value)
{
	struct od_common_opts *c = value;
	const char *env_device = getenv("OD_DEVICE");
	c->given.device = c->device_name && c->device_name != env_device;
	c->given.threads = c->threads >= 0;
	c->given.progress = c->progress != OD_PROGRESS_AUTO;
	if (c->model && !*c->model)
		c->model = NULL;
	if (c->threads < 0)
		c->threads = od_default_threads();
	if (od_verbosity < 0 && c->progress == OD_PROGRESS_AUTO)
		c->progress = OD_PROGRESS_NONE;
	c->device = OD_DEVICE_CPU;
	if (c->device_name && *c->device_name && od_device_parse(c->device_name, &c->device))
		return od_error(OD_EINVAL, "--device: '%s' is not cpu or cuda", c->device_name);
	if (c->precision_name && od_precision_parse(c->precision_name, &c->precision))
		return od_error(OD_EINVAL, "--precision: '%s' is not fp32 or bf16", c->precision_name);
	return OD_OK;
}

int od_common_ctx_create(const struct od_common_opts *c, struct od_ctx **ctx)
{
	int rc = od_ctx_create(ctx, c->device, c->threads);
	if (!rc && c->precision_name)
		(*ctx)->precision = c->precision;
	return rc;
}

int od_common_some_options(void *value, struct od_option *out, int room)
{
	struct od_common_some *s = value;
	return common_entries(s->c, s->which, out, room);
}

int od_common_some_finish(void *value)
{
	return od_common_finish(((struct od_common_some *)value)->c);
}

const char *od_common_model(const struct od_common_opts *c)
{
	const char *m = c->model ? c->model : od_default_model();
	if (!m)
		od_usage_error("no model: give --model DIR or set OD_MODEL, or get one with 'od-model pull "
			       "lehduong/OneDiffusion'");
	od_info("model '%s', %s, %d thread%s", m, od_device_name(c->device), c->threads, c->threads == 1 ? "" : "s");
	return m;
}

/* ---------------------------------------------------------------- defaults: model, threads */

/* ${XDG_DATA_HOME:-$HOME/.local/share}/od/NAME for the repository owner/NAME. */
static char *pulled_dir(const char *repo, char *buf, size_t size)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME"), *slash = strrchr(repo, '/');
	const char *name = slash ? slash + 1 : repo;
	if (xdg && *xdg == '/')
		snprintf(buf, size, "%s/od/%s", xdg, name);
	else if (home && *home)
		snprintf(buf, size, "%s/.local/share/od/%s", home, name);
	else
		return NULL;
	return buf;
}

const char *od_default_pull_dir(const char *repo)
{
	static char buf[PATH_MAX];
	return pulled_dir(repo, buf, sizeof buf);
}

const char *od_default_model(void)
{
	static char buf[PATH_MAX + 64];
	if (pulled_dir("lehduong/OneDiffusion", buf, sizeof buf) && od_is_dir(buf))
		return buf;
	/* the data folder: beside the executable's folder when the tool is
	 * installed under PREFIX/bin (or a staged copy of it), else the configured one */
	char exe[PATH_MAX], datadirs[2][PATH_MAX];
	int n = 0;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len > 0) {
		exe[len] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(datadirs[n++], PATH_MAX, "%s/../share", exe);
		}
	}
	snprintf(datadirs[n++], PATH_MAX, "%s", OD_DATADIR);
	/* the released checkpoint when a user put it there, else the trained
	 * scene model, else the random-weight one the golden tests use */
	static const char *const names[] = { "od/OneDiffusion", "od/scene-onediffusion",
					     "od/tiny-onediffusion" };
	for (size_t k = 0; k < sizeof names / sizeof *names; k++)
		for (int i = 0; i < n; i++) {
			snprintf(buf, sizeof buf, "%s/%s", datadirs[i], names[k]);
			if (od_is_dir(buf))
				return buf;
		}
	return NULL;
}

/* N of the -jN in MAKEFLAGS: 0 when make runs no parallel jobs (or this is
 * not a recipe), -1 for an unlimited -j. */
static int make_jobs(void)
{
	const char *mf = getenv("MAKEFLAGS");
	if (!mf)
		return 0;
	int jobs = 0;
	for (const char *p = mf; *p;) {
		p += strspn(p, " ");
		size_t len = strcspn(p, " ");
		if (len >= 2 && p[0] == '-' && p[1] == 'j') {
			jobs = len == 2 ? -1 : atoi(p + 2);
		} else if (len > 7 && !strncmp(p, "--jobs=", 7)) {
			jobs = atoi(p + 7);
		} else if (len == 2 && !strncmp(p, "--", 2)) {
			break; /* variable definitions follow */
		}
		p += len;
	}
	return jobs == 1 ? 0 : jobs;
}

int od_default_threads(void)
{
	const char *env = getenv("OD_THREADS");
	if (env && *env) {
		long long v;
		if (od_parse_int("OD_THREADS", env, 0, 4096, &v))
			od_usage_error("%s", od_errmsg());
		return (int)v;
	}
	int cpus = 0;
	cpu_set_t set;
	if (!sched_getaffinity(0, sizeof set, &set))
		cpus = CPU_COUNT(&set);
	if (cpus <= 0)
		cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus <= 0)
		cpus = 1;
	int jobs = make_jobs();
	if (jobs < 0)
		return 1;
	if (jobs > 1)
		return cpus / jobs > 1 ? cpus / jobs : 1;
	return cpus;
}

/* ---------------------------------------------------------------- terminals */

void od_refuse_terminal_output(const char *path, const char *what)
{
	if (!strcmp(path, "-") && isatty(STDOUT_FILENO))
		od_die(OD_EINVAL, "refusing to write %s to a terminal; use -o FILE or a pipe", what);
}

void od_refuse_terminal_input(char *const *paths, int n, const char *what)
{
	int stdin_used = n == 0;
	for (int i = 0; i < n; i++)
		stdin_used |= !strcmp(paths[i], "-");
	if (stdin_used && isatty(STDIN_FILENO))
		od_die(OD_EINVAL, "refusing to read %s from a terminal; give a FILE or a pipe", what);
}

int od_opt_dtype_cb(const struct od_option *opt, const char *arg)
{
	char name[128];
	if (od_float_dtype_parse(arg, opt->value))
		return od_error(OD_EINVAL, "%s: '%s' is not f32, f16 or bf16", od_option_name(opt, name, sizeof name), arg);
	return OD_OK;
}

int od_opt_role_cb(const struct od_option *opt, const char *arg)
{
	char name[128];
	int r = od_role_parse(arg);
	if (r < 0)
		return od_error(OD_EINVAL, "%s: '%s' is not none, condition, target or negative",
				od_option_name(opt, name, sizeof name), arg);
	*(int *)opt->value = r;
	return OD_OK;
}

int od_opt_shard_cb(const struct od_option *opt, const char *arg)
{
	char name[128];
	if (od_shard_parse(arg, opt->value))
		return od_error_prefix(OD_EINVAL, "%s", od_option_name(opt, name, sizeof name));
	return OD_OK;
}

int od_opt_set_cb(const struct od_option *opt, const char *arg)
{
	struct od_kv_list *l = opt->value;
	char name[128];
	od_option_name(opt, name, sizeof name);
	if (!strchr(arg, '=') || arg[0] == '=')
		return od_error(OD_EINVAL, "%s: '%s' is not KEY=VALUE", name, arg);
	if (l->n == (int)(sizeof l->v / sizeof *l->v))
		return od_error(OD_EINVAL, "%s: at most %d", name, (int)(sizeof l->v / sizeof *l->v));
	l->v[l->n++] = arg;
	return OD_OK;
}

int od_frame_set_all(struct od_frame *f, const struct od_kv_list *l)
{
	int rc = OD_OK;
	for (int k = 0; !rc && k < l->n; k++) {
		char key[256];
		const char *eq = strchr(l->v[k], '=');
		snprintf(key, sizeof key, "%.*s", (int)(eq - l->v[k]), l->v[k]);
		rc = od_frame_set(f, key, eq + 1);
	}
	return rc;
}

const struct od_choice od_rays_channel_choices[] = {
	{ "average", OD_RAYS_AVERAGE, 0 }, { "first", OD_RAYS_FIRST, 0 }, { NULL, 0, 0 }
};

int od_parse_options(int argc, char **argv, const struct od_option *opts, const struct od_usage *u)
{
	const struct od_option all[] = { OD_OPT_INCLUDE(opts), OD_OPT_INCLUDE(standard_options), OD_OPT_END() };
	int first, rc = od_options_parse(argc, argv, all, u, &first);
	if (rc == OD_OPT_SHOWN) {
		if (fflush(stdout) != 0)
			od_die(OD_EIO, "<stdout>: write failed");
		exit(0);
	}
	if (rc == OD_EINVAL)
		od_usage_error("%s", od_errmsg());
	if (rc)
		od_fail(rc);
	return first;
}

/* ---------------------------------------------------------------- commands */

/* Append to a fixed buffer (help texts: truncated rather than overflowing). */
static void append(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

int od_parse_command(int argc, char **argv, const struct od_option *opts, const struct od_command *cmd)
{
	char desc[1024] = "";
	append(desc, sizeof desc, "%s\n", cmd->summary);
	const struct od_usage u = { cmd->synopsis, desc, tool_usage ? tool_usage->footer : NULL };
	return od_parse_options(argc, argv, opts, &u);
}

int od_run_command(int argc, char **argv, const struct od_command *cmds, const struct od_usage *u)
{
	static const struct od_option none[] = { OD_OPT_END() };
	char synopsis[4096] = "", desc[4096] = "", names[1024] = "";
	int n = 0, width = 0;
	for (const struct od_command *c = cmds; c->name; c++, n++)
		if ((int)strlen(c->name) > width)
			width = (int)strlen(c->name);
	for (int i = 0; i < n; i++) {
		append(synopsis, sizeof synopsis, "%s%s", i ? "\n" : "", cmds[i].synopsis);
		append(names, sizeof names, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", cmds[i].name);
	}
	append(desc, sizeof desc, "%sCommands:\n", u->description ? u->description : "");
	for (int i = 0; i < n; i++)
		append(desc, sizeof desc, "  %-*s  %s\n", width, cmds[i].name, cmds[i].summary);
	append(desc, sizeof desc, "Options:\n");
	char footer[4096] = "";
	append(footer, sizeof footer, "Run '%s COMMAND --help' for the options of a command.\n%s", od_prog,
	       u->footer ? u->footer : "");
	const struct od_usage top = { synopsis, desc, footer };
	tool_usage = u;
	if (argc == 2 && !strcmp(argv[1], "--list-options")) {
		/* the commands, then the options (completion, tests) */
		for (int i = 0; i < n; i++)
			printf("%s\n", cmds[i].name);
	}
	if (argc >= 2 && argv[1][0] == '-')
		od_parse_options(2, argv, none, &top); /* --help, --version, or a usage error */
	if (argc < 2)
		od_usage_error("give a command: %s", names);
	for (int i = 0; i < n; i++)
		if (!strcmp(argv[1], cmds[i].name)) {
			cur_cmd = &cmds[i];
			return cmds[i].run(argc - 1, argv + 1, &cmds[i]);
		}
	od_usage_error("unknown command '%s'", argv[1]);
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
	p->mode = mode == OD_PROGRESS_AUTO && od_verbosity < 0 ? OD_PROGRESS_NONE : mode;
	p->tty = isatty(STDERR_FILENO);
	p->start = od_now();
	snprintf(p->what, sizeof p->what, "%s", what);
}

/* The terminal's width, for cutting a status line so that it never wraps. */
static int term_width(void)
{
	struct winsize ws;
	if (!ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) && ws.ws_col > 8)
		return ws.ws_col;
	return 80;
}

void od_progress_step(struct od_progress *p, long job, int step, int total)
{
	double now = od_now(), el = now - p->start;
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
	if (p->shown && now - p->last < 0.1 && step < total)
		return; /* at most ten updates a second */
	char line[512];
	int n;
	if (total > 1)
		n = snprintf(line, sizeof line, "%s: %s job %ld: step %d/%d, %.1fs elapsed, ETA %.1fs", od_prog, p->what,
			     job + 1, step, total, el, eta);
	else
		n = snprintf(line, sizeof line, "%s: %s job %ld, %.1fs elapsed", od_prog, p->what, job + 1, el);
	(void)n;
	od_status_line("%s", line);
	p->shown = 1;
	p->last = now;
}

void od_status_line(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	int w = term_width() - 1;
	if (n > w)
		n = w;
	if (n > (int)sizeof line - 1)
		n = (int)sizeof line - 1;
	/* one write: "\r", the line, erase to the end of the line */
	char buf[600];
	int len = snprintf(buf, sizeof buf, "\r%.*s\033[K", n, line);
	ssize_t wr = write(STDERR_FILENO, buf, (size_t)len);
	(void)wr;
	progress_on_screen = 1;
}

void od_status_clear(void)
{
	if (progress_on_screen) {
		ssize_t wr = write(STDERR_FILENO, "\r\033[K", 4);
		(void)wr;
		progress_on_screen = 0;
	}
}

void od_progress_end(struct od_progress *p)
{
	if (p->shown)
		od_status_clear();
	p->shown = 0;
}
