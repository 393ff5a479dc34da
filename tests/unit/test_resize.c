/*
 * test_resize: od_image_resize (pipeline/postprocess.h), the resampling that
 * gives a generated map back at its picture's size, against a direct float64
 * evaluation of PIL's BILINEAR filter written here from its definition: for
 * each output pixel, the 2-D sum over the input of the product of the two
 * normalised triangle weights (radius 1, widened by the scale when
 * shrinking, centre (i + 0.5)·scale). Tolerance: 1 level, for a sum that
 * lands within float32 rounding of a .5; then exact properties (identity,
 * constants, linear ramps, antialiasing).
 */
#include "pipeline/postprocess.h"
#include "base/error.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

/* The normalised weight of input sample j for output sample i (in -> out). */
static double weight(int in, int out, int i, int j)
{
	const double scale = (double)in / out, fs = scale > 1 ? scale : 1, center = (i + 0.5) * scale;
	int lo = (int)(center - fs + 0.5), hi = (int)(center + fs + 0.5);
	lo = lo < 0 ? 0 : lo;
	hi = hi > in ? in : hi;
	double sum = 0, wj = 0;
	for (int k = lo; k < hi; k++) {
		double x = (k - center + 0.5) / fs, w = fabs(x) < 1 ? 1 - fabs(x) : 0;
		sum += w;
		if (k == j)
			wj = w;
	}
	return sum > 0 ? wj / sum : 0;
}

static int reference_diff(const struct od_image *in, const struct od_image *out)
{
	int worst = 0;
	for (int y = 0; y < out->height; y++)
		for (int x = 0; x < out->width; x++)
			for (int c = 0; c < in->channels; c++) {
				double s = 0;
				for (int j = 0; j < in->height; j++) {
					double wy = weight(in->height, out->height, y, j);
					if (wy == 0)
						continue;
					for (int i = 0; i < in->width; i++)
						s += wy * weight(in->width, out->width, x, i) *
						     in->data[((size_t)j * in->width + i) * in->channels + c];
				}
				int r = (int)lround(s < 0 ? 0 : s > 255 ? 255 : s);
				int d = abs(r - out->data[((size_t)y * out->width + x) * out->channels + c]);
				worst = d > worst ? d : worst;
			}
	return worst;
}

int main(void)
{
	struct od_image a, b;
	/* a picture with texture: every sample a different mix */
	od_image_alloc(&a, 37, 23, 3);
	for (int i = 0; i < 37 * 23 * 3; i++)
		a.data[i] = (uint8_t)((i * 37 + (i / 3) * (i / 3) * 11) % 256);
	const int sizes[][2] = { { 37, 23 }, { 64, 40 }, { 100, 75 }, { 16, 16 }, { 9, 30 }, { 5, 3 }, { 1, 1 }, { 111, 7 } };
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		int w = sizes[k][0], h = sizes[k][1];
		if (od_image_resize(&a, w, h, &b)) {
			ok(0, "resize to %dx%d: %s", w, h, od_errmsg());
			continue;
		}
		ok(b.width == w && b.height == h && b.channels == 3, "resize 37x23 -> %dx%d: the size", w, h);
		int d = reference_diff(&a, &b);
		ok(d <= 1, "resize 37x23 -> %dx%d: within 1 level of the float64 reference (worst %d)", w, h, d);
		od_image_free(&b);
	}
	ok(!od_image_resize(&a, 37, 23, &b) && !memcmp(a.data, b.data, (size_t)37 * 23 * 3), "the same size: the same bytes");
	od_image_free(&b);

	/* grey, a constant: stays that constant at every size */
	struct od_image g;
	od_image_alloc(&g, 30, 20, 1);
	memset(g.data, 77, 600);
	int flat = 1;
	for (int w = 1; w < 70; w += 7)
		if (!od_image_resize(&g, w, 90 - w, &b)) {
			for (int i = 0; i < b.width * b.height; i++)
				flat &= b.data[i] == 77;
			od_image_free(&b);
		}
	ok(flat, "a constant picture stays constant, larger and smaller");
	/* a linear ramp enlarged stays a ramp away from the edges (the triangle
	 * filter reproduces linear functions) */
	for (int x = 0; x < 30; x++)
		for (int y = 0; y < 20; y++)
			g.data[y * 30 + x] = (uint8_t)(8 * x);
	int ramp = 1;
	if (!od_image_resize(&g, 60, 20, &b)) {
		for (int x = 2; x < 58; x++) {
			double want = 8 * ((x + 0.5) / 2 - 0.5);
			ramp &= fabs(b.data[5 * 60 + x] - want) <= 0.5 + 1e-9;
		}
		od_image_free(&b);
	}
	ok(ramp, "a linear ramp enlarged twice stays linear");
	/* shrinking averages: a one-pixel checkerboard shrunk 4 times is grey */
	for (int i = 0; i < 600; i++)
		g.data[i] = ((i % 30) + (i / 30)) % 2 ? 255 : 0;
	int grey = 1;
	if (!od_image_resize(&g, 30 / 4 + 1, 5, &b)) {
		for (int i = 0; i < b.width * b.height; i++)
			grey &= abs(b.data[i] - 128) <= 40;
		od_image_free(&b);
	}
	ok(grey, "shrinking averages a fine pattern instead of aliasing it");
	ok(od_image_resize(&g, 0, 5, &b) == OD_EINVAL, "a size of 0 is refused");
	od_image_free(&g);
	od_image_free(&a);
	return tap_done();
}
