/*
 * linalg3.h: the small dense linear algebra the camera code needs, in float64:
 * a 3x3 determinant, a 3x3 SVD and the least-squares meeting point of lines.
 * Used by camera.c (pose checks, scene normalisation) and rays_to_cameras.c
 * (camera centre and Kabsch rotation, numerics.md §7).
 */
#ifndef OD_LINALG3_H
#define OD_LINALG3_H

/* det(A) by cofactors. */
double od_det3(const double A[3][3]);

/* Least-squares meeting point of n lines (points p (n, 3), directions d (n, 3),
 * any length; zero directions are skipped): the x minimising the summed squared
 * distances (upstream's intersect_skew_lines_high_dim, numerics.md §7.5). OD_EFORMAT with
 * a message when the lines are (nearly) parallel or fewer than two are usable. */
int od_lines_meet(const double *p, const double *d, int n, double x[3]);

/* SVD of a 3x3 matrix by one-sided Jacobi rotations: A = U diag(s) Vᵀ with
 * s[0] >= s[1] >= s[2] >= 0 and U, V orthogonal (columns for zero singular
 * values completed to an orthonormal basis). */
void od_svd3(const double A[3][3], double U[3][3], double s[3], double V[3][3]);

#endif
