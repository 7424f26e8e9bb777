/* mutorch ci: git-triggered regression runs (docs/ci.md). */
#include "cli.h"
#include "ci_note.h"
#include "cli_git.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <git2.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mutorch/clock.h"
#include "mutorch/error.h"
#include "mutorch/git.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"
#include "mutorch/modelrun.h"
#include "mutorch/runner.h"
#include "mutorch/scores.h"
#include "mutorch/shim.h"
#include "mutorch/source_results.h"
#include "mutorch/sourcerun.h"

static const char ci_usage[] =
	"usage: mutorch ci [CONFIG] [--base REV] [--jobs N] [--timeout S] [--wait S]\n"
	"                  [--eval-timeout S] [--json] [--quiet]\n"
	"\n"
	"Analyse the commit HEAD points at (its config, model and data are read from\n"
	"the commit, never from the working tree), reusing every recorded result\n"
	"whose inputs have the same content, and attach the results to the commit\n"
	"as a git note under refs/notes/mutorch. Both levels run when the config\n"
	"has them (model_level, source_level). Compare with the base commit's\n"
	"note, print the change per score and per operator, and fail when the\n"
	"gated score (ci.score) is below ci.threshold or fell by more than\n"
	"ci.tolerance. docs/ci.md describes the reuse rules and the note.\n"
	"\n"
	"  -b, --base REV      the commit to compare with (default: ci.base of the\n"
	"                      config, else HEAD^)\n"
	"  -j, --jobs N        worker processes (default 1)\n"
	"  -t, --timeout S     time limit per mutant in seconds\n"
	"      --eval-timeout S  time limit on the original model's evaluation: past\n"
	"                      it, exit 3 (default 600; 0: no limit)\n"
	"  -w, --wait S        wait up to S seconds for another run on this\n"
	"                      repository to finish (default 600); then exit 5\n"
	"      --json          print the note on stdout\n"
	"  -q, --quiet         no progress output\n"
	"  -h, --help          show this help\n"
	"\n"
	"Exit codes: 0 passed, 1 internal error, 2 usage error, 3 bad input (not a\n"
	"repository, unknown or missing base, config or data not committed),\n"
	"4 score below ci.threshold or fell by more than ci.tolerance, 5 another\n"
	"run holds the repository's lock.\n";


/* The records of a result log: its lines but the header (resultlog.h). */
static size_t count_records(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c, first = 1, is_header = 0;
	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF) {
		if (first)
			is_header = c == 'm'; /* "mutorch-results 2"; records start with a digit */
		first = c == '\n';
		n += c == '\n' && !is_header;
		if (c == '\n')
			is_header = 0;
	}
	fclose(f);
	return n;
}

/* Source-level mutants (mutants of the training program, each retrained):
 * reused from the base's note when the source key is the same, else run in
 * .git/mutorch/source-runs/<source key>, whose trained-model cache is shared
 * by every key (the cache keys trained runs by content). */
static int source_level(json_t *note, json_int_t *trained, mt_git_repo *repo, const cli_rev *rev,
			json_t *base_note, const char *base, const mt_run_options *mo, int quiet)
{
	json_t *base_src = base_note ? json_object_get(base_note, "source") : NULL, *src;
	char dir[PATH_MAX + 128], cache[PATH_MAX + 160], shared[PATH_MAX + 128];
	const char *bkey = base_src ? json_string_value(json_object_get(base_src, "key")) : NULL;
	mt_run_options so;
	mt_source_results *res = NULL;
	double score;
	int error = 0;

	*trained = 0;
	if (rev->cfg->nsource_level == 0)
		return 0;
	if (bkey && !strcmp(bkey, rev->source_key)) {
		src = json_deep_copy(base_src);
		json_object_set_new(src, "trainings", json_integer(0));
		json_object_set_new(src, "reused_from", json_string(base));
		json_object_set_new(note, "source", src);
		json_object_set(json_object_get(note, "scores"), "source_mutation_score",
				json_object_get(base_src, "mutation_score"));
		ci_say(quiet, "the training recipe, data and source-level config are unchanged since %.12s: "
		    "reusing its source-level results; nothing is retrained", base);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/mutorch/source-runs/%s", mt_git_gitdir(repo), rev->source_key);
	snprintf(shared, sizeof(shared), "%s/mutorch/source-cache", mt_git_gitdir(repo));
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	if ((error = mt_io_mkdirs(dir)) < 0 || (error = mt_io_mkdirs(shared)) < 0)
		return error;
	if (access(cache, F_OK) != 0 && symlink(shared, cache) < 0)
		return mt_error_set(MT_EIO, "%s: cannot link the shared training cache: %s", cache, strerror(errno));
	if ((error = mt_shim_init(rev->cfg->threads, rev->cfg->seed, 0)) < 0)
		return error;
	if (base_src && ci_same_inputs(base_note, note, "train set") && ci_same_inputs(base_note, note, "model") &&
	    ci_same_inputs(base_note, note, "program file") && !ci_same_inputs(base_note, note, "test set"))
		ci_say(quiet, "source level: only the test set changed: the cached trained models are re-evaluated "
		    "on the new test set; nothing is retrained");
	ci_say(quiet, "source level: training what the cache lacks (results in %s)", dir);
	so = *mo;
	so.config_path = rev->config_path;
	so.run_dir = dir;
	so.force = 0;
	so.self_exe = mo->self_exe ? mo->self_exe : cli_self_exe();
	so.progress = quiet ? NULL : stderr;
	so.progress_tty = !quiet && isatty(STDERR_FILENO);
	if ((error = mt_source_run(&res, rev->cfg, &so)) < 0)
		return error;
	score = mt_source_results_score(res);
	src = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "key", rev->source_key,
			"mutants", (json_int_t)res->nmutants, "killed", (json_int_t)res->killed,
			"survived", (json_int_t)res->survived, "errors", (json_int_t)res->errors,
			"mutation_score", isfinite(score) ? json_real(score) : json_null());
	/* An empty plan reports no rule and no original runs. */
	json_object_set_new(src, "rule", res->nmutants ? json_string(res->rule) : json_null());
	json_object_set_new(src, "original_runs", res->nmutants ? json_integer(res->original_runs) : json_null());
	json_object_set_new(src, "trainings_used", json_integer((json_int_t)res->trainings_used));
	*trained = (json_int_t)res->trainings_this_invocation;
	json_object_set_new(src, "trainings", json_integer(*trained));
	if (res->nmutants > 0)
		json_object_set_new(src, "reevaluated",
				    json_integer((json_int_t)res->reevaluations_this_invocation));
	json_object_set_new(src, "operators", ci_source_operator_rows(res));
	json_object_set_new(note, "source", src);
	json_object_set(json_object_get(note, "scores"), "source_mutation_score",
			json_object_get(src, "mutation_score"));
	mt_source_results_free(res);
	return 0;
}

int cmd_ci(int argc, char **argv)
{
	static const struct option opts[] = {
		{"base", required_argument, NULL, 'b'},
		{"jobs", required_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 't'},
		{"wait", required_argument, NULL, 'w'},
		{"eval-timeout", required_argument, NULL, 'E'},
		{"json", no_argument, NULL, 'J'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *config_arg = "mutorch.yml", *base_arg = NULL, *base_name = "base";
	char head[MT_GIT_OID_HEX], base[MT_GIT_OID_HEX] = "", *branch = NULL, *tree_path = NULL;
	char *base_text = NULL, *note_text = NULL, run_dir[PATH_MAX + 128], km_path[PATH_MAX + 160];
	char **changed = NULL, **dirty = NULL;
	size_t nchanged = 0, ndirty = 0, run_count = 0, reused_count = 0;
	mt_git_repo *repo = NULL;
	mt_git_lock *lock = NULL;
	cli_rev *rev = NULL;
	mt_killmatrix *km = NULL;
	mt_run_options o;
	json_t *base_note = NULL, *note = NULL, *inputs, *gate;
	const char **paths = NULL;
	double wait = 600, t_start = mt_clock_now();
	int json = 0, quiet = 0, c, error = 0, rc = MT_EXIT_OK, reused_note = 0;
	json_int_t retrained = 0;
	char *end;
	struct stat st;

	memset(&o, 0, sizeof(o));
	o.jobs = 1;
	o.eval_timeout = MT_EVAL_TIMEOUT_DEFAULT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "b:j:t:w:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'b': base_arg = optarg; break;
		case 'j':
			if (cli_parse_jobs(&o.jobs, "ci", optarg) < 0)
				return MT_EXIT_USAGE;
			break;
		case 't':
			o.timeout = strtod(optarg, &end);
			if (*end || o.timeout <= 0)
				return cli_usage_error("ci", "--timeout must be a positive number of seconds, got '%s'", optarg);
			break;
		case 'w':
			wait = strtod(optarg, &end);
			if (*end || wait < 0)
				return cli_usage_error("ci", "--wait must be a number of seconds >= 0, got '%s'", optarg);
			break;
		case 'J': json = 1; break;
		case 'q': quiet = 1; break;
		case 'E':
			if (cli_parse_eval_timeout(&o.eval_timeout, "ci", optarg) < 0)
				return MT_EXIT_USAGE;
			break;
		case 'h': fputs(ci_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("ci", "unknown option");
		}
	}
	if (optind < argc)
		config_arg = argv[optind++];
	if (optind < argc)
		return cli_usage_error("ci", "unexpected argument '%s'", argv[optind]);

	/* The repository, HEAD, and the lock that serialises runs on it. */
	if ((error = mt_git_repo_open(&repo, stat(config_arg, &st) == 0 ? config_arg : ".")) < 0 ||
	    (error = mt_git_head(head, &branch, repo)) < 0)
		goto cleanup;
	if (branch)
		ci_say(quiet, "analysing HEAD %.12s (branch %s)", head, branch);
	else
		ci_say(0, "HEAD is detached at %.12s; analysing that commit (the note is attached to it)", head);
	if ((error = mt_git_lock_acquire(&lock, repo, "ci.lock", wait)) < 0) {
		rc = MT_EXIT_BUSY;
		fprintf(stderr, "mutorch ci: error: %s\n", mt_error_last());
		goto cleanup;
	}
	if ((error = cli_git_tree_path(&tree_path, repo, config_arg)) < 0 ||
	    (error = cli_rev_export(&rev, repo, head, tree_path)) < 0)
		goto cleanup;

	/* A dirty working tree is not analysed: the commit is. */
	if ((error = mt_git_dirty_paths(&dirty, &ndirty, repo, NULL, 0)) < 0)
		goto cleanup;
	if (ndirty > 0)
		ci_say(0, "the working tree has uncommitted changes (%zu file%s, %s%s); analysing HEAD %.12s "
		    "as committed, not the working tree", ndirty, ndirty == 1 ? "" : "s", dirty[0],
		    ndirty > 1 ? ", ..." : "", head);

	/* The base. */
	if (!base_arg)
		base_arg = rev->cfg->ci_base;
	if (!base_arg) {
		size_t nparents;
		int present;
		base_name = "HEAD^";
		if ((error = mt_git_parents(&nparents, &present, repo, head)) < 0)
			goto cleanup;
		if (nparents == 0) {
			ci_say(0, "HEAD %.12s is the first commit: no base to compare with; running the full analysis", head);
		} else if (!present) {
			error = mt_error_set(MT_ENOTFOUND, "the base HEAD^ of %.12s is missing: this is a shallow clone. "
					     "Fetch the history (git fetch --deepen=1 or --unshallow; in GitHub Actions "
					     "actions/checkout with fetch-depth: 0), or give --base a commit that is present",
					     head);
			goto cleanup;
		} else if ((error = mt_git_resolve(base, repo, "HEAD^")) < 0) {
			goto cleanup;
		}
	} else {
		base_name = base_arg;
		if ((error = mt_git_resolve(base, repo, base_arg)) < 0) {
			if (mt_git_is_shallow(repo))
				mt_error_set(MT_ENOTFOUND, "the base '%s' is not in this shallow clone; fetch it "
					     "(git fetch --deepen=N or --unshallow; in GitHub Actions actions/checkout "
					     "with fetch-depth: 0) or give --base a commit that is present", base_arg);
			else
				mt_error_prefix("--base: ");
			goto cleanup;
		}
	}
	if (strlen(base_name) > 10)
		base_name = "base";
	if (*base) {
		if ((error = mt_git_note_read(&base_text, repo, base)) < 0)
			goto cleanup;
		if (!base_text)
			ci_say(0, "the base %.12s has no mutorch note: nothing to compare with or reuse from it; "
			    "running the full analysis", base);
		else
			base_note = ci_parse_note(base_text, base, quiet);
	}

	/* The note's inputs, and what changed since the base. */
	note = json_object();
	json_object_set_new(note, "mutorch_note", json_integer(NOTE_FORMAT));
	json_object_set_new(note, "commit", json_string(head));
	json_object_set_new(note, "base", *base ? json_string(base) : json_null());
	json_object_set_new(note, "config", json_string(tree_path));
	json_object_set_new(note, "config_digest", json_string(rev->config_digest));
	json_object_set_new(note, "model_key", json_string(rev->model_key));
	inputs = json_array();
	if (!(paths = calloc(rev->ninputs + 1, sizeof(*paths)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (size_t i = 0, np = 0; i < rev->ninputs; i++) {
		const cli_input *in = &rev->inputs[i];
		json_array_append_new(inputs, json_pack("{s:s, s:s, s:s?, s:b}", "role", cli_input_role_name(in->role),
							"path", in->tree_path ? in->tree_path : in->fs_path,
							"blob", in->hash[0] ? in->hash : NULL,
							"in_repository", in->tree_path != NULL));
		if (in->tree_path)
			paths[np++] = in->tree_path;
		if (i + 1 == rev->ninputs && *base &&
		    (error = mt_git_diff_paths(&changed, &nchanged, repo, base, head, paths, np)) < 0)
			goto cleanup;
	}
	json_object_set_new(note, "inputs", inputs);
	if (*base) {
		json_t *ch = json_array();
		for (size_t i = 0; i < nchanged; i++)
			json_array_append_new(ch, json_string(changed[i]));
		json_object_set_new(note, "changed_inputs", ch);
		if (nchanged == 0)
			ci_say(quiet, "no input changed since %.12s (config, model, data): only other files did", base);
		for (size_t i = 0; i < nchanged; i++) {
			const char *role = "input";
			for (size_t k = 0; k < rev->ninputs; k++)
				if (rev->inputs[k].tree_path && !strcmp(rev->inputs[k].tree_path, changed[i]))
					role = cli_input_role_name(rev->inputs[k].role);
			ci_say(quiet, "changed since %.12s: %s (%s)", base, changed[i], role);
		}
	}
	json_object_set_new(note, "seed", json_integer((json_int_t)rev->cfg->seed));
	json_object_set_new(note, "mutation_seed", json_integer((json_int_t)rev->cfg->mutation_seed));
	json_object_set_new(note, "threads", json_integer(rev->cfg->threads));
	{
		int maj, min, rev_;
		char v[32];
		git_libgit2_version(&maj, &min, &rev_);
		snprintf(v, sizeof(v), "%d.%d.%d", maj, min, rev_);
		json_object_set_new(note, "versions", json_pack("{s:s, s:s, s:s}", "mutorch", MUTORCH_VERSION,
								 "torch", mt_shim_torch_version(), "libgit2", v));
	}
	{
		json_t *levels = json_array();
		if (rev->cfg->nmodel_level > 0)
			json_array_append_new(levels, json_string("model"));
		if (rev->cfg->nsource_level > 0)
			json_array_append_new(levels, json_string("source"));
		json_object_set_new(note, "levels", levels);
	}

	/* Reuse by content, else run what is missing. */
	snprintf(run_dir, sizeof(run_dir), "%s/mutorch/runs/%s", mt_git_gitdir(repo), rev->model_key);
	snprintf(km_path, sizeof(km_path), "%s/killmatrix.mtkm", run_dir);
	if (rev->cfg->nmodel_level == 0) {
		json_object_set_new(note, "scores", json_object());
	} else if (base_note && !strcmp(json_string_value(json_object_get(base_note, "model_key")) ?
				 json_string_value(json_object_get(base_note, "model_key")) : "", rev->model_key)) {
		/* Same model, test set, relevant config and versions: the
		 * base's results are this commit's results. */
		static const char *const copied[] = {"total", "operators", "killmatrix_digest", "plan_digest"};
		for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
			json_object_set(note, copied[i], json_object_get(base_note, copied[i]));
		json_object_set_new(note, "scores", json_deep_copy(json_object_get(base_note, "scores")));
		json_object_del(json_object_get(note, "scores"), "source_mutation_score");
		reused_count = (size_t)json_integer_value(json_object_get(json_object_get(base_note, "total"), "mutants"));
		reused_note = 1;
		ci_say(quiet, "the model, test set and mutation config are unchanged since %.12s: reusing its %zu "
		    "results from its note; 0 mutants run", base, reused_count);
	} else {
		const char *why = NULL;
		if (base_note) {
			int same_model = ci_same_inputs(base_note, note, "model");
			int same_test = ci_same_inputs(base_note, note, "test set");
			int same_cfg = !strcmp(json_string_value(json_object_get(base_note, "config_digest")) ?
					       json_string_value(json_object_get(base_note, "config_digest")) : "",
					       rev->config_digest);
			if (same_model && same_cfg && !same_test)
				why = "only the test set changed: re-evaluating the same model-level mutants "
				      "(same model, same plan) on the new test set; nothing is retrained";
			else if (!same_model)
				why = "the model changed: evaluating its model-level mutants";
			else if (!same_cfg)
				why = "the mutation-relevant config changed: evaluating the mutants it plans";
			else
				why = "the library versions changed: evaluating again";
		}
		if (access(km_path, R_OK) == 0 && mt_killmatrix_load(&km, km_path) == 0) {
			size_t pending = 0;
			for (size_t m = 0; m < mt_killmatrix_mutant_count(km); m++)
				pending += mt_killmatrix_mutant(km, m)->status == MT_MUTANT_PENDING;
			if (pending > 0) {
				mt_killmatrix_free(km);
				km = NULL;
			} else {
				reused_count = mt_killmatrix_mutant_count(km);
				ci_say(quiet, "every result for these inputs is recorded in %s: 0 mutants run", run_dir);
			}
		}
		mt_error_clear();
		if (!km && why)
			ci_say(quiet, "%s", why);
		if (!km) {
			char log_path[PATH_MAX + 160];
			size_t before;
			snprintf(log_path, sizeof(log_path), "%s/results.jsonl", run_dir);
			before = count_records(log_path);
			if ((error = mt_shim_init(rev->cfg->threads, rev->cfg->seed, 0)) < 0)
				goto cleanup;
			o.config_path = rev->config_path;
			o.run_dir = run_dir;
			o.self_exe = cli_self_exe();
			o.progress = quiet ? NULL : stderr;
			o.progress_tty = !quiet && isatty(STDERR_FILENO);
			if ((error = mt_model_run(&km, rev->cfg, &o)) < 0)
				goto cleanup;
			reused_count = before < mt_killmatrix_mutant_count(km) ? before : mt_killmatrix_mutant_count(km);
		}
		run_count = mt_killmatrix_mutant_count(km) - reused_count;
		if ((error = ci_results_into_note(note, km)) < 0)
			goto cleanup;
	}
	if ((error = source_level(note, &retrained, repo, rev, base_note, base, &o, quiet)) < 0)
		goto cleanup;
	json_object_set_new(note, "mutants", json_pack("{s:I, s:I, s:I, s:I}", "total",
						       (json_int_t)(run_count + reused_count), "run", (json_int_t)run_count,
						       "reused", (json_int_t)reused_count, "retrained", (json_int_t)retrained));
	if (reused_note)
		json_object_set_new(note, "reused_from", json_string(base));
	if (ndirty > 0)
		json_object_set_new(note, "working_tree_dirty", json_true());
	if (!branch)
		json_object_set_new(note, "detached_head", json_true());

	/* The gate. */
	{
		const char *score = rev->cfg->ci_score ? rev->cfg->ci_score
				    : rev->cfg->nmodel_level > 0 ? "mutation_score" : "source_mutation_score";
		double value = ci_note_score(note, score), base_value = base_note ? ci_note_score(base_note, score) : NAN;
		double threshold = rev->cfg->ci_threshold, tolerance = rev->cfg->ci_tolerance;
		char reason[512] = "";
		int passed = 1;

		if (threshold > 0 && !(value >= threshold)) {
			passed = 0;
			snprintf(reason, sizeof(reason), "%s is %.2f%%, below the threshold %.2f%%", score,
				 value * 100, threshold * 100);
		} else if (isfinite(base_value) && (!isfinite(value) || base_value - value > tolerance + 1e-12)) {
			passed = 0;
			snprintf(reason, sizeof(reason), "%s fell by %.2f points since %.12s (%.2f%% -> %.2f%%), more than "
				 "the tolerance of %.2f points", score, (base_value - value) * 100, base, base_value * 100,
				 value * 100, tolerance * 100);
		} else {
			snprintf(reason, sizeof(reason), "%s is %.2f%%%s", score, value * 100,
				 isfinite(base_value) ? " (within the tolerance of the base)" : "");
		}
		gate = json_pack("{s:s, s:o, s:o, s:f, s:f, s:b, s:s}", "score", score, "value", ci_number_or_null(value),
				 "base_value", ci_number_or_null(base_value), "threshold", threshold, "tolerance",
				 tolerance, "passed", passed, "reason", reason);
		json_object_set_new(note, "gate", gate);
		json_object_set_new(note, "seconds", json_real(mt_clock_now() - t_start));
		if (!(note_text = json_dumps(note, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
			error = mt_error_oom();
			goto cleanup;
		}
		if ((error = mt_git_note_write(repo, head, note_text)) < 0)
			goto cleanup;
		if (json) {
			fputs(note_text, stdout);
			fputc('\n', stdout);
		} else {
			ci_print_comparison(stdout, base_note, note, base_note ? base_name : "base");
			if (rev->cfg->nmodel_level > 0)
				printf("\n%zu model-level mutants: %zu run, %zu reused\n", run_count + reused_count,
				       run_count, reused_count);
			if (rev->cfg->nsource_level > 0)
				printf("%s%lld source-level mutants: %lld trainings run\n", rev->cfg->nmodel_level ? "" : "\n",
				       (long long)json_integer_value(json_object_get(json_object_get(note, "source"), "mutants")),
				       (long long)retrained);
			printf("%s: %s\n", passed ? "passed" : "FAILED", reason);
		}
		ci_say(quiet, "note written to %s for %.12s (git notes --ref=mutorch show %.12s)", MT_GIT_NOTES_REF,
		    head, head);
		rc = passed ? MT_EXIT_OK : MT_EXIT_THRESHOLD;
	}
cleanup:
	if (error < 0 && rc == MT_EXIT_OK)
		rc = cli_fail("ci", error);
	mt_git_lock_release(lock);
	mt_killmatrix_free(km);
	json_decref(base_note);
	json_decref(note);
	free(note_text);
	free(base_text);
	free(paths);
	free(tree_path);
	free(branch);
	mt_git_strings_free(changed, nchanged);
	mt_git_strings_free(dirty, ndirty);
	cli_rev_free(rev);
	mt_git_repo_free(repo);
	return rc;
}

