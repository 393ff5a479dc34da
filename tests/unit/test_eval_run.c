/*
 * test_eval_run: what an evaluation run needs around the metrics (lib/eval/):
 * baseline predictions (baseline.h), contact sheets (sheet.h) and the results
 * of many tasks (results.h), checked on small files written here.
 *
 * Also a checker for make eval's results.json (t0790):
 *   test_eval_run --check-results FILE
 * checks the document's structure and every summary value against the range
 * of its metric, prints one line "TASK|ROW|ITEMS|FAILED" per row, and exits 1
 * on any problem.
 */
#include "od.h"
#include "eval/baseline.h"
#include "eval/picture.h"
#include "eval/results.h"
#include "eval/sheet.h"
#include "tap.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_eval_run.XXXXXX";

static char *path(const char *name)
{
	static char buf[8][512];
	static int k;
	k = (k + 1) % 8;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

static void write_picture(const char *name, int w, int h, const uint8_t rgb[3])
{
	struct od_image im;
	od_image_alloc(&im, w, h, 3);
	for (int i = 0; i < w * h; i++)
		memcpy(im.data + 3 * i, rgb, 3);
	struct od_out o;
	od_out_open(&o, path(name));
	od_image_write_png(&o, &im, NULL, 0);
	od_out_commit(&o);
	od_image_free(&im);
}

static void write_text(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "w");
	fputs(text, f);
	fclose(f);
}

static const uint8_t *px(const struct od_image *im, int x, int y)
{
	return im->data + 3 * ((size_t)y * im->width + x);
}

static int is(const uint8_t *p, int r, int g, int b)
{
	return p[0] == r && p[1] == g && p[2] == b;
}

/* ---------------------------------------------------------------- baselines */

static void test_baseline(void)
{
	struct od_image ref, out;
	od_image_alloc(&ref, 3, 1, 3);
	const uint8_t v[9] = { 10, 0, 255, 11, 1, 255, 13, 2, 254 }; /* means 34/3, 1, 764/3 */
	memcpy(ref.data, v, 9);
	int rc = od_baseline_picture(OD_BASELINE_MEAN, &ref, &out);
	ok(rc == OD_OK && out.width == 3 && out.height == 1 && out.channels == 3 && is(px(&out, 0, 0), 11, 1, 255) &&
		   is(px(&out, 2, 0), 11, 1, 255),
	   "mean: every pixel the mean colour, rounded to nearest (11.33, 1, 254.67 -> 11, 1, 255)");
	od_image_free(&out);
	struct od_image two;
	od_image_alloc(&two, 2, 1, 1); /* grey, mean 1.5 exactly */
	two.data[0] = 1, two.data[1] = 2;
	od_baseline_picture(OD_BASELINE_MEAN, &two, &out);
	ok(out.channels == 3 && is(px(&out, 1, 0), 2, 2, 2), "mean of a grey picture: RGB, a half rounds up (1.5 -> %d)",
	   px(&out, 1, 0)[1]);
	od_image_free(&out);
	od_image_free(&two);
	rc = od_baseline_picture(OD_BASELINE_BLACK, &ref, &out);
	ok(rc == OD_OK && is(px(&out, 0, 0), 0, 0, 0) && is(px(&out, 2, 0), 0, 0, 0), "black: all zero");
	od_image_free(&out);
	od_image_free(&ref);
	ok(od_baseline_parse("origin") == OD_BASELINE_ORIGIN && od_baseline_parse("zero") == -1, "names");

	struct od_camera c[2];
	for (int i = 0; i < 2; i++) {
		od_camera_init(&c[i], 1.3887);
		c[i].has_pose = 1, c[i].view = i, c[i].fx = 1.2 + i, c[i].has_intrinsics = 1;
		c[i].c2w[0][3] = 2 + i, c[i].c2w[1][1] = -1, c[i].c2w[2][2] = -1;
	}
	struct od_camera o[2];
	od_baseline_cameras(c, 2, o);
	int good = 1;
	for (int i = 0; i < 2; i++)
		for (int a = 0; a < 4; a++)
			for (int b = 0; b < 4; b++)
				good &= o[i].c2w[a][b] == (a == b);
	ok(good && o[1].fx == 2.2 && o[1].view == 1 && o[0].has_pose, "origin: identity poses, intrinsics kept");

	/* files, and what od-eval makes of them */
	const uint8_t grey[3] = { 100, 150, 200 };
	write_picture("ref.png", 16, 16, grey);
	rc = od_baseline_file(OD_BASELINE_MEAN, path("ref.png"), path("mean.png"));
	double m[2];
	ok(rc == OD_OK && od_eval_picture_files(path("mean.png"), path("ref.png"), m) == OD_OK && isinf(m[0]),
	   "the mean of a flat picture is that picture (PSNR inf)");
	rc = od_baseline_file(OD_BASELINE_ORIGIN, path("nothing.json"), path("o.json"));
	ok(rc == OD_EIO && !od_is_file(path("o.json")), "a missing reference: an I/O error, no output (%s)",
	   od_errmsg());
	rc = od_baseline_file(OD_BASELINE_BLACK, path("nothing.png"), path("b.png"));
	ok(rc == OD_EIO && !od_is_file(path("b.png")), "the same for a picture");
}

/* ---------------------------------------------------------------- contact sheets */

/* Three cameras on a circle of radius r round (0, 0, 0) at height h, looking
 * at the origin, in OpenCV axes, then mapped by x -> s·Q·x + t. */
static void ring_cameras(struct od_camera *c, double r, double h, double s, const double Q[3][3],
			 const double t[3])
{
	for (int i = 0; i < 3; i++) {
		double az = 2 * M_PI * i / 3 + 0.3, pos[3] = { r * sin(az), h, r * cos(az) };
		double f[3] = { -pos[0], -pos[1], -pos[2] }, up[3] = { 0, 1, 0 }, x[3], y[3];
		double n = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
		for (int k = 0; k < 3; k++)
			f[k] /= n;
		/* x = f × up (right), y = f × x (down) */
		x[0] = f[1] * up[2] - f[2] * up[1], x[1] = f[2] * up[0] - f[0] * up[2], x[2] = f[0] * up[1] - f[1] * up[0];
		n = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
		for (int k = 0; k < 3; k++)
			x[k] /= n;
		y[0] = f[1] * x[2] - f[2] * x[1], y[1] = f[2] * x[0] - f[0] * x[2], y[2] = f[0] * x[1] - f[1] * x[0];
		od_camera_init(&c[i], 1.3887);
		c[i].has_pose = 1, c[i].view = i;
		const double *axes[4] = { x, y, f, pos };
		for (int col = 0; col < 4; col++) /* rotated axes Q·x, Q·y, Q·f; moved centre s·Q·pos + t */
			for (int a = 0; a < 3; a++) {
				double v = Q[a][0] * axes[col][0] + Q[a][1] * axes[col][1] + Q[a][2] * axes[col][2];
				c[i].c2w[a][col] = col < 3 ? v : s * v + t[a];
			}
		c[i].c2w[3][0] = c[i].c2w[3][1] = c[i].c2w[3][2] = 0, c[i].c2w[3][3] = 1;
	}
}

static void write_cameras(const char *name, const struct od_camera *c, int n)
{
	struct od_out o;
	od_out_open(&o, path(name));
	od_camera_json_write(&o, c, NULL, n);
	od_out_commit(&o);
}

static void test_sheet(void)
{
	const uint8_t red[3] = { 255, 0, 0 }, blue[3] = { 0, 0, 255 }, grey[3] = { 128, 128, 128 };
	write_picture("r.png", 4, 4, red);
	write_picture("b.png", 8, 4, blue);
	write_picture("g.png", 2, 2, grey);
	const char *cells[4] = { path("r.png"), path("b.png"), path("none.png"), path("g.png") };
	struct od_sheet_opts so = { .cols = 2, .missing_ok = 1 };
	struct od_image s;
	int rc = od_sheet_compose(cells, 4, &so, &s);
	/* cells of 8 x 4 (the largest picture), 2 px gaps: 2 + 2 (8 + 2) wide, 2 + 2 (4 + 2) high */
	ok(rc == OD_OK && s.width == 22 && s.height == 14, "2 x 2 cells of 8 x 4 with gaps: 22 x 14 (%d x %d)", s.width,
	   s.height);
	ok(is(px(&s, 0, 0), 96, 96, 96) && is(px(&s, 10, 3), 96, 96, 96) && is(px(&s, 21, 13), 96, 96, 96),
	   "gaps and frame grey");
	ok(is(px(&s, 2, 2), 0, 0, 0) && is(px(&s, 4, 2), 255, 0, 0) && is(px(&s, 7, 5), 255, 0, 0) &&
		   is(px(&s, 8, 5), 0, 0, 0),
	   "a 4 x 4 picture in an 8 x 4 cell: centred (columns 2-5), black beside it");
	ok(is(px(&s, 12, 2), 0, 0, 255) && is(px(&s, 19, 5), 0, 0, 255), "the 8 x 4 picture fills its cell");
	ok(is(px(&s, 2, 8), 230, 40, 40) && is(px(&s, 5, 8), 60, 0, 0), "a missing file: a crossed dark red cell");
	/* 2 x 2 scaled to 4 x 4 by nearest neighbour, centred: columns 14-17 */
	ok(is(px(&s, 14, 8), 128, 128, 128) && is(px(&s, 17, 11), 128, 128, 128) && is(px(&s, 13, 8), 0, 0, 0),
	   "a 2 x 2 picture scaled up to fit (4 x 4), centred");
	od_image_free(&s);

	so.missing_ok = 0;
	rc = od_sheet_compose(cells, 4, &so, &s);
	ok(rc == OD_EIO && strstr(od_errmsg(), "none.png"), "without missing_ok a missing file is an error: %s",
	   od_errmsg());
	write_text("bad.png", "not a picture");
	cells[2] = path("bad.png");
	ok(od_sheet_compose(cells, 4, &so, &s) == OD_EFORMAT, "... and so is an unreadable one");
	so.missing_ok = 1;
	rc = od_sheet_compose(cells, 4, &so, &s);
	ok(rc == OD_OK && is(px(&s, 2, 8), 230, 40, 40), "with missing_ok an unreadable file is a failed cell");
	od_image_free(&s);
	so.cell_w = so.cell_h = 9000;
	ok(od_sheet_compose(cells, 4, &so, &s) == OD_EINVAL, "a sheet over %d pixels a side is refused: %s",
	   OD_IMAGE_MAX_SIDE, od_errmsg());

	/* cameras: a prediction that is a similarity of the ground truth is drawn where the ground truth is */
	struct od_camera gt[3], pred[3];
	double I[3][3] = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } }, zero[3] = { 0, 0, 0 }, Q[3][3];
	double ax[3] = { 0.4, 1, -0.3 }, n = sqrt(0.16 + 1 + 0.09), th = 1.1, t[3] = { 3, -2, 5 };
	for (int a = 0; a < 3; a++) /* Rodrigues */
		for (int b = 0; b < 3; b++) {
			double k[3] = { ax[0] / n, ax[1] / n, ax[2] / n };
			double K[3][3] = { { 0, -k[2], k[1] }, { k[2], 0, -k[0] }, { -k[1], k[0], 0 } }, K2 = 0;
			for (int m = 0; m < 3; m++)
				K2 += K[a][m] * K[m][b];
			Q[a][b] = I[a][b] + sin(th) * K[a][b] + (1 - cos(th)) * K2;
		}
	ring_cameras(gt, 3.2, 1.5, 1, I, zero);
	ring_cameras(pred, 3.2, 1.5, 0.37, Q, t);
	write_cameras("gt.json", gt, 3);
	write_cameras("pred.json", pred, 3);
	const char *cams[2] = { path("gt.json"), path("pred.json") };
	struct od_sheet_opts co = { .cols = 2, .cell_w = 96, .cell_h = 96 };
	rc = od_sheet_compose(cams, 2, &co, &s);
	ok(rc == OD_OK && s.width == 2 + 2 * 98 && s.height == 100, "camera cells of 96 x 96");
	int coloured = 0, differ = 0;
	double ry = 0, rn = 0, rymin = 1e9, rxmin = 1e9, rxmax = -1;
	for (int y = 0; y < 96; y++)
		for (int x = 0; x < 96; x++) {
			const uint8_t *a = px(&s, 2 + x, 2 + y), *b = px(&s, 2 + 98 + x, 2 + y);
			int col = !is(a, 0, 0, 0);
			coloured += col;
			if (col && memcmp(a, b, 3))
				differ++;
			if (is(a, 230, 40, 40)) /* view 0 */
				ry += y, rn++, rymin = fmin(rymin, y), rxmin = fmin(rxmin, x), rxmax = fmax(rxmax, x);
		}
	ok(rc == OD_OK && coloured > 30 && differ <= 2,
	   "a prediction that is the ground truth moved, turned and scaled is drawn over it after alignment "
	   "(%d coloured pixels, %d differ)",
	   coloured, differ);
	ok(rn > 0 && ry / rn > 48 && rymin < ry / rn - 4 && rxmax - rxmin <= 6,
	   "the plan looks down: view 0 in the lower half, its axis pointing up the cell");
	od_image_free(&s);
	struct od_camera two[2] = { gt[0], gt[1] };
	write_cameras("two.json", two, 2);
	cams[1] = path("two.json");
	ok(od_sheet_compose(cams, 2, &co, &s) == OD_EFORMAT && strstr(od_errmsg(), "has 2 cameras"),
	   "a row's camera files must have as many cameras: %s", od_errmsg());
}

/* ---------------------------------------------------------------- results */

static struct od_results_spec spec;

static int parse(const char *text)
{
	return od_results_spec_parse(text, strlen(text), "s.tsv", "base", &spec);
}

static void refused(const char *text, const char *want)
{
	int rc = parse(text);
	ok(rc == OD_EFORMAT && strstr(od_errmsg(), want), "refused: %s", od_errmsg());
	if (!rc)
		od_results_spec_free(&spec);
}

static void test_spec(void)
{
	int rc = parse("# a comment\r\n\nd2i\timage\tmodel\td/m.list\tnote 1\r\n"
		       "pose\tcameras\tmodel\t/abs/p.list\nd2i\timage\tbaseline: copied\td/b.list\tnote 2\n");
	ok(rc == OD_OK && spec.n == 3 && !strcmp(spec.v[0].task, "d2i") && spec.v[0].kind == OD_EVAL_IMAGE &&
		   !strcmp(spec.v[0].list, "base/d/m.list") && !strcmp(spec.v[0].note, "note 1") &&
		   !strcmp(spec.v[1].list, "/abs/p.list") && !spec.v[1].note && spec.v[1].line == 4 &&
		   !strcmp(spec.v[2].row, "baseline: copied"),
	   "a spec: tab-separated fields, comments and blank lines skipped, CRLF, lists joined to the base");
	od_results_spec_free(&spec);
	refused("a\timage\tmodel\n", "line 1 has 3 fields, not \"TASK COMMAND ROW LIST [NOTE]\"");
	refused("a\tpsnr\tmodel\tl\n", "line 1: 'psnr' is not an od-eval command");
	refused("a\timage\tm\tl\na\tdepth\tb\tl\n", "line 2: task 'a' is scored by image on line 1, not depth");
	refused("a\timage\tm\tl\nb\timage\tm\tl\na\timage\tm\tl2\n", "line 3: task 'a' has a row 'm' already");
	refused("# nothing\n", "no rows (an empty spec)");
	static const char nul[] = "a\timage\tm\tl\nb\0\timage\tm\tl\n";
	int rc2 = od_results_spec_parse(nul, sizeof nul - 1, "s.tsv", NULL, &spec);
	ok(rc2 == OD_EFORMAT && strstr(od_errmsg(), "line 2 holds a NUL byte"), "refused: %s", od_errmsg());
	char longer[400];
	memset(longer, 'x', 300);
	strcpy(longer + 300, "\timage\tm\tl\n");
	refused(longer, "line 1: field 1 is longer than 200 bytes");
}

static void test_results(void)
{
	const uint8_t a[3] = { 10, 200, 30 }, b[3] = { 20, 190, 30 };
	write_picture("a.png", 16, 16, a);
	write_picture("p.png", 16, 16, b);
	mkdir(path("lists"), 0755);
	write_text("lists/model.list", "../p.png ../a.png\n../q.png ../a.png\n");
	write_text("lists/base.list", "../a.png ../a.png\n");
	write_text("run.tsv", "pictures\timage\tmodel\tlists/model.list\tsee [the sheet](s.png)\n"
			      "pictures\timage\tbaseline\tlists/base.list\n");
	struct od_results r;
	int rc = od_results_spec_read(path("run.tsv"), &spec);
	ok(rc == OD_OK && spec.n == 2, "read a spec file");
	rc = od_results_run(&spec, NULL, &r);
	double want = 10 * log10(255.0 * 255 / (100.0 * 2 / 3)); /* one channel of three off by 10 */
	ok(rc == OD_OK && r.rows[0].items == 2 && r.rows[0].failed == 1 && r.rows[0].report.n_rows == 1 &&
		   fabs(od_report_summary(&r.rows[0].report, 2) - want) < 1e-9,
	   "an item without its prediction counts as failed; the others are scored (PSNR %.6f)", want);
	ok(r.rows[0].failed == 1 && strstr(r.rows[0].fail_msg[0], "q.png': no such file") &&
		   strstr(r.rows[0].fail_pred[0], "lists/../q.png"),
	   "the failure names the missing file: %s", r.rows[0].failed ? r.rows[0].fail_msg[0] : "");
	ok(r.rows[1].failed == 0 && isinf(od_report_summary(&r.rows[1].report, 2)), "baseline row: PSNR inf");

	const char *params[2] = { "model=tiny", "steps=2" };
	struct od_out o;
	od_out_open(&o, path("r.md"));
	rc = od_results_write(&r, OD_REPORT_MD, "T", params, 2, &o);
	od_out_commit(&o);
	char *md;
	size_t len;
	od_read_file(path("r.md"), 1 << 20, &md, &len);
	char row0[128];
	snprintf(row0, sizeof row0, "| model | 2 | 1 | %.4g | 0.", want);
	ok(rc == OD_OK && !strncmp(md, "# T\n\n- model: tiny\n- steps: 2\n\n## pictures\n", 43) &&
		   strstr(md, "| | items | failed | psnr | ssim |\n") && strstr(md, row0) &&
		   strstr(md, "| baseline | 1 | 0 | inf | 1 |\n") && strstr(md, "\nsee [the sheet](s.png)\n") &&
		   strstr(md, "Failed items (1):\n\n- model: 'base") == NULL && strstr(md, "- model: '"),
	   "Markdown: title, parameters, one table a task, the note, the failures");
	free(md);

	od_out_open(&o, path("r.json"));
	rc = od_results_write(&r, OD_REPORT_JSON, NULL, params, 2, &o);
	od_out_commit(&o);
	json_error_t e;
	json_t *j = json_load_file(path("r.json"), JSON_REJECT_DUPLICATES, &e);
	json_t *t0 = json_array_get(json_object_get(j, "tasks"), 0);
	json_t *rows = json_object_get(t0, "rows"), *m = json_array_get(rows, 0), *bl = json_array_get(rows, 1);
	ok(rc == OD_OK && j && !strcmp(json_string_value(json_object_get(j, "title")), "Evaluation results") &&
		   !strcmp(json_string_value(json_object_get(json_object_get(j, "parameters"), "steps")), "2") &&
		   !strcmp(json_string_value(json_object_get(t0, "command")), "image") &&
		   json_integer_value(json_object_get(m, "failed")) == 1 &&
		   fabs(json_real_value(json_object_get(json_object_get(m, "summary"), "psnr")) - want) < 1e-7 &&
		   json_array_size(json_object_get(m, "failures")) == 1 &&
		   json_array_size(json_object_get(m, "scores")) == 1 &&
		   json_is_null(json_object_get(json_object_get(bl, "summary"), "psnr")),
	   "JSON: the same, with every failure and score; infinity as null (%s)", j ? "parsed" : e.text);
	json_decref(j);
	od_results_free(&r);
	od_results_spec_free(&spec);

	write_text("run2.tsv", "pictures\timage\tmodel\tlists/none.list\n");
	od_results_spec_read(path("run2.tsv"), &spec);
	rc = od_results_run(&spec, NULL, &r);
	ok(rc == OD_EIO && strstr(od_errmsg(), "none.list"), "a list that cannot be read is an error: %s", od_errmsg());
	od_results_spec_free(&spec);
}

/* ---------------------------------------------------------------- --check-results */

static int in(double v, double lo, double hi)
{
	return v >= lo && v <= hi;
}

static int check_results(const char *file)
{
	json_error_t e;
	json_t *j = json_load_file(file, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		printf("# %s: %s\n", file, e.text);
		return 1;
	}
	int bad = 0;
	json_t *tasks = json_object_get(j, "tasks");
	if (strcmp(json_string_value(json_object_get(j, "format")) ? json_string_value(json_object_get(j, "format"))
								   : "",
		   "od-eval-results") ||
	    !json_is_array(tasks) || !json_array_size(tasks)) {
		printf("# %s: not od-eval results with tasks\n", file);
		bad = 1;
	}
	size_t ti, ri;
	json_t *t, *row;
	json_array_foreach(tasks, ti, t)
	{
		const char *task = json_string_value(json_object_get(t, "task"));
		const char *cmd = json_string_value(json_object_get(t, "command"));
		json_t *rows = json_object_get(t, "rows");
		if (!task || !cmd || json_array_size(rows) < 2) {
			printf("# task %zu: no name, command or fewer than two rows\n", ti);
			bad = 1;
			continue;
		}
		json_array_foreach(rows, ri, row)
		{
			const char *name = json_string_value(json_object_get(row, "row"));
			json_t *sum = json_object_get(row, "summary");
			long items = (long)json_integer_value(json_object_get(row, "items"));
			long failed = (long)json_integer_value(json_object_get(row, "failed"));
			printf("%s|%s|%ld|%ld\n", task, name ? name : "", items, failed);
			if (!name || items < 1 || failed < 0 || failed > items || !json_is_object(sum)) {
				printf("# %s: a row without name, items or summary\n", task);
				bad = 1;
				continue;
			}
			const char *key;
			json_t *v;
			json_object_foreach(sum, key, v)
			{
				if (json_is_null(v)) /* undefined (no relations; PSNR inf) */
					continue;
				double x = json_number_value(v);
				int good = json_is_number(v);
				if (!strcmp(key, "psnr"))
					good &= x > 0;
				else if (!strcmp(key, "ssim"))
					good &= in(x, -1, 1);
				else if (!strcmp(key, "absrel") || !strcmp(key, "rmse") || !strcmp(key, "centre_err"))
					good &= x >= 0;
				else if (!strncmp(key, "rot_err", 7))
					good &= in(x, 0, 180);
				else if (!strcmp(key, "valid") || !strcmp(key, "views") || !strcmp(key, "objects") ||
					 !strcmp(key, "relations"))
					good &= x >= 0 && x == floor(x);
				else /* the fractions */
					good &= in(x, 0, 1);
				if (!good) {
					printf("# %s|%s: %s = %g is out of range\n", task, name, key, x);
					bad = 1;
				}
			}
			if (json_object_size(sum) < 2) {
				printf("# %s|%s: a summary without metrics\n", task, name);
				bad = 1;
			}
		}
	}
	json_decref(j);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--check-results"))
		return check_results(argv[2]);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_baseline();
	test_sheet();
	test_spec();
	test_results();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
