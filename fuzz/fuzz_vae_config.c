/*
 * fuzz_vae_config: the AutoencoderKL config reader (model/vae_config.c) on
 * arbitrary bytes, parsed as od_json_load parses vae/config.json.
 *
 * An accepted config has its channel counts and block list within bounds,
 * every block a multiple of the group count, a scaling factor that stays
 * finite and non-zero in float32, and a tensor list that enumerates and
 * counts without overflow. abort() on a violation. Seeds
 * (fuzz/seeds/fuzz_vae_config/): the shipped and the released configs.
 */
#include "model/vae_config.h"
#include "formats/config.h"
#include "base/error.h"

#include <math.h>
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
	struct od_vae_config c;
	if (od_vae_config_parse(j, &c, "fuzz") == OD_OK) {
		if (c.n_blocks < 1 || c.n_blocks > OD_VAE_MAX_BLOCKS || c.groups < 1 || c.latent_channels < 1 ||
		    c.layers_per_block < 1 || c.layers_per_block > 64 || !isfinite(c.scaling_factor) ||
		    !(c.scaling_factor > 0) || !isfinite(c.shift_factor) || c.downscale != 1 << (c.n_blocks - 1))
			abort();
		for (int i = 0; i < c.n_blocks; i++)
			if (c.block_out[i] < 1 || c.block_out[i] % c.groups)
				abort();
		int64_t params = 0;
		if (od_vae_spec(&c, count_cb, &params) || params <= 0)
			abort();
	} else if (!od_errmsg()[0]) {
		abort();
	}
	json_decref(j);
	return 0;
}
