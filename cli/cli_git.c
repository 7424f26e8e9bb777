/* A commit's config and the files it names, exported from the object
 * database (see cli_git.h). */
#include "cli_git.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/git.h"
#include "mutorch/hash.h"
#include "mutorch/strbuf.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"
#include "mutorch/shim.h"
#include "mutorch/source.h"

const char *cli_input_role_name(cli_input_role role)
{
	switch (role) {
	case CLI_INPUT_CONFIG: return "config";
	case CLI_INPUT_MODEL: return "model";
	case CLI_INPUT_TEST: return "test set";
	case CLI_INPUT_TRAIN: return "train set";
	case CLI_INPUT_PROGRAM: return "program file";
	}
	return "?";
}

/* Lexically normalise an absolute path: drop "." and empty components,
 * apply "..". Returns malloc'd. */
static char *normalise(const char *path)
{
	size_t n = strlen(path);
	char *out = malloc(n + 2), *copy = strdup(path), *save = NULL, *tok;
	size_t used = 0;

	if (!out || !copy) {
		free(out);
		free(copy);
		return NULL;
	}
	out[0] = '\0';
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			char *slash = strrchr(out, '/');
			used = slash ? (size_t)(slash - out) : 0;
			out[used] = '\0';
			continue;
		}
		used += (size_t)sprintf(out + used, "/%s", tok);
	}
	if (!used)
		strcpy(out, "/");
	free(copy);
	return out;
}

/* The part of path under dir ("a/b" for dir/a/b), or NULL. */
static const char *under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (strncmp(path, dir, n) != 0 || path[n] != '/' || !path[n + 1])
		return NULL;
	return path + n + 1;
}

int cli_git_tree_path(char **tree_path, mt_git_repo *repo, const char *config_arg)
{
	char cwd[PATH_MAX], joined[2 * PATH_MAX + 2], *norm = NULL, *dir = NULL, *base;
	char real[PATH_MAX];
	const char *rel;
	int error = 0;

	*tree_path = NULL;
	if (config_arg[0] == '/') {
		snprintf(joined, sizeof(joined), "%s", config_arg);
	} else {
		if (!getcwd(cwd, sizeof(cwd)) || !realpath(cwd, real))
			return mt_error_set(MT_EIO, "cannot read the current directory: %s", strerror(errno));
		snprintf(joined, sizeof(joined), "%s/%s", real, config_arg);
	}
	if (!(norm = normalise(joined)))
		return mt_error_oom();
	/* Resolve symbolic links in the directory part when it exists, so a
	 * config under a linked directory still maps into the tree. */
	if ((dir = mt_io_dirname(norm)) && realpath(dir, real)) {
		base = strrchr(norm, '/') + 1;
		snprintf(joined, sizeof(joined), "%s/%s", real, base);
		free(norm);
		if (!(norm = strdup(joined))) {
			free(dir);
			return mt_error_oom();
		}
	}
	free(dir);
	if (!(rel = under(norm, mt_git_workdir(repo)))) {
		error = mt_error_set(MT_EINVALID, "%s is outside the repository %s; expected a config "
				     "inside its working tree", norm, mt_git_workdir(repo));
		goto cleanup;
	}
	if (!(*tree_path = strdup(rel)))
		error = mt_error_oom();
cleanup:
	free(norm);
	return error;
}

/* Make link (and its directories) point at target, atomically. */
static int link_at(const char *link, const char *target)
{
	char buf[PATH_MAX + 1], tmp[PATH_MAX + 64], *dir;
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	int error;

	if (n > 0) {
		buf[n] = '\0';
		if (!strcmp(buf, target))
			return 0;
	}
	if (!(dir = mt_io_dirname(link)))
		return mt_error_oom();
	error = mt_io_mkdirs(dir);
	free(dir);
	if (error < 0)
		return error;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", link, (long)getpid());
	unlink(tmp);
	if (symlink(target, tmp) < 0 || rename(tmp, link) < 0) {
		error = mt_error_set(MT_EIO, "%s: cannot link the exported file: %s", link, strerror(errno));
		unlink(tmp);
		return error;
	}
	return 0;
}

/* A blob as a file of its own at path (executable: it may be the
 * command), rewritten atomically. */
static int copy_blob(const char *path, mt_git_repo *repo, const char *blob)
{
	void *buf = NULL;
	size_t len = 0;
	char *dir = mt_io_dirname(path);
	int error = dir ? mt_io_mkdirs(dir) : mt_error_oom();

	if (error == 0 && (error = mt_git_blob_read(&buf, &len, repo, blob)) == 0 &&
	    (error = mt_io_write_file_atomic(path, buf, len)) == 0 && chmod(path, 0755) != 0)
		error = mt_error_set(MT_EIO, "%s: cannot make it executable: %s", path, strerror(errno));
	free(buf);
	free(dir);
	return error;
}

static int add_input(cli_rev *rev, mt_git_repo *repo, cli_input_role role, const char *cfg_path,
		     int required)
{
	cli_input *in, *grown;
	char *norm = NULL, *mapped = NULL, *blob_path = NULL, joined[2 * PATH_MAX + 2];
	const char *tail, *rel;
	int error = 0;

	if (!(grown = realloc(rev->inputs, sizeof(*grown) * (rev->ninputs + 1))))
		return mt_error_oom();
	rev->inputs = grown;
	in = &grown[rev->ninputs];
	memset(in, 0, sizeof(*in));
	in->role = role;

	/* Paths written relative to the config were resolved into the export
	 * root: map them back onto the working tree to see where they land. */
	if ((tail = under(cfg_path, rev->export_root))) {
		snprintf(joined, sizeof(joined), "%s/%s", mt_git_workdir(repo), tail);
		if (!(mapped = normalise(joined))) {
			error = mt_error_oom();
			goto cleanup;
		}
		if (!(rel = under(mapped, mt_git_workdir(repo)))) {
			error = mt_error_set(MT_EINVALID, "%s: the %s path leads out of the repository (%s); "
					     "expected a path inside it, or an absolute path for files outside it",
					     rev->cfg->path, cli_input_role_name(role), mapped);
			goto cleanup;
		}
		if (!(in->tree_path = strdup(rel))) {
			error = mt_error_oom();
			goto cleanup;
		}
		error = mt_git_blob_id(in->hash, repo, rev->commit, in->tree_path);
		if (error == MT_ENOTFOUND && !required) {
			/* Not needed to evaluate (an uncommitted train set). */
			in->hash[0] = '\0';
			error = 0;
			if (!(in->fs_path = strdup(cfg_path)))
				error = mt_error_oom();
			goto cleanup;
		}
		if (error < 0) {
			mt_error_prefix("%s: the %s: ", rev->cfg->path, cli_input_role_name(role));
			goto cleanup;
		}
		if (!(norm = normalise(cfg_path))) {
			error = mt_error_oom();
			goto cleanup;
		}
		if (role == CLI_INPUT_PROGRAM) {
			/* A copy, not a link: Python resolves a script's links
			 * and would look for the program's modules among the
			 * blobs. */
			if ((error = copy_blob(norm, repo, in->hash)) < 0)
				goto cleanup;
		} else if ((error = mt_git_blob_materialise(&blob_path, repo, in->hash)) < 0 ||
			   (error = link_at(norm, blob_path)) < 0) {
			goto cleanup;
		}
		in->fs_path = norm;
		norm = NULL;
		goto cleanup;
	}
	if (!(norm = normalise(cfg_path))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if (under(norm, mt_git_workdir(repo))) {
		/* The workers would read the working tree, not the commit. */
		error = mt_error_set(MT_EINVALID, "%s: the %s path %s is an absolute path into the working "
				     "tree; write it relative to the config so that it is read from the commit",
				     rev->cfg->path, cli_input_role_name(role), cfg_path);
		goto cleanup;
	}
	/* Outside the repository: read from the file system, hashed by content. */
	if ((error = mt_hash_file(in->hash, norm)) < 0) {
		if (!required) {
			in->hash[0] = '\0';
			error = 0;
		} else {
			mt_error_prefix("%s: the %s: ", rev->cfg->path, cli_input_role_name(role));
			goto cleanup;
		}
	}
	in->fs_path = norm;
	norm = NULL;
cleanup:
	if (error == 0)
		rev->ninputs++;
	else {
		free(in->tree_path);
		free(in->fs_path);
	}
	free(norm);
	free(mapped);
	free(blob_path);
	return error;
}

/* The config fields that decide model-level results, as canonical text.
 * The training recipe, the train set, run.dir and ci are not among them. */
static void config_text(mt_strbuf *tb, const mt_config *cfg)
{
	mt_strbuf_printf(tb, "format %s\nclasses %d\n", mt_data_format_name(cfg->format), cfg->num_classes);
	mt_strbuf_printf(tb, "architecture %s\n", cfg->architecture ? cfg->architecture : "-");
	mt_strbuf_printf(tb, "input_shape %d %lld %lld %lld\n", cfg->has_input_shape,
		  (long long)cfg->input_shape[0], (long long)cfg->input_shape[1], (long long)cfg->input_shape[2]);
	mt_strbuf_printf(tb, "normalize %.17g", cfg->norm_scale);
	for (int i = 0; i < cfg->nnorm; i++)
		mt_strbuf_printf(tb, " %.17g/%.17g", cfg->norm_mean[i], cfg->norm_std[i]);
	mt_strbuf_printf(tb, "\ntest_limit %lld\neval_batch_size %lld\nthreads %d\nseed %llu\n",
		  (long long)cfg->test_limit, (long long)cfg->eval_batch_size, cfg->threads,
		  (unsigned long long)cfg->seed);
	mt_strbuf_printf(tb, "mutation_seed %llu\naccuracy_filter %.17g\n",
		  (unsigned long long)cfg->mutation_seed, cfg->accuracy_filter);
	for (size_t i = 0; i < cfg->nmodel_level; i++) {
		const mt_config_mutation *m = &cfg->model_level[i];
		mt_strbuf_printf(tb, "model_level %s", m->op);
		for (size_t j = 0; j < m->nparams; j++)
			mt_strbuf_printf(tb, " %s=%s", m->params[j].key, m->params[j].value);
		mt_strbuf_printf(tb, "\n");
	}
}

/* Source-level results depend on the training recipe, the source sections,
 * the train and test sets' content and the versions. The recipe text is
 * taken from a copy whose model path is replaced by the model's blob id:
 * the exported path differs between commits, the content may not. */
static int compute_source_key(cli_rev *rev, const char *config_digest)
{
	const mt_config *cfg = rev->cfg;
	mt_config *copy = NULL;
	char *recipe = NULL;
	mt_strbuf key = MT_STRBUF_INIT;
	int error;

	if ((error = mt_config_copy(&copy, cfg)) < 0)
		return error;
	if (copy->torchscript) {
		free(copy->torchscript);
		copy->torchscript = NULL;
		for (size_t i = 0; i < rev->ninputs; i++)
			if (rev->inputs[i].role == CLI_INPUT_MODEL && !(copy->torchscript = strdup(rev->inputs[i].hash))) {
				error = mt_error_oom();
				goto cleanup;
			}
	}
	if ((error = mt_source_recipe_text(&recipe, copy)) < 0)
		goto cleanup;
	mt_strbuf_printf(&key, "mutorch source-level key 1\nmutorch %s\ntorch %s\nconfig %s\nrecipe %s\n",
		  MUTORCH_VERSION, mt_shim_torch_version(), config_digest, recipe);
	mt_strbuf_printf(&key, "train_limit %lld\nsource runs=%d rule=%d alpha=%.17g effect=%.17g correction=%d "
		  "sequential=%d max_runs=%d\n", (long long)cfg->train_limit, cfg->src_runs, cfg->src_rule,
		  cfg->src_alpha, cfg->src_effect, cfg->src_correction, cfg->src_sequential, cfg->src_max_runs);
	for (size_t i = 0; i < cfg->nsource_level; i++) {
		const mt_config_mutation *m = &cfg->source_level[i];
		mt_strbuf_printf(&key, "source_level %s", m->op);
		for (size_t j = 0; j < m->nparams; j++)
			mt_strbuf_printf(&key, " %s=%s", m->params[j].key, m->params[j].value);
		mt_strbuf_printf(&key, "\n");
	}
	for (size_t i = 0; i < rev->ninputs; i++)
		if (rev->inputs[i].role != CLI_INPUT_CONFIG)
			mt_strbuf_printf(&key, "%s %s\n", cli_input_role_name(rev->inputs[i].role),
				  rev->inputs[i].hash[0] ? rev->inputs[i].hash : "-");
	if (key.failed) {
		error = mt_error_oom();
		goto cleanup;
	}
	error = mt_hash_blob(rev->source_key, key.buf, key.len);
cleanup:
	free(recipe);
	mt_strbuf_dispose(&key);
	mt_config_free(copy);
	return error;
}

static int compute_keys(cli_rev *rev)
{
	mt_strbuf cfgt = MT_STRBUF_INIT, key = MT_STRBUF_INIT;
	int error = 0;

	config_text(&cfgt, rev->cfg);
	if (cfgt.failed) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_hash_blob(rev->config_digest, cfgt.buf, cfgt.len)) < 0)
		goto cleanup;
	mt_strbuf_printf(&key, "mutorch model-level key 1\nmutorch %s\ntorch %s\nconfig %s\n", MUTORCH_VERSION,
		  mt_shim_torch_version(), rev->config_digest);
	for (size_t i = 0; i < rev->ninputs; i++)
		if (rev->inputs[i].role == CLI_INPUT_MODEL || rev->inputs[i].role == CLI_INPUT_TEST)
			mt_strbuf_printf(&key, "%s %s\n", cli_input_role_name(rev->inputs[i].role), rev->inputs[i].hash);
	if (key.failed) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_hash_blob(rev->model_key, key.buf, key.len)) < 0)
		goto cleanup;
	if (rev->cfg->nsource_level > 0)
		error = compute_source_key(rev, rev->config_digest);
cleanup:
	mt_strbuf_dispose(&cfgt);
	mt_strbuf_dispose(&key);
	return error;
}

int cli_rev_export(cli_rev **out, mt_git_repo *repo, const char *commit, const char *tree_path)
{
	cli_rev *rev = NULL;
	char config_blob[MT_GIT_OID_HEX], *blob_path = NULL, *dir = NULL, *name = NULL;
	void *text = NULL;
	size_t len, n;
	int error;

	*out = NULL;
	if (!(rev = calloc(1, sizeof(*rev))))
		return mt_error_oom();
	snprintf(rev->commit, sizeof(rev->commit), "%s", commit);
	n = strlen(mt_git_gitdir(repo)) + strlen(commit) + strlen(tree_path) + 32;
	if (!(rev->export_root = malloc(n)) || !(rev->config_path = malloc(n)) || !(name = malloc(n))) {
		error = mt_error_oom();
		goto cleanup;
	}
	snprintf(rev->export_root, n, "%s/mutorch/trees/%s", mt_git_gitdir(repo), commit);
	snprintf(rev->config_path, n, "%s/%s", rev->export_root, tree_path);
	snprintf(name, n, "%.12s:%s", commit, tree_path);

	if ((error = mt_git_blob_id(config_blob, repo, commit, tree_path)) < 0) {
		if (error == MT_ENOTFOUND)
			error = mt_error_set(MT_ENOTFOUND, "%s is not in the tree of commit %.12s; "
					     "expected the config to be committed", tree_path, commit);
		goto cleanup;
	}
	if ((error = mt_git_blob_read(&text, &len, repo, config_blob)) < 0 ||
	    (error = mt_git_blob_materialise(&blob_path, repo, config_blob)) < 0 ||
	    (error = link_at(rev->config_path, blob_path)) < 0)
		goto cleanup;
	if (!(dir = mt_io_dirname(rev->config_path))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_config_load_buffer(&rev->cfg, text, len, name, dir)) < 0)
		goto cleanup;

	if (!(rev->inputs = calloc(1, sizeof(*rev->inputs)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	rev->inputs[0].role = CLI_INPUT_CONFIG;
	snprintf(rev->inputs[0].hash, MT_GIT_OID_HEX, "%s", config_blob);
	if (!(rev->inputs[0].tree_path = strdup(tree_path)) ||
	    !(rev->inputs[0].fs_path = strdup(rev->config_path))) {
		error = mt_error_oom();
		goto cleanup;
	}
	rev->ninputs = 1;
	/* The model must be committed for model-level mutants (and as the
	 * starting point of a torchscript recipe); the train set for
	 * source-level mutants, which retrain. */
	if ((error = add_input(rev, repo, CLI_INPUT_MODEL,
			       rev->cfg->torchscript ? rev->cfg->torchscript : rev->cfg->output,
			       rev->cfg->nmodel_level > 0 || rev->cfg->torchscript)) < 0)
		goto cleanup;
	for (size_t i = 0; i < rev->cfg->test.npaths; i++)
		if ((error = add_input(rev, repo, CLI_INPUT_TEST, rev->cfg->test.paths[i], 1)) < 0)
			goto cleanup;
	for (size_t i = 0; i < rev->cfg->train.npaths; i++)
		if ((error = add_input(rev, repo, CLI_INPUT_TRAIN, rev->cfg->train.paths[i],
				       rev->cfg->nsource_level > 0)) < 0)
			goto cleanup;
	/* The training program is part of the commit: its files are read from
	 * the tree and their blob ids go into the source key, so a change to
	 * train.py retrains. */
	for (size_t i = 0; i < rev->cfg->nprogram_files; i++)
		if ((error = add_input(rev, repo, CLI_INPUT_PROGRAM, rev->cfg->program_files[i],
				       rev->cfg->nsource_level > 0)) < 0)
			goto cleanup;
	if ((error = compute_keys(rev)) < 0)
		goto cleanup;
	*out = rev;
	rev = NULL;
cleanup:
	free(text);
	free(blob_path);
	free(dir);
	free(name);
	cli_rev_free(rev);
	return error;
}

void cli_rev_free(cli_rev *rev)
{
	if (!rev)
		return;
	for (size_t i = 0; i < rev->ninputs; i++) {
		free(rev->inputs[i].tree_path);
		free(rev->inputs[i].fs_path);
	}
	free(rev->inputs);
	mt_config_free(rev->cfg);
	free(rev->config_path);
	free(rev->export_root);
	free(rev);
}

int cli_load_config_at_rev(mt_config **cfg, char **export_path, char commit[MT_GIT_OID_HEX],
			   const char *rev_arg, const char *config_arg)
{
	mt_git_repo *repo = NULL;
	cli_rev *rev = NULL;
	char *tree_path = NULL;
	struct stat st;
	int error;

	*cfg = NULL;
	*export_path = NULL;
	if ((error = mt_git_repo_open(&repo, stat(config_arg, &st) == 0 ? config_arg : ".")) < 0 ||
	    (error = mt_git_resolve(commit, repo, rev_arg)) < 0 ||
	    (error = cli_git_tree_path(&tree_path, repo, config_arg)) < 0 ||
	    (error = cli_rev_export(&rev, repo, commit, tree_path)) < 0 ||
	    (error = mt_shim_init(rev->cfg->threads, rev->cfg->seed, 0)) < 0)
		goto cleanup;
	*cfg = rev->cfg;
	rev->cfg = NULL;
	*export_path = rev->config_path;
	rev->config_path = NULL;
cleanup:
	free(tree_path);
	cli_rev_free(rev);
	mt_git_repo_free(repo);
	return error;
}
