/* Commands at a git revision: the config and the files it names, read from
 * a commit's tree (shared by `mutorch run --rev` and `mutorch ci`). */
#ifndef MUTORCH_CLI_GIT_H
#define MUTORCH_CLI_GIT_H

#include <stddef.h>

#include "mutorch/config.h"
#include "mutorch/git.h"
#include "mutorch/killmatrix.h"

typedef enum {
	CLI_INPUT_CONFIG = 0,
	CLI_INPUT_MODEL,
	CLI_INPUT_TEST,
	CLI_INPUT_TRAIN,
	CLI_INPUT_PROGRAM  /* a file of the training program (training.program_files) */
} cli_input_role;

/* One file the config names. */
typedef struct {
	cli_input_role role;
	char *tree_path;  /* path in the commit's tree; NULL: outside the repository */
	char *fs_path;    /* where it is read from (the blob cache or the file system) */
	char hash[MT_GIT_OID_HEX]; /* blob id; "" when absent (an uncommitted train set) */
} cli_input;

/* A commit's config, exported without touching the working tree: every
 * file of the commit that the config names is written once to
 * <gitdir>/mutorch/blobs/<blob id> and linked at its tree path under
 * <gitdir>/mutorch/trees/<commit>/, where the config is too, so relative
 * paths resolve as they would in a checkout and worker processes read the
 * same files from the exported config's path. */
typedef struct {
	char commit[MT_GIT_OID_HEX];
	char *config_path;  /* the exported config (what workers load) */
	char *export_root;
	mt_config *cfg;     /* loaded from it; cfg->path reads "<commit>:<path>" */
	cli_input *inputs;
	size_t ninputs;
	char config_digest[MT_GIT_OID_HEX]; /* the config fields that decide model-level results */
	char model_key[MT_GIT_OID_HEX];     /* those, the model, the test set, the versions */
	char source_key[MT_GIT_OID_HEX];    /* what decides source-level results: the recipe
					     * (with an external program: its command, knobs
					     * and program files), the source sections, the
					     * train and test sets, the versions; "" without
					     * mutation.source_level */
} cli_rev;

/* The config's path in the repository's tree from a path given on the
 * command line (relative to the current directory); malloc'd. */
int cli_git_tree_path(char **tree_path, mt_git_repo *repo, const char *config_arg);

/* Export commit's config (tree_path) and the files it names. */
int cli_rev_export(cli_rev **out, mt_git_repo *repo, const char *commit, const char *tree_path);
void cli_rev_free(cli_rev *rev);

/* `--rev REV`: open the repository around config_arg, export REV's config
 * and files, load it and initialise the shim as cli_load_config does.
 * *export_path (malloc'd) is the exported config, for worker processes;
 * *commit receives REV's commit id. */
int cli_load_config_at_rev(mt_config **cfg, char **export_path, char commit[MT_GIT_OID_HEX],
			   const char *rev, const char *config_arg);

/* Role name: "config", "model", "test set", "train set", "program file". */
const char *cli_input_role_name(cli_input_role role);


#endif
