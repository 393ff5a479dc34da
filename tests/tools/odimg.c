/*
 * odimg: picture helpers for the image tests (a test tool).
 *
 *   odimg make KIND OUT     write a small test picture of the given kind
 *   odimg cmp [--max N] A B compare two pictures' 8-bit RGB (as od reads them);
 *                           passes when no sample differs by more than N
 *                           (default 0). An operand is a PNG/JPEG file or
 *                           FILE.safetensors:NAME[i], a U8 (n, H, W, 3) tensor.
 *   odimg info FILE         print "W H" of the picture as od reads it
 *   odimg pixel FILE X Y    print "R G B" of one pixel
 *   odimg synth SEED W H OUT  a W×H PNG of a synthetic scene for training tests:
 *                           a two-colour gradient with random flat rectangles and
 *                           discs, deterministic from SEED (the colours and
 *                           shapes of synthetic pictures, depth-like ramps and
 *                           label-like flat regions with sharp edges)
 *   odimg text FILE.png     print the PNG's text chunks (tEXt, zTXt, iTXt) as
 *                           "KEY=VALUE" lines, a line break in a value as \n,
 *                           read with libpng (not with od's reader)
 *   odimg twice ONCE TWICE  check that the frame stream TWICE holds 2x - 1 of
 *                           ONCE's values, exactly (upstream's second
 *                           normalisation, numerics.md §6.3 item 4)
 *
 * The pictures are written with libpng and libjpeg directly, not with od's
 * writers, so that the readers are tested against an independent encoder.
 * Every kind shows the same synthetic 48×32 scene (flat coloured quadrants, a
 * gradient bar and a marker in one corner, so any flip or rotation shows),
 * using only the 216 colours of a 6×6×6 cube (palettes hold it exactly):
 *
 *   png-rgb8 png-rgba8 png-rgb16 png-rgba16 png-pal png-pal-trns png-interlaced
 *                           the scene (alpha varies, and is dropped by the reader)
 *   png-gray8 png-graya8 png-gray16 png-gray1 png-gray4 png-gray-ref
 *                           a grey scene (png-gray-ref: the same as 8-bit RGB);
 *                           png-gray1/4 hold the levels a 1/4-bit file can,
 *                           png-gray-ref1/png-gray-ref4 are their RGB twins
 *   png-exifN (N = 1..8)    the scene stored so that EXIF orientation N shows
 *                           it upright (an eXIf chunk)
 *   jpeg-base jpeg-prog jpeg-gray jpeg-exifN
 *                           quality 100, 4:4:4; jpeg-exifN stored as png-exifN
 *   jpeg-cmyk               a CMYK JPEG (od refuses those)
 *   png-bright              the scene squeezed into 128..255 (every pixel > 0.5)
 *   png-huge jpeg-huge      headers claiming 100000×100000 / 60000×60000 pixels
 * Exit 0 ok, 1 mismatch, 2 usage or unreadable input.
 */
#include "od.h"
#include "formats/image.h"

#include <jpeglib.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SW 48
#define SH 32

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "odimg: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(2);
}

/* The scene: (SH, SW) RGB, cube colours only. */
static void scene(uint8_t *rgb)
{
	for (int y = 0; y < SH; y++)
		for (int x = 0; x < SW; x++) {
			uint8_t *p = rgb + (y * SW + x) * 3;
			int q = (y >= SH / 2) * 2 + (x >= SW / 2);
			static const uint8_t quad[4][3] = { { 255, 51, 0 }, { 0, 153, 51 }, { 51, 102, 255 }, { 204, 204, 0 } };
			memcpy(p, quad[q], 3);
			if (y >= 12 && y < 20) /* a gradient bar */
				p[0] = p[1] = p[2] = (uint8_t)(51 * ((x * 6) / SW));
			if (x < 6 && y < 4) /* the top-left marker */
				p[0] = p[1] = p[2] = 255;
		}
}

static uint8_t grey_of(const uint8_t *p)
{
	return (uint8_t)((p[0] + 2 * p[1] + p[2]) / 4);
}

/* The stored picture for EXIF orientation o, so that a reader honouring it
 * shows the scene upright. Written from the TIFF definition of the tag (which
 * visual side the stored 0th row and 0th column are), not from od's code:
 *   1 top/left  2 top/right  3 bottom/right  4 bottom/left
 *   5 left/top  6 right/top  7 right/bottom  8 left/bottom */
static void stored_for(int o, const uint8_t *rgb, uint8_t *out, int *w, int *h)
{
	static const char row_side[9] = "?TTBBLRRL", col_side[9] = "?LRRLTTBB";
	const int across = o >= 5; /* stored rows run along the visual vertical sides */
	const int Ws = across ? SH : SW, Hs = across ? SW : SH;
	for (int r = 0; r < Hs; r++)
		for (int c = 0; c < Ws; c++) {
			int xd, yd;
			if (!across) {
				yd = row_side[o] == 'T' ? r : Hs - 1 - r;
				xd = col_side[o] == 'L' ? c : Ws - 1 - c;
			} else {
				xd = row_side[o] == 'L' ? r : Hs - 1 - r;
				yd = col_side[o] == 'T' ? c : Ws - 1 - c;
			}
			memcpy(out + ((size_t)r * Ws + c) * 3, rgb + ((size_t)yd * SW + xd) * 3, 3);
		}
	*w = Ws;
	*h = Hs;
}

static size_t exif_block(int o, uint8_t *b)
{
	/* TIFF little-endian, IFD0 with one entry: Orientation (0x0112) SHORT 1 = o */
	static const uint8_t t[] = { 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	memcpy(b, t, sizeof t);
	b[18] = (uint8_t)o;
	return sizeof t;
}

static void write_png(const char *path, int w, int h, int ctype, int depth, const uint8_t *rgb, int interlace,
		      int exif, int trns)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		die("cannot write", path);
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	if (setjmp(png_jmpbuf(png)))
		die("libpng failed", path);
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype,
		     interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_color pal[216];
	if (ctype == PNG_COLOR_TYPE_PALETTE) {
		for (int i = 0; i < 216; i++)
			pal[i] = (png_color){ (png_byte)(51 * (i / 36)), (png_byte)(51 * (i / 6 % 6)), (png_byte)(51 * (i % 6)) };
		png_set_PLTE(png, info, pal, 216);
		if (trns) {
			png_byte a[216];
			for (int i = 0; i < 216; i++)
				a[i] = (png_byte)(i * 7);
			png_set_tRNS(png, info, a, 216, NULL);
		}
	}
	uint8_t eb[32];
	if (exif)
		png_set_eXIf_1(png, info, (png_uint_32)exif_block(exif, eb), eb);
	png_write_info(png, info);
	int ch = ctype == PNG_COLOR_TYPE_RGB ? 3 : ctype == PNG_COLOR_TYPE_RGBA ? 4 : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
	size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
	uint8_t *row = calloc(rowbytes, 1);
	int passes = interlace ? png_set_interlace_handling(png) : 1;
	for (int pass = 0; pass < passes; pass++)
		for (int y = 0; y < h; y++) {
			memset(row, 0, rowbytes);
			for (int x = 0; x < w; x++) {
				const uint8_t *p = rgb + ((size_t)y * w + x) * 3;
				unsigned v[4] = { p[0], p[1], p[2], (unsigned)(x * 5 + y) & 255 };
				if (ctype == PNG_COLOR_TYPE_PALETTE) {
					row[x] = (uint8_t)((p[0] / 51) * 36 + (p[1] / 51) * 6 + p[2] / 51);
					continue;
				}
				if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA) {
					v[0] = p[0]; /* grey scenes have r = g = b */
					v[1] = v[3];
				}
				if (depth < 8) { /* p holds a level that the depth can express */
					int per = 8 / depth, maxv = (1 << depth) - 1;
					unsigned lv = v[0] * (unsigned)maxv / 255;
					row[x / per] |= (uint8_t)(lv << (8 - depth * (x % per + 1)));
					continue;
				}
				for (int c = 0; c < ch; c++) {
					if (depth == 16) { /* low byte differs from the high byte: it must be dropped */
						row[(x * ch + c) * 2] = (uint8_t)v[c];
						row[(x * ch + c) * 2 + 1] = (uint8_t)(255 - v[c]);
					} else {
						row[x * ch + c] = (uint8_t)v[c];
					}
				}
			}
			png_write_row(png, row);
		}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	free(row);
	fclose(f);
}

static void write_jpeg(const char *path, int w, int h, const uint8_t *rgb, int gray, int progressive, int exif,
		       int cmyk)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		die("cannot write", path);
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_stdio_dest(&c, f);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = cmyk ? 4 : gray ? 1 : 3;
	c.in_color_space = cmyk ? JCS_CMYK : gray ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 100, TRUE);
	for (int i = 0; i < c.num_components; i++)
		c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1; /* 4:4:4 */
	if (progressive)
		jpeg_simple_progression(&c);
	jpeg_start_compress(&c, TRUE);
	if (exif) {
		uint8_t b[64] = "Exif\0\0";
		size_t n = 6 + exif_block(exif, b + 6);
		jpeg_write_marker(&c, JPEG_APP0 + 1, b, (unsigned)n);
	}
	uint8_t *row = malloc((size_t)w * 4);
	while (c.next_scanline < c.image_height) {
		const uint8_t *p = rgb + (size_t)c.next_scanline * w * 3;
		for (int x = 0; x < w; x++) {
			if (cmyk) {
				for (int k = 0; k < 3; k++)
					row[4 * x + k] = (uint8_t)(255 - p[3 * x + k]);
				row[4 * x + 3] = 0;
			} else if (gray) {
				row[x] = p[3 * x];
			} else {
				memcpy(row + 3 * x, p + 3 * x, 3);
			}
		}
		JSAMPROW r = row;
		jpeg_write_scanlines(&c, &r, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	free(row);
	fclose(f);
}

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void make(const char *kind, const char *out)
{
	uint8_t rgb[SW * SH * 3], grey[SW * SH * 3], st[SW * SH * 3];
	scene(rgb);
	for (int i = 0; i < SW * SH; i++)
		memset(grey + 3 * i, grey_of(rgb + 3 * i), 3);
	int n, w, h;
	if (!strcmp(kind, "png-rgb8"))
		write_png(out, SW, SH, PNG_COLOR_TYPE_RGB, 8, rgb, 0, 0, 0);
	else if (!strcmp(kind, "png-rgba8"))
		write_png(out, SW, SH, PNG_COLOR_TYPE_RGBA, 8, rgb, 0, 0, 0);
	else if (!strcmp(kind, "png-rgb16"))
		write_png(out, SW, SH, PNG_COLOR_TYPE_RGB, 16, rgb, 0, 0, 0);
	else if (!strcmp(kind, "png-rgba16"))
		write_png(out, SW, SH, PNG_COLOR_TYPE_RGBA, 16, rgb, 0, 0, 0);
	else if (!strcmp(kind, "png-pal"))
		write_png(out, SW, SH, PNG_COLOR_TYPE_PALETTE, 8, rgb, 0, 0, 0);
	else if (!strcmp(kind, "png-pal-trns"))
		write_png(out, SW, SH, PNG_COLOR_TYPE_PALETTE, 8, rgb, 0, 0, 1);
	else if (!strcmp(kind, "png-interlaced"))
		write_png(out, SW, SH, PNG_COLOR_TYPE_RGB, 8, rgb, 1, 0, 0);
	else if (!strcmp(kind, "png-gray8"))
		write_png(out, SW, SH, PNG_COLOR_TYPE_GRAY, 8, grey, 0, 0, 0);
	else if (!strcmp(kind, "png-graya8"))
		write_png(out, SW, SH, PNG_COLOR_TYPE_GRAY_ALPHA, 8, grey, 0, 0, 0);
	else if (!strcmp(kind, "png-gray16"))
		write_png(out, SW, SH, PNG_COLOR_TYPE_GRAY, 16, grey, 0, 0, 0);
	else if (!strcmp(kind, "png-gray-ref"))
		write_png(out, SW, SH, PNG_COLOR_TYPE_RGB, 8, grey, 0, 0, 0);
	else if (!strcmp(kind, "png-gray1") || !strcmp(kind, "png-gray-ref1") || !strcmp(kind, "png-gray4") ||
		 !strcmp(kind, "png-gray-ref4")) {
		/* levels a low-bit file holds, and their 8-bit values (libpng and PIL
		 * scale a b-bit level l to l·255/(2^b − 1)) */
		int bits = kind[strlen(kind) - 1] - '0', maxv = (1 << bits) - 1;
		for (int i = 0; i < SW * SH; i++) {
			int l = grey[3 * i] * maxv / 255;
			memset(st + 3 * i, l * 255 / maxv, 3);
		}
		if (strstr(kind, "ref"))
			write_png(out, SW, SH, PNG_COLOR_TYPE_RGB, 8, st, 0, 0, 0);
		else
			write_png(out, SW, SH, PNG_COLOR_TYPE_GRAY, bits, st, 0, 0, 0);
	} else if (sscanf(kind, "png-exif%d", &n) == 1 && n >= 1 && n <= 8) {
		stored_for(n, rgb, st, &w, &h);
		write_png(out, w, h, PNG_COLOR_TYPE_RGB, 8, st, 0, n, 0);
	} else if (!strcmp(kind, "png-bright")) {
		for (int i = 0; i < SW * SH * 3; i++)
			st[i] = (uint8_t)(128 + rgb[i] / 2);
		write_png(out, SW, SH, PNG_COLOR_TYPE_RGB, 8, st, 0, 0, 0);
	} else if (!strcmp(kind, "jpeg-base"))
		write_jpeg(out, SW, SH, rgb, 0, 0, 0, 0);
	else if (!strcmp(kind, "jpeg-prog"))
		write_jpeg(out, SW, SH, rgb, 0, 1, 0, 0);
	else if (!strcmp(kind, "jpeg-gray"))
		write_jpeg(out, SW, SH, grey, 1, 0, 0, 0);
	else if (!strcmp(kind, "jpeg-cmyk"))
		write_jpeg(out, SW, SH, rgb, 0, 0, 0, 1);
	else if (sscanf(kind, "jpeg-exif%d", &n) == 1 && n >= 1 && n <= 8) {
		stored_for(n, rgb, st, &w, &h);
		write_jpeg(out, w, h, st, 0, 0, n, 0);
	} else if (!strcmp(kind, "png-huge")) {
		/* signature, an IHDR of 100000×100000 RGB with a correct CRC, an
		 * empty IDAT, IEND */
		uint8_t b[8 + 25 + 12 + 12] = "\x89PNG\r\n\x1a\n";
		uint8_t *p = b + 8;
		put32(p, 13);
		memcpy(p + 4, "IHDR", 4);
		put32(p + 8, 100000);
		put32(p + 12, 100000);
		p[16] = 8, p[17] = 2, p[18] = p[19] = p[20] = 0;
		put32(p + 21, crc32_png(p + 4, 17));
		p += 25;
		put32(p, 0);
		memcpy(p + 4, "IDAT", 4);
		put32(p + 8, crc32_png(p + 4, 4));
		p += 12;
		put32(p, 0);
		memcpy(p + 4, "IEND", 4);
		put32(p + 8, crc32_png(p + 4, 4));
		FILE *f = fopen(out, "wb");
		if (!f || fwrite(b, sizeof b, 1, f) != 1 || fclose(f))
			die("cannot write", out);
	} else if (!strcmp(kind, "jpeg-huge")) {
		write_jpeg(out, SW, SH, rgb, 0, 0, 0, 0);
		FILE *f = fopen(out, "r+b");
		uint8_t b[4096];
		size_t len = f ? fread(b, 1, sizeof b, f) : 0;
		for (size_t i = 2; i + 9 < len; i++)
			if (b[i] == 0xff && b[i + 1] == 0xc0) { /* SOF0: length, precision, height, width */
				b[i + 5] = b[i + 7] = 0xea, b[i + 6] = b[i + 8] = 0x60;
				fseek(f, 0, SEEK_SET);
				fwrite(b, len, 1, f);
				break;
			}
		if (!f || fclose(f))
			die("cannot patch", out);
	} else {
		die("unknown kind", kind);
	}
}

/* An operand as 8-bit RGB. */
static void load(const char *spec, struct od_image *img)
{
	const char *colon = strstr(spec, ".safetensors:");
	if (!colon) {
		if (od_image_read_file(img, spec, NULL))
			die(od_errmsg(), NULL);
		return;
	}
	char path[4096], name[256];
	snprintf(path, sizeof path, "%.*s", (int)(colon + 12 - spec), spec);
	snprintf(name, sizeof name, "%s", colon + 13);
	long idx = 0;
	char *br = strchr(name, '[');
	if (br) {
		idx = strtol(br + 1, NULL, 10);
		*br = 0;
	}
	struct od_safetensors st;
	if (od_st_open(&st, path))
		die(od_errmsg(), NULL);
	const struct od_tensor *t = od_st_find(&st, name);
	if (!t || t->dtype != OD_U8 || t->ndim != 4 || t->shape[3] != 3 || idx < 0 || idx >= t->shape[0])
		die("not a U8 (n, H, W, 3) tensor with that index", spec);
	int H = (int)t->shape[1], W = (int)t->shape[2];
	if (od_image_alloc(img, W, H, 3))
		die(od_errmsg(), NULL);
	memcpy(img->data, (const uint8_t *)t->data + (size_t)idx * H * W * 3, (size_t)H * W * 3);
	od_st_close(&st);
}

static uint64_t synth_state;
static uint32_t synth_next(void)
{
	synth_state = synth_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(synth_state >> 33);
}

static void synth(unsigned long seed, int w, int h, const char *out)
{
	synth_state = seed * 0x9e3779b97f4a7c15ull + 1;
	uint8_t *rgb = malloc((size_t)w * h * 3), c0[3], c1[3];
	if (!rgb)
		die("out of memory", "");
	for (int k = 0; k < 3; k++)
		c0[k] = (uint8_t)(synth_next() % 256), c1[k] = (uint8_t)(synth_next() % 256);
	int vertical = synth_next() % 2;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double t = vertical ? (double)y / (h - 1) : (double)x / (w - 1);
			for (int k = 0; k < 3; k++)
				rgb[((size_t)y * w + x) * 3 + k] = (uint8_t)(c0[k] + t * (c1[k] - c0[k]) + 0.5);
		}
	int shapes = 2 + synth_next() % 4;
	for (int s = 0; s < shapes; s++) {
		uint8_t col[3] = { (uint8_t)(synth_next() % 256), (uint8_t)(synth_next() % 256), (uint8_t)(synth_next() % 256) };
		int cx = synth_next() % w, cy = synth_next() % h, rx = 2 + synth_next() % (w / 3), ry = 2 + synth_next() % (h / 3);
		int disc = synth_next() % 2;
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				double dx = (double)(x - cx) / rx, dy = (double)(y - cy) / ry;
				if (disc ? dx * dx + dy * dy <= 1 : fabs(dx) <= 1 && fabs(dy) <= 1)
					memcpy(rgb + ((size_t)y * w + x) * 3, col, 3);
			}
	}
	write_png(out, w, h, PNG_COLOR_TYPE_RGB, 8, rgb, 0, 0, 0);
	free(rgb);
}

/* odimg text: the text chunks of a PNG. */
static int print_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("cannot open", path);
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info)
		die("out of memory", NULL);
	if (setjmp(png_jmpbuf(png)))
		die("not a readable PNG", path);
	png_init_io(png, f);
	png_read_info(png, info);
	/* the chunks after the image data too */
	png_set_expand(png);
	png_read_update_info(png, info);
	size_t rowbytes = png_get_rowbytes(png, info);
	png_uint_32 h = png_get_image_height(png, info);
	png_bytep row = malloc(rowbytes);
	int passes = png_set_interlace_handling(png);
	for (int p = 0; p < passes; p++)
		for (png_uint_32 y = 0; y < h; y++)
			png_read_row(png, row, NULL);
	free(row);
	png_read_end(png, info);
	png_textp text;
	int n = 0;
	png_get_text(png, info, &text, &n);
	for (int i = 0; i < n; i++) {
		printf("%s=", text[i].key);
		for (const char *c = text[i].text; *c; c++)
			if (*c == '\n')
				fputs("\\n", stdout);
			else
				putchar(*c);
		putchar('\n');
	}
	png_destroy_read_struct(&png, &info, NULL);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "text"))
		return print_text(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "make")) {
		make(argv[2], argv[3]);
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "synth")) {
		int w = atoi(argv[3]), h = atoi(argv[4]);
		if (w < 2 || h < 2 || w > 4096 || h > 4096)
			die("synth: bad size", argv[3]);
		synth(strtoul(argv[2], NULL, 10), w, h, argv[5]);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "info")) {
		struct od_image img;
		load(argv[2], &img);
		printf("%d %d\n", img.width, img.height);
		od_image_free(&img);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "pixel")) {
		struct od_image img;
		load(argv[2], &img);
		int x = atoi(argv[3]), y = atoi(argv[4]);
		if (x < 0 || y < 0 || x >= img.width || y >= img.height)
			die("pixel outside the picture", argv[2]);
		const uint8_t *p = img.data + ((size_t)y * img.width + x) * img.channels;
		printf("%d %d %d\n", p[0], p[img.channels > 1], p[img.channels > 1 ? 2 : 0]);
		od_image_free(&img);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "twice")) {
		struct od_reader a, b;
		struct od_frame fa, fb;
		if (od_reader_open(&a, argv[2]) || od_reader_open(&b, argv[3]) || od_reader_next(&a, &fa) != 1 ||
		    od_reader_next(&b, &fb) != 1)
			die(od_errmsg(), NULL);
		size_t n = (size_t)od_frame_numel(&fa);
		if (n != (size_t)od_frame_numel(&fb))
			die("different sizes", NULL);
		float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
		od_frame_to_f32(&fa, x);
		od_frame_to_f32(&fb, y);
		size_t bad = 0;
		for (size_t i = 0; i < n; i++)
			bad += y[i] != 2.0f * x[i] - 1.0f;
		printf("odimg: %s: %zu of %zu values differ from 2x - 1\n", bad ? "FAIL" : "ok", bad, n);
		free(x);
		free(y);
		od_frame_free(&fa);
		od_frame_free(&fb);
		od_reader_close(&a);
		od_reader_close(&b);
		return bad ? 1 : 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "cmp")) {
		int max = 0, i = 2;
		if (!strcmp(argv[2], "--max") && argc == 6) {
			max = atoi(argv[3]);
			i = 4;
		} else if (argc != 4) {
			die("usage: odimg cmp [--max N] A B", NULL);
		}
		struct od_image a, b;
		load(argv[i], &a);
		load(argv[i + 1], &b);
		if (a.width != b.width || a.height != b.height) {
			printf("odimg: FAIL %s is %dx%d, %s is %dx%d\n", argv[i], a.width, a.height, argv[i + 1], b.width,
			       b.height);
			return 1;
		}
		int worst = 0;
		size_t at = 0, n = (size_t)a.width * a.height * 3;
		for (size_t k = 0; k < n; k++) {
			int d = abs((int)a.data[k] - (int)b.data[k]);
			if (d > worst)
				worst = d, at = k;
		}
		int pass = worst <= max;
		printf("odimg: %s %s vs %s: max difference %d (limit %d)", pass ? "ok" : "FAIL", argv[i], argv[i + 1],
		       worst, max);
		if (!pass)
			printf(" at x %zu y %zu channel %zu: %d vs %d", at / 3 % a.width, at / 3 / a.width, at % 3,
			       a.data[at], b.data[at]);
		printf("\n");
		od_image_free(&a);
		od_image_free(&b);
		return pass ? 0 : 1;
	}
	die("usage: odimg make KIND OUT | cmp [--max N] A B | info FILE | pixel FILE X Y | text FILE | twice A B", NULL);
}
