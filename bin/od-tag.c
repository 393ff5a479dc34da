/* od-tag: prompts -> T5 text-embedding frames, prompt and negative (od-tag(1)). */
#include "od.h"
#include "text/prompt.h"
#include "model/t5.h"
#include "text/t5_tokenizer.h"
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PROMPT (256u << 10) /* bytes: far beyond 300 tokens, well inside a frame's metadata */
#define MAX_FILE ((size_t)1 << 30)

static const struct od_usage usage = {
	.synopsis = "od-tag [OPTIONS] [PROMPT...]\n"
		    "od-tag [OPTIONS] -f FILE          (one prompt per line; '-' = stdin)\n"
		    "od-tag --list-tags | --list-colors",
	.description =
		"Turn prompts into the text frames od-denoise reads: for each prompt, the T5\n"
		"encoder's output for the prompt (role condition) and for the negative prompt\n"
		"(role negative), each (300, d_model) with the attention mask as mask plane.\n"
		"The prompt gets its task tag: PROMPT is the caption, --task picks the tag\n"
		"(default text2image); a prompt that starts with [[tag]] is used as it is.\n",
	.footer = "Examples:\n"
		  "  od-tag 'a red cube on a table' | od-denoise | od-decode -o cube.png\n"
		  "  od-tag -t depth2image -N -f captions.txt > text.odf\n"
		  "  od-tag -t faceid -r 'a man with a beard' 'the man as an astronaut' \\\n"
		  "         --print-prompt\n"
		  "Exit status: 0 ok, 1 failure, 2 usage, 3 bad input, 4 model, 5 I/O, 6 no device.\n"
		  "See od-tag(1).\n",
};

enum out_mode { OUT_FRAMES, OUT_IDS, OUT_PIECES, OUT_PROMPT };

struct job {
	char *text;     /* the input: caption or whole prompt */
	int line;       /* line number in the file, 0 for arguments */
	long number;    /* the job's number in the batch (batch.h): its place in the input, from 0 */
	char *prompt;   /* what goes to T5 */
	const char *task;
	int32_t ids[OD_T5_MAX_LENGTH];
	uint8_t mask[OD_T5_MAX_LENGTH];
	int real;       /* positions with mask 1 */
	int cut;        /* tokens truncation dropped */
	struct od_t5_tokens tk;
};

struct opts {
	const char *file, *caption, *negative, *out, *item;
	const char *refs[8];
	int n_refs;
	struct od_region regions[64];
	int n_regions, region_kind; /* 1 mask, 2 box */
	int task, task_given, raw;
	enum od_dtype dtype;
	enum out_mode mode;
	struct od_common_opts common;
};

/* "'prompts.txt': line 3: " for a line of a file, "" for an argument: the
 * start of a message about one job. */
static const char *where(const struct opts *o, const struct job *j, char *buf, size_t size)
{
	if (j->line)
		snprintf(buf, size, "'%s': line %d: ", strcmp(o->file, "-") ? o->file : "<stdin>", j->line);
	else
		buf[0] = 0;
	return buf;
}

/* A problem with one job's text: a usage error for an argument, bad input
 * data (exit 3) for a line of a file. */
static noreturn void job_error(const struct opts *o, const struct job *j, const char *msg)
{
	char w[4200];
	if (j->line)
		od_die(OD_EFORMAT, "%s%s", where(o, j, w, sizeof w), msg);
	od_usage_error("%s", msg);
}

static void build_prompt(const struct opts *o, struct job *j)
{
	char tag[128], msg[512];
	int tl = od_prompt_leading_tag(j->text, tag, sizeof tag);
	int task = tl >= 0 ? od_task_find(tag) : -1;
	if (o->raw) {
		j->prompt = strdup(j->text);
		j->task = task >= 0 ? od_tasks[task].tag : "none";
	} else if (tl >= 0) {
		/* A prompt with its own tag is used as it is (numerics.md §6.2). */
		if (task >= 0 && o->task_given && task != o->task) {
			snprintf(msg, sizeof msg, "the prompt's tag [[%s]] contradicts --task %s", tag, od_tasks[o->task].tag);
			job_error(o, j, msg);
		}
		if (o->n_refs || o->n_regions || o->item) {
			snprintf(msg, sizeof msg, "a prompt that starts with [[%s]] is used as it is; --ref-caption, "
				 "--item, --region and --box only build prompts", tag);
			job_error(o, j, msg);
		}
		if (task < 0) {
			char w[4200];
			od_warn("%s[[%s]] is not a task tag (see od-tag --list-tags); the prompt is used as it is",
				where(o, j, w, sizeof w), tag);
		}
		j->prompt = strdup(j->text);
		j->task = task >= 0 ? od_tasks[task].tag : "none";
	} else {
		struct od_prompt_parts p = {
			.task = (enum od_task)o->task, .caption = j->text, .refs = o->refs, .n_refs = o->n_refs,
			.item = o->item, .regions = o->regions, .n_regions = o->n_regions,
		};
		if (od_prompt_build(&p, &j->prompt))
			job_error(o, j, od_errmsg());
		j->task = od_tasks[o->task].tag;
	}
	if (!j->prompt)
		od_die(OD_ENOMEM, "out of memory");
}

static void add_job(struct job **jobs, int *n, char *text, int line)
{
	struct job *nj = realloc(*jobs, (size_t)(*n + 1) * sizeof *nj);
	if (!nj)
		od_die(OD_ENOMEM, "out of memory");
	*jobs = nj;
	memset(&nj[*n], 0, sizeof nj[*n]);
	nj[*n].text = text;
	nj[*n].line = line;
	nj[*n].number = *n;
	(*n)++;
}

/* One job per line; a final line without '\n' counts, a '\r' before '\n' is
 * dropped (CRLF files). */
static void read_lines(const char *path, struct job **jobs, int *n)
{
	char *data;
	size_t len;
	int rc = od_read_file(path, MAX_FILE, &data, &len);
	if (rc)
		od_fail(rc);
	const char *label = strcmp(path, "-") ? path : "<stdin>";
	int line = 0;
	for (size_t i = 0; i < len;) {
		char *nl = memchr(data + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - data) : len, l = e - i;
		line++;
		if (l && data[i + l - 1] == '\r')
			l--;
		if (memchr(data + i, 0, l))
			od_die(OD_EFORMAT, "'%s': line %d: contains a NUL byte", label, line);
		if (l > MAX_PROMPT)
			od_die(OD_EFORMAT, "'%s': line %d: longer than %u bytes", label, line, MAX_PROMPT);
		char *t = strndup(data + i, l);
		if (!t)
			od_die(OD_ENOMEM, "out of memory");
		add_job(jobs, n, t, line);
		i = e + 1;
	}
	free(data);
}

/* Text output (--ids, --pieces, --print-prompt): a growing buffer. */
struct text {
	char *p;
	size_t n, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->n + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->n + n + 1)
			cap *= 2;
		char *p = realloc(t->p, cap);
		if (!p)
			od_die(OD_ENOMEM, "out of memory");
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->n, s, n);
	t->n += n;
}

static void text_str(struct text *t, const char *s) { text_add(t, s, strlen(s)); }

static void free_jobs(struct job *jobs, int n)
{
	for (int i = 0; i < n; i++) {
		free(jobs[i].text);
		free(jobs[i].prompt);
		od_t5_tokens_free(&jobs[i].tk);
	}
	free(jobs);
}

/* Write a text output (--ids, --pieces, --print-prompt) and free it. */
static void write_text(const char *path, struct text *t)
{
	struct od_out out;
	int rc;
	if ((rc = od_out_open(&out, path)) || (rc = od_out_write(&out, t->p ? t->p : "", t->n)) ||
	    (rc = od_out_commit(&out))) {
		od_out_abort(&out);
		od_fail(rc);
	}
	free(t->p);
}

/* Cut s to at most max bytes on a character boundary, marking the cut. */
static void shorten(char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	strcpy(s + max, "...");
}

static void tokenize_job(const struct od_t5_tokenizer *tok, const struct opts *o, struct job *j, const char *what)
{
	int rc = od_t5_tokenize(tok, j->prompt, strlen(j->prompt), &j->tk);
	if (rc)
		od_fail(rc);
	j->real = od_t5_row(tok, &j->tk, OD_T5_MAX_LENGTH, j->ids, j->mask, &j->cut);
	if (j->cut > 0) {
		/* The warning says what was cut (the tool's job, not the library's). */
		char *dropped = od_t5_tokens_join(&j->tk, j->tk.n - j->cut, j->tk.n);
		char w[4200];
		if (!dropped)
			od_die(OD_ENOMEM, "out of memory");
		shorten(dropped, 160);
		od_warn("%s%s has %d tokens with </s>; cut to %d, dropping the last %d: \"%s\"",
			where(o, j, w, sizeof w),
			what ? what : "the prompt", j->tk.n + 1, OD_T5_MAX_LENGTH, j->cut, dropped);
		free(dropped);
	}
}


static void list_tags(void)
{
	printf("%-19s %-28s %-32s %s\n", "TAG", "TASK", "FRAMES (frame 0 first)", "DENOISE MASKS");
	for (int i = 0; i < OD_TASK_COUNT; i++)
		printf("%-19s %-28s %-32s %s\n", od_tasks[i].tag, od_tasks[i].what, od_tasks[i].layout, od_tasks[i].masks);
}

static void list_colors(void)
{
	for (int i = 0; i < OD_N_COLORS; i++)
		printf("%s %s\n", od_colors[i].hex, od_colors[i].name);
}

/* job: the prompt's number in this batch, from 0: od-denoise seeds each job
 * from it (job.h), so that it does not change when the batch is split. A
 * prompt line also records its line and its identity (batch.h), which
 * od-denoise copies onto what it generates (%{id} in od-decode's names). */
static int make_frame(struct od_frame *f, enum od_role role, const struct opts *o, int D, const float *data,
		      const struct job *j, int negative, long job, const struct job *line)
{
	int64_t shape[2] = { OD_T5_MAX_LENGTH, D };
	int rc = od_frame_init(f, OD_KIND_TEXT, role, o->dtype, 2, shape, 0);
	if (!rc)
		rc = od_frame_from_f32(f, data);
	if (!rc)
		rc = od_frame_set_mask(f, j->mask);
	if (!rc)
		rc = od_frame_set(f, "task", j->task);
	if (!rc)
		rc = od_frame_set(f, "prompt", j->prompt);
	if (!rc)
		rc = od_frame_setf(f, "tokens", "%d", j->real);
	if (!rc && j->cut > 0)
		rc = od_frame_setf(f, "truncated", "%d", j->cut);
	if (!rc && negative)
		rc = od_frame_set(f, "negative", "1");
	if (!rc)
		rc = od_frame_setf(f, "job", "%ld", job);
	if (!rc && line->line > 0) {
		char id[64];
		od_prompt_id(line->line, line->text, id, sizeof id);
		if (!(rc = od_frame_setf(f, "line", "%d", line->line)))
			rc = od_frame_set(f, "id", id);
	}
	return rc;
}

static int task_cb(const struct od_option *opt, const char *arg)
{
	struct opts *o = opt->value;
	if ((o->task = od_task_find(arg)) < 0)
		return od_error(OD_EINVAL, "--task: '%s' is not a task tag (od-tag --list-tags)", arg);
	o->task_given = 1;
	return OD_OK;
}

/* --region and --box: a region of semanticmap2image or boundingbox2image. */
static int region_cb(const struct od_option *opt, const char *arg)
{
	struct opts *o = opt->value;
	const int kind = !strcmp(opt->long_name, "region") ? 1 : 2;
	const char *name = kind == 1 ? "--region" : "--box";
	if (o->region_kind && o->region_kind != kind)
		return od_error(OD_EINVAL, "--region and --box do not mix (semanticmap2image or boundingbox2image)");
	o->region_kind = kind;
	if (o->n_regions == (int)(sizeof o->regions / sizeof *o->regions))
		return od_error(OD_EINVAL, "%s: at most %d", name, (int)(sizeof o->regions / sizeof *o->regions));
	struct od_region *r = &o->regions[o->n_regions++];
	if (od_region_parse(arg, r))
		return od_error_prefix(OD_EINVAL, "%s", name);
	if (r->name_differs)
		od_warn("%s: '%s' is called %s in the colour list, not %s", name, r->hex, od_colors[r->color].name,
			r->name);
	return OD_OK;
}

static int list_tags_cb(const struct od_option *opt, const char *arg)
{
	list_tags();
	exit(0);
}

static int list_colors_cb(const struct od_option *opt, const char *arg)
{
	list_colors();
	exit(0);
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-tag");
	struct opts o = { .out = "-", .dtype = OD_F32, .mode = OUT_FRAMES, .task = OD_TASK_TEXT2IMAGE };
	int std_negative = 0, ids = 0, pieces = 0, print_prompt = 0;
	struct od_shard shard = { 0, 1 };
	const struct od_option opts[] = {
		OD_OPT_CALLBACK('t', "task", &o, "TASK",
				"the task: text2image (default), depth2image, canny2image, hed2img, pose2image, "
				"semanticmap2image, boundingbox2image, image_inpainting, image_editing, deblurring, "
				"faceid, subject_driven, multiview", task_cb),
		OD_OPT_STRING(0, "caption", &o.caption, "TEXT",
			      "the caption (instead of PROMPT words); for faceid and subject_driven the target's "
			      "caption ([[img0]])"),
		OD_OPT_LIST('r', "ref-caption", o.refs, &o.n_refs, 8, "TEXT",
			    "a reference image's caption, [[img1]], [[img2]], ... (repeat; faceid: 1 to 3, "
			    "subject_driven: 1, the subject image)"),
		OD_OPT_STRING('i', "item", &o.item, "NAME", "subject_driven: the subject, as in <item: NAME>"),
		OD_OPT_CALLBACK(0, "region", &o, "COLOUR:OBJECT",
				"semanticmap2image: a region <#RRGGBB name mask: OBJECT> (repeat); COLOUR is #RRGGBB, "
				"#RRGGBB=NAME or a name (--list-colors)", region_cb),
		OD_OPT_CALLBACK(0, "box", &o, "COLOUR:OBJECT",
				"boundingbox2image: a box <#RRGGBB name boundingbox: OBJECT> (repeat)", region_cb),
		OD_OPT_BOOL(0, "raw", &o.raw, "give the text to T5 exactly as it is (no tag added)"),
		OD_OPT_STRING('f', "file", &o.file, "FILE", "read prompts from FILE, one per line ('-': stdin)"),
		OD_OPT_STRING(0, "negative", &o.negative, "TEXT", "the negative prompt (default: \"\", as upstream)"),
		OD_OPT_BOOL('N', "standard-negative", &std_negative,
			    "upstream's standard NEGATIVE_PROMPT as the negative prompt"),
		OD_OPT_STRING('o', "output", &o.out, "FILE", "write to FILE instead of stdout"),
		OD_OPT_CALLBACK(0, "shard", &shard, "I/N",
				"only the prompts whose number J (from 0, in input order) has J mod N = I, keeping J",
				od_opt_shard_cb),
		OD_OPT_CALLBACK(0, "dtype", &o.dtype, "T", "frame data type: f32 (default), f16 or bf16", od_opt_dtype_cb),
		OD_OPT_BOOL(0, "ids", &ids, "print each prompt's token ids instead of frames"),
		OD_OPT_BOOL(0, "pieces", &pieces, "print each prompt's tokens instead of frames"),
		OD_OPT_BOOL(0, "print-prompt", &print_prompt, "print each prompt as it goes to T5 instead of frames"),
		OD_OPT_CALLBACK(0, "list-tags", NULL, NULL, "the task tags with their frame layouts", list_tags_cb),
		OD_OPT_CALLBACK(0, "list-colors", NULL, NULL, "the region colours OneDiffusion knows", list_colors_cb),
		OD_OPT_COMMON(&o.common),
		OD_OPT_END(),
	};
	const int first = od_parse_options(argc, argv, opts, &usage);
	if (ids + pieces + print_prompt > 1)
		od_usage_error("give only one of --ids, --pieces and --print-prompt");
	o.mode = ids ? OUT_IDS : pieces ? OUT_PIECES : print_prompt ? OUT_PROMPT : OUT_FRAMES;
	if (o.mode == OUT_FRAMES)
		od_refuse_terminal_output(o.out, "frames");
	if (std_negative && o.negative)
		od_usage_error("give --negative or --standard-negative, not both");
	const char *negative = std_negative ? od_standard_negative : o.negative ? o.negative : "";
	if (o.raw && (o.task_given || o.n_refs || o.n_regions || o.item))
		od_usage_error("--raw uses the text as it is: no --task, --ref-caption, --item, --region or --box");
	if (o.region_kind && !o.task_given)
		o.task = o.region_kind == 1 ? OD_TASK_SEMANTICMAP : OD_TASK_BOUNDINGBOX;
	if (!o.raw) {
		/* Check the task's parts once, before any prompt: a usage error. */
		struct od_prompt_parts p = { .task = (enum od_task)o.task, .caption = "", .refs = o.refs,
					     .n_refs = o.n_refs, .item = o.item, .regions = o.regions,
					     .n_regions = o.n_regions };
		char *tmp;
		if (od_prompt_build(&p, &tmp))
			od_usage_error("%s", od_errmsg());
		free(tmp);
		if (o.region_kind && o.region_kind != od_tasks[o.task].regions)
			od_usage_error("%s is for --task %s", o.region_kind == 1 ? "--region" : "--box",
				       o.region_kind == 1 ? "semanticmap2image" : "boundingbox2image");
	}

	/* The jobs: PROMPT words (one job), --caption, or the lines of --file / stdin. */
	struct job *jobs = NULL;
	int n_jobs = 0, given = (first < argc) + (o.caption != NULL) + (o.file != NULL);
	if (given > 1)
		od_usage_error("give the prompt as PROMPT words, --caption or --file, not several");
	if (first < argc) {
		size_t len = 0;
		for (int i = first; i < argc; i++)
			len += strlen(argv[i]) + 1;
		char *t = malloc(len + 1);
		if (!t)
			od_die(OD_ENOMEM, "out of memory");
		t[0] = 0;
		for (int i = first; i < argc; i++) {
			if (i > first)
				strcat(t, " ");
			strcat(t, argv[i]);
		}
		add_job(&jobs, &n_jobs, t, 0);
	} else if (o.caption) {
		add_job(&jobs, &n_jobs, strdup(o.caption), 0);
	} else {
		if (!o.file) {
			if (isatty(STDIN_FILENO))
				od_usage_error("give a prompt: PROMPT words, --caption TEXT, --file FILE or lines on stdin");
			o.file = "-";
		}
		read_lines(o.file, &jobs, &n_jobs);
		if (!n_jobs)
			od_fail(od_empty_input("prompts"));
	}
	/* a shard keeps its jobs, with their numbers in the whole batch */
	int kept = 0;
	for (int i = 0; i < n_jobs; i++) {
		if (od_shard_has(&shard, jobs[i].number))
			jobs[kept++] = jobs[i];
		else
			free(jobs[i].text);
	}
	if (!kept)
		od_die(OD_EFORMAT, "no prompts in shard %ld/%ld: the input has %d, fewer than the %ld shards", shard.i,
		       shard.n, n_jobs, shard.n);
	n_jobs = kept;
	for (int i = 0; i < n_jobs; i++) {
		if (!jobs[i].text)
			od_die(OD_ENOMEM, "out of memory");
		if (strlen(jobs[i].text) > MAX_PROMPT)
			od_usage_error("the prompt is longer than %u bytes", MAX_PROMPT);
		build_prompt(&o, &jobs[i]);
	}

	struct od_out out;
	int rc;
	if (o.mode == OUT_PROMPT) {
		struct text t = { 0 };
		for (int i = 0; i < n_jobs; i++) {
			text_str(&t, jobs[i].prompt);
			text_str(&t, "\n");
		}
		write_text(o.out, &t);
		free_jobs(jobs, n_jobs);
		return 0;
	}

	const char *model = od_common_model(&o.common);
	if (!od_is_dir(model))
		od_die(OD_EMODEL, "'%s': no such model folder", model);
	char *tokdir = od_path_join(model, "tokenizer");
	struct od_t5_tokenizer tok;
	if (!tokdir)
		od_die(OD_ENOMEM, "out of memory");
	if ((rc = od_t5_tokenizer_load(&tok, tokdir)))
		od_fail(rc);
	free(tokdir);
	/* Tokenize everything first: bad input stops the run before any output. */
	for (int i = 0; i < n_jobs; i++)
		tokenize_job(&tok, &o, &jobs[i], NULL);

	if (o.mode == OUT_IDS || o.mode == OUT_PIECES) {
		struct text t = { 0 };
		for (int i = 0; i < n_jobs; i++) {
			for (int k = 0; k < jobs[i].real; k++) {
				char buf[64];
				if (k)
					text_str(&t, " ");
				if (o.mode == OUT_IDS) {
					snprintf(buf, sizeof buf, "%d", jobs[i].ids[k]);
					text_str(&t, buf);
				} else {
					size_t l;
					const char *s = od_t5_token_text(&tok, jobs[i].ids[k], buf, sizeof buf, &l);
					/* The tokens' own text (a merged unknown piece has no id of
					 * its own); the </s> appended after them by its name. */
					if (k < jobs[i].tk.n && k < OD_T5_MAX_LENGTH - 1)
						s = jobs[i].tk.text + jobs[i].tk.off[k], l = jobs[i].tk.len[k];
					text_add(&t, s, l);
				}
			}
			text_str(&t, "\n");
		}
		write_text(o.out, &t);
		free_jobs(jobs, n_jobs);
		od_t5_tokenizer_free(&tok);
		return 0;
	}

	/* The negative prompt: tokenized and encoded once, reused by every job. */
	struct job neg = { .text = (char *)negative, .prompt = (char *)negative };
	tokenize_job(&tok, &o, &neg, "the negative prompt");

	struct od_ctx *ctx;
	if ((rc = od_common_ctx_create(&o.common, &ctx)))
		od_fail(rc);
	struct od_t5 *t5;
	if ((rc = od_t5_open(&t5, ctx, model)))
		od_fail(rc);
	const int D = t5->cfg.d_model;
	float *emb = malloc((size_t)OD_T5_MAX_LENGTH * D * sizeof *emb);
	float *neg_emb = malloc((size_t)OD_T5_MAX_LENGTH * D * sizeof *neg_emb);
	if (!emb || !neg_emb)
		od_die(OD_ENOMEM, "out of memory");
	if ((rc = od_out_open(&out, o.out)))
		od_fail(rc);
	struct od_progress prog;
	od_progress_begin(&prog, o.common.progress, "tag");
	if (n_jobs)
		rc = od_t5_encode(t5, 1, OD_T5_MAX_LENGTH, neg.ids, neg.mask, neg_emb, NULL);
	for (int i = 0; !rc && i < n_jobs; i++) {
		struct job *j = &jobs[i];
		struct od_frame f, nf;
		rc = od_t5_encode(t5, 1, OD_T5_MAX_LENGTH, j->ids, j->mask, emb, NULL);
		if (rc)
			break;
		neg.task = j->task;
		memset(&f, 0, sizeof f);
		memset(&nf, 0, sizeof nf);
		rc = make_frame(&f, OD_ROLE_CONDITION, &o, D, emb, j, 0, j->number, j);
		if (!rc)
			rc = make_frame(&nf, OD_ROLE_NEGATIVE, &o, D, neg_emb, &neg, 1, j->number, j);
		if (!rc)
			rc = od_frame_write(&out, &f);
		if (!rc)
			rc = od_frame_write(&out, &nf);
		od_frame_free(&f);
		od_frame_free(&nf);
		if (!rc)
			od_progress_step(&prog, i, 1, 1); /* like every tool: a line per job done, jobs from 0 */
	}
	if (!rc)
		rc = od_out_commit(&out);
	od_progress_end(&prog);
	if (rc) {
		od_out_abort(&out);
		od_fail(rc);
	}
	free_jobs(jobs, n_jobs);
	od_t5_tokens_free(&neg.tk);
	free(emb);
	free(neg_emb);
	od_t5_close(t5);
	od_ctx_destroy(ctx);
	od_t5_tokenizer_free(&tok);
	return 0;
}
