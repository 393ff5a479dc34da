/*
 * odscene: checks of od-scene's output folders (a test tool).
 *
 *   odscene check DIR    check scene folder DIR against its own scene.json and
 *                        cameras.json; prints every problem (at most 20) on
 *                        stderr, exit 1 if any
 *
 * Everything is read independently of lib/scene and lib/camera: the PNGs with
 * libpng directly (16-bit samples whole), the JSON with jansson, and the
 * geometry recomputed here from the pixel convention of od-scene(5):
 *
 *   - instance ids 0..n; semantic.png shows each object's region colour on
 *     its instance pixels and black elsewhere;
 *   - the boxes of scene.json enclose each object's instance pixels exactly
 *     (edge coordinates), with the right pixel counts, visible objects only;
 *     boxes.png is those boxes filled, largest first;
 *   - depth16: the ray of each pixel centre from cameras.json meets what the
 *     instance map says at depth16 · depth_scale: the ground plane and the
 *     spheres within half a depth step of the closed form, the other solids
 *     within half a step (times the ray's length) of their surface; 0 only
 *     where the ray misses the ground disc;
 *   - depth.png: nearer (by depth16) is never darker, the nearest pixel is
 *     255, the farthest (or the sky) 0, and each value is the normalised
 *     inverse depth within one level;
 *   - mask.png is exactly the rectangle of scene.json, covering part of the
 *     named object; masked.png is image.png with that rectangle black;
 *     canny.png holds 0 and 255 only, nothing on the picture's frame;
 *   - caption.txt is scene.json's caption, tasks.txt its tasks, a
 *     "TAG<TAB>OPTIONS" line each in the same order; cameras.json names each
 *     view's picture.
 */
#include <jansson.h>
#include <math.h>
#include <png.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int problems;

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void problem(const char *fmt, ...)
{
	if (problems++ >= 20)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "odscene: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "odscene: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* A PNG's samples as unsigned ints (H, W, C); C and the bit depth must be as given. */
static unsigned *read_png(const char *path, int W, int H, int C, int depth)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("'%s': cannot open", path);
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	if (setjmp(png_jmpbuf(png)))
		die("'%s': not a PNG libpng can read", path);
	png_init_io(png, f);
	png_read_info(png, info);
	int type = png_get_color_type(png, info), bits = png_get_bit_depth(png, info);
	int w = (int)png_get_image_width(png, info), h = (int)png_get_image_height(png, info);
	int want_type = C == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY;
	if (w != W || h != H || type != want_type || bits != depth)
		die("'%s': %dx%d, colour type %d, %d bits; want %dx%d, type %d, %d bits", path, w, h, type, bits, W, H,
		    want_type, depth);
	size_t rowbytes = png_get_rowbytes(png, info);
	unsigned char *row = malloc(rowbytes);
	unsigned *out = malloc((size_t)W * H * C * sizeof *out);
	for (int y = 0; y < H; y++) {
		png_read_row(png, row, NULL);
		for (int i = 0; i < W * C; i++)
			out[(size_t)y * W * C + i] =
				depth == 16 ? (unsigned)(row[2 * i] << 8 | row[2 * i + 1]) : row[i];
	}
	png_destroy_read_struct(&png, &info, NULL);
	fclose(f);
	free(row);
	return out;
}

static json_t *load(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);
	if (!j)
		die("'%s': %s (line %d)", path, e.text, e.line);
	return j;
}

static double num(json_t *j)
{
	if (!json_is_number(j))
		die("a number is missing in the JSON");
	return json_number_value(j);
}

static const char *str(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));
	if (!s)
		die("scene.json: no string \"%s\"", key);
	return s;
}

struct object {
	int id;
	char shape[16];
	double c[3], e, rot;
	unsigned sem[3];
};

/* How far x is from the object's surface, roughly (0 on it; Lipschitz 1, so a
 * point within d of the surface gives at most d). */
static double off_surface(const struct object *o, const double X[3])
{
	double q[3] = { X[0] - o->c[0], X[1], X[2] - o->c[2] }, e = o->e;
	if (!strcmp(o->shape, "sphere")) {
		double dy = X[1] - o->c[1];
		return fabs(sqrt(q[0] * q[0] + dy * dy + q[2] * q[2]) - e);
	}
	if (!strcmp(o->shape, "cube")) {
		double t = o->rot * M_PI / 180, cs = cos(t), sn = sin(t);
		double l[3] = { cs * q[0] - sn * q[2], q[1] - o->c[1], sn * q[0] + cs * q[2] };
		return fabs(fmax(fabs(l[0]), fmax(fabs(l[1]), fabs(l[2]))) - e);
	}
	double r = hypot(q[0], q[2]), h = 2 * e;
	if (!strcmp(o->shape, "cylinder"))
		return fabs(fmax(r - e, fabs(q[1] - e) - e));
	if (!strcmp(o->shape, "cone"))
		return fabs(fmax((r - (h - q[1]) / 2) * 2 / sqrt(5), fmax(-q[1], q[1] - h)));
	return INFINITY;
}

static unsigned hexval(const char *hex, int k)
{
	char b[3] = { hex[1 + 2 * k], hex[2 + 2 * k], 0 };
	return (unsigned)strtoul(b, NULL, 16);
}

static void check_view(const char *dir, int v, int W, int H, double scale, const struct object *obj, int n,
		       json_t *jview, json_t *cam, double ground_r)
{
	char vd[4096], p[4200];
	snprintf(vd, sizeof vd, "%s/view%d", dir, v);
#define LOAD(name, C, bits) (snprintf(p, sizeof p, "%s/%s", vd, name), read_png(p, W, H, C, bits))
	unsigned *img = LOAD("image.png", 3, 8), *d8 = LOAD("depth.png", 1, 8), *d16 = LOAD("depth16.png", 1, 16);
	unsigned *sem = LOAD("semantic.png", 3, 8), *inst = LOAD("instances.png", 1, 8);
	unsigned *canny = LOAD("canny.png", 1, 8);
	unsigned *boxes = LOAD("boxes.png", 3, 8), *mask = LOAD("mask.png", 1, 8), *masked = LOAD("masked.png", 3, 8);
#undef LOAD
	const long N = (long)W * H;
	/* instances and the semantic map */
	long bad_sem = 0;
	for (long i = 0; i < N; i++) {
		if ((int)inst[i] > n) {
			problem("view %d: instance id %u at pixel %ld, only %d objects", v, inst[i], i, n);
			break;
		}
		const unsigned zero[3] = { 0, 0, 0 }, *want = inst[i] ? obj[inst[i] - 1].sem : zero;
		bad_sem += memcmp(sem + i * 3, want, sizeof zero) != 0;
	}
	if (bad_sem)
		problem("view %d: %ld pixels of semantic.png are not their object's region colour (or black)", v,
			bad_sem);
	/* boxes */
	long cnt[256] = { 0 };
	int bx0[256], by0[256], bx1[256], by1[256];
	for (int k = 0; k < 256; k++)
		bx0[k] = W, by0[k] = H, bx1[k] = by1[k] = 0;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			unsigned k = inst[(long)y * W + x];
			cnt[k]++;
			bx0[k] = x < bx0[k] ? x : bx0[k], by0[k] = y < by0[k] ? y : by0[k];
			bx1[k] = x + 1 > bx1[k] ? x + 1 : bx1[k], by1[k] = y + 1 > by1[k] ? y + 1 : by1[k];
		}
	json_t *jb = json_object_get(jview, "boxes");
	size_t nb = json_array_size(jb), k = 0;
	for (int id = 1; id <= n; id++) {
		if (!cnt[id])
			continue;
		json_t *b = json_array_get(jb, k++), *xy = json_object_get(b, "xyxy");
		if (!b || num(json_object_get(b, "id")) != id || num(json_array_get(xy, 0)) != bx0[id] ||
		    num(json_array_get(xy, 1)) != by0[id] || num(json_array_get(xy, 2)) != bx1[id] ||
		    num(json_array_get(xy, 3)) != by1[id] || num(json_object_get(b, "pixels")) != cnt[id])
			problem("view %d: box %zu is not object %d's pixels [%d, %d, %d, %d] (%ld pixels)", v, k - 1,
				id, bx0[id], by0[id], bx1[id], by1[id], cnt[id]);
	}
	if (k != nb)
		problem("view %d: %zu boxes in scene.json, %zu objects visible", v, nb, k);
	/* the box map: filled, largest first (equal areas: lower id first) */
	unsigned *want_boxes = calloc((size_t)N * 3, sizeof *want_boxes);
	int order[256], no = 0;
	for (int id = 1; id <= n; id++)
		if (cnt[id])
			order[no++] = id;
	for (int i = 1; i < no; i++)
		for (int j = i; j > 0; j--) {
			int u = order[j - 1], w = order[j];
			long a0 = (long)(bx1[u] - bx0[u]) * (by1[u] - by0[u]);
			long a1 = (long)(bx1[w] - bx0[w]) * (by1[w] - by0[w]);
			if (a1 <= a0)
				break;
			int t = order[j];
			order[j] = order[j - 1], order[j - 1] = t;
		}
	for (int i = 0; i < no; i++) {
		int id = order[i];
		for (int y = by0[id]; y < by1[id]; y++)
			for (int x = bx0[id]; x < bx1[id]; x++)
				memcpy(want_boxes + ((long)y * W + x) * 3, obj[id - 1].sem, 3 * sizeof(unsigned));
	}
	if (memcmp(want_boxes, boxes, (size_t)N * 3 * sizeof *boxes))
		problem("view %d: boxes.png is not the boxes filled in their region colours, largest first", v);
	free(want_boxes);

	/* depth: the rays of the pixel centres */
	double R[3][3], o[3], fx, fy, cx, cy;
	json_t *c2w = json_object_get(cam, "c2w"), *K = json_object_get(cam, "intrinsics");
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++)
			R[i][j] = num(json_array_get(json_array_get(c2w, i), j));
		o[i] = num(json_array_get(json_array_get(c2w, i), 3));
	}
	fx = num(json_array_get(json_array_get(K, 0), 0)), cx = num(json_array_get(json_array_get(K, 0), 2));
	fy = num(json_array_get(json_array_get(K, 1), 1)), cy = num(json_array_get(json_array_get(K, 1), 2));
	long bad_ground = 0, bad_sphere = 0, bad_surface = 0, bad_sky = 0, n_ground = 0, n_obj = 0;
	double worst_ground = 0, worst_sphere = 0, worst_surface = 0;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			long i = (long)y * W + x;
			double a = ((x + 0.5) / W - cx) / fx, b = ((y + 0.5) / H - cy) / fy, d[3];
			for (int r = 0; r < 3; r++)
				d[r] = R[r][0] * a + R[r][1] * b + R[r][2]; /* camera z component 1: t = depth */
			double t = d16[i] * scale, len = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
			double tg = d[1] < 0 ? -o[1] / d[1] : INFINITY;
			if (isfinite(tg) && hypot(o[0] + tg * d[0], o[2] + tg * d[2]) > ground_r)
				tg = INFINITY;
			if (d16[i] == 0) {
				bad_sky += inst[i] != 0 || isfinite(tg);
				continue;
			}
			if (inst[i] == 0) {
				n_ground++;
				double err = fabs(t - tg);
				worst_ground = fmax(worst_ground, err);
				bad_ground += !(err <= scale / 2 + 1e-9);
				continue;
			}
			n_obj++;
			const struct object *ob = &obj[inst[i] - 1];
			double X[3] = { o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2] };
			double off = off_surface(ob, X);
			worst_surface = fmax(worst_surface, off / (len * scale / 2));
			bad_surface += !(off <= scale / 2 * len + 1e-9);
			if (!strcmp(ob->shape, "sphere")) {
				double oc[3] = { o[0] - ob->c[0], o[1] - ob->c[1], o[2] - ob->c[2] };
				double A = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
				double B = oc[0] * d[0] + oc[1] * d[1] + oc[2] * d[2];
				double Cc = oc[0] * oc[0] + oc[1] * oc[1] + oc[2] * oc[2] - ob->e * ob->e;
				double disc = B * B - A * Cc, ts = disc >= 0 ? (-B - sqrt(disc)) / A : INFINITY;
				double err = fabs(t - ts);
				worst_sphere = fmax(worst_sphere, err);
				bad_sphere += !(err <= scale / 2 + 1e-9);
			}
		}
	if (bad_sky)
		problem("view %d: %ld pixels of depth 0 are not sky (an object, or a ray that meets the ground)", v,
			bad_sky);
	if (bad_ground)
		problem("view %d: %ld of %ld ground pixels are off the plane's depth by more than half a step "
			"(worst %.3g m)", v, bad_ground, n_ground, worst_ground);
	if (bad_sphere)
		problem("view %d: %ld sphere pixels are off the closed form by more than half a step (worst %.3g m)", v,
			bad_sphere, worst_sphere);
	if (bad_surface)
		problem("view %d: %ld of %ld object pixels are off their surface (worst %.3g half steps)", v,
			bad_surface, n_obj, worst_surface);
	/* depth.png: order and normalisation */
	unsigned lo16 = 65536, hi16 = 0;
	int has_sky = 0;
	for (long i = 0; i < N; i++) {
		if (d16[i] == 0) {
			has_sky = 1;
			continue;
		}
		lo16 = d16[i] < lo16 ? d16[i] : lo16;
		hi16 = d16[i] > hi16 ? d16[i] : hi16;
	}
	/* the darkest depth.png value at each depth16 must be >= the brightest at any larger one */
	unsigned *mn = malloc(65537 * sizeof *mn), *mx = malloc(65537 * sizeof *mx);
	for (int i = 0; i <= 65536; i++)
		mn[i] = 256, mx[i] = 0;
	long bad_value = 0;
	double dmax = 1 / (lo16 * scale), dmin = has_sky ? 0 : 1 / (hi16 * scale);
	for (long i = 0; i < N; i++) {
		int key = d16[i] ? (int)d16[i] : 65536;
		mn[key] = d8[i] < mn[key] ? d8[i] : mn[key];
		mx[key] = d8[i] > mx[key] ? d8[i] : mx[key];
		double disp = d16[i] ? 1 / (d16[i] * scale) : 0;
		double want = dmax > dmin ? 255 * (disp - dmin) / (dmax - dmin) : 0;
		bad_value += fabs(d8[i] - want) > 1.0;
	}
	unsigned floor_seen = 256; /* the smallest value at nearer depths so far */
	long bad_order = 0;
	for (int key = 0; key <= 65536; key++) {
		if (mx[key] == 0 && mn[key] == 256)
			continue;
		bad_order += mx[key] > floor_seen;
		floor_seen = mn[key] < floor_seen ? mn[key] : floor_seen;
	}
	if (bad_order)
		problem("view %d: depth.png is brighter somewhere farther (%ld depths out of order)", v, bad_order);
	if (bad_value)
		problem("view %d: %ld depth.png values are not the normalised inverse depth within 1", v, bad_value);
	free(mn), free(mx);
	/* mask, masked, canny */
	json_t *jm = json_object_get(jview, "mask"), *mr = json_object_get(jm, "xyxy");
	int m0 = (int)num(json_array_get(mr, 0)), m1 = (int)num(json_array_get(mr, 1));
	int m2 = (int)num(json_array_get(mr, 2)), m3 = (int)num(json_array_get(mr, 3));
	int mobj = (int)num(json_object_get(jm, "object"));
	long bad_mask = 0, bad_masked = 0, covered = 0, bad_canny = 0;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			long i = (long)y * W + x;
			int in = x >= m0 && x < m2 && y >= m1 && y < m3;
			bad_mask += mask[i] != (in ? 255u : 0u);
			covered += in && mobj && (int)inst[i] == mobj;
			for (int c = 0; c < 3; c++)
				bad_masked += masked[i * 3 + c] != (in ? 0 : img[i * 3 + c]);
			bad_canny += (canny[i] != 0 && canny[i] != 255) ||
				     (canny[i] && (x == 0 || y == 0 || x == W - 1 || y == H - 1));
		}
	if (bad_mask || m0 < 0 || m1 < 0 || m2 > W || m3 > H || m2 - m0 < (W / 16 > 1 ? W / 16 : 1) ||
	    m3 - m1 < (H / 16 > 1 ? H / 16 : 1))
		problem("view %d: mask.png is not the rectangle [%d, %d, %d, %d] of scene.json (%ld pixels differ)", v,
			m0, m1, m2, m3, bad_mask);
	if (mobj && !covered)
		problem("view %d: the hole does not cover object %d", v, mobj);
	if (mobj && !cnt[mobj])
		problem("view %d: the hole's object %d is not in view", v, mobj);
	if (bad_masked)
		problem("view %d: masked.png is not image.png with the hole black (%ld samples differ)", v, bad_masked);
	if (bad_canny)
		problem("view %d: canny.png holds values other than 0 and 255, or edges on the frame", v);
	free(img), free(d8), free(d16), free(sem), free(inst), free(canny), free(boxes), free(mask), free(masked);
}

static int check(const char *dir)
{
	json_t *s = load(dir, "scene.json"), *cams = load(dir, "cameras.json");
	if (strcmp(str(s, "format"), "od-scene") || num(json_object_get(s, "version")) != 1)
		problem("scene.json: not od-scene version 1");
	if (strcmp(str(cams, "format"), "od-cameras"))
		problem("cameras.json: not od-cameras");
	int W = (int)num(json_object_get(s, "width")), H = (int)num(json_object_get(s, "height"));
	double scale = num(json_object_get(s, "depth_scale"));
	double ground_r = num(json_object_get(json_object_get(s, "ground"), "radius"));
	json_t *jo = json_object_get(s, "objects"), *jv = json_object_get(s, "views");
	json_t *jc = json_object_get(cams, "cameras");
	int n = (int)json_array_size(jo), V = (int)json_array_size(jv);
	if (V < 1)
		problem("scene.json: no views");
	struct object obj[256];
	if (n > 255)
		die("scene.json: %d objects", n);
	for (int k = 0; k < n; k++) {
		json_t *o = json_array_get(jo, (size_t)k);
		obj[k].id = (int)num(json_object_get(o, "id"));
		if (obj[k].id != k + 1)
			problem("scene.json: object %d has id %d", k, obj[k].id);
		snprintf(obj[k].shape, sizeof obj[k].shape, "%s", str(o, "shape"));
		for (int i = 0; i < 3; i++)
			obj[k].c[i] = num(json_array_get(json_object_get(o, "centre"), (size_t)i));
		obj[k].e = num(json_object_get(o, "extent"));
		obj[k].rot = num(json_object_get(o, "rotation_deg"));
		const char *hex = str(o, "semantic");
		for (int i = 0; i < 3; i++)
			obj[k].sem[i] = hexval(hex, i);
	}
	if ((int)json_array_size(jc) != V)
		problem("%d views in scene.json, %zu cameras", V, json_array_size(jc));
	for (int v = 0; v < V; v++) {
		json_t *cam = json_array_get(jc, (size_t)v);
		char want[64];
		snprintf(want, sizeof want, "view%d/image.png", v);
		const char *im = json_string_value(json_object_get(cam, "image"));
		if (!im || strcmp(im, want))
			problem("cameras.json: camera %d does not name %s", v, want);
		check_view(dir, v, W, H, scale, obj, n, json_array_get(jv, (size_t)v), cam, ground_r);
	}
	char path[4096], line[1024] = "";
	snprintf(path, sizeof path, "%s/caption.txt", dir);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(line, sizeof line, f))
		problem("'%s': cannot read", path);
	if (f)
		fclose(f);
	char want[1100];
	snprintf(want, sizeof want, "%s\n", str(s, "caption"));
	if (strcmp(line, want))
		problem("caption.txt is not scene.json's caption");
	/* tasks.txt */
	snprintf(path, sizeof path, "%s/tasks.txt", dir);
	f = fopen(path, "r");
	json_t *tk = json_object_get(s, "tasks"), *val;
	const char *key;
	char big[8192];
	if (!f || !json_is_object(tk))
		problem("no tasks.txt or no tasks in scene.json");
	json_object_foreach(tk, key, val) {
		char expect[8192];
		snprintf(expect, sizeof expect, "%s\t%s\n", key, json_string_value(val));
		if (!f || !fgets(big, sizeof big, f) || strcmp(big, expect))
			problem("tasks.txt: the line of %s is not scene.json's", key);
	}
	if (f && fgets(big, sizeof big, f))
		problem("tasks.txt has more lines than scene.json has tasks");
	if (f)
		fclose(f);
	json_decref(s);
	json_decref(cams);
	return problems ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "check"))
		return check(argv[2]);
	fprintf(stderr, "usage: odscene check DIR\n");
	return 2;
}
