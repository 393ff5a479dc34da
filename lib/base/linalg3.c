/* linalg3.c: 3x3 determinant, Jacobi SVD and lines' meeting point (see linalg3.h). */
#include "base/linalg3.h"
#include "base/error.h"

#include <math.h>
#include <string.h>

double od_det3(const double A[3][3])
{
	return A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) - A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) +
	       A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);
}

/* ---------------------------------------------------------------- 3x3 SVD */

static void col_cross(double M[3][3], int a, int b, int out)
{
	M[0][out] = M[1][a] * M[2][b] - M[2][a] * M[1][b];
	M[1][out] = M[2][a] * M[0][b] - M[0][a] * M[2][b];
	M[2][out] = M[0][a] * M[1][b] - M[1][a] * M[0][b];
}

/* Make column k of M a unit vector orthogonal to column j (itself a unit vector). */
static void col_orthogonal(double M[3][3], int j, int k)
{
	/* cross with the axis least aligned with column j */
	int axis = 0;
	for (int i = 1; i < 3; i++)
		if (fabs(M[i][j]) < fabs(M[axis][j]))
			axis = i;
	double e[3] = { 0, 0, 0 };
	e[axis] = 1;
	double v[3] = { M[1][j] * e[2] - M[2][j] * e[1], M[2][j] * e[0] - M[0][j] * e[2],
			M[0][j] * e[1] - M[1][j] * e[0] };
	double n = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
	for (int i = 0; i < 3; i++)
		M[i][k] = v[i] / n;
}

void od_svd3(const double A[3][3], double U[3][3], double s[3], double V[3][3])
{
	/* One-sided Jacobi (Hestenes): rotate pairs of columns of B = A·V until all
	 * columns are orthogonal; then B = U diag(s) with s the column norms. */
	double B[3][3], W[3][3] = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } };
	memcpy(B, A, sizeof B);
	static const int pairs[3][2] = { { 0, 1 }, { 0, 2 }, { 1, 2 } };
	for (int sweep = 0; sweep < 64; sweep++) {
		int rotated = 0;
		for (int q = 0; q < 3; q++) {
			int i = pairs[q][0], j = pairs[q][1];
			double alpha = 0, beta = 0, gamma = 0;
			for (int k = 0; k < 3; k++) {
				alpha += B[k][i] * B[k][i];
				beta += B[k][j] * B[k][j];
				gamma += B[k][i] * B[k][j];
			}
			if (gamma == 0 || fabs(gamma) <= 1e-16 * sqrt(alpha) * sqrt(beta))
				continue;
			double zeta = (beta - alpha) / (2 * gamma);
			double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + hypot(1.0, zeta));
			double c = 1 / hypot(1.0, t), sn = c * t;
			for (int k = 0; k < 3; k++) {
				double bi = B[k][i], bj = B[k][j];
				B[k][i] = c * bi - sn * bj;
				B[k][j] = sn * bi + c * bj;
				double wi = W[k][i], wj = W[k][j];
				W[k][i] = c * wi - sn * wj;
				W[k][j] = sn * wi + c * wj;
			}
			rotated = 1;
		}
		if (!rotated)
			break;
	}
	double norms[3];
	for (int j = 0; j < 3; j++)
		norms[j] = sqrt(B[0][j] * B[0][j] + B[1][j] * B[1][j] + B[2][j] * B[2][j]);
	/* sort by decreasing singular value (as LAPACK / torch.linalg.svd) */
	int order[3] = { 0, 1, 2 };
	for (int a = 0; a < 3; a++)
		for (int b = a + 1; b < 3; b++)
			if (norms[order[b]] > norms[order[a]]) {
				int t = order[a];
				order[a] = order[b];
				order[b] = t;
			}
	for (int j = 0; j < 3; j++) {
		int o = order[j];
		s[j] = norms[o];
		for (int k = 0; k < 3; k++) {
			V[k][j] = W[k][o];
			U[k][j] = s[j] > 0 ? B[k][o] / s[j] : 0;
		}
	}
	/* Columns of U for (numerically) zero singular values carry no information:
	 * complete U to an orthonormal basis instead. */
	double tiny = s[0] * 1e-13;
	if (!(s[0] > 0)) {
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 3; j++)
				U[i][j] = i == j;
	} else if (s[1] <= tiny) {
		col_orthogonal(U, 0, 1);
		col_cross(U, 0, 1, 2);
	} else if (s[2] <= tiny) {
		col_cross(U, 0, 1, 2);
	}
}

/* ---------------------------------------------------------------- least squares */

int od_lines_meet(const double *p, const double *d, int n, double x[3])
{
	double A[3][3] = { { 0 } }, b[3] = { 0 };
	int used = 0;
	for (int i = 0; i < n; i++) {
		const double *pi = p + 3 * (size_t)i, *di = d + 3 * (size_t)i;
		double nd = sqrt(di[0] * di[0] + di[1] * di[1] + di[2] * di[2]);
		if (!(nd > 0))
			continue;
		double u[3] = { di[0] / nd, di[1] / nd, di[2] / nd };
		for (int r = 0; r < 3; r++)
			for (int c = 0; c < 3; c++) {
				double m = (r == c) - u[r] * u[c];
				A[r][c] += m;
				b[r] += m * pi[c];
			}
		used++;
	}
	if (used < 2)
		return od_error(OD_EFORMAT, "fewer than two usable lines");
	/* A = Σ(I − ûûᵀ) is symmetric positive semi-definite; it is singular exactly
	 * when all lines are parallel. Solve with the SVD: x = V diag(1/s) Uᵀ b. */
	double U[3][3], s[3], V[3][3];
	od_svd3(A, U, s, V);
	if (!(s[2] > 1e-10 * s[0]))
		return od_error(OD_EFORMAT, "the lines are (nearly) parallel");
	double y[3];
	for (int j = 0; j < 3; j++)
		y[j] = (U[0][j] * b[0] + U[1][j] * b[1] + U[2][j] * b[2]) / s[j];
	for (int i = 0; i < 3; i++)
		x[i] = V[i][0] * y[0] + V[i][1] * y[1] + V[i][2] * y[2];
	return OD_OK;
}
