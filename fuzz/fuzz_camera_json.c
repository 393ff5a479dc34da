/*
 * fuzz_camera_json: the camera-file parser (lib/camera/camera_json.c) on arbitrary
 * bytes, as od-plucker -c and the frame metadata camera= read them.
 *
 * When a file parses, the invariants the rest of od relies on are checked
 * (abort() on violation): every posed camera is rigid (exactly: rotations are
 * projected) and passes od_c2w_check, focal
 * lengths are positive and finite; the cameras written back by
 * od_camera_json_dump parse again to the same count and poses; and the rays of
 * the first posed cameras are finite and their recovery succeeds.
 * Seeds (fuzz/seeds/fuzz_camera_json/): od-cameras files (OpenCV and OpenGL,
 * orbits, nulls, w2c, the output of od-plucker --invert), nerfstudio and
 * Blender transforms.json files, a camera= metadata object.
 */
#include "camera/camera.h"
#include "camera/camera_json.h"
#include "camera/rays_to_cameras.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(const struct od_camera *c, int n)
{
	for (int i = 0; i < n; i++) {
		if (!(c[i].fx > 0) || !(c[i].fy > 0) || !isfinite(c[i].fx) || !isfinite(c[i].fy) ||
		    !isfinite(c[i].cx) || !isfinite(c[i].cy))
			abort();
		if (c[i].has_pose && od_c2w_check(c[i].c2w, "fuzz") != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct od_camera *cams, one;
	int n;
	od_camera_json_parse_object((const char *)data, size, "fuzz", &one);
	if (od_camera_json_parse((const char *)data, size, "fuzz", &cams, &n) != 0)
		return 0;
	if (n < 1)
		abort();
	check(cams, n);
	/* written back, it reads the same */
	char *s = od_camera_json_dump(cams, NULL, n);
	if (!s)
		abort();
	struct od_camera *back;
	int n2;
	if (od_camera_json_parse(s, strlen(s), "dump", &back, &n2) != 0 || n2 != n)
		abort();
	for (int i = 0; i < n; i++) {
		if (back[i].has_pose != cams[i].has_pose)
			abort();
		for (int r = 0; r < 4 && cams[i].has_pose; r++)
			for (int k = 0; k < 4; k++)
				if (!(fabs(back[i].c2w[r][k] - cams[i].c2w[r][k]) <=
				      1e-9 * (1 + fabs(cams[i].c2w[r][k]))))
					abort();
	}
	free(back);
	free(s);
	/* rays of the first two posed cameras, and back */
	int ref = -1, v = -1;
	for (int i = 0; i < n && v < 0; i++)
		if (cams[i].has_pose) {
			if (ref < 0)
				ref = i;
			else
				v = i;
		}
	if (ref >= 0) {
		if (v < 0)
			v = ref;
		double rays[4 * 4 * 6];
		if (od_camera_rays(&cams[ref], &cams[v], 4, rays) != 0)
			abort();
		for (int i = 0; i < 4 * 4 * 6; i++)
			if (!isfinite(rays[i]))
				abort();
		struct od_camera got;
		struct od_rays_fit fit;
		od_rays_to_camera(rays, 4, &cams[v], &got, &fit, "fuzz");
	}
	free(cams);
	return 0;
}
