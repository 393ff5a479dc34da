/*
 * test_job: what od-denoise asks the library before reading any job
 * (lib/pipeline/job.h): the mask's syntax, the text-to-image size rule, and
 * the model-derived options, with the VAE scale factor read from
 * vae/config.json (upstream.md §1.4: 2^(len(block_out_channels)-1)).
 */
#include "od.h"
#include "pipeline/job.h"
#include "model/vae_config.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int refused(int rc, const char *msg)
{
	int good = rc == OD_EINVAL && !strcmp(od_errmsg(), msg);
	if (!good)
		printf("# rc %d, message '%s'\n# wanted '%s'\n", rc, od_errmsg(), msg);
	return good;
}

/* A model folder holding only vae/config.json with these block widths. */
static void write_vae(const char *model, const char *blocks)
{
	char path[600];
	snprintf(path, sizeof path, "%s/vae", model);
	mkdir(model, 0777);
	mkdir(path, 0777);
	snprintf(path, sizeof path, "%s/vae/config.json", model);
	FILE *f = fopen(path, "w");
	if (f) {
		fprintf(f, "{\"_class_name\": \"AutoencoderKL\", \"latent_channels\": 16, \"block_out_channels\": %s}\n",
			blocks);
		fclose(f);
	}
}

int main(void)
{
	/* masks */
	ok(od_job_mask_check("10") == OD_OK && od_job_mask_check("0,0,1,0") == OD_OK &&
		   od_job_mask_check("1 0 1") == OD_OK,
	   "masks: digits, with commas or spaces");
	ok(refused(od_job_mask_check("1x0"), "'1x0' is not a list of 0 and 1 like 10 or 001010"), "a mask with a letter");
	ok(refused(od_job_mask_check("102"), "'102' is not a list of 0 and 1 like 10 or 001010"), "a mask with a 2");
	ok(refused(od_job_mask_check(","), "',' is empty"), "a mask without digits");
	ok(refused(od_job_mask_check(""), "'' is empty"), "an empty mask");

	/* text-to-image sizes: whole 2x2 patches of latent pixels */
	struct od_job_opts o = { .width = 768, .height = 512, .vae_scale = 8 };
	ok(od_job_size_check(&o) == OD_OK, "768x512 with a VAE factor of 8");
	o.width = 72, o.height = 64;
	ok(refused(od_job_size_check(&o), "72x64 is not a multiple of 16 on both sides"), "72x64 refused");
	o.vae_scale = 4;
	ok(od_job_size_check(&o) == OD_OK, "72x64 with a VAE factor of 4");
	o.width = 0;
	ok(refused(od_job_size_check(&o), "0x64 is not a multiple of 8 on both sides"), "a zero width");
	o.vae_scale = 0, o.width = 64;
	ok(od_job_size_check(&o) == OD_EINVAL, "no VAE factor: refused, not a division by zero");

	/* the VAE factor and the options for a model */
	const char *model = getenv("OD_MODEL");
	const char *t = getenv("TMPDIR");
	if (!model) {
		printf("# OD_MODEL is not set: model checks skipped\n");
		return tap_done();
	}
	int scale = 0, rc;
	ok(od_vae_scale_factor(model, &scale) == OD_OK && scale == 8, "the tiny model's VAE: 4 blocks, factor 8");
	struct od_nextdit_config c = { .in_channels = 16, .caption_channels = 64, .input_size = { 1, 8, 6 } };
	struct od_job_opts jo = { .mask = "10" };
	rc = od_job_opts_for_model(&jo, &c, model);
	ok(rc == OD_OK && jo.vae_scale == 8 && jo.channels == 16 &&
		   jo.text_dim == 64 && jo.width == 48 && jo.height == 64 && !strcmp(jo.mask, "10"),
	   "options for a model: the default size is input_size times the factor (%dx%d)", jo.width, jo.height);

	char dir[512];
	snprintf(dir, sizeof dir, "%s/od-test-job.XXXXXX", t ? t : "/tmp");
	if (!ok(mkdtemp(dir) != NULL, "temporary directory"))
		return tap_done();
	char m3[600], none[600], bad[600];
	snprintf(m3, sizeof m3, "%s/three", dir);
	snprintf(none, sizeof none, "%s/novae", dir);
	snprintf(bad, sizeof bad, "%s/bad", dir);
	write_vae(m3, "[32, 64, 64]");
	mkdir(none, 0777);
	write_vae(bad, "[]");
	rc = od_vae_scale_factor(m3, &scale);
	ok(rc == OD_OK && scale == 4, "3 blocks: factor 4 (%d)", scale);
	rc = od_job_opts_for_model(&jo, &c, m3);
	ok(rc == OD_OK && jo.width == 24 && jo.height == 32,
	   "... and the default size follows it (%dx%d)", jo.width, jo.height);
	ok(od_vae_scale_factor(none, &scale) == OD_OK && scale == 8, "a model without vae/: factor 8");
	rc = od_vae_scale_factor(bad, &scale);
	ok(rc == OD_EMODEL && strstr(od_errmsg(), "config.json"), "a VAE config without blocks: a model error (%s)",
	   od_errmsg());
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
