/* mutorch report: the one-file HTML report of a run directory, with the
 * score per commit from the `mutorch ci` notes (docs/reports.md). */
#include "cli.h"
#include "ci_note_check.h"

#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mutorch/error.h"
#include "mutorch/git.h"
#include "mutorch/html_report.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"
#include "mutorch/source_results.h"
#include "mutorch/strbuf.h"

#define VIEWER_REL "mutation-testing-elements/node_modules/mutation-testing-elements/dist/" \
	"mutation-test-elements.js"

static const char report_usage[] =
	"usage: mutorch report [RUN_DIR] [-o FILE] [--history] [--repo DIR] [--rev REV]\n"
	"                      [--max-commits N] [--viewer FILE] [--seed S] [--quiet]\n"
	"\n"
	"Write one self-contained HTML file (it opens offline: every script, style\n"
	"and chart is inside) from the run directory of a finished `mutorch run`,\n"
	"model level (killmatrix.mtkm, stryker.json) and/or source level\n"
	"(source-report.json, source-runs.csv, source-stryker.json): the scores and\n"
	"their definitions, charts, the surviving mutants and what would kill them,\n"
	"test-set minimisation, prioritisation and label change rates, and the\n"
	"Stryker view. Prints the file's path. docs/reports.md describes the page.\n"
	"\n"
	"  -o, --output FILE     where to write it (default RUN_DIR/report.html, or\n"
	"                        ./report.html with --history and no RUN_DIR)\n"
	"      --history         add the score per commit of the first-parent history,\n"
	"                        read from the `mutorch ci` notes (refs/notes/mutorch)\n"
	"      --repo DIR        the repository for --history (default: the one that\n"
	"                        holds the current directory)\n"
	"      --rev REV         where the history starts (default HEAD)\n"
	"      --max-commits N   at most N commits of history (default 200)\n"
	"      --viewer FILE     mutation-testing-elements' dist/mutation-test-elements.js\n"
	"                        for the Stryker tab (default: $MUTORCH_VIEWER_JS, else\n"
	"                        the copy scripts/setup.sh installs beside the mutorch\n"
	"                        binary, in build/" "mutation-testing-elements/)\n"
	"      --seed S          seed of the random orders prioritisation compares with\n"
	"                        (default 1)\n"
	"  -q, --quiet           no notes on stderr\n"
	"  -h, --help            show this help\n";

static int file_exists(const char *dir, const char *name)
{
	char *p = mt_io_path_join(dir, name);
	int ok = p && access(p, F_OK) == 0;
	free(p);
	return ok;
}

/* A file of the run directory as text, or NULL when it is not there. */
static int read_optional(char **text, const char *dir, const char *name)
{
	char *p = mt_io_path_join(dir, name);
	size_t len;
	int error = 0;
	*text = NULL;
	if (!p)
		return mt_error_oom();
	if (access(p, F_OK) == 0)
		error = mt_run_file_read(text, &len, p, MT_RUN_FILE_MAX_BYTES);
	free(p);
	return error;
}

/* The viewer's bundle: --viewer, $MUTORCH_VIEWER_JS, or beside the binary. */
static int find_viewer(char **js, size_t *len, char **hint, const char *arg)
{
	const char *env = getenv("MUTORCH_VIEWER_JS");
	char exe[4096], *dir, *path = NULL;
	int error = 0;

	*js = NULL;
	*len = 0;
	*hint = NULL;
	if (arg || (env && *env)) {
		const char *p = arg ? arg : env;
		if ((error = mt_run_file_read(js, len, p, MT_RUN_FILE_MAX_BYTES)) < 0)
			return mt_error_prefix("%s: ", arg ? "--viewer" : "MUTORCH_VIEWER_JS");
		return 0;
	}
	snprintf(exe, sizeof(exe), "%s", cli_self_exe());
	dir = dirname(exe);
	if (!(path = mt_io_path_join(dir, VIEWER_REL)))
		return mt_error_oom();
	if (access(path, R_OK) == 0) {
		error = mt_run_file_read(js, len, path, MT_RUN_FILE_MAX_BYTES);
	} else {
		mt_strbuf sb = MT_STRBUF_INIT;
		mt_strbuf_printf(&sb, "Install it with `npm install --prefix %s/mutation-testing-elements "
				 "mutation-testing-elements@3` (scripts/setup.sh does) or pass --viewer FILE, "
				 "then run `mutorch report` again.", dir);
		error = mt_strbuf_detach(hint, &sb);
	}
	free(path);
	return error;
}

/* ---- history --------------------------------------------------------------- */

typedef struct {
	mt_git_commit_info *commits;
	size_t n;
	mt_html_history_point *points;
	json_t **notes;
	char note_text[512];
} history;

static void history_free(history *h)
{
	for (size_t i = 0; h->notes && i < h->n; i++)
		json_decref(h->notes[i]);
	free(h->notes);
	free(h->points);
	mt_git_commit_infos_free(h->commits, h->n);
}

static int load_history(history *h, const char *repo_dir, const char *rev, size_t max)
{
	mt_git_repo *repo = NULL;
	size_t with_note = 0, skipped = 0;
	int error;

	if ((error = mt_git_repo_open(&repo, repo_dir)) < 0 ||
	    (error = mt_git_first_parent_history(&h->commits, &h->n, repo, rev, max)) < 0)
		goto cleanup;
	h->points = calloc(h->n + 1, sizeof(*h->points));
	h->notes = calloc(h->n + 1, sizeof(json_t *));
	if (!h->points || !h->notes) {
		error = mt_error_oom();
		goto cleanup;
	}
	/* oldest first */
	for (size_t i = 0; i < h->n; i++) {
		const mt_git_commit_info *c = &h->commits[h->n - 1 - i];
		mt_html_history_point *p = &h->points[i];
		char *text = NULL, why[256];
		json_t *note, *gate;
		p->commit = c->oid;
		p->summary = c->summary;
		p->gate = -1;
		for (int k = 0; k < MT_HISTORY_SCORES; k++)
			p->scores[k] = NAN;
		if ((error = mt_git_note_read(&text, repo, c->oid)) < 0)
			goto cleanup;
		if (!text)
			continue;
		/* the note's own check (docs/ci.md): a hand-edited note that
		 * fails it is a gap, not a point */
		note = ci_note_parse_buffer(text, strlen(text), why, sizeof(why));
		free(text);
		if (!note) {
			skipped++;
			continue;
		}
		h->notes[i] = note;
		p->has_note = 1;
		with_note++;
		for (int k = 0; k < MT_HISTORY_SCORES; k++) {
			json_t *v = json_object_get(json_object_get(note, "scores"), mt_history_score_name(k));
			if (json_is_number(v))
				p->scores[k] = json_number_value(v);
		}
		/* the gate is only shown by `mutorch ci`, never checked: take
		 * it only when its fields have their types */
		gate = json_object_get(note, "gate");
		if (json_is_boolean(json_object_get(gate, "passed"))) {
			p->gate = json_is_true(json_object_get(gate, "passed"));
			p->gate_score = json_string_value(json_object_get(gate, "score"));
		}
	}
	snprintf(h->note_text, sizeof(h->note_text), "%zu commits of the first-parent history of %s; "
		 "%zu with a mutorch note, %zu whose note fails the note's check (docs/ci.md) and is "
		 "left out.", h->n, rev, with_note, skipped);
cleanup:
	mt_git_repo_free(repo);
	return error;
}

/* ---- the page -------------------------------------------------------------- */

int cli_write_html_report(const char *run_dir, const char *output, const cli_report_options *o)
{
	mt_killmatrix *km = NULL;
	mt_source_results *src = NULL;
	char *stryker = NULL, *source_stryker = NULL, *viewer = NULL, *hint = NULL, *path = NULL;
	size_t viewer_len = 0;
	history h;
	mt_html_report r;
	int error = 0;

	memset(&h, 0, sizeof(h));
	memset(&r, 0, sizeof(r));
	if (run_dir) {
		int model = file_exists(run_dir, "killmatrix.mtkm");
		int source = file_exists(run_dir, "source-report.json");
		if (!model && !source) {
			error = mt_error_set(MT_ENOTFOUND, "%s: no kill matrix (killmatrix.mtkm) and no "
					     "source-level report (source-report.json): not the run "
					     "directory of a finished `mutorch run`", run_dir);
			goto cleanup;
		}
		if (model) {
			if (!(path = mt_io_path_join(run_dir, "killmatrix.mtkm"))) {
				error = mt_error_oom();
				goto cleanup;
			}
			if ((error = mt_killmatrix_load(&km, path)) < 0 ||
			    (error = read_optional(&stryker, run_dir, "stryker.json")) < 0)
				goto cleanup;
		}
		if (source && ((error = mt_source_results_load(&src, run_dir)) < 0 ||
			       (error = read_optional(&source_stryker, run_dir, "source-stryker.json")) < 0))
			goto cleanup;
	}
	if ((stryker || source_stryker) &&
	    (error = find_viewer(&viewer, &viewer_len, &hint, o->viewer)) < 0)
		goto cleanup;
	if (hint && !o->quiet)
		fprintf(stderr, "mutorch report: note: the Stryker tab has no viewer (the npm package "
			"mutation-testing-elements was not found); %s\n", hint);
	if (o->history) {
		if ((error = load_history(&h, o->repo ? o->repo : ".", o->rev ? o->rev : "HEAD",
					  o->max_commits)) < 0)
			goto cleanup;
		r.with_history = 1;
		r.history = h.points;
		r.n_history = h.n;
		r.history_note = h.note_text;
	}
	r.run_dir = run_dir;
	r.km = km;
	r.source = src;
	r.stryker = stryker;
	r.source_stryker = source_stryker;
	r.viewer_js = viewer;
	r.viewer_len = viewer_len;
	r.viewer_hint = hint;
	r.seed = o->seed;
	error = mt_html_report_write(&r, output);
cleanup:
	history_free(&h);
	mt_killmatrix_free(km);
	mt_source_results_free(src);
	free(stryker);
	free(source_stryker);
	free(viewer);
	free(hint);
	free(path);
	return error;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"history", no_argument, NULL, 'H'},
		{"repo", required_argument, NULL, 'R'},
		{"rev", required_argument, NULL, 'r'},
		{"max-commits", required_argument, NULL, 'M'},
		{"viewer", required_argument, NULL, 'V'},
		{"seed", required_argument, NULL, 'S'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	cli_report_options o;
	const char *run_dir = NULL, *output = NULL;
	char *path = NULL, *end;
	unsigned long long v;
	int c, error, rc;

	memset(&o, 0, sizeof(o));
	o.seed = 1;
	o.max_commits = 200;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'H': o.history = 1; break;
		case 'R': o.repo = optarg; break;
		case 'r': o.rev = optarg; break;
		case 'V': o.viewer = optarg; break;
		case 'q': o.quiet = 1; break;
		case 'M':
		case 'S':
			v = strtoull(optarg, &end, 10);
			if (*end || end == optarg || optarg[0] == '-' || (c == 'M' && (v < 1 || v > 100000)))
				return cli_usage_error("report", "%s must be %s, got '%s'",
						       c == 'M' ? "--max-commits" : "--seed",
						       c == 'M' ? "an integer in [1, 100000]" :
						       "a non-negative integer", optarg);
			if (c == 'M')
				o.max_commits = (size_t)v;
			else
				o.seed = v;
			break;
		case 'h': fputs(report_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("report", "unknown option");
		}
	}
	if (optind < argc)
		run_dir = argv[optind++];
	if (optind < argc)
		return cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
	if (!run_dir && !o.history)
		return cli_usage_error("report", "missing RUN_DIR (or --history)");
	if ((o.repo || o.rev) && !o.history)
		return cli_usage_error("report", "--repo and --rev go with --history");
	if (!output)
		output = path = run_dir ? mt_io_path_join(run_dir, "report.html") : strdup("report.html");
	if (!output) {
		rc = cli_fail("report", mt_error_oom());
		goto out;
	}
	if ((error = cli_write_html_report(run_dir, output, &o)) < 0) {
		rc = cli_fail("report", error);
		goto out;
	}
	printf("%s\n", output);
	rc = MT_EXIT_OK;
out:
	free(path);
	return rc;
}
