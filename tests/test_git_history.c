/* mt_git_first_parent_history against `git log --first-parent` on a
 * repository with a merge: the merged branch's commits are not on the
 * first-parent line, the limit cuts it, and a bad revision is not found. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "mutorch/error.h"
#include "mutorch/git.h"

#define GIT "git -c user.name=mutorch-test -c user.email=test@example.com"

static char *sh_out(const char *dir, const char *cmd)
{
	char *out = NULL, *err = NULL;
	int rc = th_run(&out, &err, "cd '%s' && %s", dir, cmd);
	cr_assert_eq(rc, 0, "%s failed (%d): %s", cmd, rc, err);
	free(err);
	return out;
}

Test(git_history, first_parent_line_through_a_merge)
{
	char *dir = th_tempdir("hist"), *o, *expect, line[256];
	mt_git_repo *repo = NULL;
	mt_git_commit_info *c = NULL;
	size_t n = 0, i = 0;
	const char *p;

	o = sh_out(dir, "git init -q -b main . && echo a > a && " GIT " add a && " GIT " commit -q -m 'first one' && "
		   "git checkout -q -b side && echo s > s && " GIT " add s && " GIT " commit -q -m 'on the side' && "
		   "git checkout -q main && echo b > b && " GIT " add b && " GIT " commit -q -m second && "
		   GIT " merge -q --no-ff -m 'merge side' side && echo c > c && " GIT " add c && "
		   GIT " commit -q -m 'third: after the merge'");
	free(o);
	cr_assert_eq(mt_git_repo_open(&repo, dir), 0, "%s", mt_error_last());
	cr_assert_eq(mt_git_first_parent_history(&c, &n, repo, "HEAD", 0), 0, "%s", mt_error_last());
	expect = sh_out(dir, "git log --first-parent --format='%H %s'");
	cr_assert_eq(n, 4, "%zu commits", n);
	for (p = expect; *p && i < n; i++) {
		size_t len = strcspn(p, "\n");
		snprintf(line, sizeof(line), "%s %s", c[i].oid, c[i].summary);
		cr_assert_eq(strncmp(p, line, len), 0, "commit %zu: %s, git says %.*s", i, line, (int)len, p);
		cr_assert_eq(strlen(line), len);
		cr_assert_gt(c[i].time, 0);
		p += len + (p[len] == '\n');
	}
	cr_assert_str_eq(c[3].summary, "first one");
	mt_git_commit_infos_free(c, n);

	cr_assert_eq(mt_git_first_parent_history(&c, &n, repo, "HEAD^", 2), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(c[0].summary, "merge side");
	cr_assert_str_eq(c[1].summary, "second");
	mt_git_commit_infos_free(c, n);

	cr_assert_eq(mt_git_first_parent_history(&c, &n, repo, "no-such-branch", 0), MT_ENOTFOUND);
	cr_assert_null(c);
	cr_assert_eq(n, 0);
	mt_git_repo_free(repo);
	free(expect);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
	free(dir);
}
