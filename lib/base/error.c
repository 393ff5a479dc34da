/* error.c: the thread-local error message behind od_error(). */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define OD_ERRMSG_MAX 1024

static _Thread_local char errmsg[OD_ERRMSG_MAX];

int od_error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof errmsg, fmt, ap);
	va_end(ap);
	return code;
}

int od_error_prefix(int code, const char *fmt, ...)
{
	char prefix[OD_ERRMSG_MAX], old[OD_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, errmsg, sizeof old);
	snprintf(errmsg, sizeof errmsg, "%s: %s", prefix, old);
	return code;
}

const char *od_errmsg(void)
{
	return errmsg;
}

void od_error_clear(void)
{
	errmsg[0] = 0;
}

int od_exit_status(int code)
{
	switch (code) {
	case OD_OK: return OD_EXIT_OK;
	case OD_EINVAL: return OD_EXIT_USAGE;
	case OD_EFORMAT: return OD_EXIT_INPUT;
	case OD_EMODEL: return OD_EXIT_MODEL;
	case OD_EIO: return OD_EXIT_IO;
	case OD_EDEVICE: return OD_EXIT_DEVICE;
	default: return OD_EXIT_FAIL;
	}
}

const char *od_status_name(int code)
{
	switch (code) {
	case OD_OK: return "ok";
	case OD_ENOMEM: return "out of memory";
	case OD_EINVAL: return "invalid argument";
	case OD_EFORMAT: return "bad input";
	case OD_EMODEL: return "model error";
	case OD_EIO: return "I/O error";
	case OD_EDEVICE: return "device unavailable";
	default: return "failure";
	}
}
