/*
 * test_rays.c: the linear algebra of rays -> cameras (3x3 Jacobi SVD, line
 * meeting point), a round trip cameras -> ray frames (F32) -> cameras over 50
 * random poses x 3 focals x 3 grid sizes (agreement 1e-5), degenerate rays
 * (zero, parallel, NaN, placeholders, wrong shapes) and training-style
 * normalisation.
 */
#include "od.h"
#include "camera/camera.h"
#include "camera/rays_to_cameras.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double urand(void) /* [0, 1) */
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) * 0x1p-53;
}

static double nrand(void)
{
	double u = urand() + 1e-300, v = urand();
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* A uniformly random rotation (unit quaternion) and centre in [-r, r]^3. */
static void random_pose(struct od_camera *c, double r)
{
	double q[4], n = 0;
	for (int i = 0; i < 4; i++)
		q[i] = nrand(), n += q[i] * q[i];
	n = sqrt(n);
	double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
	double m[4][4] = { { 1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w), r * (2 * urand() - 1) },
			   { 2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w), r * (2 * urand() - 1) },
			   { 2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y), r * (2 * urand() - 1) },
			   { 0, 0, 0, 1 } };
	od_camera_set_c2w(c, m, 0, "random");
}

static double maxdiff3(const double a[3][3], const double b[3][3])
{
	double d = 0;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			d = fmax(d, fabs(a[i][j] - b[i][j]));
	return d;
}

static void test_svd(void)
{
	int good = 1, sorted = 1;
	double worst = 0;
	for (int t = 0; t < 2000; t++) {
		double A[3][3], U[3][3], s[3], V[3][3];
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 3; j++)
				A[i][j] = nrand();
		if (t % 4 == 1) /* rank 2 */
			for (int j = 0; j < 3; j++)
				A[2][j] = 0.3 * A[0][j] - 2 * A[1][j];
		if (t % 4 == 2) /* rank 1 */
			for (int j = 0; j < 3; j++)
				A[1][j] = 2 * A[0][j], A[2][j] = -A[0][j];
		if (t % 4 == 3) /* badly scaled */
			for (int j = 0; j < 3; j++)
				A[0][j] *= 1e6, A[2][j] *= 1e-6;
		od_svd3(A, U, s, V);
		double scale = fmax(s[0], 1e-300), UtU[3][3], VtV[3][3], R[3][3],
		       I[3][3] = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } };
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 3; j++) {
				UtU[i][j] = VtV[i][j] = R[i][j] = 0;
				for (int k = 0; k < 3; k++) {
					UtU[i][j] += U[k][i] * U[k][j];
					VtV[i][j] += V[k][i] * V[k][j];
					R[i][j] += U[i][k] * s[k] * V[j][k];
				}
			}
		double e = fmax(fmax(maxdiff3(UtU, I), maxdiff3(VtV, I)), maxdiff3(R, A) / scale);
		worst = fmax(worst, e);
		if (!(e < 1e-12))
			good = 0;
		if (!(s[0] >= s[1] && s[1] >= s[2] && s[2] >= 0))
			sorted = 0;
	}
	ok(good, "svd3: U diag(s) Vᵀ = A, U and V orthogonal, on 2000 matrices of rank 3, 2, 1 (worst %.2g)", worst);
	ok(sorted, "svd3: singular values sorted, non-negative");
	double Z[3][3] = { { 0 } }, U[3][3], s[3], V[3][3], I[3][3] = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } };
	od_svd3(Z, U, s, V);
	ok(s[0] == 0 && maxdiff3(U, I) == 0 && maxdiff3(V, I) == 0, "svd3 of the zero matrix: s = 0, U = V = I");
	double D[3][3] = { { 0, 0, 2 }, { 0, -3, 0 }, { 1, 0, 0 } };
	od_svd3(D, U, s, V);
	ok(s[0] == 3 && s[1] == 2 && s[2] == 1, "svd3 of a permuted diagonal: s = (3, 2, 1) exactly");
}

static void test_lines(void)
{
	/* three lines through (1, 2, 3) */
	double p[9] = { 1, 2, 3, 1, 5, 3, 1, 2, 0 }, d[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 5 }, x[3];
	ok(od_lines_meet(p, d, 3, x) == OD_OK && fabs(x[0] - 1) < 1e-12 && fabs(x[1] - 2) < 1e-12 &&
	       fabs(x[2] - 3) < 1e-12,
	   "lines meet at (1, 2, 3)");
	double dp[9] = { 1, 0, 0, 1, 0, 0, -2, 0, 0 };
	ok(od_lines_meet(p, dp, 3, x) == OD_EFORMAT, "parallel lines: no meeting point");
	double dz[9] = { 0 };
	ok(od_lines_meet(p, dz, 3, x) == OD_EFORMAT, "zero directions: no meeting point");
}

/* Cameras -> F32 ray frame -> camera, for many random poses. */
static void test_round_trip(void)
{
	static const double focals[3] = { 0.8, 1.3887, 2.5 };
	static const int sizes[3] = { 8, 16, 64 };
	double worst_R = 0, worst_c = 0, worst_angle = 0;
	int fails = 0, n = 0;
	for (int t = 0; t < 50; t++) {
		struct od_camera ref, cam;
		od_camera_init(&ref, 1);
		od_camera_init(&cam, 1);
		random_pose(&ref, 2);
		random_pose(&cam, 2);
		for (int fi = 0; fi < 3; fi++)
			for (int si = 0; si < 3; si++) {
				int S = sizes[si];
				double f = focals[fi];
				/* off-centre principal points and fx != fy on some */
				od_camera_set_intrinsics(&cam, f, t % 3 ? f : 1.1 * f, t % 2 ? 0.5 : 0.47,
							 t % 2 ? 0.5 : 0.53, "cam");
				size_t plane = (size_t)S * S;
				double *rays = malloc(plane * 6 * sizeof *rays);
				struct od_frame fr;
				int64_t shape[3] = { 16, S, S };
				od_frame_init(&fr, OD_KIND_RAYS, OD_ROLE_TARGET, OD_F32, 3, shape, 1);
				int rc = od_camera_rays(&ref, &cam, S, rays);
				od_rays_pack(rays, S, fr.data);
				struct od_camera got;
				struct od_rays_fit fit;
				rc |= od_rays_frame_to_camera(&fr, OD_RAYS_AVERAGE, &cam, &got, &fit, "round trip");
				double rel[4][4], R1[3][3], R2[3][3], dc = 0;
				od_camera_relative(&ref, &cam, rel);
				for (int i = 0; i < 3; i++) {
					for (int j = 0; j < 3; j++)
						R1[i][j] = rel[i][j], R2[i][j] = got.c2w[i][j];
					dc = fmax(dc, fabs(rel[i][3] - got.c2w[i][3]));
				}
				double dR = maxdiff3(R1, R2);
				worst_R = fmax(worst_R, dR);
				worst_c = fmax(worst_c, dc);
				worst_angle = fmax(worst_angle, fit.rms_angle);
				if (rc || !(dR <= 1e-5) || !(dc <= 1e-5)) {
					if (fails++ < 5)
						printf(
						    "# pose %d, focal %g, S %d: rc %d, R off by %.3g, centre by %.3g\n",
						    t, f, S, rc, dR, dc);
				}
				n++;
				od_frame_free(&fr);
				free(rays);
			}
	}
	ok(fails == 0,
	   "round trip cameras -> F32 ray frames -> cameras, %d cases: R within 1e-5 (worst %.2g), "
	   "centres within 1e-5 (worst %.2g)",
	   n, worst_R, worst_c);
	ok(worst_angle < 1e-5, "round trip: rms angle residual below 1e-5 rad (worst %.2g)", worst_angle);
}

static void test_degenerate(void)
{
	int S = 8;
	size_t plane = 64;
	double rays[64 * 6];
	struct od_camera cam;
	struct od_rays_fit fit;
	memset(rays, 0, sizeof rays);
	ok(od_rays_to_camera(rays, S, NULL, &cam, &fit, "zero") == OD_EFORMAT && strstr(od_errmsg(), "64 of 64") &&
	       strstr(od_errmsg(), "zero"),
	   "all-zero rays: error naming the zero directions (%s)", od_errmsg());
	for (size_t i = 0; i < plane; i++) {
		rays[6 * i + 2] = 1;                      /* all along +z */
		rays[6 * i + 3] = 0.01 * (double)(i % 8); /* moments of parallel lines */
		rays[6 * i + 4] = 0.02 * (double)(i / 8);
	}
	ok(od_rays_to_camera(rays, S, NULL, &cam, &fit, "parallel") == OD_EFORMAT && strstr(od_errmsg(), "parallel"),
	   "parallel rays: error (%s)", od_errmsg());
	struct od_camera ref, v;
	od_camera_init(&ref, OD_DEFAULT_FOCAL);
	od_camera_init(&v, OD_DEFAULT_FOCAL);
	od_camera_set_orbit(&ref, 0, 0, 1.7, "ref");
	od_camera_set_orbit(&v, 40, 10, 1.7, "v");
	od_camera_rays(&ref, &v, S, rays);
	rays[6 * 17 + 4] = NAN;
	ok(od_rays_to_camera(rays, S, NULL, &cam, &fit, "nan") == OD_EFORMAT && strstr(od_errmsg(), "(2, 1)"),
	   "a NaN ray: error naming the pixel (%s)", od_errmsg());
	od_camera_rays(&ref, &v, S, rays);
	for (int i = 0; i < 20; i++)
		rays[6 * i] = rays[6 * i + 1] = rays[6 * i + 2] = 0;
	int rc = od_rays_to_camera(rays, S, NULL, &cam, &fit, "some zero");
	ok(rc == OD_OK && fit.n_used == 44 && fit.n_rays == 64, "20 zero directions of 64 are left out (used %d)",
	   fit.n_used);
	double rel[4][4];
	od_camera_relative(&ref, &v, rel);
	double d = 0;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 4; j++)
			d = fmax(d, fabs(rel[i][j] - cam.c2w[i][j]));
	ok(d < 1e-9, "... and the camera is still recovered (off by %.2g)", d);

	struct od_camera bad;
	od_camera_init(&bad, -1);
	ok(od_rays_to_camera(rays, S, &bad, &cam, &fit, "focal") == OD_EFORMAT, "focal <= 0 refused (%s)", od_errmsg());
	ok(od_rays_to_camera(rays, 0, NULL, &cam, &fit, "S") == OD_EINVAL, "S = 0 refused");

	/* frames */
	struct od_frame f;
	int64_t shape[3] = { 16, 8, 8 };
	od_frame_init(&f, OD_KIND_RAYS, OD_ROLE_TARGET, OD_F32, 3, shape, 0);
	ok(od_rays_frame_to_camera(&f, OD_RAYS_AVERAGE, NULL, &cam, &fit, "ph") == OD_EFORMAT &&
	       strstr(od_errmsg(), "placeholder"),
	   "a placeholder: error (%s)", od_errmsg());
	od_frame_free(&f);
	int64_t bad_shape[3] = { 16, 8, 4 };
	od_frame_init(&f, OD_KIND_RAYS, OD_ROLE_TARGET, OD_F32, 3, bad_shape, 1);
	ok(od_rays_frame_to_camera(&f, OD_RAYS_AVERAGE, NULL, &cam, &fit, "shape") == OD_EFORMAT &&
	       strstr(od_errmsg(), "(16, S, S)"),
	   "a non-square ray frame: error (%s)", od_errmsg());
	od_frame_free(&f);
	od_frame_init(&f, OD_KIND_LATENT, OD_ROLE_TARGET, OD_F32, 3, shape, 1);
	ok(od_rays_frame_to_camera(&f, OD_RAYS_AVERAGE, NULL, &cam, &fit, "latent") == OD_EFORMAT,
	   "a latent frame: error (%s)", od_errmsg());
	od_frame_free(&f);

	/* the frame's camera= metadata supplies the intrinsics */
	od_camera_set_intrinsics(&v, 1.1, 1.2, 0.52, 0.47, "v");
	od_camera_rays(&ref, &v, S, rays);
	od_frame_init(&f, OD_KIND_RAYS, OD_ROLE_TARGET, OD_F32, 3, shape, 1);
	od_rays_pack(rays, S, f.data);
	od_frame_set(&f, "camera", "{\"intrinsics\": [[1.1, 0, 0.52], [0, 1.2, 0.47], [0, 0, 1]]}");
	od_frame_set(&f, "view", "3");
	rc = od_rays_frame_to_camera(&f, OD_RAYS_AVERAGE, NULL, &cam, &fit, "meta");
	ok(rc == OD_OK && cam.fx == 1.1 && cam.fy == 1.2 && cam.cx == 0.52 && cam.view == 3 && fit.rms_angle < 1e-6,
	   "intrinsics and view from the frame metadata (rms angle %.2g)", fit.rms_angle);
	od_frame_set(&f, "camera", "{\"intrinsics\": [[1.1, 0, 0.52], [0, 1.2, 0.47], [0, 0, 1]], \"bogus\": 1}");
	ok(od_rays_frame_to_camera(&f, OD_RAYS_AVERAGE, NULL, &cam, &fit, "meta") == OD_EFORMAT &&
	       strstr(od_errmsg(), "bogus"),
	   "bad camera= metadata: error (%s)", od_errmsg());
	od_frame_free(&f);
}

static void test_normalize(void)
{
	struct od_camera c[3];
	for (int i = 0; i < 3; i++) {
		od_camera_init(&c[i], OD_DEFAULT_FOCAL);
		od_camera_set_orbit(&c[i], 40.0 * i, 10.0 * i, 3.0 + i, "orbit");
	}
	ok(od_cameras_normalize(c, 3, 1.7) == OD_OK, "normalise three orbit cameras");
	/* all look at the origin: it stays put, and camera 0 ends 1.7 from it */
	double d0 =
	    sqrt(c[0].c2w[0][3] * c[0].c2w[0][3] + c[0].c2w[1][3] * c[0].c2w[1][3] + c[0].c2w[2][3] * c[0].c2w[2][3]);
	double d2 =
	    sqrt(c[2].c2w[0][3] * c[2].c2w[0][3] + c[2].c2w[1][3] * c[2].c2w[1][3] + c[2].c2w[2][3] * c[2].c2w[2][3]);
	ok(fabs(d0 - 1.7) < 1e-12 && fabs(d2 - 5.0 * 1.7 / 3.0) < 1e-12, "camera 0 at 1.7, the others scaled by 1.7/3");
	struct od_camera one[2];
	od_camera_init(&one[0], 1);
	od_camera_init(&one[1], 1);
	od_camera_set_orbit(&one[0], 0, 0, 2, "a");
	ok(od_cameras_normalize(one, 2, 1.7) == OD_EINVAL, "normalise with one posed camera: refused");
	od_camera_set_c2w(&one[1], one[0].c2w, 0, "b");
	one[1].c2w[1][3] += 1; /* same direction, shifted: parallel axes */
	ok(od_cameras_normalize(one, 2, 1.7) == OD_EFORMAT, "normalise with parallel axes: refused (%s)", od_errmsg());
}

/* Image sizes -> ray grids, and the view of a generated ray frame. */
static void test_sizes(void)
{
	int S = 0, rc;
	rc = od_rays_latent_size(512, &S);
	ok(rc == OD_OK && S == 64, "512-pixel views: 64x64 ray frames (%d)", S);
	rc = od_rays_latent_size(16, &S);
	ok(rc == OD_OK && S == 2 && od_rays_latent_size(2048, &S) == OD_OK && S == 256, "16 and 2048 pixels: the ends");
	ok(od_rays_latent_size(500, &S) == OD_EINVAL && !strcmp(od_errmsg(), "500 is not a multiple of 16 from 16 to 2048"),
	   "500 pixels: refused (%s)", od_errmsg());
	ok(od_rays_latent_size(2064, &S) == OD_EINVAL && od_rays_latent_size(0, &S) == OD_EINVAL, "2064 and 0: refused");
	struct od_frame f;
	int64_t shape[3] = { 16, 2, 2 };
	static const char *const index[] = { "1", "5", "0", "4", "x", "", "3a" };
	static const int view[] = { 0, 2, -1, -1, -1, -1, -1 };
	for (int i = 0; i < (int)(sizeof index / sizeof *index); i++) {
		od_frame_init(&f, OD_KIND_RAYS, OD_ROLE_TARGET, OD_F32, 3, shape, 0);
		od_frame_set(&f, "index", index[i]);
		int v = od_rays_frame_index_view(&f);
		ok(v == view[i], "rays at index '%s' of a multiview sequence: view %d (%d)", index[i], view[i], v);
		od_frame_free(&f);
	}
	od_frame_init(&f, OD_KIND_RAYS, OD_ROLE_TARGET, OD_F32, 3, shape, 0);
	ok(od_rays_frame_index_view(&f) == -1, "no index: no view");
	od_frame_free(&f);
}

int main(void)
{
	test_sizes();
	test_svd();
	test_lines();
	test_round_trip();
	test_degenerate();
	test_normalize();
	return tap_done();
}
