/*
 * camera_json.h: camera files (od-plucker(1) FILES).
 *
 * Two formats are read, told apart by their top-level arrays:
 *
 * od-cameras ("cameras"): od's own format, also what od-plucker --invert and
 * od-decode write.
 *
 *   {
 *     "format": "od-cameras",         optional; if present exactly this
 *     "version": 1,                   optional; if present 1
 *     "convention": "opencv",         of c2w/w2c: "opencv" (x right, y down, z forward;
 *                                     the default) or "opengl" (x right, y up, z backward)
 *     "comment": "...",               optional, ignored
 *     "cameras": [                    one entry per view, in view order
 *       {
 *         "view": 0,                  informational (written from the frame's view=)
 *         "image": "view0.png",       informational
 *         "c2w": [[r, r, r, x], [r, r, r, y], [r, r, r, z], [0, 0, 0, 1]],   3x4 or 4x4
 *         "w2c": [[...]],             the inverse; used only when c2w is absent, and
 *                                     checked against it when both are present
 *         "azimuth": 30, "elevation": 0, "distance": 1.7,
 *                                     an orbit camera (upstream create_c2w_matrix, degrees);
 *                                     the pose when neither c2w nor w2c is given, else
 *                                     informational. elevation defaults to 0, distance to 1.7
 *         "intrinsics": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],
 *                                     normalised by the image size (the pipeline's focal
 *                                     1.3887 centred is [[1.3887, 0, 0.5], [0, 1.3887, 0.5],
 *                                     [0, 0, 1]]); absent: the tool's --focal
 *         "pytorch3d": {"R": 3x3, "T": 3},   written by the rays -> cameras direction; ignored
 *         "fit": {"rays": n, "used": n, "rms_angle_deg": a, "rms_distance": d}   ditto
 *       },
 *       null                          a view whose pose is unknown (to be generated),
 *     ]                               as is an entry with no c2w, w2c or azimuth
 *   }
 *
 * nerfstudio transforms.json ("frames"): OpenGL camera-to-world
 * "transform_matrix" per frame, intrinsics "fl_x", "fl_y", "w", "h" (or
 * "camera_angle_x"/"camera_angle_y"), at the top level or per frame. As
 * upstream's training loader (numerics.md §7.6) does, the principal point is the
 * image centre (w//2, h//2) — the file's "cx"/"cy" are ignored — and intrinsics
 * are normalised by min(w, h), which is what a centre crop to a square keeps.
 * Distortion coefficients are ignored (upstream too). Other nerfstudio and
 * instant-ngp fields are accepted and ignored.
 *
 * Unknown fields are an error in both formats, naming the field, so a typo does
 * not silently fall back to a default.
 */
#ifndef OD_CAMERA_JSON_H
#define OD_CAMERA_JSON_H

#include "camera/camera.h"
#include "base/io.h"
#include "camera/rays_to_cameras.h"

#include <stddef.h>

/* More cameras than any real file has; a file with more is refused. */
#define OD_CAMERAS_MAX 100000
/* Camera files larger than this are refused. */
#define OD_CAMERA_FILE_MAX ((size_t)256 << 20)

/* Parse a camera file's text (either format). label names it in messages. On
 * success *cams (malloc'd, free()) holds *n >= 1 cameras: view = the entry's
 * index, has_pose 0 for unknown poses, has_intrinsics 0 where none were given.
 * OD_EFORMAT with a one-line message otherwise. */
int od_camera_json_parse(const char *text, size_t len, const char *label, struct od_camera **cams, int *n);
/* Read and parse a camera file ("-": stdin). */
int od_camera_json_read(const char *path, struct od_camera **cams, int *n);

/* Parse one camera object of the od-cameras format, OpenCV convention (the
 * frame metadata camera=). */
int od_camera_json_parse_object(const char *text, size_t len, const char *what, struct od_camera *c);

/* One camera as a compact one-line JSON object (for frame metadata camera=):
 * view, image, c2w (when posed), intrinsics, azimuth/elevation/distance (when an
 * orbit). malloc'd; NULL when out of memory. */
char *od_camera_json_object(const struct od_camera *c);

/* n cameras as an od-cameras document (OpenCV convention): c2w and w2c for posed
 * cameras, intrinsics, the orbit when known, and when fits is not NULL each
 * camera's PyTorch3D (R, T) and fit quality. malloc'd; NULL when out of memory. */
char *od_camera_json_dump(const struct od_camera *cams, const struct od_rays_fit *fits, int n);
/* The same written to o (not committed). */
int od_camera_json_write(struct od_out *o, const struct od_camera *cams, const struct od_rays_fit *fits, int n);

#endif
