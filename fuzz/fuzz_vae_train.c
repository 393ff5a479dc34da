/* fuzz_vae_train: what od-train vae reads besides pictures and weights, on
 * arbitrary bytes: a list of pictures (od_vae_list_parse) and, when the bytes
 * are JSON, the settings a training state records (od_vae_settings_parse).
 * Every input must be parsed into paths or settings within their ranges, or
 * refused with an error message, and the rate of any step must be a finite
 * non-negative number. Seeds: fuzz/seeds/fuzz_vae_train/ holds a list with
 * comments and blank lines, a state's settings from before the schedule
 * existed, and one with a warm-up and cosine. */
#include "train/vae_train.h"
#include "base/error.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **paths;
	int n;
	od_error_clear();
	if (od_vae_list_parse((const char *)data, size, "dir/list.txt", &paths, &n) == OD_OK) {
		for (int i = 0; i < n; i++) {
			if (!paths[i][0] || strchr(paths[i], '\n'))
				abort();
			free(paths[i]);
		}
		free(paths);
	} else if (!od_errmsg()[0]) {
		abort();
	}
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	if (j) {
		struct od_vae_run_settings s;
		od_error_clear();
		if (od_vae_settings_parse(j, &s, "fuzz") == OD_OK) {
			if (s.size < 1 || s.batch < 1 || !(s.lr.lr >= 0) || !(s.adamw.eps > 0) || s.lr.warmup < 0 || s.lr.total < 0 ||
			    !(s.lr.min_lr >= 0) || (s.lr.shape != OD_LR_CONSTANT && s.lr.shape != OD_LR_COSINE))
				abort();
			/* every step's rate is a finite number the optimiser can take */
			for (int64_t k = 1; k <= 4; k++) {
				double lr = od_lr_at(&s.lr, k * (s.lr.total / 4 + 1));
				if (!(lr >= 0) || !isfinite(lr))
					abort();
			}
		} else if (!od_errmsg()[0]) {
			abort();
		}
		json_decref(j);
	}
	return 0;
}
