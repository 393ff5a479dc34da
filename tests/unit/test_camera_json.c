/*
 * test_camera_json.c: camera files (camera_json.h): the od-cameras format and
 * nerfstudio transforms.json, every refusal (unknown fields, bad matrices,
 * focal <= 0, ...) with its message, and writer -> reader round trips.
 */
#include "od.h"
#include "camera/camera.h"
#include "camera/camera_json.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct od_camera *cams;
static int n_cams;

static int parse(const char *text)
{
	free(cams);
	cams = NULL;
	od_error_clear();
	return od_camera_json_parse(text, strlen(text), "t.json", &cams, &n_cams);
}

/* Parsing fails with OD_EFORMAT and a message containing want. */
static void refused(const char *text, const char *want, const char *what)
{
	int rc = parse(text);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), want) && strstr(od_errmsg(), "'t.json'"), "refused: %s (%s)", what,
	   od_errmsg());
}

static double maxdiff(const double *a, const double *b, int n)
{
	double d = 0;
	for (int i = 0; i < n; i++)
		d = fmax(d, fabs(a[i] - b[i]));
	return d;
}

#define ID "[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]"

static void test_od_format(void)
{
	int rc = parse("{\"format\": \"od-cameras\", \"version\": 1, \"convention\": \"opengl\", \"comment\": \"x\","
		       " \"cameras\": [{\"c2w\": [[0,0,1,2],[1,0,0,0],[0,1,0,0.5],[0,0,0,1]], \"view\": 7,"
		       " \"image\": \"a.png\"}, null, {\"intrinsics\": [[1.2,0,0.4],[0,1.3,0.6],[0,0,1]]}]}");
	ok(rc == OD_OK && n_cams == 3, "od-cameras: three cameras");
	double gl[4][4] = { { 0, 0, 1, 2 }, { 1, 0, 0, 0 }, { 0, 1, 0, 0.5 }, { 0, 0, 0, 1 } }, cv[4][4];
	od_c2w_gl_to_cv(gl, cv);
	ok(rc == OD_OK && cams[0].has_pose && maxdiff(&cams[0].c2w[0][0], &cv[0][0], 16) == 0 && cams[0].view == 7 &&
	       !strcmp(cams[0].image, "a.png") && !cams[0].has_intrinsics && cams[0].fx == OD_DEFAULT_FOCAL,
	   "opengl c2w converted as upstream; view, image kept; default intrinsics");
	ok(rc == OD_OK && !cams[1].has_pose && cams[1].view == 1, "null: a view without a pose");
	ok(rc == OD_OK && !cams[2].has_pose && cams[2].has_intrinsics && cams[2].fx == 1.2 && cams[2].fy == 1.3 &&
	       cams[2].cx == 0.4 && cams[2].cy == 0.6,
	   "intrinsics only: no pose, intrinsics read");

	rc = parse("{\"cameras\": [{\"c2w\": [[0,-1,0,1],[1,0,0,2],[0,0,1,3]]}]}");
	double want[16] = { 0, -1, 0, 1, 1, 0, 0, 2, 0, 0, 1, 3, 0, 0, 0, 1 };
	ok(rc == OD_OK && maxdiff(&cams[0].c2w[0][0], want, 16) == 0, "3x4 c2w, opencv by default");
	rc = parse("{\"cameras\": [{\"w2c\": [[0,1,0,-2],[-1,0,0,1],[0,0,1,-3],[0,0,0,1]]}]}");
	ok(rc == OD_OK && maxdiff(&cams[0].c2w[0][0], want, 16) < 1e-15, "w2c alone: inverted");
	rc = parse("{\"cameras\": [{\"c2w\": [[0,-1,0,1],[1,0,0,2],[0,0,1,3]], \"w2c\": "
		   "[[0,1,0,-2],[-1,0,0,1],[0,0,1,-3]]}]}");
	ok(rc == OD_OK, "c2w and w2c that agree");
	rc = parse("{\"cameras\": [{\"azimuth\": 30, \"elevation\": 10}, {\"azimuth\": 0, \"distance\": 1.5}]}");
	struct od_camera o;
	od_camera_init(&o, 1);
	od_camera_set_orbit(&o, 30, 10, OD_DEFAULT_DISTANCE, "o");
	ok(rc == OD_OK && cams[0].has_orbit && maxdiff(&cams[0].c2w[0][0], &o.c2w[0][0], 16) == 0 &&
	       cams[1].distance == 1.5 && cams[1].elevation == 0,
	   "orbit cameras: elevation 0 and distance 1.7 by default");
	rc = parse("{\"cameras\": [{\"c2w\": " ID ", \"azimuth\": 45}]}");
	ok(rc == OD_OK && cams[0].has_orbit && cams[0].c2w[0][0] == 1, "c2w wins over an orbit, kept as information");
	rc = parse("{\"cameras\": [{\"c2w\": " ID ", \"pytorch3d\": {\"R\": [[1,0,0],[0,1,0],[0,0,1]], \"T\": [0,0,0]},"
		   " \"fit\": {\"rays\": 64, \"used\": 64, \"rms_angle_deg\": 0, \"rms_distance\": 0}}]}");
	ok(rc == OD_OK, "written-only fields (pytorch3d, fit) accepted");

	refused("{\"cameras\": [{\"c2w\": " ID ", \"focal\": 1}]}", "cameras[0]: unknown field 'focal'",
		"unknown camera field");
	refused("{\"cameras\": [], \"extra\": 1}", "unknown field 'extra'", "unknown top-level field");
	refused("{\"cameras\": [{\"pytorch3d\": {\"R\": [[1,0,0],[0,1,0],[0,0,1]], \"t\": [0,0,0]}}]}",
		"pytorch3d: unknown field 't'", "unknown pytorch3d field");
	refused("{\"cameras\": [{\"fit\": {\"rms\": 1}}]}", "fit: unknown field 'rms'", "unknown fit field");
	refused("{\"format\": \"nerf\", \"cameras\": [null]}", "'format'", "wrong format");
	refused("{\"version\": 2, \"cameras\": [null]}", "version", "version 2");
	refused("{\"convention\": \"blender\", \"cameras\": [null]}", "convention", "unknown convention");
	refused("{\"cameras\": []}", "empty", "no cameras");
	refused("{\"cameras\": {}}", "not an array", "cameras not an array");
	refused("{\"cameras\": [3]}", "cameras[0]: not an object", "a camera that is a number");
	refused("{\"cameras\": [{\"c2w\": [[1,0,0,0],[0,1,0,0],[0,0,0,0],[0,0,0,1]]}]}", "singular", "singular c2w");
	refused("{\"cameras\": [{\"c2w\": [[2,0,0,0],[0,2,0,0],[0,0,2,0],[0,0,0,1]]}]}", "not orthonormal",
		"scaled c2w");
	refused("{\"cameras\": [{\"c2w\": [[1,0,0,0],[0,1,0,0],[0,0,-1,0],[0,0,0,1]]}]}", "reflection", "reflection");
	refused("{\"cameras\": [{\"c2w\": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,1,1]]}]}", "last row", "bad last row");
	refused("{\"cameras\": [{\"c2w\": [[1,0,0,0],[0,1,0,0],[0,0,1,\"x\"]]}]}", "c2w'[2][3] is not a finite number",
		"a string in a matrix");
	refused("{\"cameras\": [{\"c2w\": [[1,0,0],[0,1,0],[0,0,1]]}]}", "not an array of 4 numbers", "3x3 c2w");
	refused("{\"cameras\": [{\"c2w\": [[1,0,0,0],[0,1,0,0],[0,0,1,0]], \"w2c\": [[1,0,0,1],[0,1,0,0],[0,0,1,0]]}]}",
		"not inverses", "c2w and w2c disagree");
	refused("{\"cameras\": [{\"intrinsics\": [[0,0,0.5],[0,1,0.5],[0,0,1]]}]}", "must be positive", "focal 0");
	refused("{\"cameras\": [{\"intrinsics\": [[-1.3,0,0.5],[0,-1.3,0.5],[0,0,1]]}]}", "must be positive",
		"negative focal");
	refused("{\"cameras\": [{\"intrinsics\": [[1,0.1,0.5],[0,1,0.5],[0,0,1]]}]}", "no skew", "skewed intrinsics");
	refused("{\"cameras\": [{\"azimuth\": 0, \"distance\": 0}]}", "distance", "distance 0");
	refused("{\"cameras\": [{\"elevation\": 10}]}", "without 'azimuth'", "elevation without azimuth");
	refused("{\"cameras\": [{\"view\": -1}]}", "view", "negative view");
	refused("{\"cameras\": [{\"image\": 3}]}", "not a string", "image not a string");
	refused("[1, 2]", "not a JSON object", "a JSON array");
	refused("{\"cameras\": [", "not valid JSON", "truncated JSON");
	refused("{\"cameras\": [null], \"cameras\": [null]}", "not valid JSON", "duplicate keys");
	refused("{\"poses\": []}", "not a camera file", "neither format");
	refused("{\"cameras\": [null], \"frames\": []}", "both", "both formats");
}

static void test_nerfstudio(void)
{
	int rc =
	    parse("{\"camera_model\": \"OPENCV\", \"fl_x\": 960, \"fl_y\": 950, \"cx\": 100, \"cy\": 9, \"w\": 1280,"
		  " \"h\": 720, \"k1\": 0.1, \"aabb_scale\": 16, \"frames\": ["
		  "{\"file_path\": \"images/0.png\", \"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,2],[0,0,0,1]],"
		  " \"colmap_im_id\": 1},"
		  "{\"file_path\": \"images/1.png\", \"transform_matrix\": [[1,0,0,1],[0,1,0,0],[0,0,1,2],[0,0,0,1]],"
		  " \"fl_x\": 720, \"w\": 1281}]}");
	ok(rc == OD_OK && n_cams == 2, "transforms.json: two frames");
	double gl[4][4] = { { 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 2 }, { 0, 0, 0, 1 } }, cv[4][4];
	od_c2w_gl_to_cv(gl, cv);
	ok(rc == OD_OK && maxdiff(&cams[0].c2w[0][0], &cv[0][0], 16) == 0 && !strcmp(cams[0].image, "images/0.png"),
	   "transform_matrix is OpenGL, converted as upstream");
	ok(rc == OD_OK && cams[0].fx == 960.0 / 720 && cams[0].fy == 950.0 / 720 && cams[0].cx == 0.5 &&
	       cams[0].cy == 0.5,
	   "intrinsics normalised by min(w, h); cx, cy ignored (centre, as upstream)");
	ok(rc == OD_OK && cams[1].fx == 1.0 && cams[1].cx == 0.5 + (640 - 640.5) / 720,
	   "per-frame fl_x and w override the top level; odd width: principal point w//2");
	rc = parse("{\"camera_angle_x\": 0.6911112070083618, \"frames\": [{\"file_path\": \"./train/r_0\", "
		   "\"rotation\": 0.0125,"
		   " \"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]}]}");
	ok(rc == OD_OK && fabs(cams[0].fx - 0.5 / tan(0.6911112070083618 / 2)) < 1e-15 && cams[0].fy == cams[0].fx,
	   "Blender-style camera_angle_x without w, h: square image");
	refused("{\"fl_x\": 1, \"w\": 2, \"h\": 2, \"frames\": [{\"transform_matrix\": " ID ", \"flx\": 3}]}",
		"frames[0]: unknown field 'flx'", "unknown frame field");
	refused("{\"fl_x\": 1, \"w\": 2, \"h\": 2, \"frames\": [], \"scene\": 1}", "unknown field 'scene'",
		"unknown top-level field");
	refused("{\"camera_model\": \"OPENCV_FISHEYE\", \"fl_x\": 1, \"w\": 2, \"h\": 2, \"frames\": "
		"[{\"transform_matrix\": " ID "}]}",
		"not a perspective model", "fisheye");
	refused("{\"frames\": [{\"transform_matrix\": " ID "}]}", "no focal length", "no focal length");
	refused("{\"fl_x\": 100, \"frames\": [{\"transform_matrix\": " ID "}]}", "needs the image size",
		"fl_x without w");
	refused("{\"fl_x\": -100, \"w\": 2, \"h\": 2, \"frames\": [{\"transform_matrix\": " ID "}]}", "positive",
		"negative fl_x");
	refused("{\"fl_x\": 100, \"w\": 200, \"frames\": [{\"transform_matrix\": " ID "}]}", "together", "w without h");
	refused("{\"fl_x\": 1, \"w\": 2, \"h\": 2, \"frames\": [{\"file_path\": \"x\"}]}", "no 'transform_matrix'",
		"missing transform_matrix");
	refused("{\"fl_x\": 1, \"w\": 2, \"h\": 2, \"frames\": [{\"transform_matrix\": "
		"[[0,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}]}",
		"singular", "singular transform_matrix");
	refused("{\"fl_x\": 1, \"w\": 2, \"h\": 2, \"frames\": []}", "empty", "no frames");
}

static void test_round_trips(void)
{
	struct od_camera c[3];
	struct od_rays_fit fit[3];
	memset(fit, 0, sizeof fit);
	for (int i = 0; i < 3; i++) {
		od_camera_init(&c[i], 1.3887);
		c[i].view = i;
		od_camera_set_orbit(&c[i], 33.3 * i, 7.1 * i - 3, 1.5 + 0.1 * i, "o");
		od_camera_set_intrinsics(&c[i], 1.1 + i, 1.2, 0.45, 0.55, "k");
		fit[i].R[0][0] = fit[i].R[1][1] = fit[i].R[2][2] = 1;
		fit[i].n_rays = fit[i].n_used = 64;
	}
	snprintf(c[1].image, sizeof c[1].image, "we\"ird\\name\n.png");
	c[2].has_pose = 0;
	char *s = od_camera_json_dump(c, fit, 3);
	int rc = s ? parse(s) : -1;
	ok(rc == OD_OK && n_cams == 3, "dump -> parse: three cameras (%s)", od_errmsg());
	double worst = 0;
	for (int i = 0; i < 2 && rc == OD_OK; i++)
		worst = fmax(worst, maxdiff(&cams[i].c2w[0][0], &c[i].c2w[0][0], 16));
	ok(rc == OD_OK && worst < 1e-11 && cams[1].fx == 2.1 && !strcmp(cams[1].image, c[1].image) &&
	       !cams[2].has_pose && cams[2].fx == 3.1 && cams[1].has_orbit && cams[1].azimuth == 33.3,
	   "dump -> parse keeps poses (within %.2g), intrinsics, orbit, image names, unknown poses", worst);
	free(s);
	char *o = od_camera_json_object(&c[1]);
	struct od_camera back;
	rc = o ? od_camera_json_parse_object(o, strlen(o), "meta", &back) : -1;
	ok(rc == OD_OK && maxdiff(&back.c2w[0][0], &c[1].c2w[0][0], 16) < 1e-11 && back.view == 1 && back.cy == 0.55 &&
	       !strchr(o, '\n'),
	   "camera= object: one line, parses back");
	free(o);
}

int main(void)
{
	test_od_format();
	test_nerfstudio();
	test_round_trips();
	free(cams);
	return tap_done();
}
