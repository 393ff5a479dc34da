/*
 * baseline.c: constant pictures and cameras at the origin (baseline.h).
 */
#include "eval/baseline.h"
#include "base/error.h"
#include "base/io.h"
#include "camera/camera_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const od_baseline_names[OD_BASELINE_COUNT] = { "mean", "black", "origin" };

int od_baseline_parse(const char *name)
{
	for (int k = 0; k < OD_BASELINE_COUNT; k++)
		if (!strcmp(name, od_baseline_names[k]))
			return k;
	return -1;
}

int od_baseline_picture(enum od_baseline b, const struct od_image *ref, struct od_image *out)
{
	if (b != OD_BASELINE_MEAN && b != OD_BASELINE_BLACK)
		return od_error(OD_EINVAL, "baseline %d is not a picture", (int)b);
	int rc = od_image_alloc(out, ref->width, ref->height, 3);
	if (rc || b == OD_BASELINE_BLACK)
		return rc;
	const size_t n = (size_t)ref->width * ref->height;
	const int C = ref->channels;
	uint8_t mean[3];
	for (int c = 0; c < 3; c++) {
		/* exact in 64 bits: at most 255 · 2^28 for the largest picture */
		uint64_t sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += ref->data[i * C + (C == 3 ? c : 0)];
		mean[c] = (uint8_t)((2 * sum + n) / (2 * n)); /* round half up */
	}
	for (size_t i = 0; i < n; i++)
		memcpy(out->data + 3 * i, mean, 3);
	return OD_OK;
}

void od_baseline_cameras(const struct od_camera *ref, int n, struct od_camera *out)
{
	for (int i = 0; i < n; i++) {
		struct od_camera c = ref[i];
		memset(c.c2w, 0, sizeof c.c2w);
		for (int k = 0; k < 4; k++)
			c.c2w[k][k] = 1;
		c.has_pose = 1;
		c.has_orbit = 0;
		c.azimuth = c.elevation = c.distance = 0;
		out[i] = c;
	}
}

int od_baseline_file(enum od_baseline b, const char *ref_path, const char *out_path)
{
	struct od_out o;
	int rc;
	if (b == OD_BASELINE_ORIGIN) {
		struct od_camera *ref = NULL;
		int n;
		if ((rc = od_camera_json_read(ref_path, &ref, &n)))
			return rc;
		od_baseline_cameras(ref, n, ref);
		if (!(rc = od_out_open(&o, out_path))) {
			if ((rc = od_camera_json_write(&o, ref, NULL, n)) || (rc = od_out_commit(&o)))
				od_out_abort(&o);
		}
		free(ref);
		return rc;
	}
	struct od_image ref = { 0 }, pic = { 0 };
	if ((rc = od_image_read_file(&ref, ref_path, NULL)))
		return rc;
	if (!(rc = od_baseline_picture(b, &ref, &pic)) && !(rc = od_out_open(&o, out_path))) {
		/* the picture says what it is */
		struct od_meta_entry meta = { "baseline", (char *)od_baseline_names[b] };
		if ((rc = od_image_write_png(&o, &pic, &meta, 1)) || (rc = od_out_commit(&o)))
			od_out_abort(&o);
	}
	od_image_free(&ref);
	od_image_free(&pic);
	return rc;
}
