/*
 * pose.c: relative rotation errors and Umeyama-aligned camera-centre accuracy
 * (pose.h). float64 throughout; the SVD is base/linalg3.h's.
 */
#include "eval/pose.h"
#include "base/error.h"
#include "base/linalg3.h"
#include "camera/camera_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double od_rotation_angle_deg(const double R[3][3])
{
	double vx = R[2][1] - R[1][2], vy = R[0][2] - R[2][0], vz = R[1][0] - R[0][1];
	double s = 0.5 * sqrt(vx * vx + vy * vy + vz * vz), c = 0.5 * (R[0][0] + R[1][1] + R[2][2] - 1);
	return atan2(s, c) * (180.0 / M_PI);
}

void od_umeyama(const double *x, const double *y, int n, double *sigma, double Q[3][3], double tau[3])
{
	double mx[3] = { 0, 0, 0 }, my[3] = { 0, 0, 0 };
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 3; k++)
			mx[k] += x[3 * i + k] / n, my[k] += y[3 * i + k] / n;
	double var = 0, C[3][3] = { { 0 } };
	for (int i = 0; i < n; i++) {
		double dx[3], dy[3];
		for (int k = 0; k < 3; k++)
			dx[k] = x[3 * i + k] - mx[k], dy[k] = y[3 * i + k] - my[k];
		for (int a = 0; a < 3; a++) {
			var += dx[a] * dx[a] / n;
			for (int b = 0; b < 3; b++)
				C[a][b] += dy[a] * dx[b] / n;
		}
	}
	double U[3][3], D[3], V[3][3];
	od_svd3(C, U, D, V);
	double S[3] = { 1, 1, od_det3(U) * od_det3(V) < 0 ? -1 : 1 };
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++) {
			Q[a][b] = 0;
			for (int k = 0; k < 3; k++)
				Q[a][b] += U[a][k] * S[k] * V[b][k];
		}
	*sigma = var > 0 ? (D[0] * S[0] + D[1] * S[1] + D[2] * S[2]) / var : 0;
	for (int a = 0; a < 3; a++) {
		tau[a] = my[a];
		for (int b = 0; b < 3; b++)
			tau[a] -= *sigma * Q[a][b] * mx[b];
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* R_i R_jᵀ of world-to-camera rotations = (c2w_i)ᵀ c2w_j of the c2w rotations. */
static void relative(const struct od_camera *ci, const struct od_camera *cj, double R[3][3])
{
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++) {
			R[a][b] = 0;
			for (int k = 0; k < 3; k++)
				R[a][b] += ci->c2w[k][a] * cj->c2w[k][b];
		}
}

int od_pose_eval(const struct od_camera *pred, const char *lp, const struct od_camera *gt, const char *lg, int n,
		 struct od_pose_metrics *out)
{
	memset(out, 0, sizeof *out);
	if (n < 2)
		return od_error(OD_EFORMAT, "'%s': %d camera; the pose metrics need at least 2", lg, n);
	for (int i = 0; i < n; i++) {
		if (!pred[i].has_pose)
			return od_error(OD_EFORMAT, "'%s': camera %d has no pose", lp, i);
		if (!gt[i].has_pose)
			return od_error(OD_EFORMAT, "'%s': camera %d has no pose", lg, i);
	}
	int np = n * (n - 1) / 2, k = 0;
	double *err = malloc((size_t)np * sizeof *err), *x = malloc((size_t)n * 3 * sizeof *x),
	       *y = malloc((size_t)n * 3 * sizeof *y);
	if (!err || !x || !y) {
		free(err);
		free(x);
		free(y);
		return od_error(OD_ENOMEM, "out of memory");
	}
	double sum = 0;
	int good = 0;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++) {
			double P[3][3], G[3][3], E[3][3];
			relative(&pred[i], &pred[j], P);
			relative(&gt[i], &gt[j], G);
			for (int a = 0; a < 3; a++)
				for (int b = 0; b < 3; b++) {
					E[a][b] = 0;
					for (int m = 0; m < 3; m++)
						E[a][b] += P[m][a] * G[m][b]; /* Pᵀ G */
				}
			err[k] = od_rotation_angle_deg(E);
			sum += err[k];
			good += err[k] < OD_POSE_ROT_THRESHOLD;
			k++;
		}
	out->views = n;
	out->pairs = np;
	out->rot_mean = sum / np;
	out->rra = (double)good / np;
	qsort(err, (size_t)np, sizeof *err, cmp_double);
	out->rot_median = np % 2 ? err[np / 2] : 0.5 * (err[np / 2 - 1] + err[np / 2]);
	out->rot_max = err[np - 1];

	for (int i = 0; i < n; i++)
		for (int a = 0; a < 3; a++)
			x[3 * i + a] = pred[i].c2w[a][3], y[3 * i + a] = gt[i].c2w[a][3];
	double mu[3] = { 0, 0, 0 }, scale = 0;
	for (int i = 0; i < n; i++)
		for (int a = 0; a < 3; a++)
			mu[a] += y[3 * i + a] / n;
	for (int i = 0; i < n; i++) {
		double d[3] = { y[3 * i] - mu[0], y[3 * i + 1] - mu[1], y[3 * i + 2] - mu[2] };
		scale = fmax(scale, sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]));
	}
	int rc = OD_OK;
	if (!(scale > 0)) {
		rc = od_error(OD_EFORMAT, "'%s': every camera centre is the same point (no scene scale)", lg);
		goto done;
	}
	double sigma, Q[3][3], tau[3], esum = 0;
	od_umeyama(x, y, n, &sigma, Q, tau);
	int acc = 0;
	for (int i = 0; i < n; i++) {
		double e2 = 0;
		for (int a = 0; a < 3; a++) {
			double v = tau[a];
			for (int b = 0; b < 3; b++)
				v += sigma * Q[a][b] * x[3 * i + b];
			e2 += (v - y[3 * i + a]) * (v - y[3 * i + a]);
		}
		double e = sqrt(e2);
		esum += e / scale;
		acc += e < OD_POSE_CENTRE_THRESHOLD * scale;
	}
	out->cca = (double)acc / n;
	out->centre_mean = esum / n;
	out->scale = scale;
done:
	free(err);
	free(x);
	free(y);
	return rc;
}

int od_eval_pose_files(const char *pred, const char *gt, struct od_pose_metrics *out)
{
	struct od_camera *p = NULL, *g = NULL;
	int np, ng;
	int rc = od_camera_json_read(pred, &p, &np);
	if (rc)
		return rc;
	if ((rc = od_camera_json_read(gt, &g, &ng))) {
		free(p);
		return rc;
	}
	if (np != ng)
		rc = od_error(OD_EFORMAT, "'%s' has %d cameras but '%s' has %d", pred, np, gt, ng);
	else
		rc = od_pose_eval(p, pred, g, gt, np, out);
	free(p);
	free(g);
	return rc;
}
