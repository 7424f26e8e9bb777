/* mutorch ci and mutorch hook: git-triggered regression runs (docs/ci.md). */
#include "cli.h"
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
#include "mutorch/scores.h"
#include "mutorch/shim.h"
#include "mutorch/sourcerun.h"

#define NOTE_FORMAT 1

static const char ci_usage[] =
	"usage: mutorch ci [CONFIG] [--base REV] [--jobs N] [--timeout S] [--wait S]\n"
	"                  [--json] [--quiet]\n"
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


static json_t *number_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *score_row_json(const mt_score_row *r)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", r->name,
			      "mutants", (json_int_t)r->mutants, "valid", (json_int_t)r->valid,
			      "filtered", (json_int_t)r->filtered, "killed", (json_int_t)r->killed,
			      "survived", (json_int_t)r->survived, "timeouts", (json_int_t)r->timeouts,
			      "errors", (json_int_t)r->errors, "ignored", (json_int_t)r->ignored,
			      "pending", (json_int_t)r->pending);
	json_object_set_new(o, "mutation_score", number_or_null(r->mutation_score));
	json_object_set_new(o, "deepmutation_score", number_or_null(r->deepmutation_score));
	json_object_set_new(o, "average_error_rate", number_or_null(r->average_error_rate));
	return o;
}

/* scores, operators, digests of a kill matrix, into the note. */
static int results_into_note(json_t *note, const mt_killmatrix *km)
{
	mt_scores *sc = NULL;
	char digest[MT_GIT_OID_HEX];
	json_t *scores, *ops;
	int error;

	if ((error = mt_killmatrix_scores(&sc, km)) < 0 || (error = cli_killmatrix_digest(digest, km)) < 0)
		goto cleanup;
	scores = json_object();
	json_object_set_new(scores, "mutation_score", number_or_null(sc->total.mutation_score));
	json_object_set_new(scores, "deepmutation_score", number_or_null(sc->total.deepmutation_score));
	json_object_set_new(scores, "average_error_rate", number_or_null(sc->total.average_error_rate));
	json_object_set_new(scores, "original_accuracy", number_or_null(sc->original_accuracy));
	json_object_set_new(scores, "inputs", json_integer((json_int_t)sc->n_inputs));
	json_object_set_new(scores, "inputs_correct", json_integer((json_int_t)sc->n_correct));
	json_object_set_new(scores, "accuracy_filter", json_real(sc->accuracy_filter));
	json_object_set_new(note, "scores", scores);
	json_object_set_new(note, "total", score_row_json(&sc->total));
	ops = json_array();
	for (size_t i = 0; i < sc->n_operators; i++)
		json_array_append_new(ops, score_row_json(&sc->operators[i]));
	json_object_set_new(note, "operators", ops);
	json_object_set_new(note, "killmatrix_digest", json_string(digest));
	json_object_set_new(note, "plan_digest",
			    json_string(mt_killmatrix_meta(km, "plan_digest") ? mt_killmatrix_meta(km, "plan_digest") : ""));
cleanup:
	mt_scores_free(sc);
	return error;
}

static size_t count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c;
	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static double note_score(json_t *note, const char *name)
{
	json_t *v = json_object_get(json_object_get(note, "scores"), name);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *find_row(json_t *note, const char *name)
{
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(note, "operators"), i, row) {
		const char *n = json_string_value(json_object_get(row, "name"));
		if (n && !strcmp(n, name))
			return row;
	}
	return NULL;
}

static void print_pct(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, " %9.2f%%", v * 100);
	else
		fprintf(f, " %10s", "-");
}

static void print_change(FILE *f, double base, double head)
{
	if (isfinite(base) && isfinite(head))
		fprintf(f, " %+10.2f\n", (head - base) * 100);
	else
		fprintf(f, " %10s\n", "-");
}

/* The change per score and per operator (percentage points). */
static void print_comparison(FILE *f, json_t *base, json_t *head, const char *base_name)
{
	static const char *const names[] = {"mutation_score", "deepmutation_score", "average_error_rate",
					    "source_mutation_score"};
	size_t i;
	json_t *row;

	fprintf(f, "\n%-24s %10s %10s %10s\n", "score", base_name, "HEAD", "change");
	for (size_t k = 0; k < 4; k++) {
		if (!json_object_get(json_object_get(head, "scores"), names[k]) &&
		    !(base && json_object_get(json_object_get(base, "scores"), names[k])))
			continue;
		fprintf(f, "%-24s", names[k]);
		print_pct(f, base ? note_score(base, names[k]) : NAN);
		print_pct(f, note_score(head, names[k]));
		print_change(f, base ? note_score(base, names[k]) : NAN, note_score(head, names[k]));
	}
	fprintf(f, "\n%-10s %7s %7s %10s %10s %10s\n", "operator", "killed", "valid", base_name, "HEAD",
		"change");
	json_array_foreach(json_object_get(head, "operators"), i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		json_t *old = base ? find_row(base, name) : NULL;
		double b = old ? json_number_value(json_object_get(old, "mutation_score")) : NAN;
		double h = json_number_value(json_object_get(row, "mutation_score"));
		if (old && !json_is_number(json_object_get(old, "mutation_score")))
			b = NAN;
		if (!json_is_number(json_object_get(row, "mutation_score")))
			h = NAN;
		fprintf(f, "%-10s %7lld %7lld", name, (long long)json_integer_value(json_object_get(row, "killed")),
			(long long)json_integer_value(json_object_get(row, "valid")));
		print_pct(f, b);
		print_pct(f, h);
		print_change(f, b, h);
	}
	/* Source-level operators. */
	json_array_foreach(json_object_get(json_object_get(head, "source"), "operators"), i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		json_t *old = NULL, *r2;
		size_t j;
		double b = NAN, h;
		if (base)
			json_array_foreach(json_object_get(json_object_get(base, "source"), "operators"), j, r2)
				if (name && json_string_value(json_object_get(r2, "name")) &&
				    !strcmp(name, json_string_value(json_object_get(r2, "name"))))
					old = r2;
		if (old && json_is_number(json_object_get(old, "mutation_score")))
			b = json_number_value(json_object_get(old, "mutation_score"));
		h = json_is_number(json_object_get(row, "mutation_score")) ?
			json_number_value(json_object_get(row, "mutation_score")) : NAN;
		fprintf(f, "%-10s %7lld %7lld", name ? name : "?",
			(long long)json_integer_value(json_object_get(row, "killed")),
			(long long)(json_integer_value(json_object_get(row, "killed")) +
				    json_integer_value(json_object_get(row, "survived"))));
		print_pct(f, b);
		print_pct(f, h);
		if (isfinite(b) && isfinite(h))
			fprintf(f, " %+10.2f (source level)\n", (h - b) * 100);
		else
			fprintf(f, " %10s (source level)\n", "-");
	}
	/* Operators only the base had. */
	if (base)
		json_array_foreach(json_object_get(base, "operators"), i, row) {
			const char *name = json_string_value(json_object_get(row, "name"));
			if (name && !find_row(head, name))
				fprintf(f, "%-10s (only at the base)\n", name);
		}
}

static void say(int quiet, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static void say(int quiet, const char *fmt, ...)
{
	va_list ap;
	if (quiet)
		return;
	va_start(ap, fmt);
	fputs("mutorch ci: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* A base note we can compare with and reuse from, or NULL. */
static json_t *parse_note(const char *text, const char *commit, int quiet)
{
	json_error_t jerr;
	json_t *note = json_loads(text, 0, &jerr);
	if (!note || json_integer_value(json_object_get(note, "mutorch_note")) != NOTE_FORMAT ||
	    !json_is_object(json_object_get(note, "scores"))) {
		say(0, "warning: the mutorch note of %.12s is not a format-%d mutorch note; ignoring it",
		    commit, NOTE_FORMAT);
		json_decref(note);
		return NULL;
	}
	(void)quiet;
	return note;
}

/* The blob ids of a note's inputs of one role, joined. */
static void role_hashes(char *buf, size_t size, json_t *note, const char *role)
{
	size_t i, used = 0;
	json_t *in;
	buf[0] = '\0';
	json_array_foreach(json_object_get(note, "inputs"), i, in) {
		const char *r = json_string_value(json_object_get(in, "role"));
		const char *h = json_string_value(json_object_get(in, "blob"));
		if (r && !strcmp(r, role) && used < size)
			used += (size_t)snprintf(buf + used, size - used, "%s;", h ? h : "-");
	}
}

/* Do the base's and HEAD's inputs of this role have the same hashes? */
static int same_inputs(json_t *base, json_t *head, const char *role)
{
	char hb[2048], hh[2048];
	role_hashes(hb, sizeof(hb), base, role);
	role_hashes(hh, sizeof(hh), head, role);
	return !strcmp(hb, hh);
}

/* Per-operator rows of a source-level report. */
static json_t *source_operator_rows(json_t *report)
{
	json_t *by = json_object(), *rows = json_array(), *row, *agg;
	const char *name;
	size_t i;

	json_array_foreach(json_object_get(report, "mutants_detail"), i, row) {
		const char *op = json_string_value(json_object_get(row, "operator"));
		const char *status = json_string_value(json_object_get(row, "status"));
		if (!op)
			continue;
		if (!(agg = json_object_get(by, op))) {
			agg = json_pack("{s:s, s:i, s:i, s:i, s:i}", "name", op, "mutants", 0, "killed", 0,
					"survived", 0, "other", 0);
			json_object_set_new(by, op, agg);
		}
		json_object_set_new(agg, "mutants", json_integer(json_integer_value(json_object_get(agg, "mutants")) + 1));
		name = status && !strcmp(status, "Killed") ? "killed" : status && !strcmp(status, "Survived") ? "survived" : "other";
		json_object_set_new(agg, name, json_integer(json_integer_value(json_object_get(agg, name)) + 1));
	}
	json_object_foreach(by, name, agg) {
		json_int_t k = json_integer_value(json_object_get(agg, "killed"));
		json_int_t sv = json_integer_value(json_object_get(agg, "survived"));
		json_object_set_new(agg, "mutation_score", k + sv ? json_real((double)k / (double)(k + sv)) : json_null());
		json_array_append(rows, agg);
	}
	json_decref(by);
	return rows;
}

/* Source-level mutants (mutants of the training program, each retrained):
 * reused from the base's note when the source key is the same, else run in
 * .git/mutorch/source-runs/<source key>, whose trained-model cache is shared
 * by every key (the cache keys trained runs by content). */
static int source_level(json_t *note, json_int_t *trained, mt_git_repo *repo, const cli_rev *rev,
			json_t *base_note, const char *base, const mt_model_run_options *mo, int quiet)
{
	json_t *base_src = base_note ? json_object_get(base_note, "source") : NULL, *src, *report = NULL;
	char dir[PATH_MAX + 128], cache[PATH_MAX + 160], shared[PATH_MAX + 128];
	const char *bkey = base_src ? json_string_value(json_object_get(base_src, "key")) : NULL;
	mt_source_run_options so;
	char *text = NULL;
	json_error_t jerr;
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
		say(quiet, "the training recipe, data and source-level config are unchanged since %.12s: "
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
	if (base_src && same_inputs(base_note, note, "train set") && same_inputs(base_note, note, "model") &&
	    !same_inputs(base_note, note, "test set"))
		say(quiet, "source level: only the test set changed: the cached trained models are re-evaluated "
		    "on the new test set; nothing is retrained");
	say(quiet, "source level: training what the cache lacks (results in %s)", dir);
	memset(&so, 0, sizeof(so));
	so.config_path = rev->config_path;
	so.run_dir = dir;
	so.self_exe = mo->self_exe ? mo->self_exe : cli_self_exe();
	so.jobs = mo->jobs;
	so.timeout = mo->timeout;
	so.progress = quiet ? NULL : stderr;
	so.progress_tty = !quiet && isatty(STDERR_FILENO);
	so.json = 1;
	so.json_out = &text;
	if ((error = mt_source_run(rev->cfg, &so)) < 0)
		goto cleanup;
	if (!text || !(report = json_loads(text, 0, &jerr))) {
		error = mt_error_set(MT_ERROR, "the source-level run gave no JSON report");
		goto cleanup;
	}
	src = json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "key", rev->source_key,
			"mutants", json_object_get(report, "mutants"), "killed", json_object_get(report, "killed"),
			"survived", json_object_get(report, "survived"), "errors", json_object_get(report, "errors"),
			"mutation_score", json_object_get(report, "mutation_score"),
			"rule", json_object_get(report, "rule"), "original_runs", json_object_get(report, "original_runs"),
			"trainings_used", json_object_get(report, "trainings_used"));
	*trained = json_integer_value(json_object_get(report, "trainings_this_invocation"));
	json_object_set_new(src, "trainings", json_integer(*trained));
	json_object_set(src, "reevaluated", json_object_get(report, "reevaluations_this_invocation"));
	json_object_set_new(src, "operators", source_operator_rows(report));
	json_object_set_new(note, "source", src);
	json_object_set(json_object_get(note, "scores"), "source_mutation_score",
			json_object_get(report, "mutation_score") ? json_object_get(report, "mutation_score") : json_null());
cleanup:
	json_decref(report);
	free(text);
	return error;
}

int cmd_ci(int argc, char **argv)
{
	static const struct option opts[] = {
		{"base", required_argument, NULL, 'b'},
		{"jobs", required_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 't'},
		{"wait", required_argument, NULL, 'w'},
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
	mt_model_run_options o;
	json_t *base_note = NULL, *note = NULL, *inputs, *gate;
	const char **paths = NULL;
	double wait = 600, t_start = mt_clock_now();
	int json = 0, quiet = 0, c, error = 0, rc = MT_EXIT_OK, reused_note = 0;
	json_int_t retrained = 0;
	char *end;
	struct stat st;

	memset(&o, 0, sizeof(o));
	o.jobs = 1;
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
		say(quiet, "analysing HEAD %.12s (branch %s)", head, branch);
	else
		say(0, "HEAD is detached at %.12s; analysing that commit (the note is attached to it)", head);
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
		say(0, "the working tree has uncommitted changes (%zu file%s, %s%s); analysing HEAD %.12s "
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
			say(0, "HEAD %.12s is the first commit: no base to compare with; running the full analysis", head);
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
			say(0, "the base %.12s has no mutorch note: nothing to compare with or reuse from it; "
			    "running the full analysis", base);
		else
			base_note = parse_note(base_text, base, quiet);
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
			say(quiet, "no input changed since %.12s (config, model, data): only other files did", base);
		for (size_t i = 0; i < nchanged; i++) {
			const char *role = "input";
			for (size_t k = 0; k < rev->ninputs; k++)
				if (rev->inputs[k].tree_path && !strcmp(rev->inputs[k].tree_path, changed[i]))
					role = cli_input_role_name(rev->inputs[k].role);
			say(quiet, "changed since %.12s: %s (%s)", base, changed[i], role);
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
		say(quiet, "the model, test set and mutation config are unchanged since %.12s: reusing its %zu "
		    "results from its note; 0 mutants run", base, reused_count);
	} else {
		const char *why = NULL;
		if (base_note) {
			int same_model = same_inputs(base_note, note, "model");
			int same_test = same_inputs(base_note, note, "test set");
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
				say(quiet, "every result for these inputs is recorded in %s: 0 mutants run", run_dir);
			}
		}
		mt_error_clear();
		if (!km && why)
			say(quiet, "%s", why);
		if (!km) {
			char log_path[PATH_MAX + 160];
			size_t before;
			snprintf(log_path, sizeof(log_path), "%s/results.jsonl", run_dir);
			before = count_lines(log_path);
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
		if ((error = results_into_note(note, km)) < 0)
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
		double value = note_score(note, score), base_value = base_note ? note_score(base_note, score) : NAN;
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
		gate = json_pack("{s:s, s:o, s:o, s:f, s:f, s:b, s:s}", "score", score, "value", number_or_null(value),
				 "base_value", number_or_null(base_value), "threshold", threshold, "tolerance",
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
			print_comparison(stdout, base_note, note, base_note ? base_name : "base");
			if (rev->cfg->nmodel_level > 0)
				printf("\n%zu model-level mutants: %zu run, %zu reused\n", run_count + reused_count,
				       run_count, reused_count);
			if (rev->cfg->nsource_level > 0)
				printf("%s%lld source-level mutants: %lld trainings run\n", rev->cfg->nmodel_level ? "" : "\n",
				       (long long)json_integer_value(json_object_get(json_object_get(note, "source"), "mutants")),
				       (long long)retrained);
			printf("%s: %s\n", passed ? "passed" : "FAILED", reason);
		}
		say(quiet, "note written to %s for %.12s (git notes --ref=mutorch show %.12s)", MT_GIT_NOTES_REF,
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

/* ---- hook ----------------------------------------------------------------- */

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
