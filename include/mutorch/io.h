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

/* Read a whole file into a malloc'd buffer (NUL-terminated for text use;
 * *len excludes the NUL). Errors name the path. */
int mt_io_read_file(void **out, size_t *len, const char *path);

/* Read a file and, when it starts with the gzip magic, inflate it through
 * zlib. Errors name the path (truncated or corrupt gzip stream). */
int mt_io_read_maybe_gzip(void **out, size_t *len, const char *path);

/* Inflate a gzip buffer already in memory (display_name is used in errors). */
int mt_io_gunzip(void **out, size_t *len, const void *buf, size_t buf_len,
		 const char *display_name);

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
