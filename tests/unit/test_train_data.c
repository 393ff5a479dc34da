/*
 * test_train_data: training data from frame streams (train/data.h): the job
 * index (offsets, shapes, buckets), random reads that return the frames'
 * values, weighted sampling by shape, padding and caption dropout of texts,
 * and every rule a data set must follow, each refused with a message naming
 * the file and frame.
 */
#include "od.h"
#include "train/data.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TD 8
#define C 16

static const char *tmpdir;

/* A text frame of S rows (values v), real tokens first. */
static void text(struct od_out *o, enum od_role role, int S, int real, float v)
{
	struct od_frame f;
	const int64_t shape[2] = { S, TD };
	od_frame_init(&f, OD_KIND_TEXT, role, OD_F32, 2, shape, 1);
	for (int i = 0; i < S * TD; i++)
		((float *)f.data)[i] = v + (float)i * 0.001f;
	uint8_t m[64];
	for (int i = 0; i < S; i++)
		m[i] = i < real;
	od_frame_set_mask(&f, m);
	od_frame_write(o, &f);
	od_frame_free(&f);
}

static void latent(struct od_out *o, enum od_kind kind, enum od_role role, int ch, int h, int w, float v, int data)
{
	struct od_frame f;
	const int64_t shape[3] = { ch, h, w };
	od_frame_init(&f, kind, role, OD_F32, 3, shape, data);
	for (int i = 0; data && i < ch * h * w; i++)
		((float *)f.data)[i] = v;
	od_frame_write(o, &f);
	od_frame_free(&f);
}

static char *path_of(const char *name)
{
	static char buf[4][1024];
	static int k;
	char *p = buf[k++ % 4];
	snprintf(p, 1024, "%s/%s", tmpdir, name);
	return p;
}

/* Index a file expected to be refused; check the message. */
static void refused(const char *name, const char *want)
{
	struct od_train_data d;
	char *spec[1] = { path_of(name) };
	struct od_train_data_opts o = { .channels = C, .text_dim = TD };
	int rc = od_train_data_open(&d, spec, 1, &o);
	ok(rc < 0 && strstr(od_errmsg(), want) && strstr(od_errmsg(), name), "%s refused: %s", name, od_errmsg());
	if (!rc)
		od_train_data_close(&d);
}

int main(void)
{
	tmpdir = getenv("TMPDIR");
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/test_train_data.XXXXXX", tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(dir)) {
		ok(0, "temporary folder");
		return tap_done();
	}
	tmpdir = dir;
	struct od_out o;

	/* a good file: 3 jobs of one frame 4×4, one of two frames 4×4, one of one frame 2×6 */
	od_out_open(&o, path_of("good.odf"));
	text(&o, OD_ROLE_CONDITION, 5, 3, 0.0f);
	text(&o, OD_ROLE_NEGATIVE, 5, 1, 9.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 4, 1.0f, 1);
	text(&o, OD_ROLE_NEGATIVE, 5, 1, 9.0f); /* negative first: the same job shape */
	text(&o, OD_ROLE_CONDITION, 7, 7, 1.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 4, 2.0f, 1);
	text(&o, OD_ROLE_CONDITION, 5, 2, 2.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 4, 3.0f, 1);
	text(&o, OD_ROLE_CONDITION, 5, 2, 3.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_CONDITION, C, 4, 4, 4.0f, 1);
	latent(&o, OD_KIND_RAYS, OD_ROLE_TARGET, C, 4, 4, 5.0f, 1);
	text(&o, OD_ROLE_CONDITION, 5, 2, 4.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 2, 6, 6.0f, 1);
	ok(!od_out_commit(&o), "write good.odf");

	struct od_train_data d;
	char good[1024];
	snprintf(good, sizeof good, "%s", path_of("good.odf"));
	char *spec[2] = { good, NULL };
	struct od_train_data_opts opts = { .channels = C, .text_dim = TD };
	int rc = od_train_data_open(&d, spec, 1, &opts);
	if (!ok(!rc, "index good.odf: %s", rc ? od_errmsg() : "ok"))
		return tap_done();
	struct od_train_source *s = &d.src[0];
	ok(s->n_jobs == 5 && od_train_data_jobs(&d) == 5, "5 jobs (%d)", s->n_jobs);
	ok(s->n_buckets == 3, "3 shapes (%d)", s->n_buckets);
	ok(s->jobs[0].offset == 0 && s->jobs[0].n_frames == 3 && s->jobs[1].n_frames == 3 && s->jobs[3].n_frames == 3 &&
	   s->jobs[3].F == 2 && s->jobs[1].S == 7 && s->jobs[4].h == 2 && s->jobs[4].w == 6,
	   "offsets, frame counts and shapes");
	ok(s->jobs[0].first_frame == 0 && s->jobs[1].first_frame == 3 && s->jobs[4].first_frame == 11,
	   "first frames 0, 3, 11");

	/* read two jobs of one shape: values, texts padded to the longest */
	struct od_train_batch b = { 0 };
	int jobs[2] = { 1, 0 };
	rc = od_train_data_read(&d, 0, jobs, 2, &b);
	ok(!rc && b.B == 2 && b.F == 1 && b.h == 4 && b.w == 4 && b.S == 7 && b.D == TD, "a batch of 2 (S %d): %s", b.S,
	   rc ? od_errmsg() : "ok");
	ok(!rc && b.x0[0] == 2.0f && b.x0[C * 16] == 1.0f, "latent values of jobs 1 and 0");
	ok(!rc && b.text[0] == 1.0f && b.text[7 * TD] == 0.0f && b.mask[6] == 1 && b.mask[7] == 1 && b.mask[7 + 3] == 0 &&
	   b.mask[7 + 5] == 0 && b.text[7 * TD + 5 * TD] == 0.0f,
	   "texts and masks, the shorter padded with masked zero rows");
	int mixed[2] = { 0, 3 };
	ok(od_train_data_read(&d, 0, mixed, 2, &b) == OD_EINVAL, "jobs of two shapes cannot share a batch");

	/* multiview-like job: condition latent + target rays, in stream order */
	int j3 = 3;
	rc = od_train_data_read(&d, 0, &j3, 1, &b);
	ok(!rc && b.F == 2 && b.x0[0] == 4.0f && b.x0[C * 16] == 5.0f, "a two-frame job, frames in stream order");

	/* caption dropout: the empty text replaces a sample's, padded to the longest */
	rc = od_train_data_read(&d, 0, jobs, 2, &b);
	float empty[9 * TD];
	uint8_t emask[9] = { 1, 0, 0, 0, 0, 0, 0, 0, 0 };
	for (int i = 0; i < 9 * TD; i++)
		empty[i] = -1.0f;
	uint8_t drop[2] = { 0, 1 };
	rc = od_train_batch_drop_text(&b, drop, empty, emask, 9);
	ok(!rc && b.S == 9 && b.text[0] == 1.0f && b.mask[6] == 1 && b.mask[7] == 0 && b.text[9 * TD] == -1.0f &&
	   b.mask[9] == 1 && b.mask[10] == 0,
	   "a dropped prompt becomes the empty text; S grows to 9");
	od_train_batch_trim_text(&b);
	ok(b.S == 7 && b.text[0] == 1.0f && b.mask[6] == 1 && b.text[7 * TD] == -1.0f && b.mask[7] == 1 &&
	   b.mask[8] == 0 && b.mask[13] == 0,
	   "the trim cuts both texts after the last unmasked row of either: S 7 (%d)", b.S);

	/* sampling: a batch always has one shape; every job is drawn */
	struct od_train_rng g;
	od_train_rng_seed(&g, 5);
	int seen[5] = { 0 }, bad_shape = 0;
	for (int i = 0; i < 400; i++) {
		if (od_train_data_sample(&d, &g, 3, &b)) {
			bad_shape++;
			break;
		}
		for (int k = 0; k < 3; k++) {
			seen[b.jobs[k]]++;
			const struct od_train_job_ref *r = &s->jobs[b.jobs[k]];
			bad_shape += r->F != b.F || r->h != b.h || r->w != b.w;
		}
	}
	ok(!bad_shape && seen[0] && seen[1] && seen[2] && seen[3] && seen[4], "400 batches: one shape each, every job seen "
	   "(%d %d %d %d %d)", seen[0], seen[1], seen[2], seen[3], seen[4]);
	/* the same generator gives the same batches */
	struct od_train_rng g1, g2;
	od_train_rng_seed(&g1, 9);
	od_train_rng_seed(&g2, 9);
	int same = 1;
	struct od_train_batch b2 = { 0 };
	for (int i = 0; i < 20; i++) {
		od_train_data_sample(&d, &g1, 2, &b);
		od_train_data_sample(&d, &g2, 2, &b2);
		same &= b.jobs[0] == b2.jobs[0] && b.jobs[1] == b2.jobs[1];
	}
	ok(same, "a seed gives the same batches");
	od_train_batch_free(&b2);
	od_train_data_close(&d);

	/* weights: file 2 with weight 3 is drawn about 3 times as often */
	char w3[1100];
	snprintf(w3, sizeof w3, "%s:3", path_of("good.odf"));
	char *two[2] = { path_of("good.odf"), w3 };
	rc = od_train_data_open(&d, two, 2, &opts);
	ok(!rc && d.src[1].weight == 3 && d.src[0].weight == 1, "'FILE:3' gives the weight 3");
	int from[2] = { 0 };
	od_train_rng_seed(&g, 1);
	for (int i = 0; !rc && i < 4000; i++) {
		od_train_data_sample(&d, &g, 1, &b);
		from[b.src]++;
	}
	ok(from[1] > 2 * from[0] && from[1] < 4 * from[0], "4000 draws: %d from weight 1, %d from weight 3", from[0],
	   from[1]);
	od_train_data_close(&d);
	od_train_batch_free(&b);

	/* source specs */
	char *p;
	double w;
	ok(!od_train_source_parse("a:b.odf", &p, &w) && !strcmp(p, "a:b.odf") && w == 1, "'a:b.odf' is a path");
	free(p);
	ok(!od_train_source_parse("x.odf:0.5", &p, &w) && !strcmp(p, "x.odf") && w == 0.5, "'x.odf:0.5'");
	free(p);
	ok(od_train_source_parse("x.odf:0", &p, &w) == OD_EINVAL, "a zero weight is refused");
	ok(od_train_source_parse("x.odf:-1", &p, &w) == OD_EINVAL, "a negative weight is refused");

	/* ---- bad data sets */
	od_out_open(&o, path_of("empty.odf"));
	od_out_commit(&o);
	refused("empty.odf", "no training jobs");

	od_out_open(&o, path_of("notarget.odf"));
	text(&o, OD_ROLE_CONDITION, 5, 3, 0.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_CONDITION, C, 4, 4, 1.0f, 1);
	od_out_commit(&o);
	refused("notarget.odf", "job 0 has no target frame");

	od_out_open(&o, path_of("textonly.odf"));
	text(&o, OD_ROLE_CONDITION, 5, 3, 0.0f);
	text(&o, OD_ROLE_NEGATIVE, 5, 3, 0.0f);
	od_out_commit(&o);
	refused("textonly.odf", "job 0 has no latent or rays frame");

	od_out_open(&o, path_of("channels.odf"));
	text(&o, OD_ROLE_CONDITION, 5, 3, 0.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, 32, 4, 4, 1.0f, 1);
	od_out_commit(&o);
	refused("channels.odf", "frame 1: 32 channels, the model takes 16");

	od_out_open(&o, path_of("sizes.odf"));
	text(&o, OD_ROLE_CONDITION, 5, 3, 0.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 4, 1.0f, 1);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 6, 1.0f, 1);
	od_out_commit(&o);
	refused("sizes.odf", "frame 2: size 4×6 differs from the job's 4×4");

	od_out_open(&o, path_of("placeholder.odf"));
	text(&o, OD_ROLE_CONDITION, 5, 3, 0.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 4, 0.0f, 0);
	od_out_commit(&o);
	refused("placeholder.odf", "frame 1: a placeholder latent frame has no data to train on");

	od_out_open(&o, path_of("first.odf"));
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 4, 1.0f, 1);
	od_out_commit(&o);
	refused("first.odf", "frame 0: a latent frame before any prompt text frame");

	od_out_open(&o, path_of("negonly.odf"));
	text(&o, OD_ROLE_NEGATIVE, 5, 3, 0.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 4, 1.0f, 1);
	od_out_commit(&o);
	refused("negonly.odf", "job 0 has a negative text frame but no prompt");

	od_out_open(&o, path_of("noise.odf"));
	text(&o, OD_ROLE_CONDITION, 5, 3, 0.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 4, 1.0f, 1);
	latent(&o, OD_KIND_NOISE, OD_ROLE_NONE, C, 4, 4, 1.0f, 1);
	od_out_commit(&o);
	refused("noise.odf", "frame 2: a noise frame");

	/* text of the wrong width: written with TD + 1 columns */
	od_out_open(&o, path_of("wide.odf"));
	{
		struct od_frame f;
		const int64_t shape[2] = { 5, TD + 1 };
		od_frame_init(&f, OD_KIND_TEXT, OD_ROLE_CONDITION, OD_F32, 2, shape, 1);
		uint8_t m[5] = { 1, 1, 0, 0, 0 };
		od_frame_set_mask(&f, m);
		od_frame_write(&o, &f);
		od_frame_free(&f);
	}
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 4, 1.0f, 1);
	od_out_commit(&o);
	refused("wide.odf", "frame 0: a text frame must be (S, 8) T5 states");

	/* a truncated file: the frame reader's message */
	{
		char *data;
		size_t len;
		od_read_file(path_of("good.odf"), 1 << 20, &data, &len);
		od_out_open(&o, path_of("cut.odf"));
		od_out_write(&o, data, len - 10);
		od_out_commit(&o);
		free(data);
	}
	refused("cut.odf", "truncated");

	/* standard input and missing files */
	char *dash[1] = { "-" };
	ok(od_train_data_open(&d, dash, 1, &opts) == OD_EINVAL && strstr(od_errmsg(), "not standard input"),
	   "standard input is refused: %s", od_errmsg());
	char *none[1] = { path_of("none.odf") };
	ok(od_train_data_open(&d, none, 1, &opts) == OD_EIO, "a missing file: %s", od_errmsg());

	/* a file changed after indexing: reported, not trusted */
	rc = od_train_data_open(&d, spec, 1, &opts);
	od_out_open(&o, good);
	text(&o, OD_ROLE_CONDITION, 5, 3, 0.0f);
	od_out_commit(&o);
	/* the source keeps its old descriptor (the file was replaced by a rename),
	 * so reading still works on the indexed data */
	int j0 = 0;
	ok(!rc && !od_train_data_read(&d, 0, &j0, 1, &b), "an indexed file replaced by a rename is still read whole");
	od_train_data_close(&d);
	/* one cut short in place is reported */
	od_out_open(&o, good);
	text(&o, OD_ROLE_CONDITION, 5, 3, 0.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 4, 1.0f, 1);
	text(&o, OD_ROLE_CONDITION, 5, 3, 0.0f);
	latent(&o, OD_KIND_LATENT, OD_ROLE_TARGET, C, 4, 4, 1.0f, 1);
	od_out_commit(&o);
	rc = od_train_data_open(&d, spec, 1, &opts);
	int j1 = 1;
	ok(!rc && !truncate(good, 300) && od_train_data_read(&d, 0, &j1, 1, &b) == OD_EFORMAT &&
	   strstr(od_errmsg(), "changed since it was indexed"), "a file cut after indexing: %s", od_errmsg());
	od_train_data_close(&d);
	od_train_batch_free(&b);

	/* memory index (what the fuzz target runs) */
	struct od_train_source ms;
	ok(od_train_data_index_mem(&ms, "\x89ODF", 4, "mem", &opts) == OD_EFORMAT, "a cut header in memory: %s",
	   od_errmsg());

	char cmd[1200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		ok(0, "clean up");
	return tap_done();
}
