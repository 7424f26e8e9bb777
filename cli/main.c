/* mutorch: mutation testing for deep-learning models. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "mutorch/mpi.h"
#include "mutorch/shim.h"

static const char usage[] =
	"usage: mutorch [--version] [--help] <command> [<args>]\n"
	"\n"
	"Mutation testing for deep-learning models and their training programs.\n"
	"\n"
	"Commands:\n"
	"  train [CONFIG]           train the original model from the config's recipe\n"
	"  eval [CONFIG]            evaluate a trained model on the test set\n"
	"  run [CONFIG]             mutation analysis (--level model|source|all): mutants,\n"
	"                           scores and reports\n"
	"  merge OUT DIR...         combine the shards of `run --shard K/N` into one run\n"
	"  score RUN_DIR            recompute the scores from a stored kill matrix\n"
	"  report RUN_DIR           one self-contained HTML report with charts\n"
	"  analyse RUN_DIR WHAT     test-set analyses: minimise, prioritise, lcr,\n"
	"                           survivors\n"
	"  mutants [CONFIG]         list the planned mutants without running them\n"
	"  sites [CONFIG]           list the sites of the graph operators (LD, LAm,\n"
	"                           AFRm) in the model's module tree, with shapes\n"
	"  export-mutant ID -o FILE write one mutant as a TorchScript file\n"
	"  operators                list the mutation operators and their parameters\n"
	"  false-kill [CONFIG]      measure the false-kill rate of the source-level rule\n"
	"  search [CONFIG] --op OP --param P --from A --to B\n"
	"                           DeepCrime's search for the weakest killing value\n"
	"  ci [CONFIG]              analyse HEAD, reusing results by content, keep them in\n"
	"                           a git note and fail when the score dropped\n"
	"  hook install             add a git hook that runs `mutorch ci`\n"
	"\n"
	"CONFIG defaults to ./mutorch.yml. 'mutorch <command> --help' describes a\n"
	"command. Exit codes: 0 success, 1 internal error, 2 usage error,\n"
	"3 bad or missing input (config, data, model), 4 score below threshold or\n"
	"fell by more than the tolerance, 5 another run holds the repository's lock.\n";

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		fputs(usage, stderr);
		return MT_EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return MT_EXIT_OK;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
#ifdef MUTORCH_MPI
		printf("mutorch %s (libtorch %s; MPI: %s)\n", MUTORCH_VERSION, mt_shim_torch_version(),
		       mt_mpi_library());
#else
		printf("mutorch %s (libtorch %s; MPI: not built)\n", MUTORCH_VERSION, mt_shim_torch_version());
#endif
		return MT_EXIT_OK;
	}
	if (!strcmp(cmd, "train"))
		return cmd_train(argc - 1, argv + 1);
	if (!strcmp(cmd, "eval"))
		return cmd_eval(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "merge"))
		return cmd_merge(argc - 1, argv + 1);
	if (!strcmp(cmd, "score"))
		return cmd_score(argc - 1, argv + 1);
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "analyse") || !strcmp(cmd, "analyze"))
		return cmd_analyse(argc - 1, argv + 1);
	if (!strcmp(cmd, "mutants"))
		return cmd_mutants(argc - 1, argv + 1);
	if (!strcmp(cmd, "sites"))
		return cmd_sites(argc - 1, argv + 1);
	if (!strcmp(cmd, "operators"))
		return cmd_operators(argc - 1, argv + 1);
	if (!strcmp(cmd, "export-mutant"))
		return cmd_export_mutant(argc - 1, argv + 1);
	if (!strcmp(cmd, "ci"))
		return cmd_ci(argc - 1, argv + 1);
	if (!strcmp(cmd, "hook"))
		return cmd_hook(argc - 1, argv + 1);
	if (!strcmp(cmd, "false-kill"))
		return cmd_false_kill(argc - 1, argv + 1);
	if (!strcmp(cmd, "search"))
		return cmd_search(argc - 1, argv + 1);
	if (!strcmp(cmd, "worker"))
		return cmd_worker(argc - 1, argv + 1);
	fprintf(stderr, "mutorch: '%s' is not a command. See 'mutorch --help'.\n", cmd);
	return MT_EXIT_USAGE;
}
