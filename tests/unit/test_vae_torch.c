/*
 * test_vae_torch.c: od's VAE loss and gradients against PyTorch's autograd
 * (tests/fixtures/vae: make_vae_grads.py with diffusers' AutoencoderKL; its
 * PROVENANCE.md has the versions and the measured noise floors).
 *
 * The fixture holds a tiny SD3-architecture VAE (model/vae/, the Hugging Face
 * layout, loaded here with od_vae_open), a batch of 2 pictures of 16×24, the
 * posterior noise ε, and the loss L1 + 0.5·KL with its gradient for every
 * weight computed twice by PyTorch: in float32 and in float64 from the same
 * float32 weights. od computes in float32, so it is compared with the float64
 * values, within tolerances set from how far PyTorch's own float32 run lies
 * from them (the float32 noise floor, measured per tensor): at most 5.6e-6 of
 * a tensor's largest gradient, 9.5e-7 for the moments, 4.8e-7 for the decoder
 * output, 7e-8 for the loss. od sums in other orders (and some sums in
 * double), so it gets ten times that room:
 *   gradients  |g − g64| ≤ 6e-5·max|g64 of the tensor|  (the tensor's own scale)
 *   moments, decoder output  atol 1e-5;  loss, recon, kl  atol 1e-6
 * The two to_k.bias gradients are zero in exact arithmetic (a key bias adds the
 * same logit to every key of a query row); both runs give them below 1e-10,
 * and od must too (|g| ≤ 1e-8).
 * Also: ε is od_randn(99) bit for bit (od's noise is torch.randn's).
 */
#include "od.h"
#include "model/vae_grad.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct od_safetensors *fx;

static const struct od_tensor *get(const char *name)
{
	const struct od_tensor *t = od_st_find(fx, name);
	if (!t)
		printf("# fixture tensor '%s' is missing\n", name);
	return t;
}

/* A fixture tensor as float32 (F32 as is, F64 rounded), with its count. */
static float *as_f32(const char *name, size_t *n)
{
	const struct od_tensor *t = get(name);
	if (!t)
		return NULL;
	*n = (size_t)od_tensor_numel(t);
	float *x = malloc((*n ? *n : 1) * sizeof *x);
	if (t->dtype == OD_F64)
		for (size_t i = 0; i < *n; i++)
			x[i] = (float)((const double *)t->data)[i];
	else
		od_to_f32(x, t->data, t->dtype, *n);
	return x;
}

static double scalar64(const char *name)
{
	const struct od_tensor *t = get(name);
	return t && t->dtype == OD_F64 ? ((const double *)t->data)[0] : NAN;
}

int main(void)
{
	const char *src = getenv("OD_SRCDIR");
	char dir[1024], file[1100];
	snprintf(dir, sizeof dir, "%s/tests/fixtures/vae/model", src ? src : ".");
	snprintf(file, sizeof file, "%s/tests/fixtures/vae/vae_grads.safetensors", src ? src : ".");
	struct od_safetensors st;
	struct od_ctx *c;
	struct od_vae v;
	struct od_vae_params p;
	if (od_st_open(&st, file) || od_ctx_create(&c, OD_DEVICE_CPU, 0) || od_vae_open(&v, c, dir) ||
	    od_vae_params_init(&p, &v)) {
		ok(0, "open the fixture: %s", od_errmsg());
		return tap_done();
	}
	od_vae_close(&v);
	fx = &st;
	size_t nx, ne, nm, nr;
	float *x = as_f32("x", &nx), *eps = as_f32("eps", &ne), *m64 = as_f32("moments64", &nm), *r64 = as_f32("rec64", &nr);
	if (!x || !eps || !m64 || !r64)
		return tap_done();
	const int B = 2, H = 16, W = 24;
	ok(nx == (size_t)B * 3 * H * W && ne == (size_t)B * p.cfg.latent_channels * (H / 4) * (W / 4),
	   "the fixture's batch is 2 pictures of 16x24 (%zu values, %zu of noise)", nx, ne);
	float *mine = malloc(ne * sizeof *mine);
	od_randn(99, 0, ne, mine);
	ok(!memcmp(mine, eps, ne * sizeof *mine), "the fixture's noise is od_randn(99): torch.randn, bit for bit");

	float **g = calloc((size_t)p.n, sizeof *g), *mom = malloc(nm * sizeof *mom), *rec = malloc(nr * sizeof *rec);
	for (int i = 0; i < p.n; i++)
		g[i] = calloc((size_t)p.numel[i], sizeof(float));
	struct od_vae_batch b = { B, H, W, x, eps, mom, rec, 0 };
	struct od_vae_loss l;
	int rc = od_vae_loss_grad(c, &p, &b, 0.5, &l, g);
	ok(!rc, "loss and gradients of the fixture's batch: %s", rc ? od_errmsg() : "");
	ok_close(mom, m64, nm, 1e-5, 0, "moments against PyTorch float64");
	ok_close(rec, r64, nr, 1e-5, 0, "decoder output against PyTorch float64");
	const double L64 = scalar64("loss64"), R64 = scalar64("recon64"), K64 = scalar64("kl64");
	ok(fabs(l.loss - L64) <= 1e-6 && fabs(l.recon - R64) <= 1e-6 && fabs(l.kl - K64) <= 1e-6,
	   "loss %.9g (PyTorch float64 %.9g), recon %.9g (%.9g), kl %.9g (%.9g)", l.loss, L64, l.recon, R64, l.kl, K64);

	/* every weight's gradient; the fixture has exactly od's tensors */
	int n_grad = 0, bad = 0, missing = 0;
	double worst = 0;
	const char *worst_name = "";
	for (int i = 0; i < st.n_tensors; i++)
		n_grad += !strncmp(st.tensors[i].name, "grad64.", 7);
	for (int i = 0; i < p.n; i++) {
		char name[256];
		snprintf(name, sizeof name, "grad64.%s", p.names[i]);
		size_t n;
		float *e = as_f32(name, &n);
		if (!e || n != (size_t)p.numel[i]) {
			missing++;
			free(e);
			continue;
		}
		double mx = 0, err = 0;
		size_t at = 0;
		for (size_t k = 0; k < n; k++)
			mx = fmax(mx, fabs(e[k]));
		for (size_t k = 0; k < n; k++)
			if (fabs((double)g[i][k] - e[k]) > err)
				err = fabs((double)g[i][k] - e[k]), at = k;
		const int zero = mx < 1e-12; /* to_k.bias */
		const double lim = zero ? 1e-8 : 6e-5 * mx, rel = zero ? err / 1e-8 * 6e-5 : err / mx;
		if (!(err <= lim)) {
			bad++;
			printf("# %s[%zu]: od %.9g, PyTorch float64 %.9g (max |g| %.3g)\n", p.names[i], at, g[i][at], e[at], mx);
		}
		if (rel > worst)
			worst = rel, worst_name = p.names[i];
		free(e);
	}
	ok(!missing && n_grad == p.n, "the fixture has a gradient for each of od's %d tensors (%d there, %d missing)", p.n,
	   n_grad, missing);
	ok(!bad, "every gradient within 6e-5 of its tensor's largest (worst: %.3g of the largest, at %s)", worst,
	   worst_name);

	for (int i = 0; i < p.n; i++)
		free(g[i]);
	free(g), free(mom), free(rec), free(x), free(eps), free(m64), free(r64), free(mine);
	od_vae_params_free(&p);
	od_st_close(&st);
	od_ctx_destroy(c);
	return tap_done();
}
