/* File helpers shared by the loaders: whole-file reads (with transparent
 * gzip through zlib), atomic writes, and path joins. */
#include "mutorch/io.h"
#include "mutorch/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

int mt_io_read_file(void **out, size_t *len, const char *path)
{
	FILE *f = NULL;
	char *buf = NULL;
	long size;
	int error = 0;

	*out = NULL;
	*len = 0;
	if (!(f = fopen(path, "rb")))
		return mt_error_set(errno == ENOENT ? MT_ENOTFOUND : MT_EIO,
				    "%s: cannot open: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		error = mt_error_set(MT_EIO, "%s: cannot read: %s", path,
				     strerror(errno));
		goto cleanup;
	}
	if (!(buf = malloc((size_t)size + 1))) {
		error = mt_error_set(MT_ENOMEM, "%s: out of memory (%ld bytes)",
				     path, size);
		goto cleanup;
	}
	if (size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size) {
		error = mt_error_set(MT_EIO, "%s: short read", path);
		goto cleanup;
	}
	buf[size] = '\0';
	*out = buf;
	*len = (size_t)size;
	buf = NULL;
cleanup:
	free(buf);
	if (f)
		fclose(f);
	return error;
}

int mt_io_gunzip(void **out, size_t *len, const void *in, size_t in_len,
		 const char *display_name)
{
	z_stream zs;
	unsigned char *buf = NULL, *grown;
	size_t cap, used = 0;
	int zerr, error = 0;

	*out = NULL;
	*len = 0;
	memset(&zs, 0, sizeof(zs));
	/* 16 + MAX_WBITS: expect a gzip header. */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return mt_error_set(MT_ENOMEM, "%s: zlib init failed", display_name);
	cap = in_len * 4 + 1024;
	if (!(buf = malloc(cap))) {
		error = mt_error_set(MT_ENOMEM, "%s: out of memory", display_name);
		goto cleanup;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)in_len;
	for (;;) {
		if (used == cap) {
			cap *= 2;
			if (!(grown = realloc(buf, cap))) {
				error = mt_error_set(MT_ENOMEM, "%s: out of memory",
						     display_name);
				goto cleanup;
			}
			buf = grown;
		}
		zs.next_out = buf + used;
		zs.avail_out = (uInt)(cap - used > 0x40000000 ? 0x40000000 : cap - used);
		{
			uInt before = zs.avail_out;
			zerr = inflate(&zs, Z_NO_FLUSH);
			used += before - zs.avail_out;
		}
		if (zerr == Z_STREAM_END)
			break;
		if (zerr == Z_BUF_ERROR && zs.avail_in == 0) {
			error = mt_error_set(MT_EINVALID,
					     "%s: truncated gzip stream", display_name);
			goto cleanup;
		}
		if (zerr != Z_OK && zerr != Z_BUF_ERROR) {
			error = mt_error_set(MT_EINVALID, "%s: corrupt gzip data (%s)",
					     display_name, zs.msg ? zs.msg : "inflate failed");
			goto cleanup;
		}
	}
	*out = buf;
	*len = used;
	buf = NULL;
cleanup:
	inflateEnd(&zs);
	free(buf);
	return error;
}

int mt_io_read_maybe_gzip(void **out, size_t *len, const char *path)
{
	void *raw = NULL;
	size_t raw_len = 0;
	int error;

	if ((error = mt_io_read_file(&raw, &raw_len, path)) < 0)
		return error;
	if (raw_len >= 2 && ((unsigned char *)raw)[0] == 0x1f &&
	    ((unsigned char *)raw)[1] == 0x8b) {
		error = mt_io_gunzip(out, len, raw, raw_len, path);
		free(raw);
		return error;
	}
	*out = raw;
	*len = raw_len;
	return 0;
}

int mt_io_write_file_atomic(const char *path, const void *buf, size_t len)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int error = 0;
	size_t n = strlen(path) + 16;

	if (!(tmp = malloc(n)))
		return mt_error_oom();
	snprintf(tmp, n, "%s.tmp", path);
	if (!(f = fopen(tmp, "wb"))) {
		error = mt_error_set(MT_EIO, "%s: cannot create: %s", tmp,
				     strerror(errno));
		goto cleanup;
	}
	if (len > 0 && fwrite(buf, 1, len, f) != len) {
		error = mt_error_set(MT_EIO, "%s: write failed: %s", tmp,
				     strerror(errno));
		goto cleanup;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		error = mt_error_set(MT_EIO, "%s: flush failed: %s", tmp,
				     strerror(errno));
		goto cleanup;
	}
	fclose(f);
	f = NULL;
	if (rename(tmp, path) != 0)
		error = mt_error_set(MT_EIO, "%s: rename failed: %s", path,
				     strerror(errno));
cleanup:
	if (f)
		fclose(f);
	if (error < 0)
		unlink(tmp);
	free(tmp);
	return error;
}

char *mt_io_path_join(const char *base_dir, const char *path)
{
	size_t n;
	char *out;

	if (!path)
		return NULL;
	if (path[0] == '/' || !base_dir || !base_dir[0] || !strcmp(base_dir, "."))
		return strdup(path);
	n = strlen(base_dir) + strlen(path) + 2;
	if (!(out = malloc(n)))
		return NULL;
	snprintf(out, n, "%s/%s", base_dir, path);
	return out;
}

char *mt_io_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *out;

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	if (!(out = malloc((size_t)(slash - path) + 1)))
		return NULL;
	memcpy(out, path, (size_t)(slash - path));
	out[slash - path] = '\0';
	return out;
}

int mt_io_mkdirs(const char *path)
{
	char *copy = strdup(path), *p;
	int error = 0;

	if (!copy)
		return mt_error_oom();
	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
			error = mt_error_set(MT_EIO, "%s: cannot create directory: %s",
					     copy, strerror(errno));
			goto cleanup;
		}
		*p = '/';
	}
	if (mkdir(copy, 0777) != 0 && errno != EEXIST)
		error = mt_error_set(MT_EIO, "%s: cannot create directory: %s", copy,
				     strerror(errno));
cleanup:
	free(copy);
	return error;
}
