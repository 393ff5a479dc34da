/*
 * items.h: what od-eval(1) evaluates, as a list of (prediction, reference)
 * pairs: two files (od_eval_pair), or one of three sources:
 *
 *   a list file   one item per line: "PRED GT" (depth: "PRED GT [EXTRA]",
 *                 EXTRA a depth scale or a scene.json). Fields are separated by
 *                 tabs when the line holds a tab (so paths may hold spaces),
 *                 else by spaces; a run of separators counts as one, blanks
 *                 around a field are dropped; blank lines and lines starting
 *                 with '#' are skipped. Relative paths are relative to the list file's
 *                 folder (to the current folder for standard input).
 *   two folders   PRED_DIR and GT_DIR: one item per file of GT_DIR with a
 *                 suffix the kind reads, in name order; its prediction is the
 *                 file of PRED_DIR with the same name up to the suffix
 *                 (x.png <-> x.jpg matches). A reference without a prediction
 *                 is an error; predictions without a reference are ignored.
 *   a scene set   SET (od-scene(1): SET/index.json, SET/ID/...) and PRED_DIR:
 *                 one item per scene in index.json order, the prediction
 *                 PRED_DIR/ID.{png,jpg,jpeg} (cameras: PRED_DIR/ID.json), the
 *                 reference the scene's file for the kind (view V):
 *                   image   SET/ID/viewV/image.png
 *                   depth   SET/ID/viewV/depth16.png (EXTRA SET/ID/scene.json)
 *                   seg     SET/ID/viewV/semantic.png
 *                   cameras SET/ID/cameras.json
 *                   t2i     SET/ID/scene.json
 * Suffixes: pictures .png .jpg .jpeg, depth references .png, camera files
 * and scene descriptions .json (any case).
 *
 * Errors are OD_EFORMAT naming the file (a line with too few or too many
 * fields, a missing prediction, two files of one name, no items at all) or
 * OD_EIO (a folder that cannot be read).
 */
#ifndef OD_EVAL_ITEMS_H
#define OD_EVAL_ITEMS_H

#include <stddef.h>

enum od_eval_kind { OD_EVAL_IMAGE, OD_EVAL_DEPTH, OD_EVAL_SEG, OD_EVAL_CAMERAS, OD_EVAL_T2I, OD_EVAL_KINDS };

/* "image", "depth", "seg", "cameras", "t2i" */
extern const char *const od_eval_kind_names[OD_EVAL_KINDS];

struct od_eval_item {
	char *pred, *gt;
	char *scene;      /* depth: a scene.json giving depth_scale, or NULL */
	double scale;     /* depth: a scale given on the line; 0 when none */
	int line;         /* list line number (0 when not from a list) */
};

struct od_eval_items {
	struct od_eval_item *v;
	int n, cap;
};

void od_eval_items_free(struct od_eval_items *items);

/* Split one line (without its line break) into fields as list files are
 * split: on tabs when the line holds a tab, else on spaces, a run of
 * separators counting as one and blanks around a field dropped. Stores the
 * first max fields (start, length) and returns how many there are in all: 0
 * for a blank line or a comment ('#' first). */
int od_eval_fields(const char *line, size_t len, const char **f, size_t *fl, int max);

/* One item: two files. */
int od_eval_pair(const char *pred, const char *gt, struct od_eval_items *items);
/* Parse a list's text; label names it, base is the folder relative paths are
 * joined to (NULL: kept as they are). */
int od_eval_list_parse(const char *text, size_t len, const char *label, const char *base, enum od_eval_kind kind,
		       struct od_eval_items *items);
/* Read a list file ("-": standard input). */
int od_eval_list_read(const char *path, enum od_eval_kind kind, struct od_eval_items *items);
/* Pair the files of two folders. */
int od_eval_dirs(const char *pred_dir, const char *gt_dir, enum od_eval_kind kind, struct od_eval_items *items);
/* The items of a scene set, view view of each scene. */
int od_eval_set(const char *set, const char *pred_dir, enum od_eval_kind kind, int view,
		struct od_eval_items *items);

#endif
