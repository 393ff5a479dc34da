/* nextdit_case.c: training batches from .safetensors files (see nextdit_case.h). */
#include "model/nextdit_case.h"
#include "base/error.h"

#include <stdlib.h>
#include <string.h>

static const struct od_tensor *need(const struct od_safetensors *st, const char *name, int ndim, const char *label,
				    int *rc)
{
	const struct od_tensor *t = od_st_find(st, name);
	if (!t) {
		*rc = od_error(OD_EFORMAT, "'%s': no tensor '%s'", label, name);
		return NULL;
	}
	if (t->ndim != ndim) {
		*rc = od_error(OD_EFORMAT, "'%s': '%s' has %d dimensions, not %d", label, name, t->ndim, ndim);
		return NULL;
	}
	for (int i = 0; i < ndim; i++)
		if (t->shape[i] < 1 || t->shape[i] > (1 << 24)) {
			*rc = od_error(OD_EFORMAT, "'%s': '%s' has an empty or oversized dimension", label, name);
			return NULL;
		}
	return t;
}

static float *widen(const struct od_tensor *t, const char *label, int *rc)
{
	if (!od_dtype_is_float(t->dtype)) {
		*rc = od_error(OD_EFORMAT, "'%s': '%s' is %s, not a float type", label, t->name, od_dtype_name(t->dtype));
		return NULL;
	}
	size_t n = (size_t)od_tensor_numel(t);
	float *p = malloc(n * sizeof *p);
	if (!p) {
		*rc = od_error(OD_ENOMEM, "'%s': out of memory for '%s'", label, t->name);
		return NULL;
	}
	if (t->dtype == OD_F32)
		memcpy(p, t->data, n * sizeof *p);
	else
		for (size_t i = 0; i < n; i++)
			p[i] = (float)od_tensor_elem(t, i);
	return p;
}

int od_nextdit_case_from_st(struct od_nextdit_case *cs, const struct od_safetensors *st,
			    const struct od_nextdit_config *cf, const char *label)
{
	memset(cs, 0, sizeof *cs);
	int rc = OD_OK;
	const struct od_tensor *x, *t, *tg, *e, *mk;
	if (!(x = need(st, "x_sigma", 5, label, &rc)) || !(t = need(st, "t", 2, label, &rc)) ||
	    !(tg = need(st, "target", 5, label, &rc)) || !(e = need(st, "encoder_hidden_states", 3, label, &rc)) ||
	    !(mk = need(st, "encoder_attention_mask", 2, label, &rc)))
		return rc;
	const int64_t B = x->shape[0], F = x->shape[1], C = x->shape[2], h = x->shape[3], w = x->shape[4];
	if (C != cf->in_channels)
		return od_error(OD_EFORMAT, "'%s': x_sigma has %lld channels, the model %d", label, (long long)C,
				cf->in_channels);
	if (cf->out_channels != cf->in_channels)
		return od_error(OD_EFORMAT, "'%s': the model's output channels differ from its input's", label);
	if (memcmp(tg->shape, x->shape, 5 * sizeof *x->shape))
		return od_error(OD_EFORMAT, "'%s': target and x_sigma differ in shape", label);
	if (t->shape[0] != B || t->shape[1] != F)
		return od_error(OD_EFORMAT, "'%s': t is not (B, F) = (%lld, %lld)", label, (long long)B, (long long)F);
	if (e->shape[0] != B || e->shape[2] != cf->caption_channels)
		return od_error(OD_EFORMAT, "'%s': encoder_hidden_states is not (%lld, S, %d)", label, (long long)B,
				cf->caption_channels);
	const int64_t S = e->shape[1];
	if (mk->shape[0] != B || mk->shape[1] != S)
		return od_error(OD_EFORMAT, "'%s': encoder_attention_mask is not (%lld, %lld)", label, (long long)B,
				(long long)S);
	if (B * S > (1 << 24) || B * F * C * h * w > ((int64_t)1 << 30))
		return od_error(OD_EFORMAT, "'%s': the batch is too large", label);
	if ((rc = od_nextdit_check_size(cf, (int)F, (int)h, (int)w)))
		return od_error_prefix(rc, "'%s'", label);
	if (mk->dtype == OD_F32 || mk->dtype == OD_F16 || mk->dtype == OD_BF16 || mk->dtype == OD_F64)
		return od_error(OD_EFORMAT, "'%s': encoder_attention_mask is %s, not an integer type", label,
				od_dtype_name(mk->dtype));
	if (!(cs->mask = malloc((size_t)(B * S))))
		return od_error(OD_ENOMEM, "out of memory");
	for (int64_t i = 0; i < B * S; i++) {
		double v = od_tensor_elem(mk, (size_t)i);
		if (v != 0 && v != 1) {
			od_nextdit_case_free(cs);
			return od_error(OD_EFORMAT, "'%s': encoder_attention_mask holds %g (not 0 or 1)", label, v);
		}
		cs->mask[i] = v != 0;
	}
	if (!(cs->x = widen(x, label, &rc)) || !(cs->t = widen(t, label, &rc)) || !(cs->target = widen(tg, label, &rc)) ||
	    !(cs->text = widen(e, label, &rc))) {
		od_nextdit_case_free(cs);
		return rc;
	}
	struct od_nextdit_batch b = { (int)B, (int)F, (int)h, (int)w, (int)S, cs->x, cs->t, cs->target, cs->text,
				      cs->mask, NULL };
	cs->b = b;
	return OD_OK;
}

int od_nextdit_case_read(struct od_nextdit_case *cs, const char *path, const struct od_nextdit_config *cf)
{
	struct od_safetensors st;
	memset(cs, 0, sizeof *cs);
	int rc = od_st_open(&st, path);
	if (rc == OD_EMODEL) /* a missing file: for a batch that is an I/O error, not a model problem (the message stays) */
		return OD_EIO;
	if (rc)
		return rc;
	rc = od_nextdit_case_from_st(cs, &st, cf, path);
	od_st_close(&st);
	return rc;
}

void od_nextdit_case_free(struct od_nextdit_case *cs)
{
	free(cs->x);
	free(cs->t);
	free(cs->target);
	free(cs->text);
	free(cs->mask);
	memset(cs, 0, sizeof *cs);
}
