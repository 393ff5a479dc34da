/*
 * scene_write.h: scene folders and scene sets on disk (od-scene(5)).
 *
 * A scene folder holds scene.json, caption.txt, tasks.txt, cameras.json and a folder
 * viewN/ per view with image.png, depth.png, depth16.png, semantic.png,
 * instances.png, canny.png, boxes.png, mask.png and masked.png. A set is a
 * folder of scene folders named by their index ("000042") and index.json.
 *
 * Besides the description every reader needs (format, id, seed, size,
 * depth_scale, caption, palette, objects, relations, tasks, and per view its
 * boxes), scene.json carries task_args (the tasks' od-tag arguments as
 * arrays), light, ground, sky, camera (distance, target, focal), and per view
 * the camera's azimuth and elevation and the inpainting hole; index.json the
 * generation parameters; tasks.txt the tasks as shell lines.
 *
 * All or nothing (base/io.h, struct od_out_group): a scene's files, and the
 * files of every scene of a set with its index.json, are temporaries until the
 * whole scene or set is written, and are then renamed into place together; a
 * failure, or a fatal signal, removes them with the folders the run created,
 * and leaves what an earlier run wrote as it was.
 *
 * The cameras are written to cameras.json first and the views rendered with
 * the cameras read back from that text, so the file describes exactly the
 * cameras the pictures were made with.
 */
#ifndef OD_SCENE_WRITE_H
#define OD_SCENE_WRITE_H

#include "scene/scene.h"

#include <stdint.h>

/* Generate scene number index of the set with seed set_seed and write its folder
 * dir (created when missing; files in it are replaced): all its files, or none. */
int od_scene_write(const struct od_scene_params *p, uint64_t set_seed, uint64_t index, const char *dir);
/* The same as members of g, not committed: on failure the caller aborts g. */
struct od_out_group;
int od_scene_write_group(const struct od_scene_params *p, uint64_t set_seed, uint64_t index, const char *dir,
			 struct od_out_group *g);

struct od_scene_set {
	const char *dir;            /* the set's folder (created when missing) */
	struct od_scene_params p;
	uint64_t seed;              /* the set's seed, below 2^53 */
	uint64_t first;             /* index of the first scene */
	long count;                 /* number of scenes, >= 1 */
};

/* Called from the calling thread after each batch of scenes: done of total. */
typedef void (*od_scene_progress_fn)(void *arg, long done, long total);

/* Write the scenes first .. first + count - 1 in parallel (base/parallel.h:
 * od_threads() threads, each scene written whole by one thread, so the bytes do
 * not depend on the thread count), then index.json, and rename them all into
 * place. On failure, the first failing scene's status and message (lowest
 * index) are returned and nothing of the run is left. */
int od_scene_set_write(const struct od_scene_set *set, od_scene_progress_fn progress, void *arg);

#endif
