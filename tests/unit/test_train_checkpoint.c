/*
 * test_train_checkpoint: training checkpoints (train/checkpoint.h): the state
 * file round trip, its validation (damaged, foreign and inconsistent states
 * refused with the right status), the model folder layout with linked
 * components, `latest`, pruning, --resume's lookup, and atomicity: a write
 * that fails on a full disk (RLIMIT_FSIZE) leaves the previous checkpoint and
 * `latest` as they were and no temporary folder behind.
 */
#include "od.h"
#include "train/checkpoint.h"
#include "tap.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[1024];

static char *at(const char *name)
{
	static char buf[4][2048];
	static int k;
	char *p = buf[k++ % 4];
	snprintf(p, 2048, "%s/%s", dir, name);
	return p;
}

static int read_all(const char *path, char **data, size_t *len)
{
	return od_read_file(path, (size_t)1 << 30, data, len);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR"), *model = getenv("OD_MODEL");
	snprintf(dir, sizeof dir, "%s/test_train_ckpt.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir) || !model) {
		ok(0, "temporary folder and OD_MODEL");
		return tap_done();
	}
	/* two tensors: a (4) and b (2, 3) */
	const char *names[2] = { "a", "layers.0.b" };
	struct od_tensor shapes[2] = { { .ndim = 1, .shape = { 4 } }, { .ndim = 2, .shape = { 2, 3 } } };
	struct od_train_tensors t = { .n = 2, .names = names, .shapes = shapes };
	float m0[4] = { 1, 2, 3, 4 }, m1[6] = { 5, 6, 7, 8, 9, 10 }, v0[4] = { 0.1f, 0.2f, 0.3f, 0.4f };
	float v1[6] = { 1, 1, 1, 1, 1, 1 }, e0[4] = { -1, -2, -3, -4 }, e1[6] = { 0 };
	float *m[2] = { m0, m1 }, *v[2] = { v0, v1 }, *e[2] = { e0, e1 };
	struct od_train_state s = { .step = 17, .m = m, .v = v, .ema = e };
	s.settings = json_pack("{s:i, s:f}", "batch", 2, "lr", 1e-4);
	s.data = json_pack("[{s:s, s:i}]", "path", "x.odf", "jobs", 3);
	struct od_train_rng g;
	od_train_rng_seed(&g, 5);
	od_train_rng_export(&g, s.rng_noise);
	od_train_rng_seed(&g, 6);
	float tmpf[3];
	od_train_randn(&g, 3, tmpf);
	od_train_rng_export(&g, s.rng_data);

	/* round trip */
	int rc = od_train_state_write(at("state.safetensors"), &s, &t);
	ok(!rc, "write a state: %s", rc ? od_errmsg() : "ok");
	struct od_train_state r;
	rc = od_train_state_read(at("state.safetensors"), &t, &r);
	ok(!rc, "read it back: %s", rc ? od_errmsg() : "ok");
	ok(!rc && r.step == 17 && json_integer_value(json_object_get(r.settings, "batch")) == 2 &&
	   json_array_size(r.data) == 1, "step, settings and data");
	ok(!rc && !memcmp(r.m[0], m0, sizeof m0) && !memcmp(r.m[1], m1, sizeof m1) && !memcmp(r.v[0], v0, sizeof v0) &&
	   !memcmp(r.v[1], v1, sizeof v1) && r.ema && !memcmp(r.ema[0], e0, sizeof e0),
	   "moments and EMA");
	ok(!rc && !memcmp(r.rng_noise, s.rng_noise, sizeof s.rng_noise) &&
	   !memcmp(r.rng_data, s.rng_data, sizeof s.rng_data), "both generators (with the cached normal)");
	if (!rc)
		od_train_state_free(&r, 2);

	/* without an EMA */
	s.ema = NULL;
	rc = od_train_state_write(at("noema.safetensors"), &s, &t);
	rc = rc ? rc : od_train_state_read(at("noema.safetensors"), &t, &r);
	ok(!rc && !r.ema, "a state without an EMA reads back without one");
	if (!rc)
		od_train_state_free(&r, 2);
	s.ema = e;

	/* another model's state */
	struct od_tensor other[2] = { { .ndim = 1, .shape = { 5 } }, { .ndim = 2, .shape = { 2, 3 } } };
	struct od_train_tensors t2 = { .n = 2, .names = names, .shapes = other };
	ok(od_train_state_read(at("state.safetensors"), &t2, &r) == OD_EMODEL && strstr(od_errmsg(), "(4)") &&
	   strstr(od_errmsg(), "(5)"), "a state for other shapes: %s", od_errmsg());
	const char *names3[3] = { "a", "layers.0.b", "c" };
	struct od_tensor shapes3[3] = { shapes[0], shapes[1], { .ndim = 1, .shape = { 1 } } };
	struct od_train_tensors t3 = { .n = 3, .names = names3, .shapes = shapes3 };
	ok(od_train_state_read(at("state.safetensors"), &t3, &r) == OD_EMODEL, "a state with fewer tensors: %s",
	   od_errmsg());
	const char *renamed[2] = { "a", "layers.0.c" };
	struct od_train_tensors t4 = { .n = 2, .names = renamed, .shapes = shapes };
	ok(od_train_state_read(at("state.safetensors"), &t4, &r) == OD_EMODEL && strstr(od_errmsg(), "layers.0.c"),
	   "a state with other names: %s", od_errmsg());

	/* damaged states */
	char *data;
	size_t len;
	read_all(at("state.safetensors"), &data, &len);
	ok(od_train_state_parse(data, len - 9, "cut", &t, &r) == OD_EFORMAT, "a truncated state: %s", od_errmsg());
	ok(od_train_state_parse(data, 7, "tiny", &t, &r) == OD_EFORMAT, "7 bytes: %s", od_errmsg());
	/* a NaN in a moment */
	char *bad = malloc(len);
	memcpy(bad, data, len);
	{
		struct od_safetensors st = { 0 };
		od_st_parse(&st, bad, len, "x");
		const struct od_tensor *x = od_st_find(&st, "adamw.exp_avg.a");
		size_t off = (size_t)((const char *)x->data - bad);
		od_st_close(&st);
		uint32_t nan = 0x7fc00000;
		memcpy(bad + off, &nan, 4);
	}
	ok(od_train_state_parse(bad, len, "nan", &t, &r) == OD_EFORMAT && strstr(od_errmsg(), "not finite"),
	   "a NaN moment: %s", od_errmsg());
	/* a negative second moment */
	memcpy(bad, data, len);
	{
		struct od_safetensors st = { 0 };
		od_st_parse(&st, bad, len, "x");
		const struct od_tensor *x = od_st_find(&st, "adamw.exp_avg_sq.a");
		size_t off = (size_t)((const char *)x->data - bad);
		od_st_close(&st);
		float neg = -1;
		memcpy(bad + off, &neg, 4);
	}
	ok(od_train_state_parse(bad, len, "neg", &t, &r) == OD_EFORMAT && strstr(od_errmsg(), "negative"),
	   "a negative second moment: %s", od_errmsg());
	/* a generator word out of range */
	memcpy(bad, data, len);
	{
		struct od_safetensors st = { 0 };
		od_st_parse(&st, bad, len, "x");
		const struct od_tensor *x = od_st_find(&st, "rng.data");
		size_t off = (size_t)((const char *)x->data - bad);
		od_st_close(&st);
		int64_t big = (int64_t)1 << 40;
		memcpy(bad + off + 8 * 10, &big, 8);
	}
	ok(od_train_state_parse(bad, len, "rng", &t, &r) == OD_EFORMAT && strstr(od_errmsg(), "rng.data"),
	   "a generator word out of range: %s", od_errmsg());
	free(bad);
	free(data);
	/* a plain safetensors file (a weights file) is not a state */
	char wpath[2048];
	snprintf(wpath, sizeof wpath, "%s/transformer/diffusion_pytorch_model.safetensors", model);
	ok(od_train_state_read(wpath, &t, &r) == OD_EFORMAT && strstr(od_errmsg(), "not an od training state"),
	   "a weights file: %s", od_errmsg());

	/* ---- model folders */
	float w0[4] = { 1, 2, 3, 4 }, w1[6] = { 6, 5, 4, 3, 2, 1 };
	float *w[2] = { w0, w1 };
	const char cfg[] = "{\"hidden_size\": 96}\n";
	struct od_train_model mo = { .base = model, .config = cfg, .config_len = sizeof cfg - 1, .t = t, .data = w,
				     .state = &s };
	rc = od_train_model_write(dir, "step-0000017", &mo);
	ok(!rc, "write step-0000017: %s", rc ? od_errmsg() : "ok");
	ok(od_is_file(at("step-0000017/transformer/config.json")) &&
	   od_is_file(at("step-0000017/transformer/diffusion_pytorch_model.safetensors")) &&
	   od_is_file(at("step-0000017/train_state.safetensors")), "config, weights and state");
	struct stat sb;
	char vae_real[4096], *rp;
	snprintf(vae_real, sizeof vae_real, "%s/vae", model);
	rp = realpath(vae_real, NULL);
	char linkbuf[4096] = { 0 };
	ssize_t ll = readlink(at("step-0000017/vae"), linkbuf, sizeof linkbuf - 1);
	ok(!lstat(at("step-0000017/vae"), &sb) && S_ISLNK(sb.st_mode) && ll > 0 && rp && !strcmp(linkbuf, rp),
	   "vae/ is a link to the base's resolved folder (%s)", linkbuf);
	free(rp);
	ok(od_is_dir(at("step-0000017/text_encoder")) && od_is_dir(at("step-0000017/tokenizer")) &&
	   od_is_dir(at("step-0000017/scheduler")) && od_is_file(at("step-0000017/model_index.json")),
	   "text_encoder, tokenizer, scheduler and model_index.json too");
	struct od_safetensors ws;
	rc = od_st_open(&ws, at("step-0000017/transformer/diffusion_pytorch_model.safetensors"));
	const struct od_tensor *wb = rc ? NULL : od_st_find(&ws, "layers.0.b");
	ok(wb && wb->dtype == OD_F32 && wb->ndim == 2 && wb->shape[1] == 3 && !memcmp(wb->data, w1, sizeof w1) &&
	   od_st_meta(&ws, "format") && !strcmp(od_st_meta(&ws, "format"), "pt"), "the weights: F32, their shapes, format pt");
	if (!rc)
		od_st_close(&ws);

	/* a checkpoint written from a checkpoint links to the original, not to a link */
	mo.base = at("step-0000017");
	char base2[2048];
	snprintf(base2, sizeof base2, "%s", mo.base);
	mo.base = base2;
	rc = od_train_model_write(dir, "step-0000018", &mo);
	memset(linkbuf, 0, sizeof linkbuf);
	ll = readlink(at("step-0000018/vae"), linkbuf, sizeof linkbuf - 1);
	ok(!rc && ll > 0 && !strstr(linkbuf, "step-0000017"), "a checkpoint of a checkpoint links to the original (%s)",
	   linkbuf);
	mo.base = model;

	ok(!od_train_set_latest(dir, "step-0000017") && readlink(at("latest"), linkbuf, sizeof linkbuf) == 12,
	   "latest -> step-0000017");
	char *ck = NULL;
	rc = od_train_resume_find(dir, &ck);
	ok(!rc && ck && strstr(ck, "latest"), "--resume OUTDIR finds latest (%s)", ck ? ck : "none");
	free(ck);
	ok(!od_train_resume_find(at("step-0000018"), &ck) && ck && strstr(ck, "step-0000018"),
	   "--resume CHECKPOINT is taken as it is");
	free(ck);
	ok(od_train_resume_find(model, &ck) == OD_EINVAL && strstr(od_errmsg(), "no checkpoint to resume"),
	   "a model folder is no checkpoint: %s", od_errmsg());
	ok(od_train_resume_find(at("nowhere"), &ck) == OD_EIO, "a missing folder: %s", od_errmsg());

	/* rewriting an existing step replaces it */
	w0[0] = 42;
	ok(!od_train_model_write(dir, "step-0000017", &mo), "rewrite step-0000017");
	rc = od_st_open(&ws, at("step-0000017/transformer/diffusion_pytorch_model.safetensors"));
	const struct od_tensor *wa = rc ? NULL : od_st_find(&ws, "a");
	ok(wa && ((const float *)wa->data)[0] == 42, "... with the new weights");
	if (!rc)
		od_st_close(&ws);

	/* a full disk: the write fails, nothing changes */
	char *before_w, *before_s;
	size_t lw, ls;
	read_all(at("step-0000017/transformer/diffusion_pytorch_model.safetensors"), &before_w, &lw);
	read_all(at("step-0000017/train_state.safetensors"), &before_s, &ls);
	float big[4096] = { 0 }, bigm[4096] = { 0 }, bigv[4096] = { 0 };
	const char *bn[1] = { "big" };
	struct od_tensor bs[1] = { { .ndim = 1, .shape = { 4096 } } };
	float *bw[1] = { big }, *bmm[1] = { bigm }, *bvv[1] = { bigv };
	struct od_train_state bst = s;
	bst.m = bmm, bst.v = bvv, bst.ema = NULL;
	struct od_train_model big_mo = { .base = model, .config = cfg, .config_len = sizeof cfg - 1,
					  .t = { .n = 1, .names = bn, .shapes = bs }, .data = bw, .state = &bst };
	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 8192; /* the weights (16 KiB) do not fit */
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &lim);
	rc = od_train_model_write(dir, "step-0000017", &big_mo);
	setrlimit(RLIMIT_FSIZE, &old);
	ok(rc == OD_EIO && strstr(od_errmsg(), "write failed"), "a full disk: %s", od_errmsg());
	char *after_w, *after_s;
	size_t aw, as;
	read_all(at("step-0000017/transformer/diffusion_pytorch_model.safetensors"), &after_w, &aw);
	read_all(at("step-0000017/train_state.safetensors"), &after_s, &as);
	ok(aw == lw && as == ls && !memcmp(after_w, before_w, lw) && !memcmp(after_s, before_s, ls),
	   "... the previous checkpoint is intact");
	ok(readlink(at("latest"), linkbuf, sizeof linkbuf) == 12 && !strncmp(linkbuf, "step-0000017", 12),
	   "... latest unchanged");
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q tmp", dir);
	ok(system(cmd) != 0, "... and no temporary folder is left");
	free(before_w), free(before_s), free(after_w), free(after_s);

	/* prune keeps the newest */
	for (int k = 19; k <= 22; k++) {
		char name[64];
		od_train_step_name(k, name, sizeof name);
		od_train_model_write(dir, name, &mo);
	}
	ok(!od_train_prune(dir, 1, 0, 19) && od_is_dir(at("step-0000019")) && !od_is_dir(at("step-0000018")) &&
	   od_is_dir(at("step-0000020")) && od_is_dir(at("step-0000022")),
	   "prune up to step 19 keeps 19 and leaves the later ones");
	ok(!od_train_prune(dir, 2, 20, 100) && !od_is_dir(at("step-0000017")) && od_is_dir(at("step-0000020")) &&
	   !od_is_dir(at("step-0000019")) && od_is_dir(at("step-0000021")) && od_is_dir(at("step-0000022")),
	   "prune keeps the 2 newest and the multiples of 20");
	ok(!od_train_prune(dir, 1, 0, 100) && !od_is_dir(at("step-0000020")) && !od_is_dir(at("step-0000021")) &&
	   od_is_dir(at("step-0000022")), "without milestones, prune keeps the newest only");
	ok(od_is_dir(model) && od_is_file(wpath), "pruning removes the links, never what they point to");

	json_decref(s.settings);
	json_decref(s.data);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		ok(0, "clean up");
	return tap_done();
}
