/* The growable string (mutorch/strbuf.h) and CSV quoting (mutorch/csv.h). */
#include "mutorch/strbuf.h"
#include "mutorch/csv.h"
#include "mutorch/error.h"
#include "mutorch/io.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mt_strbuf_put(mt_strbuf *sb, const char *s, size_t n)
{
	if (sb->failed)
		return;
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 256;
		char *grown;
		while (sb->len + n + 1 > cap)
			cap *= 2;
		if (!(grown = realloc(sb->buf, cap))) {
			sb->failed = 1;
			return;
		}
		sb->buf = grown;
		sb->cap = cap;
	}
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void mt_strbuf_puts(mt_strbuf *sb, const char *s)
{
	mt_strbuf_put(sb, s, strlen(s));
}

void mt_strbuf_printf(mt_strbuf *sb, const char *fmt, ...)
{
	char small[256], *big;
	va_list ap;
	int n;

	if (sb->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->failed = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		mt_strbuf_put(sb, small, (size_t)n);
		return;
	}
	if (!(big = malloc((size_t)n + 1))) {
		sb->failed = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	mt_strbuf_put(sb, big, (size_t)n);
	free(big);
}

void mt_strbuf_double(mt_strbuf *sb, double v)
{
	char tmp[64];
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	mt_strbuf_puts(sb, tmp);
}

void mt_strbuf_dispose(mt_strbuf *sb)
{
	free(sb->buf);
	memset(sb, 0, sizeof(*sb));
}

int mt_strbuf_detach(char **out, mt_strbuf *sb)
{
	*out = NULL;
	if (!sb->failed && !sb->buf)
		mt_strbuf_put(sb, "", 0);
	if (sb->failed) {
		mt_strbuf_dispose(sb);
		return mt_error_oom();
	}
	*out = sb->buf;
	memset(sb, 0, sizeof(*sb));
	return 0;
}

int mt_strbuf_write_file(mt_strbuf *sb, const char *path)
{
	int error;
	if (sb->failed) {
		mt_strbuf_dispose(sb);
		return mt_error_set(MT_ENOMEM, "%s: out of memory", path);
	}
	error = mt_io_write_file_atomic(path, sb->buf ? sb->buf : "", sb->len);
	mt_strbuf_dispose(sb);
	return error;
}

void mt_csv_field(mt_strbuf *sb, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		mt_strbuf_puts(sb, s);
		return;
	}
	mt_strbuf_put(sb, "\"", 1);
	for (; *s; s++) {
		if (*s == '"')
			mt_strbuf_put(sb, "\"", 1);
		mt_strbuf_put(sb, s, 1);
	}
	mt_strbuf_put(sb, "\"", 1);
}
