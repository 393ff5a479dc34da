/* fuzz_train_state: the training state reader (train/checkpoint.h) on arbitrary
 * bytes, for a model of two small tensors ("a" (4) and "layers.0.b" (2, 3)).
 * Every input must be either accepted or refused with a message; an accepted
 * state must hold finite moments, non-negative second moments and generators
 * that continue drawing. The seed is such a state, written by
 * od_train_state_write (fuzz/seeds/fuzz_train_state/state.safetensors). */
#include "train/checkpoint.h"
#include "base/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[2] = { "a", "layers.0.b" };
	static const struct od_tensor shapes[2] = { { .ndim = 1, .shape = { 4 } }, { .ndim = 2, .shape = { 2, 3 } } };
	static const int64_t numel[2] = { 4, 6 };
	const struct od_train_tensors t = { .n = 2, .names = names, .shapes = shapes };
	struct od_train_state s;
	int rc = od_train_state_parse(data, size, "fuzz", &t, &s);
	if (rc < 0) {
		if (!od_errmsg()[0])
			abort(); /* every refusal says why */
		return 0;
	}
	if (!s.m || !s.v || !json_is_object(s.settings) || !json_is_array(s.data))
		abort();
	for (int i = 0; i < 2; i++)
		for (int64_t e = 0; e < numel[i]; e++)
			if (!isfinite(s.m[i][e]) || !(s.v[i][e] >= 0) || (s.ema && !isfinite(s.ema[i][e])))
				abort();
	struct od_train_rng g;
	float x[20];
	if (od_train_rng_import(&g, s.rng_noise) || od_train_rng_import(&g, s.rng_data))
		abort();
	od_train_randn(&g, 20, x);
	od_train_randn(&g, 3, x);
	od_train_state_free(&s, 2);
	return 0;
}
