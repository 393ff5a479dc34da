/* od-plucker: cameras -> Plücker ray frames, and (--invert) ray frames -> cameras
 * (od-plucker(1); numerics.md §7). The work is in lib/camera/: camera.c,
 * camera_json.c and rays_to_cameras.c. */
#include "od.h"
#include "camera/camera.h"
#include "camera/camera_json.h"
#include "camera/rays_to_cameras.h"
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdnoreturn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct od_usage usage = {
	.synopsis = "od-plucker [-a AZ,...] [-e EL,...] [-d DIST,...] [--focal F,...]\n"
		    "           [-S SIZE] [--target VIEWS] [--skip VIEWS] [--normalize[=D]]\n"
		    "           [-o OUT]\n"
		    "od-plucker -c CAMERAS.json [--select VIEWS] [--focal F] [-S SIZE]\n"
		    "           [--target VIEWS] ... [-o OUT]\n"
		    "od-plucker --invert [--focal F,... | -c CAMERAS.json]\n"
		    "           [--channels average|first] [-o CAMERAS.json] [FILE...]",
	.description =
		"Make the Plücker ray frames of multiview OneDiffusion from cameras: one ray\n"
		"frame (16, S, S), S = SIZE/8, per view, relative to the first view whose rays\n"
		"are given. With --invert, recover the cameras of ray frames (generated ones,\n"
		"for pose estimation) and write them as od-cameras JSON.\n",
	.footer = "A LIST of numbers has one value per view, or one value for all.\n"
		  "View LISTs are indices from 0 like 1,2 or 1-3.\n"
		  "Exit status: 0 ok, 1 failure, 2 usage, 3 bad input, 5 I/O. See od-plucker(1).\n",
};

/* ---------------------------------------------------------------- option lists */

struct numlist {
	double *v;
	unsigned char *none; /* 'none' entries (only where allowed) */
	int n;
};

/* What main() allocates, in one place so that a usage error found after an
 * allocation frees everything before it exits (release, usage_fail). */
struct state {
	struct numlist az, el, dist, focal;
	char *dup;                 /* the list being parsed */
	int *idx;                  /* the indices being parsed */
	struct od_camera *cams;
	unsigned char *role, *asked;
};

static void release(struct state *st)
{
	struct numlist *l[] = { &st->az, &st->el, &st->dist, &st->focal };
	for (int i = 0; i < 4; i++) {
		free(l[i]->v), free(l[i]->none);
		memset(l[i], 0, sizeof *l[i]);
	}
	free(st->dup), free(st->idx), free(st->cams), free(st->role), free(st->asked);
	st->dup = NULL, st->idx = NULL, st->cams = NULL, st->role = NULL, st->asked = NULL;
}

static noreturn void usage_fail(struct state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static noreturn void usage_fail(struct state *st, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	release(st);
	od_usage_error("%s", msg);
}

/* "0,30,none,90" -> l; "none" only when allow_none. Values must be finite,
 * and greater than 0 when positive is set. */
static void parse_numlist(struct state *st, struct numlist *l, const char *opt, const char *s, int allow_none,
			  int positive)
{
	char *save = NULL;
	size_t cap = strlen(s) / 2 + 2;
	st->dup = strdup(s);
	l->v = calloc(cap, sizeof *l->v);
	l->none = calloc(cap, 1);
	l->n = 0;
	if (!st->dup || !l->v || !l->none)
		od_die(OD_ENOMEM, "out of memory");
	if (!*s || s[strlen(s) - 1] == ',' || s[0] == ',' || strstr(s, ",,"))
		usage_fail(st, "%s: '%s' is not a comma-separated list of numbers", opt, s);
	for (char *tok = strtok_r(st->dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (allow_none && !strcmp(tok, "none")) {
			l->none[l->n] = 1;
			l->v[l->n++] = 0;
			continue;
		}
		char *end;
		errno = 0;
		double x = strtod(tok, &end);
		if (errno || end == tok || *end || !isfinite(x))
			usage_fail(st, "%s: '%s' is not a number%s", opt, tok, allow_none ? " or 'none'" : "");
		if (positive && !(x > 0))
			usage_fail(st, "%s: %g must be positive", opt, x);
		l->v[l->n++] = x;
	}
	free(st->dup);
	st->dup = NULL;
}

/* A list of one value (a default). */
static void numlist_of(struct numlist *l, double x)
{
	l->v = calloc(1, sizeof *l->v);
	l->none = calloc(1, 1);
	l->n = 1;
	if (!l->v || !l->none)
		od_die(OD_ENOMEM, "out of memory");
	l->v[0] = x;
}

/* "1,2,5-7" -> st->idx: the indices in order (ranges expanded), each < limit;
 * returns how many. */
static int parse_indices(struct state *st, const char *opt, const char *s, int limit, const char *what)
{
	int cap = 16, n = 0;
	if (!(st->idx = malloc(cap * sizeof *st->idx)))
		od_die(OD_ENOMEM, "out of memory");
	const char *p = s;
	if (!*p)
		usage_fail(st, "%s: empty list", opt);
	while (*p) {
		char *end;
		errno = 0;
		long a = strtol(p, &end, 10), b;
		if (end == p || errno || a < 0)
			usage_fail(st, "%s: '%s' is not a list of indices like 1,2 or 1-3", opt, s);
		b = a;
		if (*end == '-') {
			p = end + 1;
			b = strtol(p, &end, 10);
			if (end == p || errno || b < a)
				usage_fail(st, "%s: '%s' is not a list of indices like 1,2 or 1-3", opt, s);
		}
		if (b >= limit)
			usage_fail(st, "%s: %s %ld does not exist (there are %d)", opt, what, b, limit);
		for (long i = a; i <= b; i++) {
			if (n == cap) {
				cap *= 2;
				int *nv = realloc(st->idx, cap * sizeof *nv);
				if (!nv)
					od_die(OD_ENOMEM, "out of memory");
				st->idx = nv;
			}
			st->idx[n++] = (int)i;
		}
		if (*end == ',' && end[1])
			p = end + 1;
		else if (*end)
			usage_fail(st, "%s: '%s' is not a list of indices like 1,2 or 1-3", opt, s);
		else
			p = end;
	}
	return n;
}

/* One value per view, or one for all. */
static double list_at(const struct numlist *l, int i)
{
	return l->n == 1 ? l->v[0] : l->v[i];
}

static void check_count(struct state *st, const char *opt, const struct numlist *l, int n, const char *first)
{
	if (l->n != 1 && l->n != n)
		usage_fail(st, "%s has %d values but %s has %d: give one per view or one for all", opt, l->n, first, n);
}

/* ---------------------------------------------------------------- --invert */

static int run_invert(char **files, int n_files, const char *out_path, const struct numlist *focal,
		      struct od_camera *intr, int n_intr, enum od_rays_channels mode)
{
	struct od_inputs in;
	od_inputs_init(&in, files, n_files);
	struct od_camera *cams = NULL;
	struct od_rays_fit *fits = NULL;
	int n = 0, cap = 0, rc;
	struct od_frame f;
	while ((rc = od_inputs_next(&in, &f)) > 0) {
		if (f.kind != OD_KIND_RAYS) {
			/* od-denoise's output holds the image latents too: not ours */
			od_frame_free(&f);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			struct od_camera *nc = realloc(cams, cap * sizeof *nc);
			struct od_rays_fit *nf = nc ? realloc(fits, cap * sizeof *nf) : NULL;
			if (nc)
				cams = nc;
			if (!nc || !nf)
				od_die(OD_ENOMEM, "out of memory");
			fits = nf;
		}
		struct od_camera K, *use = NULL;
		if (intr) {
			if (n >= n_intr)
				od_die(OD_EINVAL, "--cameras has %d cameras but the input has more ray frames", n_intr);
			use = &intr[n];
		} else if (focal) {
			if (focal->n != 1 && n >= focal->n)
				od_die(OD_EINVAL, "--focal has %d values but the input has more ray frames", focal->n);
			od_camera_init(&K, list_at(focal, n));
			K.has_intrinsics = 1;
			use = &K;
		}
		char label[1024];
		snprintf(label, sizeof label, "'%s': frame %ld", in.label, in.index);
		rc = od_rays_frame_to_camera(&f, mode, use, &cams[n], &fits[n], label);
		od_frame_free(&f);
		if (rc)
			od_fail(rc);
		if (cams[n].view < 0)
			cams[n].view = n;
		n++;
	}
	if (rc < 0)
		od_fail(rc);
	if (n == 0)
		od_die(OD_EFORMAT, "no ray frames in the input");
	if (intr && n != n_intr)
		od_die(OD_EINVAL, "--cameras has %d cameras but the input has %d ray frames", n_intr, n);
	if (focal && focal->n != 1 && n != focal->n)
		od_die(OD_EINVAL, "--focal has %d values but the input has %d ray frames", focal->n, n);
	struct od_out out;
	if ((rc = od_out_open(&out, out_path)))
		od_fail(rc);
	rc = od_camera_json_write(&out, cams, fits, n);
	if (!rc)
		rc = od_out_commit(&out);
	if (rc) {
		od_out_abort(&out);
		od_fail(rc);
	}
	free(cams);
	free(fits);
	return 0;
}

/* ---------------------------------------------------------------- cameras -> rays */

static int write_views(struct od_camera *cams, int n, const unsigned char *role, int size, int S, const char *out_path,
		       double normalize)
{
	int rc, ref = -1;
	if (normalize > 0) {
		/* over the views that are emitted */
		struct od_camera *sub = malloc(n * sizeof *sub);
		int *map = malloc(n * sizeof *map), k = 0;
		if (!sub || !map)
			od_die(OD_ENOMEM, "out of memory");
		for (int i = 0; i < n; i++)
			if (role[i])
				map[k] = i, sub[k++] = cams[i];
		if ((rc = od_cameras_normalize(sub, k, normalize)))
			od_die(rc, "--normalize: %s", od_errmsg());
		for (int i = 0; i < k; i++)
			cams[map[i]] = sub[i];
		free(sub);
		free(map);
	}
	/* Rays are relative to the first view whose rays are given: upstream drops the
	 * None views before first_camera_transform (numerics.md §7.2). */
	for (int i = 0; i < n && ref < 0; i++)
		if (role[i] == OD_ROLE_CONDITION)
			ref = i;
	size_t plane = (size_t)S * S;
	double *rays6 = malloc(plane * 6 * sizeof *rays6);
	if (!rays6)
		od_die(OD_ENOMEM, "out of memory");
	struct od_out out;
	if ((rc = od_out_open(&out, out_path)))
		od_fail(rc);
	for (int i = 0; i < n && !rc; i++) {
		if (!role[i])
			continue;
		struct od_frame f;
		int64_t shape[3] = { 16, S, S };
		int cond = role[i] == OD_ROLE_CONDITION;
		if ((rc = od_frame_init(&f, OD_KIND_RAYS, role[i], OD_F32, 3, shape, cond)))
			break;
		if (cond && !(rc = od_camera_rays(&cams[ref], &cams[i], S, rays6)))
			od_rays_pack(rays6, S, f.data);
		/* the camera as the frame's metadata: pose relative to the reference view */
		struct od_camera m = cams[i];
		m.view = i;
		if (m.has_pose && ref >= 0)
			od_camera_relative(&cams[ref], &cams[i], m.c2w);
		else
			m.has_pose = 0;
		char *json = od_camera_json_object(&m);
		if (!rc && !json)
			rc = od_error(OD_ENOMEM, "out of memory");
		if (!rc)
			rc = od_frame_setf(&f, "view", "%d", i);
		if (!rc && ref >= 0)
			rc = od_frame_setf(&f, "reference_view", "%d", ref);
		if (!rc)
			rc = od_frame_setf(&f, "size", "%d", size);
		if (!rc && m.has_orbit)
			rc = od_frame_setf(&f, "azimuth", "%.12g", m.azimuth);
		if (!rc && m.has_orbit)
			rc = od_frame_setf(&f, "elevation", "%.12g", m.elevation);
		if (!rc && m.has_orbit)
			rc = od_frame_setf(&f, "distance", "%.12g", m.distance);
		if (!rc && normalize > 0)
			rc = od_frame_setf(&f, "normalize", "%.12g", normalize);
		if (!rc)
			rc = od_frame_set(&f, "camera", json);
		free(json);
		if (!rc)
			rc = od_frame_write(&out, &f);
		od_frame_free(&f);
	}
	free(rays6);
	if (!rc)
		rc = od_out_commit(&out);
	if (rc) {
		od_out_abort(&out);
		od_fail(rc);
	}
	return 0;
}

static int normalize_cb(const struct od_option *opt, const char *arg)
{
	*(double *)opt->value = arg ? od_opt_num("--normalize", arg, 1e-9, 1e9) : OD_TRAIN_SCALE;
	return OD_OK;
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-plucker");
	const char *az_s = NULL, *el_s = NULL, *dist_s = NULL, *focal_s = NULL, *cam_path = NULL, *target_s = NULL,
		   *skip_s = NULL, *select_s = NULL, *out_path = "-", *size_s = NULL;
	int invert = 0;
	double normalize = 0;
	enum od_rays_channels mode = OD_RAYS_AVERAGE;
	const struct od_option opts[] = {
		OD_OPT_STRING('a', "azimuth", &az_s, "LIST",
			      "azimuths in degrees, one per view (default 0,30,60,90); 'none': the view's camera is "
			      "unknown (its rays a target)"),
		OD_OPT_STRING('e', "elevation", &el_s, "LIST", "elevations in degrees (default 0)"),
		OD_OPT_STRING('d', "distance", &dist_s, "LIST",
			      "distances from the origin (default " OD_STR(OD_DEFAULT_DISTANCE) "; upstream's demo uses "
			      "1.5)"),
		OD_OPT_STRING(0, "focal", &focal_s, "LIST",
			      "focal length in units of the image size (default " OD_STR(OD_DEFAULT_FOCAL) ")"),
		OD_OPT_STRING('c', "cameras", &cam_path, "FILE",
			      "cameras from an od-cameras JSON file or a nerfstudio transforms.json instead of angles"),
		OD_OPT_STRING(0, "select", &select_s, "LIST", "use these cameras of FILE, in this order (e.g. 0,12,40)"),
		OD_OPT_STRING('S', "size", &size_s, "N",
			      "square image size in pixels, a multiple of 16 (default " OD_STR(OD_RAYS_DEFAULT_SIZE) ")"),
		OD_OPT_STRING(0, "target", &target_s, "LIST", "emit these views as target placeholders (rays to generate)"),
		OD_OPT_STRING(0, "skip", &skip_s, "LIST", "emit nothing for these views"),
		OD_OPT_CALLBACK_OPTARG(0, "normalize", &normalize, "D",
				       "rescale the scene as upstream training does: the first camera at distance D "
				       "(default " OD_STR(OD_TRAIN_SCALE) ") from where the optical axes meet",
				       normalize_cb),
		OD_OPT_BOOL(0, "invert", &invert, "ray frames -> cameras JSON"),
		OD_OPT_CHOICE(0, "channels", &mode, "MODE",
			      "--invert: average the duplicate ray channels (default) or read the first six only "
			      "(first)", od_rays_channel_choices),
		OD_OPT_STRING('o', "output", &out_path, "OUT", "write to OUT instead of stdout"),
		OD_OPT_END(),
	};
	const int first = od_parse_options(argc, argv, opts, &usage);
	if (invert)
		od_refuse_terminal_input(argv + first, argc - first, "frames");
	else
		od_refuse_terminal_output(out_path, "frames");
	/* the checks that need no allocation first */
	if (cam_path && (az_s || el_s || dist_s))
		od_usage_error("give cameras either as angles (--azimuth ...) or as a file (--cameras), not both");
	if (select_s && !cam_path)
		od_usage_error("--select picks cameras of a --cameras file");
	int size = OD_RAYS_DEFAULT_SIZE, S = 0;
	if (invert) {
		if (az_s || el_s || dist_s || target_s || skip_s || size_s || normalize > 0)
			od_usage_error("--invert takes only --focal, --cameras, --select, --channels and --output");
		if (focal_s && cam_path)
			od_usage_error("--invert: give the intrinsics by --focal or by --cameras, not both");
	} else {
		if (first < argc)
			od_usage_error("unexpected argument '%s' (cameras come from options; --invert reads frames)",
				       argv[first]);
		if (size_s) {
			int w, h;
			od_opt_size("--size", size_s, &w, &h);
			if (w != h)
				od_usage_error("--size: %dx%d is not square: multiview rays need a square image", w, h);
			size = w;
		}
		if (od_rays_latent_size(size, &S))
			od_usage_error("--size: %s", od_errmsg());
	}

	struct state st = { .cams = NULL };
	int n = 0, rc;
	if (focal_s) {
		parse_numlist(&st, &st.focal, "--focal", focal_s, 0, 1);
		for (int i = 0; i < st.focal.n; i++) {
			struct od_camera k;
			if (od_camera_set_intrinsics(&k, st.focal.v[i], st.focal.v[i], 0.5, 0.5, "--focal"))
				usage_fail(&st, "%s", od_errmsg());
		}
		if (cam_path && st.focal.n != 1)
			usage_fail(&st, "--focal: with --cameras give one value (for cameras without intrinsics)");
	}
	if (cam_path) {
		if ((rc = od_camera_json_read(cam_path, &st.cams, &n)))
			od_fail(rc);
		if (select_s) {
			int n_sel = parse_indices(&st, "--select", select_s, n, "camera");
			struct od_camera *picked = malloc(n_sel * sizeof *picked);
			if (!picked)
				od_die(OD_ENOMEM, "out of memory");
			for (int i = 0; i < n_sel; i++)
				picked[i] = st.cams[st.idx[i]];
			free(st.cams), free(st.idx);
			st.cams = picked, st.idx = NULL;
			n = n_sel;
		}
		for (int i = 0; i < n; i++)
			if (focal_s && !st.cams[i].has_intrinsics)
				st.cams[i].fx = st.cams[i].fy = st.focal.v[0];
	}

	if (invert) {
		rc = run_invert(argv + first, argc - first, out_path, focal_s ? &st.focal : NULL,
				cam_path ? st.cams : NULL, n, mode);
		release(&st);
		return rc;
	}
	if (!cam_path) {
		parse_numlist(&st, &st.az, "--azimuth", az_s ? az_s : "0,30,60,90", 1, 0);
		if (el_s)
			parse_numlist(&st, &st.el, "--elevation", el_s, 0, 0);
		else
			numlist_of(&st.el, 0);
		if (dist_s)
			parse_numlist(&st, &st.dist, "--distance", dist_s, 0, 1);
		else
			numlist_of(&st.dist, OD_DEFAULT_DISTANCE);
		if (!focal_s)
			numlist_of(&st.focal, OD_DEFAULT_FOCAL);
		n = st.az.n;
		check_count(&st, "--elevation", &st.el, n, "--azimuth");
		check_count(&st, "--distance", &st.dist, n, "--azimuth");
		check_count(&st, "--focal", &st.focal, n, "--azimuth");
		if (!(st.cams = calloc(n, sizeof *st.cams)))
			od_die(OD_ENOMEM, "out of memory");
		for (int i = 0; i < n; i++) {
			od_camera_init(&st.cams[i], list_at(&st.focal, i));
			st.cams[i].has_intrinsics = focal_s != NULL;
			char what[64];
			snprintf(what, sizeof what, "view %d", i);
			if (!st.az.none[i] && (rc = od_camera_set_orbit(&st.cams[i], st.az.v[i], list_at(&st.el, i),
									list_at(&st.dist, i), what)))
				od_die(OD_EINVAL, "%s", od_errmsg());
		}
	}

	/* roles: condition, target (asked for, or no pose), 0 = skipped */
	st.role = malloc(n);
	st.asked = calloc(n, 1);
	if (!st.role || !st.asked)
		od_die(OD_ENOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		st.role[i] = st.cams[i].has_pose ? OD_ROLE_CONDITION : OD_ROLE_TARGET;
	if (target_s) {
		int k = parse_indices(&st, "--target", target_s, n, "view");
		for (int i = 0; i < k; i++)
			st.role[st.idx[i]] = OD_ROLE_TARGET, st.asked[st.idx[i]] = 1;
		free(st.idx);
		st.idx = NULL;
	}
	if (skip_s) {
		int k = parse_indices(&st, "--skip", skip_s, n, "view");
		for (int i = 0; i < k; i++) {
			if (st.asked[st.idx[i]])
				usage_fail(&st, "view %d is both in --target and in --skip", st.idx[i]);
			st.role[st.idx[i]] = 0;
		}
	}
	int emitted = 0;
	for (int i = 0; i < n; i++)
		emitted += st.role[i] != 0;
	if (!emitted)
		usage_fail(&st, "every view is skipped: nothing to emit");
	write_views(st.cams, n, st.role, size, S, out_path, normalize);
	release(&st);
	return 0;
}
