/* fuzz_safetensors: the safetensors header parser on arbitrary bytes. Accepted
 * files must have every tensor inside the buffer with a consistent size. */
#include "formats/safetensors.h"
#include "base/error.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct od_safetensors st = { 0 };
	if (od_st_parse(&st, data, size, "fuzz") == OD_OK) {
		for (int i = 0; i < st.n_tensors; i++) {
			const struct od_tensor *t = &st.tensors[i];
			const uint8_t *p = t->data;
			if (p < data || p + t->nbytes > data + size)
				abort();
			if ((size_t)od_tensor_numel(t) * od_dtype_size(t->dtype) != t->nbytes)
				abort();
			if (od_st_find(&st, t->name) == NULL)
				abort();
			volatile uint8_t sink = 0;
			for (size_t k = 0; k < t->nbytes; k++) /* touch every byte: ASan checks the bounds */
				sink ^= p[k];
			(void)sink;
		}
		od_st_close(&st);
	} else if (!od_errmsg()[0]) {
		abort();
	}
	return 0;
}
