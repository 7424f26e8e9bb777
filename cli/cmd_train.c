/* mutorch train: train the original model from the config's recipe. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mutorch/clock.h"
#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/recipe.h"
#include "mutorch/runner.h"
#include "mutorch/shim.h"

static const char train_usage[] =
	"usage: mutorch train [CONFIG] [-o FILE] [--json] [--quiet] [--eval-timeout S]\n"
	"\n"
	"Train the model of CONFIG (default ./mutorch.yml) with its recipe\n"
	"(training: optimizer, loss, epochs, batch size, seed, threads), save it as\n"
	"TorchScript (model.output, or FILE) and print the test accuracy.\n"
	"Progress (epoch, loss, samples/s) goes to stderr. With training.command,\n"
	"your own program trains it once (docs/training-programs.md); its output\n"
	"is kept in RUN_DIR/training/train/.\n"
	"\n"
	"  -o, --output FILE  where to save the trained model\n"
	"      --json         print the result as one JSON object on stdout\n"
	"  -q, --quiet        no progress output\n"
	"      --eval-timeout S  give up (exit 3) when the final evaluation on the test\n"
	"                     set takes longer than S seconds (default 600; 0: no\n"
	"                     limit); the trained model is saved before it\n"
	"  -h, --help         show this help\n";

static int save_model(const mt_module *m, const char *path)
{
	char *dir = mt_io_dirname(path), *tmp = NULL;
	size_t n = strlen(path) + 8;
	int error;

	if (!dir)
		return mt_error_oom();
	if ((error = mt_io_mkdirs(dir)) < 0)
		goto cleanup;
	if (!(tmp = malloc(n))) {
		error = mt_error_oom();
		goto cleanup;
	}
	/* Save beside and rename, so an interrupted save never leaves a
	 * half-written model where a trained one is expected. */
	snprintf(tmp, n, "%s.tmp", path);
	if ((error = mt_module_save(m, tmp)) < 0)
		goto cleanup;
	if (rename(tmp, path) != 0)
		error = mt_error_set(MT_EIO, "%s: cannot rename %s into place", path, tmp);
cleanup:
	free(dir);
	free(tmp);
	return error;
}

int cmd_train(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{"eval-timeout", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *config_path = NULL, *output = NULL;
	int json = 0, quiet = 0, c, error = 0, rc;
	mt_config *cfg = NULL;
	mt_dataset *train = NULL, *test = NULL;
	mt_tensor *tx = NULL, *ty = NULL;
	mt_module *model = NULL;
	mt_train_report report;
	mt_eval_result res = {0};
	mt_progress progress;
	char *log_dir = NULL;
	double t0;
	double eval_seconds = 0, eval_timeout = MT_EVAL_TIMEOUT_DEFAULT;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'j': json = 1; break;
		case 'q': quiet = 1; break;
		case 'E':
			if (cli_parse_eval_timeout(&eval_timeout, "train", optarg) < 0)
				return MT_EXIT_USAGE;
			break;
		case 'h': fputs(train_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("train", "unknown option");
		}
	}
	if (optind < argc)
		config_path = argv[optind++];
	if (optind < argc)
		return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);

	if ((error = cli_load_config(&cfg, config_path)) < 0)
		goto cleanup;
	if (!output)
		output = cfg->output;
	progress.stream = quiet ? NULL : stderr;
	progress.tty = !quiet && isatty(STDERR_FILENO);

	memset(&report, 0, sizeof(report));
	report.val_accuracy = -1;
	t0 = mt_clock_now();
	if ((error = mt_runner_load_dataset(&train, cfg, MT_SPLIT_TRAIN)) < 0 ||
	    (error = mt_runner_load_dataset(&test, cfg, MT_SPLIT_TEST)) < 0 ||
	    (error = mt_runner_tensors(&tx, &ty, cfg, test)) < 0 ||
	    (error = cfg->command
		     ? mt_runner_train_program(&model, &log_dir, cfg, train, &progress)
		     : mt_runner_train_pipeline(&model, &report, cfg, train, &progress)) < 0)
		goto cleanup;
	if (cfg->command) /* the user's own program: its epochs and loss are its own */
		report.seconds = mt_clock_now() - t0;
	if ((error = save_model(model, output)) < 0)
		goto cleanup;
	t0 = mt_clock_now();
	if ((error = mt_runner_evaluate_original(&res, model, tx, mt_dataset_labels(test),
						 mt_dataset_count(test), cfg, output, eval_timeout)) < 0)
		goto cleanup;
	eval_seconds = mt_clock_now() - t0;

	if (json) {
		json_t *o = json_pack("{s:s, s:f, s:I, s:I, s:f, s:I, s:i, s:s}",
				      "model", output, "accuracy", res.accuracy,
				      "n", (json_int_t)res.n, "correct", (json_int_t)res.correct,
				      "train_seconds", report.seconds,
				      "seed", (json_int_t)cfg->seed, "threads", cfg->threads,
				      "torch_version", mt_shim_torch_version());
		if (log_dir) { /* the user's program: no loss or epochs of ours */
			json_object_set_new(o, "logs", json_string(log_dir));
		} else {
			json_object_set_new(o, "epochs", json_integer(report.epochs_run));
			json_object_set_new(o, "final_loss", json_real(report.final_loss));
			json_object_set_new(o, "samples_per_second", json_real(report.samples_per_second));
		}
		if (report.val_accuracy >= 0)
			json_object_set_new(o, "val_accuracy", json_real(report.val_accuracy));
		json_object_set_new(o, "eval_seconds", json_real(eval_seconds));
		json_object_set_new(o, "eval_samples_per_second",
				    json_real(eval_seconds > 0 ? (double)res.n / eval_seconds : 0.0));
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
	} else {
		printf("saved %s\n", output);
		printf("test accuracy %.4f (%lld/%lld)\n", res.accuracy, (long long)res.correct,
		       (long long)res.n);
	}
cleanup:
	rc = error < 0 ? cli_fail("train", error) : MT_EXIT_OK;
	mt_eval_result_dispose(&res);
	free(log_dir);
	mt_module_free(model);
	mt_tensor_free(tx);
	mt_tensor_free(ty);
	mt_dataset_free(train);
	mt_dataset_free(test);
	mt_config_free(cfg);
	return rc;
}
