/*
 * fuzz_image: the PNG and JPEG readers (image.h) on arbitrary bytes.
 *
 * Anything may come in; the reader must either decode a picture within the
 * limits or return an error with a message, never crash, leak or allocate
 * beyond the limits. The limits are the real ones (OD_IMAGE_MAX_SIDE and
 * OD_IMAGE_MAX_PIXELS, what od-encode accepts), so a header that claims a
 * picture just within them is decoded as a user's would be. Seeds:
 * fuzz/seeds/fuzz_image/ (small PNGs of every colour type and bit depth,
 * interlaced, with eXIf; baseline, progressive, grey and EXIF JPEGs; a CMYK
 * JPEG).
 */
#include "formats/image.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct od_image img;
	struct od_image_opts opts = { .max_side = 0, .max_pixels = 0 }; /* 0: the library's limits */
	if (od_image_read_mem(&img, data, size, "fuzz", &opts) == 0) {
		/* touch every byte so a short buffer shows under ASan */
		unsigned sum = 0;
		for (size_t i = 0; i < (size_t)img.width * img.height * img.channels; i++)
			sum += img.data[i];
		if (img.width <= 0 || img.height <= 0 || img.channels != 3 || sum == 0xffffffffu)
			abort();
		od_image_free(&img);
	}
	return 0;
}
