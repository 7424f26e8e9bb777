/*
 * mutorch/git.h - the git side of `mutorch run --rev` and `mutorch ci`,
 * on libgit2 (nothing runs the git command).
 *
 * Commits are named by their 40-hex-digit ids (char[MT_GIT_OID_HEX]).
 * Content hashes are git blob ids, so a file's hash is the same whether it
 * is read from a commit's tree or hashed from the file system. Paths inside
 * a tree are relative to the repository root with '/' separators.
 *
 * Notes live under MT_GIT_NOTES_REF; writing one is a commit on that ref
 * made by libgit2 with a compare-and-swap of the ref, retried when another
 * writer moved it, so the ref is never left half-written.
 */
#ifndef MUTORCH_GIT_H
#define MUTORCH_GIT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_GIT_OID_HEX 41 /* 40 hex digits and the NUL */
#define MT_GIT_NOTES_REF "refs/notes/mutorch"

typedef struct mt_git_repo mt_git_repo;
typedef struct mt_git_lock mt_git_lock;

/* Open the repository that contains path (a file or a directory; parents
 * are searched). MT_ENOTFOUND "not a git repository" when there is none;
 * MT_EINVALID for a bare repository. */
int mt_git_repo_open(mt_git_repo **out, const char *path);
void mt_git_repo_free(mt_git_repo *repo);

/* The working tree's real path (no trailing '/') and the git directory's
 * (no trailing '/'; for a linked worktree, the main repository's, which
 * holds the notes, so the lock and the caches under <gitdir>/mutorch are
 * shared by every worktree). */
const char *mt_git_workdir(const mt_git_repo *repo);
const char *mt_git_gitdir(const mt_git_repo *repo);

/* 1 when the repository is a shallow clone. */
int mt_git_is_shallow(mt_git_repo *repo);

/* HEAD: its commit, and the branch it is on (malloc'd short name, NULL when
 * HEAD is detached). MT_ENOTFOUND when HEAD has no commit yet. */
int mt_git_head(char oid[MT_GIT_OID_HEX], char **branch, mt_git_repo *repo);

/* The commit a revision names ("HEAD^", "main", a hash, ...).
 * MT_ENOTFOUND when it names nothing (or an object this clone lacks). */
int mt_git_resolve(char oid[MT_GIT_OID_HEX], mt_git_repo *repo, const char *rev);

/* The commit's parent count, and whether its first parent's object is
 * present (0 in a shallow clone cut at this commit). */
int mt_git_parents(size_t *count, int *first_present, mt_git_repo *repo,
		   const char *commit);

/* The blob id of path in commit's tree. MT_ENOTFOUND when the path is not
 * in the tree (or is not a file). */
int mt_git_blob_id(char oid[MT_GIT_OID_HEX], mt_git_repo *repo, const char *commit,
		   const char *path);

/* A blob's content (malloc'd, NUL-terminated; *len excludes the NUL). */
int mt_git_blob_read(void **buf, size_t *len, mt_git_repo *repo, const char *blob);

/* Write a blob once into the content-addressed cache
 * <gitdir>/mutorch/blobs/<blob> (atomically) and return that path
 * (malloc'd). */
int mt_git_blob_materialise(char **path, mt_git_repo *repo, const char *blob);

/* (The git blob id of a buffer or a file: mt_hash_blob and mt_hash_file
 * in hash.h.) */

/* Paths added, deleted or modified between two commits' trees, limited to
 * the given paths (exact file paths; npaths 0: everything). *changed is a
 * malloc'd array of malloc'd strings; free with mt_git_strings_free. */
int mt_git_diff_paths(char ***changed, size_t *nchanged, mt_git_repo *repo,
		      const char *base, const char *head,
		      const char *const *paths, size_t npaths);

/* Tracked files whose working-tree or index content differs from HEAD
 * (untracked files are not counted), limited to paths (npaths 0: all). */
int mt_git_dirty_paths(char ***dirty, size_t *ndirty, mt_git_repo *repo,
		       const char *const *paths, size_t npaths);

void mt_git_strings_free(char **strings, size_t n);

/* The note of commit under MT_GIT_NOTES_REF (malloc'd), or *text NULL when
 * it has none. Both calls give MT_EINVALID when MT_GIT_NOTES_REF exists but
 * does not point at a commit (a blob put there by hand, a dangling id). */
int mt_git_note_read(char **text, mt_git_repo *repo, const char *commit);

/* Attach (or replace) commit's note. The signature is the repository's
 * user, or "mutorch <mutorch@localhost>" when none is configured. */
int mt_git_note_write(mt_git_repo *repo, const char *commit, const char *text);

/* One commit of a history: its id, the first line of its message
 * (malloc'd) and its committer time (seconds since the epoch). */
typedef struct {
	char oid[MT_GIT_OID_HEX];
	char *summary;
	long long time;
} mt_git_commit_info;

/* The first-parent history from rev ("HEAD", a branch, a hash) back to
 * the root or to max commits (0: no limit), newest first: what `git log
 * --first-parent` lists. A shallow clone's history ends where the clone
 * was cut. Free with mt_git_commit_infos_free. */
int mt_git_first_parent_history(mt_git_commit_info **out, size_t *n, mt_git_repo *repo,
				const char *rev, size_t max);
void mt_git_commit_infos_free(mt_git_commit_info *commits, size_t n);

/* The hooks directory (core.hooksPath or <gitdir>/hooks); malloc'd. */
int mt_git_hooks_dir(char **path, mt_git_repo *repo);

/* An exclusive lock on <gitdir>/mutorch/<name> (flock: released when the
 * process dies), waiting up to wait_seconds. MT_ETIMEOUT with the holder's
 * pid in the message when it is still held. */
int mt_git_lock_acquire(mt_git_lock **out, mt_git_repo *repo, const char *name,
			double wait_seconds);
void mt_git_lock_release(mt_git_lock *lock);

#ifdef __cplusplus
}
#endif
#endif
