/*
 * mutorch/strbuf.h - the one growable string of mutorch: canonical texts,
 * cache keys, reports and CSV files are built in it.
 *
 * Start from MT_STRBUF_INIT. A failed allocation sets `failed` and turns
 * every later append into a no-op, so callers append freely and check once
 * at the end (mt_strbuf_detach or mt_strbuf_write_file report MT_ENOMEM).
 * buf is NUL-terminated whenever it is not NULL.
 */
#ifndef MUTORCH_STRBUF_H
#define MUTORCH_STRBUF_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	char *buf;
	size_t len, cap;
	int failed;
} mt_strbuf;

#define MT_STRBUF_INIT { NULL, 0, 0, 0 }

void mt_strbuf_put(mt_strbuf *sb, const char *s, size_t n);
void mt_strbuf_puts(mt_strbuf *sb, const char *s);
void mt_strbuf_printf(mt_strbuf *sb, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* The shortest %g form that reads back as the same double. */
void mt_strbuf_double(mt_strbuf *sb, double v);

/* Hand the string over (never NULL on success: "" when nothing was
 * appended). After a failed append: MT_ENOMEM, *out NULL. Either way the
 * buffer is empty again. */
int mt_strbuf_detach(char **out, mt_strbuf *sb);
/* Write the text atomically to path (mt_io_write_file_atomic), then empty
 * the buffer. After a failed append: MT_ENOMEM naming path. */
int mt_strbuf_write_file(mt_strbuf *sb, const char *path);
void mt_strbuf_dispose(mt_strbuf *sb);

#ifdef __cplusplus
}
#endif
#endif
