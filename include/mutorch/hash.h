/*
 * mutorch/hash.h - the content hashes mutorch keys things by.
 *
 * Content (files, cache keys, recipes) is hashed as a git blob id:
 * SHA-1 of "blob <length>\0<bytes>", in hex. A file's hash is then the same
 * whether it is read from the file system or from a commit's tree, which is
 * what lets `mutorch ci` reuse results by content. Short identifiers (mutant
 * ids, plan digests) use FNV-1a 64, which is fast and stable across
 * platforms.
 */
#ifndef MUTORCH_HASH_H
#define MUTORCH_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_HASH_HEX 41 /* 40 hex digits and the NUL */

/* The git blob id of buf[0..len), in hex. */
int mt_hash_blob(char out[MT_HASH_HEX], const void *buf, size_t len);
/* The git blob id of a file's content; errors name the path. */
int mt_hash_file(char out[MT_HASH_HEX], const char *path);

/* FNV-1a 64 of a byte string, continuing from h (MT_FNV1A64_INIT to
 * start). */
uint64_t mt_fnv1a64(const void *data, size_t len, uint64_t h);
#define MT_FNV1A64_INIT 0xcbf29ce484222325ULL

#ifdef __cplusplus
}
#endif
#endif
