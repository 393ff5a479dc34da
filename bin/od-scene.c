/* od-scene: procedural 3-D scenes rendered with exact ground truth, a set of
 * scene folders deterministic from a seed (od-scene(1), od-scene(5)). The work
 * is in lib/scene/. */
#include "od.h"
#include "scene/scene.h"
#include "scene/scene_write.h"
#include "tool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	printf("Usage: od-scene -o SET [-n N] [-s SEED] [--size WxH] [-v VIEWS] [OPTION]...\n"
	       "       od-scene -o DIR --single [-s SEED] [--first I] [OPTION]...\n"
	       "Render a set of procedural scenes (simple solids on a ground plane) with exact\n"
	       "ground truth for every OneDiffusion task: per view the picture, depth (8-bit\n"
	       "and metric 16-bit), semantic map, instance ids, Canny edges, box map and an\n"
	       "inpainting mask; cameras.json for multiview; a caption, and the od-tag options\n"
	       "of each task in scene.json. The same seed gives the same bytes on every run\n"
	       "and thread count. Layout of a set: od-scene(5).\n"
	       "  -o, --output DIR        the set's folder (created; index.json is written last)\n"
	       "  -n, --count N           number of scenes (default 1)\n"
	       "  -s, --seed S            the set's seed, 0 to 2^53-1 (default 0)\n"
	       "      --first I           the index of the first scene (default 0): -n 100 --first 100\n"
	       "                          writes scenes 000100-000199 of the same set\n"
	       "      --single            write scene --first of the set into DIR itself (no index.json)\n"
	       "      --size WxH          picture size, multiples of 16 from 16 to 2048 (default 256x256)\n"
	       "  -v, --views V           views a scene, 1 to 64, on a circle of azimuths (default 1)\n"
	       "      --objects MIN-MAX   objects a scene, or N (default 1-4; at most 6)\n"
	       "      --shapes LIST       shapes to draw from: sphere,cube,cylinder,cone (default all)\n"
	       "      --distance D        camera distance from the scene centre, metres, 1.95 to 10\n"
	       "                          (default 3.2)\n"
	       "      --elevation MIN-MAX camera elevations, degrees, within 0-85 (default 15-35)\n"
	       "  -j, --threads N         scenes rendered at once (default: all CPUs)\n"
	       "      --progress MODE     auto, none or machine\n"
	       "  -h, --help              this help;  -V, --version  the version\n"
	       "Exit status: 0 ok, 1 failure, 2 usage or an impossible request, 5 I/O. See od-scene(1).\n");
}

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

static void on_progress(void *arg, long done, long total)
{
	od_progress_step(arg, 0, (int)done, (int)total);
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-scene");
	enum { O_FIRST = 256, O_SINGLE, O_SIZE, O_OBJECTS, O_SHAPES, O_DISTANCE, O_ELEVATION, O_PROGRESS };
	static const struct option opts[] = {
		{ "output", required_argument, 0, 'o' },        { "count", required_argument, 0, 'n' },
		{ "seed", required_argument, 0, 's' },          { "first", required_argument, 0, O_FIRST },
		{ "single", no_argument, 0, O_SINGLE },         { "size", required_argument, 0, O_SIZE },
		{ "views", required_argument, 0, 'v' },         { "objects", required_argument, 0, O_OBJECTS },
		{ "shapes", required_argument, 0, O_SHAPES },   { "distance", required_argument, 0, O_DISTANCE },
		{ "elevation", required_argument, 0, O_ELEVATION }, { "threads", required_argument, 0, 'j' },
		{ "progress", required_argument, 0, O_PROGRESS }, { "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },             { 0 }
	};
	struct od_scene_set set = { 0 };
	od_scene_params_default(&set.p);
	set.count = 1;
	int single = 0, count_given = 0, threads = 0, c;
	enum od_progress_mode pmode = OD_PROGRESS_AUTO;
	double a, b;
	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":o:n:s:v:j:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'o': set.dir = optarg; break;
		case 'n': set.count = (long)od_opt_int("--count", optarg, 1, 100000000), count_given = 1; break;
		case 's': set.seed = (uint64_t)od_opt_int("--seed", optarg, 0, (1LL << 53) - 1); break;
		case O_FIRST: set.first = (uint64_t)od_opt_int("--first", optarg, 0, 1000000000000LL); break;
		case O_SINGLE: single = 1; break;
		case O_SIZE: od_opt_size("--size", optarg, &set.p.width, &set.p.height); break;
		case 'v': set.p.views = (int)od_opt_int("--views", optarg, 1, OD_SCENE_MAX_VIEWS); break;
		case O_OBJECTS:
			parse_range("--objects", optarg, 0, 1000000, 1, &a, &b);
			set.p.min_objects = (int)a, set.p.max_objects = (int)b;
			break;
		case O_SHAPES: set.p.shapes = parse_shapes(optarg); break;
		case O_DISTANCE: set.p.distance = od_opt_num("--distance", optarg, -1e9, 1e9); break;
		case O_ELEVATION:
			parse_range("--elevation", optarg, -90, 90, 0, &a, &b);
			set.p.min_elevation = a, set.p.max_elevation = b;
			break;
		case 'j': threads = (int)od_opt_int("--threads", optarg, 0, 4096); break;
		case O_PROGRESS:
			if (!strcmp(optarg, "auto") || !strcmp(optarg, "none") || !strcmp(optarg, "machine"))
				pmode = optarg[0] == 'a' ? OD_PROGRESS_AUTO : optarg[0] == 'n' ? OD_PROGRESS_NONE : OD_PROGRESS_MACHINE;
			else
				od_usage_error("--progress: '%s' is not auto, none or machine", optarg);
			break;
		case 'h': usage(); return 0;
		case 'V': od_version();
		case ':': od_usage_error("option '%s' needs a value", argv[optind - 1]);
		default: od_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		od_usage_error("unexpected argument '%s'", argv[optind]);
	if (!set.dir)
		od_usage_error("give the output folder with -o");
	if (!strcmp(set.dir, "-"))
		od_usage_error("-o: a scene set is a folder, not a stream");
	if (single && count_given && set.count != 1)
		od_usage_error("--single writes one scene: no --count");
	int rc = od_scene_params_check(&set.p);
	if (rc)
		od_usage_error("%s", od_errmsg());
	od_set_threads(threads);
	if (single) {
		if ((rc = od_scene_write(&set.p, set.seed, set.first, set.dir)))
			od_fail(rc);
		return 0;
	}
	struct od_progress prog;
	od_progress_begin(&prog, pmode, "scenes");
	rc = od_scene_set_write(&set, on_progress, &prog);
	od_progress_end(&prog);
	if (rc)
		od_fail(rc);
	return 0;
}
