/* od-decode: latent frames -> PNG/JPEG pictures with the VAE decoder
 * (od-decode(1); numerics.md §4.3, §6.4). */
#include "od.h"
#include "camera/camera_json.h"
#include "pipeline/decode.h"
#include "formats/image.h"
#include "pipeline/postprocess.h"
#include "pipeline/record.h"
#include "camera/rays_to_cameras.h"
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct od_usage usage = {
	.synopsis = "od-decode [OPTION]... [FILE]...",
	.description =
		"Decode latent frames into pictures with the AutoencoderKL (SD3 VAE) decoder, as\n"
		"the OneDiffusion pipeline does: divide by scaling_factor, decode,\n"
		"clamp(x/2 + 0.5), round to 8 bits. Image frames are written as they are. Ray\n"
		"frames are turned into cameras (least-squares centre and Kabsch rotation),\n"
		"written as JSON to --cameras. FILE is a frame stream ('-' or none: stdin).\n",
	.footer = "Exit status: 0 ok, 1 failure, 2 usage, 3 bad input, 4 model, 5 I/O, 6 no device.\n"
		  "See od-decode(1).\n",
};

enum colormap { MAP_NONE, MAP_GRAY, MAP_SPECTRAL };

/* A picture's metadata: its frame's, and the "parameters" text of its run
 * (pipeline/record.h), owned. */
struct meta {
	struct od_meta_entry *e;
	int n;
};

static void meta_free(struct meta *m)
{
	for (int i = 0; i < m->n; i++) {
		free(m->e[i].key);
		free(m->e[i].value);
	}
	free(m->e);
	m->e = NULL;
	m->n = 0;
}

static int meta_of(const struct od_frame *f, struct meta *m)
{
	char *params = NULL;
	int rc = od_meta_parameters(f->meta, f->n_meta, &params);
	if (rc)
		return rc;
	m->n = 0;
	m->e = calloc((size_t)f->n_meta + 1, sizeof *m->e);
	if (!m->e)
		rc = od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; !rc && i < f->n_meta; i++, m->n++)
		if (!(m->e[i].key = strdup(f->meta[i].key)) || !(m->e[i].value = strdup(f->meta[i].value)))
			rc = od_error(OD_ENOMEM, "out of memory");
	if (!rc && params) {
		if (!(m->e[m->n].key = strdup("parameters")))
			rc = od_error(OD_ENOMEM, "out of memory");
		else
			m->e[m->n++].value = params, params = NULL;
	}
	free(params);
	if (rc)
		meta_free(m);
	return rc;
}

struct name {
	char *name, *where;        /* a picture's file, and its frame ("'x.odf': frame 3") */
};

/* Where pictures go. */
struct sink {
	const char *name;          /* output name or pattern; "-" = stdout */
	int pattern;               /* what name holds: OD_NAME_NUMBER (%d), OD_NAME_META (%{KEY}), or 0 */
	struct name *names;        /* the names of a pattern's pictures so far */
	int n_names;
	char *manifest;            /* --manifest: every file written, a line each */
	size_t manifest_len;
	enum od_image_format fmt;
	int quality;
	int json;                  /* a NAME.json beside each picture */
	long next;                 /* number of the next picture in the pattern */
	int grid, cols, rows;      /* contact sheet */
	struct od_image *held;     /* pictures kept for the sheet, or the single picture */
	struct meta *held_meta;
	int n_held;
	long written;
	struct od_out_group *outs; /* every file of the run: renamed into place together at the end */
};

/* The output name pattern (pipeline/batch.h): a usage error when bad. */
static int check_pattern(const char *s)
{
	int what = od_name_check(s);
	if (what < 0)
		od_usage_error("--output: %s", od_errmsg());
	return what;
}

/* Two pictures may not share a name: the second is an error before any file
 * of the run is in place (the group is all or nothing). */
static int claim_name(struct sink *k, const char *name, const char *where)
{
	for (int i = 0; i < k->n_names; i++)
		if (!strcmp(k->names[i].name, name))
			return od_error(OD_EFORMAT, "%s and %s both make '%s': give each job its own name (add %%{job} "
						    "or %%d to the pattern)", k->names[i].where, where, name);
	struct name *nn = realloc(k->names, (size_t)(k->n_names + 1) * sizeof *nn);
	if (!nn)
		return od_error(OD_ENOMEM, "out of memory");
	k->names = nn;
	if (!(nn[k->n_names].name = strdup(name)) || !(nn[k->n_names].where = strdup(where))) {
		free(nn[k->n_names].name);
		return od_error(OD_ENOMEM, "out of memory");
	}
	k->n_names++;
	return OD_OK;
}

/* A pattern's pictures may go to a folder that does not exist yet
 * (-o 'depth/%{source}.png'): its last level is made, and removed again when
 * the run fails (od_group_mkdir). */
static int make_folder(struct sink *k, const char *name)
{
	const char *slash = strrchr(name, '/');
	if (!slash || slash == name)
		return OD_OK;
	char dir[4096];
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - name), name);
	return od_group_mkdir(k->outs, dir);
}

/* "out/cat.png" -> "out/cat.json" (a name without a picture extension gets
 * ".json" added). */
static void sidecar_name(const char *name, char *buf, size_t size)
{
	const char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
	size_t stem = strlen(name);
	if (dot && (!slash || dot > slash) &&
	    (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")))
		stem = (size_t)(dot - name);
	snprintf(buf, size, "%.*s.json", (int)stem, name);
}

/* The JSON of metas[0..n): one object, or an array of them (a sheet). */
static int write_json(struct sink *k, const char *name, const struct meta *metas, int n)
{
	char path[4200], *s = NULL;
	sidecar_name(name, path, sizeof path);
	struct od_out *out;
	int rc = od_group_open(k->outs, path, &out);
	if (!rc && n > 1)
		rc = od_out_write(out, "[\n", 2);
	for (int i = 0; !rc && i < n; i++) {
		if (!(rc = od_meta_json(metas[i].e, metas[i].n, &s))) {
			size_t len = strlen(s);
			if (n > 1 && i < n - 1)
				s[len - 1] = ','; /* the object's final newline */
			rc = od_out_write(out, s, len);
			if (!rc && n > 1 && i < n - 1)
				rc = od_out_write(out, "\n", 1);
			free(s);
		}
	}
	if (!rc && n > 1)
		rc = od_out_write(out, "]\n", 2);
	if (!rc)
		rc = od_group_finish(k->outs, out);
	if (!rc)
		od_info("wrote '%s'", path);
	return rc;
}

static int write_picture(struct sink *k, const struct od_image *img, const struct meta *metas, int n_metas,
			 const char *name)
{
	struct od_out *out;
	int rc = od_group_open(k->outs, name, &out);
	if (!rc)
		rc = od_image_write(out, img, k->fmt, k->quality, metas[0].e, metas[0].n);
	if (!rc)
		rc = od_group_finish(k->outs, out);
	if (rc)
		return rc;
	k->written++;
	if (strcmp(name, "-")) {
		od_info("wrote '%s' (%dx%d)", name, img->width, img->height);
		size_t l = strlen(name);
		char *m = realloc(k->manifest, k->manifest_len + l + 2);
		if (!m)
			return od_error(OD_ENOMEM, "out of memory");
		k->manifest = m;
		memcpy(m + k->manifest_len, name, l);
		m[k->manifest_len + l] = '\n';
		k->manifest_len += l + 1;
	}
	if (k->json)
		rc = write_json(k, name, metas, n_metas);
	return rc;
}

static int hold(struct sink *k, struct od_image *img, struct meta *m)
{
	int n = k->n_held + 1;
	struct od_image *h = realloc(k->held, (size_t)n * sizeof *h);
	if (h)
		k->held = h;
	struct meta *hm = realloc(k->held_meta, (size_t)n * sizeof *hm);
	if (hm)
		k->held_meta = hm;
	if (!h || !hm)
		return od_error(OD_ENOMEM, "out of memory");
	k->held[k->n_held] = *img;
	memset(img, 0, sizeof *img);
	k->held_meta[k->n_held] = *m; /* the metadata travels with the picture */
	memset(m, 0, sizeof *m);
	k->n_held++;
	return OD_OK;
}

/* One finished picture, from the frame at `where`: write it now (pattern,
 * stdout) or keep it (sheet, single named file). m is taken over or freed. */
static int sink_put(struct sink *k, struct od_image *img, struct meta *m, const char *where)
{
	int rc;
	if (k->grid)
		return hold(k, img, m);
	if (k->pattern) {
		char name[4096];
		if (!(rc = od_name_expand(k->name, k->next++, m->e, m->n, where, name, sizeof name)) &&
		    !(rc = claim_name(k, name, where)) && !(rc = make_folder(k, name)))
			rc = write_picture(k, img, m, 1, name);
		meta_free(m);
		return rc;
	}
	if (!strcmp(k->name, "-")) {
		rc = write_picture(k, img, m, 1, "-");
		meta_free(m);
		return rc;
	}
	/* a plain file name holds one picture: keep it until the input ends, so
	 * that a second one is an error before anything is written */
	if (k->n_held) {
		meta_free(m);
		return od_error(OD_EINVAL, "'%s' names one file but the input has several pictures (use a pattern "
					   "like out_%%03d.png, or --grid)", k->name);
	}
	return hold(k, img, m);
}

static int sink_finish(struct sink *k)
{
	int rc = OD_OK;
	if (k->grid && k->n_held) {
		int cols = k->cols, rows = k->rows;
		if (!cols)
			od_grid_auto(k->n_held, &cols, &rows);
		struct od_image sheet;
		if (!(rc = od_contact_sheet(k->held, k->n_held, cols, rows, &sheet))) {
			char name[4096];
			if (k->pattern && (rc = od_name_expand(k->name, k->next, NULL, 0, "", name, sizeof name)))
				return rc;
			/* the sheet's picture records the first picture's run; the
			 * JSON, every picture's */
			rc = write_picture(k, &sheet, k->held_meta, k->n_held, k->pattern ? name : k->name);
			od_image_free(&sheet);
		}
	} else if (k->n_held) {
		rc = write_picture(k, &k->held[0], k->held_meta, 1, k->name);
	}
	return rc;
}

static void sink_free(struct sink *k)
{
	for (int i = 0; i < k->n_names; i++) {
		free(k->names[i].name);
		free(k->names[i].where);
	}
	free(k->names);
	free(k->manifest);
	for (int i = 0; i < k->n_held; i++) {
		od_image_free(&k->held[i]);
		meta_free(&k->held_meta[i]);
	}
	free(k->held);
	free(k->held_meta);
}

/* The picture_size a frame records (WxH), or 0. */
static int picture_size(const struct od_frame *f, int *w, int *h)
{
	const char *v = od_frame_get(f, "picture_size");
	char x;
	return v && sscanf(v, "%d%c%d", w, &x, h) == 3 && x == 'x' && *w > 0 && *h > 0 && *w <= OD_IMAGE_MAX_SIDE &&
	       *h <= OD_IMAGE_MAX_SIDE;
}

static int grid_cb(const struct od_option *opt, const char *arg)
{
	struct sink *k = opt->value;
	k->grid = 1;
	if (strcmp(arg, "auto"))
		od_opt_size("--grid", arg, &k->cols, &k->rows);
	return OD_OK;
}

static const struct od_choice colormap_choices[] = {
	{ "none", MAP_NONE, 0 }, { "gray", MAP_GRAY, 0 }, { "grey", MAP_GRAY, 1 }, { "spectral", MAP_SPECTRAL, 0 },
	{ NULL, 0, 0 }
};

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "od-decode");
	struct sink k = { .name = "-", .quality = 95 };
	struct od_common_opts common;
	const char *fmt_name = NULL, *cameras_path = NULL, *manifest_path = NULL;
	enum colormap cmap = MAP_NONE;
	int frames = 0, role = -1, skip_rays = 0, start = 0, allow_empty = 0, bucket_size = 0;
	double focal = 0;
	enum od_rays_channels channels = OD_RAYS_AVERAGE;
	const struct od_option opts[] = {
		OD_OPT_STRING('o', "output", &k.name, "NAME",
			      "a file for one picture, a pattern with a printf number for several (out_%03d.png), or "
			      "'-' (standard output, the default; several pictures follow each other)"),
		OD_OPT_STRING('F', "format", &fmt_name, "FMT", "png or jpeg (default: from NAME's extension, else png)"),
		OD_OPT_INT(0, "quality", &k.quality, "N", "JPEG quality 1-100 (default 95)", 1, 100),
		OD_OPT_BOOL(0, "json", &k.json, "write every picture's parameters to a JSON file beside it (NAME.json)"),
		OD_OPT_BOOL(0, "bucket-size", &bucket_size,
			    "keep the size the model worked at; by default a map made from a picture gets that "
			    "picture's size back"),
		OD_OPT_INT(0, "start", &start, "N", "the number of the first picture in a pattern (default 0)", 0,
			   1000000000),
		OD_OPT_CHOICE(0, "colormap", &cmap, "MAP",
			      "none (default), gray (PIL luma) or spectral (the demo's depth display: luma, min-max, "
			      "inverted, Spectral)", colormap_choices),
		OD_OPT_CALLBACK(0, "grid", &k, "COLSxROWS", "put all pictures on one contact sheet ('auto': square-ish)",
				grid_cb),
		OD_OPT_BOOL(0, "frames", &frames,
			    "write the decoded image frames (float32, unclamped) instead of pictures"),
		OD_OPT_CALLBACK(0, "role", &role, "ROLE", "decode only frames of this role (condition, target)",
				od_opt_role_cb),
		OD_OPT_STRING('c', "cameras", &cameras_path, "FILE",
			      "write the cameras of the ray frames as JSON to FILE ('-': standard output, when no "
			      "pictures go there)"),
		OD_OPT_NUM(0, "focal", &focal, "F",
			   "NDC-normalised focal of the ray frames (default: the frame's camera metadata, else "
			   OD_STR(OD_DEFAULT_FOCAL) ")", 1e-6, 1e6),
		OD_OPT_CHOICE(0, "channels", &channels, "MODE",
			      "average (default) the duplicate ray channels, or read the first copy only (first)",
			      od_rays_channel_choices),
		OD_OPT_BOOL(0, "skip-rays", &skip_rays, "pass over ray frames"),
		OD_OPT_STRING(0, "manifest", &manifest_path, "FILE",
			      "write the names of the pictures written to FILE, one a line, in place with them (all or "
			      "none): a run whose manifest exists finished"),
		OD_OPT_BOOL(0, "allow-empty", &allow_empty,
			    "an input without frames, or without a frame to decode, is not an error"),
		OD_OPT_COMMON(&common),
		OD_OPT_END(),
	};
	const int first = od_parse_options(argc, argv, opts, &usage);
	k.next = start;
	if (frames && (k.grid || cmap != MAP_NONE || fmt_name))
		od_usage_error("--frames writes a frame stream: it does not take --grid, --colormap or --format");
	if (!frames) {
		k.pattern = check_pattern(k.name);
		if (k.grid && (k.pattern & OD_NAME_META))
			od_usage_error("--grid makes one picture: its name takes %%d, not %%{KEY}");
		if (fmt_name) {
			if (!(k.fmt = od_image_format_parse(fmt_name)))
				od_usage_error("--format: '%s' is not png or jpeg", fmt_name);
		} else if (strcmp(k.name, "-")) {
			if (!(k.fmt = od_image_format_from_name(k.name)))
				od_usage_error("--output: cannot tell the format of '%s' (name it .png or .jpg, or give "
					       "--format)", k.name);
		} else {
			k.fmt = OD_IMAGE_PNG;
		}
	}
	if (manifest_path && (frames || !strcmp(k.name, "-") || !strcmp(manifest_path, "-")))
		od_usage_error("--manifest lists the pictures written to files: give -o NAME and a manifest FILE");
	if (k.json && (frames || !strcmp(k.name, "-")))
		od_usage_error("--json writes NAME.json beside each picture: give -o NAME (and no --frames)");
	if (cameras_path && skip_rays)
		od_usage_error("--cameras and --skip-rays contradict each other");
	/* pictures and cameras cannot share standard output */
	int cameras_on_stdout = cameras_path && !strcmp(cameras_path, "-");
	if (cameras_on_stdout && frames && !strcmp(k.name, "-"))
		od_usage_error("--cameras - and --frames both write to standard output; give -o");
	if (!cameras_on_stdout || frames)
		od_refuse_terminal_output(k.name, frames ? "frames" : "pictures");
	od_refuse_terminal_input(argv + first, argc - first, "frames");
	struct od_inputs in;
	od_inputs_init(&in, argv + first, argc - first);
	int n_stdin = 0;
	for (int i = 0; i < in.n; i++)
		n_stdin += !strcmp(in.paths[i], "-");
	if (n_stdin > 1)
		od_usage_error("standard input can be read only once");

	struct od_ctx *ctx = NULL;
	struct od_vae vae;
	int have_vae = 0, rc = OD_OK, got, warned_text = 0;
	struct od_out_group outs;
	od_group_init(&outs);
	k.outs = &outs;
	struct od_out *fout = NULL;
	if (frames && (rc = od_group_open(&outs, k.name, &fout)))
		od_fail(rc);
	struct od_camera *cams = NULL;
	struct od_rays_fit *fits = NULL;
	int n_cams = 0;
	struct od_progress prog;
	od_progress_begin(&prog, common.progress, "decode");
	long n_in = 0, n_frames = 0, n_out = 0;
	struct od_frame f;
	while (!rc && (got = od_inputs_next(&in, &f)) != 0) {
		if (got < 0) {
			rc = got;
			break;
		}
		n_frames++;
		if (role >= 0 && (int)f.role != role) {
			od_frame_free(&f);
			continue;
		}
		struct od_frame img = { 0 };
		const struct od_frame *pix = NULL;
		switch (f.kind) {
		case OD_KIND_LATENT:
			if (!have_vae) {
				/* the model is loaded at the first latent frame, so that
				 * image frames alone need none */
				const char *model = od_common_model(&common);
				if ((rc = od_common_ctx_create(&common, &ctx)) ||
				    (rc = od_vae_open(&vae, ctx, model)))
					break;
				have_vae = 1;
			}
			if (!(rc = od_decode_frame(&vae, &f, in.label, in.index, &img)))
				pix = &img;
			od_progress_step(&prog, n_in++, 1, 1);
			break;
		case OD_KIND_IMAGE:
			pix = &f;
			break;
		case OD_KIND_RAYS: {
			if (skip_rays)
				break;
			if (!cameras_path) {
				rc = od_error(OD_EINVAL, "'%s': frame %ld is a ray frame: give --cameras FILE for its "
							 "camera, or --skip-rays", in.label, in.index);
				break;
			}
			struct od_camera *nc = realloc(cams, (size_t)(n_cams + 1) * sizeof *nc);
			struct od_rays_fit *nf = nc ? realloc(fits, (size_t)(n_cams + 1) * sizeof *nf) : NULL;
			if (nc)
				cams = nc;
			if (!nf) {
				rc = od_error(OD_ENOMEM, "out of memory");
				break;
			}
			fits = nf;
			struct od_camera K;
			if (focal > 0) {
				od_camera_init(&K, focal);
				K.has_intrinsics = 1;
			}
			char label[1100];
			snprintf(label, sizeof label, "'%s': frame %ld", in.label, in.index);
			rc = od_rays_frame_to_camera(&f, channels, focal > 0 ? &K : NULL, &cams[n_cams], &fits[n_cams],
						     label);
			if (!rc && cams[n_cams].view < 0) {
				/* a generated ray frame knows its place in the sequence */
				int v = od_rays_frame_index_view(&f);
				cams[n_cams].view = v >= 0 ? v : n_cams;
			}
			if (!rc)
				n_cams++;
			break;
		}
		default: /* text and noise frames hold no picture */
			if (!warned_text++)
				od_warn("'%s': frame %ld is %s frame; text and noise frames are passed over", in.label,
					in.index, od_kind_a(f.kind));
			break;
		}
		if (!rc && pix && cameras_on_stdout && !strcmp(k.name, "-"))
			rc = od_error(OD_EINVAL, "'%s': frame %ld is a picture, but --cameras - already claims standard "
						 "output: give -o for the pictures", in.label, in.index);
		if (!rc && pix)
			n_out++;
		if (!rc && pix && frames) {
			int H, W;
			if (!(rc = od_image_frame_check(pix, in.label, in.index, &H, &W)))
				rc = od_frame_write(fout, pix);
		} else if (!rc && pix) {
			struct od_image pic, mapped;
			int pw, ph;
			if (!(rc = od_image_from_frame(pix, in.label, in.index, &pic))) {
				/* back to the size of the picture it was made from */
				if (!bucket_size && picture_size(pix, &pw, &ph) && (pw != pic.width || ph != pic.height) &&
				    !(rc = od_image_resize(&pic, pw, ph, &mapped))) {
					od_image_free(&pic);
					pic = mapped;
				}
				if (!rc && (cmap == MAP_GRAY || cmap == MAP_SPECTRAL) &&
				    !(rc = cmap == MAP_GRAY ? od_image_luma(&pic, &mapped) : od_depth_colorize(&pic, &mapped))) {
					od_image_free(&pic);
					pic = mapped;
				}
				struct meta m = { 0 };
				char where[1100];
				snprintf(where, sizeof where, "'%s': frame %ld", in.label, in.index);
				if (!rc && !(rc = meta_of(pix, &m)))
					rc = sink_put(&k, &pic, &m, where);
				od_image_free(&pic);
			}
		}
		od_frame_free(&img);
		od_frame_free(&f);
	}
	od_progress_end(&prog);
	/* an empty result is a failure, so that a pipeline whose first tools
	 * failed does not end in success with no output (make, set -e) */
	if (!rc && !allow_empty && !n_frames)
		rc = od_error(OD_EFORMAT, "no frames in the input");
	else if (!rc && !allow_empty && !n_out && !n_cams)
		rc = od_error(OD_EFORMAT, "no pictures in the input: %ld frame%s, none %s", n_frames,
			      n_frames == 1 ? "" : "s",
			      role >= 0 ? "of the role asked for with a picture or camera" : "with a picture or camera");
	if (!rc && !frames)
		rc = sink_finish(&k);
	if (!rc && cameras_path) {
		struct od_out *cout;
		if (n_cams == 0)
			rc = od_error(OD_EFORMAT, "--cameras: the input has no ray frames");
		else if (!(rc = od_group_open(&outs, cameras_path, &cout)))
			rc = od_camera_json_write(cout, cams, fits, n_cams);
	}
	if (!rc && manifest_path) {
		/* opened last, so renamed into place last */
		struct od_out *mout;
		if (!(rc = od_group_open(&outs, manifest_path, &mout)) && k.manifest_len)
			rc = od_out_write(mout, k.manifest, k.manifest_len);
	}
	/* pictures, frames and cameras: all of them or none */
	if (!rc)
		rc = od_group_commit(&outs);
	free(cams);
	free(fits);
	if (rc) {
		od_group_abort(&outs);
		od_fail(rc);
	}
	sink_free(&k);
	if (have_vae)
		od_vae_close(&vae);
	if (ctx)
		od_ctx_destroy(ctx);
	return 0;
}
