/*
 * test_camera.c: cameras and rays against the upstream golden data
 * (tests/golden/cases/rays, tests/golden/README.md §7), tolerances of
 * numerics.md §10.1.
 *
 * For each of the six sets: create_c2w_matrix (c2w_gl), the OpenCV conversion
 * (c2w_cv, w2c), the PyTorch3D cameras after first_camera_transform (p3d_R,
 * p3d_T, p3d_centers, p3d_focal, p3d_principal), the NDC grid, rays6 (atol 2e-6)
 * and rays16 (atol 4e-6) at every stored S; then rays -> cameras from the golden
 * rays: r2c, r2c_default, r2c_intrinsics (R atol 1e-5, T and centres 1e-4).
 *
 * A second mode checks a cameras JSON written by the binary (t0510-invert.sh):
 *   test_camera --json FILE.json GOLDEN.safetensors PREFIX
 * compares the JSON's pytorch3d R/T and camera centres with PREFIX.R, .T and
 * .centers (read with jansson directly, not with camera_json.c).
 */
#include "od.h"
#include "camera/camera.h"
#include "camera/camera_json.h"
#include "camera/rays_to_cameras.h"
#include "tap.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Compare n doubles with a golden tensor (any float dtype) element by element,
 * printing the worst element on failure. */
static int close_t(const double *a, const struct od_tensor *t, size_t n, double atol, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int close_t(const double *a, const struct od_tensor *t, size_t n, double atol, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (!t || (size_t)od_tensor_numel(t) != n)
		return ok(0, "%s: golden tensor missing or of the wrong size", what);
	double worst = 0;
	size_t wi = 0;
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		double e = od_tensor_elem(t, i);
		double d = fabs(a[i] - e);
		if (!(d <= atol))
			bad = 1;
		if (d > worst || isnan(d))
			worst = d, wi = i;
	}
	ok(!bad, "%s (max abs diff %.3g, atol %.3g, %zu values)", what, worst, atol, n);
	if (bad)
		printf("# worst element %zu: actual %.12g expected %.12g\n", wi, a[wi], od_tensor_elem(t, wi));
	return !bad;
}

static const struct od_tensor *find(const struct od_safetensors *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const struct od_tensor *find(const struct od_safetensors *st, const char *fmt, ...)
{
	char name[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	return od_st_find(st, name);
}

static void test_set(const char *golden, const char *set)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/cases/rays/%s.safetensors", golden, set);
	struct od_safetensors st;
	if (!ok(od_st_open(&st, path) == OD_OK, "%s: open golden file", set))
		return;
	const struct od_tensor *az = od_st_find(&st, "azimuths"), *c2w_in = od_st_find(&st, "c2w_in");
	int n = (int)od_st_find(&st, "K")->shape[0];
	if (!ok(n >= 1 && n <= 8, "%s: %d views", set, n)) {
		od_st_close(&st);
		return;
	}
	struct od_camera cams[8];
	double buf[8 * 16];
	int rc = 0;
	for (int v = 0; v < n; v++) {
		od_camera_init(&cams[v], OD_DEFAULT_FOCAL);
		if (az) {
			const struct od_tensor *el = od_st_find(&st, "elevations"), *d = od_st_find(&st, "distances");
			rc |= od_camera_set_orbit(&cams[v], od_tensor_elem(az, v), od_tensor_elem(el, v), od_tensor_elem(d, v), "orbit");
			od_orbit_c2w_gl(od_tensor_elem(az, v), od_tensor_elem(el, v), od_tensor_elem(d, v), (double(*)[4])(buf + 16 * v));
		} else {
			double m[4][4];
			for (int i = 0; i < 16; i++)
				m[i / 4][i % 4] = od_tensor_elem(c2w_in, 16 * v + i);
			rc |= od_camera_set_c2w(&cams[v], m, 1, "c2w_in");
			const struct od_tensor *K = od_st_find(&st, "intrinsics_in");
			rc |= od_camera_set_intrinsics(&cams[v], od_tensor_elem(K, 9 * v), od_tensor_elem(K, 9 * v + 4), od_tensor_elem(K, 9 * v + 2),
						       od_tensor_elem(K, 9 * v + 5), "intrinsics_in");
		}
	}
	ok(rc == 0, "%s: %d cameras built", set, n);
	if (az)
		close_t(buf, od_st_find(&st, "c2w_gl"), 16 * (size_t)n, 1e-12, "%s: c2w_gl (create_c2w_matrix)", set);
	for (int v = 0; v < n; v++)
		memcpy(buf + 16 * v, cams[v].c2w, sizeof cams[v].c2w);
	close_t(buf, od_st_find(&st, "c2w_cv"), 16 * (size_t)n, 1e-6, "%s: c2w_cv (OpenGL -> OpenCV)", set);
	/* w2c = inverse(c2w_cv), and its R, T */
	double w2c[8 * 16] = { 0 }, R[8 * 9] = { 0 }, T[8 * 3] = { 0 }, K[8 * 9] = { 0 };
	for (int v = 0; v < n; v++) {
		struct od_camera w = cams[v];
		double inv[4][4];
		for (int i = 0; i < 3; i++) {
			for (int j = 0; j < 3; j++)
				inv[i][j] = w.c2w[j][i];
			inv[i][3] =
			    -(w.c2w[0][i] * w.c2w[0][3] + w.c2w[1][i] * w.c2w[1][3] + w.c2w[2][i] * w.c2w[2][3]);
			inv[3][i] = 0;
		}
		inv[3][3] = 1;
		memcpy(w2c + 16 * v, inv, sizeof inv);
		for (int i = 0; i < 3; i++) {
			for (int j = 0; j < 3; j++)
				R[9 * v + 3 * i + j] = inv[i][j];
			T[3 * v + i] = inv[i][3];
		}
		double k[9] = { cams[v].fx, 0, cams[v].cx, 0, cams[v].fy, cams[v].cy, 0, 0, 1 };
		memcpy(K + 9 * v, k, sizeof k);
	}
	close_t(w2c, od_st_find(&st, "w2c"), 16 * (size_t)n, 1e-5, "%s: w2c", set);
	close_t(R, od_st_find(&st, "R"), 9 * (size_t)n, 1e-6, "%s: R (OpenCV w2c)", set);
	close_t(T, od_st_find(&st, "T"), 3 * (size_t)n, 1e-5, "%s: T (OpenCV w2c)", set);
	close_t(K, od_st_find(&st, "K"), 9 * (size_t)n, 1e-6, "%s: K", set);
	/* PyTorch3D cameras after first_camera_transform */
	double pR[8 * 9] = { 0 }, pT[8 * 3] = { 0 }, pc[8 * 3] = { 0 }, pf[8 * 2] = { 0 }, pp[8 * 2] = { 0 };
	for (int v = 0; v < n; v++) {
		od_camera_pytorch3d(&cams[0], &cams[v], (double(*)[3])(pR + 9 * v), pT + 3 * v, pc + 3 * v);
		od_camera_ndc(&cams[v], pf + 2 * v, pp + 2 * v);
	}
	close_t(pR, od_st_find(&st, "p3d_R"), 9 * (size_t)n, 1e-5, "%s: p3d_R", set);
	close_t(pT, od_st_find(&st, "p3d_T"), 3 * (size_t)n, 1e-5, "%s: p3d_T", set);
	close_t(pc, od_st_find(&st, "p3d_centers"), 3 * (size_t)n, 1e-5, "%s: p3d_centers", set);
	close_t(pf, od_st_find(&st, "p3d_focal"), 2 * (size_t)n, 1e-6, "%s: p3d_focal", set);
	close_t(pp, od_st_find(&st, "p3d_principal"), 2 * (size_t)n, 1e-6, "%s: p3d_principal", set);

	/* every stored S */
	for (int S = 1; S <= 64; S++) {
		const struct od_tensor *r6 = find(&st, "S%d.rays6", S);
		if (!r6)
			continue;
		size_t plane = (size_t)S * S;
		double *rays = malloc((size_t)n * plane * 6 * sizeof *rays), *grid = malloc(plane * 3 * sizeof *grid);
		float *r16 = malloc((size_t)n * plane * 16 * sizeof *r16);
		double *r16d = malloc((size_t)n * plane * 16 * sizeof *r16d);
		rc = 0;
		for (int v = 0; v < n; v++) {
			rc |= od_camera_rays(&cams[0], &cams[v], S, rays + v * plane * 6);
			od_rays_pack(rays + v * plane * 6, S, r16 + v * plane * 16);
		}
		for (size_t i = 0; i < (size_t)n * plane * 16; i++)
			r16d[i] = r16[i];
		for (int r = 0; r < S; r++)
			for (int c = 0; c < S; c++) {
				double *g = grid + 3 * ((size_t)r * S + c);
				g[0] = 1 - (2.0 * c + 1) / S, g[1] = 1 - (2.0 * r + 1) / S, g[2] = 1;
			}
		ok(rc == 0, "%s: S%d rays computed", set, S);
		close_t(grid, find(&st, "S%d.ndc_grid", S), plane * 3, 1e-7, "%s: S%d.ndc_grid (half-pixel NDC)", set,
			S);
		close_t(rays, r6, (size_t)n * plane * 6, 2e-6, "%s: S%d.rays6", set, S);
		close_t(r16d, find(&st, "S%d.rays16", S), (size_t)n * plane * 16, 4e-6,
			"%s: S%d.rays16 (x1.658, 16 ch)", set, S);

		/* rays -> cameras from the golden rays6 */
		static const char *const kinds[3] = { "r2c", "r2c_default", "r2c_intrinsics" };
		for (int kind = 0; kind < 3; kind++) {
			const struct od_tensor *gR = find(&st, "S%d.%s.R", S, kinds[kind]);
			if (!gR)
				continue;
			double fR[8 * 9] = { 0 }, fT[8 * 3] = { 0 }, fc[8 * 3] = { 0 }, ff[8 * 2] = { 0 };
			double *g6 = malloc(plane * 6 * sizeof *g6);
			rc = 0;
			for (int v = 0; v < n; v++) {
				for (size_t i = 0; i < plane * 6; i++)
					g6[i] = od_tensor_elem(r6, v * plane * 6 + i);
				struct od_camera intr, cam;
				od_camera_init(&intr, OD_DEFAULT_FOCAL);
				if (kind == 0) {
					char key[64];
					snprintf(key, sizeof key, "S%d.r2c_focal_passed", S);
					intr.fx = intr.fy = atof(od_st_meta(&st, key)) / 2;
				} else if (kind == 1) {
					intr.fx = intr.fy =
					    3.453 / 2; /* the function's default focal_length=(3.453,) */
				} else {
					intr = cams[v];
				}
				struct od_rays_fit fit;
				rc |= od_rays_to_camera(g6, S, &intr, &cam, &fit, set);
				memcpy(fR + 9 * v, fit.R, sizeof fit.R);
				memcpy(fT + 3 * v, fit.T, sizeof fit.T);
				memcpy(fc + 3 * v, fit.centre, sizeof fit.centre);
				ff[2 * v] = 2 * cam.fx, ff[2 * v + 1] = 2 * cam.fy;
				/* the OpenCV camera is the same camera */
				double pr[3][3], ptt[3], pcc[3];
				struct od_camera id;
				od_camera_init(&id, 1);
				id.has_pose = 1;
				od_camera_pytorch3d(&id, &cam, pr, ptt, pcc);
				double dmax = 0;
				for (int i = 0; i < 3; i++) {
					dmax = fmax(dmax, fabs(ptt[i] - fit.T[i]));
					for (int j = 0; j < 3; j++)
						dmax = fmax(dmax, fabs(pr[i][j] - fit.R[i][j]));
				}
				if (dmax > 1e-12)
					rc |= 1, printf("# view %d: OpenCV c2w and PyTorch3D (R, T) disagree by %.3g\n",
							v, dmax);
			}
			free(g6);
			ok(rc == 0, "%s: S%d.%s solved, OpenCV and PyTorch3D forms agree", set, S, kinds[kind]);
			close_t(fR, gR, 9 * (size_t)n, 1e-5, "%s: S%d.%s.R", set, S, kinds[kind]);
			close_t(fT, find(&st, "S%d.%s.T", S, kinds[kind]), 3 * (size_t)n, 1e-4, "%s: S%d.%s.T", set, S,
				kinds[kind]);
			close_t(fc, find(&st, "S%d.%s.centers", S, kinds[kind]), 3 * (size_t)n, 1e-4,
				"%s: S%d.%s.centers", set, S, kinds[kind]);
			if (find(&st, "S%d.%s.focal", S, kinds[kind]))
				close_t(ff, find(&st, "S%d.%s.focal", S, kinds[kind]), 2 * (size_t)n, 1e-6,
					"%s: S%d.%s.focal", set, S, kinds[kind]);
		}
		/* the same through a ray frame (rays16 in model space), both channel modes */
		for (int mode = 0; mode < 2; mode++) {
			const struct od_tensor *g16 = find(&st, "S%d.rays16", S);
			double fR[8 * 9] = { 0 }, fT[8 * 3] = { 0 };
			rc = 0;
			for (int v = 0; v < n; v++) {
				struct od_frame f;
				int64_t shape[3] = { 16, S, S };
				rc |= od_frame_init(&f, OD_KIND_RAYS, OD_ROLE_TARGET, OD_F32, 3, shape, 1);
				memcpy(f.data, (const char *)g16->data + v * plane * 16 * sizeof(float),
				       plane * 16 * sizeof(float));
				struct od_camera intr, cam;
				char key[64];
				snprintf(key, sizeof key, "S%d.r2c_focal_passed", S);
				od_camera_init(&intr, atof(od_st_meta(&st, key)) / 2);
				struct od_rays_fit fit;
				rc |= od_rays_frame_to_camera(&f, mode ? OD_RAYS_FIRST : OD_RAYS_AVERAGE, &intr, &cam,
							      &fit, set);
				memcpy(fR + 9 * v, fit.R, sizeof fit.R);
				memcpy(fT + 3 * v, fit.T, sizeof fit.T);
				od_frame_free(&f);
			}
			ok(rc == 0, "%s: S%d ray frames -> cameras (%s channels)", set, S, mode ? "first" : "average");
			close_t(fR, find(&st, "S%d.r2c.R", S), 9 * (size_t)n, 1e-5, "%s: S%d frame -> r2c.R (%s)", set,
				S, mode ? "first" : "average");
			close_t(fT, find(&st, "S%d.r2c.T", S), 3 * (size_t)n, 1e-4, "%s: S%d frame -> r2c.T (%s)", set,
				S, mode ? "first" : "average");
		}
		free(rays), free(grid), free(r16), free(r16d);
	}
	od_st_close(&st);
}

/* --json mode: compare a cameras JSON written by od-plucker --invert with the golden. */
static int check_json(const char *json_path, const char *golden, const char *prefix)
{
	json_error_t jerr;
	json_t *root = json_load_file(json_path, 0, &jerr);
	if (!ok(root != NULL, "%s: valid JSON", json_path))
		return tap_done();
	struct od_safetensors st;
	if (!ok(od_st_open(&st, golden) == OD_OK, "open %s", golden))
		return tap_done();
	json_t *cams = json_object_get(root, "cameras");
	int n = (int)json_array_size(cams);
	if (n > 64)
		n = 64;
	const struct od_tensor *gR = find(&st, "%s.R", prefix);
	ok(gR && gR->shape[0] == n, "%s: %d cameras as in %s", json_path, n, prefix);
	double R[64 * 9] = { 0 }, T[64 * 3] = { 0 }, C[64 * 3] = { 0 }, F[64 * 2] = { 0 };
	for (int v = 0; v < n && v < 64; v++) {
		json_t *c = json_array_get(cams, (size_t)v), *p3d = json_object_get(c, "pytorch3d");
		json_t *c2w = json_object_get(c, "c2w"), *K = json_object_get(c, "intrinsics");
		for (int i = 0; i < 3; i++) {
			for (int j = 0; j < 3; j++)
				R[9 * v + 3 * i + j] =
				    json_number_value(json_array_get(json_array_get(json_object_get(p3d, "R"), i), j));
			T[3 * v + i] = json_number_value(json_array_get(json_object_get(p3d, "T"), i));
			/* centre in camera 0's PyTorch3D frame = Φ · (OpenCV centre) */
			C[3 * v + i] = (i < 2 ? -1 : 1) * json_number_value(json_array_get(json_array_get(c2w, i), 3));
		}
		F[2 * v] = 2 * json_number_value(json_array_get(json_array_get(K, 0), 0));
		F[2 * v + 1] = 2 * json_number_value(json_array_get(json_array_get(K, 1), 1));
	}
	close_t(R, gR, 9 * (size_t)n, 1e-5, "%s: pytorch3d R = %s.R", json_path, prefix);
	close_t(T, find(&st, "%s.T", prefix), 3 * (size_t)n, 1e-4, "%s: pytorch3d T = %s.T", json_path, prefix);
	close_t(C, find(&st, "%s.centers", prefix), 3 * (size_t)n, 1e-4, "%s: c2w centres = %s.centers", json_path,
		prefix);
	if (find(&st, "%s.focal", prefix))
		close_t(F, find(&st, "%s.focal", prefix), 2 * (size_t)n, 1e-6, "%s: intrinsics = %s.focal", json_path,
			prefix);
	od_st_close(&st);
	json_decref(root);
	return tap_done();
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--json"))
		return check_json(argv[2], argv[3], argv[4]);
	const char *golden = getenv("OD_GOLDEN");
	if (!golden) {
		printf("1..0 # SKIP OD_GOLDEN not set (run through make check)\n");
		return 0;
	}
	static const char *const sets[] = { "default_4v", "gradio_3v",   "varied_4v",
					    "pole_2v",    "explicit_3v", "explicit_offcenter_2v" };
	for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
		test_set(golden, sets[i]);
	return tap_done();
}
