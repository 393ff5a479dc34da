/*
 * test_image: the picture library pieces that are easiest to pin down one by
 * one: ASPECT_RATIO_512 buckets (expected values computed with Python's
 * get_closest_ratio), CenterCropResizeImage crop boxes (Python floats), the
 * bilinear resize against torch's known answers, EXIF parsing and the eight
 * orientations, PNG/JPEG round trips through od's writers and readers, size
 * limits, luma, the Spectral table's anchors, contact sheets, and the uint8
 * conversion.
 */
#include "od.h"
#include "formats/image.h"
#include "formats/image16.h"
#include "pipeline/postprocess.h"
#include "pipeline/preprocess.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void buckets(void)
{
	/* (h, w) -> key, from Python: min(keys, key=lambda r: abs(float(r) - h/w)) */
	static const struct { int h, w; const char *key; } c[] = {
		{ 75, 100, "0.72" }, /* 0.75 is a tie of 0.72 and 0.78: the first key wins */
		{ 100, 75, "1.29" }, { 1, 1, "1.0" }, { 3, 4, "0.72" }, { 4, 3, "1.29" }, { 1080, 1920, "0.57" },
		{ 1920, 1080, "1.75" }, { 1, 10, "0.25" }, { 10, 1, "4.0" }, { 600, 800, "0.72" }, { 200, 100, "2.0" },
		{ 7, 9, "0.78" }, { 9, 7, "1.29" }, { 123, 456, "0.27" },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		const struct od_bucket *b = od_bucket_closest(c[i].h, c[i].w);
		ok(!strcmp(b->ratio, c[i].key), "bucket of %dx%d (h x w) is %s (got %s: %dx%d)", c[i].h, c[i].w, c[i].key,
		   b->ratio, b->height, b->width);
	}
	const struct od_bucket *b = od_bucket_closest(512, 512);
	ok(b->height == 512 && b->width == 512, "1.0 -> 512x512 (numerics.md §6.3)");
	b = od_bucket_closest(78, 100);
	ok(b->height == 448 && b->width == 576, "0.78 -> 448x576 (h x w)");
	b = od_bucket_closest(129, 100);
	ok(b->height == 576 && b->width == 448, "1.29 -> 576x448");
	ok(od_preprocess_check_size(448, 576) == OD_OK && od_preprocess_check_size(16, 4096) == OD_OK,
	   "explicit sizes: multiples of 16 (pipe:859-860)");
	ok(od_preprocess_check_size(100, 64) == OD_EINVAL && !strcmp(od_errmsg(), "100x64 is not a multiple of 16") &&
		   od_preprocess_check_size(64, 8) == OD_EINVAL && od_preprocess_check_size(0, 16) == OD_EINVAL,
	   "sizes that are not: refused (%s)", od_errmsg());
	int sorted = 1, mult = 1;
	for (int i = 0; i < OD_N_ASPECT_RATIO_512; i++) {
		if (i && strtod(od_aspect_ratio_512[i].ratio, NULL) <= strtod(od_aspect_ratio_512[i - 1].ratio, NULL))
			sorted = 0;
		mult &= od_aspect_ratio_512[i].height % 32 == 0 && od_aspect_ratio_512[i].width % 32 == 0;
	}
	ok(sorted && mult, "40 buckets, keys increasing, sides multiples of 32");
}

static void crops(void)
{
	/* (src h, src w, H, W) -> (y, x, crop h, crop w), from Python's CenterCropResizeImage */
	static const int c[][8] = {
		{ 75, 100, 64, 64, 0, 12, 75, 75 },      { 100, 75, 64, 64, 12, 0, 75, 75 },
		{ 75, 100, 416, 576, 1, 0, 72, 100 },    { 480, 640, 512, 512, 0, 80, 480, 480 },
		{ 1080, 1920, 384, 672, 0, 15, 1080, 1890 }, { 7, 9, 448, 576, 0, 0, 6, 9 },
		{ 333, 517, 576, 448, 0, 129, 333, 259 }, { 64, 64, 64, 64, 0, 0, 64, 64 },
		{ 1000, 10, 1024, 256, 480, 0, 40, 10 },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		int y, x, ch, cw;
		od_crop_box(c[i][0], c[i][1], c[i][2], c[i][3], &y, &x, &ch, &cw);
		ok(y == c[i][4] && x == c[i][5] && ch == c[i][6] && cw == c[i][7],
		   "crop of %dx%d for %dx%d is (%d, %d, %d, %d) (got %d, %d, %d, %d)", c[i][0], c[i][1], c[i][2], c[i][3],
		   c[i][4], c[i][5], c[i][6], c[i][7], y, x, ch, cw);
	}
}

static void resize(void)
{
	/* a 1×2 picture [0, 255] widened to 1×4: torch gives [0, 0.25, 0.75, 1] */
	struct od_image img;
	od_image_alloc(&img, 2, 1, 1);
	img.data[1] = 255;
	float out[3 * 4];
	od_resize_bilinear(&img, 0, 0, 1, 2, 1, 4, out);
	const float want[4] = { 0, 0.25f, 0.75f, 1 };
	ok_close(out, want, 4, 1e-7, 0, "bilinear 2 -> 4 (align_corners=False, edges clamped)");
	/* 4 -> 2 without antialias: samples at 0.5 and 2.5 */
	od_image_free(&img);
	od_image_alloc(&img, 4, 1, 1);
	img.data[0] = 0, img.data[1] = 51, img.data[2] = 102, img.data[3] = 255;
	od_resize_bilinear(&img, 0, 0, 1, 4, 1, 2, out);
	const float want2[2] = { 25.5f / 255.0f, (102 + 255) / 2.0f / 255.0f };
	ok_close(out, want2, 2, 1e-7, 0, "bilinear 4 -> 2 (no antialias)");
	od_image_free(&img);
}

static void exif(void)
{
	uint8_t le[26] = { 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t be[26] = { 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0 };
	ok(od_exif_orientation(le, sizeof le) == 6, "EXIF little-endian orientation 6");
	ok(od_exif_orientation(be, sizeof be) == 8, "EXIF big-endian orientation 8");
	le[4] = 200;
	ok(od_exif_orientation(le, sizeof le) == 1, "IFD offset past the end: no orientation");
	le[4] = 8;
	ok(od_exif_orientation(le, 20) == 1, "an entry cut short: no orientation");
	le[18] = 9;
	ok(od_exif_orientation(le, sizeof le) == 1, "orientation 9 is ignored");
	ok(od_exif_orientation((const uint8_t *)"junkjunkjunk", 12) == 1, "not TIFF: no orientation");

	/* a 3×2 picture "abc/def" under each orientation, as PIL's exif_transpose shows it */
	static const char *want[9] = { "", "abc/def", "cba/fed", "fed/cba", "def/abc", "ad/be/cf", "da/eb/fc", "fc/eb/da",
				       "cf/be/ad" };
	for (int o = 1; o <= 8; o++) {
		struct od_image img;
		od_image_alloc(&img, 3, 2, 1);
		memcpy(img.data, "abcdef", 6);
		od_image_orient(&img, o);
		char got[16] = "";
		for (int y = 0, k = 0; y < img.height; y++) {
			if (y)
				got[k++] = '/';
			for (int x = 0; x < img.width; x++)
				got[k++] = (char)img.data[y * img.width + x];
		}
		ok(!strcmp(got, want[o]), "orientation %d: %s (got %s)", o, want[o], got);
		od_image_free(&img);
	}
}

static void roundtrip(void)
{
	char dir[] = "/tmp/odimgXXXXXX";
	if (!ok(mkdtemp(dir) != NULL, "temporary directory"))
		return;
	char png[64], jpg[64];
	snprintf(png, sizeof png, "%s/a.png", dir);
	snprintf(jpg, sizeof jpg, "%s/a.jpg", dir);
	struct od_image img, back;
	od_image_alloc(&img, 40, 24, 3);
	for (int i = 0; i < 40 * 24 * 3; i++)
		img.data[i] = (uint8_t)(i * 37 % 251);
	struct od_meta_entry meta[2] = { { "prompt", "a cat, caf\xc3\xa9" }, { "seed", "42" } };
	struct od_out o;
	ok(!od_out_open(&o, png) && !od_image_write_png(&o, &img, meta, 2) && !od_out_commit(&o), "write PNG");
	ok(!od_image_read_file(&back, png, NULL) && back.width == 40 && back.height == 24 &&
		   !memcmp(back.data, img.data, 40 * 24 * 3),
	   "PNG round trip is exact");
	od_image_free(&back);
	/* grey PNG reads back as RGB with r = g = b */
	struct od_image g;
	od_image_luma(&img, &g);
	ok(!od_out_open(&o, png) && !od_image_write_png(&o, &g, NULL, 0) && !od_out_commit(&o), "write grey PNG");
	int same = !od_image_read_file(&back, png, NULL);
	for (int i = 0; same && i < 40 * 24; i++)
		same = back.data[3 * i] == g.data[i] && back.data[3 * i + 1] == g.data[i] && back.data[3 * i + 2] == g.data[i];
	ok(same, "grey PNG reads back replicated");
	od_image_free(&back);
	od_image_free(&g);
	/* JPEG at quality 100 on a smooth picture stays close */
	for (int y = 0; y < 24; y++)
		for (int x = 0; x < 40; x++)
			for (int c = 0; c < 3; c++)
				img.data[(y * 40 + x) * 3 + c] = (uint8_t)(x * 4 + y * 2 + c * 20);
	ok(!od_out_open(&o, jpg) && !od_image_write_jpeg(&o, &img, 100, meta, 2) && !od_out_commit(&o), "write JPEG");
	int worst = 0;
	if (ok(!od_image_read_file(&back, jpg, NULL) && back.width == 40 && back.height == 24, "JPEG reads back"))
		for (int i = 0; i < 40 * 24 * 3; i++)
			worst = abs(back.data[i] - img.data[i]) > worst ? abs(back.data[i] - img.data[i]) : worst;
	ok(worst <= 6, "JPEG q100 round trip within 6 levels (worst %d)", worst);
	od_image_free(&back);
	/* limits: a tighter budget refuses the same file before decoding */
	struct od_image_opts tight = { .max_pixels = 100 };
	ok(od_image_read_file(&back, png, &tight) == OD_EFORMAT && strstr(od_errmsg(), "over the size limit"),
	   "pixel budget: %s", od_errmsg());
	tight = (struct od_image_opts){ .max_side = 30 };
	ok(od_image_read_file(&back, jpg, &tight) == OD_EFORMAT && strstr(od_errmsg(), "over the size limit"),
	   "side limit: %s", od_errmsg());
	ok(od_image_read_mem(&back, "GIF89a....", 10, "x.gif", NULL) == OD_EFORMAT &&
		   !strcmp(od_errmsg(), "'x.gif': not a PNG or JPEG image"),
	   "unknown format: %s", od_errmsg());
	ok(od_image_read_file(&back, "/nonexistent/x.png", NULL) == OD_EIO, "missing file is an I/O error");
	ok(od_image_format_from_name("a/b.JPEG") == OD_IMAGE_JPEG && od_image_format_from_name("x.png") == OD_IMAGE_PNG &&
		   od_image_format_from_name("x.png/y") == OD_IMAGE_UNKNOWN,
	   "formats from names");
	/* a chunk whose header claims more bytes than the file holds: the file is
	 * truncated there (png_source.h), for both PNG readers */
	FILE *f = fopen(png, "rb");
	uint8_t bytes[33 + 12];
	if (ok(f && fread(bytes, 1, 33, f) == 33, "read a PNG's signature and IHDR")) {
		memcpy(bytes + 33, "\x7f\xff\xff\xf0tEXtabcd", 12);
		ok(od_image_read_mem(&back, bytes, sizeof bytes, "cut.png", NULL) == OD_EFORMAT &&
			   !strcmp(od_errmsg(), "'cut.png': truncated PNG data"),
		   "a 2 GB tEXt claim in a 45-byte file: %s", od_errmsg());
		struct od_image16 d16;
		ok(od_image16_read_mem(&d16, bytes, sizeof bytes, "cut.png", NULL) == OD_EFORMAT &&
			   !strcmp(od_errmsg(), "'cut.png': truncated PNG data"),
		   "the same through the 16-bit reader: %s", od_errmsg());
	}
	if (f)
		fclose(f);
	od_image_free(&img);
	unlink(png);
	unlink(jpg);
	rmdir(dir);
}

static void postprocess(void)
{
	struct od_image img, g;
	od_image_alloc(&img, 3, 1, 3);
	const uint8_t px[9] = { 255, 0, 0, 0, 255, 0, 0, 0, 255 };
	memcpy(img.data, px, 9);
	od_image_luma(&img, &g);
	ok(g.data[0] == 76 && g.data[1] == 150 && g.data[2] == 29, "PIL luma of red, green, blue: 76 150 29 (got %d %d %d)",
	   g.data[0], g.data[1], g.data[2]);
	od_image_free(&g);
	ok(!memcmp(od_spectral_lut[0], "\x9e\x01\x42", 3) && !memcmp(od_spectral_lut[255], "\x5e\x4f\xa2", 3),
	   "Spectral ends at ColorBrewer's (158,1,66) and (94,79,162)");
	/* depth display: brightest -> index 0 (red end), darkest -> 255 */
	memcpy(img.data, "\xff\xff\xff\x00\x00\x00\x80\x80\x80", 9);
	struct od_image d;
	od_depth_colorize(&img, &d);
	ok(!memcmp(d.data, od_spectral_lut[0], 3) && !memcmp(d.data + 3, od_spectral_lut[255], 3),
	   "near (bright) is red, far (dark) is blue");
	/* 128 of 0..255: d = 1 - 128/255 = 0.498, index int(0.498·256) = 127 */
	ok(!memcmp(d.data + 6, od_spectral_lut[127], 3), "mid grey takes entry 127");
	od_image_free(&d);
	memset(img.data, 9, 9);
	od_depth_colorize(&img, &d);
	ok(d.data[0] == 0 && d.data[4] == 0, "a flat picture is black");
	od_image_free(&d);
	od_image_free(&img);
	/* uint8: clamp(x/2 + 0.5)·255, half to even */
	float x[3 * 2] = { -1, 1, -3, 3, 0, -0.0f };
	od_image_from_decoded(x, 1, 2, &img);
	ok(img.data[0] == 0 && img.data[3] == 255 && img.data[1] == 0 && img.data[4] == 255 && img.data[2] == 128 &&
		   img.data[5] == 128,
	   "decoded -1/1/clamped/0 -> 0/255/0,255/128");
	od_image_free(&img);
	/* contact sheet: 3 pictures, auto grid 2x2, grey widened to RGB */
	struct od_image p[3];
	od_image_alloc(&p[0], 2, 2, 3);
	od_image_alloc(&p[1], 1, 1, 1);
	od_image_alloc(&p[2], 2, 1, 3);
	memset(p[0].data, 10, 12);
	p[1].data[0] = 200;
	memset(p[2].data, 30, 6);
	int cols, rows;
	od_grid_auto(3, &cols, &rows);
	ok(cols == 2 && rows == 2, "auto grid for 3 is 2x2");
	struct od_image s;
	ok(!od_contact_sheet(p, 3, cols, rows, &s) && s.width == 4 && s.height == 4 && s.channels == 3, "sheet 4x4 RGB");
	ok(s.data[0] == 10 && s.data[(0 * 4 + 2) * 3 + 1] == 200 && s.data[(0 * 4 + 3) * 3] == 0 &&
		   s.data[(2 * 4 + 1) * 3 + 2] == 30 && s.data[(3 * 4 + 3) * 3] == 0,
	   "pictures at their cells' corners, black elsewhere");
	ok(od_contact_sheet(p, 3, 1, 2, &g) == OD_EINVAL, "3 pictures do not fit 1x2");
	od_image_free(&s);
	for (int i = 0; i < 3; i++)
		od_image_free(&p[i]);
}

int main(void)
{
	buckets();
	crops();
	resize();
	exif();
	roundtrip();
	postprocess();
	return tap_done();
}
