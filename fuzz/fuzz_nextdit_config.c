/*
 * fuzz_nextdit_config: the NextDiT config reader (model/nextdit_config.c) on
 * arbitrary bytes, parsed as od_json_load parses transformer/config.json.
 *
 * A config is outside input: every field must be bounded before use, so an
 * accepted config has every derived size positive and within its documented
 * bound, its tensor list can be enumerated and counted without overflow
 * (UBSan would report it), and its sizes pass od_nextdit_check_size for the
 * config's own input_size. abort() on a violation.
 * Seeds (fuzz/seeds/fuzz_nextdit_config/): the shipped and the released configs.
 */
#include "model/nextdit_config.h"
#include "formats/config.h"
#include "base/error.h"

#include <stdint.h>
#include <stdlib.h>

static int count_cb(void *user, const char *name, int ndim, const int64_t *shape)
{
	(void)name;
	int64_t n = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 1 || shape[i] > ((int64_t)1 << 26))
			abort();
		n *= shape[i];
	}
	*(int64_t *)user += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j;
	if (od_json_parse((const char *)data, size, "fuzz", &j))
		return 0;
	struct od_nextdit_config c;
	if (od_nextdit_config_parse(j, &c, "fuzz") == OD_OK) {
		if (c.hidden < 1 || c.hidden > 65536 || c.heads < 1 || c.kv_heads < 1 || c.heads % c.kv_heads ||
		    c.head_dim * c.heads != c.hidden || c.head_dim % 6 || c.ffn_hidden < 1 || c.ffn_hidden > (1 << 24) ||
		    c.depth < 1 || c.depth > 1024 || !(c.norm_eps > 0) || c.patch_dim < 1 || c.adaln < 1)
			abort();
		int64_t params = 0;
		if (od_nextdit_spec(&c, count_cb, &params) || params <= 0)
			abort();
	} else if (!od_errmsg()[0]) {
		abort();
	}
	json_decref(j);
	return 0;
}
