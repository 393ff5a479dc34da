/*
 * test_eval.c: the evaluation library (lib/eval/) below the tool: rotation
 * angles and Umeyama's alignment on known transforms, SSIM's properties, the
 * depth fit on exact affine maps, the colour model of the t2i detector, the
 * segmentation classes, list files, scene.json and index.json (what is
 * accepted, every refusal and its message), the 16-bit PNG reader, and the
 * report writer's quoting.
 *
 *   test_eval                     the unit tests (TAP)
 *   test_eval --json FILE CMD N   check that FILE is od-eval's JSON for CMD with
 *                                 N items (exit 0/1; used by t0750)
 */
#include "od.h"
#include "eval/depth.h"
#include "eval/items.h"
#include "eval/picture.h"
#include "eval/pose.h"
#include "eval/report.h"
#include "eval/scene_json.h"
#include "eval/segment.h"
#include "eval/t2i.h"
#include "formats/image16.h"
#include "scene/scene.h"
#include "tap.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void rot_axis(const double axis[3], double deg, double R[3][3])
{
	double n = sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
	double x = axis[0] / n, y = axis[1] / n, z = axis[2] / n, t = deg * M_PI / 180, c = cos(t), s = sin(t),
	       C = 1 - c;
	double M[3][3] = { { c + x * x * C, x * y * C - z * s, x * z * C + y * s },
			   { y * x * C + z * s, c + y * y * C, y * z * C - x * s },
			   { z * x * C - y * s, z * y * C + x * s, c + z * z * C } };
	memcpy(R, M, sizeof M);
}

static void test_rotations(void)
{
	double R[3][3], ax[3] = { 1, 2, -0.5 };
	int good = 1;
	for (double deg = 0; deg <= 180; deg += 7.5) {
		rot_axis(ax, deg, R);
		good &= fabs(od_rotation_angle_deg(R) - deg) < 1e-10;
	}
	ok(good, "rotation angle of axis-angle rotations 0..180 degrees (1e-10)");
	rot_axis(ax, 1e-9, R);
	double a = od_rotation_angle_deg(R);
	ok(fabs(a - 1e-9) < 1e-15, "a 1e-9 degree rotation measures %.3g (atan2, not acos of the trace)", a);
}

static void test_umeyama(void)
{
	double x[5][3] = { { 0, 0, 0 }, { 1, 0, 0 }, { 0, 2, 0 }, { 0, 0, 3 }, { 1, 1, 1 } }, y[5][3], Q[3][3];
	double ax[3] = { 0.3, -1, 0.2 }, t[3] = { 4, -1, 2 }, s = 2.5;
	rot_axis(ax, 70, Q);
	for (int i = 0; i < 5; i++)
		for (int a = 0; a < 3; a++)
			y[i][a] = s * (Q[a][0] * x[i][0] + Q[a][1] * x[i][1] + Q[a][2] * x[i][2]) + t[a];
	double sig, Qe[3][3], te[3], err = 0;
	od_umeyama(&x[0][0], &y[0][0], 5, &sig, Qe, te);
	for (int a = 0; a < 3; a++) {
		err = fmax(err, fabs(te[a] - t[a]));
		for (int b = 0; b < 3; b++)
			err = fmax(err, fabs(Qe[a][b] - Q[a][b]));
	}
	ok(fabs(sig - s) < 1e-12 && err < 1e-12, "Umeyama recovers scale %g, rotation and translation (%.2g)", sig,
	   err);
	/* mirrored points: the best proper rotation, never a reflection */
	double m[5][3];
	for (int i = 0; i < 5; i++)
		m[i][0] = -x[i][0], m[i][1] = x[i][1], m[i][2] = x[i][2];
	od_umeyama(&x[0][0], &m[0][0], 5, &sig, Qe, te);
	ok(fabs(od_det3(Qe) - 1) < 1e-12, "a mirrored set still gets a proper rotation (det %g)", od_det3(Qe));
	/* every predicted centre the same point: scale 0, all mapped to the mean */
	double same[3][3] = { { 1, 1, 1 }, { 1, 1, 1 }, { 1, 1, 1 } };
	od_umeyama(&same[0][0], &y[0][0], 3, &sig, Qe, te);
	ok(sig == 0, "one predicted point: scale 0");
}

static void test_pose(void)
{
	struct od_camera g[3], p[3];
	double ax[3][3] = { { 0, 1, 0 }, { 1, 0, 0 }, { 1, 1, 1 } };
	for (int i = 0; i < 3; i++) {
		od_camera_init(&g[i], 1.2);
		g[i].has_pose = 1;
		double R[3][3];
		rot_axis(ax[i], 30 * (i + 1), R);
		memset(g[i].c2w, 0, sizeof g[i].c2w);
		for (int a = 0; a < 3; a++) {
			for (int b = 0; b < 3; b++)
				g[i].c2w[a][b] = R[a][b];
			g[i].c2w[a][3] = (a == i) * 2.0;
		}
		g[i].c2w[3][3] = 1;
		p[i] = g[i];
	}
	/* camera 2 turned by 20 degrees about its own axis: pairs (0,2) and (1,2) are 20 degrees off */
	double T[3][3], N[3][3], z[3] = { 0, 0, 1 };
	rot_axis(z, 20, T);
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++) {
			N[a][b] = 0;
			for (int k = 0; k < 3; k++)
				N[a][b] += g[2].c2w[a][k] * T[k][b];
		}
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++)
			p[2].c2w[a][b] = N[a][b];
	struct od_pose_metrics m;
	int rc = od_pose_eval(p, "p", g, "g", 3, &m);
	ok(rc == OD_OK && m.pairs == 3 && fabs(m.rot_mean - 40.0 / 3) < 1e-9 && fabs(m.rot_median - 20) < 1e-9 &&
		   fabs(m.rra - 1.0 / 3) < 1e-15 && m.cca == 1,
	   "one camera turned 20 degrees: errors 0, 20, 20; RRA@15 1/3; centres exact");
	p[1].c2w[0][3] += 1.0; /* scene scale: max distance from the centroid of (2,0,0), (0,2,0), (0,0,2) */
	rc = od_pose_eval(p, "p", g, "g", 3, &m);
	ok(rc == OD_OK && m.cca < 1 && fabs(m.scale - sqrt(4.0 / 9 * 2 + 16.0 / 9)) < 1e-12,
	   "a displaced centre is found; scene scale %.6f", m.scale);
	p[1].has_pose = 0;
	rc = od_pose_eval(p, "p.json", g, "g.json", 3, &m);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), "'p.json': camera 1 has no pose"), "a camera without a pose: %s",
	   od_errmsg());
	rc = od_pose_eval(p, "p.json", g, "g.json", 1, &m);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), "at least 2"), "one camera: %s", od_errmsg());
}

static void test_ssim(void)
{
	struct od_image a, b;
	od_image_alloc(&a, 23, 17, 3);
	od_image_alloc(&b, 23, 17, 3);
	unsigned s = 1;
	for (int i = 0; i < 23 * 17 * 3; i++) {
		s = s * 1103515245u + 12345u;
		a.data[i] = (uint8_t)(s >> 16);
		b.data[i] = (uint8_t)(255 - a.data[i]);
	}
	double v, w;
	int rc = od_ssim(&a, &a, &v, "a");
	ok(rc == OD_OK && v == 1.0, "SSIM of a picture with itself is exactly 1");
	ok(isinf(od_psnr(&a, &a)) && od_psnr(&a, &a) > 0, "PSNR of a picture with itself is +inf");
	od_ssim(&a, &b, &v, "a");
	od_ssim(&b, &a, &w, "b");
	ok(v == w && v < 0, "SSIM is symmetric, negative for an inverted picture (%.4f)", v);
	/* a constant offset: PSNR = 10 log10(255² / d²) */
	for (int i = 0; i < 23 * 17 * 3; i++)
		b.data[i] = (uint8_t)(a.data[i] < 250 ? a.data[i] + 5 : a.data[i] - 5);
	ok(fabs(od_psnr(&b, &a) - 10 * log10(255.0 * 255 / 25)) < 1e-12, "PSNR of an error of 5 everywhere");
	od_image_free(&b);
	od_image_alloc(&b, 10, 17, 3);
	struct od_image c;
	od_image_alloc(&c, 10, 17, 3);
	rc = od_ssim(&b, &c, &v, "small.png");
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), "'small.png': 10x17 is smaller than the 11x11 SSIM window"),
	   "too small for the window: %s", od_errmsg());
	rc = od_eval_same_size(&a, "a.png", &b, "b.png");
	ok(rc == OD_EFORMAT && !strcmp(od_errmsg(), "'a.png' is 23x17 but 'b.png' is 10x17"), "sizes: %s",
	   od_errmsg());
	od_image_free(&a);
	od_image_free(&b);
	od_image_free(&c);
}

static void test_depth(void)
{
	double g[12], p[12];
	struct od_depth_map gt = { 4, 3, 16, g }, pr = { 4, 3, 16, p };
	for (int i = 0; i < 12; i++) {
		g[i] = i % 5 ? 100 + 37 * i : 0; /* some pixels without depth */
		p[i] = -2 * g[i] + 5000;         /* affine, negative scale: still exact */
	}
	p[0] = 1e9; /* not valid: ignored */
	struct od_depth_metrics m;
	int rc = od_depth_eval(&pr, "p", &gt, "g", 0.01, &m);
	ok(rc == OD_OK && m.absrel < 1e-14 && m.delta1 == 1 && m.valid == 9 && fabs(m.scale + 0.005) < 1e-15 &&
		   fabs(m.shift - 25) < 1e-12,
	   "depth space: exact affine map: AbsRel %.2g, fit s = %.6g, t = %.6g", m.absrel, m.scale, m.shift);
	/* disparity: x = 60000 / g is 1/depth up to scale */
	pr.bits = 8;
	for (int i = 0; i < 12; i++)
		p[i] = g[i] > 0 ? 60000 / g[i] : 0;
	rc = od_depth_eval(&pr, "p", &gt, "g", 0.01, &m);
	ok(rc == OD_OK && m.absrel < 1e-14 && m.delta1 == 1 && m.space == OD_DEPTH_SPACE_DISPARITY,
	   "disparity space: exact map of 1/depth: AbsRel %.2g", m.absrel);
	/* a constant prediction aligns to the mean depth */
	pr.bits = 16;
	for (int i = 0; i < 12; i++)
		p[i] = 7;
	rc = od_depth_eval(&pr, "p", &gt, "g", 1, &m);
	double mean = 0, rel = 0;
	for (int i = 0; i < 12; i++)
		mean += g[i] / 9;
	for (int i = 0; i < 12; i++)
		if (g[i] > 0)
			rel += fabs(mean - g[i]) / g[i] / 9;
	ok(rc == OD_OK && m.scale == 0 && fabs(m.absrel - rel) < 1e-14, "a constant prediction = the mean depth");
	/* far from the line: the aligned depth is clipped into the ground truth's range */
	p[1] = 1e12;
	rc = od_depth_eval(&pr, "p", &gt, "g", 1, &m);
	ok(rc == OD_OK && isfinite(m.absrel) && m.rmse < 1000, "an outlier: aligned depths clipped to [g_min, g_max]");
	for (int i = 0; i < 12; i++)
		g[i] = 0;
	rc = od_depth_eval(&pr, "p.png", &gt, "g.png", 1, &m);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), "'g.png': no valid pixel"), "no valid pixel: %s", od_errmsg());
	gt.width = 3;
	gt.height = 4;
	rc = od_depth_eval(&pr, "p.png", &gt, "g.png", 1, &m);
	ok(rc == OD_EFORMAT && !strcmp(od_errmsg(), "'p.png' is 4x3 but 'g.png' is 3x4"), "sizes: %s", od_errmsg());
}

static void test_t2i_colours(void)
{
	double h, s, v;
	const uint8_t red[3] = { 255, 0, 0 }, green[3] = { 0, 128, 0 }, blue[3] = { 0, 0, 255 },
		      mag[3] = { 255, 0, 128 }, grey[3] = { 100, 100, 100 };
	od_t2i_hsv(red, &h, &s, &v);
	ok(h == 0 && s == 1 && v == 1, "hsv(red) = (0, 1, 1)");
	od_t2i_hsv(green, &h, &s, &v);
	ok(h == 120 && s == 1 && v == 128 / 255.0, "hsv(green) = (120, 1, 0.502)");
	od_t2i_hsv(blue, &h, &s, &v);
	ok(h == 240, "hsv(blue): h 240");
	od_t2i_hsv(mag, &h, &s, &v);
	ok(fabs(h - (360 - 60 * 128.0 / 255)) < 1e-12, "hsv(#FF0080): h %.4f wraps below 360", h);
	od_t2i_hsv(grey, &h, &s, &v);
	ok(h == 0 && s == 0, "hsv(grey): h 0, s 0");
	const uint8_t dark_red[3] = { 110, 0, 0 }, pale[3] = { 255, 200, 200 }, near[3] = { 255, 60, 0 };
	ok(od_t2i_distance(dark_red, red, 20) == 0, "shading: a darker red is at distance 0 from red");
	ok(isinf(od_t2i_distance(grey, red, 20)), "grey is not comparable with a chromatic colour");
	ok(od_t2i_distance(near, red, 20) > 0.7 && od_t2i_distance(near, red, 20) < 1,
	   "#FF3C00 (hue 14) is within red's tolerance of 20 degrees");
	ok(od_t2i_distance(near, red, 10) > 1, "... but not within 10 degrees");
	ok(od_t2i_distance(pale, red, 20) > 1, "a pale red (low saturation) is not red");
	const uint8_t white[3] = { 240, 240, 240 }, lgrey[3] = { 200, 200, 200 }, black[3] = { 10, 10, 10 };
	ok(od_t2i_distance(lgrey, white, 20) < 1 && od_t2i_distance(black, white, 20) > 1,
	   "achromatic colours by brightness");
}

#define PAL2 "\"palette\": {\"red\": [220, 30, 30], \"blue\": [30, 30, 220], \"green\": [0, 200, 0]}"

static void test_t2i_scene(void)
{
	/* a picture with a red square left of a blue one, both 6x6, on grey */
	struct od_image img;
	od_image_alloc(&img, 40, 20, 3);
	memset(img.data, 120, 40 * 20 * 3);
	for (int y = 6; y < 12; y++)
		for (int x = 0; x < 6; x++) {
			uint8_t *r = img.data + 3 * (y * 40 + 4 + x), *b = img.data + 3 * (y * 40 + 28 + x);
			r[0] = (uint8_t)(200 + 5 * x), r[1] = 10, r[2] = 10;
			b[0] = 10, b[1] = 10, b[2] = (uint8_t)(150 + 10 * y);
		}
	const char *js = "{\"palette\": {\"red\": [220, 30, 30], \"blue\": [30, 30, 220], \"green\": [0, 200, 0]},"
			 " \"objects\": [{\"id\": 1, \"colour\": \"red\"}, {\"id\": 2, \"colour\": \"blue\"},"
			 " {\"id\": 3, \"colour\": \"green\"}],"
			 " \"relations\": [{\"a\": 1, \"relation\": \"left of\", \"b\": 2},"
			 " {\"a\": 2, \"relation\": \"left of\", \"b\": 1}]}";
	struct od_eval_scene sc;
	int rc = od_eval_scene_parse(js, strlen(js), "s.json", &sc);
	struct od_t2i_result r;
	rc = rc ? rc : od_t2i_eval(&img, &sc, NULL, &r);
	ok(rc == OD_OK && r.n_det == 2 && r.det[0].area == 36 && r.det[0].cx == 6.5 && r.det[0].cy == 8.5 &&
		   r.det[1].cx == 30.5,
	   "two 6x6 detections with their centres");
	ok(rc == OD_OK && fabs(r.presence - 2.0 / 3) < 1e-15 && fabs(r.count - 2.0 / 3) < 1e-15 &&
		   fabs(r.colour - 2.0 / 3) < 1e-15 && r.position == 0.5,
	   "green missing: presence, count, colour 2/3; one relation of two holds");
	od_t2i_result_free(&r);
	struct od_t2i_opts o = { 0, 37 };
	rc = od_t2i_eval(&img, &sc, &o, &r);
	ok(rc == OD_OK && r.n_det == 0 && r.presence == 0, "--min-area 37 drops the 36-pixel squares");
	od_t2i_result_free(&r);
	/* the default smallest object: 0.5% of 40 x 40 = 8 pixels */
	od_image_free(&img);
	od_image_alloc(&img, 40, 40, 3);
	memset(img.data, 120, 40 * 40 * 3);
	for (int x = 0; x < 8; x++) {
		uint8_t *r8 = img.data + 3 * (5 * 40 + 2 + x), *b7 = img.data + 3 * (30 * 40 + 2 + x);
		r8[0] = 220, r8[1] = 30, r8[2] = 30;
		if (x < 7)
			b7[0] = 30, b7[1] = 30, b7[2] = 220;
	}
	rc = od_t2i_eval(&img, &sc, NULL, &r);
	ok(rc == OD_OK && r.n_det == 1 && r.det[0].area == 8 && r.det[0].colour == 0,
	   "default smallest object 0.5%%: 8 red pixels found, 7 blue ones not");
	od_t2i_result_free(&r);
	od_eval_scene_free(&sc);
	const char *none = "{\"palette\": {}, \"objects\": []}";
	od_eval_scene_parse(none, strlen(none), "n.json", &sc);
	rc = od_t2i_eval(&img, &sc, NULL, &r);
	ok(rc == OD_OK && r.objects == 0 && isnan(r.presence) && isnan(r.count) && isnan(r.colour) &&
		   isnan(r.position) && isnan(r.mean),
	   "a scene without objects: every score undefined");
	od_t2i_result_free(&r);
	od_eval_scene_free(&sc);
	/* only the objects the caption names: red (8 pixels in view 0; 8 · 2000 >= 40 · 40), not blue (a box of 0
	 * pixels) nor green (no box) */
	const char *named = "{\"width\": 40, \"height\": 40, " PAL2 ", \"objects\": [{\"id\": 1, \"colour\": \"red\"},"
			    " {\"id\": 2, \"colour\": \"blue\"}, {\"id\": 3, \"colour\": \"green\"}],"
			    " \"relations\": [{\"a\": 1, \"relation\": \"left of\", \"b\": 3}],"
			    " \"views\": [{\"index\": 1, \"boxes\": []}, {\"index\": 0, \"boxes\": [{\"id\": 1,"
			    " \"xyxy\": [0, 0, 1, 1], \"pixels\": 8}, {\"id\": 2, \"pixels\": 0}]}]}";
	rc = od_eval_scene_parse(named, strlen(named), "v.json", &sc);
	ok(rc == OD_OK && od_eval_scene_named(&sc, 0) && !od_eval_scene_named(&sc, 1) && !od_eval_scene_named(&sc, 2),
	   "named: the object with 8 pixels of 40 x 40 in view 0; not one with 0 pixels nor one without a box");
	rc = od_t2i_eval(&img, &sc, NULL, &r);
	ok(rc == OD_OK && r.objects == 1 && r.presence == 1 && r.count == 1 && r.relations == 0 && isnan(r.position),
	   "only named objects and relations between them are scored");
	od_t2i_result_free(&r);
	od_eval_scene_free(&sc);
	/* od-scene's threshold, rounded down: 64 x 64 / 2000 = 2.048 -> 2 pixels name an object, 1 does not */
	const char *small = "{\"width\": 64, \"height\": 64, " PAL2 ", \"objects\": [{\"id\": 1, \"colour\": \"red\"},"
			    " {\"id\": 2, \"colour\": \"blue\"}], \"views\": [{\"index\": 0, \"boxes\": [{\"id\": 1,"
			    " \"pixels\": 2}, {\"id\": 2, \"pixels\": 1}]}]}";
	rc = od_eval_scene_parse(small, strlen(small), "s.json", &sc);
	ok(rc == OD_OK && od_scene_mention_threshold(64, 64) == 2 && od_eval_scene_named(&sc, 0) &&
		   !od_eval_scene_named(&sc, 1),
	   "named as od-scene names: 2 pixels of 64 x 64 (threshold %ld), not 1", od_scene_mention_threshold(64, 64));
	od_eval_scene_free(&sc);
	od_image_free(&img);
}

static void test_seg(void)
{
	const uint8_t a[3] = { 255, 0, 0 }, tie[3] = { 0, 0, 64 }, k[3] = { 10, 10, 10 }, gold[3] = { 255, 215, 0 },
		      off[3] = { 255, 1, 0 };
	ok(od_seg_nearest(a) == 1 && od_seg_exact(a) == 1, "red is class 1");
	ok(od_seg_nearest(k) == 0, "near black is background");
	ok(od_seg_nearest(tie) == 0, "#000040 is as far from black as from navy: the lower class");
	ok(od_seg_exact(gold) == 18 && od_seg_exact(off) == -1, "gold is class 18; #FF0100 is no class");
	uint8_t rgb[3];
	od_seg_class_rgb(20, rgb);
	ok(rgb[0] == 0xDA && rgb[1] == 0x70 && rgb[2] == 0xD6, "class 20 is orchid #DA70D6");
}

static int n_items;
static struct od_eval_items items;

static int list(const char *text, enum od_eval_kind kind)
{
	od_eval_items_free(&items);
	od_error_clear();
	int rc = od_eval_list_parse(text, strlen(text), "l.txt", "base", kind, &items);
	n_items = items.n;
	return rc;
}

static void test_lists(void)
{
	int rc = list("# pairs\n\na.png b.png\r\n /abs/c.png\td e.png \n", OD_EVAL_IMAGE);
	ok(rc == OD_OK && n_items == 2 && !strcmp(items.v[0].pred, "base/a.png") &&
		   !strcmp(items.v[0].gt, "base/b.png") && !strcmp(items.v[1].pred, "/abs/c.png") &&
		   !strcmp(items.v[1].gt, "base/d e.png") && items.v[1].line == 4,
	   "list: comments, blank lines, CRLF, a tab-separated line with a space in a name, base folder");
	rc = list("p.png g.png 0.001\np.png g.png s/scene.json\n", OD_EVAL_DEPTH);
	ok(rc == OD_OK && items.v[0].scale == 0.001 && !items.v[0].scene && items.v[1].scale == 0 &&
		   !strcmp(items.v[1].scene, "base/s/scene.json"),
	   "depth list: a scale or a scene.json as third field");
	rc = list("p.png g.png -3\n", OD_EVAL_DEPTH);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), "'l.txt': line 1: depth scale -3 is not a positive number"), "%s",
	   od_errmsg());
	rc = list("a.png b.png\nc.png\n", OD_EVAL_IMAGE);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), "'l.txt': line 2 has 1 field, not \"PRED GT\""), "%s",
	   od_errmsg());
	rc = list("a.png b.png c.png\n", OD_EVAL_T2I);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), "line 1 has 3 fields, not \"PICTURE scene.json\""), "%s",
	   od_errmsg());
	rc = list("a.png\t\tb.png\n", OD_EVAL_IMAGE);
	ok(rc == OD_OK && n_items == 1 && !strcmp(items.v[0].gt, "base/b.png"), "two tabs in a row: one separator");
	rc = list("# nothing\n\n", OD_EVAL_IMAGE);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), "'l.txt': no items"), "%s", od_errmsg());
	rc = od_eval_list_parse("a b\0c d\n", 8, "l.txt", NULL, OD_EVAL_IMAGE, &items);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), "NUL"), "%s", od_errmsg());
	od_eval_items_free(&items);
}

static struct od_eval_scene sc;

static int scene(const char *text)
{
	od_eval_scene_free(&sc);
	od_error_clear();
	return od_eval_scene_parse(text, strlen(text), "s.json", &sc);
}

static void refused(const char *text, const char *want)
{
	int rc = scene(text);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), want) && strstr(od_errmsg(), "'s.json'"), "scene refused: %s",
	   od_errmsg());
}

#define PAL "\"palette\": {\"red\": [255, 0, 0], \"blue\": [0, 0, 255]}"

static void test_scene_json(void)
{
	int rc = scene("{\"format\": \"od-scene\", \"version\": 1, \"id\": \"000000\", \"seed\": 4, \"width\": 128,"
		       " \"height\": 96, \"depth_scale\": 0.0005, \"caption\": \"x\", " PAL ", \"objects\": ["
		       "{\"id\": 1, \"shape\": \"cube\", \"colour\": \"red\", \"size\": \"large\","
		       " \"centre\": [0, 0, 0], \"extent\": 0.2, \"rotation_deg\": 30, \"semantic\": \"#FF0000\","
		       " \"semantic_name\": \"red\"},"
		       "{\"id\": 2, \"colour\": \"blue\"}],"
		       " \"relations\": [{\"a\": 1, \"relation\": \"behind\", \"b\": 2}],"
		       " \"tasks\": {}, \"views\": [{\"index\": 0, \"boxes\": []}], \"something_new\": null}");
	ok(rc == OD_OK && sc.width == 128 && sc.height == 96 && sc.has_depth_scale && sc.depth_scale == 0.0005 &&
		   sc.n_palette == 2 && sc.palette[1].rgb[2] == 255 && sc.n_objects == 2 && sc.objects[0].colour == 0 &&
		   !strcmp(sc.objects[0].shape, "cube") && sc.objects[1].colour == 1 && sc.n_relations == 1 &&
		   sc.relations[0].a == 0 && sc.relations[0].b == 1 && sc.relations[0].rel == OD_EVAL_REL_BEHIND,
	   "a full scene.json; unknown fields ignored");
	rc = scene("{}");
	ok(rc == OD_OK && !sc.has_depth_scale && sc.n_objects == 0, "an empty object is an empty scene");
	refused("[]", "not a JSON object");
	refused("{\"a\": 1, \"a\": 2}", "not valid JSON");
	refused("{\"format\": \"od-scene-set\"}", "format is not \"od-scene\"");
	refused("{\"version\": 2}", "version is not 1");
	refused("{\"depth_scale\": 0}", "depth_scale is not a positive number");
	refused("{\"width\": -4}", "width is not a positive integer");
	refused("{\"palette\": {\"red\": [255, 0]}}", "palette.red is not [r, g, b]");
	refused("{\"palette\": {\"red\": [255, 0, 256]}}", "integers 0..255");
	refused("{\"palette\": {\"red\": [255, 0, 1.5]}}", "integers 0..255");
	refused("{" PAL ", \"objects\": [{\"id\": 1, \"colour\": \"mauve\"}]}",
		"objects[0].colour 'mauve' is not in the palette");
	refused("{" PAL ", \"objects\": [{\"id\": 1}]}", "objects[0] has no \"colour\"");
	refused("{" PAL ", \"objects\": [{\"id\": 1, \"colour\": \"red\"}, {\"id\": 1, \"colour\": \"red\"}]}",
		"objects[1].id 1 is used twice");
	refused("{" PAL ", \"objects\": [{\"id\": -1, \"colour\": \"red\"}]}", "objects[0].id is not an integer >= 0");
	refused("{" PAL ", \"objects\": [{\"id\": 1, \"colour\": \"red\"}], \"relations\": [{\"a\": 1, \"relation\":"
		" \"near\", \"b\": 1}]}",
		"relates object 1 to itself");
	refused("{" PAL ", \"objects\": [{\"id\": 1, \"colour\": \"red\"}, {\"id\": 2, \"colour\": \"red\"}],"
		" \"relations\": [{\"a\": 1, \"relation\": \"near\", \"b\": 2}]}",
		"relations[0].relation 'near' is not one of");
	refused("{" PAL ", \"objects\": [{\"id\": 1, \"colour\": \"red\"}], \"relations\": [{\"a\": 1, \"relation\":"
		" \"above\", \"b\": 9}]}",
		"names object 9, which is not in objects");
	refused("{\"objects\": {}}", "objects is not an array");
	refused("{\"views\": {}}", "views is not an array");
	refused("{\"views\": [{\"boxes\": []}]}", "views[0] has no integer \"index\"");
	refused("{" PAL ", \"objects\": [{\"id\": 1, \"colour\": \"red\"}], \"views\": [{\"index\": 0, \"boxes\":"
		" [{\"id\": 2, \"pixels\": 5}]}]}",
		"view 0 boxes[0] names object 2, which is not in objects");
	refused("{" PAL ", \"objects\": [{\"id\": 1, \"colour\": \"red\"}], \"views\": [{\"index\": 0, \"boxes\":"
		" [{\"id\": 1, \"pixels\": 0}, {\"id\": 1, \"pixels\": 5}]}]}",
		"view 0 has two boxes of object 1");
	refused("{" PAL ", \"objects\": [{\"id\": 1, \"colour\": \"red\"}], \"views\": [{\"index\": 0, \"boxes\":"
		" [{\"id\": 1, \"pixels\": -5}]}]}",
		"view 0 boxes[0].pixels is not an integer >= 0");
	od_eval_scene_free(&sc);

	char **ids;
	int n;
	const char *ix = "{\"format\": \"od-scene-set\", \"version\": 1, \"count\": 2, \"scenes\": [\"a\", \"b\"]}";
	rc = od_eval_index_parse(ix, strlen(ix), "i.json", &ids, &n);
	ok(rc == OD_OK && n == 2 && !strcmp(ids[1], "b"), "index.json: scene ids");
	od_eval_index_free(ids, n);
	const char *bad[][2] = { { "{\"scenes\": [\"../x\"]}", "scenes[0] is not a folder name" },
				 { "{\"scenes\": [\"..\"]}", "scenes[0] is not a folder name" },
				 { "{\"scenes\": [\"a\", 3]}", "scenes[1] is not a folder name" },
				 { "{\"count\": 3, \"scenes\": [\"a\"]}", "count is not the number of scenes" },
				 { "{\"format\": \"od-scene\", \"scenes\": []}", "format is not \"od-scene-set\"" },
				 { "{}", "no \"scenes\" array" } };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		rc = od_eval_index_parse(bad[i][0], strlen(bad[i][0]), "i.json", &ids, &n);
		ok(rc == OD_EFORMAT && strstr(od_errmsg(), bad[i][1]) && !ids, "index refused: %s", od_errmsg());
	}
}

static void test_image16(void)
{
	const char *src = getenv("OD_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fixtures/eval/hand/depth_gt.png", src ? src : ".");
	struct od_image16 img;
	int rc = od_image16_read_file(&img, path, NULL);
	/* 20 columns: the divisors of 240; row 2 all zero */
	static const int div[20] = { 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 16, 20, 24, 30, 40, 48, 60, 80, 120, 240 };
	int good = rc == OD_OK && img.width == 20 && img.height == 6;
	for (int y = 0; good && y < 6; y++)
		for (int x = 0; x < 20; x++)
			good &= img.data[y * 20 + x] == (y == 2 ? 0 : div[x]);
	ok(good, "16-bit grey PNG read exactly");
	od_image16_free(&img);
	const char *layouts[2] = { "depth_interlaced.png", "depth_alpha.png" };
	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof path, "%s/tests/fixtures/eval/hand/%s", src ? src : ".", layouts[k]);
		rc = od_image16_read_file(&img, path, NULL);
		good = rc == OD_OK && img.width == 9 && img.height == 7;
		for (int i = 0; good && i < 63; i++)
			good &= img.data[i] == 997 * i % 65536;
		ok(good, "%s read exactly", layouts[k]);
		od_image16_free(&img);
	}
	snprintf(path, sizeof path, "%s/tests/fixtures/eval/hand/depth_gt8.png", src ? src : ".");
	rc = od_image16_read_file(&img, path, NULL);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), "a 8-bit grey PNG, not a 16-bit grey one"), "%s", od_errmsg());
	rc = od_image16_read_mem(&img, "\xff\xd8\xff\xe0", 4, "x.jpg", NULL);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), "'x.jpg': not a PNG file"), "%s", od_errmsg());
	ok(od_png_bit_depth("\x89PNG\r\n\x1a\n", 8) == 0, "bit depth of a truncated header: 0");
}

static void test_report(void)
{
	static const char *const names[] = { "pred", "gt", "m", "n" };
	static const enum od_col_kind kinds[] = { OD_COL_TEXT, OD_COL_TEXT, OD_COL_REAL, OD_COL_COUNT };
	struct od_report r;
	od_report_init(&r, 4, names, kinds);
	const char *t1[] = { "a,b.png", "q\"uote|.png" }, *t2[] = { "bad\xff.png", "x" };
	double v1[] = { 0, 0, 0.5, 3 }, v2[] = { 0, 0, NAN, 4 };
	od_report_add(&r, t1, v1);
	od_report_add(&r, t2, v2);
	ok(od_report_summary(&r, 2) == 0.5 && od_report_summary(&r, 3) == 7,
	   "summary: undefined values left out; counts totalled");
	char tmpl[] = "/tmp/test_eval.XXXXXX";
	int fd = mkstemp(tmpl);
	close(fd);
	const char *want[3] = {
		"pred,gt,m,n\n\"a,b.png\",\"q\"\"uote|.png\",0.5,3\nbad\xff.png,x,,4\nmean,,0.5,7\n",
		"{\"command\": \"c\",\n \"items\": [\n  {\"pred\": \"a,b.png\", \"gt\": \"q\\\"uote|.png\", "
		"\"m\": 0.5, "
		"\"n\": 3},\n  {\"pred\": \"bad\\ufffd.png\", \"gt\": \"x\", \"m\": null, \"n\": 4}],\n \"summary\": "
		"{\"items\": 2, \"m\": 0.5, \"n\": 7}}\n",
		"| pred | gt | m | n |\n|:---|:---|---:|---:|\n| a,b.png | q\"uote\\|.png | 0.5 | 3 |\n"
		"| bad\xff.png | x | "
		" | 4 |\n| **mean** |  | 0.5 | 7 |\n"
	};
	for (int f = 0; f < 3; f++) {
		struct od_out o;
		od_out_open(&o, tmpl);
		od_report_write(&r, f, "c", &o);
		od_out_commit(&o);
		char *got;
		size_t len;
		od_read_file(tmpl, 1 << 20, &got, &len);
		ok(!strcmp(got, want[f]), "report format %d: quoting and escaping", f);
		if (strcmp(got, want[f]))
			printf("# got:\n%s# want:\n%s", got, want[f]);
		free(got);
	}
	unlink(tmpl);
	od_report_free(&r);
}

/* --json FILE CMD N: od-eval's JSON output is valid and complete. */
static int check_json(const char *path, const char *cmd, int n)
{
	json_error_t e;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		printf("# %s: %s\n", path, e.text);
		return 1;
	}
	json_t *arr = json_object_get(j, "items"), *sum = json_object_get(j, "summary");
	int good = json_is_string(json_object_get(j, "command")) &&
		   !strcmp(json_string_value(json_object_get(j, "command")), cmd) && json_is_array(arr) &&
		   (int)json_array_size(arr) == n && json_is_object(sum) &&
		   json_integer_value(json_object_get(sum, "items")) == n;
	for (int i = 0; good && i < n; i++)
		good = json_object_size(json_array_get(arr, i)) == json_object_size(sum) + 1; /* + pred, gt - items */
	json_decref(j);
	if (!good)
		printf("# %s: not od-eval's JSON for %s with %d items\n", path, cmd, n);
	return !good;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--json"))
		return check_json(argv[2], argv[3], atoi(argv[4]));
	test_rotations();
	test_umeyama();
	test_pose();
	test_ssim();
	test_depth();
	test_t2i_colours();
	test_t2i_scene();
	test_seg();
	test_lists();
	test_scene_json();
	test_image16();
	test_report();
	return tap_done();
}
