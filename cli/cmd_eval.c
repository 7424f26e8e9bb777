/* mutorch eval: accuracy and per-class accuracy of a trained model. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mutorch/clock.h"
#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/error.h"
#include "mutorch/runner.h"
#include "mutorch/shim.h"

static const char eval_usage[] =
	"usage: mutorch eval [CONFIG] [--model FILE] [--json] [--predictions FILE]\n"
	"                    [--eval-timeout S]\n"
	"\n"
	"Evaluate a trained model on the test set of CONFIG (default ./mutorch.yml)\n"
	"and print its accuracy and per-class accuracy. The model is FILE, or the\n"
	"config's model.output (what `mutorch train` wrote), or, when that does not\n"
	"exist, the config's model.torchscript.\n"
	"\n"
	"  -m, --model FILE   a TorchScript model (torch.jit.save)\n"
	"      --json         print one JSON object on stdout: accuracy, per_class,\n"
	"                     n, correct, class_counts, model, threads, seed,\n"
	"                     torch_version\n"
	"  -p, --predictions FILE  write the predicted class of every test input,\n"
	"                     one per line, in test-set order\n"
	"      --eval-timeout S  give up (exit 3) when the evaluation takes longer\n"
	"                     than S seconds (default 600; 0: no limit)\n"
	"  -h, --help         show this help\n";

int cmd_eval(int argc, char **argv)
{
	static const struct option opts[] = {
		{"model", required_argument, NULL, 'm'},
		{"json", no_argument, NULL, 'j'},
		{"predictions", required_argument, NULL, 'p'},
		{"eval-timeout", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *config_path = NULL, *model_path = NULL, *pred_path = NULL, *loaded = NULL;
	int json = 0, c, error = 0, rc;
	mt_config *cfg = NULL;
	mt_dataset *test = NULL;
	mt_tensor *tx = NULL, *ty = NULL;
	mt_module *model = NULL;
	mt_eval_result res = {0};
	double t0;
	double seconds, eval_timeout = MT_EVAL_TIMEOUT_DEFAULT;

	optind = 1;
	while ((c = getopt_long(argc, argv, "m:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model_path = optarg; break;
		case 'j': json = 1; break;
		case 'p': pred_path = optarg; break;
		case 'E':
			if (cli_parse_eval_timeout(&eval_timeout, "eval", optarg) < 0)
				return MT_EXIT_USAGE;
			break;
		case 'h': fputs(eval_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("eval", "unknown option");
		}
	}
	if (optind < argc)
		config_path = argv[optind++];
	if (optind < argc)
		return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);

	if ((error = cli_load_config(&cfg, config_path)) < 0 ||
	    (error = mt_runner_load_dataset(&test, cfg, MT_SPLIT_TEST)) < 0 ||
	    (error = mt_runner_tensors(&tx, &ty, cfg, test)) < 0 ||
	    (error = mt_runner_trained_model(&model, &loaded, cfg, model_path)) < 0)
		goto cleanup;
	t0 = mt_clock_now();
	if ((error = mt_runner_evaluate_original(&res, model, tx, mt_dataset_labels(test),
						 mt_dataset_count(test), cfg, loaded, eval_timeout)) < 0)
		goto cleanup;
	seconds = mt_clock_now() - t0;

	if (pred_path) {
		FILE *f = fopen(pred_path, "w");
		if (!f) {
			error = mt_error_set(MT_EIO, "%s: cannot create", pred_path);
			goto cleanup;
		}
		for (int64_t i = 0; i < res.n; i++)
			fprintf(f, "%lld\n", (long long)res.predictions[i]);
		if (fclose(f) != 0) {
			error = mt_error_set(MT_EIO, "%s: write failed", pred_path);
			goto cleanup;
		}
	}
	if (json) {
		json_t *o = json_object(), *pc = json_array(), *cc = json_array();
		for (int k = 0; k < res.num_classes; k++) {
			json_array_append_new(pc, json_real(res.class_accuracy[k]));
			json_array_append_new(cc, json_integer(res.class_total[k]));
		}
		json_object_set_new(o, "accuracy", json_real(res.accuracy));
		json_object_set_new(o, "per_class", pc);
		json_object_set_new(o, "class_counts", cc);
		json_object_set_new(o, "n", json_integer(res.n));
		json_object_set_new(o, "correct", json_integer(res.correct));
		json_object_set_new(o, "model", json_string(loaded));
		json_object_set_new(o, "threads", json_integer(cfg->threads));
		json_object_set_new(o, "seed", json_integer((json_int_t)cfg->seed));
		json_object_set_new(o, "torch_version", json_string(mt_shim_torch_version()));
		json_object_set_new(o, "eval_seconds", json_real(seconds));
		json_object_set_new(o, "samples_per_second",
				    json_real(seconds > 0 ? (double)res.n / seconds : 0.0));
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
	} else {
		printf("accuracy %.4f (%lld/%lld)\n", res.accuracy, (long long)res.correct,
		       (long long)res.n);
		printf("class  accuracy  correct/total\n");
		for (int k = 0; k < res.num_classes; k++)
			printf("%5d  %8.4f  %lld/%lld\n", k, res.class_accuracy[k],
			       (long long)res.class_correct[k], (long long)res.class_total[k]);
	}
cleanup:
	rc = error < 0 ? cli_fail("eval", error) : MT_EXIT_OK;
	mt_eval_result_dispose(&res);
	mt_module_free(model);
	mt_tensor_free(tx);
	mt_tensor_free(ty);
	mt_dataset_free(test);
	mt_config_free(cfg);
	return rc;
}
