/*
 * vae-train: the time of one VAE training step (bench/vae-train.sh).
 *
 *   vae-train [--size S] [--batch B] [--reps N] [--threads T]
 *
 * A fresh small VAE in the SD3 architecture (block_out_channels 32, 64, 64, 64;
 * layers_per_block 1; norm_num_groups 32; 16 latent channels; the mid-block
 * attention), random pictures and noise; one warm-up step, then N timed steps
 * of od_vae_loss_grad plus the AdamW update (what od-train vae does per step,
 * less the crops). Prints one line:
 *   size=S batch=B reps=N median_s=... min_s=... gflop=... gflops=...
 * FLOPs counted are the GEMM work: per convolution 2·Cout·Cin·k²·Hout·Wout
 * forward, twice that backward (dx and dW; the encoder's conv_in has no dx);
 * the attention's four linears likewise, and its products 2·2·L²·C forward and
 * 5·2·L²·C backward (the probabilities are recomputed: S, then dV, dP, dQ, dK).
 * Norms, activations, up-sampling and the optimiser are not counted.
 */
#include "od.h"
#include "model/vae_grad.h"
#include "train/adamw.h"
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double conv_f(double co, double ci, double k, double H, double W)
{
	return 2 * co * ci * k * k * H * W;
}

static double res_f(double ci, double co, double H, double W)
{
	return conv_f(co, ci, 3, H, W) + conv_f(co, co, 3, H, W) + (ci != co ? conv_f(co, ci, 1, H, W) : 0);
}

/* Forward GEMM FLOPs of one picture (attention products apart), and the attention's L and C. */
static double forward_flops(const struct od_vae_config *c, int S, double *conv_in, double *att)
{
	const int n = c->n_blocks, L = c->latent_channels;
	double f = 0, H = S, W = S, prev = c->block_out[0];
	*conv_in = conv_f(c->block_out[0], 3, 3, H, W);
	f += *conv_in;
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < c->layers_per_block; j++) {
			f += res_f(j ? c->block_out[i] : prev, c->block_out[i], H, W);
			prev = c->block_out[i];
		}
		if (i < n - 1) {
			H /= 2, W /= 2;
			f += conv_f(prev, prev, 3, H, W);
		}
	}
	const double C = c->block_out[n - 1], T = H * W;
	f += 2 * (2 * res_f(C, C, H, W) + 4 * 2 * T * C * C); /* both mid blocks' ResBlocks and linears */
	*att = 2 * 2 * T * T * C;                              /* per mid block, forward */
	f += conv_f(2 * L, C, 3, H, W) + conv_f(C, L, 3, H, W); /* encoder conv_out, decoder conv_in */
	prev = C;
	for (int i = 0; i < n; i++) {
		const double co = c->block_out[n - 1 - i];
		for (int j = 0; j < c->layers_per_block + 1; j++) {
			f += res_f(j ? co : prev, co, H, W);
			prev = co;
		}
		if (i < n - 1) {
			H *= 2, W *= 2;
			f += conv_f(co, co, 3, H, W);
		}
	}
	return f + conv_f(3, c->block_out[0], 3, H, W);
}

int main(int argc, char **argv)
{
	od_tool_init(argc, argv, "vae-train");
	int S = 64, B = 8, reps = 3, threads = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc)
			S = (int)od_opt_int("--size", argv[++i], 8, 4096);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			B = (int)od_opt_int("--batch", argv[++i], 1, 1024);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = (int)od_opt_int("--reps", argv[++i], 1, 1000);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = (int)od_opt_int("--threads", argv[++i], 1, 1024);
		else
			od_usage_error("usage: vae-train [--size S] [--batch B] [--reps N] [--threads T]");
	}
	json_t *j = json_loads("{\"in_channels\": 3, \"out_channels\": 3, \"latent_channels\": 16,"
			       " \"block_out_channels\": [32, 64, 64, 64], \"layers_per_block\": 1,"
			       " \"norm_num_groups\": 32, \"mid_block_add_attention\": true,"
			       " \"use_quant_conv\": false, \"use_post_quant_conv\": false}",
			       0, NULL);
	struct od_vae_config cf;
	struct od_vae_params p;
	struct od_ctx *c;
	int rc;
	if (!j || (rc = od_vae_config_parse(j, &cf, "bench")) || (rc = od_vae_params_init_random(&p, &cf, 0)) ||
	    (rc = od_ctx_create(&c, OD_DEVICE_CPU, threads)))
		od_fail(OD_EFAIL);
	if (S % cf.downscale)
		od_usage_error("--size must be a multiple of %d", cf.downscale);
	const size_t nx = (size_t)B * 3 * S * S, ne = (size_t)B * 16 * (S / 8) * (S / 8);
	float *x = malloc(nx * sizeof *x), *eps = malloc(ne * sizeof *eps), **g = calloc((size_t)p.n, sizeof *g);
	od_randn(1, 0, nx, x);
	for (size_t i = 0; i < nx; i++)
		x[i] = x[i] * 0.5f;
	od_randn(2, 0, ne, eps);
	for (int i = 0; i < p.n; i++)
		g[i] = malloc((size_t)p.numel[i] * sizeof(float));
	struct od_adamw opt;
	struct od_adamw_opts ao = { 0.9, 0.999, 1e-8, 0.01 };
	if (od_adamw_init(&opt, &ao, p.n, p.numel))
		od_fail(OD_ENOMEM);
	struct od_vae_batch b = { B, S, S, x, eps, NULL, NULL, 0 };
	double *t = malloc((size_t)(reps + 1) * sizeof *t);
	for (int r = 0; r <= reps; r++) { /* r = 0: warm-up */
		double t0 = od_now();
		for (int i = 0; i < p.n; i++)
			memset(g[i], 0, (size_t)p.numel[i] * sizeof(float));
		struct od_vae_loss l;
		if ((rc = od_vae_loss_grad(c, &p, &b, 1e-6, &l, g)))
			od_fail(rc);
		od_adamw_step(&opt, p.data, (const float *const *)g, 1e-4);
		t[r] = od_now() - t0;
	}
	/* median of the timed steps */
	for (int i = 1; i <= reps; i++)
		for (int k = i + 1; k <= reps; k++)
			if (t[k] < t[i]) {
				double s = t[i];
				t[i] = t[k], t[k] = s;
			}
	double med = reps % 2 ? t[1 + reps / 2] : 0.5 * (t[reps / 2] + t[reps / 2 + 1]);
	double cin, att, fwd = forward_flops(&cf, S, &cin, &att);
	double flop = B * (3 * fwd - cin + 2 * (att + 2.5 * att)); /* 2 mid blocks: forward 1, backward 2.5 */
	printf("size=%d batch=%d reps=%d threads=%d median_s=%.4f min_s=%.4f gflop=%.3f gflops=%.2f\n", S, B, reps,
	       od_threads(), med, t[1], flop / 1e9, flop / med / 1e9);
	return 0;
}
