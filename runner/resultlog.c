/* The append-only result log (see resultlog.h): framing, checksums,
 * reading back with damage found and dropped, appending durably. The two
 * levels' record schemas are in resultlog_schema.c. */
#include "mutorch/resultlog.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

struct mt_resultlog {
	int fd;
	char *path;
};

static const char header[] = MT_RESULTLOG_HEADER;
static const char header_prefix[] = "mutorch-results ";

static unsigned long crc_of(const char *s, size_t n)
{
	return crc32_z(crc32_z(0L, Z_NULL, 0), (const Bytef *)s, n);
}

int mt_resultlog_frame(char **line, size_t *len, const json_t *record)
{
	char *text = json_dumps(record, JSON_COMPACT), *out;
	size_t n, cap;
	int head;

	*line = NULL;
	*len = 0;
	if (!text)
		return mt_error_oom();
	n = strlen(text);
	cap = n + 32;
	if (!(out = malloc(cap))) {
		free(text);
		return mt_error_oom();
	}
	head = snprintf(out, cap, "%zu %08lx ", n, crc_of(text, n));
	memcpy(out + head, text, n);
	out[head + n] = '\n';
	out[head + n + 1] = '\0';
	*line = out;
	*len = (size_t)head + n + 1;
	free(text);
	return 0;
}

/* <length> <crc32> <json>: *json and *jlen point into s on success. */
static int unframe(const char **json, size_t *jlen, const char *s, size_t n, char *why, size_t wl)
{
	size_t i = 0, digits;
	unsigned long long length = 0;
	unsigned long crc = 0, actual;

	while (i < n && s[i] >= '0' && s[i] <= '9' && i < 11)
		length = length * 10 + (unsigned long long)(s[i++] - '0');
	digits = i;
	if (digits == 0 || digits > 10 || i >= n || s[i] != ' ' || (digits > 1 && s[0] == '0')) {
		snprintf(why, wl, "not a frame '<length> <crc32> <json>' (no decimal length)");
		return -1;
	}
	i++;
	for (size_t k = 0; k < 8; k++, i++) {
		char c = i < n ? s[i] : '\0';
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0) {
			snprintf(why, wl, "not a frame '<length> <crc32> <json>' (no 8-digit hex checksum)");
			return -1;
		}
		crc = crc << 4 | (unsigned long)v;
	}
	if (i >= n || s[i] != ' ') {
		snprintf(why, wl, "not a frame '<length> <crc32> <json>' (no space after the checksum)");
		return -1;
	}
	i++;
	if (length != (unsigned long long)(n - i)) {
		snprintf(why, wl, "the frame says %llu bytes, the record has %zu", length, n - i);
		return -1;
	}
	actual = crc_of(s + i, n - i);
	if (actual != crc) {
		snprintf(why, wl, "checksum mismatch: the frame says %08lx, the record's bytes give %08lx",
			 crc, actual);
		return -1;
	}
	*json = s + i;
	*jlen = n - i;
	return 0;
}

/* One record's JSON, checked against the schema; NULL with why. */
static json_t *load_record(const char *s, size_t n, const mt_resultlog_schema *schema, char *why,
			   size_t wl)
{
	json_error_t jerr;
	json_t *rec = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
	char reason[512];

	if (!rec) {
		snprintf(why, wl, "not JSON (%s)", jerr.text);
		return NULL;
	}
	if (!json_is_object(rec)) {
		snprintf(why, wl, "not a JSON object");
		json_decref(rec);
		return NULL;
	}
	if (schema && schema->check && schema->check(schema->ctx, rec, reason, sizeof(reason)) != 0) {
		snprintf(why, wl, "%s", reason);
		json_decref(rec);
		return NULL;
	}
	return rec;
}

static int add_damage(json_t *damage, int line, const char *why)
{
	json_t *d = json_pack("{s:i, s:s}", "line", line, "reason", why);
	if (!d || json_array_append_new(damage, d) < 0)
		return mt_error_oom();
	return 0;
}

/* Drop every record whose unique key repeats: which of them is right
 * cannot be told. lines[k] is record k's line. */
static int drop_repeats(mt_resultlog_contents *out, const int *lines, const char *key)
{
	json_t *count = json_object(), *kept = json_array(), *rec;
	size_t i;
	int error = 0;

	if (!count || !kept) {
		error = mt_error_oom();
		goto cleanup;
	}
	json_array_foreach(out->records, i, rec) {
		const char *v = json_string_value(json_object_get(rec, key));
		json_t *c = v ? json_object_get(count, v) : NULL;
		if (v && json_object_set_new(count, v, json_integer(c ? json_integer_value(c) + 1 : 1)) < 0) {
			error = mt_error_oom();
			goto cleanup;
		}
	}
	json_array_foreach(out->records, i, rec) {
		const char *v = json_string_value(json_object_get(rec, key));
		json_int_t n = v ? json_integer_value(json_object_get(count, v)) : 0;
		if (n > 1) {
			char why[600];
			snprintf(why, sizeof(why), "%s \"%.400s\" has %lld records: none of them is trusted",
				 key, v, (long long)n);
			if ((error = add_damage(out->damage, lines[i], why)) < 0)
				goto cleanup;
			out->rewrite = 1;
		} else if (json_array_append(kept, rec) < 0) {
			error = mt_error_oom();
			goto cleanup;
		}
	}
	json_decref(out->records);
	out->records = kept;
	kept = NULL;
cleanup:
	json_decref(count);
	json_decref(kept);
	return error;
}

/* Is the line "mutorch-results <digits>"? Its number, else -1. */
static long header_version(const char *s, size_t n)
{
	size_t p = sizeof(header_prefix) - 1;
	long v = 0;
	if (n <= p || n > p + 6 || memcmp(s, header_prefix, p) != 0)
		return -1;
	for (size_t i = p; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int mt_resultlog_parse(mt_resultlog_contents *out, const void *data, size_t len, const char *name,
		       const mt_resultlog_schema *schema)
{
	const char *buf = data;
	size_t pos = 0, nlines = 0, cap = 0;
	int *lines = NULL, line = 0, error = 0;

	memset(out, 0, sizeof(*out));
	if (!(out->records = json_array()) || !(out->damage = json_array()))
		return mt_error_oom();
	while (pos < len) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos), *js = s;
		size_t n, jn;
		char why[768];
		json_t *rec = NULL;

		line++;
		if (!nl) {
			out->cut_short = 1; /* an interrupted write: dropped */
			break;
		}
		n = (size_t)(nl - s);
		pos += n + 1;
		out->good_end = pos;
		if (line == 1) {
			long v = header_version(s, n);
			if (v == MT_RESULTLOG_FORMAT) {
				out->format = 2;
				continue;
			}
			if (v > MT_RESULTLOG_FORMAT) {
				error = mt_error_set(MT_EINVALID,
						     "%s:1: a result log of format %ld; this mutorch reads formats 1 "
						     "and %d: use the mutorch that wrote it, or run with --force to "
						     "start over", name, v, MT_RESULTLOG_FORMAT);
				goto cleanup;
			}
			/* Format 1 has no header; anything else (formats 0
			 * and 1 never had one) lost its header, and the file
			 * is rewritten with one. */
			out->format = n > 0 && s[0] == '{' ? 1 : 2;
			out->rewrite = 1;
		}
		jn = n;
		if (out->format == 2 && unframe(&js, &jn, s, n, why, sizeof(why)) < 0)
			rec = NULL;
		else
			rec = load_record(js, jn, schema, why, sizeof(why));
		if (!rec) {
			char h[900];
			snprintf(h, sizeof(h), "%s%s", line == 1 && out->format == 2 ?
				 "neither the header '" MT_RESULTLOG_HEADER "' nor a record: " : "", why);
			if ((error = add_damage(out->damage, line, h)) < 0)
				goto cleanup;
			out->rewrite = 1;
			continue;
		}
		if (nlines == cap) {
			int *grown = realloc(lines, sizeof(int) * (cap = cap ? cap * 2 : 64));
			if (!grown) {
				json_decref(rec);
				error = mt_error_oom();
				goto cleanup;
			}
			lines = grown;
		}
		lines[nlines++] = line;
		if (json_array_append_new(out->records, rec) < 0) {
			error = mt_error_oom();
			goto cleanup;
		}
	}
	if (out->format == 1)
		out->rewrite = 1;
	if (schema && schema->unique_key && (error = drop_repeats(out, lines, schema->unique_key)) < 0)
		goto cleanup;
cleanup:
	free(lines);
	return error;
}

void mt_resultlog_contents_dispose(mt_resultlog_contents *c)
{
	if (!c)
		return;
	json_decref(c->records);
	json_decref(c->damage);
	memset(c, 0, sizeof(*c));
}

static int write_all(int fd, const char *s, size_t n, const char *path)
{
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, s + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return mt_error_set(MT_EIO, "%s: write failed: %s", path, strerror(errno));
		}
		off += (size_t)w;
	}
	return 0;
}

/* The header and the good records, framed, replacing the file at once. */
static int rewrite(const char *path, const json_t *records)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	size_t i;
	json_t *rec;
	int error;

	mt_strbuf_printf(&sb, "%s\n", header);
	json_array_foreach(records, i, rec) {
		char *line;
		size_t n;
		if ((error = mt_resultlog_frame(&line, &n, rec)) < 0) {
			mt_strbuf_dispose(&sb);
			return error;
		}
		mt_strbuf_put(&sb, line, n);
		free(line);
	}
	return mt_strbuf_write_file(&sb, path);
}

int mt_resultlog_open(mt_resultlog **out, mt_resultlog_contents *contents, const char *path,
		      const mt_resultlog_schema *schema)
{
	mt_resultlog *log = NULL;
	char *buf = NULL;
	size_t len = 0;
	int error = 0;

	*out = NULL;
	memset(contents, 0, sizeof(*contents));
	if (access(path, F_OK) == 0 && (error = mt_io_read_file((void **)&buf, &len, path)) < 0)
		goto cleanup;
	if ((error = mt_resultlog_parse(contents, buf, len, path, schema)) < 0)
		goto cleanup;
	if (!(log = calloc(1, sizeof(*log))) || !(log->path = strdup(path))) {
		error = mt_error_oom();
		goto cleanup;
	}
	log->fd = -1;
	if (contents->rewrite && (error = rewrite(path, contents->records)) < 0)
		goto cleanup;
	if ((log->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		error = mt_error_set(MT_EIO, "%s: cannot open: %s", path, strerror(errno));
		goto cleanup;
	}
	if (contents->rewrite) {
		if (lseek(log->fd, 0, SEEK_END) < 0)
			error = mt_error_set(MT_EIO, "%s: cannot seek: %s", path, strerror(errno));
	} else if (ftruncate(log->fd, (off_t)(contents->format ? contents->good_end : 0)) != 0 ||
		   lseek(log->fd, 0, SEEK_END) < 0) {
		/* Drop a cut-short last line so the next record starts on
		 * its own line. */
		error = mt_error_set(MT_EIO, "%s: cannot truncate: %s", path, strerror(errno));
	} else if (contents->format == 0 &&
		   ((error = write_all(log->fd, header, sizeof(header) - 1, path)) < 0 ||
		    (error = write_all(log->fd, "\n", 1, path)) < 0)) {
		goto cleanup;
	} else if (contents->format == 0 && fdatasync(log->fd) != 0) {
		error = mt_error_set(MT_EIO, "%s: sync failed: %s", path, strerror(errno));
	}
	if (error < 0)
		goto cleanup;
	*out = log;
	log = NULL;
cleanup:
	free(buf);
	mt_resultlog_free(log);
	return error;
}

int mt_resultlog_append(mt_resultlog *log, const json_t *record)
{
	char *line = NULL;
	size_t len;
	int error;

	if ((error = mt_resultlog_frame(&line, &len, record)) < 0)
		return error;
	if ((error = write_all(log->fd, line, len, log->path)) == 0 && fdatasync(log->fd) != 0)
		error = mt_error_set(MT_EIO, "%s: sync failed: %s", log->path, strerror(errno));
	free(line);
	return error;
}

void mt_resultlog_free(mt_resultlog *log)
{
	if (!log)
		return;
	if (log->fd >= 0)
		close(log->fd);
	free(log->path);
	free(log);
}
