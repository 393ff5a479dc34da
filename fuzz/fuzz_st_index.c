/*
 * fuzz_st_index: the sharded-weights index reader (formats/checkpoint.c,
 * *.safetensors.index.json) on arbitrary bytes, parsed as od_json_load
 * parses it.
 *
 * The shard list of an accepted index names each file once, every name is a
 * plain file name inside the component folder (no '/', not "." or "..",
 * no NUL), and every weight_map value is one of them. abort() on a violation.
 * Seeds (fuzz/seeds/fuzz_st_index/): indexes of the shapes Hugging Face
 * writes (one shard, several shards, metadata).
 */
#include "formats/checkpoint.h"
#include "base/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j;
	if (od_json_parse((const char *)data, size, "fuzz", &j))
		return 0;
	const char **names;
	int n;
	if (od_st_index_shards(j, "fuzz", &names, &n) == OD_OK) {
		for (int i = 0; i < n; i++) {
			if (!names[i][0] || strchr(names[i], '/') || !strcmp(names[i], ".") || !strcmp(names[i], ".."))
				abort();
			for (int k = 0; k < i; k++)
				if (!strcmp(names[i], names[k]))
					abort();
		}
		const char *key;
		json_t *v;
		json_object_foreach(json_object_get(j, "weight_map"), key, v) {
			int found = 0;
			for (int i = 0; i < n && !found; i++)
				found = !strcmp(json_string_value(v), names[i]);
			if (!found)
				abort();
		}
		free(names);
	} else if (!od_errmsg()[0]) {
		abort();
	}
	json_decref(j);
	return 0;
}
