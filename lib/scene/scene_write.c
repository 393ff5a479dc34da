/*
 * scene_write.c: scene folders and sets on disk (see scene_write.h and
 * od-scene(5)): the per-view files, cameras.json, caption.txt, scene.json and
 * index.json, and the parallel loop over the scenes of a set.
 *
 * JSON is written by hand in a fixed layout so that the bytes are the same on
 * every run; numbers that were rounded when drawn (scene.c) are written with
 * exactly the digits they were rounded to.
 */
#include "scene/scene_write.h"
#include "scene/canny.h"
#include "scene/scene_render.h"
#include "base/error.h"
#include "base/textbuf.h"
#include "base/io.h"
#include "base/parallel.h"
#include "camera/camera_json.h"
#include "formats/image.h"
#include "text/prompt.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- text building */

static void sb_json_str(struct od_tbuf *b, const char *s)
{
	od_tbuf_printf(b, "\"");
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			od_tbuf_printf(b, "\\%c", *c);
		else if (*c < 0x20)
			od_tbuf_printf(b, "\\u%04x", *c);
		else
			od_tbuf_printf(b, "%c", *c);
	}
	od_tbuf_printf(b, "\"");
}

/* The shortest of %.15g, %.16g, %.17g that reads back as x. */
static void sb_num(struct od_tbuf *b, double x)
{
	char buf[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	od_tbuf_printf(b, "%s", buf);
}

/* One shell word: as it is when it holds only safe characters, else in single quotes. */
static void sb_shell_word(struct od_tbuf *b, const char *s)
{
	int safe = *s != 0;
	for (const char *c = s; *c && safe; c++)
		safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		       strchr("-_./:=,+", *c);
	if (safe) {
		od_tbuf_printf(b, "%s", s);
		return;
	}
	od_tbuf_printf(b, "'");
	for (const char *c = s; *c; c++)
		if (*c == '\'')
			od_tbuf_printf(b, "'\\''");
		else
			od_tbuf_printf(b, "%c", *c);
	od_tbuf_printf(b, "'");
}

static void sb_rgb(struct od_tbuf *b, const uint8_t c[3])
{
	od_tbuf_printf(b, "[%d, %d, %d]", c[0], c[1], c[2]);
}

static void sb_palette(struct od_tbuf *b, const char *indent)
{
	od_tbuf_printf(b, "{");
	for (int i = 0; i < OD_SCENE_N_COLOURS; i++) {
		od_tbuf_printf(b, "%s\n%s  \"%s\": ", i ? "," : "", indent, od_scene_palette[i].name);
		sb_rgb(b, od_scene_palette[i].srgb);
	}
	od_tbuf_printf(b, "\n%s}", indent);
}

/* ---------------------------------------------------------------- files */

/* Create the folder path as a member of g (removed again when g is aborted). */
static int make_dir(struct od_out_group *g, const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
		return od_error(OD_EIO, "'%s': cannot create the folder: a file is in the way", path);
	return od_group_mkdir(g, path);
}

static int join(char *out, size_t size, const char *dir, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int join(char *out, size_t size, const char *dir, const char *fmt, ...)
{
	char name[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size)
		return od_error(OD_EINVAL, "'%s': the path is too long", dir);
	return OD_OK;
}

/* Each file is a member of the scene's group: a temporary until the group is
 * committed. A failure leaves the member to the group's abort. */
static int write_bytes(struct od_out_group *g, const char *path, const char *data, size_t n)
{
	struct od_out *o;
	int rc = od_group_open(g, path, &o);
	if (!rc)
		rc = od_out_write(o, data, n);
	if (!rc)
		rc = od_group_finish(g, o);
	return rc;
}

/* A picture (filtered rows) or a flat-colour map (label maps, masks, edges:
 * unfiltered rows, as small and encoded faster). */
enum { PICTURE, MAP };

static int write_png(struct od_out_group *g, const char *path, int w, int h, int channels, uint8_t *data, int kind)
{
	struct od_image img = { w, h, channels, data };
	struct od_png_opts opts = { .unfiltered = kind == MAP };
	struct od_out *o;
	int rc = od_group_open(g, path, &o);
	if (!rc)
		rc = od_image_write_png_opt(o, &img, NULL, 0, &opts);
	if (!rc)
		rc = od_group_finish(g, o);
	return rc;
}

static int write_png16(struct od_out_group *g, const char *path, int w, int h, const uint16_t *data)
{
	struct od_out *o;
	int rc = od_group_open(g, path, &o);
	if (!rc)
		rc = od_image_write_png16(o, w, h, data, NULL, 0);
	if (!rc)
		rc = od_group_finish(g, o);
	return rc;
}

/* ---------------------------------------------------------------- one scene */

struct view_info {
	int n_boxes;
	struct od_scene_box boxes[OD_SCENE_MAX_OBJECTS];
	int mask_rect[4], mask_object;
};

/* Work buffers of one view. */
struct bufs {
	struct od_scene_view v;
	uint8_t *rgb, *grey, *mask;
	uint16_t *d16;
};

static void bufs_free(struct bufs *b)
{
	od_scene_view_free(&b->v);
	free(b->rgb);
	free(b->grey);
	free(b->mask);
	free(b->d16);
}

static int bufs_alloc(struct bufs *b, int w, int h)
{
	memset(b, 0, sizeof *b);
	size_t n = (size_t)w * h;
	int rc = od_scene_view_alloc(&b->v, w, h);
	if (rc)
		return rc;
	b->rgb = malloc(n * 3);
	b->grey = malloc(n);
	b->mask = malloc(n);
	b->d16 = malloc(n * sizeof *b->d16);
	if (!b->rgb || !b->grey || !b->mask || !b->d16) {
		bufs_free(b);
		return od_error(OD_ENOMEM, "out of memory");
	}
	return OD_OK;
}

/* Render view v and write its folder; pixels (ids 0..n) get the instance counts. */
static int write_view(struct od_out_group *g, const struct od_scene *s, int v, const char *dir, struct bufs *b,
		      struct view_info *vi, long *pixels)
{
	char vdir[PATH_MAX], path[PATH_MAX];
	const int W = s->p.width, H = s->p.height;
	const long n = (long)W * H;
	int rc;
	if ((rc = join(vdir, sizeof vdir, dir, "view%d", v)) || (rc = make_dir(g, vdir)))
		return rc;
	if ((rc = od_scene_render(s, v, &b->v)))
		return rc;
	vi->n_boxes = od_scene_boxes(s, b->v.inst, W, H, vi->boxes, pixels);
#define OUT(name) ((rc = join(path, sizeof path, vdir, name)) ? rc : 0)
	if (OUT("image.png") || (rc = write_png(g, path, W, H, 3, b->v.rgb, PICTURE)))
		return rc;
	od_scene_depth8(b->v.depth, n, b->grey);
	if (OUT("depth.png") || (rc = write_png(g, path, W, H, 1, b->grey, PICTURE)))
		return rc;
	od_scene_depth16(b->v.depth, n, b->d16);
	if (OUT("depth16.png") || (rc = write_png16(g, path, W, H, b->d16)))
		return rc;
	od_scene_semantic(s, b->v.inst, n, b->rgb);
	if (OUT("semantic.png") || (rc = write_png(g, path, W, H, 3, b->rgb, MAP)))
		return rc;
	if (OUT("instances.png") || (rc = write_png(g, path, W, H, 1, b->v.inst, MAP)))
		return rc;
	struct od_canny_params cp;
	od_canny_params_default(&cp);
	if ((rc = od_canny(b->v.rgb, W, H, 3, &cp, b->grey)))
		return rc;
	if (OUT("canny.png") || (rc = write_png(g, path, W, H, 1, b->grey, MAP)))
		return rc;
	od_scene_box_map(s, vi->boxes, vi->n_boxes, W, H, b->rgb);
	if (OUT("boxes.png") || (rc = write_png(g, path, W, H, 3, b->rgb, MAP)))
		return rc;
	od_scene_inpaint_mask(s, v, b->v.inst, vi->boxes, vi->n_boxes, b->mask, vi->mask_rect, &vi->mask_object);
	if (OUT("mask.png") || (rc = write_png(g, path, W, H, 1, b->mask, MAP)))
		return rc;
	for (long i = 0; i < n; i++)
		if (b->mask[i])
			b->v.rgb[i * 3] = b->v.rgb[i * 3 + 1] = b->v.rgb[i * 3 + 2] = 0;
	if (OUT("masked.png") || (rc = write_png(g, path, W, H, 3, b->v.rgb, PICTURE)))
		return rc;
#undef OUT
	return OD_OK;
}

/* Task t's od-tag arguments as one line of shell words; 0 when the scene has no such task. */
static int task_line(const struct od_scene *s, int t, const unsigned char *visible, struct od_tbuf *w)
{
	struct od_scene_args a;
	if (!od_scene_task_args(s, (enum od_scene_task)t, visible, &a))
		return 0;
	for (int i = 0; i < a.n; i++) {
		od_tbuf_printf(w, "%s", i ? " " : "");
		sb_shell_word(w, a.arg[i]);
	}
	return 1;
}

/* scene.json's "tasks" (shell words) or "task_args" (arrays of arguments). */
static void sb_task_args(struct od_tbuf *b, const struct od_scene *s, const unsigned char *visible, int as_array)
{
	int first = 1;
	od_tbuf_printf(b, "{");
	for (int t = 0; t < OD_SCENE_N_TASKS; t++) {
		struct od_scene_args a;
		if (!od_scene_task_args(s, (enum od_scene_task)t, visible, &a))
			continue;
		od_tbuf_printf(b, "%s\n    \"%s\": ", first ? "" : ",", od_scene_task_tags[t]);
		first = 0;
		if (as_array) {
			od_tbuf_printf(b, "[");
			for (int i = 0; i < a.n; i++) {
				od_tbuf_printf(b, "%s", i ? ", " : "");
				sb_json_str(b, a.arg[i]);
			}
			od_tbuf_printf(b, "]");
		} else {
			struct od_tbuf w = { 0 };
			task_line(s, t, visible, &w);
			if (w.oom)
				b->oom = 1;
			else
				sb_json_str(b, w.s);
			free(w.s);
		}
	}
	od_tbuf_printf(b, "\n  }");
}

/* tasks.txt: "TAG<TAB>OPTIONS" a line, the same as scene.json's "tasks". */
static char *tasks_txt(const struct od_scene *s, const unsigned char *visible)
{
	struct od_tbuf b = { 0 };
	for (int t = 0; t < OD_SCENE_N_TASKS; t++) {
		struct od_tbuf w = { 0 };
		if (task_line(s, t, visible, &w))
			od_tbuf_printf(&b, "%s\t%s\n", od_scene_task_tags[t], w.oom ? "" : w.s);
		b.oom |= w.oom;
		free(w.s);
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static char *scene_json(const struct od_scene *s, const struct view_info *vi, const unsigned char *visible)
{
	struct od_tbuf b = { 0 };
	const struct od_scene_params *p = &s->p;
	od_tbuf_printf(&b, "{\n  \"format\": \"od-scene\",\n  \"version\": 1,\n");
	od_tbuf_printf(&b, "  \"id\": \"%s\",\n  \"seed\": %llu,\n", s->id, (unsigned long long)s->seed);
	od_tbuf_printf(&b, "  \"width\": %d,\n  \"height\": %d,\n  \"depth_scale\": ", p->width, p->height);
	sb_num(&b, OD_SCENE_DEPTH_SCALE);
	od_tbuf_printf(&b, ",\n  \"caption\": ");
	sb_json_str(&b, s->caption);
	od_tbuf_printf(&b, ",\n  \"palette\": ");
	sb_palette(&b, "  ");
	od_tbuf_printf(&b, ",\n  \"objects\": [");
	for (int k = 0; k < s->n_objects; k++) {
		const struct od_scene_object *o = &s->objects[k];
		od_tbuf_printf(&b, "%s\n    {\"id\": %d, \"shape\": \"%s\", \"colour\": \"%s\", \"size\": \"%s\", "
			  "\"centre\": [%.3f, %.3f, %.3f], \"extent\": %.3f, \"rotation_deg\": %.1f, "
			  "\"semantic\": \"%s\", \"semantic_name\": \"%s\"}",
			  k ? "," : "", o->id, od_scene_shape_names[o->shape], od_scene_palette[o->colour].name,
			  o->large ? "large" : "small", o->centre[0], o->centre[1], o->centre[2], o->extent,
			  o->rotation_deg, od_colors[o->semantic].hex, od_colors[o->semantic].name);
	}
	od_tbuf_printf(&b, "%s],\n  \"relations\": [", s->n_objects ? "\n  " : "");
	for (int i = 0; i < s->n_rel; i++)
		od_tbuf_printf(&b, "%s{\"a\": %d, \"relation\": \"%s\", \"b\": %d}", i ? ", " : "", s->rel[i].a,
			  od_scene_relation_names[s->rel[i].rel], s->rel[i].b);
	od_tbuf_printf(&b, "],\n  \"tasks\": ");
	sb_task_args(&b, s, visible, 0);
	od_tbuf_printf(&b, ",\n  \"task_args\": ");
	sb_task_args(&b, s, visible, 1);
	od_tbuf_printf(&b, ",\n  \"light\": {\"azimuth_deg\": %.1f, \"elevation_deg\": %.1f, \"direction\": [",
		  s->light_azimuth, s->light_elevation);
	for (int i = 0; i < 3; i++) {
		od_tbuf_printf(&b, "%s", i ? ", " : "");
		sb_num(&b, s->light_dir[i]);
	}
	od_tbuf_printf(&b, "]},\n  \"ground\": {\"colour\": \"%s\", \"rgb\": ", od_scene_grounds[s->ground].name);
	sb_rgb(&b, od_scene_grounds[s->ground].srgb);
	od_tbuf_printf(&b, ", \"checker\": %s, \"radius\": ", s->checker ? "true" : "false");
	sb_num(&b, OD_SCENE_GROUND_RADIUS);
	od_tbuf_printf(&b, "},\n  \"sky\": {\"horizon\": ");
	sb_rgb(&b, od_scene_skies[s->sky][0].srgb);
	od_tbuf_printf(&b, ", \"zenith\": ");
	sb_rgb(&b, od_scene_skies[s->sky][1].srgb);
	od_tbuf_printf(&b, "},\n  \"camera\": {\"distance\": ");
	sb_num(&b, p->distance);
	od_tbuf_printf(&b, ", \"target\": [");
	for (int i = 0; i < 3; i++) {
		od_tbuf_printf(&b, "%s", i ? ", " : "");
		sb_num(&b, OD_SCENE_TARGET[i]);
	}
	od_tbuf_printf(&b, "], \"focal\": ");
	sb_num(&b, OD_DEFAULT_FOCAL);
	od_tbuf_printf(&b, "},\n  \"views\": [");
	for (int v = 0; v < p->views; v++) {
		const struct view_info *w = &vi[v];
		od_tbuf_printf(&b, "%s\n    {\"index\": %d, \"azimuth_deg\": %.2f, \"elevation_deg\": %.2f,", v ? "," : "",
			  v, s->poses[v].azimuth, s->poses[v].elevation);
		od_tbuf_printf(&b, "\n     \"boxes\": [");
		for (int i = 0; i < w->n_boxes; i++) {
			const struct od_scene_box *q = &w->boxes[i];
			od_tbuf_printf(&b, "%s{\"id\": %d, \"xyxy\": [%d, %d, %d, %d], \"pixels\": %ld}", i ? ", " : "",
				  q->id, q->x0, q->y0, q->x1, q->y1, q->pixels);
		}
		od_tbuf_printf(&b, "],\n     \"mask\": {\"object\": %d, \"xyxy\": [%d, %d, %d, %d]}}", w->mask_object,
			  w->mask_rect[0], w->mask_rect[1], w->mask_rect[2], w->mask_rect[3]);
	}
	od_tbuf_printf(&b, "\n  ]\n}\n");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/* Write cameras.json and replace the scene's cameras by what it reads back as. */
static int write_cameras(struct od_out_group *g, struct od_scene *s, const char *dir)
{
	char path[PATH_MAX];
	int rc = join(path, sizeof path, dir, "cameras.json");
	if (rc)
		return rc;
	char *text = od_camera_json_dump(s->cams, NULL, s->p.views);
	if (!text)
		return od_error(OD_ENOMEM, "out of memory");
	struct od_camera *back = NULL;
	int n = 0;
	rc = od_camera_json_parse(text, strlen(text), path, &back, &n);
	if (!rc && n != s->p.views)
		rc = od_error(OD_EFAIL, "'%s': %d cameras read back of %d", path, n, s->p.views);
	if (!rc) {
		for (int v = 0; v < n; v++)
			s->cams[v] = back[v];
		rc = write_bytes(g, path, text, strlen(text));
	}
	free(back);
	free(text);
	return rc;
}

int od_scene_write_group(const struct od_scene_params *p, uint64_t set_seed, uint64_t index, const char *dir,
			 struct od_out_group *g)
{
	struct od_scene *s = malloc(sizeof *s);
	struct view_info *vi = malloc(sizeof *vi * (size_t)(p->views > 0 ? p->views : 1));
	struct bufs b = { 0 };
	char path[PATH_MAX];
	char *json = NULL;
	int rc = (!s || !vi) ? od_error(OD_ENOMEM, "out of memory") : OD_OK;
	if (!rc)
		rc = od_scene_generate(s, p, od_scene_seed(set_seed, index), index);
	if (!rc)
		rc = make_dir(g, dir);
	if (!rc)
		rc = write_cameras(g, s, dir);
	if (!rc)
		rc = bufs_alloc(&b, p->width, p->height);
	long pixels[OD_SCENE_MAX_OBJECTS + 1];
	unsigned char visible[OD_SCENE_MAX_OBJECTS + 1] = { 0 };
	for (int v = 0; !rc && v < p->views; v++) {
		long px[OD_SCENE_MAX_OBJECTS + 1];
		rc = write_view(g, s, v, dir, &b, &vi[v], px);
		if (v == 0)
			memcpy(pixels, px, sizeof px);
	}
	if (!rc) {
		/* the caption and the tasks speak of view 0 */
		od_scene_describe(s, pixels);
		for (int k = 0; k <= s->n_objects; k++)
			visible[k] = k > 0 && pixels[k] > 0;
		char cap[sizeof s->caption + 1];
		snprintf(cap, sizeof cap, "%s\n", s->caption);
		if (!(rc = join(path, sizeof path, dir, "caption.txt")))
			rc = write_bytes(g, path, cap, strlen(cap));
	}
	if (!rc && !(json = tasks_txt(s, visible)))
		rc = od_error(OD_ENOMEM, "out of memory");
	if (!rc && !(rc = join(path, sizeof path, dir, "tasks.txt")))
		rc = write_bytes(g, path, json, strlen(json));
	free(json);
	json = NULL;
	if (!rc && !(json = scene_json(s, vi, visible)))
		rc = od_error(OD_ENOMEM, "out of memory");
	if (!rc && !(rc = join(path, sizeof path, dir, "scene.json")))
		rc = write_bytes(g, path, json, strlen(json));
	free(json);
	bufs_free(&b);
	free(vi);
	free(s);
	return rc;
}

int od_scene_write(const struct od_scene_params *p, uint64_t set_seed, uint64_t index, const char *dir)
{
	struct od_out_group g;
	od_group_init(&g);
	int rc = od_scene_write_group(p, set_seed, index, dir, &g);
	if (rc) {
		od_group_abort(&g);
		return rc;
	}
	return od_group_commit(&g);
}

/* ---------------------------------------------------------------- sets */

struct batch {
	const struct od_scene_set *set;
	long base;
	int *rc;
	char (*msg)[512];
	struct od_out_group *groups; /* one a scene: each thread fills its own */
};

static void scene_id(uint64_t index, char *buf, size_t size)
{
	snprintf(buf, size, "%06llu", (unsigned long long)index);
}

static void run_batch(void *arg, int64_t begin, int64_t end)
{
	struct batch *bt = arg;
	for (int64_t i = begin; i < end; i++) {
		uint64_t index = bt->set->first + (uint64_t)(bt->base + i);
		char id[24], dir[PATH_MAX];
		scene_id(index, id, sizeof id);
		int rc = join(dir, sizeof dir, bt->set->dir, "%s", id);
		if (!rc)
			rc = od_scene_write_group(&bt->set->p, bt->set->seed, index, dir, &bt->groups[i]);
		bt->rc[i] = rc;
		if (rc)
			snprintf(bt->msg[i], sizeof bt->msg[i], "%s", od_errmsg());
	}
}

static char *index_json(const struct od_scene_set *set)
{
	struct od_tbuf b = { 0 };
	const struct od_scene_params *p = &set->p;
	od_tbuf_printf(&b, "{\n  \"format\": \"od-scene-set\",\n  \"version\": 1,\n  \"seed\": %llu,\n  \"count\": %ld,\n"
		  "  \"first\": %llu,\n  \"width\": %d,\n  \"height\": %d,\n  \"views\": %d,\n"
		  "  \"generator\": \"od-scene %s\",\n", (unsigned long long)set->seed, set->count,
		  (unsigned long long)set->first, p->width, p->height, p->views, OD_VERSION);
	od_tbuf_printf(&b, "  \"objects\": [%d, %d],\n  \"shapes\": [", p->min_objects, p->max_objects);
	for (int i = 0, k = 0; i < OD_SHAPE_COUNT; i++)
		if (p->shapes & (1u << i))
			od_tbuf_printf(&b, "%s\"%s\"", k++ ? ", " : "", od_scene_shape_names[i]);
	od_tbuf_printf(&b, "],\n  \"distance\": ");
	sb_num(&b, p->distance);
	od_tbuf_printf(&b, ",\n  \"elevation\": [");
	sb_num(&b, p->min_elevation);
	od_tbuf_printf(&b, ", ");
	sb_num(&b, p->max_elevation);
	od_tbuf_printf(&b, "],\n  \"depth_scale\": ");
	sb_num(&b, OD_SCENE_DEPTH_SCALE);
	od_tbuf_printf(&b, ",\n  \"palette\": ");
	sb_palette(&b, "  ");
	od_tbuf_printf(&b, ",\n  \"scenes\": [");
	for (long i = 0; i < set->count; i++) {
		char id[24];
		scene_id(set->first + (uint64_t)i, id, sizeof id);
		od_tbuf_printf(&b, "%s%s\"%s\"", i ? "," : "", i % 8 ? " " : "\n    ", id);
	}
	od_tbuf_printf(&b, "\n  ]\n}\n");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

int od_scene_set_write(const struct od_scene_set *set, od_scene_progress_fn progress, void *arg)
{
	int rc = od_scene_params_check(&set->p);
	if (rc)
		return rc;
	if (set->count < 1)
		return od_error(OD_EINVAL, "a set of %ld scenes", set->count);
	char path[PATH_MAX];
	if ((rc = join(path, sizeof path, set->dir, "index.json")))
		return rc;
	/* the whole set is one group: its files appear together at the end, or
	 * none of them (an earlier run's set stays as it was) */
	struct od_out_group all;
	od_group_init(&all);
	if ((rc = make_dir(&all, set->dir))) {
		od_group_abort(&all);
		return rc;
	}
	long chunk = 16L * od_threads();
	int *rcs = malloc((size_t)chunk * sizeof *rcs);
	char (*msg)[512] = malloc((size_t)chunk * sizeof *msg);
	struct od_out_group *groups = calloc((size_t)chunk, sizeof *groups);
	if (!rcs || !msg || !groups)
		rc = od_error(OD_ENOMEM, "out of memory");
	for (long base = 0; !rc && base < set->count; base += chunk) {
		long n = set->count - base < chunk ? set->count - base : chunk;
		for (long i = 0; i < n; i++)
			od_group_init(&groups[i]);
		struct batch bt = { set, base, rcs, msg, groups };
		od_parallel_for(n, run_batch, &bt);
		for (long i = 0; i < n && !rc; i++)
			if (rcs[i])
				rc = od_error(rcs[i], "%s", msg[i]);
		for (long i = 0; i < n; i++)
			if (rc || (rc = od_group_take(&all, &groups[i])))
				od_group_abort(&groups[i]);
		if (!rc && progress)
			progress(arg, base + n, set->count);
	}
	free(rcs);
	free(msg);
	free(groups);
	char *json = rc ? NULL : index_json(set);
	if (!rc && !json)
		rc = od_error(OD_ENOMEM, "out of memory");
	if (!rc)
		rc = write_bytes(&all, path, json, strlen(json));
	free(json);
	if (rc) {
		od_group_abort(&all);
		return rc;
	}
	return od_group_commit(&all);
}
