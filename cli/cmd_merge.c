/* mutorch merge: the shards of a run combined into one run directory. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/killmatrix.h"
#include "mutorch/report.h"
#include "mutorch/run.h"
#include "mutorch/runner.h"
#include "mutorch/shard.h"
#include "mutorch/source_results.h"

static const char merge_usage[] =
	"usage: mutorch merge OUT DIR... [--config CONFIG] [--cache DIR] [--json]\n"
	"                     [--quiet]\n"
	"\n"
	"Combine the run directories of `mutorch run --shard K/N` (all N of them,\n"
	"each once) into the run directory OUT: its kill matrix, CSV files, reports\n"
	"and scores are those of the same run without shards. Shards of different\n"
	"plans, a shard given twice, a missing shard and a shard that has not\n"
	"finished are refused (exit 3) with the mutants that lack a result. At the\n"
	"source level the verdicts are decided here, from every shard's runs; the\n"
	"shards' cached predictions are copied into OUT/cache unless the shards\n"
	"shared the cache given with --cache. Nothing is evaluated or trained.\n"
	"\n"
	"  -c, --config CONFIG   the shards' config (default ./mutorch.yml)\n"
	"      --cache DIR       the training cache the shards shared (source level)\n"
	"      --json            print the JSON report on stdout\n"
	"  -q, --quiet           no progress output\n"
	"  -h, --help            show this help\n";

int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"cache", required_argument, NULL, 'C'},
		{"json", no_argument, NULL, 'J'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *config_path = "mutorch.yml", *out;
	mt_config *cfg = NULL;
	mt_killmatrix *km = NULL;
	mt_source_results *sres = NULL;
	mt_run_options o;
	int json = 0, quiet = 0, c, error = 0, rc;

	memset(&o, 0, sizeof(o));
	o.jobs = 1;
	o.eval_timeout = MT_EVAL_TIMEOUT_DEFAULT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'C': o.cache_dir = optarg; break;
		case 'J': json = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(merge_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("merge", "unknown option");
		}
	}
	if (argc - optind < 2)
		return cli_usage_error("merge", "expected OUT and at least one shard directory");
	out = argv[optind++];
	for (int i = optind; i < argc; i++)
		if (access(argv[i], F_OK) != 0) {
			mt_error_set(MT_ENOTFOUND, "%s: no such shard directory", argv[i]);
			return cli_fail("merge", MT_ENOTFOUND);
		}
	if ((error = cli_load_config(&cfg, config_path)) < 0)
		goto cleanup;
	o.config_path = config_path;
	o.self_exe = cli_self_exe();
	o.progress = quiet ? NULL : stderr;
	o.progress_tty = 0;
	if ((error = mt_shard_merge(&km, &sres, cfg, out, argv + optind, (size_t)(argc - optind), &o)) < 0)
		goto cleanup;
	if (!quiet)
		fprintf(stderr, "merged %d shards into %s\n", argc - optind, out);
	if (km && !json) {
		error = mt_killmatrix_write_table(stdout, km);
	} else if (km && !sres) {
		char *text = NULL;
		if ((error = mt_killmatrix_json_string(&text, km)) == 0)
			printf("%s\n", text);
		free(text);
	}
	if (error == 0 && sres && !json)
		error = mt_source_results_write_table(stdout, sres);
	else if (error == 0 && sres) {
		char *text = NULL;
		if ((error = mt_source_results_json_string(&text, sres)) == 0)
			printf("%s\n", text);
		free(text);
	}
cleanup:
	rc = error < 0 ? cli_fail("merge", error) : MT_EXIT_OK;
	mt_source_results_free(sres);
	mt_killmatrix_free(km);
	mt_config_free(cfg);
	return rc;
}
