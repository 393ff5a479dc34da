/*
 * fuzz_schedule_config: the scheduler config reader (pipeline/schedule.c) on
 * arbitrary bytes, parsed as od_json_load parses
 * scheduler/scheduler_config.json, then the schedules od-denoise makes from
 * it: for a few step counts and the shifts (mu) of the smallest and largest
 * images od supports.
 *
 * An accepted config has finite, bounded fields; every schedule made from it
 * is either refused with a message or has finite sigmas in [0, 1] (anything
 * else is a NaN or a blow-up the sampler would spread), ending at 0.
 * abort() on a violation. Seeds (fuzz/seeds/fuzz_schedule_config/): the
 * shipped and the released scheduler configs.
 */
#include "pipeline/schedule.h"
#include "formats/config.h"
#include "base/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j;
	if (od_json_parse((const char *)data, size, "fuzz", &j))
		return 0;
	struct od_schedule_config c;
	if (od_schedule_config_parse(j, &c, "fuzz") == OD_OK) {
		if (!isfinite(c.num_train_timesteps) || !isfinite(c.shift) || !isfinite(c.base_shift) ||
		    !isfinite(c.max_shift) || !isfinite(c.base_seq) || !isfinite(c.max_seq))
			abort();
		static const int steps[] = { 1, 2, 50 };
		/* sequence lengths: a 16x16 picture (4 patches) up to 4096x4096 × 128 frames */
		static const double seqs[] = { 4, 4096, 65536.0 * 128 };
		for (int a = 0; a < 3; a++)
			for (int b = 0; b < 3; b++) {
				struct od_schedule s;
				double mu = od_schedule_mu(&c, seqs[b]);
				if (od_schedule_make(&c, steps[a], mu, &s) != OD_OK) {
					if (!od_errmsg()[0])
						abort();
					continue;
				}
				for (int i = 0; i < s.steps; i++)
					if (!(s.sigmas[i] >= 0 && s.sigmas[i] <= 1) || !isfinite(s.timesteps[i]))
						abort();
				if (s.sigmas[s.steps] != 0)
					abort();
				od_schedule_free(&s);
			}
	} else if (!od_errmsg()[0]) {
		abort();
	}
	json_decref(j);
	return 0;
}
