/*
 * test_configs: the config readers (NextDiT, T5, VAE, scheduler) on hostile
 * values. A config is outside input: every field is bounded before anything
 * is computed from it, sizes are computed without overflow, and a value out of
 * range is OD_EMODEL with a message naming the file and the key, never a
 * wrapped size or an undefined float -> int conversion (which UBSan would
 * report under `make check-sanitize`). The real OneDiffusion configs
 * (tests/golden/onediffusion-full-configs) and the shipped ones parse.
 */
#include "formats/config.h"
#include "model/nextdit_config.h"
#include "model/t5_config.h"
#include "model/vae_config.h"
#include "pipeline/schedule.h"
#include "base/error.h"
#include "base/io.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

/* Parse json (a config with one field changed) with the reader of kind; 1 when
 * it is refused as a model error whose message names the file and want. */
static int refused(int kind, const char *json, const char *want)
{
	json_error_t e;
	json_t *j = json_loads(json, 0, &e);
	if (!j) {
		printf("# bad test JSON: %s\n", e.text);
		return 0;
	}
	int rc;
	union {
		struct od_nextdit_config n;
		struct od_t5_config t;
		struct od_vae_config v;
		struct od_schedule_config s;
	} c;
	od_error_clear();
	switch (kind) {
	case 0: rc = od_nextdit_config_parse(j, &c.n, "x/config.json"); break;
	case 1: rc = od_t5_config_parse(j, &c.t, "x/config.json"); break;
	case 2: rc = od_vae_config_parse(j, &c.v, "x/config.json"); break;
	default: rc = od_schedule_config_parse(j, &c.s, "x/config.json"); break;
	}
	json_decref(j);
	const char *m = od_errmsg();
	int good = rc == OD_EMODEL && strstr(m, "'x/config.json'") && strstr(m, want);
	if (!good)
		printf("# status %d, message: %s\n", rc, m);
	return good;
}

/* Small valid configs; a field given in extra (", \"key\": value") comes last
 * and wins (jansson keeps the last of duplicate keys). */
#define DIT(extra) "{\"hidden_size\": 96, \"num_heads\": 4, \"num_kv_heads\": 2, \"depth\": 2" extra "}"
#define T5(extra) "{\"d_model\": 64, \"d_kv\": 16, \"num_heads\": 4, \"d_ff\": 128, \"num_layers\": 2, " \
		  "\"vocab_size\": 32128" extra "}"
#define VAE(extra) "{\"block_out_channels\": [32, 64]" extra "}"

static void accepted(int kind, const char *json, const char *what)
{
	json_t *j = json_loads(json, 0, NULL);
	struct od_nextdit_config n;
	struct od_t5_config t;
	struct od_vae_config v;
	int rc = !j ? -1 : kind == 0 ? od_nextdit_config_parse(j, &n, "x") : kind == 1 ? od_t5_config_parse(j, &t, "x")
										   : od_vae_config_parse(j, &v, "x");
	json_decref(j);
	ok(rc == OD_OK, "%s parses", what);
	if (rc)
		printf("# %s\n", od_errmsg());
}

static void real_configs(const char *golden)
{
	static const char *const sub[] = { "transformer/config.json", "text_encoder/config.json", "vae/config.json",
					   "scheduler/scheduler_config.json" };
	const char *dirs[2] = { getenv("OD_MODEL"), NULL };
	char full[4096];
	if (golden) {
		snprintf(full, sizeof full, "%s/onediffusion-full-configs", golden);
		dirs[1] = full;
	}
	for (int d = 0; d < 2; d++) {
		if (!dirs[d])
			continue;
		for (int k = 0; k < 4; k++) {
			char path[4200];
			snprintf(path, sizeof path, "%s/%s", dirs[d], sub[k]);
			json_t *j;
			int rc = od_json_load(path, &j);
			union {
				struct od_nextdit_config n;
				struct od_t5_config t;
				struct od_vae_config v;
				struct od_schedule_config s;
			} c;
			if (!rc) {
				rc = k == 0 ? od_nextdit_config_parse(j, &c.n, path)
				   : k == 1 ? od_t5_config_parse(j, &c.t, path)
				   : k == 2 ? od_vae_config_parse(j, &c.v, path)
					    : od_schedule_config_parse(j, &c.s, path);
				json_decref(j);
			}
			ok(rc == OD_OK, "%s parses", path);
			if (rc)
				printf("# %s\n", od_errmsg());
		}
	}
}

int main(void)
{
	/* NextDiT */
	accepted(0, DIT(""), "a small NextDiT config");
	ok(refused(0, DIT(", \"multiple_of\": 9223372036854775807"), "\"multiple_of\""),
	   "multiple_of 2^63-1 (the FFN width would overflow)");
	ok(refused(0, DIT(", \"multiple_of\": 0"), "\"multiple_of\""), "multiple_of 0");
	ok(refused(0, DIT(", \"ffn_dim_multiplier\": 1e300"), "\"ffn_dim_multiplier\""),
	   "ffn_dim_multiplier 1e300 (an undefined float -> int conversion)");
	ok(refused(0, DIT(", \"ffn_dim_multiplier\": -2"), "\"ffn_dim_multiplier\""), "a negative ffn_dim_multiplier");
	ok(refused(0, DIT(", \"norm_eps\": -1"), "\"norm_eps\""), "a negative norm_eps");
	ok(refused(0, DIT(", \"norm_eps\": 0"), "\"norm_eps\""), "norm_eps 0");
	ok(refused(0, "{\"hidden_size\": 1e300, \"num_heads\": 4}", "\"hidden_size\""),
	   "hidden_size 1e300 (a real that no integer holds)");
	ok(refused(0, "{\"hidden_size\": 2147483648, \"num_heads\": 4}", "\"hidden_size\""), "hidden_size 2^31");
	ok(refused(0, DIT(", \"depth\": 16777216"), "\"depth\""), "depth 2^24");
	ok(refused(0, DIT(", \"in_channels\": 16777216"), "\"in_channels\""), "in_channels 2^24");
	ok(refused(0, DIT(", \"rotary_max_length_t\": 16777216"), "\"rotary_max_length_t\""), "rotary_max_length_t 2^24");
	ok(refused(0, DIT(", \"input_size\": [1, 1, 9223372036854775807]"), "input_size"), "input_size of 2^63-1");
	ok(refused(0, "{\"hidden_size\": 96, \"num_heads\": 4, \"num_kv_heads\": 8}", "num_kv_heads"),
	   "more kv heads than heads");

	/* T5 */
	accepted(1, T5(""), "a small T5 config");
	ok(refused(1, T5(", \"num_heads\": 16777216, \"d_kv\": 16777216"), "is outside"),
	   "num_heads and d_kv 2^24 each (their product overflows an int)");
	ok(refused(1, T5(", \"num_heads\": 1024, \"d_kv\": 4096"), "num_heads × d_kv"),
	   "num_heads × d_kv over 2^20, each within its own bound");
	ok(refused(1, T5(", \"d_model\": 1e300"), "\"d_model\""), "d_model 1e300");
	ok(refused(1, T5(", \"vocab_size\": 9223372036854775807"), "\"vocab_size\""), "vocab_size 2^63-1");
	ok(refused(1, T5(", \"layer_norm_epsilon\": -1e-6"), "\"layer_norm_epsilon\""), "a negative layer_norm_epsilon");
	ok(refused(1, T5(", \"relative_attention_num_buckets\": 0"), "\"relative_attention_num_buckets\""),
	   "no position buckets");

	/* VAE */
	accepted(2, VAE(""), "a small VAE config");
	ok(refused(2, VAE(", \"scaling_factor\": 1e300"), "\"scaling_factor\""),
	   "scaling_factor 1e300 (infinite in float32)");
	ok(refused(2, VAE(", \"scaling_factor\": 1e-300"), "\"scaling_factor\""), "scaling_factor 1e-300 (zero in float32)");
	ok(refused(2, VAE(", \"shift_factor\": 1e300"), "\"shift_factor\""), "shift_factor 1e300");
	ok(refused(2, VAE(", \"layers_per_block\": 65536"), "\"layers_per_block\""), "layers_per_block 65536");
	ok(refused(2, VAE(", \"latent_channels\": 9223372036854775807"), "\"latent_channels\""), "latent_channels 2^63-1");
	ok(refused(2, "{\"block_out_channels\": [32, 9223372036854775807]}", "block_out_channels"),
	   "a block of 2^63-1 channels");

	/* scheduler */
	ok(refused(3, "{\"shift\": -1}", "\"shift\""), "a negative shift");
	ok(refused(3, "{\"num_train_timesteps\": 1e300}", "\"num_train_timesteps\""), "num_train_timesteps 1e300");
	ok(refused(3, "{\"use_dynamic_shifting\": true, \"base_image_seq_len\": 256, \"max_image_seq_len\": 256.5}",
		   "at least 1 apart"),
	   "dynamic shifting with the sequence lengths 0.5 apart (the slope would be huge)");
	ok(refused(3, "{\"use_dynamic_shifting\": true, \"max_shift\": 1e300}", "\"max_shift\""), "max_shift 1e300");

	/* the schedule itself: a huge mu is refused, not turned into NaN sigmas */
	struct od_schedule_config sc = { .num_train_timesteps = 1000, .shift = 1, .dynamic = 1, .base_shift = 0.5,
					 .max_shift = 1.15, .base_seq = 256, .max_seq = 4096 };
	struct od_schedule s;
	ok(od_schedule_make(&sc, 4, 1e6, &s) == OD_EMODEL, "a schedule with mu = 1e6 is refused");
	ok(od_schedule_make(&sc, 4, 0.5, &s) == OD_OK, "a schedule with mu = 0.5 is made");
	od_schedule_free(&s);

	real_configs(getenv("OD_GOLDEN"));
	return tap_done();
}
