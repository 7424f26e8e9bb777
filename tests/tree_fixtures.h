/* The module-tree fixtures (tests/fixtures/make_tree_fixtures.py: scripted
 * torchvision resnet18 and mobilenet_v3_small and a hand-written ResNet,
 * 3x32x32 inputs, 32 test inputs labelled by each model's own predictions),
 * made once per version of the script under the build directory and
 * shared by the tests that use them. Header-only: included by
 * tests/torch_tree.c and tests/test_cli_tree.c. */
#ifndef MUTORCH_TESTS_TREE_FIXTURES_H
#define MUTORCH_TESTS_TREE_FIXTURES_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"
#include "mutorch/hash.h"

#define TREE_INPUTS 32

/* Skips the test when Debian's python3-torchvision is missing. */
static const char *tree_fixtures(void)
{
	static char dir[4096];
	char done[4200], tmp[4200], *script, *err = NULL;
	size_t len = 0;

	if (dir[0])
		return dir;
	if (th_run(NULL, NULL, "/usr/bin/python3 -c 'import torchvision'") != 0)
		cr_skip_test("python3-torchvision is not installed (scripts/setup.sh installs it)");
	script = th_read_all(MT_FIXTURES "/make_tree_fixtures.py", &len);
	snprintf(dir, sizeof(dir), "%s/tree-fixtures-%016llx", MT_BINARY_DIR,
		 (unsigned long long)mt_fnv1a64(script, len, MT_FNV1A64_INIT));
	free(script);
	snprintf(done, sizeof(done), "%s/done", dir);
	if (access(done, F_OK) == 0)
		return dir;
	/* Made aside and renamed into place: tests running in parallel
	 * never see half a directory; the loser of a race drops its copy. */
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", dir, (long)getpid());
	cr_assert_eq(th_run(NULL, &err, "/usr/bin/python3 %s/make_tree_fixtures.py %s %d && touch %s/done",
			    MT_FIXTURES, tmp, TREE_INPUTS, tmp),
		     0, "make_tree_fixtures.py failed: %s", err ? err : "");
	free(err);
	if (rename(tmp, dir) != 0)
		th_run(NULL, NULL, "rm -rf %s", tmp);
	cr_assert_eq(access(done, F_OK), 0, "no fixtures in %s", dir);
	return dir;
}

#endif
