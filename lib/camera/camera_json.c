/*
 * camera_json.c: reading and writing camera files (formats in camera_json.h).
 *
 * Parsing uses jansson and checks every field before it is used: names (unknown
 * ones are refused), types, matrix sizes, finiteness, and the pose itself
 * (od_c2w_check). Writing is by hand so that matrices come out one row per
 * line-fragment, readable by people as well as by od-plucker.
 */
#include "camera/camera_json.h"
#include "base/error.h"
#include "formats/config.h"
#include "base/textbuf.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- parsing helpers */

static int in_list(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(key, *list))
			return 1;
	return 0;
}

/* Refuse fields not in known (NULL-terminated). */
static int check_fields(json_t *obj, const char *const *known, const char *what)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		(void)v;
		if (!in_list(key, known))
			return od_error(OD_EFORMAT, "%s: unknown field '%s'", what, key);
	}
	return OD_OK;
}

static int get_num(json_t *v, const char *what, const char *key, double *out)
{
	if (!json_is_number(v))
		return od_error(OD_EFORMAT, "%s: '%s' is not a number", what, key);
	*out = json_number_value(v);
	if (!isfinite(*out))
		return od_error(OD_EFORMAT, "%s: '%s' is not a finite number", what, key);
	return OD_OK;
}

/* A rows x cols matrix of numbers; rows may also be rows - 1 when allow_short
 * (a 3x4 pose: the last row (0, 0, 0, 1) implied). */
static int get_matrix(json_t *v, int rows, int cols, int allow_short, const char *what, const char *key, double *out)
{
	size_t nr = json_is_array(v) ? json_array_size(v) : 0;
	if (!json_is_array(v) || !(nr == (size_t)rows || (allow_short && nr == (size_t)rows - 1)))
		return od_error(OD_EFORMAT, "%s: '%s' is not a %dx%d matrix (an array of %d rows)", what, key, rows,
				cols, rows);
	for (size_t i = 0; i < nr; i++) {
		json_t *row = json_array_get(v, i);
		if (!json_is_array(row) || json_array_size(row) != (size_t)cols)
			return od_error(OD_EFORMAT, "%s: '%s' row %zu is not an array of %d numbers", what, key, i,
					cols);
		for (int j = 0; j < cols; j++) {
			json_t *x = json_array_get(row, (size_t)j);
			if (!json_is_number(x) || !isfinite(json_number_value(x)))
				return od_error(OD_EFORMAT, "%s: '%s'[%zu][%d] is not a finite number", what, key, i,
						j);
			out[i * cols + j] = json_number_value(x);
		}
	}
	if (nr < (size_t)rows)
		for (int j = 0; j < cols; j++)
			out[(rows - 1) * cols + j] = j == cols - 1;
	return OD_OK;
}

static int get_vector(json_t *v, int n, const char *what, const char *key, double *out)
{
	if (!json_is_array(v) || json_array_size(v) != (size_t)n)
		return od_error(OD_EFORMAT, "%s: '%s' is not an array of %d numbers", what, key, n);
	for (int j = 0; j < n; j++) {
		json_t *x = json_array_get(v, (size_t)j);
		if (!json_is_number(x) || !isfinite(json_number_value(x)))
			return od_error(OD_EFORMAT, "%s: '%s'[%d] is not a finite number", what, key, j);
		out[j] = json_number_value(x);
	}
	return OD_OK;
}

static int get_image(json_t *v, const char *what, const char *key, struct od_camera *c)
{
	if (!json_is_string(v))
		return od_error(OD_EFORMAT, "%s: '%s' is not a string", what, key);
	if (json_string_length(v) >= sizeof c->image || strlen(json_string_value(v)) != json_string_length(v))
		return od_error(OD_EFORMAT, "%s: '%s' is longer than %zu bytes or holds a NUL", what, key,
				sizeof c->image - 1);
	snprintf(c->image, sizeof c->image, "%s", json_string_value(v));
	return OD_OK;
}

/* ---------------------------------------------------------------- od-cameras entries */

static int parse_intrinsics(json_t *v, const char *what, struct od_camera *c)
{
	double K[9];
	int rc = get_matrix(v, 3, 3, 0, what, "intrinsics", K);
	if (rc)
		return rc;
	if (K[1] != 0 || K[3] != 0 || K[6] != 0 || K[7] != 0 || K[8] != 1)
		return od_error(OD_EFORMAT, "%s: 'intrinsics' must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (no skew)",
				what);
	return od_camera_set_intrinsics(c, K[0], K[4], K[2], K[5], what);
}

static int parse_camera(json_t *obj, int opengl, const char *what, struct od_camera *c)
{
	static const char *const known[] = { "view",     "image",      "c2w",       "w2c", "azimuth", "elevation",
					     "distance", "intrinsics", "pytorch3d", "fit", NULL };
	static const char *const known_p3d[] = { "R", "T", NULL };
	static const char *const known_fit[] = { "rays", "used", "rms_angle_deg", "rms_distance", NULL };
	int rc = check_fields(obj, known, what);
	if (rc)
		return rc;
	json_t *v;
	char sub[600];
	if ((v = json_object_get(obj, "view"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > OD_CAMERAS_MAX)
			return od_error(OD_EFORMAT, "%s: 'view' is not a view index", what);
		c->view = (int)json_integer_value(v);
	}
	if ((v = json_object_get(obj, "image")) && (rc = get_image(v, what, "image", c)))
		return rc;
	if ((v = json_object_get(obj, "intrinsics")) && (rc = parse_intrinsics(v, what, c)))
		return rc;
	/* informational fields: checked for shape, not used */
	if ((v = json_object_get(obj, "pytorch3d"))) {
		double R[9], T[3];
		snprintf(sub, sizeof sub, "%s.pytorch3d", what);
		if (!json_is_object(v))
			return od_error(OD_EFORMAT, "%s: 'pytorch3d' is not an object", what);
		if ((rc = check_fields(v, known_p3d, sub)))
			return rc;
		json_t *x;
		if ((x = json_object_get(v, "R")) && (rc = get_matrix(x, 3, 3, 0, sub, "R", R)))
			return rc;
		if ((x = json_object_get(v, "T")) && (rc = get_vector(x, 3, sub, "T", T)))
			return rc;
	}
	if ((v = json_object_get(obj, "fit"))) {
		snprintf(sub, sizeof sub, "%s.fit", what);
		if (!json_is_object(v))
			return od_error(OD_EFORMAT, "%s: 'fit' is not an object", what);
		if ((rc = check_fields(v, known_fit, sub)))
			return rc;
		const char *key;
		json_t *x;
		json_object_foreach(v, key, x)
		{
			double d;
			if ((rc = get_num(x, sub, key, &d)))
				return rc;
		}
	}
	/* the orbit: the pose unless c2w or w2c is given */
	json_t *az = json_object_get(obj, "azimuth"), *el = json_object_get(obj, "elevation"),
	       *dist = json_object_get(obj, "distance");
	double a = 0, e = 0, d = OD_DEFAULT_DISTANCE;
	if (!az && (el || dist))
		return od_error(OD_EFORMAT, "%s: 'elevation' or 'distance' without 'azimuth'", what);
	if (az && (rc = get_num(az, what, "azimuth", &a)))
		return rc;
	if (el && (rc = get_num(el, what, "elevation", &e)))
		return rc;
	if (dist && (rc = get_num(dist, what, "distance", &d)))
		return rc;
	json_t *jc = json_object_get(obj, "c2w"), *jw = json_object_get(obj, "w2c");
	double m[16], w[16];
	if (jc) {
		snprintf(sub, sizeof sub, "%s.c2w", what);
		if ((rc = get_matrix(jc, 4, 4, 1, what, "c2w", m)) ||
		    (rc = od_camera_set_c2w(c, (double(*)[4])m, opengl, sub)))
			return rc;
	}
	if (jw) {
		snprintf(sub, sizeof sub, "%s.w2c", what);
		if ((rc = get_matrix(jw, 4, 4, 1, what, "w2c", w)))
			return rc;
		if (!jc) {
			if ((rc = od_camera_set_w2c(c, (double(*)[4])w, opengl, sub)))
				return rc;
		} else {
			/* both given: they must be inverses of each other */
			if ((rc = od_c2w_check((double(*)[4])w, sub)))
				return rc;
			double worst = 0, scale = 1;
			for (int i = 0; i < 3; i++)
				scale = fmax(scale, fabs(m[i * 4 + 3]));
			for (int i = 0; i < 4; i++)
				for (int j = 0; j < 4; j++) {
					double s = 0;
					for (int k = 0; k < 4; k++)
						s += m[i * 4 + k] * w[k * 4 + j];
					worst = fmax(worst, fabs(s - (i == j)) / (j == 3 ? scale : 1));
				}
			if (worst > 1e-4)
				return od_error(OD_EFORMAT, "%s: 'c2w' and 'w2c' are not inverses of each other", what);
		}
	}
	if (az) {
		if (jc || jw) {
			/* informational: remember the angles for the frame metadata */
			if (!(d > 0))
				return od_error(OD_EFORMAT, "%s: distance %g is not a positive number", what, d);
			c->has_orbit = 1;
			c->azimuth = a, c->elevation = e, c->distance = d;
		} else if ((rc = od_camera_set_orbit(c, a, e, d, what))) {
			return rc;
		}
	}
	return OD_OK;
}

static int parse_od(json_t *root, const char *label, struct od_camera **out, int *n_out)
{
	static const char *const known[] = { "format", "version", "convention", "comment", "cameras", NULL };
	char what[600];
	snprintf(what, sizeof what, "'%s'", label);
	int rc = check_fields(root, known, what);
	if (rc)
		return rc;
	json_t *v;
	if ((v = json_object_get(root, "format")) && (!json_is_string(v) || strcmp(json_string_value(v), "od-cameras")))
		return od_error(OD_EFORMAT, "'%s': 'format' is not \"od-cameras\"", label);
	if ((v = json_object_get(root, "version")) && (!json_is_integer(v) || json_integer_value(v) != 1))
		return od_error(OD_EFORMAT, "'%s': unsupported 'version' (this od reads version 1)", label);
	if ((v = json_object_get(root, "comment")) && !json_is_string(v))
		return od_error(OD_EFORMAT, "'%s': 'comment' is not a string", label);
	int opengl = 0;
	if ((v = json_object_get(root, "convention"))) {
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		if (!strcmp(s, "opengl"))
			opengl = 1;
		else if (strcmp(s, "opencv"))
			return od_error(OD_EFORMAT, "'%s': 'convention' is not \"opencv\" or \"opengl\"", label);
	}
	json_t *arr = json_object_get(root, "cameras");
	if (!json_is_array(arr))
		return od_error(OD_EFORMAT, "'%s': 'cameras' is not an array", label);
	size_t n = json_array_size(arr);
	if (n == 0)
		return od_error(OD_EFORMAT, "'%s': 'cameras' is empty", label);
	if (n > OD_CAMERAS_MAX)
		return od_error(OD_EFORMAT, "'%s': more than %d cameras", label, OD_CAMERAS_MAX);
	struct od_camera *cams = calloc(n, sizeof *cams);
	if (!cams)
		return od_error(OD_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		od_camera_init(&cams[i], OD_DEFAULT_FOCAL);
		cams[i].view = (int)i;
		if (json_is_null(e))
			continue;
		snprintf(what, sizeof what, "'%s': cameras[%zu]", label, i);
		if (!json_is_object(e))
			rc = od_error(OD_EFORMAT, "%s: not an object (or null)", what);
		else
			rc = parse_camera(e, opengl, what, &cams[i]);
		if (rc) {
			free(cams);
			return rc;
		}
	}
	*out = cams;
	*n_out = (int)n;
	return OD_OK;
}

/* ---------------------------------------------------------------- nerfstudio transforms.json */

/* Intrinsics may be at the top level or per frame; the frame's value wins. */
static json_t *ns_get(json_t *frame, json_t *root, const char *key)
{
	json_t *v = json_object_get(frame, key);
	return v ? v : json_object_get(root, key);
}

static int ns_num(json_t *frame, json_t *root, const char *key, const char *what, int *has, double *out)
{
	json_t *v = ns_get(frame, root, key);
	*has = v != NULL;
	if (!v)
		return OD_OK;
	int rc = get_num(v, what, key, out);
	if (!rc && !(*out > 0))
		return od_error(OD_EFORMAT, "%s: '%s' must be positive", what, key);
	return rc;
}

static int ns_camera(json_t *frame, json_t *root, const char *what, struct od_camera *c)
{
	static const char *const known[] = { "file_path",
					     "transform_matrix",
					     "fl_x",
					     "fl_y",
					     "cx",
					     "cy",
					     "w",
					     "h",
					     "camera_angle_x",
					     "camera_angle_y",
					     "k1",
					     "k2",
					     "k3",
					     "k4",
					     "p1",
					     "p2",
					     "camera_model",
					     "mask_path",
					     "depth_file_path",
					     "colmap_im_id",
					     "sharpness",
					     "rotation",
					     NULL };
	static const char *const models[] = { "OPENCV",      "PINHOLE", "SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL",
					      "FULL_OPENCV", NULL };
	int rc = check_fields(frame, known, what);
	if (rc)
		return rc;
	json_t *v;
	if ((v = ns_get(frame, root, "camera_model")) && (!json_is_string(v) || !in_list(json_string_value(v), models)))
		return od_error(OD_EFORMAT, "%s: camera_model is not a perspective model (OPENCV, PINHOLE, ...)", what);
	if ((v = json_object_get(frame, "file_path")) && (rc = get_image(v, what, "file_path", c)))
		return rc;
	double w = 0, h = 0, flx = 0, fly = 0, ax = 0, ay = 0;
	int has_w, has_h, has_flx, has_fly, has_ax, has_ay;
	if ((rc = ns_num(frame, root, "w", what, &has_w, &w)) || (rc = ns_num(frame, root, "h", what, &has_h, &h)) ||
	    (rc = ns_num(frame, root, "fl_x", what, &has_flx, &flx)) ||
	    (rc = ns_num(frame, root, "fl_y", what, &has_fly, &fly)) ||
	    (rc = ns_num(frame, root, "camera_angle_x", what, &has_ax, &ax)) ||
	    (rc = ns_num(frame, root, "camera_angle_y", what, &has_ay, &ay)))
		return rc;
	if (has_w != has_h)
		return od_error(OD_EFORMAT, "%s: 'w' and 'h' must be given together", what);
	if ((has_ax && !(ax < M_PI)) || (has_ay && !(ay < M_PI)))
		return od_error(OD_EFORMAT, "%s: a camera angle is not below pi", what);
	/* Normalise by the shorter side, as PyTorch3D's opencv conversion with the image
	 * size does (numerics.md §7.6): that is the square a centre crop keeps. Without w, h
	 * (Blender-style camera_angle_x only) the image is taken to be square. */
	double side = has_w ? fmin(w, h) : 1, fx, fy;
	if (has_flx) {
		if (!has_w)
			return od_error(OD_EFORMAT, "%s: 'fl_x' needs the image size 'w' and 'h'", what);
		fx = flx / side;
	} else if (has_ax) {
		fx = 0.5 * (has_w ? w : 1) / tan(ax / 2) / side;
	} else {
		return od_error(OD_EFORMAT, "%s: no focal length ('fl_x' or 'camera_angle_x')", what);
	}
	if (has_fly) {
		if (!has_w)
			return od_error(OD_EFORMAT, "%s: 'fl_y' needs the image size 'w' and 'h'", what);
		fy = fly / side;
	} else if (has_ay) {
		fy = 0.5 * (has_w ? h : 1) / tan(ay / 2) / side;
	} else {
		fy = fx; /* square pixels: the same focal in pixels */
	}
	/* principal point (w//2, h//2) whatever the file says (numerics.md §7.6) */
	double cx = has_w ? 0.5 + (floor(w / 2) - w / 2) / side : 0.5;
	double cy = has_w ? 0.5 + (floor(h / 2) - h / 2) / side : 0.5;
	if ((rc = od_camera_set_intrinsics(c, fx, fy, cx, cy, what)))
		return rc;
	json_t *tm = json_object_get(frame, "transform_matrix");
	if (!tm)
		return od_error(OD_EFORMAT, "%s: no 'transform_matrix'", what);
	double m[16];
	char sub[600];
	snprintf(sub, sizeof sub, "%s.transform_matrix", what);
	if ((rc = get_matrix(tm, 4, 4, 1, what, "transform_matrix", m)))
		return rc;
	return od_camera_set_c2w(c, (double(*)[4])m, 1, sub);
}

static int parse_nerfstudio(json_t *root, const char *label, struct od_camera **out, int *n_out)
{
	static const char *const known[] = { "frames",
					     "camera_model",
					     "fl_x",
					     "fl_y",
					     "cx",
					     "cy",
					     "w",
					     "h",
					     "camera_angle_x",
					     "camera_angle_y",
					     "k1",
					     "k2",
					     "k3",
					     "k4",
					     "p1",
					     "p2",
					     "aabb_scale",
					     "applied_transform",
					     "applied_scale",
					     "ply_file_path",
					     "orientation_override",
					     "auto_scale_poses_override",
					     "scale",
					     "offset",
					     "sharpen",
					     NULL };
	char what[600];
	snprintf(what, sizeof what, "'%s'", label);
	int rc = check_fields(root, known, what);
	if (rc)
		return rc;
	json_t *arr = json_object_get(root, "frames");
	if (!json_is_array(arr))
		return od_error(OD_EFORMAT, "'%s': 'frames' is not an array", label);
	size_t n = json_array_size(arr);
	if (n == 0)
		return od_error(OD_EFORMAT, "'%s': 'frames' is empty", label);
	if (n > OD_CAMERAS_MAX)
		return od_error(OD_EFORMAT, "'%s': more than %d frames", label, OD_CAMERAS_MAX);
	struct od_camera *cams = calloc(n, sizeof *cams);
	if (!cams)
		return od_error(OD_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		od_camera_init(&cams[i], OD_DEFAULT_FOCAL);
		cams[i].view = (int)i;
		snprintf(what, sizeof what, "'%s': frames[%zu]", label, i);
		rc = json_is_object(e) ? ns_camera(e, root, what, &cams[i])
				       : od_error(OD_EFORMAT, "%s: not an object", what);
		if (rc) {
			free(cams);
			return rc;
		}
	}
	*out = cams;
	*n_out = (int)n;
	return OD_OK;
}

/* ---------------------------------------------------------------- entry points */

static int load(const char *text, size_t len, const char *label, json_t **root)
{
	return od_json_object(text, len, label, OD_EFORMAT, root);
}

int od_camera_json_parse(const char *text, size_t len, const char *label, struct od_camera **cams, int *n)
{
	json_t *root;
	*cams = NULL;
	*n = 0;
	int rc = load(text, len, label, &root);
	if (rc)
		return rc;
	int is_od = json_object_get(root, "cameras") != NULL, is_ns = json_object_get(root, "frames") != NULL;
	if (is_od && is_ns)
		rc =
		    od_error(OD_EFORMAT, "'%s': has both 'cameras' (od-cameras) and 'frames' (transforms.json)", label);
	else if (is_od)
		rc = parse_od(root, label, cams, n);
	else if (is_ns)
		rc = parse_nerfstudio(root, label, cams, n);
	else
		rc =
		    od_error(OD_EFORMAT,
			     "'%s': not a camera file: no 'cameras' (od-cameras) or 'frames' (transforms.json)", label);
	json_decref(root);
	return rc;
}

int od_camera_json_read(const char *path, struct od_camera **cams, int *n)
{
	char *text;
	size_t len;
	int rc = od_read_file(path, OD_CAMERA_FILE_MAX, &text, &len);
	if (rc)
		return rc;
	rc = od_camera_json_parse(text, len, strcmp(path, "-") ? path : "<stdin>", cams, n);
	free(text);
	return rc;
}

int od_camera_json_parse_object(const char *text, size_t len, const char *what, struct od_camera *c)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return od_error(OD_EFORMAT, "%s: not valid JSON: %s", what, jerr.text);
	od_camera_init(c, OD_DEFAULT_FOCAL);
	int rc =
	    json_is_object(root) ? parse_camera(root, 0, what, c) : od_error(OD_EFORMAT, "%s: not an object", what);
	json_decref(root);
	return rc;
}

/* ---------------------------------------------------------------- writing */

/* Numbers: 12 significant digits (far below the 1e-5 the round trip needs);
 * rounding noise below 1e-14 is written as 0, and never "-0". */
static void sb_num(struct od_tbuf *b, double x)
{
	if (fabs(x) < 1e-14)
		x = 0;
	od_tbuf_printf(b, "%.12g", x);
}

static void sb_str(struct od_tbuf *b, const char *s)
{
	od_tbuf_printf(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			od_tbuf_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			od_tbuf_printf(b, "\\u%04x", *p);
		else
			od_tbuf_printf(b, "%c", *p);
	}
	od_tbuf_printf(b, "\"");
}

static void sb_vector(struct od_tbuf *b, const double *v, int n);

static void sb_matrix(struct od_tbuf *b, const double *m, int rows, int cols)
{
	od_tbuf_printf(b, "[");
	for (int i = 0; i < rows; i++) {
		if (i)
			od_tbuf_printf(b, ", ");
		sb_vector(b, m + i * cols, cols);
	}
	od_tbuf_printf(b, "]");
}

static void sb_vector(struct od_tbuf *b, const double *v, int n)
{
	od_tbuf_printf(b, "[");
	for (int j = 0; j < n; j++) {
		if (j)
			od_tbuf_printf(b, ", ");
		sb_num(b, v[j]);
	}
	od_tbuf_printf(b, "]");
}

/* The fields of one camera; sep goes between fields ("," + newline and indent,
 * or ", " for the compact form). */
static void sb_camera(struct od_tbuf *b, const struct od_camera *c, const struct od_rays_fit *fit, int with_w2c,
		      const char *sep)
{
	const char *s = "";
	if (c->view >= 0) {
		od_tbuf_printf(b, "\"view\": %d", c->view);
		s = sep;
	}
	if (c->image[0]) {
		od_tbuf_printf(b, "%s\"image\": ", s);
		sb_str(b, c->image);
		s = sep;
	}
	if (c->has_pose) {
		od_tbuf_printf(b, "%s\"c2w\": ", s);
		sb_matrix(b, &c->c2w[0][0], 4, 4);
		s = sep;
		if (with_w2c) {
			double m[4][4], w[4][4];
			memcpy(m, c->c2w, sizeof m); /* (a local copy keeps GCC 12's -Wstringop-overflow quiet) */
			od_pose_invert(m, w);
			od_tbuf_printf(b, "%s\"w2c\": ", s);
			sb_matrix(b, &w[0][0], 4, 4);
		}
	}
	double K[9] = { c->fx, 0, c->cx, 0, c->fy, c->cy, 0, 0, 1 };
	od_tbuf_printf(b, "%s\"intrinsics\": ", s);
	sb_matrix(b, K, 3, 3);
	if (c->has_orbit && c->has_pose) {
		/* (without a pose the angles would read back as one) */
		od_tbuf_printf(b, "%s\"azimuth\": ", sep);
		sb_num(b, c->azimuth);
		od_tbuf_printf(b, ", \"elevation\": ");
		sb_num(b, c->elevation);
		od_tbuf_printf(b, ", \"distance\": ");
		sb_num(b, c->distance);
	}
	if (fit) {
		od_tbuf_printf(b, "%s\"pytorch3d\": {\"R\": ", sep);
		sb_matrix(b, &fit->R[0][0], 3, 3);
		od_tbuf_printf(b, ", \"T\": ");
		sb_vector(b, fit->T, 3);
		od_tbuf_printf(b, "}%s\"fit\": {\"rays\": %d, \"used\": %d, \"rms_angle_deg\": ", sep, fit->n_rays,
			  fit->n_used);
		sb_num(b, fit->rms_angle * (180 / M_PI));
		od_tbuf_printf(b, ", \"rms_distance\": ");
		sb_num(b, fit->rms_distance);
		od_tbuf_printf(b, "}");
	}
}

char *od_camera_json_object(const struct od_camera *c)
{
	struct od_tbuf b = { 0 };
	od_tbuf_printf(&b, "{");
	sb_camera(&b, c, NULL, 0, ", ");
	od_tbuf_printf(&b, "}");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

char *od_camera_json_dump(const struct od_camera *cams, const struct od_rays_fit *fits, int n)
{
	struct od_tbuf b = { 0 };
	od_tbuf_printf(&b, "{\n  \"format\": \"od-cameras\",\n  \"version\": 1,\n  \"convention\": \"opencv\",\n"
		      "  \"cameras\": [");
	for (int i = 0; i < n; i++) {
		od_tbuf_printf(&b, "%s\n    {\n      ", i ? "," : "");
		sb_camera(&b, &cams[i], fits ? &fits[i] : NULL, 1, ",\n      ");
		od_tbuf_printf(&b, "\n    }");
	}
	od_tbuf_printf(&b, "\n  ]\n}\n");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

int od_camera_json_write(struct od_out *o, const struct od_camera *cams, const struct od_rays_fit *fits, int n)
{
	for (int i = 0; i < n; i++) /* README: non-finite values never leave a tool */
		if (!od_camera_finite(&cams[i]) ||
		    (fits && !(isfinite(fits[i].rms_angle) && isfinite(fits[i].rms_distance))))
			return od_error(OD_EFAIL, "camera %d: a value is not finite (NaN or infinity)", i);
	char *s = od_camera_json_dump(cams, fits, n);
	if (!s)
		return od_error(OD_ENOMEM, "out of memory");
	int rc = od_out_write(o, s, strlen(s));
	free(s);
	return rc;
}
