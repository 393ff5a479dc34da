/* backend.c: compute contexts, the parameter cache and the CUDA plugin loader
 * (see backend.h). */
#include "compute/backend.h"
#include "base/blas.h"
#include "base/error.h"
#include "base/parallel.h"
#include "compute/cpu/cpu_kernels.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The cache is keyed by the tensor's data address and checked against its
 * dtype and size: tensor structs may be copies or reused stack variables, the
 * data they view is what identifies them. */
struct param_key {
	const void *data;
	enum od_dtype dtype;
	size_t nbytes;
};

struct od_param_cache {
	struct param_key *keys;
	float **vals;
	size_t cap, n;
};

int od_device_parse(const char *name, enum od_device *out)
{
	if (!strcmp(name, "cpu"))
		*out = OD_DEVICE_CPU;
	else if (!strcmp(name, "cuda") || !strcmp(name, "gpu"))
		*out = OD_DEVICE_CUDA;
	else
		return -1;
	return 0;
}

const char *od_device_name(enum od_device d)
{
	return d == OD_DEVICE_CUDA ? "cuda" : "cpu";
}

typedef const struct od_kernels *(*plugin_entry)(struct od_ctx *c, int abi, char *err, size_t errlen);

static int load_cuda(struct od_ctx *c)
{
	char exe[PATH_MAX], cand[6][PATH_MAX + 64];
	int n = 0;
	const char *env = getenv("OD_CUDA_PLUGIN");
	if (env && *env)
		snprintf(cand[n++], sizeof cand[0], "%s", env);
	ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (k > 0) {
		exe[k] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(cand[n++], sizeof cand[0], "%s/../lib/od-cuda.so", exe);
			snprintf(cand[n++], sizeof cand[0], "%s/../lib/od/od-cuda.so", exe);
		}
	}
	snprintf(cand[n++], sizeof cand[0], "%s/od/od-cuda.so", OD_LIBDIR);
	char why[512] = "not found";
	for (int i = 0; i < n; i++) {
		if (access(cand[i], R_OK) != 0)
			continue;
		/* RTLD_NODELETE: CUDA's libraries never unload cleanly (static
		 * initialisers, the C++ runtime's pools; LeakSanitizer reports them) */
		void *h = dlopen(cand[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
		if (!h) {
			snprintf(why, sizeof why, "%s", dlerror());
			continue;
		}
		plugin_entry entry = (plugin_entry)dlsym(h, "od_cuda_kernels");
		if (!entry) {
			snprintf(why, sizeof why, "'%s' has no od_cuda_kernels", cand[i]);
			dlclose(h);
			continue;
		}
		char err[512] = "";
		const struct od_kernels *ks = entry(c, OD_KERNELS_ABI, err, sizeof err);
		if (!ks) {
			dlclose(h);
			return od_error(OD_EDEVICE, "cuda: %s", err[0] ? err : "initialisation failed");
		}
		c->k = ks;
		c->plugin = h;
		return OD_OK;
	}
	return od_error(OD_EDEVICE, "cuda: the CUDA backend (od-cuda.so) is not available: %s; "
				    "this build may lack CUDA (configure --with-cuda)", why);
}

int od_ctx_create(struct od_ctx **out, enum od_device dev, int threads)
{
	struct od_ctx *c = calloc(1, sizeof *c);
	if (!c || !(c->params = calloc(1, sizeof *c->params))) {
		free(c);
		return od_error(OD_ENOMEM, "out of memory");
	}
	int rc = od_cpu_env_precision(&c->precision);
	if (rc) {
		free(c->params);
		free(c);
		return rc;
	}
	od_set_threads(threads);
	c->threads = od_threads();
	c->device = dev;
	c->k = &od_cpu_kernels;
	c->error = od_error;
	/* The CPU kernels call sgemm from every thread (compute/cpu/): OpenBLAS's
	 * work buffers are taken now, while a failure can still be reported. */
	rc = dev == OD_DEVICE_CUDA ? load_cuda(c) : od_blas_reserve(c->threads);
	if (rc) {
		free(c->params);
		free(c);
		return rc;
	}
	*out = c;
	return OD_OK;
}

void od_ctx_clear_params(struct od_ctx *c)
{
	struct od_param_cache *pc = c->params;
	for (size_t i = 0; i < pc->cap; i++)
		if (pc->keys[i].data && pc->vals[i])
			c->k->free(c, pc->vals[i]);
	free(pc->keys);
	free(pc->vals);
	pc->keys = NULL;
	pc->vals = NULL;
	pc->cap = pc->n = 0;
}

void od_ctx_destroy(struct od_ctx *c)
{
	if (!c)
		return;
	od_ctx_clear_params(c);
	free(c->params);
	if (c->k->release)
		c->k->release(c);
	if (c->plugin)
		dlclose(c->plugin);
	free(c);
}

void *od_alloc_bytes(struct od_ctx *c, size_t bytes)
{
	void *p = c->k->alloc(c, bytes ? bytes : 1);
	if (!p)
		od_error(OD_ENOMEM, "%s: out of memory allocating %zu bytes", c->k->name, bytes);
	return p;
}

float *od_alloc(struct od_ctx *c, size_t n)
{
	return od_alloc_bytes(c, n * sizeof(float));
}

void od_free(struct od_ctx *c, void *p)
{
	if (p)
		c->k->free(c, p);
}

static size_t hash_ptr(const void *p, size_t cap)
{
	uintptr_t x = (uintptr_t)p;
	x ^= x >> 17;
	x *= 0x9e3779b97f4a7c15ull;
	return (size_t)(x >> 20) & (cap - 1);
}

const float *od_param(struct od_ctx *c, const struct od_tensor *t)
{
	if (!t)
		return NULL;
	if (!t->data) {
		od_error(OD_EMODEL, "tensor '%s' has no data", t->name ? t->name : "?");
		return NULL;
	}
	/* On the CPU a float32 tensor is used in place (it is a view into the map). */
	if (c->device == OD_DEVICE_CPU && t->dtype == OD_F32)
		return t->data;
	struct od_param_cache *pc = c->params;
	size_t slot = 0;
	if (pc->cap) {
		for (slot = hash_ptr(t->data, pc->cap);; slot = (slot + 1) & (pc->cap - 1)) {
			if (!pc->keys[slot].data)
				break;
			if (pc->keys[slot].data == t->data) {
				if (pc->keys[slot].dtype == t->dtype && pc->keys[slot].nbytes == t->nbytes)
					return pc->vals[slot];
				break; /* same address, different tensor: replace the entry */
			}
		}
	}
	if (!pc->cap || !pc->keys[slot].data) {
		if (2 * (pc->n + 1) > pc->cap) {
			size_t cap = pc->cap ? 2 * pc->cap : 256;
			struct param_key *nk = calloc(cap, sizeof *nk);
			float **nv = calloc(cap, sizeof *nv);
			if (!nk || !nv) {
				free(nk);
				free(nv);
				od_error(OD_ENOMEM, "out of memory");
				return NULL;
			}
			for (size_t i = 0; i < pc->cap; i++)
				if (pc->keys[i].data) {
					size_t j = hash_ptr(pc->keys[i].data, cap);
					while (nk[j].data)
						j = (j + 1) & (cap - 1);
					nk[j] = pc->keys[i];
					nv[j] = pc->vals[i];
				}
			free(pc->keys);
			free(pc->vals);
			pc->keys = nk;
			pc->vals = nv;
			pc->cap = cap;
		}
		slot = hash_ptr(t->data, pc->cap);
		while (pc->keys[slot].data)
			slot = (slot + 1) & (pc->cap - 1);
		pc->n++;
	} else {
		c->k->free(c, pc->vals[slot]);
	}
	size_t n = (size_t)od_tensor_numel(t);
	float *d = od_alloc(c, n);
	if (d && c->k->param(c, d, t)) {
		od_free(c, d);
		d = NULL;
	}
	pc->keys[slot] = (struct param_key){ t->data, t->dtype, t->nbytes };
	pc->vals[slot] = d;
	if (!d) { /* keep the table consistent: drop the entry */
		pc->keys[slot].data = NULL;
		pc->n--;
		/* re-insert any entries of this probe run that followed it */
		for (size_t i = (slot + 1) & (pc->cap - 1); pc->keys[i].data; i = (i + 1) & (pc->cap - 1)) {
			struct param_key k = pc->keys[i];
			float *v = pc->vals[i];
			pc->keys[i].data = NULL;
			size_t j = hash_ptr(k.data, pc->cap);
			while (pc->keys[j].data)
				j = (j + 1) & (pc->cap - 1);
			pc->keys[j] = k;
			pc->vals[j] = v;
		}
	}
	return d;
}
