/* A growable string for the operators' canonical texts. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void mt_strbuf_printf(mt_strbuf *sb, const char *fmt, ...)
{
	if (sb->failed)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(sb->buf ? sb->buf + sb->len : NULL,
				  sb->buf ? sb->cap - sb->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			sb->failed = 1;
			return;
		}
		if (sb->buf && (size_t)n < sb->cap - sb->len) {
			sb->len += (size_t)n;
			return;
		}
		size_t cap = (sb->cap + (size_t)n + 1) * 2;
		char *grown = realloc(sb->buf, cap);
		if (!grown) {
			sb->failed = 1;
			return;
		}
		sb->buf = grown;
		sb->cap = cap;
	}
}

void mt_strbuf_double(mt_strbuf *sb, double v)
{
	char tmp[64];
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	mt_strbuf_printf(sb, "%s", tmp);
}
