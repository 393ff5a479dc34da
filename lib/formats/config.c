/* config.c: JSON configuration files and typed getters (see config.h). */
#include "formats/config.h"
#include "base/error.h"
#include "base/io.h"

#include <math.h>
#include <stdlib.h>

int od_json_load(const char *path, json_t **out)
{
	char *data;
	size_t len;
	*out = NULL;
	if (!od_is_file(path))
		return od_error(OD_EMODEL, "'%s': no such file", path);
	int rc = od_read_file(path, 64u << 20, &data, &len);
	if (rc)
		return rc == OD_EIO ? OD_EMODEL : rc;
	rc = od_json_parse(data, len, path, out);
	free(data);
	return rc;
}

int od_json_object(const char *data, size_t len, const char *label, int code, json_t **out)
{
	json_error_t jerr;
	*out = NULL;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return od_error(code, "'%s': not valid JSON: %s (line %d, column %d)", label, jerr.text, jerr.line,
				jerr.column);
	if (!json_is_object(j)) {
		json_decref(j);
		return od_error(code, "'%s': not a JSON object", label);
	}
	*out = j;
	return OD_OK;
}

int od_json_parse(const char *data, size_t len, const char *label, json_t **out)
{
	return od_json_object(data, len, label, OD_EMODEL, out);
}

int od_cfg_int(json_t *cfg, const char *key, long long def, int required, long long *out, const char *label)
{
	json_t *v = json_object_get(cfg, key);
	if (!v || json_is_null(v)) {
		if (required)
			return od_error(OD_EMODEL, "'%s': missing \"%s\"", label, key);
		*out = def;
		return OD_OK;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return OD_OK;
	}
	/* 16.0 counts as 16; the range test comes before the cast, which would be
	 * undefined for a double beyond long long (1e300) */
	double d = json_is_real(v) ? json_real_value(v) : 0.5;
	if (d >= -0x1p62 && d <= 0x1p62 && d == floor(d)) {
		*out = (long long)d;
		return OD_OK;
	}
	return od_error(OD_EMODEL, "'%s': \"%s\" is not an integer", label, key);
}

int od_cfg_int_in(json_t *cfg, const char *key, long long def, int required, long long lo, long long hi,
		  long long *out, const char *label)
{
	OD_TRY(od_cfg_int(cfg, key, def, required, out, label));
	if (*out < lo || *out > hi)
		return od_error(OD_EMODEL, "'%s': \"%s\" = %lld is outside %lld..%lld", label, key, *out, lo, hi);
	return OD_OK;
}

int od_cfg_num_in(json_t *cfg, const char *key, double def, int required, double lo, double hi, double *out,
		  const char *label)
{
	OD_TRY(od_cfg_num(cfg, key, def, required, out, label));
	if (!(*out >= lo && *out <= hi))
		return od_error(OD_EMODEL, "'%s': \"%s\" = %g is outside %g..%g", label, key, *out, lo, hi);
	return OD_OK;
}

int od_cfg_num(json_t *cfg, const char *key, double def, int required, double *out, const char *label)
{
	json_t *v = json_object_get(cfg, key);
	if (!v || json_is_null(v)) {
		if (required)
			return od_error(OD_EMODEL, "'%s': missing \"%s\"", label, key);
		*out = def;
		return OD_OK;
	}
	if (!json_is_number(v))
		return od_error(OD_EMODEL, "'%s': \"%s\" is not a number", label, key);
	*out = json_number_value(v);
	return OD_OK;
}

int od_cfg_bool(json_t *cfg, const char *key, int def, int required, int *out, const char *label)
{
	json_t *v = json_object_get(cfg, key);
	if (!v || json_is_null(v)) {
		if (required)
			return od_error(OD_EMODEL, "'%s': missing \"%s\"", label, key);
		*out = def;
		return OD_OK;
	}
	if (!json_is_boolean(v))
		return od_error(OD_EMODEL, "'%s': \"%s\" is not true or false", label, key);
	*out = json_is_true(v);
	return OD_OK;
}

int od_cfg_int_array(json_t *cfg, const char *key, long long *out, int max, int *n, const char *label)
{
	json_t *v = json_object_get(cfg, key);
	if (!json_is_array(v))
		return od_error(OD_EMODEL, "'%s': \"%s\" is missing or not a list", label, key);
	if ((int)json_array_size(v) > max || json_array_size(v) == 0)
		return od_error(OD_EMODEL, "'%s': \"%s\" has %zu entries (1 to %d supported)", label, key,
				json_array_size(v), max);
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *e = json_array_get(v, i);
		if (!json_is_integer(e))
			return od_error(OD_EMODEL, "'%s': \"%s\" holds a non-integer", label, key);
		out[i] = json_integer_value(e);
	}
	*n = (int)json_array_size(v);
	return OD_OK;
}

const char *od_cfg_str(json_t *cfg, const char *key, const char *def)
{
	json_t *v = json_object_get(cfg, key);
	return json_is_string(v) ? json_string_value(v) : def;
}
