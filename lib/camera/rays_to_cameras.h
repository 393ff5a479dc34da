/*
 * rays_to_cameras.h: recover a camera from a Plücker ray frame (numerics.md §7.5;
 * upstream's raydiff_utils.rays_to_cameras, which the released pipeline never
 * calls: od-decode(1) and `od-plucker --invert` do).
 *
 * From a ray frame (16, S, S) in model space (1.658 · rays, §7.3):
 *
 *   1. rays: divide by 1.658 and read the 6-D ray of each pixel. The frame holds
 *      d̂ three times (channels 0-2, 6-8, 12-14), m_x three times (3, 9, 15) and
 *      m_y, m_z twice (4-5, 10-11). OD_RAYS_AVERAGE (the default) averages every
 *      copy, which for a generated frame lowers the noise; OD_RAYS_FIRST reads
 *      channels 0-5 only, as upstream's §7.5 recipe does. For a frame made by
 *      od_rays_pack both give the same rays.
 *   2. d̂ = d/|d|, p = d̂ × m (the point of the ray nearest the origin).
 *   3. centre c: least squares, [Σ(I − d̂d̂ᵀ)] c = Σ(I − d̂d̂ᵀ) p.
 *   4. canonical directions u: an identity camera with the given intrinsics
 *      unprojects the same half-pixel grid (NDC focal 2f, principal −2(c − ½)).
 *   5. rotation (Kabsch): R minimises ‖U − D·R‖_F; H = Dᵀ U = Us Σ Vsᵀ,
 *      R = Us diag(1, 1, sign det(Us Vsᵀ)) Vsᵀ, with a 3x3 Jacobi SVD.
 *   6. T = −c·R. (R, T) is the PyTorch3D camera upstream returns, in camera 0's
 *      PyTorch3D frame; the OpenCV camera-to-world in camera 0's OpenCV frame is
 *      rotation Φ R Φ and centre Φ c, Φ = diag(−1, −1, 1).
 *
 * The focal must be the one the rays were made with (the pipeline's 1.3887, NDC
 * 2.7774); upstream's function defaults to NDC 3.453, i.e. focal 1.7265.
 *
 * Degenerate input is an error (OD_EFORMAT), never a made-up camera: a
 * non-finite value; more than half of the ray directions zero (zero directions
 * are otherwise left out of both fits and counted in n_used); rays that are
 * (nearly) parallel, so that no centre or rotation is defined.
 */
#ifndef OD_RAYS_TO_CAMERAS_H
#define OD_RAYS_TO_CAMERAS_H

#include "camera/camera.h"
#include "formats/frame.h"

enum od_rays_channels {
	OD_RAYS_AVERAGE = 0, /* average the duplicate copies of each component */
	OD_RAYS_FIRST = 1,   /* channels 0-5 only (upstream §7.5) */
};

/* What the fit found besides the camera. */
struct od_rays_fit {
	double R[3][3];      /* PyTorch3D rotation (X_view = X_world·R + T), camera 0's PyTorch3D frame */
	double T[3];         /* PyTorch3D translation, −centre·R */
	double centre[3];    /* camera centre in camera 0's PyTorch3D frame */
	int n_rays;          /* S·S */
	int n_used;          /* rays with a non-zero direction */
	double rms_angle;    /* radians: rms angle between the rotated canonical directions and the rays */
	double rms_distance; /* rms distance of the rays from the centre (world units) */
};

/* Read the rays of a ray frame's data: ray16 (16, S, S) in model space ->
 * rays6 (S·S, 6) rows (d, m) in ray space. */
void od_rays_unpack(const float *ray16, int S, enum od_rays_channels mode, double *rays6);

/* Recover the camera of rays6 (S·S, 6), the rays of an S x S grid, made with the
 * intrinsics of intr (fx, fy, cx, cy; its pose is ignored). On success cam gets
 * the pose (OpenCV c2w in camera 0's OpenCV frame) and the intrinsics used, and
 * fit (may be NULL) the rest. label names the input in messages ("'x.odf':
 * frame 2"). OD_EFORMAT for degenerate rays, OD_EINVAL for bad arguments. */
int od_rays_to_camera(const double *rays6, int S, const struct od_camera *intr, struct od_camera *cam,
		      struct od_rays_fit *fit, const char *label);

/* The same from a ray frame (kind rays, shape (16, S, S), any float dtype, not a
 * placeholder). intr NULL: the intrinsics of the frame's camera= metadata when it
 * has them (od-plucker writes them), else the default focal 1.3887 centred.
 * cam->view is the frame's view= metadata, or -1. */
int od_rays_frame_to_camera(const struct od_frame *f, enum od_rays_channels mode, const struct od_camera *intr,
			    struct od_camera *cam, struct od_rays_fit *fit, const char *label);

/* The view of a generated ray frame without view= metadata, from its place in
 * the multiview sequence [image_0, rays_0, image_1, rays_1, ...] (§7.4), which
 * od-denoise records as index=: the rays at index 2k+1 are view k. -1 when
 * the frame has no such index. */
int od_rays_frame_index_view(const struct od_frame *f);

#endif
