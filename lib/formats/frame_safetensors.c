/* frame_safetensors.c: frame streams <-> .safetensors (see frame_safetensors.h). */
#include "formats/frame_safetensors.h"
#include "base/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int od_frames_write_safetensors(struct od_out *out, const struct od_frame *frames, int n)
{
	struct od_st_writer *w = od_st_writer_new();
	if (!w)
		return OD_ENOMEM;
	int rc = OD_OK;
	char name[64], count[32];
	for (int i = 0; i < n && !rc; i++) {
		const struct od_frame *f = &frames[i];
		snprintf(name, sizeof name, "frame.%d", i);
		if (f->data)
			rc = od_st_writer_add(w, name, f->dtype, f->ndim, f->shape, f->data);
		if (!rc && f->mask) {
			char mname[80];
			int64_t ms[1] = { (int64_t)f->mask_len };
			snprintf(mname, sizeof mname, "frame.%d.mask", i);
			rc = od_st_writer_add(w, mname, OD_U8, 1, ms, f->mask);
		}
		json_t *j = json_object(), *meta = json_object(), *shape = json_array();
		for (int d = 0; d < f->ndim; d++)
			json_array_append_new(shape, json_integer(f->shape[d]));
		for (int m = 0; m < f->n_meta; m++)
			json_object_set_new(meta, f->meta[m].key, json_string(f->meta[m].value));
		json_object_set_new(j, "kind", json_string(od_kind_name(f->kind)));
		if (f->kind != OD_KIND_LATENT && f->kind != OD_KIND_RAYS && f->kind != OD_KIND_TEXT &&
		    f->kind != OD_KIND_NOISE && f->kind != OD_KIND_IMAGE)
			json_object_set_new(j, "kind_code", json_integer(f->kind));
		json_object_set_new(j, "role", json_string(od_role_name(f->role)));
		json_object_set_new(j, "dtype", json_string(od_dtype_name(f->dtype)));
		json_object_set_new(j, "shape", shape);
		json_object_set_new(j, "meta", meta);
		char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(j);
		if (!s) {
			rc = od_error(OD_ENOMEM, "out of memory");
			break;
		}
		if (!rc)
			rc = od_st_writer_meta(w, name, s);
		free(s);
	}
	snprintf(count, sizeof count, "%d", n);
	if (!rc)
		rc = od_st_writer_meta(w, "od.frames", count);
	if (!rc)
		rc = od_st_writer_write(w, out, NULL, NULL);
	od_st_writer_free(w);
	return rc;
}

static void free_frames(struct od_frame *f, int n)
{
	for (int i = 0; i < n; i++)
		od_frame_free(&f[i]);
	free(f);
}

int od_frames_read_safetensors(const struct od_safetensors *st, struct od_frame **frames, int *n)
{
	const char *cnt = od_st_meta(st, "od.frames");
	const char *label = st->path ? st->path : "<safetensors>";
	if (!cnt)
		return od_error(OD_EFORMAT, "'%s': no \"od.frames\" metadata: not written by od-frame "
					    "(name the tensors to import with --tensor)", label);
	char *end;
	long count = strtol(cnt, &end, 10);
	if (*end || count < 0 || count > 1000000)
		return od_error(OD_EFORMAT, "'%s': bad \"od.frames\" value '%s'", label, cnt);
	struct od_frame *fs = calloc((size_t)(count ? count : 1), sizeof *fs);
	if (!fs)
		return od_error(OD_ENOMEM, "out of memory");
	int rc = OD_OK;
	for (long i = 0; i < count && !rc; i++) {
		char name[64], mname[80];
		snprintf(name, sizeof name, "frame.%ld", i);
		snprintf(mname, sizeof mname, "frame.%ld.mask", i);
		const char *ms = od_st_meta(st, name);
		json_error_t jerr;
		json_t *j = ms ? json_loads(ms, 0, &jerr) : NULL;
		if (!j) {
			rc = od_error(OD_EFORMAT, "'%s': frame %ld: missing or bad metadata", label, i);
			break;
		}
		json_t *jk = json_object_get(j, "kind"), *jr = json_object_get(j, "role"), *js = json_object_get(j, "shape"),
		       *jd = json_object_get(j, "dtype"), *jm = json_object_get(j, "meta");
		int kind = json_is_string(jk) ? od_kind_parse(json_string_value(jk)) : -1;
		if (kind < 0 && json_is_integer(json_object_get(j, "kind_code")))
			kind = (int)json_integer_value(json_object_get(j, "kind_code"));
		int role = json_is_string(jr) ? od_role_parse(json_string_value(jr)) : -1;
		enum od_dtype dt;
		int64_t shape[OD_FRAME_MAX_DIMS];
		int nd = json_is_array(js) ? (int)json_array_size(js) : -1;
		if (kind < 0 || kind > 65535 || role < 0 || !json_is_string(jd) ||
		    od_dtype_parse(json_string_value(jd), &dt) || nd < 1 || nd > OD_FRAME_MAX_DIMS ||
		    (jm && !json_is_object(jm))) {
			json_decref(j);
			rc = od_error(OD_EFORMAT, "'%s': frame %ld: bad kind, role, dtype or shape", label, i);
			break;
		}
		for (int d = 0; d < nd; d++) {
			json_t *e = json_array_get(js, (size_t)d);
			shape[d] = json_is_integer(e) ? json_integer_value(e) : -1;
		}
		const struct od_tensor *t = od_st_find(st, name), *m = od_st_find(st, mname);
		/* a frame without its tensor is a placeholder, which only a target
		 * may be (od-frame(5)); a frame stream reader would refuse it */
		if (!t && (role != OD_ROLE_TARGET || kind == OD_KIND_TEXT)) {
			json_decref(j);
			rc = od_error(OD_EFORMAT, "'%s': frame %ld has no tensor '%s' (only target frames may be placeholders)",
				      label, i, name);
			break;
		}
		if (kind == OD_KIND_TEXT && (!m || nd != 2)) {
			json_decref(j);
			rc = od_error(OD_EFORMAT, "'%s': text frame %ld needs (S, D) data and a mask '%s'", label, i, mname);
			break;
		}
		rc = od_frame_init(&fs[i], (enum od_kind)kind, (enum od_role)role, dt, nd, shape, t != NULL);
		if (rc) {
			json_decref(j);
			od_error_prefix(OD_EFORMAT, "'%s': frame %ld", label, i);
			rc = OD_EFORMAT;
			break;
		}
		if (t) {
			int same = t->dtype == dt && t->ndim == nd;
			for (int d = 0; same && d < nd; d++)
				same = t->shape[d] == shape[d];
			int64_t bad = same ? od_first_nonfinite_raw(t->data, t->dtype, (size_t)od_tensor_numel(t)) : -1;
			if (!same)
				rc = od_error(OD_EFORMAT, "'%s': tensor '%s' does not match its metadata", label, name);
			else if (bad >= 0) /* README: non-finite values never leave a tool */
				rc = od_error(OD_EFORMAT, "'%s': tensor '%s': element %lld is not finite (NaN or infinity)", label,
					      name, (long long)bad);
			else
				memcpy(fs[i].data, t->data, t->nbytes);
		}
		if (!rc && m) {
			if (m->dtype != OD_U8 || m->ndim != 1 || m->shape[0] != shape[0])
				rc = od_error(OD_EFORMAT, "'%s': tensor '%s' is not a U8 mask of %lld rows", label, mname,
					      (long long)shape[0]);
			else
				rc = od_frame_set_mask(&fs[i], m->data);
		}
		const char *k;
		json_t *v;
		json_object_foreach(jm, k, v) {
			if (rc)
				break;
			if (!json_is_string(v))
				rc = od_error(OD_EFORMAT, "'%s': frame %ld: metadata '%s' is not a string", label, i, k);
			else if ((rc = od_frame_set(&fs[i], k, json_string_value(v))) == OD_EINVAL) /* a bad key: bad input */
				rc = od_error_prefix(OD_EFORMAT, "'%s': frame %ld", label, i);
		}
		json_decref(j);
	}
	if (rc) {
		free_frames(fs, (int)count);
		return rc;
	}
	*frames = fs;
	*n = (int)count;
	return OD_OK;
}

int od_frames_from_tensor(const struct od_safetensors *st, const char *tensor, const char *mask_tensor,
			  enum od_kind kind, const enum od_role *roles, int n_roles, enum od_dtype dtype,
			  int squeeze, int split, struct od_frame **frames, int *n)
{
	const char *label = st->path ? st->path : "<safetensors>";
	const struct od_tensor *t = od_st_find(st, tensor), *m = NULL;
	if (!t)
		return od_error(OD_EFORMAT, "'%s': no tensor '%s'", label, tensor);
	if (mask_tensor && !(m = od_st_find(st, mask_tensor)))
		return od_error(OD_EFORMAT, "'%s': no tensor '%s'", label, mask_tensor);
	int nd = t->ndim, off = 0;
	const int64_t *shape = t->shape;
	while (squeeze && nd - off > 1 && shape[off] == 1)
		off++;
	int64_t count = 1;
	if (split) {
		if (nd - off < 2)
			return od_error(OD_EINVAL, "'%s': tensor '%s' has too few dimensions to split", label, tensor);
		count = shape[off];
		off++;
	}
	if (nd - off < 1 || nd - off > OD_FRAME_MAX_DIMS)
		return od_error(OD_EINVAL, "'%s': tensor '%s' has %d dimensions left for a frame", label, tensor, nd - off);
	if (od_dtype_is_float(t->dtype)) {
		int64_t bad = od_first_nonfinite_raw(t->data, t->dtype, (size_t)od_tensor_numel(t));
		if (bad >= 0) /* README: non-finite values never leave a tool */
			return od_error(OD_EFORMAT, "'%s': tensor '%s': element %lld is not finite (NaN or infinity)", label,
					tensor, (long long)bad);
	}
	int64_t per = 1;
	for (int d = off; d < nd; d++)
		per *= shape[d];
	if (m) {
		int64_t mtotal = od_tensor_numel(m);
		if (mtotal != count * shape[off])
			return od_error(OD_EINVAL, "'%s': mask '%s' does not match '%s'", label, mask_tensor, tensor);
	}
	struct od_frame *fs = calloc((size_t)count, sizeof *fs);
	float *buf = malloc((size_t)per * sizeof *buf);
	uint8_t *mb = m ? malloc((size_t)shape[off]) : NULL;
	if (!fs || !buf || (m && !mb)) {
		free(fs);
		free(buf);
		free(mb);
		return od_error(OD_ENOMEM, "out of memory");
	}
	int rc = OD_OK;
	for (int64_t i = 0; i < count && !rc; i++) {
		enum od_role role = n_roles ? roles[i < n_roles ? i : n_roles - 1] : OD_ROLE_NONE;
		rc = od_frame_init(&fs[i], kind, role, dtype, nd - off, shape + off, 1);
		if (rc) {
			od_error_prefix(rc, "'%s': tensor '%s'", label, tensor);
			break;
		}
		for (int64_t e = 0; e < per; e++)
			buf[e] = (float)od_tensor_elem(t, (size_t)(i * per + e));
		int64_t bad = od_first_nonfinite(buf, (size_t)per);
		if (bad >= 0) { /* a float64 or integer beyond float32's range */
			rc = od_error(OD_EFORMAT, "'%s': tensor '%s': element %lld is beyond float32's range", label, tensor,
				      (long long)(i * per + bad));
			break;
		}
		rc = od_frame_from_f32(&fs[i], buf);
		if (!rc && (bad = od_first_nonfinite_raw(fs[i].data, dtype, (size_t)per)) >= 0)
			rc = od_error(OD_EFORMAT, "'%s': tensor '%s': element %lld is beyond %s's range", label, tensor,
				      (long long)(i * per + bad), od_dtype_name(dtype));
		if (!rc && m) {
			for (int64_t e = 0; e < shape[off]; e++)
				mb[e] = od_tensor_elem(m, (size_t)(i * shape[off] + e)) != 0;
			rc = od_frame_set_mask(&fs[i], mb);
		}
		if (!rc)
			rc = od_frame_setf(&fs[i], "source", "%s:%s", label, tensor);
	}
	free(buf);
	free(mb);
	if (rc) {
		free_frames(fs, (int)count);
		return rc;
	}
	*frames = fs;
	*n = (int)count;
	return OD_OK;
}
