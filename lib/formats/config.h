/*
 * config.h: the JSON files of a checkpoint (config.json, scheduler_config.json,
 * model_index.json, *.safetensors.index.json), parsed with jansson, and getters
 * that read one key with a clear error when it is missing or mistyped.
 */
#ifndef OD_CONFIG_H
#define OD_CONFIG_H

#include <jansson.h>

/* Read a key with a clear error when missing or mistyped.
 * label is used in messages ("transformer/config.json"). A NULL json value or
 * "null" takes the default where one is given. */
int od_cfg_int(json_t *cfg, const char *key, long long def, int required, long long *out, const char *label);
int od_cfg_num(json_t *cfg, const char *key, double def, int required, double *out, const char *label);
int od_cfg_bool(json_t *cfg, const char *key, int def, int required, int *out, const char *label);
/* The same, and the value must lie in [lo, hi] (a config is outside input:
 * every field a computation uses is bounded before it is used). */
int od_cfg_int_in(json_t *cfg, const char *key, long long def, int required, long long lo, long long hi,
		  long long *out, const char *label);
int od_cfg_num_in(json_t *cfg, const char *key, double def, int required, double lo, double hi, double *out,
		  const char *label);
/* Read an integer array of at most max entries; *n gets its length. */
int od_cfg_int_array(json_t *cfg, const char *key, long long *out, int max, int *n, const char *label);
/* String value or def. */
const char *od_cfg_str(json_t *cfg, const char *key, const char *def);

/* Read and parse a JSON file ("<dir>/<name>"), with a clear error. */
int od_json_load(const char *path, json_t **out);
/* The parsing half of od_json_load: len bytes of JSON that must be an object
 * (duplicate keys refused); label names it in messages. OD_EMODEL otherwise. */
int od_json_parse(const char *data, size_t len, const char *label, json_t **out);
/* The same for any JSON file of od's (cameras, scenes, results), failing with
 * code: "'label': not valid JSON: why (line L, column C)" or "'label': not a
 * JSON object". */
int od_json_object(const char *data, size_t len, const char *label, int code, json_t **out);

#endif
