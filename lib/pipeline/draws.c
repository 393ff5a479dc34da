/* draws.c: upstream's draw order in a seed's stream (see draws.h). */
#include "pipeline/draws.h"
#include "base/rng.h"

uint64_t od_draw_offset(enum od_draw which, int text_to_image, size_t frame, int n_images)
{
	if (text_to_image || which == OD_DRAW_PREPARE_LATENTS)
		return 0;
	/* img2img: prepare_latents' unused randn(1, C, h, w) comes first */
	uint64_t words = od_randn_words(frame);
	if (which == OD_DRAW_POSTERIOR)
		return words;
	/* then the posterior ε of all condition images, one randn */
	return words + od_randn_words((size_t)n_images * frame);
}
