/*
 * scene.h: procedural 3-D scenes, deterministic from a seed (od-scene(1),
 * od-scene(5)).
 *
 * A scene is a few simple solids resting on a ground plane under a
 * directional light and a sky, seen by V pinhole cameras on a sphere around
 * it. Everything is decided by one 53-bit seed through independent random
 * streams (layout, appearance, cameras, one per view for the inpainting
 * mask), so the same seed gives the same objects whatever the image size or
 * the number of views, and the same bytes on every run and thread count.
 *
 * World: metres, y up, the ground is the plane y = 0 (a disc of radius
 * OD_SCENE_GROUND_RADIUS, beyond it only sky), objects stand on it within
 * OD_SCENE_PLACE_RADIUS of the origin without touching each other. Shapes,
 * with e = extent:
 *
 *   sphere    radius e, centre (x, e, z)
 *   cube      half-size e, rotated by rotation_deg about the vertical axis
 *   cylinder  vertical, radius e, height 2e
 *   cone      vertical, base radius e on the ground, apex at height 2e
 *
 * "centre" is always the centre of the solid's bounding box, (x, e, z).
 *
 * Cameras are od's (camera/camera.h): OpenCV camera-to-world poses and
 * image-size-normalised intrinsics, built by looking at OD_SCENE_TARGET from
 * an azimuth, elevation and distance in this world (azimuth 0 looks from +z
 * towards -z, 90 from +x; elevation above the ground). The focal length is
 * the pipeline's 1.3887 (OD_DEFAULT_FOCAL) in units of the shorter image side,
 * so square pictures match od-plucker's default cameras.
 *
 *   od_scene_params_default()  the defaults od-scene uses
 *   od_scene_params_check()    refuse impossible requests (OD_EINVAL, one line)
 *   od_scene_seed()            the per-scene seed of scene INDEX of a set
 *   od_scene_generate()        seed + params -> struct od_scene
 *   od_scene_project()         a world point in a view's pixel coordinates
 *   od_scene_task_args()       the od-tag arguments of each task
 *
 * Rendering is scene_render.h, Canny edges canny.h, files scene_write.h.
 */
#ifndef OD_SCENE_H
#define OD_SCENE_H

#include "camera/camera.h"

#include <stddef.h>
#include <stdint.h>

/* Limits (od-scene refuses more). Six is what the placement guarantees: see
 * scene.c, place_objects(). Views: upstream's 128-frame limit, two frames a view. */
#define OD_SCENE_MAX_OBJECTS 6
#define OD_SCENE_MAX_VIEWS 64
#define OD_SCENE_MIN_SIDE 16
#define OD_SCENE_MAX_SIDE 2048

/* World constants, metres. */
#define OD_SCENE_PLACE_RADIUS 1.0   /* object centres lie within this of the origin */
#define OD_SCENE_GROUND_RADIUS 20.0 /* the ground disc */
#define OD_SCENE_SMALL 0.15         /* extent of a small object */
#define OD_SCENE_LARGE 0.28         /* extent of a large object */
#define OD_SCENE_GAP 0.05           /* least clearance between two objects' footprints */
/* Every object lies inside this sphere around OD_SCENE_TARGET: cameras must stay
 * outside it with OD_SCENE_CLEARANCE to spare. */
#define OD_SCENE_BOUND_RADIUS 1.45
#define OD_SCENE_CLEARANCE 0.5
#define OD_SCENE_MIN_DISTANCE (OD_SCENE_BOUND_RADIUS + OD_SCENE_CLEARANCE)
/* depth16 holds depth / OD_SCENE_DEPTH_SCALE: 0.5 mm steps up to 32.77 m, which
 * the farthest ground point stays inside for distances up to OD_SCENE_MAX_DISTANCE. */
#define OD_SCENE_DEPTH_SCALE 0.0005
#define OD_SCENE_MAX_DISTANCE 10.0
#define OD_SCENE_MAX_ELEVATION 85.0

enum od_scene_shape { OD_SHAPE_SPHERE, OD_SHAPE_CUBE, OD_SHAPE_CYLINDER, OD_SHAPE_CONE, OD_SHAPE_COUNT };
extern const char *const od_scene_shape_names[OD_SHAPE_COUNT];
/* The shape called name, or -1. */
int od_scene_shape_find(const char *name);

/* The object palette: named base colours (sRGB), far apart in hue or
 * lightness so that shading does not make one look like another. */
struct od_scene_colour {
	const char *name;
	uint8_t srgb[3];
};
#define OD_SCENE_N_COLOURS 8
extern const struct od_scene_colour od_scene_palette[OD_SCENE_N_COLOURS];

/* Ground and sky looks (the caption names the ground). */
struct od_scene_look {
	const char *name;
	uint8_t srgb[3];
};
#define OD_SCENE_N_GROUNDS 3
#define OD_SCENE_N_SKIES 2
extern const struct od_scene_look od_scene_grounds[OD_SCENE_N_GROUNDS];
extern const struct od_scene_look od_scene_skies[OD_SCENE_N_SKIES][2]; /* [sky][0 horizon, 1 zenith] */

struct od_scene_params {
	int width, height;          /* pixels, multiples of 16 */
	int views;                  /* 1..OD_SCENE_MAX_VIEWS */
	int min_objects, max_objects; /* 0 <= min <= max <= OD_SCENE_MAX_OBJECTS */
	unsigned shapes;            /* bit (1 << shape) for each shape allowed; not 0 */
	double distance;            /* camera distance from OD_SCENE_TARGET */
	double min_elevation, max_elevation; /* degrees */
};

struct od_scene_object {
	int id;                     /* 1..n: its value in instances.png */
	enum od_scene_shape shape;
	int colour;                 /* index in od_scene_palette */
	int large;                  /* size class: extent OD_SCENE_LARGE, else OD_SCENE_SMALL */
	double centre[3];           /* bounding-box centre (x, extent, z), metres */
	double extent;
	double rotation_deg;        /* about +y (cubes; 0 for the round shapes) */
	int semantic;               /* region colour: index in od_colors (text/prompt.h) */
};

/* A spatial relation the caption states, as seen from view 0. */
enum od_scene_relation { OD_REL_LEFT, OD_REL_RIGHT, OD_REL_FRONT, OD_REL_BEHIND };
extern const char *const od_scene_relation_names[4]; /* "left of", "right of", "in front of", "behind" */

struct od_scene_rel {
	int a, b;                   /* object ids: a RELATION b */
	enum od_scene_relation rel;
};

struct od_scene_view_pose {
	double azimuth, elevation;  /* degrees, in the scene's world (not upstream's orbit convention) */
};

struct od_scene {
	uint64_t seed;              /* the per-scene seed */
	char id[24];                /* folder name: the set index, 6 digits or more */
	struct od_scene_params p;
	int n_objects;
	struct od_scene_object objects[OD_SCENE_MAX_OBJECTS];
	double light_azimuth, light_elevation; /* degrees */
	double light_dir[3];        /* unit vector towards the light */
	int ground, checker, sky;   /* od_scene_grounds index, checkered or plain, od_scene_skies index */
	struct od_camera cams[OD_SCENE_MAX_VIEWS];
	struct od_scene_view_pose poses[OD_SCENE_MAX_VIEWS];
	int n_rel;
	struct od_scene_rel rel[OD_SCENE_MAX_OBJECTS];
	char caption[512];
};

/* The look-at point of every camera. */
extern const double OD_SCENE_TARGET[3];

/* od-scene's defaults: 256x256, 1 view, 1-4 objects, every shape, distance 3.2,
 * elevation 15-35 degrees. */
void od_scene_params_default(struct od_scene_params *p);

/* OD_OK, or OD_EINVAL with a one-line message naming the problem: a size that
 * is not a multiple of 16 within 16..2048, views outside 1..64, an object
 * range that is empty or asks for more objects than fit on the ground (or
 * than the palette has colours), no shapes, cameras closer than
 * OD_SCENE_MIN_DISTANCE (inside or grazing the objects) or farther than
 * OD_SCENE_MAX_DISTANCE, elevations outside 0..85 degrees. */
int od_scene_params_check(const struct od_scene_params *p);

/* The seed of scene number index of the set with seed set_seed (both below
 * 2^53, so JSON readers that use doubles read them exactly). */
uint64_t od_scene_seed(uint64_t set_seed, uint64_t index);

/* Build scene number index (its id) from its seed. p must pass
 * od_scene_params_check. Cannot fail otherwise (OD_EINVAL for bad params). */
int od_scene_generate(struct od_scene *s, const struct od_scene_params *p, uint64_t seed, uint64_t index);

/* A world point in view v: pixel coordinates (u right, w down; the picture
 * spans [0, width] x [0, height]) and the camera-z depth. */
void od_scene_project(const struct od_scene *s, int v, const double X[3], double *u, double *w, double *depth);

/* Describe the scene as view 0 shows it: pixels[id] (id 1..n) is each object's
 * pixel count in view 0's instance map. Objects with at least
 * od_scene_mention_pixels() pixels are mentioned, in a random order (the
 * scene's caption stream), each related to the next by the relation that
 * view 0 shows most clearly: left of / right of when the two are further
 * apart across the view than in depth, else in front of / behind. Sets
 * caption, rel and n_rel. */
void od_scene_describe(struct od_scene *s, const long *pixels);
/* The least pixel count that gets an object into the caption: width·height / OD_SCENE_MENTION_DIVISOR,
 * rounded down, at least 1. od-eval's text -> image scores look for exactly these objects
 * (eval/scene_json.h, od_eval_scene_named), through the same function, so the two cannot drift. */
#define OD_SCENE_MENTION_DIVISOR 2000
long od_scene_mention_threshold(long width, long height);
/* The same for the picture size of p. */
long od_scene_mention_pixels(const struct od_scene_params *p);

/* The short description of an object: "large red cube". */
void od_scene_object_name(const struct od_scene_object *o, char *buf, size_t size);

/* The tasks a scene provides, and the od-tag arguments that build each
 * task's prompt (without od-tag itself and without -m). */
enum od_scene_task {
	OD_SCENE_T2I, OD_SCENE_DEPTH, OD_SCENE_CANNY, OD_SCENE_SEMANTIC, OD_SCENE_BOXES, OD_SCENE_INPAINT,
	OD_SCENE_MULTIVIEW, OD_SCENE_N_TASKS
};
extern const char *const od_scene_task_tags[OD_SCENE_N_TASKS]; /* od-tag --task names */
#define OD_SCENE_MAX_ARGS (4 + 2 * OD_SCENE_MAX_OBJECTS)
struct od_scene_args {
	int n;
	char arg[OD_SCENE_MAX_ARGS][640];
};
/* The arguments of task t for view 0, visible[id] saying which objects show
 * in view 0 (regions and boxes name those only). Returns 0 when the scene does
 * not provide the task (no object visible for the region tasks, one view for
 * multiview), 1 otherwise. */
int od_scene_task_args(const struct od_scene *s, enum od_scene_task t, const unsigned char *visible,
		       struct od_scene_args *a);

/* A small deterministic generator (xoshiro256**, seeded by splitmix64): one
 * stream per (seed, stream). */
struct od_scene_rng {
	uint64_t s[4];
};
void od_scene_rng_init(struct od_scene_rng *r, uint64_t seed, uint64_t stream);
uint64_t od_scene_rng_next(struct od_scene_rng *r);
/* Uniform in [0, 1) with 53 bits. */
double od_scene_rng_uniform(struct od_scene_rng *r);
/* Uniform integer in [0, n), n >= 1 (unbiased). */
int od_scene_rng_int(struct od_scene_rng *r, int n);

#endif
