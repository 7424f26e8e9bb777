/*
 * mutorch/zip.h - structural check of an untrusted zip archive.
 *
 * torch.save files and TorchScript models are zip archives that libtorch
 * reads with its own (miniz) reader, which is not safe on untrusted bytes:
 * a truncated or mutated archive overflows a heap buffer inside it. So
 * mutorch checks every archive in C before libtorch sees it (see
 * docs/security.md):
 *  - the end of central directory record ends the file (a comment may
 *    follow it, nothing else), with its zip64 record and locator when
 *    present, both consistent with it; one disk only;
 *  - the central directory lies right before those records and holds
 *    exactly the entries it declares;
 *  - every entry: a non-empty name without NUL bytes, not repeated; no
 *    encryption; method stored (or deflate where allowed), stored entries
 *    with equal sizes; zip64 extra fields where a size or offset says so;
 *  - every entry's local header: signature, name, method and flags equal to
 *    the central directory's, sizes and CRC equal (or zero with a data
 *    descriptor, which must then match), header, data and descriptor
 *    inside the file before the central directory, no two entries
 *    overlapping;
 *  - the CRC-32 of every member's data (deflated members are inflated to
 *    exactly their declared size, at most MT_IO_INFLATE_MAX in all).
 * Errors are MT_EINVALID and name the archive, the member and the problem.
 */
#ifndef MUTORCH_ZIP_H
#define MUTORCH_ZIP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	MT_ZIP_STORED_ONLY = 0,  /* torch.save archives: every member stored */
	MT_ZIP_ALLOW_DEFLATE = 1 /* TorchScript archives deflate their code */
} mt_zip_methods;

/* The most entries an archive may have. */
#define MT_ZIP_MAX_ENTRIES 100000

/* Check buf (len bytes, display name for messages) as described above;
 * 0 when it is a well-formed archive. */
int mt_zip_check(const void *buf, size_t len, const char *name,
		 mt_zip_methods methods);

#ifdef __cplusplus
}
#endif
#endif
