/*
 * scene.c: scene generation from a seed (see scene.h): the palette, the
 * random streams, object placement, light, ground, sky and cameras, the
 * caption with its relations, and the od-tag arguments of each task.
 *
 * Every random draw comes from a stream named by (scene seed, purpose), and
 * every drawn number that ends up in scene.json is rounded to the precision
 * it is written with (millimetres, tenths or hundredths of a degree) before it
 * is used, so the file describes exactly what was rendered.
 */
#include "scene/scene.h"
#include "base/error.h"
#include "text/prompt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const od_scene_shape_names[OD_SHAPE_COUNT] = { "sphere", "cube", "cylinder", "cone" };

/* Hues about 30-60 degrees apart at full saturation, plus white: Lambert
 * shading under a white light scales a colour, it keeps its hue, so these stay
 * apart from the brightest face to the darkest shadow. */
const struct od_scene_colour od_scene_palette[OD_SCENE_N_COLOURS] = {
	{ "red", { 200, 30, 30 } },    { "orange", { 235, 120, 20 } }, { "yellow", { 230, 200, 30 } },
	{ "green", { 40, 160, 50 } },  { "cyan", { 30, 180, 200 } },   { "blue", { 35, 65, 205 } },
	{ "purple", { 130, 45, 170 } }, { "white", { 230, 230, 230 } },
};

/* Neutral grounds and skies, away from every palette colour. */
const struct od_scene_look od_scene_grounds[OD_SCENE_N_GROUNDS] = {
	{ "grey", { 130, 130, 130 } }, { "beige", { 165, 150, 125 } }, { "dark grey", { 75, 75, 80 } },
};
const struct od_scene_look od_scene_skies[OD_SCENE_N_SKIES][2] = {
	{ { "pale blue", { 205, 218, 232 } }, { "blue", { 120, 160, 210 } } },
	{ { "light grey", { 215, 215, 215 } }, { "grey", { 160, 165, 172 } } },
};

const char *const od_scene_relation_names[4] = { "left of", "right of", "in front of", "behind" };
static const char *const relation_phrase[4] = { "to the left of", "to the right of", "in front of", "behind" };

const char *const od_scene_task_tags[OD_SCENE_N_TASKS] = {
	"text2image", "depth2image", "canny2image", "semanticmap2image", "boundingbox2image", "image_inpainting",
	"multiview",
};

const double OD_SCENE_TARGET[3] = { 0, 0.2, 0 };

/* The region colours objects get, distinct within a scene: the first eight of
 * od_colors (red, lime, blue, yellow, magenta, cyan, orange, purple), far apart
 * so that a decoded map can be read back by nearest colour. */
#define N_SEMANTIC 8

/* Random streams of a scene (od_scene_rng_init's stream argument). */
enum { STREAM_LAYOUT = 1, STREAM_LOOK, STREAM_CAMERAS, STREAM_CAPTION };

/* ---------------------------------------------------------------- random numbers */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void od_scene_rng_init(struct od_scene_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t od_scene_rng_next(struct od_scene_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double od_scene_rng_uniform(struct od_scene_rng *r)
{
	return (double)(od_scene_rng_next(r) >> 11) * 0x1.0p-53;
}

int od_scene_rng_int(struct od_scene_rng *r, int n)
{
	/* rejection keeps every value equally likely */
	uint64_t lim = UINT64_MAX - UINT64_MAX % (uint64_t)n, x;
	do
		x = od_scene_rng_next(r);
	while (x >= lim);
	return (int)(x % (uint64_t)n);
}

static double uniform(struct od_scene_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * od_scene_rng_uniform(r);
}

/* Round to a multiple of q (the precision scene.json is written with). */
static double quant(double x, double q)
{
	double v = round(x / q) * q;
	return v == 0 ? 0 : v; /* no -0 */
}

static void shuffle(struct od_scene_rng *r, int *v, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = od_scene_rng_int(r, i + 1), t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

uint64_t od_scene_seed(uint64_t set_seed, uint64_t index)
{
	uint64_t x = set_seed;
	uint64_t h = splitmix64(&x);
	x = h ^ (index * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
	return splitmix64(&x) & ((1ull << 53) - 1);
}

/* ---------------------------------------------------------------- parameters */

int od_scene_shape_find(const char *name)
{
	for (int i = 0; i < OD_SHAPE_COUNT; i++)
		if (!strcmp(name, od_scene_shape_names[i]))
			return i;
	return -1;
}

void od_scene_params_default(struct od_scene_params *p)
{
	memset(p, 0, sizeof *p);
	p->width = p->height = 256;
	p->views = 1;
	p->min_objects = 1;
	p->max_objects = 4;
	p->shapes = (1u << OD_SHAPE_COUNT) - 1;
	p->distance = 3.2;
	p->min_elevation = 15;
	p->max_elevation = 35;
}

int od_scene_params_check(const struct od_scene_params *p)
{
	if (p->width % 16 || p->height % 16 || p->width < OD_SCENE_MIN_SIDE || p->height < OD_SCENE_MIN_SIDE ||
	    p->width > OD_SCENE_MAX_SIDE || p->height > OD_SCENE_MAX_SIDE)
		return od_error(OD_EINVAL, "size %dx%d: width and height must be multiples of 16 from %d to %d "
				"(OneDiffusion's VAE and od-encode need it)", p->width, p->height, OD_SCENE_MIN_SIDE,
				OD_SCENE_MAX_SIDE);
	if (p->views < 1 || p->views > OD_SCENE_MAX_VIEWS)
		return od_error(OD_EINVAL, "%d views: give 1 to %d (two frames a view, 128 frames at most)", p->views,
				OD_SCENE_MAX_VIEWS);
	if (p->min_objects < 0 || p->min_objects > p->max_objects)
		return od_error(OD_EINVAL, "objects %d-%d is not a range from low to high", p->min_objects,
				p->max_objects);
	if (p->max_objects > OD_SCENE_MAX_OBJECTS)
		return od_error(OD_EINVAL, "%d objects do not fit on the ground: at most %d", p->max_objects,
				OD_SCENE_MAX_OBJECTS);
	if (!(p->shapes & ((1u << OD_SHAPE_COUNT) - 1)) || (p->shapes >> OD_SHAPE_COUNT))
		return od_error(OD_EINVAL, "no shapes to draw from");
	if (!(p->distance >= OD_SCENE_MIN_DISTANCE))
		return od_error(OD_EINVAL, "camera distance %g m: cameras closer than %g m to the scene centre "
				"would be inside or too close to objects", p->distance, OD_SCENE_MIN_DISTANCE);
	if (!(p->distance <= OD_SCENE_MAX_DISTANCE))
		return od_error(OD_EINVAL, "camera distance %g m: at most %g m (depth16 would overflow)", p->distance,
				OD_SCENE_MAX_DISTANCE);
	if (!(p->min_elevation >= 0) || !(p->max_elevation <= OD_SCENE_MAX_ELEVATION) ||
	    !(p->min_elevation <= p->max_elevation))
		return od_error(OD_EINVAL, "elevations %g-%g degrees: give a range within 0 to %g", p->min_elevation,
				p->max_elevation, OD_SCENE_MAX_ELEVATION);
	return OD_OK;
}

/* ---------------------------------------------------------------- layout */

static double extent_of(int large)
{
	return large ? OD_SCENE_LARGE : OD_SCENE_SMALL;
}

/* The radius of an object's footprint on the ground: it stays inside the
 * vertical cylinder of this radius around its centre whatever its rotation. */
static double footprint(enum od_scene_shape shape, double e)
{
	return shape == OD_SHAPE_CUBE ? e * M_SQRT2 : e;
}

static int fits(const struct od_scene_object *o, int n, double x, double z, double r)
{
	for (int i = 0; i < n; i++) {
		double dx = o[i].centre[0] - x, dz = o[i].centre[2] - z;
		double need = footprint(o[i].shape, o[i].extent) + r + OD_SCENE_GAP;
		if (dx * dx + dz * dz < need * need)
			return 0;
	}
	return 1;
}

/* Place n objects (shape and size already chosen) without overlap: uniform
 * positions in the disc of OD_SCENE_PLACE_RADIUS, rejected when too close to
 * one placed before, 200 tries an object and 50 fresh starts. Should all of
 * that fail (it practically never does), the objects go to fixed slots, the
 * centre and five points on a ring of 0.95 m, 0.95 m or more apart, which holds
 * six of the widest footprint (large cubes, 2 · 0.396 + 0.05 = 0.84 m): this is
 * what OD_SCENE_MAX_OBJECTS rests on. */
static void place_objects(struct od_scene_rng *r, struct od_scene_object *o, int n)
{
	for (int start = 0; start < 50; start++) {
		int k;
		for (k = 0; k < n; k++) {
			double fp = footprint(o[k].shape, o[k].extent);
			int t;
			for (t = 0; t < 200; t++) {
				double rad = OD_SCENE_PLACE_RADIUS * sqrt(od_scene_rng_uniform(r));
				double phi = 2 * M_PI * od_scene_rng_uniform(r);
				double x = quant(rad * cos(phi), 1e-3), z = quant(rad * sin(phi), 1e-3);
				double r2 = OD_SCENE_PLACE_RADIUS * OD_SCENE_PLACE_RADIUS;
				if (x * x + z * z <= r2 && fits(o, k, x, z, fp)) {
					o[k].centre[0] = x;
					o[k].centre[2] = z;
					break;
				}
			}
			if (t == 200)
				break;
		}
		if (k == n)
			return;
	}
	int slot[6] = { 0, 1, 2, 3, 4, 5 };
	shuffle(r, slot, 6);
	for (int k = 0; k < n; k++) {
		double a = 2 * M_PI * slot[k] / 5;
		o[k].centre[0] = slot[k] == 5 ? 0 : quant(0.95 * cos(a), 1e-3);
		o[k].centre[2] = slot[k] == 5 ? 0 : quant(0.95 * sin(a), 1e-3);
	}
}

/* The OpenCV camera-to-world pose of a camera at (azimuth, elevation, distance)
 * around OD_SCENE_TARGET looking at it, world y up: z forward towards the
 * target, x = z × up (right), y = z × x (down). */
static void look_at(double az_deg, double el_deg, double dist, double c2w[4][4])
{
	double az = az_deg * (M_PI / 180), el = el_deg * (M_PI / 180);
	double back[3] = { cos(el) * sin(az), sin(el), cos(el) * cos(az) };
	double z[3] = { -back[0], -back[1], -back[2] };
	double x[3] = { -z[2], 0, z[0] }; /* z × (0, 1, 0) */
	double xn = sqrt(x[0] * x[0] + x[2] * x[2]);
	x[0] /= xn, x[2] /= xn;
	double y[3] = { z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0] };
	memset(c2w, 0, 16 * sizeof(double));
	for (int i = 0; i < 3; i++) {
		c2w[i][0] = x[i];
		c2w[i][1] = y[i];
		c2w[i][2] = z[i];
		c2w[i][3] = OD_SCENE_TARGET[i] + dist * back[i];
	}
	c2w[3][3] = 1;
}

int od_scene_generate(struct od_scene *s, const struct od_scene_params *p, uint64_t seed, uint64_t index)
{
	int rc = od_scene_params_check(p);
	if (rc)
		return rc;
	memset(s, 0, sizeof *s);
	s->seed = seed;
	s->p = *p;
	snprintf(s->id, sizeof s->id, "%06llu", (unsigned long long)index);

	/* objects: count, shapes, sizes, distinct colours and region colours */
	struct od_scene_rng r;
	od_scene_rng_init(&r, seed, STREAM_LAYOUT);
	int n = p->min_objects + od_scene_rng_int(&r, p->max_objects - p->min_objects + 1);
	int allowed[OD_SHAPE_COUNT], n_allowed = 0;
	for (int i = 0; i < OD_SHAPE_COUNT; i++)
		if (p->shapes & (1u << i))
			allowed[n_allowed++] = i;
	int colours[OD_SCENE_N_COLOURS], sem[N_SEMANTIC];
	for (int i = 0; i < OD_SCENE_N_COLOURS; i++)
		colours[i] = i;
	for (int i = 0; i < N_SEMANTIC; i++)
		sem[i] = i;
	shuffle(&r, colours, OD_SCENE_N_COLOURS);
	shuffle(&r, sem, N_SEMANTIC);
	s->n_objects = n;
	for (int k = 0; k < n; k++) {
		struct od_scene_object *o = &s->objects[k];
		o->id = k + 1;
		o->shape = (enum od_scene_shape)allowed[od_scene_rng_int(&r, n_allowed)];
		o->colour = colours[k];
		o->semantic = sem[k];
		o->large = od_scene_rng_int(&r, 2);
		o->extent = extent_of(o->large);
		o->centre[1] = o->extent;
		/* a cube looks the same every 90 degrees */
		o->rotation_deg = o->shape == OD_SHAPE_CUBE ? quant(uniform(&r, 0, 90), 0.1) : 0;
		if (o->rotation_deg >= 90)
			o->rotation_deg = 0;
	}
	place_objects(&r, s->objects, n);

	/* light, ground and sky */
	od_scene_rng_init(&r, seed, STREAM_LOOK);
	s->light_azimuth = quant(uniform(&r, 0, 360), 0.1);
	s->light_elevation = quant(uniform(&r, 35, 65), 0.1);
	double la = s->light_azimuth * (M_PI / 180), le = s->light_elevation * (M_PI / 180);
	s->light_dir[0] = cos(le) * sin(la);
	s->light_dir[1] = sin(le);
	s->light_dir[2] = cos(le) * cos(la);
	s->ground = od_scene_rng_int(&r, OD_SCENE_N_GROUNDS);
	s->checker = od_scene_rng_int(&r, 2);
	s->sky = od_scene_rng_int(&r, OD_SCENE_N_SKIES);

	/* cameras: azimuths spread evenly from a random start, each but the first
	 * moved by up to a fifth of the spacing; elevations drawn in the range */
	od_scene_rng_init(&r, seed, STREAM_CAMERAS);
	double az0 = uniform(&r, 0, 360), step = 360.0 / p->views;
	double F = OD_DEFAULT_FOCAL * (p->width < p->height ? p->width : p->height);
	for (int v = 0; v < p->views; v++) {
		double az = az0 + v * step + (v ? uniform(&r, -0.2, 0.2) * step : 0);
		double el = uniform(&r, p->min_elevation, p->max_elevation);
		az = quant(fmod(az, 360), 0.01);
		if (az >= 360)
			az = 0;
		s->poses[v].azimuth = az;
		s->poses[v].elevation = quant(el, 0.01);
		double c2w[4][4];
		look_at(s->poses[v].azimuth, s->poses[v].elevation, p->distance, c2w);
		struct od_camera *c = &s->cams[v];
		od_camera_init(c, OD_DEFAULT_FOCAL);
		char what[32];
		snprintf(what, sizeof what, "view %d", v);
		if ((rc = od_camera_set_c2w(c, c2w, 0, what)) ||
		    (rc = od_camera_set_intrinsics(c, F / p->width, F / p->height, 0.5, 0.5, what)))
			return rc;
		c->view = v;
		snprintf(c->image, sizeof c->image, "view%d/image.png", v);
	}
	return OD_OK;
}

void od_scene_project(const struct od_scene *s, int v, const double X[3], double *u, double *w, double *depth)
{
	const struct od_camera *c = &s->cams[v];
	double d[3], x[3];
	for (int i = 0; i < 3; i++)
		d[i] = X[i] - c->c2w[i][3];
	for (int j = 0; j < 3; j++) /* x = Rᵀ d */
		x[j] = c->c2w[0][j] * d[0] + c->c2w[1][j] * d[1] + c->c2w[2][j] * d[2];
	*depth = x[2];
	*u = (c->fx * x[0] / x[2] + c->cx) * s->p.width;
	*w = (c->fy * x[1] / x[2] + c->cy) * s->p.height;
}

/* ---------------------------------------------------------------- words */

void od_scene_object_name(const struct od_scene_object *o, char *buf, size_t size)
{
	snprintf(buf, size, "%s %s %s", o->large ? "large" : "small", od_scene_palette[o->colour].name,
		 od_scene_shape_names[o->shape]);
}

long od_scene_mention_threshold(long width, long height)
{
	long n = width * height / OD_SCENE_MENTION_DIVISOR;
	return n < 1 ? 1 : n;
}

long od_scene_mention_pixels(const struct od_scene_params *p)
{
	return od_scene_mention_threshold(p->width, p->height);
}

/* The relation of a to b as view 0 shows it, from the objects' centres in
 * view 0's camera frame: across the view (x) when they are further apart that
 * way than in depth (z), else in depth. Objects do not overlap, so the larger
 * of the two separations is at least (0.15 + 0.15 + 0.05) / sqrt 2 = 0.25 m:
 * never a close call. With a field of view under 90 degrees the order in x is
 * the order in the picture whenever x is chosen. */
static enum od_scene_relation relation(const struct od_scene *s, const struct od_scene_object *a,
				       const struct od_scene_object *b)
{
	const struct od_camera *c = &s->cams[0];
	double xa[3], xb[3];
	for (int j = 0; j < 3; j++) {
		xa[j] = xb[j] = 0;
		for (int i = 0; i < 3; i++) {
			xa[j] += c->c2w[i][j] * (a->centre[i] - c->c2w[i][3]);
			xb[j] += c->c2w[i][j] * (b->centre[i] - c->c2w[i][3]);
		}
	}
	double dx = xa[0] - xb[0], dz = xa[2] - xb[2];
	if (fabs(dx) >= fabs(dz))
		return dx < 0 ? OD_REL_LEFT : OD_REL_RIGHT;
	return dz < 0 ? OD_REL_FRONT : OD_REL_BEHIND;
}

void od_scene_describe(struct od_scene *s, const long *pixels)
{
	long need = od_scene_mention_pixels(&s->p);
	int order[OD_SCENE_MAX_OBJECTS], n = 0;
	for (int k = 0; k < s->n_objects; k++)
		if (pixels[s->objects[k].id] >= need)
			order[n++] = k;
	struct od_scene_rng r;
	od_scene_rng_init(&r, s->seed, STREAM_CAPTION);
	shuffle(&r, order, n);
	char *p = s->caption, *end = s->caption + sizeof s->caption;
	s->n_rel = 0;
	for (int i = 0; i < n; i++) {
		char name[64];
		const struct od_scene_object *o = &s->objects[order[i]];
		od_scene_object_name(o, name, sizeof name);
		if (i == 0) {
			p += snprintf(p, (size_t)(end - p), "a %s", name);
			continue;
		}
		const struct od_scene_object *prev = &s->objects[order[i - 1]];
		enum od_scene_relation rel = relation(s, prev, o);
		s->rel[s->n_rel++] = (struct od_scene_rel){ prev->id, o->id, rel };
		p += snprintf(p, (size_t)(end - p), "%s %s a %s", i > 1 ? ", which is" : "", relation_phrase[rel],
			      name);
	}
	snprintf(p, (size_t)(end - p), "%s %s%s floor", n ? ", on a" : "an empty", od_scene_grounds[s->ground].name,
		 s->checker ? " checkered" : "");
}

int od_scene_task_args(const struct od_scene *s, enum od_scene_task t, const unsigned char *visible,
		       struct od_scene_args *a)
{
	a->n = 0;
	int regions = t == OD_SCENE_SEMANTIC || t == OD_SCENE_BOXES, n_vis = 0;
	for (int k = 0; k < s->n_objects; k++)
		n_vis += visible[s->objects[k].id] != 0;
	if ((regions && !n_vis) || (t == OD_SCENE_MULTIVIEW && s->p.views < 2))
		return 0;
	snprintf(a->arg[a->n++], sizeof a->arg[0], "-t");
	snprintf(a->arg[a->n++], sizeof a->arg[0], "%s", od_scene_task_tags[t]);
	for (int k = 0; regions && k < s->n_objects; k++) {
		const struct od_scene_object *o = &s->objects[k];
		if (!visible[o->id])
			continue;
		char name[64];
		od_scene_object_name(o, name, sizeof name);
		snprintf(a->arg[a->n++], sizeof a->arg[0], "%s", t == OD_SCENE_SEMANTIC ? "--region" : "--box");
		snprintf(a->arg[a->n++], sizeof a->arg[0], "%s:%s", od_colors[o->semantic].hex, name);
	}
	snprintf(a->arg[a->n++], sizeof a->arg[0], "%s", s->caption);
	return 1;
}
