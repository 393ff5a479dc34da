/*
 * scene_json.h: reading the scene descriptions of a scene set (od-scene(1)
 * writes them; od-eval(1) reads them): SET/index.json and SET/ID/scene.json.
 *
 * Only what evaluation needs is kept; fields this reader does not use are
 * accepted and ignored, so that a newer writer's additions do not break it.
 * What is read is checked:
 *
 *   scene.json  "format" "od-scene" and "version" 1 when present;
 *               "depth_scale" > 0 (optional: has_depth_scale);
 *               "width", "height" > 0 (optional, 0 when absent);
 *               "palette": {"NAME": [r, g, b], ...}, integers 0..255, names
 *               1..63 bytes, at most OD_EVAL_MAX_PALETTE;
 *               "objects": [{"id": k, "colour": "NAME", "shape": "...",
 *               "size": "..."}, ...], ids distinct and >= 0, colours named
 *               in the palette, at most OD_EVAL_MAX_OBJECTS;
 *               "relations": [{"a": id, "relation": "left of", "b": id}],
 *               relation one of "left of", "right of", "above", "below",
 *               "in front of", "behind"; a and b ids of distinct objects;
 *               "views": [{"index": 0, "boxes": [{"id": k, "pixels": n}]}]:
 *               of the view with index 0, each box's object id (one of
 *               objects, once) and its pixel count (an integer >= 0).
 *               palette, objects, relations and views may be absent.
 *   index.json  "format" "od-scene-set" and "version" 1 when present;
 *               "scenes": ["000000", ...], each a plain folder name (no "/",
 *               not "." or "..", 1..255 bytes); "count" equal to their number
 *               when present.
 *
 * Errors are OD_EFORMAT with a message naming the file and the field
 * ("'s/scene.json': objects[2].colour 'mauve' is not in the palette").
 */
#ifndef OD_EVAL_SCENE_JSON_H
#define OD_EVAL_SCENE_JSON_H

#include <stddef.h>
#include <stdint.h>

#define OD_EVAL_MAX_PALETTE 64
#define OD_EVAL_MAX_OBJECTS 256
#define OD_EVAL_MAX_RELATIONS 1024
#define OD_EVAL_MAX_SCENES 10000000
/* scene.json and index.json files larger than this are refused. */
#define OD_EVAL_FILE_MAX ((size_t)64 << 20)

enum od_eval_rel {
	OD_EVAL_REL_LEFT,
	OD_EVAL_REL_RIGHT,
	OD_EVAL_REL_ABOVE,
	OD_EVAL_REL_BELOW,
	OD_EVAL_REL_FRONT,
	OD_EVAL_REL_BEHIND,
	OD_EVAL_REL_COUNT
};

/* "left of", ... indexed by enum od_eval_rel. */
extern const char *const od_eval_relation_names[OD_EVAL_REL_COUNT];

struct od_eval_colour {
	char name[64];
	uint8_t rgb[3];
};

struct od_eval_object {
	int id;
	int colour;        /* index into palette */
	char shape[64];    /* "" when absent */
	char size[64];
	long view0_pixels; /* its pixels in view 0's boxes; 0 when not boxed; -1 when view 0 has no boxes */
};

struct od_eval_relation {
	int a, b;          /* indices into objects */
	enum od_eval_rel rel;
};

struct od_eval_scene {
	int width, height;
	int has_depth_scale;
	double depth_scale;
	int n_palette, n_objects, n_relations;
	struct od_eval_colour *palette;
	struct od_eval_object *objects;
	struct od_eval_relation *relations;
};

void od_eval_scene_free(struct od_eval_scene *s);

/* Parse scene.json text; label names it in messages. */
int od_eval_scene_parse(const char *text, size_t len, const char *label, struct od_eval_scene *s);
/* Read and parse a scene.json file. */
int od_eval_scene_read(const char *path, struct od_eval_scene *s);

/* Whether the caption names object i. od-scene(1) names the objects view 0
 * shows with at least od_scene_mention_threshold(width, height) pixels
 * (width × height / 2000 rounded down, at least 1; scene/scene.h): so, when
 * view 0's boxes are known, an object is named when its box's pixel count
 * reaches that threshold (any pixel when the size is not given); without
 * boxes every object is named. */
int od_eval_scene_named(const struct od_eval_scene *s, int i);

/* Parse index.json text: *ids (malloc'd array of malloc'd strings, free with
 * od_eval_index_free) holds *n >= 0 scene ids. */
int od_eval_index_parse(const char *text, size_t len, const char *label, char ***ids, int *n);
int od_eval_index_read(const char *path, char ***ids, int *n);
void od_eval_index_free(char **ids, int n);

#endif
