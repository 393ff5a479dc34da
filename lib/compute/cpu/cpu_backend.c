/* cpu_backend.c: the CPU backend's memory functions and kernel table. */
#include "compute/cpu/cpu_kernels.h"
#include "base/error.h"

#include <stdlib.h>
#include <string.h>

/* Every block carries a 64-byte header holding its size, so the context can
 * report current and peak memory; data stays 64-byte aligned. */
#define HDR 64

static void *cpu_alloc(struct od_ctx *c, size_t bytes)
{
	if (bytes > ((size_t)1 << 46))
		return NULL;
	char *p = aligned_alloc(64, HDR + ((bytes + 63) & ~(size_t)63));
	if (!p)
		return NULL;
	memcpy(p, &bytes, sizeof bytes);
	c->bytes_now += bytes;
	if (c->bytes_now > c->bytes_peak)
		c->bytes_peak = c->bytes_now;
	return p + HDR;
}

static void cpu_free(struct od_ctx *c, void *p)
{
	if (!p)
		return;
	char *h = (char *)p - HDR;
	size_t bytes;
	memcpy(&bytes, h, sizeof bytes);
	c->bytes_now -= bytes;
	free(h);
}

static int cpu_memcpy(struct od_ctx *c, void *dst, const void *src, size_t bytes)
{
	if (dst != src)
		memmove(dst, src, bytes);
	return OD_OK;
}

static int cpu_sync(struct od_ctx *c)
{
	return OD_OK;
}

static int cpu_param(struct od_ctx *c, float *dst, const struct od_tensor *t)
{
	if (!od_dtype_is_float(t->dtype))
		return od_error(OD_EMODEL, "tensor '%s' is %s, not a float type", t->name ? t->name : "?",
				od_dtype_name(t->dtype));
	od_to_f32(dst, t->data, t->dtype, (size_t)od_tensor_numel(t));
	return OD_OK;
}

static void cpu_release(struct od_ctx *c)
{
}

static _Thread_local float *tls_buf[OD_CPU_SCRATCH_SLOTS];
static _Thread_local size_t tls_len[OD_CPU_SCRATCH_SLOTS];

float *od_cpu_thread_scratch(int slot, size_t n)
{
	if (tls_len[slot] < n) {
		free(tls_buf[slot]);
		size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
		tls_buf[slot] = aligned_alloc(64, bytes);
		tls_len[slot] = tls_buf[slot] ? n : 0;
	}
	return tls_buf[slot];
}

const struct od_kernels od_cpu_kernels = {
	.name = "cpu",
	.alloc = cpu_alloc,
	.free = cpu_free,
	.upload = cpu_memcpy,
	.download = cpu_memcpy,
	.copy = cpu_memcpy,
	.sync = cpu_sync,
	.param = cpu_param,
	.release = cpu_release,
	.linear = od_cpu_linear,
	.attention = od_cpu_attention,
	.rmsnorm = od_cpu_rmsnorm,
	.layernorm = od_cpu_layernorm,
	.groupnorm = od_cpu_groupnorm,
	.act = od_cpu_act,
	.act_mul = od_cpu_act_mul,
	.binary = od_cpu_binary,
	.axpby = od_cpu_axpby,
	.transpose = od_cpu_transpose,
	.rmsnorm_modulate = od_cpu_rmsnorm_modulate,
	.layernorm_modulate = od_cpu_layernorm_modulate,
	.rmsnorm_gate_add = od_cpu_rmsnorm_gate_add,
	.rope = od_cpu_rope,
	.head_gate_add = od_cpu_head_gate_add,
	.conv2d = od_cpu_conv2d,
	.upsample2x = od_cpu_upsample2x,
	.linear_backward_x = od_cpu_linear_backward_x,
	.linear_backward_w = od_cpu_linear_backward_w,
	.attention_lse = od_cpu_attention_lse,
	.attention_backward = od_cpu_attention_backward,
	.rmsnorm_backward = od_cpu_rmsnorm_backward,
	.layernorm_backward = od_cpu_layernorm_backward,
	.rmsnorm_modulate_backward = od_cpu_rmsnorm_modulate_backward,
	.layernorm_modulate_backward = od_cpu_layernorm_modulate_backward,
	.rmsnorm_gate_add_backward = od_cpu_rmsnorm_gate_add_backward,
	.rope_backward = od_cpu_rope_backward,
	.head_gate_add_backward = od_cpu_head_gate_add_backward,
	.act_backward = od_cpu_act_backward,
	.act_mul_backward = od_cpu_act_mul_backward,
	.conv2d_backward = od_cpu_conv2d_backward,
	.groupnorm_backward = od_cpu_groupnorm_backward,
	.upsample2x_backward = od_cpu_upsample2x_backward,
	.posterior = od_cpu_posterior,
	.posterior_backward = od_cpu_posterior_backward,
};
