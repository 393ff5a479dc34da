/*
 * scene_render.c: the ray caster and the derived maps (see scene_render.h).
 *
 * Cost: five primary rays a pixel (the centre for the labels, four for the
 * picture) and one shadow ray for each lit sample. Each object is only tested
 * for the pixels inside its projected bounding box (worked out once a view),
 * and shadow rays test a bounding sphere before the solid, so a view costs
 * about the same whatever the number of objects.
 */
#include "scene/scene_render.h"
#include "base/error.h"
#include "text/prompt.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Shading (linear RGB): ambient light from the sky, scaled by 0.75 + 0.25 n_y so
 * that faces turned up are a little brighter in the shade, plus the sun. */
#define AMBIENT 0.35
#define SUN 0.85
#define CHECKER_SIZE 0.5   /* metres */
#define CHECKER_DARK 0.72  /* the dark squares' albedo relative to the light ones */
#define FOG_NEAR 8.0       /* the ground fades into the horizon colour from here ... */
#define EPS 1e-9           /* least ray parameter of a hit */
#define SHADOW_OFFSET 1e-6 /* shadow rays start this far off the surface, metres */

/* The rotated-grid supersampling pattern, pixels from the centre. */
static const double AA[4][2] = { { -0.125, -0.375 }, { 0.375, -0.125 }, { 0.125, 0.375 }, { -0.375, 0.125 } };

/* ---------------------------------------------------------------- colour */

#define LUT_N 4096
static uint8_t srgb_lut[LUT_N + 1];
static pthread_once_t lut_once = PTHREAD_ONCE_INIT;

static double srgb_to_linear(double c)
{
	return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

static double linear_to_srgb(double c)
{
	return c <= 0.0031308 ? 12.92 * c : 1.055 * pow(c, 1 / 2.4) - 0.055;
}

static void lut_init(void)
{
	for (int i = 0; i <= LUT_N; i++)
		srgb_lut[i] = (uint8_t)lround(255 * linear_to_srgb((double)i / LUT_N));
}

static uint8_t encode(double c)
{
	if (!(c > 0))
		return 0;
	if (c >= 1)
		return 255;
	return srgb_lut[(int)(c * LUT_N + 0.5)];
}

static void linear_rgb(const uint8_t srgb[3], double out[3])
{
	for (int i = 0; i < 3; i++)
		out[i] = srgb_to_linear(srgb[i] / 255.0);
}

/* ---------------------------------------------------------------- primitives */

struct prim {
	int id;
	enum od_scene_shape shape;
	double c[3];      /* bounding-box centre */
	double e;         /* extent */
	double cs, sn;    /* cube rotation about y */
	double bc[3], br; /* bounding sphere */
	double albedo[3]; /* linear */
	int x0, y0, x1, y1; /* the pixels it may cover in this view (inclusive) */
};

struct hit {
	double t;
	double n[3];
	int prim;         /* index, -1 ground, -2 nothing */
};

static double dot3(const double a[3], const double b[3])
{
	return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/* Does the ray meet the sphere (c, r) at some t > 0? (shadow rays' quick test) */
static int meets_sphere(const double o[3], const double d[3], const double c[3], double r)
{
	double oc[3] = { o[0] - c[0], o[1] - c[1], o[2] - c[2] };
	double b = dot3(oc, d), cc = dot3(oc, oc) - r * r;
	if (cc > 0 && b > 0)
		return 0; /* outside and moving away */
	return b * b - dot3(d, d) * cc >= 0;
}

/* The first t > EPS where the ray o + t d (d any length) enters the solid, with the
 * outward normal there (unit); 0 when it does not. The ray starts outside. */
static int intersect(const struct prim *p, const double o[3], const double d[3], double *t_out, double n[3])
{
	/* the solid's frame: origin under its centre on the ground (cube: its centre) */
	double q[3] = { o[0] - p->c[0], o[1], o[2] - p->c[2] };
	double e = p->e, best = INFINITY;
	switch (p->shape) {
	case OD_SHAPE_SPHERE: {
		double oc[3] = { q[0], q[1] - p->c[1], q[2] };
		double a = dot3(d, d), b = dot3(oc, d), cc = dot3(oc, oc) - e * e;
		double disc = b * b - a * cc;
		if (disc < 0)
			return 0;
		double t = (-b - sqrt(disc)) / a;
		if (!(t > EPS))
			return 0;
		*t_out = t;
		for (int i = 0; i < 3; i++)
			n[i] = (oc[i] + t * d[i]) / e;
		return 1;
	}
	case OD_SHAPE_CUBE: {
		/* into the cube's frame: local = R_y(θ)ᵀ world */
		double lo[3] = { p->cs * q[0] - p->sn * q[2], q[1] - p->c[1], p->sn * q[0] + p->cs * q[2] };
		double ld[3] = { p->cs * d[0] - p->sn * d[2], d[1], p->sn * d[0] + p->cs * d[2] };
		double tn = -INFINITY, tf = INFINITY;
		int axis = -1;
		for (int i = 0; i < 3; i++) {
			if (ld[i] == 0) {
				if (fabs(lo[i]) > e)
					return 0;
				continue;
			}
			double t1 = (-e - lo[i]) / ld[i], t2 = (e - lo[i]) / ld[i];
			if (t1 > t2) {
				double x = t1;
				t1 = t2;
				t2 = x;
			}
			if (t1 > tn)
				tn = t1, axis = i;
			if (t2 < tf)
				tf = t2;
		}
		if (!(tn <= tf) || !(tn > EPS) || axis < 0)
			return 0;
		double ln[3] = { 0, 0, 0 };
		ln[axis] = ld[axis] > 0 ? -1 : 1;
		*t_out = tn;
		n[0] = p->cs * ln[0] + p->sn * ln[2];
		n[1] = ln[1];
		n[2] = -p->sn * ln[0] + p->cs * ln[2];
		return 1;
	}
	case OD_SHAPE_CYLINDER:
	case OD_SHAPE_CONE: {
		/* sides: x² + z² = r(y)², r = e (cylinder) or (h - y)/2 (cone, h = 2e), 0 <= y <= h;
		 * as a t² + 2 b t + c = 0. Caps: y = h (cylinder) and y = 0, within r. The first
		 * of these surface crossings is where a ray from outside enters. */
		double h = 2 * e, k2 = p->shape == OD_SHAPE_CONE ? 0.25 : 0;
		double a = d[0] * d[0] + d[2] * d[2], b = q[0] * d[0] + q[2] * d[2], c = q[0] * q[0] + q[2] * q[2];
		if (k2 > 0) {
			a -= k2 * d[1] * d[1];
			b += k2 * (h - q[1]) * d[1];
			c -= k2 * (h - q[1]) * (h - q[1]);
		} else {
			c -= e * e;
		}
		double roots[2];
		int nr = 0;
		if (fabs(a) > 1e-12) {
			double disc = b * b - a * c;
			if (disc >= 0) {
				double s = sqrt(disc);
				roots[nr++] = (-b - s) / a;
				roots[nr++] = (-b + s) / a;
			}
		} else if (b != 0) {
			roots[nr++] = -c / (2 * b);
		}
		int which = -1;
		for (int i = 0; i < nr; i++) {
			double y = q[1] + roots[i] * d[1];
			if (roots[i] > EPS && roots[i] < best && y >= 0 && y <= h)
				best = roots[i], which = 0;
		}
		if (d[1] != 0) {
			double caps[2] = { 0, h };
			int n_caps = p->shape == OD_SHAPE_CONE ? 1 : 2; /* a cone has its base only */
			for (int i = 0; i < n_caps; i++) {
				double t = (caps[i] - q[1]) / d[1];
				double x = q[0] + t * d[0], z = q[2] + t * d[2];
				if (t > EPS && t < best && x * x + z * z <= e * e)
					best = t, which = 1 + i;
			}
		}
		if (which < 0)
			return 0;
		*t_out = best;
		if (which == 0) {
			double x = q[0] + best * d[0], y = q[1] + best * d[1], z = q[2] + best * d[2];
			double g[3] = { x, k2 * (h - y), z }; /* the gradient of x² + z² − k²(h − y)², halved */
			double l = sqrt(dot3(g, g));
			if (!(l > 0)) /* the apex */
				g[0] = 0, g[1] = 1, g[2] = 0, l = 1;
			for (int i = 0; i < 3; i++)
				n[i] = g[i] / l;
		} else {
			n[0] = n[2] = 0;
			n[1] = which == 1 ? -1 : 1;
		}
		return 1;
	}
	default:
		return 0;
	}
}

/* ---------------------------------------------------------------- one view */

struct ctx {
	const struct od_scene *s;
	struct prim prims[OD_SCENE_MAX_OBJECTS];
	int n;
	double o[3];          /* camera centre */
	double R[3][3];       /* camera-to-world rotation */
	double fx, fy, cx, cy;
	int W, H;
	double ground[2][3];  /* light and dark squares (plain: both light), linear */
	double horizon[3], zenith[3];
	double l[3];          /* towards the light */
};

/* The pixels a primitive may cover: the projection of the cube around its
 * bounding sphere, padded by a pixel for the supersamples; all pixels when a
 * corner is near or behind the camera plane. */
static void screen_rect(struct ctx *c, struct prim *p)
{
	double umin = INFINITY, umax = -INFINITY, vmin = INFINITY, vmax = -INFINITY;
	for (int k = 0; k < 8; k++) {
		double X[3], x[3];
		for (int i = 0; i < 3; i++)
			X[i] = p->bc[i] + ((k >> i) & 1 ? p->br : -p->br) - c->o[i];
		for (int j = 0; j < 3; j++)
			x[j] = c->R[0][j] * X[0] + c->R[1][j] * X[1] + c->R[2][j] * X[2];
		if (x[2] < 1e-3) {
			p->x0 = p->y0 = 0;
			p->x1 = c->W - 1;
			p->y1 = c->H - 1;
			return;
		}
		double u = (c->fx * x[0] / x[2] + c->cx) * c->W, v = (c->fy * x[1] / x[2] + c->cy) * c->H;
		umin = fmin(umin, u), umax = fmax(umax, u), vmin = fmin(vmin, v), vmax = fmax(vmax, v);
	}
	/* pixel c covers [c, c + 1): samples reach 3/8 beyond it */
	p->x0 = (int)fmax(0, floor(umin) - 1);
	p->y0 = (int)fmax(0, floor(vmin) - 1);
	p->x1 = (int)fmin(c->W - 1, floor(umax) + 1);
	p->y1 = (int)fmin(c->H - 1, floor(vmax) + 1);
}

static void ctx_init(struct ctx *c, const struct od_scene *s, int v)
{
	pthread_once(&lut_once, lut_init);
	memset(c, 0, sizeof *c);
	c->s = s;
	c->W = s->p.width;
	c->H = s->p.height;
	const struct od_camera *cam = &s->cams[v];
	for (int i = 0; i < 3; i++) {
		c->o[i] = cam->c2w[i][3];
		for (int j = 0; j < 3; j++)
			c->R[i][j] = cam->c2w[i][j];
	}
	c->fx = cam->fx, c->fy = cam->fy, c->cx = cam->cx, c->cy = cam->cy;
	linear_rgb(od_scene_grounds[s->ground].srgb, c->ground[0]);
	for (int i = 0; i < 3; i++)
		c->ground[1][i] = c->ground[0][i] * (s->checker ? CHECKER_DARK : 1);
	linear_rgb(od_scene_skies[s->sky][0].srgb, c->horizon);
	linear_rgb(od_scene_skies[s->sky][1].srgb, c->zenith);
	memcpy(c->l, s->light_dir, sizeof c->l);
	c->n = s->n_objects;
	for (int k = 0; k < s->n_objects; k++) {
		const struct od_scene_object *ob = &s->objects[k];
		struct prim *p = &c->prims[k];
		p->id = ob->id;
		p->shape = ob->shape;
		memcpy(p->c, ob->centre, sizeof p->c);
		p->e = ob->extent;
		double th = ob->rotation_deg * (M_PI / 180);
		p->cs = cos(th);
		p->sn = sin(th);
		memcpy(p->bc, ob->centre, sizeof p->bc);
		p->br = ob->extent * (ob->shape == OD_SHAPE_SPHERE ? 1
				      : ob->shape == OD_SHAPE_CUBE ? sqrt(3)
								   : M_SQRT2);
		linear_rgb(od_scene_palette[ob->colour].srgb, p->albedo);
		screen_rect(c, p);
	}
}

/* The first surface along o + t d among the primitives covering pixel (px, py)
 * and the ground. */
static void trace(const struct ctx *c, const double d[3], int px, int py, struct hit *h)
{
	h->t = INFINITY;
	h->prim = -2;
	if (d[1] < 0) {
		double t = -c->o[1] / d[1];
		double x = c->o[0] + t * d[0], z = c->o[2] + t * d[2];
		if (t > EPS && x * x + z * z <= OD_SCENE_GROUND_RADIUS * OD_SCENE_GROUND_RADIUS) {
			h->t = t;
			h->prim = -1;
			h->n[0] = h->n[2] = 0;
			h->n[1] = 1;
		}
	}
	for (int k = 0; k < c->n; k++) {
		const struct prim *p = &c->prims[k];
		if (px < p->x0 || px > p->x1 || py < p->y0 || py > p->y1)
			continue;
		double t, n[3];
		if (intersect(p, c->o, d, &t, n) && t < h->t) {
			h->t = t;
			h->prim = k;
			memcpy(h->n, n, sizeof n);
		}
	}
}

/* Is the point x (on primitive self, -1 the ground) in another object's shadow? */
static int shadowed(const struct ctx *c, const double x[3], int self)
{
	for (int k = 0; k < c->n; k++) {
		if (k == self || !meets_sphere(x, c->l, c->prims[k].bc, c->prims[k].br))
			continue;
		double t, n[3];
		if (intersect(&c->prims[k], x, c->l, &t, n))
			return 1;
	}
	return 0;
}

static void sky(const struct ctx *c, const double d[3], double out[3])
{
	double up = d[1] / sqrt(dot3(d, d));
	double f = up > 0 ? sqrt(up) : 0;
	for (int i = 0; i < 3; i++)
		out[i] = c->horizon[i] + f * (c->zenith[i] - c->horizon[i]);
}

/* The linear colour seen along d. */
static void shade(const struct ctx *c, const double d[3], const struct hit *h, double out[3])
{
	if (h->prim == -2) {
		sky(c, d, out);
		return;
	}
	double x[3];
	for (int i = 0; i < 3; i++)
		x[i] = c->o[i] + h->t * d[i];
	const double *albedo;
	if (h->prim == -1) {
		long sq = (long)floor(x[0] / CHECKER_SIZE) + (long)floor(x[2] / CHECKER_SIZE);
		albedo = c->ground[sq & 1];
	} else {
		albedo = c->prims[h->prim].albedo;
	}
	double ndl = dot3(h->n, c->l), light = AMBIENT * (0.75 + 0.25 * h->n[1]);
	if (ndl > 0) {
		double xs[3];
		for (int i = 0; i < 3; i++)
			xs[i] = x[i] + SHADOW_OFFSET * h->n[i];
		if (!shadowed(c, xs, h->prim))
			light += SUN * ndl;
	}
	for (int i = 0; i < 3; i++)
		out[i] = albedo[i] * light;
	double r2 = x[0] * x[0] + x[2] * x[2];
	if (h->prim == -1 && r2 > FOG_NEAR * FOG_NEAR) {
		/* the ground fades into the horizon towards its rim */
		double r = sqrt(r2);
		double f = (r - FOG_NEAR) / (OD_SCENE_GROUND_RADIUS - FOG_NEAR);
		f = f < 0 ? 0 : f > 1 ? 1 : f * f * (3 - 2 * f);
		for (int i = 0; i < 3; i++)
			out[i] += f * (c->horizon[i] - out[i]);
	}
}

/* The world direction of the image point at pixel coordinates (u, v) (the
 * picture spans [0, W] x [0, H]): c2w's rotation times ((u/W − cx)/fx, (v/H − cy)/fy, 1),
 * so that the ray parameter is the camera-z depth. */
static void direction(const struct ctx *c, double u, double v, double d[3])
{
	double x = (u / c->W - c->cx) / c->fx, y = (v / c->H - c->cy) / c->fy;
	for (int i = 0; i < 3; i++)
		d[i] = c->R[i][0] * x + c->R[i][1] * y + c->R[i][2];
}

int od_scene_view_alloc(struct od_scene_view *v, int width, int height)
{
	size_t n = (size_t)width * height;
	v->width = width;
	v->height = height;
	v->rgb = malloc(n * 3);
	v->depth = malloc(n * sizeof *v->depth);
	v->inst = malloc(n);
	if (!v->rgb || !v->depth || !v->inst) {
		od_scene_view_free(v);
		return od_error(OD_ENOMEM, "out of memory");
	}
	return OD_OK;
}

void od_scene_view_free(struct od_scene_view *v)
{
	free(v->rgb);
	free(v->depth);
	free(v->inst);
	v->rgb = NULL;
	v->depth = NULL;
	v->inst = NULL;
}

int od_scene_render(const struct od_scene *s, int v, struct od_scene_view *out)
{
	if (v < 0 || v >= s->p.views)
		return od_error(OD_EINVAL, "view %d of a scene with %d views", v, s->p.views);
	if (out->width != s->p.width || out->height != s->p.height)
		return od_error(OD_EINVAL, "view buffers of %dx%d for a %dx%d scene", out->width, out->height,
				s->p.width, s->p.height);
	struct ctx c;
	ctx_init(&c, s, v);
	for (int py = 0; py < c.H; py++) {
		for (int px = 0; px < c.W; px++) {
			size_t i = (size_t)py * c.W + px;
			double d[3], acc[3] = { 0, 0, 0 }, col[3];
			struct hit h;
			direction(&c, px + 0.5, py + 0.5, d);
			trace(&c, d, px, py, &h);
			out->depth[i] = h.prim == -2 ? 0 : h.t;
			out->inst[i] = h.prim >= 0 ? (uint8_t)c.prims[h.prim].id : 0;
			for (int k = 0; k < 4; k++) {
				direction(&c, px + 0.5 + AA[k][0], py + 0.5 + AA[k][1], d);
				trace(&c, d, px, py, &h);
				shade(&c, d, &h, col);
				for (int j = 0; j < 3; j++)
					acc[j] += col[j];
			}
			for (int j = 0; j < 3; j++)
				out->rgb[i * 3 + j] = encode(acc[j] * 0.25);
		}
	}
	return OD_OK;
}

/* ---------------------------------------------------------------- derived maps */

void od_scene_depth8(const double *depth, long n, uint8_t *out)
{
	double lo = INFINITY, hi = -INFINITY;
	for (long i = 0; i < n; i++) {
		double disp = depth[i] > 0 ? 1 / depth[i] : 0;
		lo = fmin(lo, disp);
		hi = fmax(hi, disp);
	}
	for (long i = 0; i < n; i++) {
		double disp = depth[i] > 0 ? 1 / depth[i] : 0;
		out[i] = hi > lo ? (uint8_t)lround(255 * (disp - lo) / (hi - lo)) : 0;
	}
}

void od_scene_depth16(const double *depth, long n, uint16_t *out)
{
	for (long i = 0; i < n; i++) {
		if (!(depth[i] > 0)) {
			out[i] = 0;
			continue;
		}
		double q = round(depth[i] / OD_SCENE_DEPTH_SCALE);
		out[i] = (uint16_t)(q < 1 ? 1 : q > 65535 ? 65535 : q);
	}
}

static void region_rgb(int semantic, uint8_t rgb[3])
{
	unsigned x = (unsigned)strtoul(od_colors[semantic].hex + 1, NULL, 16);
	rgb[0] = (uint8_t)(x >> 16);
	rgb[1] = (uint8_t)(x >> 8);
	rgb[2] = (uint8_t)x;
}

void od_scene_semantic(const struct od_scene *s, const uint8_t *inst, long n, uint8_t *rgb)
{
	uint8_t lut[OD_SCENE_MAX_OBJECTS + 1][3];
	memset(lut, 0, sizeof lut);
	for (int k = 0; k < s->n_objects; k++)
		region_rgb(s->objects[k].semantic, lut[s->objects[k].id]);
	for (long i = 0; i < n; i++)
		memcpy(rgb + i * 3, lut[inst[i] <= OD_SCENE_MAX_OBJECTS ? inst[i] : 0], 3);
}

int od_scene_boxes(const struct od_scene *s, const uint8_t *inst, int width, int height, struct od_scene_box *boxes,
		   long *pixels)
{
	struct od_scene_box b[OD_SCENE_MAX_OBJECTS + 1];
	for (int k = 0; k <= OD_SCENE_MAX_OBJECTS; k++)
		b[k] = (struct od_scene_box){ k, width, height, 0, 0, 0 };
	for (int y = 0; y < height; y++)
		for (int x = 0; x < width; x++) {
			int id = inst[(size_t)y * width + x];
			if (id > OD_SCENE_MAX_OBJECTS)
				continue;
			struct od_scene_box *q = &b[id];
			q->pixels++;
			if (x < q->x0)
				q->x0 = x;
			if (x + 1 > q->x1)
				q->x1 = x + 1;
			if (y < q->y0)
				q->y0 = y;
			if (y + 1 > q->y1)
				q->y1 = y + 1;
		}
	int n = 0;
	for (int id = 0; id <= s->n_objects; id++) {
		if (pixels)
			pixels[id] = b[id].pixels;
		if (id && b[id].pixels)
			boxes[n++] = b[id];
	}
	return n;
}

void od_scene_box_map(const struct od_scene *s, const struct od_scene_box *b, int n, int width, int height,
		      uint8_t *rgb)
{
	memset(rgb, 0, (size_t)width * height * 3);
	int order[OD_SCENE_MAX_OBJECTS];
	for (int i = 0; i < n; i++)
		order[i] = i;
	/* largest first; equal areas by id (insertion sort: n <= 6, stable) */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0; j--) {
			const struct od_scene_box *p = &b[order[j - 1]], *q = &b[order[j]];
			long ap = (long)(p->x1 - p->x0) * (p->y1 - p->y0), aq = (long)(q->x1 - q->x0) * (q->y1 - q->y0);
			if (aq <= ap)
				break;
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		const struct od_scene_box *q = &b[order[i]];
		uint8_t c[3] = { 0, 0, 0 };
		for (int k = 0; k < s->n_objects; k++)
			if (s->objects[k].id == q->id)
				region_rgb(s->objects[k].semantic, c);
		for (int y = q->y0; y < q->y1; y++)
			for (int x = q->x0; x < q->x1; x++)
				memcpy(rgb + ((size_t)y * width + x) * 3, c, 3);
	}
}

static int clampi(int x, int lo, int hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

void od_scene_inpaint_mask(const struct od_scene *s, int v, const uint8_t *inst, const struct od_scene_box *b,
			   int n, uint8_t *mask, int rect[4], int *object)
{
	int W = s->p.width, H = s->p.height;
	struct od_scene_rng r;
	od_scene_rng_init(&r, s->seed, 100 + (uint64_t)v);
	int x0, y0, w, h;
	*object = 0;
	if (n == 0) {
		w = (int)lround(W * (0.25 + 0.25 * od_scene_rng_uniform(&r)));
		h = (int)lround(H * (0.25 + 0.25 * od_scene_rng_uniform(&r)));
		x0 = (int)floor((W - w) * od_scene_rng_uniform(&r));
		y0 = (int)floor((H - h) * od_scene_rng_uniform(&r));
	} else {
		/* one of the objects the caption mentions, if any: not a sliver */
		int pick[OD_SCENE_MAX_OBJECTS], np = 0;
		for (int i = 0; i < n; i++)
			if (b[i].pixels >= od_scene_mention_pixels(&s->p))
				pick[np++] = i;
		if (!np)
			for (int i = 0; i < n; i++)
				pick[np++] = i;
		const struct od_scene_box *q = &b[pick[od_scene_rng_int(&r, np)]];
		int bw = q->x1 - q->x0, bh = q->y1 - q->y0;
		int mw = (int)lround(bw * (0.4 + 0.4 * od_scene_rng_uniform(&r)));
		int mh = (int)lround(bh * (0.4 + 0.4 * od_scene_rng_uniform(&r)));
		w = clampi(mw, W / 16 > 1 ? W / 16 : 1, W);
		h = clampi(mh, H / 16 > 1 ? H / 16 : 1, H);
		double fx = od_scene_rng_uniform(&r), fy = od_scene_rng_uniform(&r);
		/* inside the box where it fits, else centred on it */
		x0 = w <= bw ? q->x0 + (int)floor((bw - w) * fx) : q->x0 + bw / 2 - w / 2;
		y0 = h <= bh ? q->y0 + (int)floor((bh - h) * fy) : q->y0 + bh / 2 - h / 2;
		x0 = clampi(x0, 0, W - w);
		y0 = clampi(y0, 0, H - h);
		*object = q->id;
		long covered = 0;
		for (int y = y0; y < y0 + h; y++)
			for (int x = x0; x < x0 + w; x++)
				covered += inst[(size_t)y * W + x] == q->id;
		if (!covered) {
			/* a silhouette cut by occlusion can miss a sub-rectangle of its box:
			 * centre the hole on the object's middle pixel instead */
			long k = q->pixels / 2, seen = 0;
			for (int i = 0; i < W * H; i++)
				if (inst[i] == q->id && seen++ == k) {
					x0 = clampi(i % W - w / 2, 0, W - w);
					y0 = clampi(i / W - h / 2, 0, H - h);
					break;
				}
		}
	}
	memset(mask, 0, (size_t)W * H);
	for (int y = y0; y < y0 + h; y++)
		memset(mask + (size_t)y * W + x0, 255, (size_t)w);
	rect[0] = x0;
	rect[1] = y0;
	rect[2] = x0 + w;
	rect[3] = y0 + h;
}
