/*
 * test_formats.c: element conversions (tensor.h), the safetensors reader and
 * writer, the frame stream reader and writer, and the parameter cache.
 */
#include "od.h"
#include "formats/frame_safetensors.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set byte `at` of frame `frame`'s header in the stream file at path (the
 * frames are walked by the lengths their headers give; od-frame(5)). */
static void set_header_byte(const char *path, int frame, int at, unsigned char v)
{
	FILE *fp = fopen(path, "r+b");
	long off = 0;
	unsigned char h[OD_FRAME_HEADER];
	for (int i = 0; fp && i <= frame; i++) {
		if (fseek(fp, off, SEEK_SET) || fread(h, 1, sizeof h, fp) != sizeof h)
			break;
		if (i == frame) {
			fseek(fp, off + at, SEEK_SET);
			fputc(v, fp);
			break;
		}
		uint32_t meta = (uint32_t)h[40] | (uint32_t)h[41] << 8 | (uint32_t)h[42] << 16 | (uint32_t)h[43] << 24;
		uint32_t mask = (uint32_t)h[44] | (uint32_t)h[45] << 8 | (uint32_t)h[46] << 16 | (uint32_t)h[47] << 24;
		uint64_t data = 0;
		for (int k = 7; k >= 0; k--)
			data = data << 8 | h[48 + k];
		off += (long)(OD_FRAME_HEADER + meta + mask + data);
	}
	if (fp)
		fclose(fp);
}

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static void test_conversions(void)
{
	/* BF16: round to nearest, ties to even */
	ok(od_f32_to_bf16(1.0f) == 0x3f80, "bf16(1) = 0x3f80");
	ok(od_f32_to_bf16(from_bits(0x3f808000)) == 0x3f80, "bf16 tie rounds to even (down)");
	ok(od_f32_to_bf16(from_bits(0x3f818000)) == 0x3f82, "bf16 tie rounds to even (up)");
	ok(od_f32_to_bf16(from_bits(0x3f808001)) == 0x3f81, "bf16 above the tie rounds up");
	ok(isnan(od_bf16_to_f32(od_f32_to_bf16(NAN))), "bf16 keeps NaN a NaN");
	ok(od_bf16_to_f32(od_f32_to_bf16(INFINITY)) == INFINITY, "bf16 keeps infinity");
	int exact = 1;
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = od_bf16_to_f32((uint16_t)h);
		if (!isnan(f) && od_f32_to_bf16(f) != h)
			exact = 0;
	}
	ok(exact, "bf16 -> f32 -> bf16 is the identity on all non-NaN values");
	/* F16 */
	ok(od_f32_to_f16(1.0f) == 0x3c00 && od_f16_to_f32(0x3c00) == 1.0f, "f16(1) = 0x3c00");
	ok(od_f16_to_f32(0x0001) == 0x1p-24f, "smallest f16 subnormal");
	ok(od_f32_to_f16(65520.0f) == 0x7c00 && od_f32_to_f16(65519.0f) == 0x7bff, "f16 overflow threshold");
	ok(od_f32_to_f16(0x1p-25f) == 0 && od_f32_to_f16(from_bits(bits(0x1p-25f) + 1)) == 1,
	   "f16 subnormal rounding: half of the smallest ties to zero, just above rounds up");
	exact = 1;
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = od_f16_to_f32((uint16_t)h);
		if (!isnan(f) && od_f32_to_f16(f) != h)
			exact = 0;
	}
	ok(exact, "f16 -> f32 -> f16 is the identity on all non-NaN values");
	/* F16 round to nearest even at a mantissa tie: 1 + 2^-11 lies halfway */
	ok(od_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00 && od_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02,
	   "f16 ties to even");
}

static int write_tmp(const char *path, const void *buf, size_t n)
{
	struct od_out o;
	if (od_out_open(&o, path))
		return -1;
	if (od_out_write(&o, buf, n) || od_out_commit(&o)) {
		od_out_abort(&o);
		return -1;
	}
	return 0;
}

static void test_safetensors(const char *dir)
{
	char path[512];
	snprintf(path, sizeof path, "%s/t.safetensors", dir);
	float a[6] = { 1, 2, 3, 4, 5, 6 };
	uint16_t b[3] = { 0x3f80, 0x4000, 0x4040 };
	int64_t sa[2] = { 2, 3 }, sb[1] = { 3 };
	struct od_st_writer *w = od_st_writer_new();
	od_st_writer_add(w, "z.weight", OD_F32, 2, sa, a);
	od_st_writer_add(w, "a.bias", OD_BF16, 1, sb, b);
	od_st_writer_meta(w, "format", "pt");
	struct od_out o;
	od_out_open(&o, path);
	ok(od_st_writer_write(w, &o, NULL, NULL) == OD_OK && od_out_commit(&o) == OD_OK, "write a safetensors file");
	od_st_writer_free(w);
	struct od_safetensors st;
	ok(od_st_open(&st, path) == OD_OK, "read it back");
	const struct od_tensor *t = od_st_find(&st, "z.weight");
	ok(t && t->dtype == OD_F32 && t->ndim == 2 && t->shape[1] == 3 && !memcmp(t->data, a, sizeof a), "F32 tensor intact");
	t = od_st_find(&st, "a.bias");
	ok(t && t->dtype == OD_BF16 && !memcmp(t->data, b, sizeof b), "BF16 tensor intact");
	ok(st.n_tensors == 2 && !strcmp(st.tensors[0].name, "a.bias"), "tensors sorted by name");
	ok(od_st_meta(&st, "format") && !strcmp(od_st_meta(&st, "format"), "pt"), "metadata");
	ok(!od_st_find(&st, "missing"), "missing tensor is NULL");
	uint64_t hl;
	memcpy(&hl, st.map.data, 8);
	ok(hl % 8 == 0, "header padded to a multiple of 8");
	od_st_close(&st);

	struct {
		const char *json;
		size_t data;
		const char *want;
	} bad[] = {
		{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "beyond the end" },
		{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needing 12" },
		{ "{\"t\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype" },
		{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8, "bad shape" },
		{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "bad data_offsets" },
		{ "{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4611686018427387904],\"data_offsets\":[0,8]}}", 8,
		  "too large" },
		{ "[1,2]", 0, "not a JSON object" },
		{ "{\"t\":", 0, "bad header JSON" },
		{ "{\"t\":1,\"t\":2}", 0, "bad header JSON" },
		{ "{\"__metadata__\":{\"k\":1}}", 0, "not a string" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		size_t jl = strlen(bad[i].json), n = 8 + jl + bad[i].data;
		unsigned char *buf = calloc(1, n);
		uint64_t l = jl;
		memcpy(buf, &l, 8);
		memcpy(buf + 8, bad[i].json, jl);
		struct od_safetensors s2 = { 0 };
		int rc = od_st_parse(&s2, buf, n, "bad.safetensors");
		ok(rc == OD_EFORMAT && strstr(od_errmsg(), bad[i].want) && strstr(od_errmsg(), "'bad.safetensors'"),
		   "refused with '%s' (%s)", bad[i].want, od_errmsg());
		free(buf);
	}
	unsigned char shortbuf[12] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
	struct od_safetensors s3 = { 0 };
	ok(od_st_parse(&s3, shortbuf, sizeof shortbuf, "x") == OD_EFORMAT && strstr(od_errmsg(), "does not fit"),
	   "absurd header length refused");
	ok(od_st_open(&s3, "/nonexistent/x.safetensors") != OD_OK && strstr(od_errmsg(), "cannot open"), "missing file");
}

static void test_frames(const char *dir)
{
	char path[512];
	snprintf(path, sizeof path, "%s/f.odf", dir);
	struct od_frame f, g;
	int64_t shape[3] = { 16, 4, 6 };
	ok(od_frame_init(&f, OD_KIND_LATENT, OD_ROLE_CONDITION, OD_BF16, 3, shape, 1) == OD_OK, "init a frame");
	float *x = malloc(16 * 24 * sizeof *x), *y = malloc(16 * 24 * sizeof *y);
	for (int i = 0; i < 16 * 24; i++)
		x[i] = (float)i / 7.0f - 20.0f;
	od_frame_from_f32(&f, x);
	od_frame_set(&f, "prompt", "a \"quoted\"\nmulti-line prompt");
	od_frame_set(&f, "prompt", "replaced");
	od_frame_set(&f, "bad_utf8", "caf\xe9!");
	ok(f.n_meta == 2 && !strcmp(od_frame_get(&f, "prompt"), "replaced"), "set replaces a key");
	ok(!strcmp(od_frame_get(&f, "bad_utf8"), "caf\xef\xbf\xbd!"), "invalid UTF-8 becomes U+FFFD");
	ok(od_frame_set(&f, "bad key", "x") == OD_EINVAL, "keys are [A-Za-z0-9_.-]+");
	struct od_out o;
	od_out_open(&o, path);
	ok(od_frame_write(&o, &f) == OD_OK && od_frame_write(&o, &f) == OD_OK && od_out_commit(&o) == OD_OK,
	   "write two frames");
	struct od_reader r;
	ok(od_reader_open(&r, path) == OD_OK, "open the stream");
	ok(od_reader_next(&r, &g) == 1, "read frame 0");
	od_frame_to_f32(&g, y);
	int same = 1;
	for (int i = 0; i < 16 * 24; i++)
		same &= y[i] == od_bf16_to_f32(od_f32_to_bf16(x[i]));
	ok(same && g.kind == OD_KIND_LATENT && g.role == OD_ROLE_CONDITION && g.dtype == OD_BF16 && g.ndim == 3 &&
		   g.shape[2] == 6 && !strcmp(od_frame_get(&g, "prompt"), "replaced"),
	   "frame 0 round trip (BF16 data, shape, role, metadata)");
	od_frame_free(&g);
	ok(od_reader_next(&r, &g) == 1, "read frame 1");
	od_frame_free(&g);
	ok(od_reader_next(&r, &g) == 0, "clean end of stream");
	od_reader_close(&r);
	/* placeholders: only for targets. The writer refuses the others; a file
	 * holding one (its role byte changed afterwards) is refused by the reader. */
	struct od_frame p;
	od_frame_init(&p, OD_KIND_LATENT, OD_ROLE_TARGET, OD_F32, 3, shape, 0);
	snprintf(path, sizeof path, "%s/p.odf", dir);
	od_out_open(&o, path);
	ok(od_frame_write(&o, &p) == OD_OK, "a target placeholder is written");
	p.role = OD_ROLE_CONDITION;
	ok(od_frame_write(&o, &p) == OD_EINVAL && strstr(od_errmsg(), "placeholders"),
	   "a condition placeholder is not written");
	p.role = OD_ROLE_TARGET;
	od_frame_write(&o, &p);
	od_out_commit(&o);
	set_header_byte(path, 1, 13, OD_ROLE_CONDITION); /* the second frame's role */
	od_reader_open(&r, path);
	ok(od_reader_next(&r, &g) == 1 && !g.data && g.role == OD_ROLE_TARGET, "target placeholder reads back");
	od_frame_free(&g);
	ok(od_reader_next(&r, &g) == OD_EFORMAT && strstr(od_errmsg(), "placeholders"), "condition placeholder refused");
	od_reader_close(&r);
	od_frame_free(&p);
	/* text frames need a mask plane: the writer refuses one without; a file
	 * holding one (a 2-D latent frame whose kind is changed) is refused */
	int64_t ts[2] = { 5, 3 };
	struct od_frame t;
	od_frame_init(&t, OD_KIND_TEXT, OD_ROLE_CONDITION, OD_F32, 2, ts, 1);
	snprintf(path, sizeof path, "%s/t.odf", dir);
	od_out_open(&o, path);
	ok(od_frame_write(&o, &t) == OD_EINVAL && strstr(od_errmsg(), "mask"), "a text frame without a mask is not written");
	t.kind = OD_KIND_LATENT;
	od_frame_write(&o, &t);
	t.kind = OD_KIND_TEXT;
	uint8_t m[5] = { 1, 1, 7, 0, 0 };
	od_frame_set_mask(&t, m);
	od_frame_write(&o, &t);
	od_out_commit(&o);
	set_header_byte(path, 0, 10, OD_KIND_TEXT); /* the first frame's kind (low byte) */
	od_reader_open(&r, path);
	ok(od_reader_next(&r, &g) == OD_EFORMAT && strstr(od_errmsg(), "mask"), "text frame without a mask refused");
	od_reader_close(&r);
	ok(t.mask[2] == 1, "mask values are stored as 0/1");
	od_frame_free(&t);
	/* frames <-> safetensors */
	snprintf(path, sizeof path, "%s/fs.safetensors", dir);
	od_out_open(&o, path);
	ok(od_frames_write_safetensors(&o, &f, 1) == OD_OK && od_out_commit(&o) == OD_OK, "frames -> safetensors");
	struct od_safetensors st;
	struct od_frame *fs;
	int n;
	od_st_open(&st, path);
	ok(od_frames_read_safetensors(&st, &fs, &n) == OD_OK && n == 1 && fs[0].data_len == f.data_len &&
		   !memcmp(fs[0].data, f.data, f.data_len) && !strcmp(od_frame_get(&fs[0], "prompt"), "replaced"),
	   "safetensors -> frames round trip");
	od_frame_free(&fs[0]);
	free(fs);
	od_st_close(&st);
	od_frame_free(&f);
	free(x);
	free(y);
}

static void test_outputs(const char *dir)
{
	char path[512];
	snprintf(path, sizeof path, "%s/out.bin", dir);
	struct od_out o;
	od_out_open(&o, path);
	od_out_write(&o, "abc", 3);
	ok(access(path, F_OK) != 0, "nothing at the final path before commit");
	od_out_abort(&o);
	ok(access(path, F_OK) != 0, "abort leaves nothing behind");
	ok(write_tmp(path, "abc", 3) == 0 && access(path, F_OK) == 0, "commit renames into place");
	snprintf(path, sizeof path, "%s/no/such/dir/out.bin", dir);
	ok(od_out_open(&o, path) == OD_EIO && strstr(od_errmsg(), "cannot create"), "unwritable path is an I/O error");
}

static void test_params(void)
{
	struct od_ctx *c;
	od_ctx_create(&c, OD_DEVICE_CPU, 1);
	uint16_t d1[2] = { 0x3f80, 0x4000 };
	struct od_tensor t = { .name = "g", .dtype = OD_BF16, .ndim = 1, .shape = { 2 }, .data = d1, .nbytes = 4 };
	const float *p = od_param(c, &t);
	ok(p && p[0] == 1.0f && p[1] == 2.0f, "od_param widens BF16");
	struct od_tensor u = t; /* a copy of the struct views the same data */
	ok(od_param(c, &u) == p, "cached by the data it views");
	uint16_t d2[2] = { 0x4040, 0x4080 };
	t.data = d2;
	const float *q = od_param(c, &t);
	ok(q && q[0] == 3.0f && q[1] == 4.0f, "a different tensor in the same struct gets its own entry");
	od_ctx_destroy(c);
}

int main(void)
{
	char dir[] = "/tmp/od-test-formats.XXXXXX";
	const char *tmp = getenv("TMPDIR");
	char buf[512];
	if (tmp) {
		snprintf(buf, sizeof buf, "%s/od-test-formats.XXXXXX", tmp);
		if (!mkdtemp(buf))
			return 1;
	} else {
		if (!mkdtemp(dir))
			return 1;
		snprintf(buf, sizeof buf, "%s", dir);
	}
	test_conversions();
	test_safetensors(buf);
	test_frames(buf);
	test_outputs(buf);
	test_params();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
	if (system(cmd) != 0)
		ok(0, "clean up");
	return tap_done();
}
