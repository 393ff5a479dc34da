/*
 * fuzz_image16: the 16-bit grey PNG reader of depth maps
 * (lib/formats/image16.c) on arbitrary bytes.
 *
 * When a file decodes, its header must have said bit depth 16 and the
 * picture must have pixels within the size limits (abort() otherwise); the
 * last pixel is read so that ASan sees a short buffer.
 * Seeds (fuzz/seeds/fuzz_image16/): 16-bit grey and grey+alpha PNGs, plain
 * and interlaced, and an 8-bit one (refused).
 */
#include "formats/image16.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct od_image16 img;
	const struct od_image_opts opts = { .max_side = 4096, .max_pixels = 1 << 22 };
	if (od_image16_read_mem(&img, data, size, "fuzz", &opts) != 0)
		return 0;
	if (od_png_bit_depth(data, size) != 16 || img.width < 1 || img.height < 1 || img.width > 4096 ||
	    (int64_t)img.width * img.height > (1 << 22))
		abort();
	volatile uint16_t last = img.data[(size_t)img.width * img.height - 1];
	(void)last;
	od_image16_free(&img);
	return 0;
}
