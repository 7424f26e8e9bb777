/*
 * mutorch/io.h - small file helpers shared by the loaders.
 */
#ifndef MUTORCH_IO_H
#define MUTORCH_IO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most bytes any gzip input may inflate to (1 GiB): a cap on what a
 * small compressed file can make mutorch allocate. Loaders whose header
 * declares the size (IDX, .npy) inflate at most that size. */
#define MT_IO_INFLATE_MAX ((size_t)1 << 30)

/* Open a path for reading that must be a regular file: opened with
 * O_NONBLOCK (a FIFO never blocks) and checked with fstat; a directory,
 * FIFO, device or socket is MT_EINVALID with a message saying what the
 * path is. *fd is blocking again on success; *size is fstat's size. */
int mt_io_open_regular(int *fd, size_t *size, const char *path);

/* Read a whole regular file (mt_io_open_regular) into a malloc'd buffer
 * (NUL-terminated for text use; *len excludes the NUL). Errors name the
 * path. */
int mt_io_read_file(void **out, size_t *len, const char *path);

/* Read a file and, when it starts with the gzip magic, inflate it through
 * zlib (mt_io_gunzip). Errors name the path. */
int mt_io_read_maybe_gzip(void **out, size_t *len, const char *path);

/* Does buf start with the gzip magic 1f 8b? */
int mt_io_is_gzip(const void *buf, size_t len);

/* Inflate a gzip buffer already in memory (display_name is used in errors)
 * to at most MT_IO_INFLATE_MAX bytes. Exactly one gzip member: trailing
 * bytes or a second member are an error, as are truncated and corrupt
 * streams. */
int mt_io_gunzip(void **out, size_t *len, const void *buf, size_t buf_len,
		 const char *display_name);

/* The same, refusing to inflate more than limit bytes (capped at
 * MT_IO_INFLATE_MAX); why says where the limit comes from ("the size the
 * IDX header declares") for the message. Memory grows with the output, so
 * a gzip bomb stops at limit + 1 bytes. */
int mt_io_gunzip_limit(void **out, size_t *len, const void *buf, size_t buf_len,
		       size_t limit, const char *why, const char *display_name);

/* Inflate only the first want bytes of a gzip buffer into dst (to read a
 * header before deciding how much to inflate); *got is less than want when
 * the stream is shorter. Corrupt data is an error; truncation is left to
 * the full inflate. */
int mt_io_gunzip_prefix(void *dst, size_t *got, size_t want, const void *buf,
			size_t buf_len, const char *display_name);

/* Write a file atomically: write "path.tmp", fsync, rename. */
int mt_io_write_file_atomic(const char *path, const void *buf, size_t len);

/* Join a base directory and a relative path (absolute paths pass through).
 * Returns a malloc'd string or NULL when out of memory. */
char *mt_io_path_join(const char *base_dir, const char *path);

/* The directory part of a path ("." when it has none); malloc'd. */
char *mt_io_dirname(const char *path);

/* mkdir -p */
int mt_io_mkdirs(const char *path);

#ifdef __cplusplus
}
#endif
#endif
