/* od-model: describe, check and synthesise OneDiffusion checkpoints (od-model(1)). */
#include "od.h"
#include "model/components.h"
#include "tool.h"

#include "formats/hub.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct od_usage usage = {
	.description =
		"Describe a checkpoint in the Hugging Face layout (transformer/, vae/,\n"
		"text_encoder/, tokenizer/, scheduler/): each component's configuration and\n"
		"parameter count, counted from config.json alone; --check also maps the weights\n"
		"and validates every tensor's name, dtype and shape against the config.\n"
		"--params prints only 'COMPONENT PARAMETERS' lines.\n"
		"'random' writes OUT with random weights for every component of CONFIGS that has\n"
		"a config.json (for benchmarks), copying the other files.\n",
	.footer = "See od-model(1).\n",
};

static void describe(int k, const union od_any_config *c)
{
	switch (k) {
	case 0:
		printf("NextDiT hidden %d, depth %d, heads %d (kv %d), head dim %d, ffn %d, adaLN %d, caption %d",
		       c->nextdit.hidden, c->nextdit.depth, c->nextdit.heads, c->nextdit.kv_heads, c->nextdit.head_dim,
		       c->nextdit.ffn_hidden, c->nextdit.adaln, c->nextdit.caption_channels);
		break;
	case 1:
		printf("AutoencoderKL %d blocks (", c->vae.n_blocks);
		for (int i = 0; i < c->vae.n_blocks; i++)
			printf("%s%d", i ? "," : "", c->vae.block_out[i]);
		printf("), %d latent channels, scaling_factor %g", c->vae.latent_channels, c->vae.scaling_factor);
		break;
	default:
		printf("T5 encoder d_model %d, %d layers, %d heads x %d, d_ff %d, %s%s", c->t5.d_model, c->t5.layers,
		       c->t5.heads, c->t5.d_kv, c->t5.d_ff, c->t5.gated ? "gated-" : "",
		       c->t5.act == OD_T5_GELU_NEW ? "gelu_new" : c->t5.act == OD_T5_RELU ? "relu" : "gelu");
		break;
	}
}

static int cmd_info(int argc, char **argv, const struct od_command *cmd)
{
	int check = 0, params_only = 0;
	const struct od_option opts[] = {
		OD_OPT_BOOL(0, "check", &check,
			    "also map the weights and validate every tensor's name, dtype and shape against the config"),
		OD_OPT_BOOL(0, "params", &params_only, "print only 'COMPONENT PARAMETERS' lines"),
		OD_OPT_END(),
	};
	const int operand = od_parse_command(argc, argv, opts, cmd);
	if (operand != argc - 1)
		od_usage_error("give one MODEL folder");
	const char *model = argv[operand];
	if (!od_is_dir(model))
		od_die(OD_EMODEL, "'%s': no such model folder", model);
	int found = 0, status = 0;
	for (int k = 0; k < 3; k++) {
		const struct od_component_kind *kind = &od_component_kinds[k];
		char *dir = od_path_join(model, kind->name);
		int present = dir && od_is_dir(dir);
		free(dir);
		if (!present)
			continue;
		found++;
		union od_any_config cfg;
		int rc = od_component_config(kind, model, &cfg);
		if (rc)
			od_fail(rc);
		int64_t params;
		int tensors;
		od_spec_count(kind->spec, &cfg, &params, &tensors);
		if (params_only) {
			printf("%s %" PRId64 "\n", kind->name, params);
		} else {
			printf("%s: ", kind->name);
			describe(k, &cfg);
			printf("\n  %" PRId64 " parameters in %d tensors\n", params, tensors);
		}
		if (check) {
			struct od_component comp;
			const struct od_tensor **list;
			int n;
			rc = od_component_open(&comp, model, kind->name, "config.json", 1, NULL);
			if (!rc && (rc = od_component_resolve(&comp, kind->spec, &cfg, &list, &n)))
				od_component_close(&comp);
			if (rc) {
				od_report(rc);
				status = status ? status : od_exit_status(rc);
			} else {
				int counts[OD_DTYPE_COUNT] = { 0 };
				for (int i = 0; i < n; i++)
					counts[list[i]->dtype]++;
				if (!params_only) {
					printf("  weights: %d file%s; all %d tensors match the config (", comp.n_files,
					       comp.n_files == 1 ? "" : "s", n);
					for (int d = 0, first = 1; d < OD_DTYPE_COUNT; d++)
						if (counts[d])
							printf("%s%d %s", first ? "" : ", ", counts[d], od_dtype_name(d)), first = 0;
					printf(")\n");
				}
				free(list);
				od_component_close(&comp);
			}
		}
	}
	if (!params_only) {
		char *tok = od_path_join(model, "tokenizer/spiece.model");
		if (tok && od_is_file(tok))
			printf("tokenizer: SentencePiece model tokenizer/spiece.model\n");
		free(tok);
		char *sch = od_path_join(model, "scheduler/scheduler_config.json");
		json_t *j = NULL;
		if (sch && od_is_file(sch) && !od_json_load(sch, &j)) {
			json_t *dyn = json_object_get(j, "use_dynamic_shifting");
			printf("scheduler: %s, %s\n", od_cfg_str(j, "_class_name", "?"),
			       json_is_true(dyn) ? "dynamic shift" : "static shift");
			json_decref(j);
		}
		free(sch);
	}
	if (!found)
		od_die(OD_EMODEL, "'%s': no transformer/, vae/ or text_encoder/ folder", model);
	if (fflush(stdout) != 0)
		od_die(OD_EIO, "<stdout>: write failed");
	return status;
}

static int cmd_random(int argc, char **argv, const struct od_command *cmd)
{
	enum od_dtype dtype = OD_BF16;
	int64_t seed = 0;
	const struct od_option opts[] = {
		OD_OPT_CALLBACK(0, "dtype", &dtype, "T", "weight type: f32, f16 or bf16 (default)", od_opt_dtype_cb),
		OD_OPT_INT64('s', "seed", &seed, "N", "the weights' seed (default 0)", 0, INT64_MAX),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	if (first != argc - 2)
		od_usage_error("give CONFIGS and OUT folders");
	int rc = od_model_write_random(argv[first], argv[first + 1], dtype, (uint64_t)seed);
	if (rc)
		od_fail(rc);
	return 0;
}

/* ---------------------------------------------------------------- pull */

/* The files od reads of a checkpoint: what pull fetches without --all or
 * --include (fnmatch: '*' crosses folders). */
static const char *const od_files[] = { "model_index.json", "transformer/*", "vae/*", "text_encoder/*",
					"tokenizer/*", "scheduler/*" };

static void human(uint64_t n, char *buf, size_t size)
{
	if (n >= (uint64_t)1 << 30)
		snprintf(buf, size, "%.2f GB", n / 1e9);
	else if (n >= (uint64_t)1 << 20)
		snprintf(buf, size, "%.1f MB", n / 1e6);
	else
		snprintf(buf, size, "%.1f kB", n / 1e3);
}

struct pull_display {
	int tty;
	double start, last;
};

static void pull_progress(void *user, const struct od_hub_status *st)
{
	struct pull_display *d = user;
	double now = od_now();
	if (!d->tty || od_verbosity < 0 || (now - d->last < 0.1 && st->done < st->size))
		return;
	d->last = now;
	char done[32], all[32];
	human(st->done_all, done, sizeof done);
	human(st->size_all, all, sizeof all);
	double rate = st->done_all / (now - d->start + 1e-9);
	od_status_line("%s: pull %d/%d %s%s: %s of %s, %.1f MB/s", od_prog, st->index + 1, st->n_files, st->path,
		       st->resumed ? " (resumed)" : "", done, all, rate / 1e6);
}

static int cmd_pull(int argc, char **argv, const struct od_command *cmd)
{
	const char *endpoint = getenv("HF_ENDPOINT"), *revision = "main", *include[64];
	int n_include = 0, all = 0;
	const struct od_option opts[] = {
		OD_OPT_STRING(0, "endpoint", &endpoint, "URL",
			      "the hub (default: $HF_ENDPOINT, else " OD_HUB_ENDPOINT ")"),
		OD_OPT_STRING(0, "revision", &revision, "REV", "a branch, tag or commit (default main)"),
		OD_OPT_LIST(0, "include", include, &n_include, 64, "GLOB",
			    "fetch the files that match (repeat; default: the folders od reads)"),
		OD_OPT_BOOL(0, "all", &all, "fetch every file of the repository"),
		OD_OPT_END(),
	};
	const int first = od_parse_command(argc, argv, opts, cmd);
	if (first != argc - 1 && first != argc - 2)
		od_usage_error("give a repository (owner/name) and, optionally, a folder");
	const char *repo = argv[first];
	if (!strchr(repo, '/') || repo[0] == '/' || strstr(repo, "..") || strchr(repo, '?') || strchr(repo, '#') ||
	    strchr(strchr(repo, '/') + 1, '/'))
		od_usage_error("'%s' is not a repository name like lehduong/OneDiffusion", repo);
	if (all && n_include)
		od_usage_error("give --all or --include, not both");
	const char *dir = first == argc - 2 ? argv[first + 1] : od_default_pull_dir(repo);
	if (!dir)
		od_usage_error("no folder given and no $HOME to put one in");
	struct pull_display d = { .tty = isatty(STDERR_FILENO), .start = od_now() };
	const struct od_hub_opts o = {
		.endpoint = endpoint && *endpoint ? endpoint : NULL, .repo = repo, .revision = revision,
		.token = getenv("HF_TOKEN"), .include = all ? NULL : n_include ? include : od_files,
		.n_include = all ? 0 : n_include ? n_include : (int)(sizeof od_files / sizeof *od_files),
		.progress = pull_progress, .user = &d,
	};
	od_info("pulling %s (%s) from %s into '%s'", repo, revision, o.endpoint ? o.endpoint : OD_HUB_ENDPOINT, dir);
	struct od_hub_result r;
	int rc = od_hub_pull(&o, dir, &r);
	od_status_clear();
	if (rc)
		od_fail(rc);
	char size[32];
	human(r.bytes, size, sizeof size);
	if (od_verbosity >= 0) {
		if (r.up_to_date)
			fprintf(stderr, "%s: '%s' is up to date: %d files, %s\n", od_prog, dir, r.n_files, size);
		else
			fprintf(stderr, "%s: pulled %s into '%s': %d files, %s, each checked against the hub's size and "
					"hash%s\n", od_prog, repo, dir, r.n_files, size, r.n_resumed ? " (resumed)" : "");
	}
	return 0;
}

static const struct od_command commands[] = {
	{ "info", cmd_info, "each component's configuration and parameter count",
	  "od-model info [--check] [--params] MODEL" },
	{ "random", cmd_random, "write a checkpoint with random weights for the configs of CONFIGS",
	  "od-model random [--dtype f32|f16|bf16] [-s N] CONFIGS OUT" },
	{ "pull", cmd_pull, "download a model from the Hugging Face hub, checked and resumable",
	  "od-model pull [--endpoint URL] [--revision REV] [--include GLOB]...\n"
	  "         [--all] OWNER/NAME [DIR]" },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-model");
	return od_run_command(argc, argv, commands, &usage);
}
