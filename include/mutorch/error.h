/*
 * mutorch/error.h - error codes and the per-thread last-error message.
 *
 * Every function that can fail returns an int: 0 on success or one of the
 * negative MT_E* codes below, and leaves a message for the calling thread
 * that mt_error_last() returns. The message names the file, the field and
 * what was expected wherever they are known. The library owns the string;
 * it stays valid until the next mutorch call on the same thread.
 */
#ifndef MUTORCH_ERROR_H
#define MUTORCH_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	MT_OK = 0,
	MT_ERROR = -1,     /* generic / internal error */
	MT_ENOTFOUND = -3, /* a file, key, layer or mutant that does not exist */
	MT_EINVALID = -4,  /* bad input: corrupt file, bad config value, bad argument */
	MT_EIO = -5,       /* read or write failed */
	MT_ENOMEM = -6,    /* out of memory */
	MT_ETORCH = -7,    /* libtorch raised an error (message from the shim) */
	MT_EUSAGE = -8,    /* command-line usage error */
	MT_ETIMEOUT = -9,  /* a time limit passed */
	MT_EDIVERGED = -10 /* NaN or infinity in a loss or in outputs */
} mt_error_code;

/* The message of the last error on this thread, or "" when none. */
const char *mt_error_last(void);

/* The code of the last error on this thread, or 0. */
int mt_error_last_code(void);

/* Set the message (printf format) and return code, so callers can write
 * `return mt_error_set(MT_EINVALID, "%s: ...", path);`. */
int mt_error_set(int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* Prefix the current message with more context ("config.yml: " + old). */
int mt_error_prefix(const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 1, 2)))
#endif
	;

/* The one out-of-memory path: sets "out of memory" and returns MT_ENOMEM
 * (the message buffer is static, so this never allocates). */
int mt_error_oom(void);

void mt_error_clear(void);

/* A short name for a code ("invalid input", "not found", ...). */
const char *mt_error_code_name(int code);

#ifdef __cplusplus
}
#endif
#endif
