/*
 * fuzz_t5_config: the T5 config reader (model/t5_config.c) on arbitrary bytes,
 * parsed as od_json_load parses text_encoder/config.json.
 *
 * An accepted config has every field within its bound, heads × d_kv
 * computed without overflow, a positive epsilon, and a tensor list that
 * enumerates and counts without overflow (UBSan would report it). abort() on
 * a violation. Seeds (fuzz/seeds/fuzz_t5_config/): the shipped and the
 * released configs.
 */
#include "model/t5_config.h"
#include "formats/config.h"
#include "base/error.h"

#include <stdint.h>
#include <stdlib.h>

static int count_cb(void *user, const char *name, int ndim, const int64_t *shape)
{
	(void)name;
	int64_t n = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0 || shape[i] > ((int64_t)1 << 26))
			abort();
		n *= shape[i] ? shape[i] : 1;
	}
	*(int64_t *)user += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j;
	if (od_json_parse((const char *)data, size, "fuzz", &j))
		return 0;
	struct od_t5_config c;
	if (od_t5_config_parse(j, &c, "fuzz") == OD_OK) {
		if (c.d_model < 1 || c.d_model > 65536 || c.heads < 1 || c.d_kv < 1 ||
		    c.inner != c.heads * c.d_kv || c.inner > (1 << 20) || c.layers < 1 || c.layers > 1024 ||
		    c.vocab < 1 || c.buckets < 1 || !(c.eps > 0))
			abort();
		int64_t params = 0;
		if (od_t5_spec(&c, count_cb, &params) || params <= 0)
			abort();
	} else if (!od_errmsg()[0]) {
		abort();
	}
	json_decref(j);
	return 0;
}
