/*
 * camera.c: camera construction, conventions and Plücker rays (see camera.h;
 * numerics.md §7.1-7.3).
 *
 * Upstream builds PyTorch3D cameras and lets PyTorch3D unproject a grid; we use
 * the equivalent closed form of §7.2 in float64:
 *
 *   R_rel = Rc_0ᵀ Rc_v,  t_rel = Rc_0ᵀ (p_v − p_0)         (OpenCV c2w rotations Rc, centres p)
 *   o = Φ t_rel,  d = Φ R_rel · (((c + ½)/S − cx)/fx, ((r + ½)/S − cy)/fy, 1)ᵀ,  Φ = diag(−1, −1, 1)
 *
 * The camera-frame direction is upstream's unprojection of the half-pixel NDC
 * point (x_c, y_r) = (1 − (2c+1)/S, 1 − (2r+1)/S) with NDC focal 2f and principal
 * point −2(c − ½), flipped from PyTorch3D's (+x left, +y up) to OpenCV's axes;
 * Φ flips the result back into camera 0's PyTorch3D frame, where upstream's rays
 * live.
 */
#include "camera/camera.h"
#include "base/error.h"
#include "base/linalg3.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void od_camera_init(struct od_camera *c, double focal)
{
	memset(c, 0, sizeof *c);
	c->view = -1;
	c->fx = c->fy = focal;
	c->cx = c->cy = 0.5;
	for (int i = 0; i < 4; i++)
		c->c2w[i][i] = 1;
}

static void cross3(const double a[3], const double b[3], double out[3])
{
	double x = a[1] * b[2] - a[2] * b[1], y = a[2] * b[0] - a[0] * b[2], z = a[0] * b[1] - a[1] * b[0];
	out[0] = x, out[1] = y, out[2] = z;
}

static double norm3(const double a[3])
{
	return sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
}

/* numpy's np.radians: x·(π/180) in float64. */
static double radians(double deg)
{
	return deg * (M_PI / 180.0);
}

void od_orbit_c2w_gl(double azimuth_deg, double elevation_deg, double distance, double c2w[4][4])
{
	double az = radians(azimuth_deg), el = radians(elevation_deg);
	double p[3] = { distance * cos(el) * cos(az), distance * cos(el) * sin(az), distance * sin(el) };
	double n = norm3(p), fwd[3] = { p[0] / n, p[1] / n, p[2] / n };
	/* upstream: target = 2·position − origin, so "forward" points away from the
	 * origin: OpenGL's +z is backward (§7.1). */
	double up0[3] = { 0, 0, 1 }, right[3], up[3];
	cross3(up0, fwd, right);
	if (norm3(right) < 1e-6) {
		/* looking straight up or down: world_up = (0, 1, 0) (the pole branch) */
		double alt[3] = { 0, 1, 0 };
		cross3(alt, fwd, right);
	}
	double rn = norm3(right);
	for (int i = 0; i < 3; i++)
		right[i] /= rn;
	cross3(fwd, right, up);
	memset(c2w, 0, 16 * sizeof(double));
	for (int i = 0; i < 3; i++) {
		c2w[i][0] = right[i];
		c2w[i][1] = up[i];
		c2w[i][2] = fwd[i];
		c2w[i][3] = p[i];
	}
	c2w[3][3] = 1;
}

void od_c2w_gl_to_cv(const double gl[4][4], double cv[4][4])
{
	double t[4][4];
	memcpy(t, gl, sizeof t);
	for (int i = 0; i < 3; i++)
		t[i][1] = -t[i][1], t[i][2] = -t[i][2];
	static const int perm[4] = { 1, 0, 2, 3 };
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			cv[i][j] = t[perm[i]][j];
	for (int j = 0; j < 4; j++)
		cv[2][j] = -cv[2][j];
}

int od_c2w_check(const double m[4][4], const char *what)
{
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			if (!isfinite(m[i][j]))
				return od_error(OD_EFORMAT, "%s: element [%d][%d] is not a finite number", what, i, j);
	if (fabs(m[3][0]) > 1e-6 || fabs(m[3][1]) > 1e-6 || fabs(m[3][2]) > 1e-6 || fabs(m[3][3] - 1) > 1e-6)
		return od_error(OD_EFORMAT, "%s: last row is not (0, 0, 0, 1)", what);
	for (int i = 0; i < 3; i++)
		if (fabs(m[i][3]) > OD_CAMERA_MAX_COORD)
			return od_error(OD_EFORMAT, "%s: the position (%g, %g, %g) is more than %g from the origin", what,
					m[0][3], m[1][3], m[2][3], OD_CAMERA_MAX_COORD);
	double R[3][3];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			R[i][j] = m[i][j];
	double det = od_det3(R);
	if (fabs(det) < 1e-6)
		return od_error(OD_EFORMAT, "%s: the rotation part is singular (determinant %.3g)", what, det);
	double worst = 0;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			double s = 0;
			for (int k = 0; k < 3; k++)
				s += R[k][i] * R[k][j];
			worst = fmax(worst, fabs(s - (i == j)));
		}
	if (worst > 1e-4)
		return od_error(OD_EFORMAT,
				"%s: the rotation part is not orthonormal (|R^T R - I| = %.3g; scale or shear?)", what,
				worst);
	if (det < 0)
		return od_error(OD_EFORMAT, "%s: the rotation part is a reflection (determinant %.3g)", what, det);
	return OD_OK;
}

int od_camera_set_orbit(struct od_camera *c, double az, double el, double dist, const char *what)
{
	if (!isfinite(az) || !isfinite(el))
		return od_error(OD_EFORMAT, "%s: azimuth and elevation must be finite", what);
	if (!(dist > 0) || !isfinite(dist))
		return od_error(OD_EFORMAT, "%s: distance %g is not a positive number", what, dist);
	if (dist > OD_CAMERA_MAX_COORD)
		return od_error(OD_EFORMAT, "%s: distance %g is over %g", what, dist, OD_CAMERA_MAX_COORD);
	double gl[4][4];
	od_orbit_c2w_gl(az, el, dist, gl);
	od_c2w_gl_to_cv(gl, c->c2w);
	c->has_pose = 1;
	c->has_orbit = 1;
	c->azimuth = az, c->elevation = el, c->distance = dist;
	return OD_OK;
}

/* m with its rotation replaced by the nearest rotation (polar decomposition,
 * R = U Vᵀ from R = U S Vᵀ). od_c2w_check lets rotations be orthonormal only to
 * 1e-4 (files written with few digits); projecting them makes every stored pose
 * exactly rigid, so that its inverse is its transpose and a file written back
 * reads the same. For the exact rotations upstream makes it changes nothing. */
static void project_pose(const double m[4][4], double out[4][4])
{
	double R[3][3], U[3][3], sv[3], V[3][3];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			R[i][j] = m[i][j];
	od_svd3(R, U, sv, V);
	memcpy(out, m, 16 * sizeof(double));
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			out[i][j] = U[i][0] * V[j][0] + U[i][1] * V[j][1] + U[i][2] * V[j][2];
}

static void assign_pose(struct od_camera *c, const double m[4][4], int opengl)
{
	double p[4][4];
	project_pose(m, p);
	if (opengl)
		od_c2w_gl_to_cv(p, c->c2w);
	else
		memcpy(c->c2w, p, sizeof c->c2w);
	c->has_pose = 1;
	c->has_orbit = 0;
}

int od_camera_set_c2w(struct od_camera *c, const double m[4][4], int opengl, const char *what)
{
	int rc = od_c2w_check(m, what);
	if (rc)
		return rc;
	assign_pose(c, m, opengl);
	return OD_OK;
}

void od_pose_invert(const double m[4][4], double inv[4][4])
{
	/* the exact inverse of [A | t; 0 0 0 1]: [A⁻¹ | −A⁻¹ t] (A⁻¹ by the adjugate), not
	 * the transpose, so that c2w and w2c stay inverses when A is orthonormal only
	 * to the 1e-4 od_c2w_check allows */
	double A[3][3], det;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			A[i][j] = m[i][j];
	det = od_det3(A);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			int i1 = (j + 1) % 3, i2 = (j + 2) % 3, j1 = (i + 1) % 3, j2 = (i + 2) % 3;
			inv[i][j] = (A[i1][j1] * A[i2][j2] - A[i1][j2] * A[i2][j1]) / det;
		}
	for (int i = 0; i < 3; i++) {
		inv[i][3] = -(inv[i][0] * m[0][3] + inv[i][1] * m[1][3] + inv[i][2] * m[2][3]);
		inv[3][i] = 0;
	}
	inv[3][3] = 1;
}

int od_camera_set_w2c(struct od_camera *c, const double m[4][4], int opengl, const char *what)
{
	int rc = od_c2w_check(m, what);
	if (rc)
		return rc;
	double p[4][4], inv[4][4];
	project_pose(m, p);
	od_pose_invert(p, inv);
	assign_pose(c, inv, opengl);
	return OD_OK;
}

int od_camera_set_intrinsics(struct od_camera *c, double fx, double fy, double cx, double cy, const char *what)
{
	if (!isfinite(fx) || !isfinite(fy) || !isfinite(cx) || !isfinite(cy))
		return od_error(OD_EFORMAT, "%s: intrinsics must be finite numbers", what);
	if (!(fx > 0) || !(fy > 0))
		return od_error(OD_EFORMAT, "%s: focal length (%g, %g) must be positive", what, fx, fy);
	if (fx < OD_CAMERA_MIN_FOCAL || fy < OD_CAMERA_MIN_FOCAL || fx > OD_CAMERA_MAX_FOCAL || fy > OD_CAMERA_MAX_FOCAL)
		return od_error(OD_EFORMAT, "%s: focal length (%g, %g) is outside %g..%g", what, fx, fy, OD_CAMERA_MIN_FOCAL,
				OD_CAMERA_MAX_FOCAL);
	if (fabs(cx) > OD_CAMERA_MAX_FOCAL || fabs(cy) > OD_CAMERA_MAX_FOCAL)
		return od_error(OD_EFORMAT, "%s: principal point (%g, %g) is more than %g from the image", what, cx, cy,
				OD_CAMERA_MAX_FOCAL);
	c->fx = fx, c->fy = fy, c->cx = cx, c->cy = cy;
	c->has_intrinsics = 1;
	return OD_OK;
}

int od_camera_finite(const struct od_camera *c)
{
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			if (!isfinite(c->c2w[i][j]))
				return 0;
	return isfinite(c->fx) && isfinite(c->fy) && isfinite(c->cx) && isfinite(c->cy) && isfinite(c->azimuth) &&
	       isfinite(c->elevation) && isfinite(c->distance);
}

void od_camera_relative(const struct od_camera *ref, const struct od_camera *c, double rel[4][4])
{
	memset(rel, 0, 16 * sizeof(double));
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++) {
			double s = 0;
			for (int k = 0; k < 3; k++)
				s += ref->c2w[k][i] * c->c2w[k][j];
			rel[i][j] = s;
		}
		double t = 0;
		for (int k = 0; k < 3; k++)
			t += ref->c2w[k][i] * (c->c2w[k][3] - ref->c2w[k][3]);
		rel[i][3] = t;
	}
	rel[3][3] = 1;
}

/* Φ = diag(−1, −1, 1): camera 0's OpenCV frame <-> its PyTorch3D frame. */
static const double PHI[3] = { -1, -1, 1 };

void od_camera_pytorch3d(const struct od_camera *ref, const struct od_camera *c, double R[3][3], double T[3],
			 double centre[3])
{
	/* PyTorch3D row-vector w2c: X_view = X_world·R + T. With the OpenCV relative
	 * pose (R_rel, t_rel): X_view = Φ R_relᵀ (Φ X_world − t_rel), so
	 * R = Φ R_rel Φ and T = −Φ R_relᵀ t_rel; the centre is Φ t_rel. */
	double rel[4][4];
	od_camera_relative(ref, c, rel);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			R[i][j] = PHI[i] * rel[i][j] * PHI[j];
	for (int j = 0; j < 3; j++) {
		double s = 0;
		for (int k = 0; k < 3; k++)
			s += rel[k][j] * rel[k][3];
		T[j] = -PHI[j] * s;
		centre[j] = PHI[j] * rel[j][3];
	}
}

void od_camera_ndc(const struct od_camera *c, double focal[2], double principal[2])
{
	/* _cameras_from_opencv_projection with image size (1, 1): scale = 1/2 (numerics.md §7.2 step 2) */
	focal[0] = c->fx / 0.5;
	focal[1] = c->fy / 0.5;
	principal[0] = -(c->cx - 0.5) / 0.5;
	principal[1] = -(c->cy - 0.5) / 0.5;
}

int od_camera_rays(const struct od_camera *ref, const struct od_camera *c, int S, double *rays6)
{
	if (S < 1 || S > OD_RAYS_MAX_S)
		return od_error(OD_EINVAL, "ray grid size %d is outside 1..%d", S, OD_RAYS_MAX_S);
	if (!ref->has_pose || !c->has_pose)
		return od_error(OD_EINVAL, "rays need the poses of both the view and the reference view");
	if (!(c->fx > 0) || !(c->fy > 0))
		return od_error(OD_EINVAL, "focal length (%g, %g) must be positive", c->fx, c->fy);
	double rel[4][4];
	od_camera_relative(ref, c, rel);
	double o[3];
	for (int i = 0; i < 3; i++)
		o[i] = PHI[i] * rel[i][3];
	for (int r = 0; r < S; r++) {
		double y = ((r + 0.5) / S - c->cy) / c->fy;
		for (int col = 0; col < S; col++) {
			double x = ((col + 0.5) / S - c->cx) / c->fx, d[3];
			for (int i = 0; i < 3; i++)
				d[i] = PHI[i] * (rel[i][0] * x + rel[i][1] * y + rel[i][2]);
			double n = norm3(d);
			for (int i = 0; i < 3; i++)
				d[i] /= n;
			double *out = rays6 + ((size_t)r * S + col) * 6;
			double m[3];
			cross3(o, d, m);
			for (int i = 0; i < 3; i++)
				out[i] = d[i], out[3 + i] = m[i];
		}
	}
	for (size_t i = 0; i < (size_t)S * S * 6; i++)
		if (!isfinite(rays6[i]) || fabs(rays6[i]) > 1e30) /* within float32 after ×1.658 */
			return od_error(OD_EINVAL, "the rays are not finite (NaN or infinity): a camera too far away?");
	return OD_OK;
}

int od_rays_latent_size(int size, int *S)
{
	if (size < 16 || size % 16 || size > 8 * OD_RAYS_MAX_S)
		return od_error(OD_EINVAL, "%d is not a multiple of 16 from 16 to %d", size, 8 * OD_RAYS_MAX_S);
	*S = size / 8;
	return OD_OK;
}

void od_rays_pack(const double *rays6, int S, float *ray16)
{
	size_t plane = (size_t)S * S;
	for (int k = 0; k < 16; k++) {
		int src = k < 6 ? k : k < 12 ? k - 6 : k - 12;
		for (size_t p = 0; p < plane; p++)
			ray16[k * plane + p] = (float)(OD_RAYS_SCALE * rays6[p * 6 + src]);
	}
}

int od_cameras_normalize(struct od_camera *cams, int n, double scale)
{
	if (!(scale > 0) || !isfinite(scale))
		return od_error(OD_EINVAL, "normalisation distance %g is not a positive number", scale);
	int n_posed = 0, ref = -1;
	for (int i = 0; i < n; i++)
		if (cams[i].has_pose) {
			if (ref < 0)
				ref = i;
			n_posed++;
		}
	if (n_posed < 2)
		return od_error(OD_EINVAL, "normalising cameras needs at least two cameras with a pose (have %d)",
				n_posed);
	/* The optical axis: the unprojected principal point at depth 1 is (0, 0, 1) in
	 * the camera frame (compute_optical_axis_intersection, numerics.md §7.6), so the axis
	 * is the c2w rotation's third column. */
	double *p = malloc((size_t)n_posed * 3 * sizeof *p), *d = malloc((size_t)n_posed * 3 * sizeof *d);
	if (!p || !d) {
		free(p), free(d);
		return od_error(OD_ENOMEM, "out of memory");
	}
	int k = 0;
	for (int i = 0; i < n; i++)
		if (cams[i].has_pose) {
			for (int j = 0; j < 3; j++)
				p[3 * k + j] = cams[i].c2w[j][3], d[3 * k + j] = cams[i].c2w[j][2];
			k++;
		}
	double meet[3];
	int rc = od_lines_meet(p, d, n_posed, meet);
	free(p), free(d);
	if (rc)
		return od_error(OD_EFORMAT, "cannot normalise the cameras: their optical axes are (nearly) parallel");
	double v[3] = { cams[ref].c2w[0][3] - meet[0], cams[ref].c2w[1][3] - meet[1], cams[ref].c2w[2][3] - meet[2] };
	double d0 = norm3(v);
	if (!(d0 > 1e-12))
		return od_error(OD_EFORMAT,
				"cannot normalise the cameras: the optical axes meet at the reference camera");
	double s = scale / d0;
	for (int i = 0; i < n; i++)
		if (cams[i].has_pose)
			for (int j = 0; j < 3; j++)
				cams[i].c2w[j][3] = meet[j] + s * (cams[i].c2w[j][3] - meet[j]);
	/* the orbit distances no longer describe the poses */
	for (int i = 0; i < n; i++)
		cams[i].has_orbit = 0;
	return OD_OK;
}
