/* Per-thread last error: a fixed buffer per thread, so setting an error
 * never allocates (it may be reporting an allocation failure). */
#include "mutorch/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MT_ERROR_MAX 2048

static _Thread_local char error_message[MT_ERROR_MAX];
static _Thread_local int error_code;

const char *mt_error_last(void) { return error_message; }

int mt_error_last_code(void) { return error_code; }

int mt_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(error_message, sizeof(error_message), fmt, ap);
	va_end(ap);
	error_code = code;
	return code;
}

int mt_error_prefix(const char *fmt, ...)
{
	char prefix[MT_ERROR_MAX], old[MT_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, error_message, sizeof(old));
	/* A message longer than the buffer is cut; that is fine. */
	if (snprintf(error_message, sizeof(error_message), "%s%s", prefix, old) < 0)
		error_message[0] = '\0';
	return error_code ? error_code : MT_ERROR;
}

int mt_error_oom(void)
{
	return mt_error_set(MT_ENOMEM, "out of memory");
}

void mt_error_clear(void)
{
	error_message[0] = '\0';
	error_code = 0;
}

const char *mt_error_code_name(int code)
{
	switch (code) {
	case MT_OK: return "ok";
	case MT_ENOTFOUND: return "not found";
	case MT_EINVALID: return "invalid input";
	case MT_EIO: return "i/o error";
	case MT_ENOMEM: return "out of memory";
	case MT_ETORCH: return "libtorch error";
	case MT_EUSAGE: return "usage error";
	case MT_ETIMEOUT: return "timeout";
	case MT_EDIVERGED: return "diverged";
	default: return "error";
	}
}
