/* rope.c: 3-D RoPE frequency tables (see rope.h; numerics.md §2.5). */
#include "model/rope.h"
#include "base/error.h"

#include <math.h>

void od_rope_omega(int head_dim, float theta, float *omega)
{
	int n = head_dim / 6;
	for (int k = 0; k < n; k++) {
		/* arange(0, dim, 6) / dim: an int tensor divided in float32 */
		float e = (float)(6 * k) / (float)head_dim;
		float p = powf(theta, e);
		omega[k] = 1.0f / p;
	}
}

void od_rope_table(float *cs, int head_dim, const float *omega, int frames, int hp, int wp)
{
	const int n = head_dim / 6, pairs = head_dim / 2;
	size_t tok = 0;
	for (int f = 0; f < frames; f++)
		for (int i = 0; i < hp; i++)
			for (int j = 0; j < wp; j++, tok++) {
				const int pos[3] = { f, i, j };
				float *row = cs + tok * (size_t)pairs * 2;
				for (int p = 0; p < pairs; p++) {
					/* torch.outer(arange(end, dtype=float32), freqs): one fp32 product */
					float phi = (float)pos[p / n] * omega[p % n];
					row[2 * p] = cosf(phi);
					row[2 * p + 1] = sinf(phi);
				}
			}
}

int od_rope_check(int frames, int hp, int wp, int max_t, int max_hw)
{
	if (frames > max_t)
		return od_error(OD_EFORMAT, "%d frames exceed the model's rotary_max_length_t of %d", frames, max_t);
	if (hp > max_hw || wp > max_hw)
		return od_error(OD_EFORMAT, "%d×%d patches per frame exceed the model's rotary_max_length of %d per axis",
				hp, wp, max_hw);
	return OD_OK;
}
