/* The append-only result log (see resultlog.h). */
#include "mutorch/resultlog.h"
#include "mutorch/error.h"
#include "mutorch/io.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mt_resultlog {
	int fd;
	char *path;
};

int mt_resultlog_open(mt_resultlog **out, json_t **records, const char *path)
{
	mt_resultlog *log = NULL;
	char *buf = NULL;
	size_t len = 0, pos = 0, good_end = 0;
	json_t *arr = json_array();
	int error = 0, line = 0;

	*out = NULL;
	*records = NULL;
	if (access(path, F_OK) == 0 && (error = mt_io_read_file((void **)&buf, &len, path)) < 0)
		goto cleanup;
	while (pos < len) {
		char *nl = memchr(buf + pos, '\n', len - pos);
		json_error_t jerr;
		json_t *rec;
		line++;
		if (!nl)
			break; /* a last line cut short: dropped below */
		*nl = '\0';
		rec = json_loads(buf + pos, 0, &jerr);
		if (!rec || !json_is_object(rec)) {
			json_decref(rec);
			error = mt_error_set(MT_EINVALID, "%s:%d: malformed result record (%s); "
					     "the log is corrupt: remove it or run with --force",
					     path, line, rec ? "not an object" : jerr.text);
			goto cleanup;
		}
		json_array_append_new(arr, rec);
		pos = (size_t)(nl - buf) + 1;
		good_end = pos;
	}
	if (!(log = calloc(1, sizeof(*log))) || !(log->path = strdup(path))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((log->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		error = mt_error_set(MT_EIO, "%s: cannot open: %s", path, strerror(errno));
		goto cleanup;
	}
	/* Drop a partial last line so the next record starts on its own line. */
	if (ftruncate(log->fd, (off_t)good_end) != 0 ||
	    lseek(log->fd, (off_t)good_end, SEEK_SET) < 0) {
		error = mt_error_set(MT_EIO, "%s: cannot truncate: %s", path, strerror(errno));
		goto cleanup;
	}
	*out = log;
	*records = arr;
	log = NULL;
	arr = NULL;
cleanup:
	free(buf);
	json_decref(arr);
	mt_resultlog_free(log);
	return error;
}

int mt_resultlog_append(mt_resultlog *log, const json_t *record)
{
	char *text = json_dumps(record, JSON_COMPACT);
	size_t len, off = 0;
	int error = 0;

	if (!text)
		return mt_error_oom();
	len = strlen(text);
	text[len++] = '\n'; /* replaces the NUL: written by length */
	while (off < len) {
		ssize_t n = write(log->fd, text + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = mt_error_set(MT_EIO, "%s: write failed: %s", log->path, strerror(errno));
			goto cleanup;
		}
		off += (size_t)n;
	}
	if (fdatasync(log->fd) != 0)
		error = mt_error_set(MT_EIO, "%s: sync failed: %s", log->path, strerror(errno));
cleanup:
	free(text);
	return error;
}

void mt_resultlog_free(mt_resultlog *log)
{
	if (!log)
		return;
	if (log->fd > 0)
		close(log->fd);
	free(log->path);
	free(log);
}
