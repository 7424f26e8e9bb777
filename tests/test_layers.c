/* scripts/check-layers.sh on small fake trees built in a temporary
 * directory: a clean tree passes, wrong includes, unknown headers, folders
 * outside the table, other folders' private headers and include cycles
 * fail with a line that names the file and the header. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCRIPT MT_SOURCE_DIR "/scripts/check-layers.sh"

/* Write root/rel (creating its folders) with the given text. */
static void put(const char *root, const char *rel, const char *text)
{
	char path[4096];
	char *p;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s", path);
		*p = '/';
	}
	free(th_write(root, rel, text, (size_t)-1));
}

/* A tree every include of which points down the table: one file per
 * module folder, the public headers they include, private headers, and
 * folders the check skips (tests/, a build tree, a hidden folder). */
static char *clean_tree(void)
{
	char *root = th_tempdir("layers");
	put(root, "include/mutorch/error.h", "#ifndef E\n#define E\n#endif\n");
	put(root, "include/mutorch/recipe.h", "#include \"mutorch/error.h\"\n");
	put(root, "include/mutorch/shim.h", "#include \"mutorch/recipe.h\"\n");
	put(root, "include/mutorch/config.h", "#include \"mutorch/recipe.h\"\n");
	put(root, "include/mutorch/dataset.h", "#include \"mutorch/error.h\"\n");
	put(root, "include/mutorch/killmatrix.h", "#include <stdint.h>\n");
	put(root, "include/mutorch/git.h", "#include \"mutorch/error.h\"\n");
	put(root, "include/mutorch/operators.h",
	    "#include \"mutorch/config.h\"\n#include \"mutorch/shim.h\"\n");
	put(root, "include/mutorch/plan.h", "#include \"mutorch/operators.h\"\n");
	put(root, "include/mutorch/runner.h",
	    "#include \"mutorch/plan.h\"\n#include \"mutorch/killmatrix.h\"\n");
	put(root, "core/error.c", "#include \"mutorch/error.h\"\n#include <stdio.h>\n");
	put(root, "shim/internal.hpp", "#include \"mutorch/shim.h\"\n");
	put(root, "shim/shim.cpp", "#include \"internal.hpp\"\n#include <torch/torch.h>\n");
	put(root, "config/config.c", "  #  include \"mutorch/config.h\"\n");
	put(root, "data/dataset.c", "#include \"mutorch/dataset.h\"\n#include \"mutorch/shim.h\"\n");
	put(root, "killmatrix/internal.h", "#include \"mutorch/killmatrix.h\"\n");
	put(root, "killmatrix/scores.c", "#include \"internal.h\"\n#include \"./internal.h\"\n");
	put(root, "git/git.c", "#include \"mutorch/git.h\"\n");
	put(root, "operators/weights.c", "#include \"mutorch/operators.h\"\n"
	    "#include \"mutorch/dataset.h\"\n");
	put(root, "mutate/plan.c", "#include \"mutorch/plan.h\"\n#include \"mutorch/git.h\"\n");
	put(root, "runner/pool.c", "#include \"mutorch/runner.h\"\n#include \"mutorch/shim.h\"\n");
	put(root, "cli/cli.h", "#include \"mutorch/runner.h\"\n");
	put(root, "cli/main.c", "#include \"cli.h\"\n#include \"mutorch/git.h\"\n");
	/* not modules: never read */
	put(root, "tests/test_x.c", "#include \"mutorch/nosuch.h\"\n#include \"../runner/x.h\"\n");
	put(root, "bench/b.c", "#include \"mutorch/nosuch.h\"\n");
	put(root, "scripts/s.c", "#include \"mutorch/nosuch.h\"\n");
	put(root, "examples/e/e.c", "#include \"mutorch/nosuch.h\"\n");
	put(root, "build/CMakeCache.txt", "# a CMake build tree\n");
	put(root, "build/CMakeFiles/CMakeCCompilerId.c", "#include \"nosuch.h\"\n");
	put(root, ".git/hooks/x.c", "#include \"nosuch.h\"\n");
	return root;
}

static int check(const char *root, char **out)
{
	char *err = NULL;
	int rc = th_run(out, &err, "sh '%s' '%s'", SCRIPT, root);
	cr_log_info("check-layers.sh %s: exit %d\n%s%s", root, rc, *out, err);
	free(err);
	return rc;
}

static void drop(char *root)
{
	th_run(NULL, NULL, "rm -rf '%s'", root);
	free(root);
}

Test(layers, clean_tree_passes)
{
	char *root = clean_tree(), *out = NULL;
	cr_assert_eq(check(root, &out), 0);
	cr_assert(th_contains(out, "check-layers: 23 files, 29 includes checked"), "%s", out);
	cr_assert(!th_contains(out, "violation"), "%s", out);
	free(out);
	drop(root);
}

Test(layers, default_root_is_the_repository)
{
	char *out = NULL, *err = NULL;
	int rc = th_run(&out, &err, "cd /tmp && sh '%s'", SCRIPT);
	cr_assert(th_contains(out, "check-layers:"), "%s%s", out, err);
	cr_assert(rc == 0 || rc == 1, "exit %d: %s%s", rc, out, err);
	free(out);
	free(err);
}

Test(layers, include_up_the_table_fails)
{
	char *root = clean_tree(), *out = NULL;
	put(root, "core/x.c", "#include <stdlib.h>\n#include \"mutorch/runner.h\"\n");
	cr_assert_eq(check(root, &out), 1);
	cr_assert(th_contains(out, "core/x.c:2: includes \"mutorch/runner.h\" of runner (layer 6); "
				   "core (layer 0) may include: nothing"), "%s", out);
	/* core includes runner, whose headers include core's: a folder cycle */
	cr_assert(th_contains(out, "folder cycle: core -> runner -> "), "%s", out);
	cr_assert(th_contains(out, "violation"), "%s", out);
	free(out);
	drop(root);
}

Test(layers, same_layer_fails)
{
	char *root = clean_tree(), *out = NULL;
	put(root, "config/y.c", "#include \"mutorch/config.h\"\n#include \"mutorch/dataset.h\"\n");
	cr_assert_eq(check(root, &out), 1);
	cr_assert(th_contains(out, "config/y.c:2: includes \"mutorch/dataset.h\" of data (layer 2); "
				   "config (layer 2) may include: core"), "%s", out);
	cr_assert(th_contains(out, "check-layers: 1 violation ("), "%s", out);
	free(out);
	drop(root);
}

Test(layers, public_header_up_the_table_fails)
{
	char *root = clean_tree(), *out = NULL;
	/* a public header belongs to its owner: dataset.h is data's */
	put(root, "include/mutorch/dataset.h", "#include \"mutorch/killmatrix.h\"\n");
	cr_assert_eq(check(root, &out), 1);
	cr_assert(th_contains(out, "include/mutorch/dataset.h:1: includes \"mutorch/killmatrix.h\" "
				   "of killmatrix (layer 3); data (layer 2) may include: shim, core"),
		  "%s", out);
	free(out);
	drop(root);
}

Test(layers, unknown_public_header_fails)
{
	char *root = clean_tree(), *out = NULL;
	put(root, "git/g.c", "#include \"mutorch/frobnicate.h\"\n");
	put(root, "include/mutorch/widget.h", "\n");
	cr_assert_eq(check(root, &out), 1);
	cr_assert(th_contains(out, "git/g.c:1: includes \"mutorch/frobnicate.h\", which belongs to "
				   "no module: add frobnicate to the owners"), "%s", out);
	cr_assert(th_contains(out, "include/mutorch/widget.h: public header widget.h belongs to no "
				   "module: add widget to the owners"), "%s", out);
	cr_assert(th_contains(out, "scripts/check-layers.sh"), "%s", out);
	free(out);
	drop(root);
}

Test(layers, every_named_public_header_has_its_owner)
{
	static const struct {
		const char *folder, *headers;
	} owners[] = {
		{ "core", "error io rng strbuf csv hash clock recipe" },
		{ "shim", "shim shim_train shim_graph shim_partial" },
		{ "config", "config arch" },
		{ "data", "dataset" },
		{ "killmatrix", "killmatrix scores report stats stats_sequential stats_inputs "
				"stats_search source_results" },
		{ "git", "git" },
		{ "operators", "operators view floats source" },
		{ "mutate", "plan source_plan" },
		{ "runner", "runner pool resultlog mutant modelrun sourcerun run" },
	};
	char *root = th_tempdir("layers"), *out = NULL;
	char rel[256], text[256], names[256], *h, *save;
	size_t i;
	int n = 0;

	for (i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
		snprintf(names, sizeof(names), "%s", owners[i].headers);
		for (h = strtok_r(names, " ", &save); h; h = strtok_r(NULL, " ", &save)) {
			/* each owner includes its own headers; listed ones may not exist yet */
			snprintf(rel, sizeof(rel), "%s/uses_%s.c", owners[i].folder, h);
			snprintf(text, sizeof(text), "#include \"mutorch/%s.h\"\n", h);
			put(root, rel, text);
			if (n++ % 2 == 0) {
				snprintf(rel, sizeof(rel), "include/mutorch/%s.h", h);
				put(root, rel, "#include <stddef.h>\n");
			}
		}
	}
	cr_assert_eq(check(root, &out), 0);
	free(out);
	/* and a folder below the owner may not include them */
	put(root, "core/x.c", "#include \"mutorch/shim_partial.h\"\n#include \"mutorch/stats_search.h\"\n"
	    "#include \"mutorch/source.h\"\n#include \"mutorch/source_plan.h\"\n"
	    "#include \"mutorch/run.h\"\n");
	cr_assert_eq(check(root, &out), 1);
	cr_assert(th_contains(out, "check-layers: 5 violations"), "%s", out);
	cr_assert(th_contains(out, "\"mutorch/shim_partial.h\" of shim (layer 1)"), "%s", out);
	cr_assert(th_contains(out, "\"mutorch/stats_search.h\" of killmatrix (layer 3)"), "%s", out);
	cr_assert(th_contains(out, "\"mutorch/source.h\" of operators (layer 4)"), "%s", out);
	cr_assert(th_contains(out, "\"mutorch/source_plan.h\" of mutate (layer 5)"), "%s", out);
	cr_assert(th_contains(out, "\"mutorch/run.h\" of runner (layer 6)"), "%s", out);
	free(out);
	drop(root);
}

Test(layers, private_header_cycle_fails)
{
	char *root = clean_tree(), *out = NULL;
	put(root, "operators/a.h", "#include \"mutorch/operators.h\"\n#include \"b.h\"\n");
	put(root, "operators/b.h", "#include \"c.h\"\n");
	put(root, "operators/c.h", "\n#include \"a.h\"\n");
	put(root, "operators/source.c", "#include \"a.h\"\n");
	cr_assert_eq(check(root, &out), 1);
	cr_assert(th_contains(out, "include cycle: operators/a.h -> operators/b.h -> operators/c.h "
				   "-> operators/a.h"), "%s", out);
	cr_assert(th_contains(out, "check-layers: 1 violation ("), "%s", out);
	free(out);
	drop(root);
}

Test(layers, public_header_cycle_fails)
{
	char *root = clean_tree(), *out = NULL;
	put(root, "include/mutorch/error.h", "#include \"mutorch/io.h\"\n");
	put(root, "include/mutorch/io.h", "#include \"mutorch/error.h\"\n");
	cr_assert_eq(check(root, &out), 1);
	cr_assert(th_contains(out, "include cycle: include/mutorch/error.h -> include/mutorch/io.h -> "
				   "include/mutorch/error.h"), "%s", out);
	free(out);
	drop(root);
}

Test(layers, unknown_folder_fails)
{
	char *root = clean_tree(), *out = NULL;
	put(root, "util/u.c", "#include \"mutorch/error.h\"\n");
	put(root, "stray.c", "int x;\n");
	cr_assert_eq(check(root, &out), 1);
	cr_assert(th_contains(out, "util/u.c: source file in util/, a folder that is not in the layer "
				   "table"), "%s", out);
	cr_assert(th_contains(out, "stray.c: source file at the top of the tree"), "%s", out);
	free(out);
	drop(root);
}

Test(layers, other_folders_private_header_fails)
{
	char *root = clean_tree(), *out = NULL;
	/* runner is above mutate, but a private header is private all the same */
	put(root, "runner/x.h", "#include \"mutorch/runner.h\"\n");
	put(root, "runner/y.c", "#include \"x.h\"\n");
	put(root, "cli/cmd.c", "#include \"../runner/x.h\"\n");
	cr_assert_eq(check(root, &out), 1);
	cr_assert(th_contains(out, "cli/cmd.c:1: includes \"../runner/x.h\", a private header of "
				   "runner/"), "%s", out);
	cr_assert(th_contains(out, "check-layers: 1 violation ("), "%s", out);
	free(out);
	drop(root);
}

Test(layers, missing_private_header_fails)
{
	char *root = clean_tree(), *out = NULL;
	put(root, "data/d.c", "#include \"internal.h\"\n");
	cr_assert_eq(check(root, &out), 1);
	cr_assert(th_contains(out, "data/d.c:1: includes \"internal.h\": no such private header "
				   "data/internal.h"), "%s", out);
	free(out);
	drop(root);
}
