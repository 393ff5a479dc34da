/* od-scene: procedural 3-D scenes rendered with exact ground truth, a set of
 * scene folders deterministic from a seed (od-scene(1), od-scene(5)). The work
 * is in lib/scene/. */
#include "od.h"
#include "scene/scene.h"
#include "scene/scene_write.h"
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct od_usage usage = {
	.synopsis = "od-scene -o SET [--count N] [-s SEED] [-S WxH] [--views V] [OPTIONS]\n"
		    "od-scene -o DIR --single [-s SEED] [--first I] [OPTIONS]",
	.description =
		"Render a set of procedural scenes (simple solids on a ground plane) with exact\n"
		"ground truth for every OneDiffusion task: per view the picture, depth (8-bit\n"
		"and metric 16-bit), semantic map, instance ids, Canny edges, box map and an\n"
		"inpainting mask; cameras.json for multiview; a caption, and the od-tag options\n"
		"of each task in scene.json. The same seed gives the same bytes on every run\n"
		"and thread count. Layout of a set: od-scene(5).\n",
	.footer = "Exit status: 0 ok, 1 failure, 2 usage or an impossible request, 5 I/O.\nSee od-scene(1).\n",
};

static double number(const char *opt, const char *s, double lo, double hi, int integer)
{
	return integer ? (double)od_opt_int(opt, s, (long long)lo, (long long)hi) : od_opt_num(opt, s, lo, hi);
}

/* "A-B" or "N" as two numbers (A may be negative: "-10-20"). */
static void parse_range(const char *opt, const char *s, double lo, double hi, int integer, double *a, double *b)
{
	char buf[128];
	const char *dash = strchr(s + (*s == '-'), '-');
	if (strlen(s) >= sizeof buf)
		od_usage_error("%s: '%s' is not a range MIN-MAX", opt, s);
	if (!dash) {
		*a = *b = number(opt, s, lo, hi, integer);
		return;
	}
	snprintf(buf, sizeof buf, "%.*s", (int)(dash - s), s);
	*a = number(opt, buf, lo, hi, integer);
	*b = number(opt, dash + 1, lo, hi, integer);
	if (*a > *b)
		od_usage_error("%s: '%s' runs from high to low", opt, s);
}

static unsigned parse_shapes(const char *s)
{
	unsigned m = 0;
	char *dup = strdup(s), *save = NULL;
	if (!dup)
		od_die(OD_ENOMEM, "out of memory");
	if (!*s || s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,"))
		od_usage_error("--shapes: '%s' is not a comma-separated list of shapes", s);
	for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k = od_scene_shape_find(t);
		if (k < 0)
			od_usage_error("--shapes: '%s' is not sphere, cube, cylinder or cone", t);
		m |= 1u << k;
	}
	free(dup);
	return m;
}

/* The options' values; the ranges are checked by od_scene_params_check. */
static int size_cb(const struct od_option *opt, const char *arg)
{
	struct od_scene_params *p = opt->value;
	od_opt_size("--size", arg, &p->width, &p->height);
	return OD_OK;
}

static int objects_cb(const struct od_option *opt, const char *arg)
{
	struct od_scene_params *p = opt->value;
	double a, b;
	parse_range("--objects", arg, 0, 1000000, 1, &a, &b);
	p->min_objects = (int)a, p->max_objects = (int)b;
	return OD_OK;
}

static int elevation_cb(const struct od_option *opt, const char *arg)
{
	struct od_scene_params *p = opt->value;
	double a, b;
	parse_range("--elevation", arg, -90, 90, 0, &a, &b);
	p->min_elevation = a, p->max_elevation = b;
	return OD_OK;
}

static int shapes_cb(const struct od_option *opt, const char *arg)
{
	((struct od_scene_params *)opt->value)->shapes = parse_shapes(arg);
	return OD_OK;
}

static void on_progress(void *arg, long done, long total)
{
	od_progress_step(arg, 0, (int)done, (int)total);
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-scene");
	struct od_scene_set set = { 0 };
	od_scene_params_default(&set.p);
	struct od_common_opts common;
	int single = 0, count = 0; /* 0: not given */
	int64_t seed = 0, first = 0;
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &set.dir, "DIR", "the set's folder (created), or the scene's with --single"),
		OD_OPT_INT(0, "count", &count, "N", "number of scenes (default 1)", 1, 100000000),
		OD_OPT_INT64('s', "seed", &seed, "S", "the set's seed, 0 to 2^53-1 (default 0)", 0, ((int64_t)1 << 53) - 1),
		OD_OPT_INT64(0, "first", &first, "I",
			     "the index of the first scene (default 0): --count 100 --first 100 writes scenes "
			     "000100-000199 of the same set", 0, 1000000000000LL),
		OD_OPT_BOOL(0, "single", &single, "write scene --first of the set into DIR itself (no index.json)"),
		OD_OPT_CALLBACK('S', "size", &set.p, "WxH",
				"picture size, multiples of 16 from 16 to 2048 (default 256x256)", size_cb),
		OD_OPT_INT(0, "views", &set.p.views, "V", "views a scene, 1 to 64, on a circle of azimuths (default 1)", 1,
			   OD_SCENE_MAX_VIEWS),
		OD_OPT_CALLBACK(0, "objects", &set.p, "MIN-MAX", "objects a scene, or N (default 1-4; at most 6)",
				objects_cb),
		OD_OPT_CALLBACK(0, "shapes", &set.p, "LIST", "shapes to draw from: sphere,cube,cylinder,cone (default all)",
				shapes_cb),
		OD_OPT_NUM('d', "distance", &set.p.distance, "D",
			   "camera distance from the scene centre, metres, 1.95 to 10 (default 3.2)", -1e9, 1e9),
		OD_OPT_CALLBACK('e', "elevation", &set.p, "MIN-MAX",
				"camera elevations, degrees, within 0-85 (default 15-35)", elevation_cb),
		OD_OPT_COMMON_SOME(&common, OD_COMMON_THREADS | OD_COMMON_PROGRESS),
		OD_OPT_END(),
	};
	const int i = od_parse_options(argc, argv, opts, &usage);
	if (i < argc)
		od_usage_error("unexpected argument '%s'", argv[i]);
	set.seed = (uint64_t)seed;
	set.first = (uint64_t)first;
	set.count = count ? count : 1;
	if (!set.dir)
		od_usage_error("give the output folder with -o");
	if (!strcmp(set.dir, "-"))
		od_usage_error("-o: a scene set is a folder, not a stream");
	if (single && count && count != 1)
		od_usage_error("--single writes one scene: no --count");
	int rc = od_scene_params_check(&set.p);
	if (rc)
		od_usage_error("%s", od_errmsg());
	od_set_threads(common.threads);
	if (single) {
		if ((rc = od_scene_write(&set.p, set.seed, set.first, set.dir)))
			od_fail(rc);
		od_info("wrote '%s'", set.dir);
		return 0;
	}
	struct od_progress prog;
	od_progress_begin(&prog, common.progress, "scenes");
	rc = od_scene_set_write(&set, on_progress, &prog);
	od_progress_end(&prog);
	if (rc)
		od_fail(rc);
	od_info("wrote %ld scene%s to '%s'", set.count, set.count == 1 ? "" : "s", set.dir);
	return 0;
}
