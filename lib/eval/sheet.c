/*
 * sheet.c: contact sheets of pictures, camera plans and failed cells
 * (sheet.h).
 */
#include "eval/sheet.h"
#include "base/error.h"
#include "base/io.h"
#include "camera/camera_json.h"
#include "eval/pose.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const uint8_t view_colour[8][3] = {
	{ 230, 40, 40 }, { 40, 200, 60 }, { 50, 100, 255 }, { 240, 220, 40 },
	{ 220, 60, 220 }, { 40, 220, 230 }, { 255, 140, 20 }, { 255, 255, 255 },
};
static const uint8_t ref_grey[3] = { 110, 110, 110 };

enum cell_kind { CELL_PICTURE, CELL_CAMERAS, CELL_MISSING };

struct cell {
	enum cell_kind kind;
	struct od_image img;     /* picture */
	struct od_camera *cams;  /* cameras */
	int n_cams;
};

static int is_json(const char *path)
{
	size_t n = strlen(path);
	return n >= 5 && !strcasecmp(path + n - 5, ".json");
}

static int missing(const char *path)
{
	struct stat st;
	return strcmp(path, "-") && stat(path, &st) != 0 && errno == ENOENT;
}

/* ---- drawing into a cell (x right, y down, RGB) */

static void plot(struct od_image *im, int x, int y, const uint8_t c[3])
{
	if (x < 0 || y < 0 || x >= im->width || y >= im->height)
		return;
	memcpy(im->data + 3 * ((size_t)y * im->width + x), c, 3);
}

static void line(struct od_image *im, double x0, double y0, double x1, double y1, const uint8_t c[3])
{
	double len = fmax(fabs(x1 - x0), fabs(y1 - y0));
	int n = (int)ceil(len) + 1;
	for (int k = 0; k <= n; k++) {
		double t = (double)k / n;
		plot(im, (int)floor(x0 + t * (x1 - x0)), (int)floor(y0 + t * (y1 - y0)), c);
	}
}

/* A disc (filled) or a ring of radius r about (x, y). */
static void disc(struct od_image *im, double x, double y, double r, int filled, const uint8_t c[3])
{
	for (int dy = -(int)ceil(r) - 1; dy <= (int)ceil(r) + 1; dy++)
		for (int dx = -(int)ceil(r) - 1; dx <= (int)ceil(r) + 1; dx++) {
			double px = floor(x) + dx + 0.5, py = floor(y) + dy + 0.5;
			double d = hypot(px - x, py - y);
			if (filled ? d <= r : fabs(d - r) <= 0.6)
				plot(im, (int)floor(x) + dx, (int)floor(y) + dy, c);
		}
}

static void missing_cell(struct od_image *im)
{
	const uint8_t bg[3] = { 60, 0, 0 }, fg[3] = { 230, 40, 40 };
	for (int y = 0; y < im->height; y++)
		for (int x = 0; x < im->width; x++)
			plot(im, x, y, bg);
	line(im, 0, 0, im->width - 1, im->height - 1, fg);
	line(im, im->width - 1, 0, 0, im->height - 1, fg);
}

/* Nearest-neighbour fit of a picture into the cell, centred, on black. */
static void picture_cell(struct od_image *im, const struct od_image *p)
{
	double s = fmin((double)im->width / p->width, (double)im->height / p->height);
	int w = (int)fmax(1, floor(p->width * s + 0.5)), h = (int)fmax(1, floor(p->height * s + 0.5));
	w = w > im->width ? im->width : w;
	h = h > im->height ? im->height : h;
	int ox = (im->width - w) / 2, oy = (im->height - h) / 2;
	for (int y = 0; y < h; y++) {
		int sy = (int)(((int64_t)y * p->height) / h);
		for (int x = 0; x < w; x++) {
			int sx = (int)(((int64_t)x * p->width) / w);
			const uint8_t *s3 = p->data + ((size_t)sy * p->width + sx) * p->channels;
			uint8_t c[3] = { s3[0], s3[p->channels == 3 ? 1 : 0], s3[p->channels == 3 ? 2 : 0] };
			plot(im, ox + x, oy + y, c);
		}
	}
}

/* ---- camera plans */

struct plan {
	double up[3], right[3], down[3]; /* world directions of the plan's axes */
	double cx, cy, scale;            /* plan coordinates -> cell pixels */
	double len;                      /* length of an axis line, world units */
	int w, h;
};

static double dot3(const double a[3], const double b[3])
{
	return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const double a[3], const double b[3], double c[3])
{
	c[0] = a[1] * b[2] - a[2] * b[1];
	c[1] = a[2] * b[0] - a[0] * b[2];
	c[2] = a[0] * b[1] - a[1] * b[0];
}

static int normalise3(double a[3])
{
	double n = sqrt(dot3(a, a));
	if (!(n > 1e-12))
		return 0;
	for (int k = 0; k < 3; k++)
		a[k] /= n;
	return 1;
}

static void centre(const struct od_camera *c, double p[3])
{
	for (int k = 0; k < 3; k++)
		p[k] = c->c2w[k][3];
}

/* The optical axis (OpenCV +z) and the up direction (−y) in the world. */
static void axis(const struct od_camera *c, double f[3])
{
	for (int k = 0; k < 3; k++)
		f[k] = c->c2w[k][2];
}

static void to_plan(const struct plan *pl, const double p[3], double *x, double *y)
{
	*x = pl->w * 0.5 + pl->scale * (dot3(p, pl->right) - pl->cx);
	*y = pl->h * 0.5 + pl->scale * (dot3(p, pl->down) - pl->cy);
}

/* The plan of a reference set of cameras c; the cell shows their centres and
 * axes, and the m points more (NULL when m = 0). */
static void plan_make(struct plan *pl, const struct od_camera *c, int n, const double (*more)[3], int m, int w,
		      int h)
{
	double up[3] = { 0, 0, 0 }, f[3];
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 3; k++)
			up[k] -= c[i].c2w[k][1];
	if (!normalise3(up))
		up[0] = 0, up[1] = -1, up[2] = 0; /* cameras upside down to each other: any plan will do */
	axis(&c[0], f);
	double along = dot3(f, up);
	for (int k = 0; k < 3; k++)
		f[k] -= along * up[k];
	if (!normalise3(f)) { /* view 0 looks straight down: its image x axis is the plan's right */
		double x[3] = { c[0].c2w[0][0], c[0].c2w[1][0], c[0].c2w[2][0] };
		cross3(up, x, f);
		normalise3(f);
	}
	memcpy(pl->up, up, sizeof up);
	cross3(f, up, pl->right); /* seen from above with f up the picture, f × up is to the right */
	for (int k = 0; k < 3; k++)
		pl->down[k] = -f[k];
	/* the extent: the centres' largest distance from their centroid */
	double mu[3] = { 0, 0, 0 }, ext = 0;
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 3; k++)
			mu[k] += c[i].c2w[k][3] / n;
	for (int i = 0; i < n; i++) {
		double p[3];
		centre(&c[i], p);
		for (int k = 0; k < 3; k++)
			p[k] -= mu[k];
		ext = fmax(ext, sqrt(dot3(p, p)));
	}
	pl->len = ext > 0 ? 0.35 * ext : 0.35;
	/* bounds of the centres and the tips of their axes, in plan coordinates */
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	for (int i = 0; i < n; i++)
		for (int t = 0; t < 2; t++) {
			double p[3], a[3];
			centre(&c[i], p);
			axis(&c[i], a);
			for (int k = 0; k < 3; k++)
				p[k] += t * pl->len * a[k];
			double x = dot3(p, pl->right), y = dot3(p, pl->down);
			x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
		}
	for (int i = 0; i < m; i++) {
		double x = dot3(more[i], pl->right), y = dot3(more[i], pl->down);
		x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
	}
	double span = fmax(fmax(x1 - x0, y1 - y0), 1e-9);
	pl->w = w, pl->h = h;
	pl->cx = 0.5 * (x0 + x1), pl->cy = 0.5 * (y0 + y1);
	pl->scale = 0.8 * fmin(w, h) / span;
}

static void draw_cameras(struct od_image *im, const struct plan *pl, const double (*ctr)[3],
			 const double (*ax)[3], int n, int grey)
{
	double r = fmax(2, fmin(im->width, im->height) / 40.0);
	for (int i = 0; i < n; i++) {
		const uint8_t *col = grey ? ref_grey : view_colour[i % 8];
		double x, y, tx, ty, tip[3];
		for (int k = 0; k < 3; k++)
			tip[k] = ctr[i][k] + pl->len * ax[i][k];
		to_plan(pl, ctr[i], &x, &y);
		to_plan(pl, tip, &tx, &ty);
		line(im, x, y, tx, ty, col);
		disc(im, x, y, r, !grey, col);
	}
}

static int camera_cell(struct od_image *im, const struct cell *c, const struct cell *ref, const char *path,
		       const char *ref_path)
{
	const struct cell *base = ref ? ref : c;
	int n = c->n_cams;
	if (ref && ref->n_cams != n)
		return od_error(OD_EFORMAT, "'%s' has %d cameras but '%s', the first camera file of its row, has %d",
				path, n, ref_path, ref->n_cams);
	for (int i = 0; i < n; i++)
		if (!c->cams[i].has_pose)
			return od_error(OD_EFORMAT, "'%s': camera %d has no pose", path, i);
	double(*ctr)[3] = calloc((size_t)n, sizeof *ctr), (*ax)[3] = calloc((size_t)n, sizeof *ax);
	double(*rc_)[3] = calloc((size_t)n, sizeof *rc_), (*ra)[3] = calloc((size_t)n, sizeof *ra);
	if (!ctr || !ax || !rc_ || !ra) {
		free(ctr), free(ax), free(rc_), free(ra);
		return od_error(OD_ENOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		centre(&base->cams[i], rc_[i]);
		axis(&base->cams[i], ra[i]);
		centre(&c->cams[i], ctr[i]);
		axis(&c->cams[i], ax[i]);
	}
	if (ref) {
		/* onto the reference as the cameras metric aligns them */
		double sigma, Q[3][3], tau[3];
		od_umeyama(&ctr[0][0], &rc_[0][0], n, &sigma, Q, tau);
		for (int i = 0; i < n; i++) {
			double p[3], a[3];
			for (int k = 0; k < 3; k++) {
				p[k] = tau[k], a[k] = 0;
				for (int m = 0; m < 3; m++)
					p[k] += sigma * Q[k][m] * ctr[i][m], a[k] += Q[k][m] * ax[i][m];
			}
			memcpy(ctr[i], p, sizeof p);
			memcpy(ax[i], a, sizeof a);
		}
	}
	struct plan pl;
	plan_make(&pl, base->cams, n, ref ? (const double(*)[3])ctr : NULL, ref ? n : 0, im->width, im->height);
	if (ref)
		draw_cameras(im, &pl, (const double(*)[3])rc_, (const double(*)[3])ra, n, 1);
	draw_cameras(im, &pl, (const double(*)[3])ctr, (const double(*)[3])ax, n, 0);
	free(ctr), free(ax), free(rc_), free(ra);
	return OD_OK;
}

/* ---- the sheet */

static void cells_free(struct cell *cells, int n)
{
	for (int i = 0; i < n; i++) {
		od_image_free(&cells[i].img);
		free(cells[i].cams);
	}
	free(cells);
}

int od_sheet_compose(const char *const *paths, int n, const struct od_sheet_opts *opts, struct od_image *out)
{
	memset(out, 0, sizeof *out);
	if (n < 1)
		return od_error(OD_EINVAL, "a contact sheet needs at least one cell");
	if (opts->cols < 1)
		return od_error(OD_EINVAL, "a contact sheet needs at least one column");
	struct cell *cells = calloc((size_t)n, sizeof *cells);
	if (!cells)
		return od_error(OD_ENOMEM, "out of memory");
	int rc = OD_OK, cw = opts->cell_w, ch = opts->cell_h, any = 0;
	for (int i = 0; i < n && !rc; i++) {
		if (opts->missing_ok && missing(paths[i]))
			cells[i].kind = CELL_MISSING;
		else if (is_json(paths[i])) {
			cells[i].kind = CELL_CAMERAS;
			rc = od_camera_json_read(paths[i], &cells[i].cams, &cells[i].n_cams);
		} else {
			cells[i].kind = CELL_PICTURE;
			if (!(rc = od_image_read_file(&cells[i].img, paths[i], NULL)) && !opts->cell_w) {
				any = 1;
				cw = cells[i].img.width > cw ? cells[i].img.width : cw;
				ch = cells[i].img.height > ch ? cells[i].img.height : ch;
			}
		}
		if (rc && rc != OD_ENOMEM && opts->missing_ok) { /* unreadable: a failed cell too */
			od_image_free(&cells[i].img);
			free(cells[i].cams);
			cells[i] = (struct cell){ .kind = CELL_MISSING };
			rc = OD_OK;
		}
	}
	if (rc)
		goto done;
	if (!opts->cell_w && !any)
		cw = ch = OD_SHEET_DEFAULT_CELL;
	const int cols = opts->cols, rows = (n + cols - 1) / cols, G = OD_SHEET_GAP;
	int64_t W = (int64_t)cols * (cw + G) + G, H = (int64_t)rows * (ch + G) + G;
	if (W > OD_IMAGE_MAX_SIDE || H > OD_IMAGE_MAX_SIDE) {
		rc = od_error(OD_EINVAL, "a contact sheet of %dx%d cells of %dx%d would exceed %d pixels a side", cols,
			      rows, cw, ch, OD_IMAGE_MAX_SIDE);
		goto done;
	}
	if ((rc = od_image_alloc(out, (int)W, (int)H, 3)))
		goto done;
	memset(out->data, OD_SHEET_GAP_GREY, (size_t)W * H * 3);
	struct od_image cell = { 0 };
	if ((rc = od_image_alloc(&cell, cw, ch, 3)))
		goto done;
	int ref = -1; /* the row's first camera file */
	for (int i = 0; i < n && !rc; i++) {
		if (i % cols == 0)
			ref = -1;
		memset(cell.data, 0, (size_t)cw * ch * 3);
		switch (cells[i].kind) {
		case CELL_PICTURE: picture_cell(&cell, &cells[i].img); break;
		case CELL_MISSING: missing_cell(&cell); break;
		case CELL_CAMERAS:
			rc = camera_cell(&cell, &cells[i], ref >= 0 ? &cells[ref] : NULL, paths[i],
					 ref >= 0 ? paths[ref] : NULL);
			if (ref < 0)
				ref = i;
			break;
		}
		int ox = G + (i % cols) * (cw + G), oy = G + (i / cols) * (ch + G);
		for (int y = 0; y < ch; y++)
			memcpy(out->data + ((size_t)(oy + y) * W + ox) * 3, cell.data + (size_t)y * cw * 3,
			       (size_t)cw * 3);
	}
	od_image_free(&cell);
done:
	if (rc)
		od_image_free(out);
	cells_free(cells, n);
	return rc;
}

int od_sheet_write(const char *const *paths, int n, const struct od_sheet_opts *opts, const char *out_path)
{
	struct od_image sheet;
	int rc = od_sheet_compose(paths, n, opts, &sheet);
	if (rc)
		return rc;
	struct od_out o;
	if (!(rc = od_out_open(&o, out_path))) {
		if ((rc = od_image_write_png(&o, &sheet, NULL, 0)) || (rc = od_out_commit(&o)))
			od_out_abort(&o);
	}
	od_image_free(&sheet);
	return rc;
}
