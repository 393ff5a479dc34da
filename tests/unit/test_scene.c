/*
 * test_scene: the scene generator and ray caster of lib/scene against
 * closed forms computed here, independently of the library's own code.
 *
 *   - a known scene (one sphere, and the bare ground) seen by a camera built
 *     here: every pixel's ray is taken from od_camera_rays (the Plücker rays
 *     od-plucker makes for the same camera, turned back into the OpenCV world
 *     frame), intersected here with the sphere and the plane; the rendered
 *     instance ids must match exactly and the depth within 1e-9 m, which
 *     checks the pixel convention and the exactness of the depth together;
 *   - depth16 rounding and clamping, the 8-bit depth's order and range;
 *   - boxes and the box map on a hand-made instance map;
 *   - generation over many seeds: no two footprints closer than the gap,
 *     centres in the placement disc and rounded as written, distinct colours,
 *     valid cameras looking at the target from the asked distance;
 *   - the refusals of od_scene_params_check; the caption and task arguments.
 */
#include "od.h"
#include "scene/scene.h"
#include "scene/scene_render.h"
#include "text/prompt.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void cross(const double a[3], const double b[3], double c[3])
{
	c[0] = a[1] * b[2] - a[2] * b[1];
	c[1] = a[2] * b[0] - a[0] * b[2];
	c[2] = a[0] * b[1] - a[1] * b[0];
}

static void normalize(double a[3])
{
	double n = sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
	for (int i = 0; i < 3; i++)
		a[i] /= n;
}

/* A scene with a hand-made camera at eye looking at at (OpenCV: y down). */
static void known_scene(struct od_scene *s, int size, const double eye[3], const double at[3])
{
	memset(s, 0, sizeof *s);
	od_scene_params_default(&s->p);
	s->p.width = s->p.height = size;
	s->light_dir[1] = 1; /* overhead sun */
	double z[3] = { at[0] - eye[0], at[1] - eye[1], at[2] - eye[2] }, up[3] = { 0, 1, 0 }, x[3], y[3];
	normalize(z);
	cross(z, up, x);
	normalize(x);
	cross(z, x, y);
	double c2w[4][4] = { { x[0], y[0], z[0], eye[0] }, { x[1], y[1], z[1], eye[1] }, { x[2], y[2], z[2], eye[2] },
			     { 0, 0, 0, 1 } };
	od_camera_init(&s->cams[0], 1.3887);
	od_camera_set_c2w(&s->cams[0], c2w, 0, "test");
	od_camera_set_intrinsics(&s->cams[0], 1.3887, 1.3887, 0.5, 0.5, "test");
}

/* The world ray of every pixel from od_camera_rays: (S, S, 3) unit directions. */
static double *plucker_dirs(const struct od_camera *c, int S)
{
	double *r6 = malloc((size_t)S * S * 6 * sizeof *r6), *d = malloc((size_t)S * S * 3 * sizeof *d);
	od_camera_rays(c, c, S, r6);
	for (int p = 0; p < S * S; p++) {
		/* PyTorch3D camera frame (x left, y up) -> OpenCV camera frame -> world */
		double cv[3] = { -r6[p * 6], -r6[p * 6 + 1], r6[p * 6 + 2] };
		for (int i = 0; i < 3; i++)
			d[p * 3 + i] = c->c2w[i][0] * cv[0] + c->c2w[i][1] * cv[1] + c->c2w[i][2] * cv[2];
	}
	free(r6);
	return d;
}

static void test_known_scene(void)
{
	enum { S = 64 };
	struct od_scene s;
	const double eye[3] = { 0.4, 1.1, 2.9 }, at[3] = { 0.1, 0.25, 0 };
	known_scene(&s, S, eye, at);
	const double C[3] = { 0.05, 0.28, -0.1 }, r = 0.28;
	s.n_objects = 1;
	s.objects[0] = (struct od_scene_object){ 1, OD_SHAPE_SPHERE, 0, 1, { C[0], C[1], C[2] }, r, 0, 0 };
	struct od_scene_view v;
	ok(od_scene_view_alloc(&v, S, S) == OD_OK && od_scene_render(&s, 0, &v) == OD_OK, "render a known scene");
	double *d = plucker_dirs(&s.cams[0], S);
	/* z: the camera's optical axis (c2w third column); the depth of a point is (X − eye)·z */
	double z[3] = { s.cams[0].c2w[0][2], s.cams[0].c2w[1][2], s.cams[0].c2w[2][2] };
	int wrong_id = 0, n_sphere = 0, n_ground = 0, graze = 0;
	double worst = 0;
	for (int p = 0; p < S * S; p++) {
		const double *u = d + p * 3;
		double oc[3] = { eye[0] - C[0], eye[1] - C[1], eye[2] - C[2] };
		double b = oc[0] * u[0] + oc[1] * u[1] + oc[2] * u[2];
		double c = oc[0] * oc[0] + oc[1] * oc[1] + oc[2] * oc[2] - r * r;
		double disc = b * b - c, t = INFINITY, want = 0;
		int id = 0;
		if (fabs(disc) < 1e-9) {
			graze++;
			continue;
		}
		if (disc > 0) {
			t = -b - sqrt(disc), id = 1;
		} else if (u[1] < 0) {
			t = -eye[1] / u[1];
			if (hypot(eye[0] + t * u[0], eye[2] + t * u[2]) > OD_SCENE_GROUND_RADIUS)
				t = INFINITY; /* past the ground's rim: sky */
		}
		if (isfinite(t))
			want = t * (u[0] * z[0] + u[1] * z[1] + u[2] * z[2]);
		if (id != v.inst[p])
			wrong_id++;
		n_sphere += id == 1;
		n_ground += id == 0 && want > 0;
		double err = fabs(v.depth[p] - want);
		if (err > worst)
			worst = err;
	}
	ok(n_sphere > 150 && n_ground > 1000 && graze < 5, "the known view shows %d sphere and %d ground pixels",
	   n_sphere, n_ground);
	ok(wrong_id == 0, "instance ids = the sphere hit by od-plucker's ray of each pixel (%d differ)", wrong_id);
	ok(worst < 1e-9, "depth = the closed form along od-plucker's rays (worst %.3g m)", worst);

	/* the bare ground, seen across the horizon: the sky has depth 0 */
	const double eye2[3] = { 0, 0.5, 4 }, at2[3] = { 0, 0.45, 0 };
	known_scene(&s, S, eye2, at2);
	od_scene_render(&s, 0, &v);
	free(d);
	d = plucker_dirs(&s.cams[0], S);
	double z2[3] = { s.cams[0].c2w[0][2], s.cams[0].c2w[1][2], s.cams[0].c2w[2][2] };
	int sky = 0, beyond = 0, any_inst = 0;
	worst = 0;
	for (int p = 0; p < S * S; p++) {
		const double *u = d + p * 3;
		double want = 0;
		if (u[1] < 0) {
			double t = -eye2[1] / u[1], x = eye2[0] + t * u[0], zz = eye2[2] + t * u[2];
			if (x * x + zz * zz <= OD_SCENE_GROUND_RADIUS * OD_SCENE_GROUND_RADIUS)
				want = t * (u[0] * z2[0] + u[1] * z2[1] + u[2] * z2[2]);
			else
				beyond++;
		}
		sky += want == 0;
		any_inst |= v.inst[p];
		if (fabs(v.depth[p] - want) > worst)
			worst = fabs(v.depth[p] - want);
	}
	ok(sky > 100 && beyond > 0 && !any_inst, "ground only: %d sky pixels (%d below the horizon, past the rim)", sky,
	   beyond);
	ok(worst < 1e-9, "ground only: depth = -y_eye / d_y along od-plucker's rays, 0 for the sky (worst %.3g m)",
	   worst);

	/* depth16 and depth8 of that view */
	uint16_t d16[S * S];
	uint8_t d8[S * S];
	od_scene_depth16(v.depth, S * S, d16);
	od_scene_depth8(v.depth, S * S, d8);
	int bad16 = 0, order = 0;
	uint8_t hi = 0, lo = 255;
	for (int p = 0; p < S * S; p++) {
		double want = v.depth[p] > 0 ? fmin(fmax(round(v.depth[p] / OD_SCENE_DEPTH_SCALE), 1), 65535) : 0;
		bad16 += d16[p] != want || (v.depth[p] > 0 && fabs(d16[p] * OD_SCENE_DEPTH_SCALE - v.depth[p]) >
						 OD_SCENE_DEPTH_SCALE / 2 + 1e-12);
		hi = d8[p] > hi ? d8[p] : hi;
		lo = d8[p] < lo ? d8[p] : lo;
		int q = (p * 7919) % (S * S); /* a pseudo-random partner */
		double a = v.depth[p] > 0 ? v.depth[p] : INFINITY, b = v.depth[q] > 0 ? v.depth[q] : INFINITY;
		if ((a < b && d8[p] < d8[q]) || (a == b && d8[p] != d8[q]))
			order++;
	}
	ok(bad16 == 0, "depth16 = depth / 0.0005 rounded, within half a step (%d wrong)", bad16);
	ok(order == 0 && hi == 255 && lo == 0, "depth.png: nearer is brighter, 255 to 0 (%d pairs out of order)",
	   order);
	double far[4] = { 40, 1e-6, 0, 2 };
	uint16_t f16[4];
	uint8_t f8[4], same[2];
	od_scene_depth16(far, 4, f16);
	ok(f16[0] == 65535 && f16[1] == 1 && f16[2] == 0 && f16[3] == 4000, "depth16 clamps to 1..65535, sky is 0");
	double flat[2] = { 3, 3 };
	od_scene_depth8(flat, 2, same);
	od_scene_depth8(far, 4, f8);
	ok(same[0] == 0 && same[1] == 0 && f8[1] == 255 && f8[2] == 0, "depth8: one depth only is all 0");
	od_scene_view_free(&v);
	free(d);
}

static void test_boxes(void)
{
	struct od_scene s;
	memset(&s, 0, sizeof s);
	od_scene_params_default(&s.p);
	s.p.width = 16;
	s.p.height = 8;
	s.n_objects = 3;
	for (int k = 0; k < 3; k++)
		s.objects[k].id = k + 1, s.objects[k].semantic = k; /* red, lime, blue */
	uint8_t inst[8 * 16];
	memset(inst, 0, sizeof inst);
	inst[1 * 16 + 2] = inst[5 * 16 + 9] = 1; /* two pixels far apart: box (2, 1)-(10, 6) */
	for (int y = 2; y < 4; y++)
		for (int x = 4; x < 7; x++)
			inst[y * 16 + x] = 3; /* a 3x2 block inside object 1's box */
	struct od_scene_box b[OD_SCENE_MAX_OBJECTS];
	long px[OD_SCENE_MAX_OBJECTS + 1];
	int n = od_scene_boxes(&s, inst, 16, 8, b, px);
	ok(n == 2 && b[0].id == 1 && b[0].x0 == 2 && b[0].y0 == 1 && b[0].x1 == 10 && b[0].y1 == 6 &&
		   b[0].pixels == 2 &&
		   b[1].id == 3 && b[1].x0 == 4 && b[1].y0 == 2 && b[1].x1 == 7 && b[1].y1 == 4 && b[1].pixels == 6,
	   "boxes: the pixels' extent in edge coordinates, visible objects only");
	ok(px[0] == 128 - 8 && px[1] == 2 && px[2] == 0 && px[3] == 6, "boxes: pixel counts per id");
	uint8_t rgb[8 * 16 * 3];
	od_scene_box_map(&s, b, n, 16, 8, rgb);
	const uint8_t *in3 = rgb + (2 * 16 + 4) * 3, *in1 = rgb + (1 * 16 + 2) * 3, *out = rgb + (7 * 16 + 15) * 3;
	ok(in3[0] == 0 && in3[1] == 0 && in3[2] == 255 && in1[0] == 255 && in1[1] == 0 && out[0] == 0 && out[1] == 0 &&
		   out[2] == 0,
	   "box map: the smaller box (blue) on top of the larger (red), black elsewhere");
	uint8_t sem[8 * 16 * 3];
	od_scene_semantic(&s, inst, 8 * 16, sem);
	ok(sem[(5 * 16 + 9) * 3] == 255 && sem[(2 * 16 + 5) * 3 + 2] == 255 && sem[0] == 0,
	   "semantic map: the objects' region colours on black");
}

static void test_generation(void)
{
	struct od_scene_params p;
	od_scene_params_default(&p);
	p.min_objects = p.max_objects = OD_SCENE_MAX_OBJECTS;
	p.shapes = 1u << OD_SHAPE_CUBE; /* the widest footprints */
	p.width = p.height = 64;
	p.views = 5;
	int overlap = 0, outside = 0, unrounded = 0, colours = 0, cams = 0, large = 0;
	struct od_scene *s = malloc(sizeof *s);
	for (int i = 0; i < 2000; i++) {
		if (i == 1000)
			p.shapes = (1u << OD_SHAPE_COUNT) - 1, p.min_objects = 0;
		uint64_t seed = od_scene_seed(12345, (uint64_t)i);
		if (od_scene_generate(s, &p, seed, (uint64_t)i)) {
			cams++;
			continue;
		}
		for (int a = 0; a < s->n_objects; a++) {
			const struct od_scene_object *o = &s->objects[a];
			double fa = o->shape == OD_SHAPE_CUBE ? o->extent * M_SQRT2 : o->extent;
			large += o->large;
			outside += hypot(o->centre[0], o->centre[2]) > OD_SCENE_PLACE_RADIUS + 1e-12 ||
				   o->centre[1] != o->extent;
			unrounded += fabs(o->centre[0] * 1000 - round(o->centre[0] * 1000)) > 1e-9 ||
				     fabs(o->rotation_deg * 10 - round(o->rotation_deg * 10)) > 1e-9 || o->id != a + 1;
			for (int b = a + 1; b < s->n_objects; b++) {
				const struct od_scene_object *q = &s->objects[b];
				double fb = q->shape == OD_SHAPE_CUBE ? q->extent * M_SQRT2 : q->extent;
				overlap += hypot(o->centre[0] - q->centre[0], o->centre[2] - q->centre[2]) <
					   fa + fb + OD_SCENE_GAP - 1e-9;
				colours += o->colour == q->colour || o->semantic == q->semantic;
			}
		}
		for (int v = 0; v < p.views; v++) {
			const struct od_camera *c = &s->cams[v];
			double to[3], dist = 0, cosang = 0;
			for (int k = 0; k < 3; k++)
				to[k] = OD_SCENE_TARGET[k] - c->c2w[k][3], dist += to[k] * to[k];
			dist = sqrt(dist);
			for (int k = 0; k < 3; k++)
				cosang += to[k] / dist * c->c2w[k][2];
			cams += od_c2w_check(c->c2w, "test") || fabs(dist - p.distance) > 1e-9 || cosang < 1 - 1e-12 ||
				fabs(c->c2w[1][0]) > 1e-12 ||
				c->c2w[1][3] < OD_SCENE_TARGET[1] + p.distance * sin(15 * M_PI / 180) - 1e-9;
		}
	}
	free(s);
	ok(overlap == 0, "2000 scenes (1000 of six cubes): no two footprints closer than the gap (%d)", overlap);
	ok(outside == 0 && unrounded == 0, "centres in the placement disc, resting on the ground, rounded as written");
	ok(colours == 0, "colours and region colours distinct within a scene (%d clashes)", colours);
	ok(cams == 0, "cameras: valid poses, at the distance asked, looking at the target, level (x horizontal), "
	   "above the lowest elevation (%d wrong)", cams);
	ok(large > 3000 && large < 6000, "sizes: about half large (%d of 8500)", large);
	ok(od_scene_seed(1, 2) == od_scene_seed(1, 2) && od_scene_seed(1, 2) != od_scene_seed(1, 3) &&
		   od_scene_seed(1, 2) != od_scene_seed(2, 2) && od_scene_seed(UINT64_MAX >> 11, 5) < (1ull << 53),
	   "per-scene seeds: repeatable, differ by set and index, below 2^53");
}

static int refused(struct od_scene_params p, const char *want)
{
	int rc = od_scene_params_check(&p);
	int good = rc == OD_EINVAL && strstr(od_errmsg(), want) && !strchr(od_errmsg(), '\n');
	if (!good)
		printf("# got %d '%s', want '%s'\n", rc, od_errmsg(), want);
	return good;
}

static void test_params(void)
{
	struct od_scene_params d, p;
	od_scene_params_default(&d);
	ok(od_scene_params_check(&d) == OD_OK, "the defaults pass");
	p = d, p.width = 100;
	ok(refused(p, "multiples of 16"), "a size not a multiple of 16 is refused");
	p = d, p.height = 4096;
	ok(refused(p, "multiples of 16 from 16 to 2048"), "a size over 2048 is refused");
	p = d, p.views = 0;
	ok(refused(p, "give 1 to 64"), "0 views are refused");
	p = d, p.views = 65;
	ok(refused(p, "give 1 to 64"), "65 views are refused");
	p = d, p.max_objects = 7;
	ok(refused(p, "do not fit on the ground"), "7 objects are refused");
	p = d, p.min_objects = 3, p.max_objects = 2;
	ok(refused(p, "not a range"), "an empty object range is refused");
	p = d, p.shapes = 0;
	ok(refused(p, "no shapes"), "no shapes are refused");
	p = d, p.distance = 1.5;
	ok(refused(p, "inside or too close to objects"), "cameras too close are refused");
	p = d, p.distance = 11;
	ok(refused(p, "depth16 would overflow"), "cameras too far are refused");
	p = d, p.min_elevation = -5;
	ok(refused(p, "within 0 to 85"), "cameras below the ground are refused");
	p = d, p.max_elevation = 90;
	ok(refused(p, "within 0 to 85"), "cameras overhead are refused");
}

static void test_words(void)
{
	struct od_scene_params p;
	od_scene_params_default(&p);
	p.width = p.height = 64;
	p.min_objects = 0, p.max_objects = 0;
	struct od_scene s;
	ok(od_scene_generate(&s, &p, 7, 0) == OD_OK && s.n_objects == 0, "a scene without objects");
	long none[1] = { 0 };
	od_scene_describe(&s, none);
	char want[128];
	snprintf(want, sizeof want, "an empty %s%s floor", od_scene_grounds[s.ground].name,
		 s.checker ? " checkered" : "");
	ok(!strcmp(s.caption, want) && s.n_rel == 0, "its caption: '%s'", s.caption);
	unsigned char vis[OD_SCENE_MAX_OBJECTS + 1] = { 0 };
	struct od_scene_args a;
	ok(od_scene_task_args(&s, OD_SCENE_T2I, vis, &a) == 1 && a.n == 3 && !strcmp(a.arg[2], s.caption) &&
		   od_scene_task_args(&s, OD_SCENE_SEMANTIC, vis, &a) == 0 &&
		   od_scene_task_args(&s, OD_SCENE_BOXES, vis, &a) == 0 &&
		   od_scene_task_args(&s, OD_SCENE_MULTIVIEW, vis, &a) == 0,
	   "no objects, one view: text2image but no region tasks and no multiview");

	/* two objects seen from +z: x decides left and right */
	known_scene(&s, 64, (const double[3]){ 0, 1, 3 }, (const double[3]){ 0, 0.2, 0 });
	s.seed = 99;
	s.p.views = 2;
	s.n_objects = 2;
	s.objects[0] = (struct od_scene_object){ 1, OD_SHAPE_CUBE, 0, 1, { -0.6, 0.28, 0 }, 0.28, 10, 2 };
	s.objects[1] = (struct od_scene_object){ 2, OD_SHAPE_SPHERE, 5, 0, { 0.5, 0.15, 0.1 }, 0.15, 0, 6 };
	long px[3] = { 0, 500, 400 };
	od_scene_describe(&s, px);
	int ab = s.rel[0].a == 1;
	const char *cap = ab ? "a large red cube to the left of a small blue sphere, on a "
			     : "a small blue sphere to the right of a large red cube, on a ";
	ok(s.n_rel == 1 && s.rel[0].rel == (ab ? OD_REL_LEFT : OD_REL_RIGHT) && !strncmp(s.caption, cap, strlen(cap)),
	   "relations from view 0: '%s'", s.caption);
	vis[1] = vis[2] = 1;
	ok(od_scene_task_args(&s, OD_SCENE_SEMANTIC, vis, &a) == 1 && a.n == 7 && !strcmp(a.arg[2], "--region") &&
		   !strcmp(a.arg[3], "#0000FF:large red cube") && !strcmp(a.arg[5], "#FFA500:small blue sphere"),
	   "semanticmap2image: a --region per visible object in its region colour");
	vis[1] = 0;
	ok(od_scene_task_args(&s, OD_SCENE_BOXES, vis, &a) == 1 && a.n == 5 && !strcmp(a.arg[2], "--box") &&
		   od_scene_task_args(&s, OD_SCENE_MULTIVIEW, vis, &a) == 1,
	   "boundingbox2image names visible objects only; two views give multiview");
	px[2] = od_scene_mention_pixels(&s.p) - 1;
	od_scene_describe(&s, px);
	ok(s.n_rel == 0 && !strncmp(s.caption, "a large red cube, on a ", 23),
	   "an object under %ld pixels is left out of the caption", od_scene_mention_pixels(&s.p));
}

int main(void)
{
	test_known_scene();
	test_boxes();
	test_generation();
	test_params();
	test_words();
	return tap_done();
}
