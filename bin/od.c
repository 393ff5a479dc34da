/* od: one command per task, for people who do not want to write pipelines
 * (od(1)). It is porcelain over the plumbing, as git has both: each task
 * builds the pipeline of od tools a user would write (od-tag, od-encode,
 * od-plucker | od-denoise | od-decode), prints it with --dry-run, or runs it
 * and exits with the status of the first stage that failed. The tools are
 * looked for beside this program first, then on $PATH.
 *
 * "od" is also the name of coreutils' octal dump: a command line that is not
 * one of od's (is_octal_dump) is handed to $OD_COREUTILS_OD (default
 * /usr/bin/od), so that scripts calling the octal dump keep working where
 * this od comes first on $PATH. */
#include "od.h"
#include "camera/camera.h"
#include "formats/image.h"
#include "text/prompt.h"
#include "tool.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- tasks */

enum shape {
	TEXT,      /* text to image: text frames only */
	PAIR,      /* two frames of one scene: [generated, given] or [given, generated] */
	REFS,      /* a generated picture and 1..3 reference pictures (faceid, subject_driven) */
	VIEWS,     /* multiview: view 0's picture (or none) and cameras, the other views generated */
	POSE,      /* camera-pose estimation: all pictures, the first camera; the other cameras generated */
};

struct task {
	const char *name;   /* the command */
	const char *tag;    /* od-tag --task */
	enum shape shape;
	const char *mask;   /* PAIR: "10" (the picture given is frame 1) or "01" (frame 0) */
	int min_pics, max_pics;
	int need_prompt;    /* 1: a prompt (or --file) is required */
	const char *summary;
	const char *synopsis;
};

static const struct task tasks[] = {
	{ "text2image", "text2image", TEXT, NULL, 0, 0, 1, "a picture from a prompt",
	  "od text2image [OPTIONS] PROMPT... | -f FILE" },
	{ "depth2image", "depth2image", PAIR, "10", 1, 1, 0, "a picture from a depth map (and a prompt)",
	  "od depth2image [OPTIONS] DEPTH.png [PROMPT...]" },
	{ "depth", "depth2image", PAIR, "01", 1, 1, 0, "the depth map of a picture",
	  "od depth [OPTIONS] PICTURE" },
	{ "canny2image", "canny2image", PAIR, "10", 1, 1, 0, "a picture from a canny edge map",
	  "od canny2image [OPTIONS] EDGES.png [PROMPT...]" },
	{ "canny", "canny2image", PAIR, "01", 1, 1, 0, "the canny edges of a picture", "od canny [OPTIONS] PICTURE" },
	{ "hed2img", "hed2img", PAIR, "10", 1, 1, 0, "a picture from a HED edge map",
	  "od hed2img [OPTIONS] HED.png [PROMPT...]" },
	{ "hed", "hed2img", PAIR, "01", 1, 1, 0, "the HED edges of a picture", "od hed [OPTIONS] PICTURE" },
	{ "pose2image", "pose2image", PAIR, "10", 1, 1, 0, "a picture from a human pose map",
	  "od pose2image [OPTIONS] POSEMAP.png [PROMPT...]" },
	{ "posemap", "pose2image", PAIR, "01", 1, 1, 0, "the human pose map of a picture",
	  "od posemap [OPTIONS] PICTURE" },
	{ "semanticmap2image", "semanticmap2image", PAIR, "10", 1, 1, 0, "a picture from a semantic map",
	  "od semanticmap2image [OPTIONS] MAP.png [--region C:OBJ]... [PROMPT...]" },
	{ "segment", "semanticmap2image", PAIR, "01", 1, 1, 0, "the semantic map of a picture",
	  "od segment [OPTIONS] PICTURE [--region C:OBJ]..." },
	{ "boundingbox2image", "boundingbox2image", PAIR, "10", 1, 1, 0, "a picture from a bounding-box map",
	  "od boundingbox2image [OPTIONS] BOXES.png [--box C:OBJ]... [PROMPT...]" },
	{ "detect", "boundingbox2image", PAIR, "01", 1, 1, 0, "the bounding-box map of a picture",
	  "od detect [OPTIONS] PICTURE [--box C:OBJ]..." },
	{ "image_inpainting", "image_inpainting", PAIR, "10", 1, 1, 0, "fill the masked part of a picture",
	  "od image_inpainting [OPTIONS] MASKED.png [PROMPT...]" },
	{ "image_editing", "image_editing", PAIR, "10", 1, 1, 1, "edit a picture as an instruction says",
	  "od image_editing [OPTIONS] PICTURE INSTRUCTION..." },
	{ "deblurring", "deblurring", PAIR, "10", 1, 1, 0, "a sharp picture from a blurred one",
	  "od deblurring [OPTIONS] BLURRED.png" },
	{ "faceid", "faceid", REFS, NULL, 1, 3, 1, "a new picture of the person in 1 to 3 photographs",
	  "od faceid [OPTIONS] PHOTO... -r CAPTION... PROMPT..." },
	{ "subject_driven", "subject_driven", REFS, NULL, 1, 1, 1, "a new picture of the subject of a picture",
	  "od subject_driven [OPTIONS] PICTURE -i ITEM -r CAPTION PROMPT..." },
	{ "multiview", "multiview", VIEWS, NULL, 0, 1, 0, "other views of the object in a picture",
	  "od multiview [OPTIONS] [FRONT.png] -a AZ,... [-e EL,...] [PROMPT...]" },
	{ "pose", "multiview", POSE, NULL, 2, 64, 0, "the cameras of several photographs of one scene",
	  "od pose [OPTIONS] PICTURE PICTURE... [-o CAMERAS.json]" },
};
#define N_TASKS ((int)(sizeof tasks / sizeof *tasks))

static const struct task *find_task(const char *name)
{
	for (int i = 0; i < N_TASKS; i++)
		if (!strcmp(tasks[i].name, name))
			return &tasks[i];
	return NULL;
}

/* ---------------------------------------------------------------- commands to run */

#define MAX_ARGS 96

struct cmd {
	char *argv[MAX_ARGS + 1];
	int argc;
};

/* A pipeline: the commands of its first stage run one after the other into
 * one pipe ({ a; b; }), then one command per stage. */
struct pipeline {
	struct cmd first[4];
	int n_first;
	struct cmd stage[3];
	int n_stage;
};

static void arg(struct cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(struct cmd *c, const char *fmt, ...)
{
	if (c->argc == MAX_ARGS)
		od_usage_error("too many arguments");
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&c->argv[c->argc], fmt, ap) < 0)
		od_die(OD_ENOMEM, "out of memory");
	va_end(ap);
	c->argv[++c->argc] = NULL;
}

static void free_pipeline(struct pipeline *p)
{
	for (int i = 0; i < p->n_first; i++)
		for (int k = 0; k < p->first[i].argc; k++)
			free(p->first[i].argv[k]);
	for (int i = 0; i < p->n_stage; i++)
		for (int k = 0; k < p->stage[i].argc; k++)
			free(p->stage[i].argv[k]);
}

/* ---------------------------------------------------------------- options */

struct opts {
	struct od_common_opts common;
	const char *out, *seed, *size, *negative, *file, *item, *az, *el, *dist, *focal, *colormap;
	const char *refs[8], *regions[64], *boxes[64];
	int n_refs, n_regions, n_boxes;
	int steps, count, std_negative, json, bucket_size, dry_run;
	double guidance;
	int have_guidance;
};

static struct opts o;

static int guidance_cb(const struct od_option *opt, const char *a)
{
	if (od_parse_num("--guidance", a, 0, 1e6, &o.guidance))
		return OD_EINVAL;
	o.have_guidance = 1;
	return OD_OK;
}

static int seed_cb(const struct od_option *opt, const char *a)
{
	long long v;
	if (strcmp(a, "random") && strcmp(a, "-1") && od_parse_int("--seed", a, 0, INT64_MAX, &v))
		return od_error(OD_EINVAL, "--seed: '%s' is not a seed (0 to %lld, or -1 or random)", a,
				(long long)INT64_MAX);
	o.seed = a;
	return OD_OK;
}

static int size_cb(const struct od_option *opt, const char *a)
{
	int w, h;
	od_opt_size("--size", a, &w, &h);
	if (w % 16 || h % 16)
		return od_error(OD_EINVAL, "--size: %dx%d is not a multiple of 16 on both sides", w, h);
	o.size = a;
	return OD_OK;
}

static const struct od_option options[] = {
	OD_OPT_STRING('o', "output", &o.out, "FILE",
		      "the picture (or cameras JSON, for pose); a pattern like out_%03d.png for several"),
	OD_OPT_GROUP("Sampling (od-denoise):"),
	OD_OPT_CALLBACK('s', "seed", NULL, "S", "the seed (default 0; -1 or 'random': draw one)", seed_cb),
	OD_OPT_CALLBACK('S', "size", NULL, "WxH",
			"the size the model works at, multiples of 16 (default: the task's)", size_cb),
	OD_OPT_INT('n', "steps", &o.steps, "N", "sampling steps (default: od-denoise's)", 1, 100000),
	OD_OPT_CALLBACK('g', "guidance", NULL, "G", "guidance scale (default: od-denoise's)", guidance_cb),
	OD_OPT_INT(0, "count", &o.count, "N", "N variations of every job (needs a pattern for -o)", 1, 100000),
	OD_OPT_GROUP("Prompts (od-tag):"),
	OD_OPT_STRING('f', "file", &o.file, "FILE", "text2image: one prompt per line of FILE"),
	OD_OPT_BOOL('N', "standard-negative", &o.std_negative, "upstream's standard negative prompt"),
	OD_OPT_STRING(0, "negative", &o.negative, "TEXT", "the negative prompt"),
	OD_OPT_LIST('r', "ref-caption", o.refs, &o.n_refs, 8, "TEXT",
		    "faceid, subject_driven: a reference picture's caption (repeat)"),
	OD_OPT_STRING('i', "item", &o.item, "NAME", "subject_driven: the subject"),
	OD_OPT_LIST(0, "region", o.regions, &o.n_regions, 64, "C:OBJ", "semantic maps: a region (repeat)"),
	OD_OPT_LIST(0, "box", o.boxes, &o.n_boxes, 64, "C:OBJ", "bounding boxes: a box (repeat)"),
	OD_OPT_GROUP("Cameras (od-plucker):"),
	OD_OPT_STRING('a', "azimuth", &o.az, "LIST", "multiview: the views' azimuths in degrees (0 first)"),
	OD_OPT_STRING('e', "elevation", &o.el, "LIST", "multiview: elevations in degrees"),
	OD_OPT_STRING('d', "distance", &o.dist, "LIST", "multiview: camera distances"),
	OD_OPT_STRING(0, "focal", &o.focal, "LIST", "multiview: focal lengths"),
	OD_OPT_GROUP("Pictures (od-decode):"),
	OD_OPT_STRING(0, "colormap", &o.colormap, "MAP", "none, gray or spectral (maps)"),
	OD_OPT_BOOL(0, "json", &o.json, "a JSON file of the parameters beside every picture"),
	OD_OPT_BOOL(0, "bucket-size", &o.bucket_size, "maps: keep the model's size, not the picture's"),
	OD_OPT_GROUP("Running:"),
	OD_OPT_BOOL(0, "dry-run", &o.dry_run, "print the pipeline instead of running it"),
	OD_OPT_COMMON(&o.common),
	OD_OPT_END(),
};

/* The options every tool that runs a model gets when the user gave them. */
static void common_args(struct cmd *c)
{
	if (o.common.given.model)
		arg(c, "-m"), arg(c, "%s", o.common.model);
	if (o.common.given.device)
		arg(c, "--device"), arg(c, "%s", o.common.device_name);
	if (o.common.given.threads)
		arg(c, "-j"), arg(c, "%d", o.common.threads);
	if (o.common.given.progress)
		arg(c, "--progress=%s", o.common.progress == OD_PROGRESS_NONE ? "none" : "machine");
	if (o.common.precision_name)
		arg(c, "--precision"), arg(c, "%s", od_precision_name(o.common.precision));
}

static void verbosity_args(struct cmd *c)
{
	if (od_verbosity < 0)
		arg(c, "-q");
	for (int i = 0; i < od_verbosity; i++)
		arg(c, "-v");
}

static int is_picture(const char *s)
{
	return od_image_format_from_name(s) != OD_IMAGE_UNKNOWN;
}

/* ---------------------------------------------------------------- building the pipeline */

static void build(const struct task *t, char **pics, int n_pics, const char *prompt, struct pipeline *p)
{
	memset(p, 0, sizeof *p);
	/* the text */
	struct cmd *tag = &p->first[p->n_first++];
	arg(tag, "od-tag");
	if (strcmp(t->tag, "text2image"))
		arg(tag, "-t"), arg(tag, "%s", t->tag);
	if (o.std_negative)
		arg(tag, "-N");
	if (o.negative)
		arg(tag, "--negative"), arg(tag, "%s", o.negative);
	for (int i = 0; i < o.n_refs; i++)
		arg(tag, "-r"), arg(tag, "%s", o.refs[i]);
	if (o.item)
		arg(tag, "-i"), arg(tag, "%s", o.item);
	for (int i = 0; i < o.n_regions; i++)
		arg(tag, "--region"), arg(tag, "%s", o.regions[i]);
	for (int i = 0; i < o.n_boxes; i++)
		arg(tag, "--box"), arg(tag, "%s", o.boxes[i]);
	common_args(tag);
	verbosity_args(tag);
	if (o.file)
		arg(tag, "-f"), arg(tag, "%s", o.file);
	else
		arg(tag, "%s", prompt);

	/* the pictures and cameras */
	const int square = t->shape == VIEWS || t->shape == POSE;
	char sq[32];
	snprintf(sq, sizeof sq, "%d", OD_RAYS_DEFAULT_SIZE);
	const char *side = sq; /* multiview: square pictures, the rays' size */
	if (square && o.size) {
		int w, h;
		od_opt_size("--size", o.size, &w, &h);
		if (w != h)
			od_usage_error("--size: %s is not square: multiview needs square pictures", o.size);
		snprintf(sq, sizeof sq, "%d", w);
	}
	if (n_pics) {
		struct cmd *enc = &p->first[p->n_first++];
		arg(enc, "od-encode");
		if (square)
			arg(enc, "-S"), arg(enc, "%sx%s", side, side);
		else if (o.size)
			arg(enc, "-S"), arg(enc, "%s", o.size);
		if (o.seed)
			arg(enc, "-s"), arg(enc, "%s", o.seed);
		common_args(enc);
		verbosity_args(enc);
		for (int i = 0; i < n_pics; i++)
			arg(enc, "%s", pics[i]);
	}
	int views = 0;
	if (square) {
		struct cmd *pl = &p->first[p->n_first++];
		arg(pl, "od-plucker");
		if (t->shape == POSE) {
			views = n_pics;
			arg(pl, "-a"), arg(pl, "0");
		} else {
			views = 1;
			for (const char *c = o.az; *c; c++)
				views += *c == ',';
			arg(pl, "-a"), arg(pl, "%s", o.az);
			if (o.el)
				arg(pl, "-e"), arg(pl, "%s", o.el);
			if (o.dist)
				arg(pl, "-d"), arg(pl, "%s", o.dist);
		}
		if (o.focal)
			arg(pl, "--focal"), arg(pl, "%s", o.focal);
		if (o.size)
			arg(pl, "-S"), arg(pl, "%s", side);
		verbosity_args(pl);
	}

	/* the sampler */
	struct cmd *dn = &p->stage[p->n_stage++];
	arg(dn, "od-denoise");
	char mask[160] = "";
	switch (t->shape) {
	case TEXT:
		break;
	case PAIR:
		snprintf(mask, sizeof mask, "%s", t->mask);
		break;
	case REFS:
		mask[0] = '1';
		for (int i = 0; i < n_pics; i++)
			mask[1 + i] = '0';
		mask[1 + n_pics] = 0;
		break;
	case VIEWS: /* [img0, ray0, img1, ray1, ...]: view 0's picture given when there is one, rays given */
		for (int v = 0; v < views && 2 * v + 2 < (int)sizeof mask; v++) {
			mask[2 * v] = v == 0 && n_pics ? '0' : '1';
			mask[2 * v + 1] = '0';
			mask[2 * v + 2] = 0;
		}
		break;
	case POSE: /* the pictures and view 0's rays given, the other rays generated */
		for (int v = 0; v < views && 2 * v + 2 < (int)sizeof mask; v++) {
			mask[2 * v] = '0';
			mask[2 * v + 1] = v == 0 ? '0' : '1';
			mask[2 * v + 2] = 0;
		}
		break;
	}
	if (*mask)
		arg(dn, "--mask"), arg(dn, "%s", mask);
	if (o.size && t->shape == TEXT)
		arg(dn, "-S"), arg(dn, "%s", o.size);
	if (o.steps)
		arg(dn, "-n"), arg(dn, "%d", o.steps);
	if (o.have_guidance)
		arg(dn, "-g"), arg(dn, "%g", o.guidance);
	if (o.seed)
		arg(dn, "-s"), arg(dn, "%s", o.seed);
	if (o.count > 1)
		arg(dn, "--count"), arg(dn, "%d", o.count);
	common_args(dn);
	verbosity_args(dn);

	/* the pictures (or cameras) */
	struct cmd *dec = &p->stage[p->n_stage++];
	arg(dec, "od-decode");
	if (t->shape != TEXT)
		arg(dec, "--role"), arg(dec, "target");
	if (t->shape == POSE) {
		arg(dec, "--cameras"), arg(dec, "%s", o.out ? o.out : "-");
	} else {
		if (t->shape == VIEWS) {
			arg(dec, "--skip-rays");
			if (o.out && !strchr(o.out, '%'))
				arg(dec, "--grid"), arg(dec, "auto");
		}
		if (o.colormap)
			arg(dec, "--colormap"), arg(dec, "%s", o.colormap);
		if (o.bucket_size)
			arg(dec, "--bucket-size");
		if (o.json)
			arg(dec, "--json");
	}
	common_args(dec);
	verbosity_args(dec);
	if (o.out && t->shape != POSE)
		arg(dec, "-o"), arg(dec, "%s", o.out);
}

/* ---------------------------------------------------------------- --dry-run */

/* A word as sh reads it back: as it is when it is safe, else in single quotes. */
static void put_word(const char *w)
{
	if (*w && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./,:%@") == strlen(w)) {
		fputs(w, stdout);
		return;
	}
	putchar('\'');
	for (const char *c = w; *c; c++)
		if (*c == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*c);
	putchar('\'');
}

static void put_cmd(const struct cmd *c)
{
	for (int i = 0; i < c->argc; i++) {
		if (i)
			putchar(' ');
		put_word(c->argv[i]);
	}
}

static void print_pipeline(const struct pipeline *p)
{
	if (p->n_first > 1)
		fputs("{ ", stdout);
	for (int i = 0; i < p->n_first; i++) {
		put_cmd(&p->first[i]);
		if (p->n_first > 1)
			fputs("; ", stdout);
	}
	if (p->n_first > 1)
		putchar('}');
	for (int i = 0; i < p->n_stage; i++) {
		fputs(" | ", stdout);
		put_cmd(&p->stage[i]);
	}
	putchar('\n');
}

/* ---------------------------------------------------------------- running */

/* The folder of this program, where its tools are. */
static char self_dir[PATH_MAX];

static noreturn void exec_tool(const struct cmd *c)
{
	char path[PATH_MAX + 64];
	if (*self_dir) {
		snprintf(path, sizeof path, "%s/%s", self_dir, c->argv[0]);
		if (access(path, X_OK) == 0)
			execv(path, c->argv);
	}
	execvp(c->argv[0], c->argv);
	fprintf(stderr, "%s: cannot run %s: %s\n", od_prog, c->argv[0], strerror(errno));
	_exit(126);
}

/* A child's exit status as a shell reports it (128 + signal). */
static int status_of(int ws)
{
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 1;
}

/* Start c with stdin in and stdout out (-1: this process's), closing the
 * other pipe ends in the child. */
static pid_t start(const struct cmd *c, int in, int out, int (*fd)[2], int n_pipes)
{
	pid_t pid = fork();
	if (pid < 0)
		od_die(OD_EFAIL, "cannot start a process: %s", strerror(errno));
	if (pid)
		return pid;
	if (in >= 0)
		dup2(in, 0);
	if (out >= 0)
		dup2(out, 1);
	for (int k = 0; k < n_pipes; k++) {
		if (fd[k][0] >= 0)
			close(fd[k][0]);
		if (fd[k][1] >= 0)
			close(fd[k][1]);
	}
	exec_tool(c);
}

/* Run the pipeline; the exit status of the first stage that failed.
 *
 * This process starts every command itself and keeps a copy of every pipe's
 * writing end, so that a stage sees the end of its input only when this
 * process closes it: when the stage before it has ended well. When a stage
 * fails, the stages after it are stopped (SIGTERM) before their input
 * closes, so that they do not add "no frames in the input" to the failing
 * tool's message. The first stage's commands run one after the other. */
static int run(const struct pipeline *p)
{
	const int n = 1 + p->n_stage;
	int fd[3][2]; /* fd[s]: stage s -> stage s + 1 */
	for (int s = 0; s < n - 1; s++)
		if (pipe(fd[s]))
			od_die(OD_EIO, "cannot make a pipe: %s", strerror(errno));
	fflush(stdout);
	pid_t pid[4];       /* the running command of each stage, 0 when it has ended */
	int status[4] = { 0 }, next_first = 1, failed = -1;
	pid[0] = start(&p->first[0], -1, n > 1 ? fd[0][1] : -1, fd, n - 1);
	for (int s = 1; s < n; s++)
		pid[s] = start(&p->stage[s - 1], fd[s - 1][0], s < n - 1 ? fd[s][1] : -1, fd, n - 1);
	for (int k = 0; k < n - 1; k++) {
		close(fd[k][0]);
		fd[k][0] = -1;
	}
	for (int running = n; running > 0;) {
		int ws;
		pid_t got = waitpid(-1, &ws, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		int s = 0;
		while (s < n && pid[s] != got)
			s++;
		if (s == n)
			continue;
		pid[s] = 0;
		const int sig = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
		const int st = status_of(ws);
		if (st && failed < 0 && sig != SIGPIPE && !(sig == SIGTERM && failed >= 0)) {
			failed = s;
			status[s] = st;
			for (int k = s + 1; k < n; k++)
				if (pid[k])
					kill(pid[k], SIGTERM);
		} else if (st && sig == SIGPIPE) {
			status[s] = -1;
		}
		if (s == 0 && !st && next_first < p->n_first && failed < 0) {
			pid[0] = start(&p->first[next_first++], -1, n > 1 ? fd[0][1] : -1, fd, n - 1);
			continue;
		}
		running--;
		/* the stage has ended: its output's end, once the stages after it
		 * know whether to go on */
		if (s < n - 1 && fd[s][1] >= 0) {
			close(fd[s][1]);
			fd[s][1] = -1;
		}
	}
	if (failed >= 0)
		return status[failed];
	for (int s = 0; s < n; s++)
		if (status[s] < 0)
			return 128 + SIGPIPE;
	return 0;
}

/* ---------------------------------------------------------------- a task */

static int run_task(int argc, char **argv, const struct od_command *cmd)
{
	const struct task *t = find_task(cmd->name);
	const int first = od_parse_command(argc, argv, options, cmd);
	/* operands: the pictures first, then the prompt's words */
	char **pics = argv + first;
	int n_pics = 0;
	while (first + n_pics < argc && is_picture(argv[first + n_pics]))
		n_pics++;
	size_t len = 1;
	for (int i = first + n_pics; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *prompt = calloc(len, 1);
	if (!prompt)
		od_die(OD_ENOMEM, "out of memory");
	for (int i = first + n_pics; i < argc; i++) {
		if (i > first + n_pics)
			strcat(prompt, " ");
		strcat(prompt, argv[i]);
	}
	if (n_pics < t->min_pics || n_pics > t->max_pics) {
		if (t->min_pics == t->max_pics)
			od_usage_error("give %d picture%s (PNG or JPEG), not %d", t->min_pics, t->min_pics == 1 ? "" : "s",
				       n_pics);
		od_usage_error("give %d to %d pictures (PNG or JPEG), not %d", t->min_pics, t->max_pics, n_pics);
	}
	if (o.file && t->shape != TEXT)
		od_usage_error("--file is for text2image (a prompt per line)");
	if (o.file && *prompt)
		od_usage_error("give the prompt as words or with --file, not both");
	if (t->need_prompt && !*prompt && !o.file)
		od_usage_error("give a prompt");
	if (t->shape == POSE && *prompt)
		od_usage_error("'%s' is not a picture (PNG or JPEG); pose takes pictures only", argv[first + n_pics]);
	if (t->shape == VIEWS && !o.az)
		od_usage_error("give the views' azimuths with -a (view 0 first, such as -a 0,45,90)");
	if (t->shape != VIEWS && (o.az || o.el || o.dist || o.focal))
		od_usage_error("-a, -e, -d and --focal are for multiview");
	if (o.n_refs && t->shape != REFS)
		od_usage_error("--ref-caption is for faceid and subject_driven");
	if (o.item && strcmp(t->tag, "subject_driven"))
		od_usage_error("--item is for subject_driven");
	if (o.n_regions && strcmp(t->tag, "semanticmap2image"))
		od_usage_error("--region is for semanticmap2image and segment");
	if (o.n_boxes && strcmp(t->tag, "boundingbox2image"))
		od_usage_error("--box is for boundingbox2image and detect");
	if (o.count > 1 && (!o.out || !strchr(o.out, '%')) && t->shape != POSE)
		od_usage_error("--count makes several pictures: give -o a pattern like out_%%03d.png");
	if (o.seed && (!strcmp(o.seed, "random") || !strcmp(o.seed, "-1"))) {
		/* drawn here, so that od-encode and od-denoise get the same one */
		uint32_t v;
		static char drawn[16];
		if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
			v = (uint32_t)(od_now() * 1e9) ^ (uint32_t)getpid();
		snprintf(drawn, sizeof drawn, "%u", v);
		o.seed = drawn;
		od_info("seed %s", drawn);
	}
	if (!o.dry_run)
		od_common_model(&o.common); /* a usage error before anything runs */
	struct pipeline p;
	build(t, pics, n_pics, prompt, &p);
	free(prompt);
	if (o.dry_run) {
		print_pipeline(&p);
		free_pipeline(&p);
		if (fflush(stdout))
			od_die(OD_EIO, "<stdout>: write failed");
		return 0;
	}
	if (od_verbosity > 0) {
		fflush(stdout);
		int saved = dup(1);
		dup2(2, 1);
		print_pipeline(&p);
		fflush(stdout);
		dup2(saved, 1);
		close(saved);
	}
	int status = run(&p);
	free_pipeline(&p);
	return status;
}

/* ---------------------------------------------------------------- coreutils' od */

/* Is this command line coreutils' octal dump's rather than ours? Ours start
 * with a task, or are one of -h, --help, -V, --version, --list-options alone,
 * or a long option coreutils' od does not know (an error of ours). Its are
 * the others that start with an option, an existing file, or nothing with
 * standard input not a terminal. */
static int is_octal_dump(int argc, char **argv)
{
	static const char *const ours[] = { "-h", "--help", "-V", "--version", "--list-options", NULL };
	static const char *const its_long[] = { "address-radix", "skip-bytes", "read-bytes", "strings", "format",
						"output-duplicates", "width", "traditional", "endian", NULL };
	if (argc < 2)
		return !isatty(STDIN_FILENO);
	const char *a = argv[1];
	if (find_task(a))
		return 0;
	for (int i = 0; argc == 2 && ours[i]; i++)
		if (!strcmp(a, ours[i]))
			return 0;
	if (!strncmp(a, "--", 2) && a[2]) {
		size_t len = strcspn(a + 2, "=");
		for (int i = 0; its_long[i]; i++)
			if (len && !strncmp(a + 2, its_long[i], len))
				return 1; /* getopt takes unambiguous abbreviations */
		return 0;
	}
	return (a[0] == '-' && a[1]) || od_is_file(a);
}

static const struct od_usage usage = {
	.description = "One command per task: od builds the pipeline of od tools the task needs\n"
		       "(od-tag, od-encode, od-plucker | od-denoise | od-decode), and runs it or, with\n"
		       "--dry-run, prints it. Pictures come first among the operands (PNG or JPEG\n"
		       "names), then the prompt's words.\n",
	.footer = "Exit status: the first failing stage's (0 ok, 1 failure, 2 usage, 3 bad input,\n"
		  "4 model, 5 I/O, 6 no device). See od(1); od-tag --list-tags for the tags.\n",
};

int main(int argc, char **argv)
{
	const char *coreutils = getenv("OD_COREUTILS_OD");
	if (!coreutils || !*coreutils)
		coreutils = "/usr/bin/od";
	if (is_octal_dump(argc, argv) && access(coreutils, X_OK) == 0) {
		argv[0] = (char *)"od";
		execv(coreutils, argv);
	}
	od_tool_init(argc, argv, "od");
	ssize_t len = readlink("/proc/self/exe", self_dir, sizeof self_dir - 1);
	if (len > 0) {
		self_dir[len] = 0;
		char *slash = strrchr(self_dir, '/');
		if (slash)
			*slash = 0;
	} else {
		self_dir[0] = 0;
	}
	struct od_command cmds[N_TASKS + 1];
	for (int i = 0; i < N_TASKS; i++)
		cmds[i] = (struct od_command){ tasks[i].name, run_task, tasks[i].summary, tasks[i].synopsis };
	cmds[N_TASKS] = (struct od_command){ NULL, NULL, NULL, NULL };
	return od_run_command(argc, argv, cmds, &usage);
}
