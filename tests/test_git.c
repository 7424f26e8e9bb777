/* mt_git (mutate/git.c) against repositories made with the git CLI: blob
 * ids equal to `git hash-object`, blobs read from old commits, diffs limited
 * to paths, dirty files, notes round trip and replacement, shallow clones,
 * and the lock. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "mutorch/error.h"
#include "mutorch/hash.h"
#include "mutorch/git.h"

#define GIT "git -c user.name=mutorch-test -c user.email=test@example.com"

static char *sh_out(const char *dir, const char *cmd)
{
	char *out = NULL, *err = NULL;
	int rc = th_run(&out, &err, "cd '%s' && %s", dir, cmd);
	cr_assert_eq(rc, 0, "%s failed (%d): %s", cmd, rc, err);
	free(err);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

/* Two commits: a.txt and docs/readme in the first; the second changes only
 * docs/readme. */
static char *two_commits(void)
{
	char *dir = th_tempdir("git"), *o;
	o = sh_out(dir, "git init -q -b main . && mkdir docs && printf 'one\\n' > a.txt && printf 'r1\\n' > docs/readme && "
			GIT " add -A && " GIT " commit -q -m 1 && printf 'r2\\n' > docs/readme && " GIT " commit -q -a -m 2");
	free(o);
	return dir;
}

Test(git, open_resolve_and_read_blobs)
{
	char *dir = two_commits(), *expect, *branch = NULL, head[MT_GIT_OID_HEX], first[MT_GIT_OID_HEX];
	char blob[MT_GIT_OID_HEX], *path = NULL;
	mt_git_repo *repo = NULL;
	void *buf = NULL;
	size_t len, count;
	int present;

	cr_assert_eq(mt_git_repo_open(&repo, dir), 0, "%s", mt_error_last());
	cr_assert_eq(mt_git_head(head, &branch, repo), 0);
	cr_assert_str_eq(branch, "main");
	expect = sh_out(dir, "git rev-parse HEAD");
	cr_assert_str_eq(head, expect);
	free(expect);
	cr_assert_eq(mt_git_resolve(first, repo, "HEAD^"), 0);
	cr_assert_eq(mt_git_parents(&count, &present, repo, head), 0);
	cr_assert_eq(count, 1);
	cr_assert_eq(present, 1);
	cr_assert_eq(mt_git_parents(&count, &present, repo, first), 0);
	cr_assert_eq(count, 0);

	/* the old content, read from the first commit */
	cr_assert_eq(mt_git_blob_id(blob, repo, first, "docs/readme"), 0);
	expect = sh_out(dir, "git rev-parse HEAD^:docs/readme");
	cr_assert_str_eq(blob, expect);
	free(expect);
	cr_assert_eq(mt_git_blob_read(&buf, &len, repo, blob), 0);
	cr_assert_eq(len, 3);
	cr_assert_str_eq(buf, "r1\n");
	free(buf);
	cr_assert_eq(mt_git_blob_materialise(&path, repo, blob), 0);
	cr_assert(th_contains(path, "/.git/mutorch/blobs/"), "%s", path);
	cr_assert_eq(mt_hash_file(head, path), 0);
	cr_assert_str_eq(head, blob, "the cached blob's content hash differs from its id");
	free(path);

	cr_assert_eq(mt_git_blob_id(blob, repo, first, "missing"), MT_ENOTFOUND);
	cr_assert(th_contains(mt_error_last(), "missing is not a file in the tree"), "%s", mt_error_last());
	cr_assert_eq(mt_git_blob_id(blob, repo, first, "docs"), MT_ENOTFOUND);
	cr_assert_eq(mt_git_resolve(blob, repo, "no-such-branch"), MT_ENOTFOUND);
	cr_assert(th_contains(mt_error_last(), "'no-such-branch' is not a commit"), "%s", mt_error_last());
	free(branch);
	mt_git_repo_free(repo);
	free(dir);
}

Test(git, hashes_match_git_hash_object)
{
	char *dir = th_tempdir("hash"), *expect, oid[MT_GIT_OID_HEX];
	const char text[] = "hello\nworld\n";
	char *file = th_write(dir, "f", text, (size_t)-1);
	expect = sh_out(dir, "git hash-object f");
	cr_assert_eq(mt_hash_file(oid, file), 0);
	cr_assert_str_eq(oid, expect);
	cr_assert_eq(mt_hash_blob(oid, text, strlen(text)), 0);
	cr_assert_str_eq(oid, expect);
	free(expect);
	free(file);
	free(dir);
}

Test(git, diff_limited_to_paths_and_dirty_files)
{
	char *dir = two_commits(), head[MT_GIT_OID_HEX], base[MT_GIT_OID_HEX];
	const char *only_a[] = {"a.txt"}, *both[] = {"a.txt", "docs/readme"};
	mt_git_repo *repo = NULL;
	char **changed = NULL, **dirty = NULL;
	size_t n = 0, nd = 0;

	cr_assert_eq(mt_git_repo_open(&repo, dir), 0);
	cr_assert_eq(mt_git_resolve(head, repo, "HEAD"), 0);
	cr_assert_eq(mt_git_resolve(base, repo, "HEAD^"), 0);
	cr_assert_eq(mt_git_diff_paths(&changed, &n, repo, base, head, only_a, 1), 0);
	cr_assert_eq(n, 0, "a.txt did not change");
	mt_git_strings_free(changed, n);
	cr_assert_eq(mt_git_diff_paths(&changed, &n, repo, base, head, both, 2), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(changed[0], "docs/readme");
	mt_git_strings_free(changed, n);

	cr_assert_eq(mt_git_dirty_paths(&dirty, &nd, repo, NULL, 0), 0);
	cr_assert_eq(nd, 0);
	free(th_write(dir, "a.txt", "changed\n", (size_t)-1));
	free(th_write(dir, "untracked", "x\n", (size_t)-1));
	cr_assert_eq(mt_git_dirty_paths(&dirty, &nd, repo, NULL, 0), 0);
	cr_assert_eq(nd, 1, "only the tracked change counts");
	cr_assert_str_eq(dirty[0], "a.txt");
	mt_git_strings_free(dirty, nd);
	mt_git_repo_free(repo);
	free(dir);
}

Test(git, notes_round_trip_and_replace)
{
	char *dir = two_commits(), head[MT_GIT_OID_HEX], *text = NULL, *shown;
	mt_git_repo *repo = NULL;

	cr_assert_eq(mt_git_repo_open(&repo, dir), 0);
	cr_assert_eq(mt_git_resolve(head, repo, "HEAD"), 0);
	cr_assert_eq(mt_git_note_read(&text, repo, head), 0);
	cr_assert_null(text);
	cr_assert_eq(mt_git_note_write(repo, head, "{\"a\": 1}\n"), 0, "%s", mt_error_last());
	cr_assert_eq(mt_git_note_write(repo, head, "{\"a\": 2}\n"), 0, "%s", mt_error_last());
	cr_assert_eq(mt_git_note_read(&text, repo, head), 0);
	cr_assert_str_eq(text, "{\"a\": 2}\n");
	free(text);
	shown = sh_out(dir, "git notes --ref=mutorch show HEAD");
	cr_assert_str_eq(shown, "{\"a\": 2}");
	free(shown);
	mt_git_repo_free(repo);
	free(dir);
}

Test(git, not_a_repository_and_shallow_clone)
{
	char *dir = th_tempdir("plain"), *src = two_commits(), *o, head[MT_GIT_OID_HEX], *branch = NULL;
	char cmd[9000];
	mt_git_repo *repo = NULL;
	size_t count;
	int present;

	cr_assert_eq(mt_git_repo_open(&repo, dir), MT_ENOTFOUND);
	cr_assert(th_contains(mt_error_last(), "is not in a git repository"), "%s", mt_error_last());
	snprintf(cmd, sizeof(cmd), "git clone -q --depth 1 'file://%s' shallow", src);
	o = sh_out(dir, cmd);
	free(o);
	snprintf(cmd, sizeof(cmd), "%s/shallow", dir);
	cr_assert_eq(mt_git_repo_open(&repo, cmd), 0);
	cr_assert_eq(mt_git_is_shallow(repo), 1);
	cr_assert_eq(mt_git_head(head, &branch, repo), 0);
	cr_assert_eq(mt_git_parents(&count, &present, repo, head), 0);
	cr_assert_eq(count, 1);
	cr_assert_eq(present, 0, "the parent is cut off by the shallow clone");
	free(branch);
	mt_git_repo_free(repo);
	free(src);
	free(dir);
}

Test(git, lock_is_exclusive_and_times_out)
{
	char *dir = two_commits();
	mt_git_repo *repo = NULL;
	mt_git_lock *a = NULL, *b = NULL;

	cr_assert_eq(mt_git_repo_open(&repo, dir), 0);
	cr_assert_eq(mt_git_lock_acquire(&a, repo, "test.lock", 0), 0);
	/* flock locks belong to the open file: a second open in the same
	 * process conflicts like another process would. */
	cr_assert_eq(mt_git_lock_acquire(&b, repo, "test.lock", 0.3), MT_ETIMEOUT);
	cr_assert(th_contains(mt_error_last(), "another mutorch run holds"), "%s", mt_error_last());
	cr_assert(th_contains(mt_error_last(), "pid"), "%s", mt_error_last());
	mt_git_lock_release(a);
	cr_assert_eq(mt_git_lock_acquire(&b, repo, "test.lock", 0), 0);
	mt_git_lock_release(b);
	mt_git_repo_free(repo);
	free(dir);
}
