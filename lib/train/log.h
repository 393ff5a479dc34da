/*
 * train/log.h: the training log, a CSV file written as training goes:
 *
 *   step,loss,lr,grad_norm,seconds
 *   1,2.96037889,1e-05,3.84504979,0.012
 *
 * one row per step (loss as float32 digits, the learning rate the step used,
 * the gradient norm before clipping, the seconds of training so far over every
 * session of the run), flushed after each row so that `tail -f` and plotting
 * work while the run goes on. A resumed run keeps the rows up to its
 * checkpoint's step and drops any later ones (they belong to steps it does
 * again); that rewrite is atomic.
 */
#ifndef OD_TRAIN_LOG_H
#define OD_TRAIN_LOG_H

#include <stdint.h>
#include <stdio.h>

struct od_train_log {
	FILE *f;
	char *path;
};

#define OD_TRAIN_LOG_HEADER "step,loss,lr,grad_norm,seconds\n"

/* Open path for a run that continues after step `from` (0: a new run, the file
 * is created or replaced). *seconds (may be NULL) gets the seconds column of
 * the last row kept (0 when none), where the run's clock continues. */
int od_train_log_open(struct od_train_log *l, const char *path, int64_t from, double *seconds);
int od_train_log_row(struct od_train_log *l, int64_t step, float loss, double lr, double grad_norm, double seconds);
/* Close; an error if anything could not be written. */
int od_train_log_close(struct od_train_log *l);

#endif
