/*
 * error.h: how libod reports failure.
 *
 * Every fallible libod function returns an int status: OD_OK (0) on success or
 * one of the negative od_status codes below. On failure it also leaves a one-line,
 * human-readable message in a thread-local buffer, read with od_errmsg(). The
 * message names the subject first and quotes it ("'vae/config.json': no such
 * file"), so a tool can print "od-encode: <message>" and nothing else.
 *
 * libod never prints and never exits on its own; the tools decide what to say and
 * map the codes to exit statuses with od_exit_status() (documented in every man
 * page under EXIT STATUS).
 */
#ifndef OD_ERROR_H
#define OD_ERROR_H

#include <stddef.h>

enum od_status {
	OD_OK = 0,
	OD_EFAIL = -1,     /* anything not covered below (internal limits, ...) */
	OD_ENOMEM = -2,    /* out of memory, or a size over a documented limit */
	OD_EINVAL = -3,    /* bad argument or option value given by the caller */
	OD_EFORMAT = -4,   /* malformed, truncated or unsupported input data */
	OD_EMODEL = -5,    /* checkpoint missing, corrupt, or not matching its config */
	OD_EIO = -6,       /* a file or pipe could not be opened, read or written */
	OD_EDEVICE = -7,   /* the requested compute device is unavailable */
};

/* Exit statuses shared by every od tool (man pages, EXIT STATUS). */
enum od_exit {
	OD_EXIT_OK = 0,
	OD_EXIT_FAIL = 1,
	OD_EXIT_USAGE = 2,
	OD_EXIT_INPUT = 3,
	OD_EXIT_MODEL = 4,
	OD_EXIT_IO = 5,
	OD_EXIT_DEVICE = 6,
};

/* Return from the enclosing function with expr's status when it is not OD_OK:
 *
 *   OD_TRY(od_linear(c, y, x, M, w, b));
 *
 * Self-contained: it needs no variable in scope and sets none, so use it only
 * where a failure leaves nothing to release (otherwise write the `goto fail`
 * form). The message expr left stays as it is. */
#define OD_TRY(expr)                          \
	do {                                  \
		int od_try_rc_ = (expr);      \
		if (od_try_rc_)               \
			return od_try_rc_;    \
	} while (0)

/* Set the thread's message (printf-style) and return code, so callers can write
 * `return od_error(OD_EFORMAT, "'%s': truncated header", path);`. */
int od_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "prefix: " (for context added by a caller);
 * returns code. */
int od_error_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message set on this thread ("" if none). */
const char *od_errmsg(void);

/* Clear the thread's message. */
void od_error_clear(void);

/* Map a status to the tools' exit status. */
int od_exit_status(int code);

/* A short name for a status ("format error"). */
const char *od_status_name(int code);

#endif
