/* File helpers shared by the loaders: whole-file reads (with transparent
 * gzip through zlib), atomic writes, and path joins. */
#include "mutorch/io.h"
#include "mutorch/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* What a path that is not a regular file is, for messages. */
static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO (named pipe)";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

int mt_io_open_regular(int *fd_out, size_t *size, const char *path)
{
	struct stat st;
	int fd, flags;

	*fd_out = -1;
	*size = 0;
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer forever, before fstat could tell what it is. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return mt_error_set(errno == ENOENT ? MT_ENOTFOUND : MT_EIO,
				    "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return mt_error_set(MT_EIO, "%s: cannot stat: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return mt_error_set(MT_EINVALID, "%s: is %s, expected a regular file",
				    path, file_kind(st.st_mode));
	}
	if (st.st_size < 0 || (uint64_t)st.st_size >= SIZE_MAX / 2) {
		close(fd);
		return mt_error_set(MT_EINVALID, "%s: size %lld bytes is too large",
				    path, (long long)st.st_size);
	}
	if ((flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		int e = errno;
		close(fd);
		return mt_error_set(MT_EIO, "%s: cannot read: %s", path, strerror(e));
	}
	*fd_out = fd;
	*size = (size_t)st.st_size;
	return 0;
}

int mt_io_read_file(void **out, size_t *len, const char *path)
{
	char *buf = NULL;
	size_t size = 0, used = 0;
	int fd = -1, error = 0;

	*out = NULL;
	*len = 0;
	if ((error = mt_io_open_regular(&fd, &size, path)) < 0)
		return error;
	if (!(buf = malloc(size + 1))) {
		error = mt_error_set(MT_ENOMEM, "%s: out of memory (%zu bytes)",
				     path, size);
		goto cleanup;
	}
	/* A file that changes size while we read is read as fstat saw it;
	 * a shorter one is an error. */
	while (used < size) {
		ssize_t n = read(fd, buf + used, size - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = mt_error_set(MT_EIO, "%s: cannot read: %s", path,
					     strerror(errno));
			goto cleanup;
		}
		if (n == 0) {
			error = mt_error_set(MT_EIO, "%s: short read: %zu of %zu bytes "
					     "(the file shrank while being read)",
					     path, used, size);
			goto cleanup;
		}
		used += (size_t)n;
	}
	buf[size] = '\0';
	*out = buf;
	*len = size;
	buf = NULL;
cleanup:
	free(buf);
	close(fd);
	return error;
}

int mt_io_gunzip_prefix(void *dst, size_t *got, size_t want, const void *in,
			size_t in_len, const char *display_name)
{
	z_stream zs;
	int zerr, error = 0;

	*got = 0;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return mt_error_set(MT_ENOMEM, "%s: zlib init failed", display_name);
	zs.next_in = (Bytef *)in;
	zs.avail_in = in_len > UINT32_MAX ? UINT32_MAX : (uInt)in_len;
	zs.next_out = dst;
	zs.avail_out = (uInt)want;
	while (zs.avail_out > 0) {
		zerr = inflate(&zs, Z_NO_FLUSH);
		if (zerr == Z_STREAM_END)
			break;
		if (zerr == Z_BUF_ERROR && zs.avail_in == 0)
			break; /* truncated: the full inflate reports it */
		if (zerr != Z_OK) {
			error = mt_error_set(MT_EINVALID, "%s: corrupt gzip data (%s)",
					     display_name,
					     zs.msg ? zs.msg : "inflate failed");
			goto cleanup;
		}
	}
	*got = want - zs.avail_out;
cleanup:
	inflateEnd(&zs);
	return error;
}

int mt_io_gunzip_limit(void **out, size_t *len, const void *in, size_t in_len,
		       size_t limit, const char *why, const char *display_name)
{
	z_stream zs;
	unsigned char *buf = NULL, *grown;
	size_t cap, used = 0;
	int zerr, error = 0;

	*out = NULL;
	*len = 0;
	if (limit > MT_IO_INFLATE_MAX) {
		limit = MT_IO_INFLATE_MAX;
		why = "the limit on inflated data";
	}
	if (in_len > UINT32_MAX)
		return mt_error_set(MT_EINVALID, "%s: %zu bytes of gzip data, expected "
				    "at most 4 GiB", display_name, in_len);
	memset(&zs, 0, sizeof(zs));
	/* 16 + MAX_WBITS: expect a gzip header. */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return mt_error_set(MT_ENOMEM, "%s: zlib init failed", display_name);
	/* Grow geometrically up to limit + 1: one byte past the limit tells
	 * that the data is too large, without inflating a bomb to the end. */
	cap = in_len < (limit + 1) / 4 ? in_len * 4 + 1024 : limit + 1;
	if (cap > limit + 1)
		cap = limit + 1;
	if (!(buf = malloc(cap))) {
		error = mt_error_set(MT_ENOMEM, "%s: out of memory", display_name);
		goto cleanup;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)in_len;
	for (;;) {
		if (used == cap) {
			if (cap > limit) {
				error = mt_error_set(MT_EINVALID,
						     "%s: gzip data inflates to more than "
						     "%zu bytes (%s)",
						     display_name, limit, why);
				goto cleanup;
			}
			cap = cap > (limit + 1) / 2 ? limit + 1 : cap * 2;
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
	/* zlib stops at the end of the first member; anything after it (a
	 * second member, or garbage) would otherwise be silently dropped. */
	if (zs.avail_in > 0) {
		error = mt_error_set(MT_EINVALID,
				     "%s: %zu bytes after the end of the gzip stream "
				     "(a second gzip member or trailing garbage), "
				     "expected exactly one gzip member",
				     display_name, (size_t)zs.avail_in);
		goto cleanup;
	}
	*out = buf;
	*len = used;
	buf = NULL;
cleanup:
	inflateEnd(&zs);
	free(buf);
	return error;
}

int mt_io_gunzip(void **out, size_t *len, const void *in, size_t in_len,
		 const char *display_name)
{
	return mt_io_gunzip_limit(out, len, in, in_len, MT_IO_INFLATE_MAX,
				  "the limit on inflated data", display_name);
}

int mt_io_is_gzip(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

int mt_io_read_maybe_gzip(void **out, size_t *len, const char *path)
{
	void *raw = NULL;
	size_t raw_len = 0;
	int error;

	if ((error = mt_io_read_file(&raw, &raw_len, path)) < 0)
		return error;
	if (mt_io_is_gzip(raw, raw_len)) {
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
	char host[64] = "";
	size_t n;

	/* A name of its own per host and process: writers on several machines
	 * sharing a directory (a training cache on NFS) never mix their
	 * bytes, and the rename publishes whole files only. */
	gethostname(host, sizeof(host) - 1);
	n = strlen(path) + strlen(host) + 48;
	if (!(tmp = malloc(n)))
		return mt_error_oom();
	snprintf(tmp, n, "%s.tmp.%s.%ld", path, host, (long)getpid());
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
