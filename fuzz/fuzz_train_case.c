/* fuzz_train_case: the training batch reader (model/nextdit_case.h) on
 * arbitrary bytes, against a small model configuration (4 latent channels,
 * 8-wide text, 2×2 patches). Every input must be read as a batch whose
 * shapes agree with each other and with the model, or refused with an error.
 * Seeds: fuzz/seeds/fuzz_train_case/ holds a valid batch (1 sample, 2 frames
 * of 4×2 latents, 3 text positions) written by od's safetensors writer layout. */
#include "formats/safetensors.h"
#include "model/nextdit_case.h"
#include "base/error.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct od_nextdit_config cf;
	static int ready;
	if (!ready) {
		json_t *j = json_loads("{\"hidden_size\": 12, \"num_heads\": 2, \"depth\": 1, \"caption_channels\": 8,"
				       " \"in_channels\": 4, \"rotary_max_length\": 8, \"multiple_of\": 8}", 0, NULL);
		if (!j || od_nextdit_config_parse(j, &cf, "fuzz"))
			abort();
		json_decref(j);
		ready = 1;
	}
	struct od_safetensors st = { 0 };
	if (od_st_parse(&st, data, size, "fuzz") != OD_OK)
		return 0;
	struct od_nextdit_case cs;
	if (od_nextdit_case_from_st(&cs, &st, &cf, "fuzz") == OD_OK) {
		const struct od_nextdit_batch *b = &cs.b;
		if (b->B < 1 || b->S < 1 || b->h % 2 || b->w % 2 || b->F < 1)
			abort();
		/* touch every value: ASan checks the sizes */
		volatile float sink = 0;
		size_t nx = (size_t)b->B * b->F * 4 * b->h * b->w;
		for (size_t i = 0; i < nx; i++)
			sink += b->x[i] + b->target[i];
		for (size_t i = 0; i < (size_t)b->B * b->F; i++)
			sink += b->t[i];
		for (size_t i = 0; i < (size_t)b->B * b->S * 8; i++)
			sink += b->text[i];
		for (size_t i = 0; i < (size_t)b->B * b->S; i++)
			if (b->mask[i] > 1)
				abort();
		(void)sink;
		od_nextdit_case_free(&cs);
	} else if (!od_errmsg()[0]) {
		abort();
	}
	od_st_close(&st);
	return 0;
}
