/* mutorch hook: install or remove a git hook that runs `mutorch ci`. */
#include "cli.h"
#include "cli_git.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mutorch/error.h"
#include "mutorch/git.h"
#include "mutorch/io.h"

static const char hook_usage[] =
	"usage: mutorch hook install [--post-commit | --pre-push] [--force] [CONFIG]\n"
	"       mutorch hook uninstall [--post-commit | --pre-push]\n"
	"\n"
	"Install (or remove) a git hook that runs `mutorch ci CONFIG` with this\n"
	"mutorch binary: post-commit (the default) analyses every new commit;\n"
	"pre-push analyses HEAD before a push and stops the push when the gate\n"
	"fails. A hook that mutorch did not write is kept unless --force.\n"
	"\n"
	"      --post-commit   run after every commit (default)\n"
	"      --pre-push      run before every push; a failing gate stops it\n"
	"  -f, --force         replace an existing hook mutorch did not write\n"
	"  -h, --help          show this help\n";

#define HOOK_MARK "# mutorch hook: runs `mutorch ci`"

/* 'text' quoted for sh. */
static void sh_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	fputc('\'', f);
}

int cmd_hook(int argc, char **argv)
{
	static const struct option opts[] = {
		{"post-commit", no_argument, NULL, 'P'},
		{"pre-push", no_argument, NULL, 'p'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *hook = "post-commit", *config_arg = "mutorch.yml", *action;
	char *hooks_dir = NULL, *path = NULL, *tree_path = NULL, *existing = NULL;
	size_t len;
	mt_git_repo *repo = NULL;
	int force = 0, c, error = 0, rc = MT_EXIT_OK, install;
	struct stat st;
	FILE *f;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'P': hook = "post-commit"; break;
		case 'p': hook = "pre-push"; break;
		case 'f': force = 1; break;
		case 'h': fputs(hook_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("hook", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("hook", "missing the action: install or uninstall");
	action = argv[optind++];
	if (strcmp(action, "install") && strcmp(action, "uninstall"))
		return cli_usage_error("hook", "unknown action '%s'; expected install or uninstall", action);
	install = !strcmp(action, "install");
	if (optind < argc && install)
		config_arg = argv[optind++];
	if (optind < argc)
		return cli_usage_error("hook", "unexpected argument '%s'", argv[optind]);

	if ((error = mt_git_repo_open(&repo, stat(config_arg, &st) == 0 ? config_arg : ".")) < 0 ||
	    (error = mt_git_hooks_dir(&hooks_dir, repo)) < 0)
		goto cleanup;
	if (!(path = mt_io_path_join(hooks_dir, hook))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if (access(path, F_OK) == 0) {
		if ((error = mt_io_read_file((void **)&existing, &len, path)) < 0)
			goto cleanup;
		if (!strstr(existing, HOOK_MARK) && !(install && force)) {
			error = mt_error_set(MT_EINVALID, "%s exists and was not written by mutorch; %s", path,
					     install ? "add `mutorch ci` to it yourself, or replace it with --force"
						     : "leaving it in place");
			goto cleanup;
		}
	}
	if (!install) {
		if (existing && unlink(path) < 0) {
			error = mt_error_set(MT_EIO, "%s: cannot remove: %s", path, strerror(errno));
			goto cleanup;
		}
		fprintf(stderr, existing ? "removed %s\n" : "no mutorch %s hook in %s\n", existing ? path : hook,
			existing ? "" : hooks_dir);
		goto cleanup;
	}
	if ((error = cli_git_tree_path(&tree_path, repo, config_arg)) < 0 || (error = mt_io_mkdirs(hooks_dir)) < 0)
		goto cleanup;
	if (!(f = fopen(path, "w"))) {
		error = mt_error_set(MT_EIO, "%s: cannot write: %s", path, strerror(errno));
		goto cleanup;
	}
	fprintf(f, "#!/bin/sh\n" HOOK_MARK " (%s).\n"
		   "# Installed by `mutorch hook install`; remove with `mutorch hook uninstall%s`.\n"
		   "# git runs hooks at the top of the working tree.\n",
		hook, !strcmp(hook, "pre-push") ? " --pre-push" : "");
	if (!strcmp(hook, "pre-push"))
		fputs("# A failing gate (exit 4) stops the push.\n", f);
	else
		fputs("# git ignores a post-commit hook's exit status: the commit stays.\n", f);
	fputs("exec ", f);
	sh_quote(f, cli_self_exe());
	fputs(" ci ", f);
	sh_quote(f, tree_path);
	fputc('\n', f);
	if (fclose(f) != 0 || chmod(path, 0755) < 0) {
		error = mt_error_set(MT_EIO, "%s: cannot write: %s", path, strerror(errno));
		goto cleanup;
	}
	fprintf(stderr, "installed the %s hook %s: it runs `mutorch ci %s`\n", hook, path, tree_path);
cleanup:
	if (error < 0)
		rc = cli_fail("hook", error);
	free(existing);
	free(tree_path);
	free(path);
	free(hooks_dir);
	mt_git_repo_free(repo);
	return rc;
}
