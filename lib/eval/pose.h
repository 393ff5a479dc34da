/*
 * pose.h: camera-pose metrics as RayDiffusion and OneDiffusion report them for
 * pose estimation (od-eval(1) "cameras").
 *
 * Rotations: for every pair of views i < j, the relative rotation
 *   R_ij = R_i R_jᵀ, R = the world-to-camera rotation (= c2w rotationᵀ),
 * which does not depend on the world frame of either file. The error of a pair
 * is the angle of R_ij,predᵀ R_ij,gt, in degrees, computed as
 *   θ = atan2(|v| / 2, (tr − 1) / 2), v = (R₃₂ − R₂₃, R₁₃ − R₃₁, R₂₁ − R₁₂),
 * which is accurate near 0° (arccos of the trace is not). RRA@15 = fraction of
 * pairs with θ < 15°.
 *
 * Centres: the predicted camera centres c_i are mapped onto the ground-truth
 * centres y_i by the similarity (scale σ, rotation Q, translation τ) that
 * minimises Σ |σQc_i + τ − y_i|² (Umeyama 1991):
 *   μc, μy = the means; var = (1/n) Σ |c_i − μc|²;
 *   Σ = (1/n) Σ (y_i − μy)(c_i − μc)ᵀ = U D Vᵀ (SVD);
 *   S = diag(1, 1, −1) when det(U)·det(V) < 0, else I;
 *   Q = U S Vᵀ, σ = tr(D S) / var, τ = μy − σQμc.
 * (When every predicted centre is the same point, var = 0: σ = 0, all map to
 * μy.) The scene scale is max_i |y_i − μy|, the largest distance of a
 * ground-truth centre from their centroid; a camera is accurate when
 * |σQc_i + τ − y_i| < 0.1 × scale. CCA@0.1 = fraction of accurate cameras.
 */
#ifndef OD_EVAL_POSE_H
#define OD_EVAL_POSE_H

#include "camera/camera.h"

#define OD_POSE_ROT_THRESHOLD 15.0  /* degrees */
#define OD_POSE_CENTRE_THRESHOLD 0.1 /* × scene scale */

struct od_pose_metrics {
	int views, pairs;
	double rot_mean, rot_median, rot_max; /* degrees, over pairs */
	double rra;                          /* RRA@15 */
	double cca;                          /* CCA@0.1 */
	double centre_mean;                  /* mean |aligned − gt| / scale */
	double scale;                        /* scene scale of the ground truth */
};

/* The rotation angle of a 3 × 3 rotation matrix, in degrees. */
double od_rotation_angle_deg(const double R[3][3]);

/* Umeyama's similarity mapping x (n, 3) onto y (n, 3): y ≈ sigma·Q·x + tau. */
void od_umeyama(const double *x, const double *y, int n, double *sigma, double Q[3][3], double tau[3]);

/* Compare n predicted cameras with n ground-truth ones (every one posed; n >= 2).
 * lp, lg name the files in messages. */
int od_pose_eval(const struct od_camera *pred, const char *lp, const struct od_camera *gt, const char *lg, int n,
		 struct od_pose_metrics *out);

/* Read two camera files (camera/camera_json.h: od-cameras or nerfstudio
 * transforms.json) and evaluate; OD_EFORMAT when their view counts differ or a
 * camera has no pose. */
int od_eval_pose_files(const char *pred, const char *gt, struct od_pose_metrics *out);

#endif
