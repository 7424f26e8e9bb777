/* mutorch run, score, mutants, operators, export-mutant and worker. */
#include "cli.h"
#include "cli_git.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/git.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"
#include "mutorch/modelrun.h"
#include "mutorch/mpi.h"
#include "mutorch/operators.h"
#include "mutorch/plan.h"
#include "mutorch/report.h"
#include "mutorch/runner.h"
#include "mutorch/shard.h"
#include "mutorch/source_plan.h"
#include "mutorch/sourcerun.h"

static const char run_usage[] =
	"usage: mutorch run [CONFIG] [--jobs N] [--timeout SECONDS] [--force]\n"
	"                   [--run-dir DIR] [--level model] [--rev REV] [--json]\n"
	"                   [--quiet] [--eval-timeout S] [--shard K/N] [--cache DIR]\n"
	"                   [--mpi] [--html]\n"
	"\n"
	"Generate the model-level mutants of CONFIG's trained model (the\n"
	"mutation.model_level section), evaluate each on the test set in worker\n"
	"processes, record which inputs kill which mutant, and print the scores.\n"
	"Results are written to the run directory after every mutant: running the\n"
	"same command again after an interruption evaluates only what is missing.\n"
	"\n"
	"  -j, --jobs N          worker processes (default 1)\n"
	"  -t, --timeout S       time limit per mutant in seconds (default: 50x the\n"
	"                        original's evaluation time, at least 60)\n"
	"      --eval-timeout S  time limit on the original model's evaluation before\n"
	"                        any mutant runs: past it, exit 3 (default 600; 0: no\n"
	"                        limit)\n"
	"  -f, --force           start over: drop the recorded results\n"
	"  -d, --run-dir DIR     run directory (default: run.dir of the config)\n"
	"  -l, --level LEVEL     model (default): mutants of the trained model;\n"
	"                        source: mutants of the training data and recipe,\n"
	"                        each retrained n times and killed statistically\n"
	"                        (mutation.source_level, mutation.source);\n"
	"                        all: both\n"
	"  -r, --rev REV         analyse git revision REV: the config, model and data\n"
	"                        are read from that commit (nothing is checked out;\n"
	"                        see docs/ci.md); the run directory defaults to one\n"
	"                        inside the repository's git directory\n"
	"      --shard K/N       evaluate only shard K of N (a deterministic part of the\n"
	"                        plan, balanced by expected cost) in this run\n"
	"                        directory; combine the N directories with\n"
	"                        `mutorch merge` (docs/scale-out.md)\n"
	"      --cache DIR       source level: keep the training cache in DIR (shared\n"
	"                        by shards, also on several machines over NFS; each\n"
	"                        model is trained once, by whoever locks it first)\n"
	"      --mpi             under mpirun or srun: rank 0 plans and records, the\n"
	"                        other ranks evaluate (and train), handed out one at\n"
	"                        a time, largest expected cost first; one run\n"
	"                        directory, the results of a local run\n"
	"      --json            print the JSON report on stdout\n"
	"      --html            also write RUN_DIR/report.html, the one-file HTML report\n"
	"                        (`mutorch report`; docs/reports.md), and print its path\n"
	"                        on stderr\n"
	"  -q, --quiet           no progress output\n"
	"  -h, --help            show this help\n";

static int print_report(const mt_killmatrix *km, int json)
{
	if (json) {
		char *text = NULL;
		int error = mt_killmatrix_json_string(&text, km);
		if (error < 0)
			return error;
		fputs(text, stdout);
		fputc('\n', stdout);
		free(text);
		return 0;
	}
	return mt_killmatrix_write_table(stdout, km);
}

/* --html: the report of everything the run directory holds. */
static int write_html(const char *run_dir, int quiet)
{
	cli_report_options ro;
	char *path = mt_io_path_join(run_dir, "report.html");
	int error;
	memset(&ro, 0, sizeof(ro));
	ro.seed = 1;
	ro.quiet = quiet;
	if (!path)
		return mt_error_oom();
	if ((error = cli_write_html_report(run_dir, path, &ro)) == 0)
		fprintf(stderr, "wrote %s\n", path);
	free(path);
	return error;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"jobs", required_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 't'},
		{"force", no_argument, NULL, 'f'},
		{"run-dir", required_argument, NULL, 'd'},
		{"level", required_argument, NULL, 'l'},
		{"rev", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'J'},
		{"quiet", no_argument, NULL, 'q'},
		{"eval-timeout", required_argument, NULL, 'E'},
		{"html", no_argument, NULL, 'H'},
		{"shard", required_argument, NULL, 'S'},
		{"cache", required_argument, NULL, 'C'},
		{"mpi", no_argument, NULL, 'M'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	mt_run_options o;
	const char *config_path = "mutorch.yml", *rev = NULL;
	char *rev_config = NULL, commit[MT_GIT_OID_HEX] = "";
	mt_config *cfg = NULL;
	mt_killmatrix *km = NULL;
	int json = 0, quiet = 0, html = 0, c, error = 0, rc, level_model = 1, level_source = 0, mpi = 0;
	char *end;
	mt_source_results *sres = NULL;

	memset(&o, 0, sizeof(o));
	o.jobs = 1;
	o.eval_timeout = MT_EVAL_TIMEOUT_DEFAULT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "j:t:fd:l:r:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (cli_parse_jobs(&o.jobs, "run", optarg) < 0)
				return MT_EXIT_USAGE;
			break;
		case 't':
			o.timeout = strtod(optarg, &end);
			if (*end || o.timeout <= 0)
				return cli_usage_error("run", "--timeout must be a positive number of seconds, got '%s'", optarg);
			break;
		case 'f': o.force = 1; break;
		case 'd': o.run_dir = optarg; break;
		case 'r': rev = optarg; break;
		case 'E':
			if (cli_parse_eval_timeout(&o.eval_timeout, "run", optarg) < 0)
				return MT_EXIT_USAGE;
			break;
		case 'l':
			if (!strcmp(optarg, "model")) {
				level_model = 1;
				level_source = 0;
			} else if (!strcmp(optarg, "source")) {
				level_model = 0;
				level_source = 1;
			} else if (!strcmp(optarg, "all")) {
				level_model = level_source = 1;
			} else {
				return cli_usage_error("run", "--level must be model, source or all, got '%s'", optarg);
			}
			break;
		case 'S':
			if (mt_shard_parse(&o.shard_index, &o.shard_count, optarg) < 0)
				return cli_usage_error("run", "%s", mt_error_last());
			break;
		case 'C': o.cache_dir = optarg; break;
		case 'M': mpi = 1; break;
		case 'J': json = 1; break;
		case 'H': html = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(run_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("run", "unknown option");
		}
	}
	if (optind < argc)
		config_path = argv[optind++];
	if (optind < argc)
		return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
	if (html && o.shard_count > 0)
		return cli_usage_error("run", "--html and --shard do not go together: a shard holds part of the "
				       "results; run `mutorch report` on the directory `mutorch merge` writes");
	if (mpi) {
#ifdef MUTORCH_MPI
		int rank = 0, size = 1;
		if (o.shard_count > 0)
			return cli_usage_error("run", "--mpi and --shard do not go together: MPI hands out the whole plan");
		if ((error = mt_mpi_init(NULL, NULL, &rank, &size)) < 0)
			return cli_fail("run", error);
		if (size < 2) {
			mt_mpi_finish();
			return cli_usage_error("run", "--mpi needs at least 2 ranks (rank 0 plans and records, the others "
					       "evaluate): start it with mpirun -n N or srun, N >= 2");
		}
		if (rank > 0) {
			/* a worker rank: serve rank 0's workers until it is done */
			error = mt_mpi_serve_jobs(cmd_worker);
			mt_mpi_finish();
			return error < 0 ? cli_fail("run", error) : MT_EXIT_OK;
		}
		o.largest_first = 1;
		if (!quiet)
			fprintf(stderr, "mpi: %d ranks: rank 0 plans and records, %d evaluate\n", size, size - 1);
		o.jobs = size - 1 > 0 ? size - 1 : 1;
#else
		return cli_usage_error("run", "--mpi: this mutorch was built without MPI (see `mutorch --version`; "
				       "install libopenmpi-dev and build with -DMUTORCH_MPI=ON)");
#endif
	}
	if (rev)
		error = cli_load_config_at_rev(&cfg, &rev_config, commit, rev, config_path);
	else
		error = cli_load_config(&cfg, config_path);
	if (error < 0)
		goto cleanup;
	o.config_path = rev ? rev_config : config_path;
	if (!quiet)
		cli_warn_oversubscription(o.jobs, cfg->threads);
	if (level_model && level_source) {
		/* --level all: the levels the config has operators for */
		level_model = cfg->nmodel_level > 0;
		level_source = cfg->nsource_level > 0;
		if (!level_model && !level_source) {
			error = mt_error_set(MT_EINVALID, "%s: no mutation.model_level or mutation.source_level operators configured", cfg->path);
			goto cleanup;
		}
	}
	o.self_exe = cli_self_exe();
	o.progress = quiet ? NULL : stderr;
	o.progress_tty = !quiet && isatty(STDERR_FILENO);
	if (level_model && (error = mt_model_run(&km, cfg, &o)) < 0)
		goto cleanup;
	if (level_model && rev && !quiet) {
		char digest[MT_GIT_OID_HEX];
		if ((error = mt_killmatrix_digest(digest, km)) < 0)
			goto cleanup;
		fprintf(stderr, "revision %s (%.12s): kill-matrix digest %s\n", rev, commit, digest);
	}
	if (level_model && o.shard_count > 0 && !quiet)
		fprintf(stderr, "shard %d/%d: its mutants are done; merge the shards with `mutorch merge OUT DIR...`\n",
			o.shard_index, o.shard_count);
	if (level_model && !level_source)
		error = print_report(km, json);
	else if (level_model && !json)
		error = print_report(km, 0);
	if (error < 0 || !level_source)
		goto cleanup;
	if ((error = mt_source_run(&sres, cfg, &o)) < 0 || !sres)
		goto cleanup; /* a shard decides nothing: `mutorch merge` does */
	if (!json) {
		error = mt_source_results_write_table(stdout, sres);
	} else {
		char *model_json = NULL, *source_json = NULL;
		if ((level_model && (error = mt_killmatrix_json_string(&model_json, km)) < 0) ||
		    (error = mt_source_results_json_string(&source_json, sres)) < 0) {
			free(model_json);
			goto cleanup;
		}
		if (level_model)
			printf("{\"model_level\":%s,\"source_level\":%s}\n", model_json, source_json);
		else
			printf("%s\n", source_json);
		free(model_json);
		free(source_json);
	}
cleanup:
	if (error == 0 && html)
		error = write_html(o.run_dir ? o.run_dir : cfg->run_dir, quiet);
	rc = error < 0 ? cli_fail("run", error) : MT_EXIT_OK;
#ifdef MUTORCH_MPI
	if (mpi)
		mt_mpi_finish(); /* the worker ranks end too */
#endif
	mt_source_results_free(sres);
	mt_killmatrix_free(km);
	mt_config_free(cfg);
	free(rev_config);
	return rc;
}

static const char score_usage[] =
	"usage: mutorch score RUN_DIR [--json] [--filter FACTOR] [--digest]\n"
	"\n"
	"Recompute every score from the kill matrix stored in RUN_DIR\n"
	"(killmatrix.mtkm) without running anything, and print the table (or the\n"
	"JSON report).\n"
	"\n"
	"      --json            print the JSON report on stdout\n"
	"      --filter FACTOR   accuracy filter: mutants below FACTOR x the\n"
	"                        original's accuracy are left out (default: the\n"
	"                        stored factor; 0 turns the filter off)\n"
	"      --digest          print only the kill matrix's content digest (equal\n"
	"                        for runs with equal results, e.g. merged shards)\n"
	"  -q, --quiet           accepted for symmetry with run (score prints no progress)\n"
	"  -h, --help            show this help\n";

int cmd_score(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'J'},
		{"filter", required_argument, NULL, 'F'},
		{"digest", no_argument, NULL, 'D'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	mt_killmatrix *km = NULL;
	const char *dir = NULL;
	char *path = NULL, *end;
	double filter = -1;
	int json = 0, digest = 0, c, error = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'J': json = 1; break;
		case 'D': digest = 1; break;
		case 'q': break; /* score prints no progress; accepted for symmetry with run */
		case 'F':
			filter = strtod(optarg, &end);
			if (*end || filter < 0 || filter > 1)
				return cli_usage_error("score", "--filter must be a number in [0, 1], got '%s'", optarg);
			break;
		case 'h': fputs(score_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("score", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("score", "missing RUN_DIR");
	dir = argv[optind++];
	if (optind < argc)
		return cli_usage_error("score", "unexpected argument '%s'", argv[optind]);
	if (!(path = mt_io_path_join(dir, "killmatrix.mtkm"))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if (access(path, F_OK) != 0) {
		error = mt_error_set(MT_ENOTFOUND, "%s: no kill matrix (killmatrix.mtkm): not the run directory of a finished `mutorch run`", dir);
		goto cleanup;
	}
	if ((error = mt_killmatrix_load(&km, path)) < 0)
		goto cleanup;
	if (filter >= 0 && (error = mt_killmatrix_set_accuracy_filter(km, filter)) < 0)
		goto cleanup;
	if (digest) {
		char d[41];
		if ((error = mt_killmatrix_digest(d, km)) == 0)
			printf("%s\n", d);
		goto cleanup;
	}
	error = print_report(km, json);
cleanup:
	rc = error < 0 ? cli_fail("score", error) : MT_EXIT_OK;
	free(path);
	mt_killmatrix_free(km);
	return rc;
}

static const char mutants_usage[] =
	"usage: mutorch mutants [CONFIG] [--level model|source] [--json]\n"
	"\n"
	"List the mutants CONFIG plans (id, operator, target, seed, parameters)\n"
	"without running anything. The same config gives the same ids and seeds.\n"
	"\n"
	"  -l, --level L   model (default; source when the config has only\n"
	"                  source-level operators) or source\n"
	"      --json      one JSON object: {\"digest\", \"mutants\": [...]}\n"
	"  -h, --help      show this help\n";

int cmd_mutants(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'J'},
		{"level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *config_path = "mutorch.yml", *level = NULL;
	mt_config *cfg = NULL;
	mt_plan *plan = NULL;
	mt_dataset *train = NULL;
	int json = 0, c, error = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'J': json = 1; break;
		case 'l':
			if (strcmp(optarg, "model") && strcmp(optarg, "source"))
				return cli_usage_error("mutants", "--level must be model or source, got '%s'", optarg);
			level = optarg;
			break;
		case 'h': fputs(mutants_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("mutants", "unknown option");
		}
	}
	if (optind < argc)
		config_path = argv[optind++];
	if (optind < argc)
		return cli_usage_error("mutants", "unexpected argument '%s'", argv[optind]);
	if ((error = cli_load_config(&cfg, config_path)) < 0)
		goto cleanup;
	if (!level)
		level = cfg->nmodel_level == 0 && cfg->nsource_level > 0 ? "source" : "model";
	if (!strcmp(level, "source")) {
		if ((error = mt_runner_load_dataset(&train, cfg, MT_SPLIT_TRAIN)) < 0 ||
		    (error = mt_source_plan(&plan, cfg, train)) < 0)
			goto cleanup;
	} else if ((error = mt_model_plan(&plan, cfg)) < 0) {
		goto cleanup;
	}
	if (json) {
		json_t *root = json_object(), *arr = json_array();
		for (size_t i = 0; i < mt_plan_count(plan); i++) {
			const mt_mutant_desc *d = mt_plan_at(plan, i);
			char seed[32];
			snprintf(seed, sizeof(seed), "%llu", (unsigned long long)d->seed);
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", d->id,
							     "op", d->op, "target", d->target,
							     "seed", seed, "params", d->params));
		}
		json_object_set_new(root, "digest", json_string(mt_plan_digest(plan)));
		json_object_set_new(root, "mutants", arr);
		json_dumpf(root, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(root);
	} else {
		printf("%-28s %-6s %-12s %-20s %s\n", "id", "op", "target", "seed", "parameters");
		for (size_t i = 0; i < mt_plan_count(plan); i++) {
			const mt_mutant_desc *d = mt_plan_at(plan, i);
			printf("%-28s %-6s %-12s %-20llu %s\n", d->id, d->op, d->target,
			       (unsigned long long)d->seed, d->params);
		}
		printf("%zu mutants, plan digest %s\n", mt_plan_count(plan), mt_plan_digest(plan));
	}
cleanup:
	rc = error < 0 ? cli_fail("mutants", error) : MT_EXIT_OK;
	mt_dataset_free(train);
	mt_plan_free(plan);
	mt_config_free(cfg);
	return rc;
}

int cmd_operators(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: mutorch operators\n\nList every mutation operator with its level, "
		       "parameters and defaults, and its semantics in one line.\n"
		       "docs/operators.md gives the exact semantics.\n");
		return MT_EXIT_OK;
	}
	if (argc > 1)
		return cli_usage_error("operators", "unexpected argument '%s'", argv[1]);
	return mt_operators_print(stdout) < 0 ? cli_fail("operators", MT_ERROR) : MT_EXIT_OK;
}

static const char export_usage[] =
	"usage: mutorch export-mutant ID -o FILE [CONFIG]\n"
	"\n"
	"Write mutant ID of CONFIG's plan (see `mutorch mutants`) as a TorchScript\n"
	"file that PyTorch loads with torch.jit.load.\n"
	"\n"
	"  -o, --output FILE   where to write it (required)\n"
	"  -h, --help          show this help\n";

int cmd_export_mutant(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *config_path = "mutorch.yml", *id = NULL, *output = NULL;
	mt_config *cfg = NULL;
	int c, error = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'h': fputs(export_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("export-mutant", "unknown option");
		}
	}
	if (optind < argc)
		id = argv[optind++];
	if (optind < argc)
		config_path = argv[optind++];
	if (optind < argc)
		return cli_usage_error("export-mutant", "unexpected argument '%s'", argv[optind]);
	if (!id)
		return cli_usage_error("export-mutant", "missing the mutant ID");
	if (!output)
		return cli_usage_error("export-mutant", "missing -o FILE");
	if ((error = cli_load_config(&cfg, config_path)) < 0 ||
	    (error = mt_model_export_mutant(cfg, id, output)) < 0)
		goto cleanup;
	fprintf(stderr, "wrote %s\n", output);
cleanup:
	rc = error < 0 ? cli_fail("export-mutant", error) : MT_EXIT_OK;
	mt_config_free(cfg);
	return rc;
}

/* Internal: started by `mutorch run`, not by users. */
int cmd_worker(int argc, char **argv)
{
	mt_config *cfg = NULL;
	int error;
	int source = argc == 5 && !strcmp(argv[4], "--source");
	if ((argc != 4 && !source) || strcmp(argv[2], "--run-dir") != 0) {
		fprintf(stderr, "usage: mutorch worker CONFIG --run-dir DIR [--source] (internal: started by `mutorch run`)\n");
		return MT_EXIT_USAGE;
	}
	if ((error = cli_load_config(&cfg, argv[1])) < 0)
		return cli_fail("worker", error);
	error = source ? mt_source_worker(cfg, argv[3]) : mt_model_worker(cfg, argv[3]);
	mt_config_free(cfg);
	return error < 0 ? cli_fail("worker", error) : MT_EXIT_OK;
}
