/*
 * denoise-input: write a synthetic od-denoise job for benchmarks (bench/denoise.sh).
 *
 *   denoise-input [--text-dim D] [--text-len S] [--tokens N] [--layout 0110...]
 *                 [--size WxH] [--rays] > job.odf
 *
 * Writes a prompt and a negative text frame of random N(0,1) states (S × D,
 * the first N positions unmasked), then one latent frame of WxH pixels
 * (W/8 × H/8 latents) per character of the layout (default "1"): 0 is a
 * condition frame with random data, 1 a target placeholder. With --rays the
 * frames alternate latent / rays (multiview layout: "00101010" is image to
 * 4-view multiview). Deterministic (fixed seeds).
 */
#include "od.h"
#include "tool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "denoise-input");
	static const struct option opts[] = {
		{ "text-dim", required_argument, 0, 'd' }, { "text-len", required_argument, 0, 'S' },
		{ "tokens", required_argument, 0, 'N' }, { "layout", required_argument, 0, 'L' },
		{ "size", required_argument, 0, 'z' },
		{ "rays", no_argument, 0, 'r' }, { 0 }
	};
	int D = 2048, S = 300, N = 40, h = 512, w = 512, rays = 0, c;
	const char *layout = "1";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': D = (int)od_opt_int("--text-dim", optarg, 1, 65536); break;
		case 'S': S = (int)od_opt_int("--text-len", optarg, 1, 65536); break;
		case 'N': N = (int)od_opt_int("--tokens", optarg, 1, 65536); break;
		case 'L':
			layout = optarg;
			if (!*layout || strspn(layout, "01") != strlen(layout))
				od_usage_error("--layout: '%s' is not a string of 0 (condition) and 1 (target)", layout);
			break;
		case 'z': od_opt_size("--size", optarg, &w, &h); break;
		case 'r': rays = 1; break;
		default: od_usage_error("unknown option");
		}
	}
	struct od_out out;
	int rc = od_out_open(&out, "-");
	if (rc)
		od_fail(rc);
	float *buf = malloc((size_t)(S * D > 16 * h * w ? S * D : 16 * h * w) * sizeof *buf);
	uint8_t *mask = malloc((size_t)S);
	if (!buf || !mask)
		od_die(OD_ENOMEM, "out of memory");
	for (int s = 0; s < S; s++)
		mask[s] = s < N;
	for (int i = 0; i < 2 && !rc; i++) {
		struct od_frame f;
		int64_t shape[2] = { S, D };
		od_randn(7 + i, 0, (size_t)S * D, buf);
		if (!(rc = od_frame_init(&f, OD_KIND_TEXT, i ? OD_ROLE_NEGATIVE : OD_ROLE_CONDITION, OD_F32, 2, shape, 0)) &&
		    !(rc = od_frame_from_f32(&f, buf)) && !(rc = od_frame_set_mask(&f, mask)))
			rc = od_frame_write(&out, &f);
		od_frame_free(&f);
	}
	const int F = (int)strlen(layout);
	for (int i = 0; i < F && !rc; i++) {
		struct od_frame f;
		int64_t shape[3] = { 16, h / 8, w / 8 };
		int cond = layout[i] == '0';
		enum od_kind kind = rays && (i % 2) ? OD_KIND_RAYS : OD_KIND_LATENT;
		if ((rc = od_frame_init(&f, kind, cond ? OD_ROLE_CONDITION : OD_ROLE_TARGET, OD_F32, 3, shape, 0)))
			break;
		if (cond) {
			od_randn(100 + i, 0, (size_t)16 * (h / 8) * (w / 8), buf);
			rc = od_frame_from_f32(&f, buf);
		}
		if (!rc)
			rc = od_frame_write(&out, &f);
		od_frame_free(&f);
	}
	if (!rc)
		rc = od_out_commit(&out);
	free(buf);
	free(mask);
	if (rc)
		od_fail(rc);
	return 0;
}
