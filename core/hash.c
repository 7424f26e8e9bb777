/* Content hashes (mutorch/hash.h): git blob ids through libgit2, FNV-1a. */
#include "mutorch/hash.h"
#include "mutorch/error.h"

#include <errno.h>
#include <git2.h>
#include <pthread.h>
#include <string.h>

static pthread_once_t libgit2_once = PTHREAD_ONCE_INIT;

static void libgit2_start(void)
{
	/* Reference-counted by libgit2; never shut down (it is cheap and
	 * other modules may be using it). */
	git_libgit2_init();
}

static const char *libgit2_message(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "libgit2 error";
}

int mt_hash_blob(char out[MT_HASH_HEX], const void *buf, size_t len)
{
	git_oid id;
	pthread_once(&libgit2_once, libgit2_start);
	if (git_odb_hash(&id, buf ? buf : "", len, GIT_OBJECT_BLOB) < 0)
		return mt_error_set(MT_ERROR, "cannot hash a buffer: %s", libgit2_message());
	git_oid_tostr(out, MT_HASH_HEX, &id);
	return 0;
}

int mt_hash_file(char out[MT_HASH_HEX], const char *path)
{
	git_oid id;
	pthread_once(&libgit2_once, libgit2_start);
	errno = 0;
	if (git_odb_hashfile(&id, path, GIT_OBJECT_BLOB) < 0) {
		git_error_clear();
		return mt_error_set(MT_ENOTFOUND, "%s: cannot read the file to hash it: %s", path,
				    strerror(errno ? errno : ENOENT));
	}
	git_oid_tostr(out, MT_HASH_HEX, &id);
	return 0;
}

uint64_t mt_fnv1a64(const void *data, size_t len, uint64_t h)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
