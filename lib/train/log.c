/* log.c: the training log (log.h). */
#include "train/log.h"

#include "base/error.h"
#include "base/io.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Keep the header and the rows of steps <= from, through an atomic rewrite. */
static int truncate_log(const char *path, int64_t from, double *seconds)
{
	char *text;
	size_t len;
	int rc = od_read_file(path, (size_t)1 << 30, &text, &len);
	if (rc)
		return rc;
	size_t keep = 0;
	int header = len >= strlen(OD_TRAIN_LOG_HEADER) && !memcmp(text, OD_TRAIN_LOG_HEADER, strlen(OD_TRAIN_LOG_HEADER));
	if (!header) {
		free(text);
		return od_error(OD_EFORMAT, "'%s': not a training log (its first line is not %.*s)", path,
				(int)strlen(OD_TRAIN_LOG_HEADER) - 1, OD_TRAIN_LOG_HEADER);
	}
	keep = strlen(OD_TRAIN_LOG_HEADER);
	while (keep < len) {
		char *nl = memchr(text + keep, '\n', len - keep);
		if (!nl)
			break; /* a row cut short by a crash: dropped */
		long long step = strtoll(text + keep, NULL, 10);
		if (step > from)
			break;
		/* the last field of the row: its seconds */
		const char *last = text + keep;
		for (const char *q = last; q < nl; q++)
			if (*q == ',')
				last = q + 1;
		*seconds = strtod(last, NULL);
		keep = (size_t)(nl - text) + 1;
	}
	struct od_out o;
	if (!(rc = od_out_open(&o, path))) {
		if ((rc = od_out_write(&o, text, keep)))
			od_out_abort(&o);
		else
			rc = od_out_commit(&o);
	}
	free(text);
	return rc;
}

int od_train_log_open(struct od_train_log *l, const char *path, int64_t from, double *seconds)
{
	memset(l, 0, sizeof *l);
	double sec = 0;
	int rc;
	if (seconds)
		*seconds = 0;
	if (from > 0 && od_is_file(path)) {
		if ((rc = truncate_log(path, from, &sec)))
			return rc;
		if (seconds && isfinite(sec) && sec > 0)
			*seconds = sec;
		l->f = fopen(path, "a");
	} else {
		l->f = fopen(path, "w");
		if (l->f && fputs(OD_TRAIN_LOG_HEADER, l->f) < 0) {
			fclose(l->f);
			l->f = NULL;
		}
	}
	if (!l->f || fflush(l->f) != 0) {
		rc = od_error(OD_EIO, "'%s': cannot write: %s", path, strerror(errno));
		if (l->f)
			fclose(l->f);
		l->f = NULL;
		return rc;
	}
	if (!(l->path = strdup(path)))
		return od_error(OD_ENOMEM, "out of memory");
	return OD_OK;
}

int od_train_log_row(struct od_train_log *l, int64_t step, float loss, double lr, double grad_norm, double seconds)
{
	if (fprintf(l->f, "%" PRId64 ",%.9g,%.9g,%.9g,%.3f\n", step, (double)loss, lr, grad_norm, seconds) < 0 ||
	    fflush(l->f) != 0)
		return od_error(OD_EIO, "'%s': cannot write: %s", l->path, strerror(errno));
	return OD_OK;
}

int od_train_log_close(struct od_train_log *l)
{
	int rc = OD_OK;
	if (l->f && fclose(l->f) != 0)
		rc = od_error(OD_EIO, "'%s': cannot write: %s", l->path, strerror(errno));
	free(l->path);
	memset(l, 0, sizeof *l);
	return rc;
}
