/*
 * rays_to_cameras.c: ray frames -> cameras (see rays_to_cameras.h; numerics.md
 * §7.5, upstream's raydiff_utils.rays_to_cameras), in float64. The 3x3 linear
 * algebra (SVD for the Kabsch rotation, the lines' meeting point for the centre)
 * is in base/linalg3.c.
 */
#include "camera/rays_to_cameras.h"
#include "camera/camera_json.h"
#include "base/error.h"
#include "base/linalg3.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- rays -> camera */

void od_rays_unpack(const float *ray16, int S, enum od_rays_channels mode, double *rays6)
{
	/* Copies of each ray component in the 16 channels (§7.3). */
	static const int copies[6][3] = { { 0, 6, 12 }, { 1, 7, 13 },  { 2, 8, 14 },
					  { 3, 9, 15 }, { 4, 10, -1 }, { 5, 11, -1 } };
	size_t plane = (size_t)S * S;
	for (size_t p = 0; p < plane; p++)
		for (int k = 0; k < 6; k++) {
			double sum = 0;
			int n = 0;
			for (int c = 0; c < (mode == OD_RAYS_FIRST ? 1 : 3); c++)
				if (copies[k][c] >= 0)
					sum += ray16[(size_t)copies[k][c] * plane + p], n++;
			rays6[p * 6 + k] = sum / n / OD_RAYS_SCALE;
		}
}

int od_rays_to_camera(const double *rays6, int S, const struct od_camera *intr, struct od_camera *cam,
		      struct od_rays_fit *fit, const char *label)
{
	if (S < 1 || S > OD_RAYS_MAX_S)
		return od_error(OD_EINVAL, "%s: ray grid size %d is outside 1..%d", label, S, OD_RAYS_MAX_S);
	struct od_camera K;
	od_camera_init(&K, OD_DEFAULT_FOCAL);
	if (intr) {
		int rc = od_camera_set_intrinsics(&K, intr->fx, intr->fy, intr->cx, intr->cy, label);
		if (rc)
			return rc;
	}
	size_t n = (size_t)S * S;
	double *pts = malloc(n * 3 * sizeof *pts), *dirs = malloc(n * 3 * sizeof *dirs);
	if (!pts || !dirs) {
		free(pts), free(dirs);
		return od_error(OD_ENOMEM, "out of memory");
	}
	int rc = OD_OK;
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		const double *r = rays6 + 6 * i;
		for (int k = 0; k < 6; k++)
			if (!isfinite(r[k])) {
				rc = od_error(OD_EFORMAT, "%s: ray (%zu, %zu) is not finite", label, i / S, i % S);
				goto out;
			}
		double nd = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
		double *d = dirs + 3 * i, *p = pts + 3 * i;
		if (nd <= 1e-6) {
			d[0] = d[1] = d[2] = 0; /* left out of both fits */
			p[0] = p[1] = p[2] = 0;
			continue;
		}
		d[0] = r[0] / nd, d[1] = r[1] / nd, d[2] = r[2] / nd;
		/* p = d̂ × m (to_point_direction, §7.5 step 1: the moment is divided by |d̂| = 1) */
		p[0] = d[1] * r[5] - d[2] * r[4];
		p[1] = d[2] * r[3] - d[0] * r[5];
		p[2] = d[0] * r[4] - d[1] * r[3];
		used++;
	}
	if (used * 2 < n) {
		rc =
		    od_error(OD_EFORMAT, "%s: %zu of %zu ray directions are zero: not a ray frame", label, n - used, n);
		goto out;
	}
	double c[3];
	if (od_lines_meet(pts, dirs, (int)n, c)) {
		rc = od_error(OD_EFORMAT, "%s: the rays are (nearly) parallel: no camera centre", label);
		goto out;
	}
	/* Kabsch (compute_optimal_rotation_alignment, §7.5 step 4): minimise
	 * ‖U − D·R‖ over rotations, with rows u (canonical) and d̂ (given). */
	double focal[2], pp[2];
	od_camera_ndc(&K, focal, pp);
	double H[3][3] = { { 0 } };
	for (int r = 0; r < S; r++)
		for (int col = 0; col < S; col++) {
			size_t i = (size_t)r * S + col;
			const double *d = dirs + 3 * i;
			if (d[0] == 0 && d[1] == 0 && d[2] == 0)
				continue;
			/* cameras_to_rays of an identity camera: half-pixel NDC grid (x left, y up) */
			double u[3] = { ((1 - (2.0 * col + 1) / S) - pp[0]) / focal[0],
					((1 - (2.0 * r + 1) / S) - pp[1]) / focal[1], 1 };
			double nu = sqrt(u[0] * u[0] + u[1] * u[1] + 1);
			for (int a = 0; a < 3; a++)
				for (int b = 0; b < 3; b++)
					H[a][b] += d[a] * u[b] / nu;
		}
	double Us[3][3], sv[3], Vs[3][3];
	od_svd3(H, Us, sv, Vs);
	if (!(sv[1] > 1e-10 * sv[0])) {
		rc = od_error(OD_EFORMAT, "%s: the ray directions are (nearly) parallel: no camera rotation", label);
		goto out;
	}
	double UV[3][3];
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++)
			UV[a][b] = Us[a][0] * Vs[b][0] + Us[a][1] * Vs[b][1] + Us[a][2] * Vs[b][2];
	double sign = od_det3(UV) < 0 ? -1 : 1;
	double R[3][3];
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++)
			R[a][b] = Us[a][0] * Vs[b][0] + Us[a][1] * Vs[b][1] + sign * Us[a][2] * Vs[b][2];

	/* the camera: OpenCV c2w in camera 0's OpenCV frame (§7.5 step 5) */
	static const double PHI[3] = { -1, -1, 1 };
	*cam = K;
	cam->view = -1;
	cam->has_pose = 1;
	cam->has_intrinsics = 1;
	for (int a = 0; a < 3; a++) {
		for (int b = 0; b < 3; b++)
			cam->c2w[a][b] = PHI[a] * R[a][b] * PHI[b];
		cam->c2w[a][3] = PHI[a] * c[a];
		cam->c2w[3][a] = 0;
	}
	cam->c2w[3][3] = 1;
	if (fit) {
		memset(fit, 0, sizeof *fit);
		memcpy(fit->R, R, sizeof R);
		for (int b = 0; b < 3; b++) {
			fit->T[b] = -(c[0] * R[0][b] + c[1] * R[1][b] + c[2] * R[2][b]);
			fit->centre[b] = c[b];
		}
		fit->n_rays = (int)n;
		fit->n_used = (int)used;
		double sa = 0, sd = 0;
		for (int r = 0; r < S; r++)
			for (int col = 0; col < S; col++) {
				size_t i = (size_t)r * S + col;
				const double *d = dirs + 3 * i, *p = pts + 3 * i;
				if (d[0] == 0 && d[1] == 0 && d[2] == 0)
					continue;
				double u[3] = { ((1 - (2.0 * col + 1) / S) - pp[0]) / focal[0],
						((1 - (2.0 * r + 1) / S) - pp[1]) / focal[1], 1 };
				double dr[3], x[3], dot = 0;
				for (int b = 0; b < 3; b++)
					dr[b] = d[0] * R[0][b] + d[1] * R[1][b] + d[2] * R[2][b];
				x[0] = dr[1] * u[2] - dr[2] * u[1];
				x[1] = dr[2] * u[0] - dr[0] * u[2];
				x[2] = dr[0] * u[1] - dr[1] * u[0];
				for (int b = 0; b < 3; b++)
					dot += dr[b] * u[b];
				double ang = atan2(sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]), dot);
				sa += ang * ang;
				double v[3] = { c[0] - p[0], c[1] - p[1], c[2] - p[2] };
				double t = v[0] * d[0] + v[1] * d[1] + v[2] * d[2];
				for (int b = 0; b < 3; b++)
					v[b] -= t * d[b];
				sd += v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
			}
		fit->rms_angle = sqrt(sa / used);
		fit->rms_distance = sqrt(sd / used);
	}
	if (!od_camera_finite(cam) || (fit && !(isfinite(fit->rms_angle) && isfinite(fit->rms_distance))))
		rc = od_error(OD_EFORMAT, "%s: the camera recovered from the rays is not finite (NaN or infinity)", label);
out:
	free(pts), free(dirs);
	return rc;
}

int od_rays_frame_to_camera(const struct od_frame *f, enum od_rays_channels mode, const struct od_camera *intr,
			    struct od_camera *cam, struct od_rays_fit *fit, const char *label)
{
	char shape[64];
	if (f->kind != OD_KIND_RAYS)
		return od_error(OD_EFORMAT, "%s: %s frame, not a ray frame", label, od_kind_a(f->kind));
	if (f->ndim != 3 || f->shape[0] != 16 || f->shape[1] != f->shape[2] || f->shape[1] < 1)
		return od_error(OD_EFORMAT, "%s: ray frame shape %s is not (16, S, S)", label,
				od_shape_str(shape, sizeof shape, f->ndim, f->shape));
	if (f->shape[1] > OD_RAYS_MAX_S)
		return od_error(OD_EFORMAT, "%s: ray frame of %lld x %lld is larger than %d x %d", label,
				(long long)f->shape[1], (long long)f->shape[1], OD_RAYS_MAX_S, OD_RAYS_MAX_S);
	if (!f->data)
		return od_error(OD_EFORMAT, "%s: a placeholder (no data): no rays to recover a camera from", label);
	int S = (int)f->shape[1];
	struct od_camera meta;
	od_camera_init(&meta, OD_DEFAULT_FOCAL);
	const char *v = od_frame_get(f, "camera");
	if (v) {
		char what[512];
		snprintf(what, sizeof what, "%s: metadata camera", label);
		int rc = od_camera_json_parse_object(v, strlen(v), what, &meta);
		if (rc)
			return rc;
	}
	if (!intr && meta.has_intrinsics)
		intr = &meta;
	int view = -1;
	const char *vs = od_frame_get(f, "view");
	if (vs) {
		char *end;
		long x = strtol(vs, &end, 10);
		if (end != vs && !*end && x >= 0 && x < 1000000)
			view = (int)x;
	}
	size_t n = (size_t)S * S;
	float *x = malloc(16 * n * sizeof *x);
	double *rays6 = malloc(6 * n * sizeof *rays6);
	int rc = x && rays6 ? OD_OK : od_error(OD_ENOMEM, "out of memory");
	if (!rc)
		rc = od_frame_to_f32(f, x);
	if (!rc) {
		od_rays_unpack(x, S, mode, rays6);
		rc = od_rays_to_camera(rays6, S, intr, cam, fit, label);
		if (!rc)
			cam->view = view;
	}
	free(x), free(rays6);
	return rc;
}

int od_rays_frame_index_view(const struct od_frame *f)
{
	const char *ix = od_frame_get(f, "index");
	char *end;
	long v = ix ? strtol(ix, &end, 10) : -1;
	return ix && !*end && v >= 1 && v % 2 == 1 && v / 2 <= INT_MAX ? (int)(v / 2) : -1;
}
