/*
 * postprocess.c: uint8 conversion, luma, the Spectral depth display and
 * contact sheets (see postprocess.h).
 */
#include "pipeline/postprocess.h"
#include "base/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int od_image_from_decoded(const float *x, int H, int W, struct od_image *out)
{
	int rc = od_image_alloc(out, W, H, 3);
	if (rc)
		return rc;
	const size_t plane = (size_t)H * W;
	for (int c = 0; c < 3; c++) {
		for (size_t i = 0; i < plane; i++) {
			/* (image / 2 + 0.5).clamp(0, 1), then (images * 255).round()
			 * in float32 (numerics.md §4.3, §8.1; tests/golden/README.md §1) */
			float v = x[c * plane + i] / 2.0f + 0.5f;
			v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
			if (v != v)
				v = 0.0f;
			out->data[i * 3 + c] = (uint8_t)rintf(v * 255.0f);
		}
	}
	return OD_OK;
}

int od_image_luma(const struct od_image *img, struct od_image *gray)
{
	int rc = od_image_alloc(gray, img->width, img->height, 1);
	if (rc)
		return rc;
	const size_t n = (size_t)img->width * img->height;
	for (size_t i = 0; i < n; i++) {
		if (img->channels == 1) {
			gray->data[i] = img->data[i];
			continue;
		}
		const uint8_t *p = img->data + i * 3;
		/* Pillow's rgb2l: L24 = R·19595 + G·38470 + B·7471 + 0x8000, >> 16 */
		gray->data[i] = (uint8_t)(((uint32_t)p[0] * 19595u + (uint32_t)p[1] * 38470u + (uint32_t)p[2] * 7471u +
					   0x8000u) >> 16);
	}
	return OD_OK;
}

int od_depth_colorize(const struct od_image *img, struct od_image *out)
{
	struct od_image g;
	int rc = od_image_luma(img, &g);
	if (rc)
		return rc;
	if ((rc = od_image_alloc(out, img->width, img->height, 3))) {
		od_image_free(&g);
		return rc;
	}
	const size_t n = (size_t)img->width * img->height;
	uint8_t mn = 255, mx = 0;
	for (size_t i = 0; i < n; i++) {
		mn = g.data[i] < mn ? g.data[i] : mn;
		mx = g.data[i] > mx ? g.data[i] : mx;
	}
	for (size_t i = 0; i < n && mx > mn; i++) {
		/* d = (L − min)/(max − min) in float64, clipped; d = 1 − d; then
		 * matplotlib's Colormap.__call__: index = int(d·256), 256 -> 255 */
		double d = (double)(uint8_t)(g.data[i] - mn) / (double)(uint8_t)(mx - mn);
		d = d < 0 ? 0 : d > 1 ? 1 : d;
		d = 1.0 - d;
		double xa = d * 256.0;
		int k = xa >= 256.0 ? 255 : (int)xa;
		memcpy(out->data + i * 3, od_spectral_lut[k], 3);
	}
	od_image_free(&g);
	return OD_OK;
}

void od_grid_auto(int n, int *cols, int *rows)
{
	int c = 1;
	while (c * c < n)
		c++;
	*cols = c;
	*rows = n > 0 ? (n + c - 1) / c : 1;
}

int od_contact_sheet(const struct od_image *imgs, int n, int cols, int rows, struct od_image *out)
{
	if (n <= 0 || cols <= 0 || rows <= 0 || (int64_t)cols * rows < n)
		return od_error(OD_EINVAL, "contact sheet: %d pictures do not fit a %dx%d grid", n, cols, rows);
	int cw = 0, ch = 0, C = 1;
	for (int i = 0; i < n; i++) {
		cw = imgs[i].width > cw ? imgs[i].width : cw;
		ch = imgs[i].height > ch ? imgs[i].height : ch;
		C = imgs[i].channels > C ? imgs[i].channels : C;
	}
	if ((int64_t)cw * cols > OD_IMAGE_MAX_SIDE || (int64_t)ch * rows > OD_IMAGE_MAX_SIDE)
		return od_error(OD_EINVAL, "contact sheet: %dx%d cells of %dx%d exceed %d pixels per side", cols, rows,
				cw, ch, OD_IMAGE_MAX_SIDE);
	int rc = od_image_alloc(out, cw * cols, ch * rows, C);
	if (rc)
		return rc;
	for (int i = 0; i < n; i++) {
		const struct od_image *im = &imgs[i];
		int ox = (i % cols) * cw, oy = (i / cols) * ch;
		for (int y = 0; y < im->height; y++) {
			uint8_t *d = out->data + ((size_t)(oy + y) * out->width + ox) * C;
			const uint8_t *s = im->data + (size_t)y * im->width * im->channels;
			if (im->channels == C) {
				memcpy(d, s, (size_t)im->width * C);
				continue;
			}
			for (int x = 0; x < im->width; x++) /* grey into a colour sheet */
				d[3 * x] = d[3 * x + 1] = d[3 * x + 2] = s[x];
		}
	}
	return OD_OK;
}

/* matplotlib's "Spectral" (LinearSegmentedColormap.from_list over the 11
 * ColorBrewer colours of matplotlib/_cm.py `_Spectral_data`, N = 256), as
 * `(cmap._lut * 255).astype(uint8)`: the LUT is built the way
 * colors._create_lookup_table does (x = linspace(0, 1, 11)·255, xind =
 * 255·linspace(0, 1, 256), searchsorted, linear interpolation, in float64),
 * then truncated to bytes. */
const unsigned char od_spectral_lut[256][3] = {
	{158,   1,  66}, {160,   3,  66}, {162,   5,  67}, {164,   8,  67},
	{166,  10,  68}, {168,  12,  68}, {170,  15,  69}, {173,  17,  69},
	{175,  20,  70}, {177,  22,  70}, {179,  24,  71}, {181,  27,  71},
	{183,  29,  72}, {186,  32,  72}, {188,  34,  73}, {190,  36,  73},
	{192,  39,  74}, {194,  41,  74}, {196,  44,  75}, {198,  46,  75},
	{201,  48,  76}, {203,  51,  76}, {205,  53,  77}, {207,  56,  77},
	{209,  58,  78}, {211,  60,  78}, {213,  62,  78}, {214,  64,  78},
	{216,  66,  77}, {217,  68,  77}, {218,  70,  76}, {219,  72,  76},
	{220,  73,  75}, {222,  75,  75}, {223,  77,  75}, {224,  79,  74},
	{225,  81,  74}, {226,  83,  73}, {228,  85,  73}, {229,  86,  72},
	{230,  88,  72}, {231,  90,  71}, {233,  92,  71}, {234,  94,  70},
	{235,  96,  70}, {236,  97,  69}, {237,  99,  69}, {239, 101,  68},
	{240, 103,  68}, {241, 105,  67}, {242, 107,  67}, {244, 109,  67},
	{244, 111,  68}, {244, 114,  69}, {245, 116,  70}, {245, 119,  71},
	{245, 121,  72}, {246, 124,  74}, {246, 126,  75}, {246, 129,  76},
	{247, 131,  77}, {247, 134,  78}, {247, 137,  79}, {248, 139,  81},
	{248, 142,  82}, {248, 144,  83}, {249, 147,  84}, {249, 149,  85},
	{250, 152,  86}, {250, 154,  88}, {250, 157,  89}, {251, 159,  90},
	{251, 162,  91}, {251, 165,  92}, {252, 167,  94}, {252, 170,  95},
	{252, 172,  96}, {253, 174,  97}, {253, 176,  99}, {253, 178, 101},
	{253, 180, 102}, {253, 182, 104}, {253, 184, 106}, {253, 186, 107},
	{253, 188, 109}, {253, 190, 110}, {253, 192, 112}, {253, 194, 114},
	{253, 196, 115}, {253, 198, 117}, {253, 200, 119}, {253, 202, 120},
	{253, 204, 122}, {253, 206, 124}, {253, 208, 125}, {253, 210, 127},
	{253, 212, 129}, {253, 214, 130}, {253, 216, 132}, {253, 218, 134},
	{253, 220, 135}, {253, 222, 137}, {254, 224, 139}, {254, 225, 141},
	{254, 226, 143}, {254, 227, 145}, {254, 228, 147}, {254, 230, 149},
	{254, 231, 151}, {254, 232, 153}, {254, 233, 155}, {254, 234, 157},
	{254, 236, 159}, {254, 237, 161}, {254, 238, 163}, {254, 239, 165},
	{254, 241, 167}, {254, 242, 169}, {254, 243, 171}, {254, 244, 173},
	{254, 245, 175}, {254, 247, 177}, {254, 248, 179}, {254, 249, 181},
	{254, 250, 183}, {254, 251, 185}, {254, 253, 187}, {254, 254, 189},
	{254, 254, 190}, {253, 254, 188}, {252, 254, 187}, {251, 253, 185},
	{250, 253, 184}, {249, 252, 182}, {248, 252, 181}, {247, 252, 179},
	{246, 251, 178}, {245, 251, 176}, {244, 250, 174}, {243, 250, 173},
	{242, 250, 171}, {241, 249, 170}, {240, 249, 168}, {239, 248, 167},
	{238, 248, 165}, {237, 248, 164}, {236, 247, 162}, {235, 247, 161},
	{234, 246, 159}, {233, 246, 158}, {232, 246, 156}, {231, 245, 155},
	{230, 245, 153}, {230, 245, 152}, {227, 244, 152}, {225, 243, 152},
	{223, 242, 153}, {220, 241, 153}, {218, 240, 154}, {216, 239, 154},
	{213, 238, 155}, {211, 237, 155}, {209, 236, 156}, {206, 235, 156},
	{204, 234, 157}, {202, 233, 157}, {199, 232, 158}, {197, 231, 158},
	{195, 230, 159}, {192, 229, 159}, {190, 229, 160}, {188, 228, 160},
	{186, 227, 160}, {183, 226, 161}, {181, 225, 161}, {179, 224, 162},
	{176, 223, 162}, {174, 222, 163}, {172, 221, 163}, {169, 220, 164},
	{166, 219, 164}, {164, 218, 164}, {161, 217, 164}, {158, 216, 164},
	{156, 215, 164}, {153, 214, 164}, {150, 213, 164}, {148, 212, 164},
	{145, 210, 164}, {142, 209, 164}, {139, 208, 164}, {137, 207, 164},
	{134, 206, 164}, {131, 205, 164}, {129, 204, 164}, {126, 203, 164},
	{123, 202, 164}, {120, 201, 164}, {118, 200, 164}, {115, 199, 164},
	{112, 198, 164}, {110, 197, 164}, {107, 196, 164}, {104, 195, 164},
	{102, 194, 165}, { 99, 191, 165}, { 97, 189, 166}, { 95, 187, 167},
	{ 93, 184, 168}, { 91, 182, 169}, { 89, 180, 170}, { 87, 178, 171},
	{ 85, 175, 172}, { 83, 173, 173}, { 81, 171, 174}, { 79, 168, 175},
	{ 77, 166, 176}, { 75, 164, 177}, { 73, 162, 178}, { 71, 159, 179},
	{ 69, 157, 180}, { 67, 155, 181}, { 65, 153, 181}, { 63, 150, 182},
	{ 61, 148, 183}, { 59, 146, 184}, { 57, 143, 185}, { 55, 141, 186},
	{ 53, 139, 187}, { 51, 137, 188}, { 50, 134, 188}, { 52, 132, 187},
	{ 54, 130, 186}, { 56, 128, 185}, { 57, 125, 184}, { 59, 123, 183},
	{ 61, 121, 182}, { 62, 119, 181}, { 64, 117, 180}, { 66, 114, 178},
	{ 68, 112, 177}, { 69, 110, 176}, { 71, 108, 175}, { 73, 105, 174},
	{ 75, 103, 173}, { 76, 101, 172}, { 78,  99, 171}, { 80,  96, 170},
	{ 81,  94, 169}, { 83,  92, 168}, { 85,  90, 167}, { 87,  87, 166},
	{ 88,  85, 165}, { 90,  83, 164}, { 92,  81, 163}, { 94,  79, 162},
};

/* The taps of one output pixel along one axis: PIL's precompute_coeffs for
 * the bilinear (triangle) filter. */
struct taps {
	int *first, *n;  /* (out) */
	float *w;        /* (out, max_n) */
	int max_n;
};

static int taps_make(struct taps *t, int in, int out)
{
	const double scale = (double)in / out, fscale = scale > 1.0 ? scale : 1.0, support = fscale;
	t->max_n = (int)ceil(support) * 2 + 1;
	t->first = malloc((size_t)out * sizeof *t->first);
	t->n = malloc((size_t)out * sizeof *t->n);
	t->w = malloc((size_t)out * t->max_n * sizeof *t->w);
	if (!t->first || !t->n || !t->w)
		return od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; i < out; i++) {
		const double center = (i + 0.5) * scale;
		int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
		lo = lo < 0 ? 0 : lo;
		hi = hi > in ? in : hi;
		int n = hi - lo;
		if (n > t->max_n)
			n = t->max_n;
		double sum = 0, ws[64];
		double *wv = t->max_n <= 64 ? ws : malloc((size_t)t->max_n * sizeof *wv);
		if (!wv)
			return od_error(OD_ENOMEM, "out of memory");
		for (int k = 0; k < n; k++) {
			double x = (k + lo - center + 0.5) / fscale;
			x = x < 0 ? -x : x;
			wv[k] = x < 1.0 ? 1.0 - x : 0.0;
			sum += wv[k];
		}
		for (int k = 0; k < n; k++)
			t->w[(size_t)i * t->max_n + k] = (float)(sum > 0 ? wv[k] / sum : 0.0);
		if (wv != ws)
			free(wv);
		t->first[i] = lo;
		t->n[i] = n;
	}
	return OD_OK;
}

static void taps_free(struct taps *t)
{
	free(t->first);
	free(t->n);
	free(t->w);
}

int od_image_resize(const struct od_image *in, int w, int h, struct od_image *out)
{
	if (w < 1 || h < 1)
		return od_error(OD_EINVAL, "cannot resize to %dx%d", w, h);
	const int C = in->channels, W = in->width, H = in->height;
	struct taps tx = { 0 }, ty = { 0 };
	float *mid = NULL; /* (H, w, C): the horizontal pass */
	int rc = taps_make(&tx, W, w);
	if (!rc)
		rc = taps_make(&ty, H, h);
	if (!rc && !(mid = malloc((size_t)H * w * C * sizeof *mid)))
		rc = od_error(OD_ENOMEM, "out of memory");
	if (!rc)
		rc = od_image_alloc(out, w, h, C);
	if (!rc) {
		for (int y = 0; y < H; y++)
			for (int x = 0; x < w; x++)
				for (int c = 0; c < C; c++) {
					float s = 0;
					const float *wt = tx.w + (size_t)x * tx.max_n;
					const uint8_t *src = in->data + ((size_t)y * W + tx.first[x]) * C + c;
					for (int k = 0; k < tx.n[x]; k++)
						s += wt[k] * src[(size_t)k * C];
					mid[((size_t)y * w + x) * C + c] = s;
				}
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				for (int c = 0; c < C; c++) {
					float s = 0;
					const float *wt = ty.w + (size_t)y * ty.max_n;
					for (int k = 0; k < ty.n[y]; k++)
						s += wt[k] * mid[((size_t)(ty.first[y] + k) * w + x) * C + c];
					s = rintf(s);
					out->data[((size_t)y * w + x) * C + c] = (uint8_t)(s < 0 ? 0 : s > 255 ? 255 : s);
				}
	}
	free(mid);
	taps_free(&tx);
	taps_free(&ty);
	return rc;
}
