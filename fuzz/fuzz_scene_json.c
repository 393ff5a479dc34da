/*
 * fuzz_scene_json: the scene-set readers (lib/eval/scene_json.c) on arbitrary
 * bytes, as od-eval reads SET/ID/scene.json and SET/index.json, and the t2i
 * detector (lib/eval/t2i.c) on every scene that parses. The first byte
 * chooses scene.json (even) or index.json (odd); the rest is the file.
 *
 * Invariants (abort() on violation): every object's colour names a palette
 * entry; relations join two different objects with a known relation; a depth
 * scale is positive and finite; scene ids are non-empty folder names. The
 * detector, run on a small picture drawn in the scene's palette colours,
 * gives scores in [0, 1] (all NAN when no object is named, position NAN
 * exactly when no relation is scored) and detections inside the picture.
 * Seeds (fuzz/seeds/fuzz_scene_json/): scene.json and index.json files like
 * od-scene writes, and the fixtures of tests/fixtures/eval/t2i.
 */
#include "eval/scene_json.h"
#include "eval/t2i.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int in01(double v)
{
	return v >= 0 && v <= 1;
}

static void detect(const struct od_eval_scene *s)
{
	if (s->n_objects == 0 || s->n_palette == 0)
		return;
	/* 24x16: vertical stripes in the palette colours, a grey band, some darker shading */
	struct od_image img;
	if (od_image_alloc(&img, 24, 16, 3) != 0)
		abort();
	for (int y = 0; y < 16; y++)
		for (int x = 0; x < 24; x++) {
			const uint8_t *c = s->palette[(x / 4) % s->n_palette].rgb;
			uint8_t *p = img.data + 3 * (y * 24 + x);
			for (int k = 0; k < 3; k++) {
				int v = c[k] * (8 + y % 4) / 11;
				p[k] = y >= 12 ? 128 : (uint8_t)(v > 255 ? 255 : v);
			}
		}
	struct od_t2i_result r;
	if (od_t2i_eval(&img, s, NULL, &r) != 0)
		abort();
	if (r.objects == 0) {
		if (!isnan(r.presence) || !isnan(r.count) || !isnan(r.colour) || !isnan(r.position) || !isnan(r.mean))
			abort();
	} else if (!in01(r.presence) || !in01(r.count) || !in01(r.colour) || !in01(r.mean) ||
		   (r.relations ? !in01(r.position) : !isnan(r.position)) || r.relations > s->n_relations ||
		   r.objects > s->n_objects)
		abort();
	for (int i = 0; i < r.n_det; i++) {
		const struct od_t2i_detection *d = &r.det[i];
		if (d->x0 < 0 || d->x1 >= 24 || d->y0 < 0 || d->y1 >= 16 || d->x0 > d->x1 || d->y0 > d->y1 ||
		    d->area < 1 || d->colour < 0 || d->colour >= s->n_palette || d->dominant < 0 ||
		    d->dominant >= s->n_palette)
			abort();
	}
	od_t2i_result_free(&r);
	od_image_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	if (data[0] % 2 == 0) {
		struct od_eval_scene s;
		if (od_eval_scene_parse(text, size - 1, "fuzz", &s) != 0)
			return 0;
		if (s.has_depth_scale && !(s.depth_scale > 0 && isfinite(s.depth_scale)))
			abort();
		for (int i = 0; i < s.n_objects; i++)
			if (s.objects[i].colour < 0 || s.objects[i].colour >= s.n_palette)
				abort();
		for (int i = 0; i < s.n_relations; i++) {
			const struct od_eval_relation *r = &s.relations[i];
			if (r->a < 0 || r->a >= s.n_objects || r->b < 0 || r->b >= s.n_objects || r->a == r->b ||
			    (int)r->rel < 0 || r->rel >= OD_EVAL_REL_COUNT)
				abort();
		}
		detect(&s);
		od_eval_scene_free(&s);
	} else {
		char **ids;
		int n;
		if (od_eval_index_parse(text, size - 1, "fuzz", &ids, &n) != 0)
			return 0;
		for (int i = 0; i < n; i++)
			if (!ids[i][0] || strchr(ids[i], '/') || !strcmp(ids[i], "..") || !strcmp(ids[i], "."))
				abort();
		od_eval_index_free(ids, n);
	}
	return 0;
}
