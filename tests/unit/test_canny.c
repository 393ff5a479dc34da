/*
 * test_canny: the Canny edge detector of lib/scene/canny.c on synthetic
 * pictures whose edges are known exactly.
 *
 *   - a rectangle: every edge pixel within a pixel of the true boundary, and
 *     each side found as a line one pixel thick (non-maximum suppression),
 *     nothing anywhere else;
 *   - a disc: every edge pixel within 1.5 pixels of the circle, the circle
 *     covered all round, the edge one 8-connected closed curve;
 *   - thresholds: with sigma = 1 a step of s levels peaks at about 2.5 s, so
 *     a 10-level step (25) gives nothing, a lone 30-level step (75, between
 *     low 50 and high 100) nothing either, a 60-level step (150) a line;
 *   - hysteresis: a step fading from strong to weak along its length is found
 *     whole; its weak part alone is not;
 *   - colour: a boundary of equal luma and equal red is found (the strongest
 *     channel's gradient), sigma 0 (no smoothing) works, bad parameters are
 *     refused.
 */
#include "od.h"
#include "scene/canny.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define W 64
#define H 64

static struct od_canny_params P;

static int count(const uint8_t *e)
{
	int n = 0;
	for (int i = 0; i < W * H; i++)
		n += e[i] != 0;
	return n;
}

static void test_rectangle(void)
{
	uint8_t img[W * H], e[W * H];
	/* columns 16..47, rows 20..43: boundaries at x = 16, 48 and y = 20, 44 (pixel edges) */
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			img[y * W + x] = x >= 16 && x < 48 && y >= 20 && y < 44 ? 200 : 50;
	ok(od_canny(img, W, H, 1, &P, e) == OD_OK, "rectangle: runs");
	int far = 0, binary = 1;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			int i = y * W + x;
			binary &= e[i] == 0 || e[i] == 255;
			if (!e[i])
				continue;
			/* distance from the pixel centre to the rectangle's outline */
			double cx = x + 0.5, cy = y + 0.5;
			double dx = fmax(fmax(16 - cx, cx - 48), 0), dy = fmax(fmax(20 - cy, cy - 44), 0);
			double d = (dx > 0 || dy > 0) ? hypot(dx, dy)
						      : fmin(fmin(cx - 16, 48 - cx), fmin(cy - 20, 44 - cy));
			if (d > 1.0)
				far++;
		}
	ok(binary, "rectangle: the map holds 0 and 255 only");
	ok(far == 0, "rectangle: every edge pixel is within a pixel of the outline (%d are not)", far);
	int thin = 1;
	for (int y = 22; y < 42; y++) { /* along the left and right sides, away from the corners */
		int l = 0, r = 0;
		for (int x = 12; x < 20; x++)
			l += e[y * W + x] != 0;
		for (int x = 44; x < 52; x++)
			r += e[y * W + x] != 0;
		thin &= l == 1 && r == 1;
	}
	for (int x = 18; x < 46; x++) { /* along the top and bottom */
		int t = 0, b = 0;
		for (int y = 16; y < 24; y++)
			t += e[y * W + x] != 0;
		for (int y = 40; y < 48; y++)
			b += e[y * W + x] != 0;
		thin &= t == 1 && b == 1;
	}
	ok(thin, "rectangle: each side is a line exactly one pixel thick");
	int n = count(e);
	ok(n >= 2 * (32 + 24) - 8 && n <= 2 * (32 + 24) + 8, "rectangle: %d edge pixels for a 112-pixel outline", n);
}

static void test_disc(void)
{
	uint8_t img[W * H], e[W * H];
	const double cx = 32.3, cy = 31.7, R = 20;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			img[y * W + x] = hypot(x + 0.5 - cx, y + 0.5 - cy) < R ? 30 : 220;
	ok(od_canny(img, W, H, 1, &P, e) == OD_OK, "disc: runs");
	int far = 0;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			if (e[y * W + x] && fabs(hypot(x + 0.5 - cx, y + 0.5 - cy) - R) > 1.5)
				far++;
	ok(far == 0, "disc: every edge pixel is within 1.5 pixels of the circle (%d are not)", far);
	int missed = 0;
	for (int k = 0; k < 360; k++) {
		double px = cx + R * cos(k * M_PI / 180), py = cy + R * sin(k * M_PI / 180);
		int found = 0;
		for (int y = (int)py - 2; y <= (int)py + 2; y++)
			for (int x = (int)px - 2; x <= (int)px + 2; x++)
				if (x >= 0 && y >= 0 && x < W && y < H && e[y * W + x] &&
				    hypot(x + 0.5 - px, y + 0.5 - py) <= 1.5)
					found = 1;
		missed += !found;
	}
	ok(missed == 0, "disc: the circle is covered all round (%d of 360 directions missed)", missed);
	/* one 8-connected component, and each pixel has two neighbours or more (closed) */
	int stack[W * H], top = 0, seen[W * H], reached = 0, ends = 0;
	memset(seen, 0, sizeof seen);
	for (int i = 0; i < W * H && !top; i++)
		if (e[i])
			stack[top++] = i, seen[i] = 1;
	while (top) {
		int i = stack[--top], x = i % W, y = i / W, nb = 0;
		reached++;
		for (int dy = -1; dy <= 1; dy++)
			for (int dx = -1; dx <= 1; dx++) {
				int j = (y + dy) * W + x + dx;
				if ((dx || dy) && e[j]) {
					nb++;
					if (!seen[j])
						seen[j] = 1, stack[top++] = j;
				}
			}
		ends += nb < 2;
	}
	ok(reached == count(e) && ends == 0, "disc: the edge is one closed curve (%d of %d pixels connected, %d ends)",
	   reached, count(e), ends);
}

/* A vertical step at x = 32 whose height goes linearly from top (row 0) to
 * bottom (row H - 1), rounded. */
static void step(uint8_t *img, int top, int bottom)
{
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			img[y * W + x] =
				(uint8_t)(100 + (x >= 32 ? lround(top + (bottom - top) * (double)y / (H - 1)) : 0));
}

static int edges_in_rows(const uint8_t *e, int y0, int y1)
{
	int n = 0;
	for (int y = y0; y < y1; y++)
		for (int x = 28; x < 36; x++)
			n += e[y * W + x] != 0;
	return n;
}

static void test_thresholds(void)
{
	uint8_t img[W * H], e[W * H];
	step(img, 10, 10);
	od_canny(img, W, H, 1, &P, e);
	ok(count(e) == 0, "a 10-level step is below the low threshold: no edge (%d pixels)", count(e));
	step(img, 30, 30);
	od_canny(img, W, H, 1, &P, e);
	ok(count(e) == 0, "a lone 30-level step is weak only: no edge (%d pixels)", count(e));
	step(img, 60, 60);
	od_canny(img, W, H, 1, &P, e);
	ok(edges_in_rows(e, 1, H - 1) == H - 2 && count(e) == H - 2, "a 60-level step: one line down the picture (%d)",
	   count(e));
	/* 80 levels at the top (strong, 200) fading to 24 at the bottom (60, weak): the
	 * rows below about row 45 (height < 40, magnitude < 100) are weak */
	step(img, 80, 24);
	od_canny(img, W, H, 1, &P, e);
	ok(edges_in_rows(e, 1, 40) == 39 && edges_in_rows(e, 40, H - 1) == H - 41 && count(e) == H - 2,
	   "hysteresis: the weak end of a line that is strong at the other end is kept (%d + %d of 39 + %d)",
	   edges_in_rows(e, 1, 40), edges_in_rows(e, 40, H - 1), H - 41);
	step(img, 36, 24);
	od_canny(img, W, H, 1, &P, e);
	ok(count(e) == 0, "hysteresis: the weak part alone is dropped (%d pixels)", count(e));
	struct od_canny_params strict = P;
	strict.high = 1000;
	step(img, 80, 80);
	od_canny(img, W, H, 1, &strict, e);
	ok(count(e) == 0, "no strong pixel, no edge at all");
}

static void test_colour_and_params(void)
{
	uint8_t img[W * H * 3], e[W * H];
	/* (100, 0, 200) left, (100, 39, 0) right: the same red, the same luma (52.7 and 52.8) */
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			uint8_t *p = img + (y * W + x) * 3;
			p[0] = 100;
			p[1] = x < 32 ? 0 : 39;
			p[2] = x < 32 ? 200 : 0;
		}
	od_canny(img, W, H, 3, &P, e);
	ok(edges_in_rows(e, 1, H - 1) == H - 2 && count(e) == H - 2,
	   "colour: a boundary of equal red and equal luma is one line (%d)", count(e));
	struct od_canny_params sharp = P;
	sharp.sigma = 0;
	uint8_t g[W * H];
	step(g, 20, 20); /* unsmoothed, a step of 20 gives 4 · 20 = 80: weak; 40 gives 160 */
	od_canny(g, W, H, 1, &sharp, e);
	ok(count(e) == 0, "sigma 0: a 20-level step stays weak");
	step(g, 40, 40);
	od_canny(g, W, H, 1, &sharp, e);
	ok(count(e) == H - 2, "sigma 0: a 40-level step is one line (%d)", count(e));
	struct od_canny_params bad = P;
	bad.low = 200;
	ok(od_canny(g, W, H, 1, &bad, e) == OD_EINVAL, "low > high is refused");
	bad = P;
	bad.sigma = -1;
	ok(od_canny(g, W, H, 1, &bad, e) == OD_EINVAL, "a negative sigma is refused");
	ok(od_canny(g, W, H, 2, &P, e) == OD_EINVAL, "two channels are refused");
	/* a picture too small for any interior pixel gives no edges but works */
	ok(od_canny(g, 2, 2, 1, &P, e) == OD_OK && !e[0] && !e[1] && !e[2] && !e[3], "a 2x2 picture: no edges");
}

int main(void)
{
	od_canny_params_default(&P);
	ok(P.sigma == 1 && P.low == 50 && P.high == 100, "defaults: sigma 1, thresholds 50 and 100");
	test_rectangle();
	test_disc();
	test_thresholds();
	test_colour_and_params();
	return tap_done();
}
