/* mutorch false-kill and mutorch search: calibration of the statistical
 * killing of source-level mutants. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/sourcerun.h"

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static int print_json(json_t *o)
{
	int error = o && json_dumpf(o, stdout, JSON_COMPACT) == 0 ? 0 : mt_error_oom();
	json_decref(o);
	fputc('\n', stdout);
	return error;
}

static int print_false_kill(const mt_false_kill_result *r, int json)
{
	int consistent = r->ci95_low <= r->alpha;
	if (json) {
		json_t *o = json_pack("{s:s, s:i, s:i, s:I, s:f, s:f, s:f, s:f, s:b, s:I}", "rule", r->rule,
				      "trials", r->trials, "runs_per_group", r->runs_per_group,
				      "false_kills", (json_int_t)r->false_kills, "false_kill_rate", r->rate,
				      "ci95_low", r->ci95_low, "ci95_high", r->ci95_high, "alpha", r->alpha,
				      "consistent_with_alpha", consistent, "trainings", (json_int_t)r->trainings);
		if (o && r->sequential) {
			json_object_set_new(o, "sequential_false_kills",
					    json_integer((json_int_t)r->sequential_false_kills));
			json_object_set_new(o, "sequential_false_kill_rate", json_real(r->sequential_rate));
			json_object_set_new(o, "sequential_ci95_high", json_real(r->sequential_ci95_high));
			json_object_set_new(o, "sequential_mean_runs", json_real(r->sequential_mean_runs));
		}
		return print_json(o);
	}
	printf("rule %s, alpha %g, effect size %g: %zu false kills in %d trials of %d vs %d runs: rate %.3f (95%% CI %.3f-%.3f)%s\n",
	       r->rule, r->alpha, r->effect, r->false_kills, r->trials, r->runs_per_group,
	       r->runs_per_group, r->rate, r->ci95_low, r->ci95_high,
	       consistent ? ", consistent with alpha" : ", ABOVE alpha");
	if (r->sequential)
		printf("sequential design: %zu false kills (rate %.3f), mean %.1f runs per group\n",
		       r->sequential_false_kills, r->sequential_rate, r->sequential_mean_runs);
	return 0;
}

static int print_search(const mt_search_result *r, int json)
{
	if (json) {
		json_t *steps = json_array();
		for (size_t i = 0; i < r->nsteps; i++)
			json_array_append_new(steps, json_pack("{s:f, s:b, s:o, s:o}", "value", r->steps[i].value,
							       "killed", r->steps[i].killed,
							       "p_value", num(r->steps[i].p_value),
							       "effect_size", num(r->steps[i].effect_size)));
		return print_json(json_pack("{s:s, s:s, s:f, s:f, s:f, s:b, s:o, s:I, s:o}", "operator", r->op,
					    "parameter", r->param, "from", r->from, "to", r->to,
					    "precision", r->precision, "killable", r->killable,
					    "weakest_killing_value", num(r->weakest),
					    "values_tried", (json_int_t)r->nsteps, "steps", steps));
	}
	if (r->killable)
		printf("%s: the weakest killing %s is %.6g (between %.6g, not killed, and %.6g; %zu values tried, %d runs each)\n",
		       r->op, r->param, r->weakest, r->weak, r->strong, r->nsteps, r->runs);
	else
		printf("%s: not killed even at %s=%.6g: the operator is not killable in [%g, %g]\n",
		       r->op, r->param, r->to, r->from < r->to ? r->from : r->to,
		       r->from < r->to ? r->to : r->from);
	return 0;
}

static const char false_kill_usage[] =
	"usage: mutorch false-kill [CONFIG] [--trials N] [--jobs N] [--json] [--quiet]\n"
	"\n"
	"Measure the false-kill rate of CONFIG's source-level killing rule\n"
	"(mutation.source): N times, n runs of the original against n independent\n"
	"runs of itself (fresh seeds) are decided by the rule; a sound rule kills\n"
	"in at most about alpha of the trials. Prints the rate and its 95% Wilson\n"
	"interval (and the sequential design's rate when mutation.source.sequential\n"
	"is on). Trains 2 x N x n runs, cached in RUN_DIR/false-kill.\n"
	"\n"
	"  -n, --trials N   trials (default 20)\n"
	"  -j, --jobs N     worker processes (default 1)\n"
	"      --json       print one JSON object\n"
	"  -q, --quiet      no progress output\n"
	"  -h, --help       show this help\n";

int cmd_false_kill(int argc, char **argv)
{
	static const struct option opts[] = {
		{"trials", required_argument, NULL, 'n'},
		{"jobs", required_argument, NULL, 'j'},
		{"json", no_argument, NULL, 'J'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	mt_run_options o;
	const char *config_path = "mutorch.yml";
	mt_config *cfg = NULL;
	int trials = 20, quiet = 0, json = 0, c, error = 0, rc;
	mt_false_kill_result res;
	char *end;

	memset(&o, 0, sizeof(o));
	o.jobs = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:j:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			trials = (int)strtol(optarg, &end, 10);
			if (*end || trials < 1)
				return cli_usage_error("false-kill", "--trials must be a positive integer, got '%s'", optarg);
			break;
		case 'j':
			if (cli_parse_jobs(&o.jobs, "false-kill", optarg) < 0)
				return MT_EXIT_USAGE;
			break;
		case 'J': json = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(false_kill_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("false-kill", "unknown option");
		}
	}
	if (optind < argc)
		config_path = argv[optind++];
	if (optind < argc)
		return cli_usage_error("false-kill", "unexpected argument '%s'", argv[optind]);
	if ((error = cli_load_config(&cfg, config_path)) < 0)
		goto cleanup;
	o.config_path = config_path;
	o.self_exe = cli_self_exe();
	o.progress = quiet ? NULL : stderr;
	o.progress_tty = !quiet && isatty(STDERR_FILENO);
	if ((error = mt_source_false_kill(&res, cfg, &o, trials)) == 0)
		error = print_false_kill(&res, json);
cleanup:
	rc = error < 0 ? cli_fail("false-kill", error) : MT_EXIT_OK;
	mt_config_free(cfg);
	return rc;
}

static const char search_usage[] =
	"usage: mutorch search [CONFIG] --op OP --param NAME --from WEAK --to STRONG\n"
	"                      [--precision E] [--integer] [--jobs N] [--json]\n"
	"\n"
	"DeepCrime's bisection search for the weakest killing value of a numeric\n"
	"parameter of a source-level operator: first the strong end is tried\n"
	"(not killed there: the operator is not killable in the range), then the\n"
	"interval is halved until it is narrower than the precision. Each value is\n"
	"retrained n times (mutation.source.runs) and decided by the configured\n"
	"rule. Example: --op HLR --param factor --from 1 --to 0.0001.\n"
	"\n"
	"  -o, --op OP          a source-level operator (see `mutorch operators`)\n"
	"  -p, --param NAME     its numeric parameter\n"
	"      --from WEAK      the value closest to the original\n"
	"      --to STRONG      the strongest value\n"
	"  -e, --precision E    stop when the interval is narrower (default 1/16 of\n"
	"                       the range; at least 1 with --integer)\n"
	"      --integer        the parameter takes whole numbers\n"
	"  -j, --jobs N         worker processes (default 1)\n"
	"      --json           print one JSON object\n"
	"  -q, --quiet          no progress output\n"
	"  -h, --help           show this help\n";

int cmd_search(int argc, char **argv)
{
	static const struct option opts[] = {
		{"op", required_argument, NULL, 'o'},
		{"param", required_argument, NULL, 'p'},
		{"from", required_argument, NULL, 'F'},
		{"to", required_argument, NULL, 'T'},
		{"precision", required_argument, NULL, 'e'},
		{"integer", no_argument, NULL, 'I'},
		{"jobs", required_argument, NULL, 'j'},
		{"json", no_argument, NULL, 'J'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	mt_run_options o;
	const char *config_path = "mutorch.yml", *op = NULL, *param = NULL;
	mt_config *cfg = NULL;
	double from = 0, to = 0, precision = 0;
	int have_from = 0, have_to = 0, integer = 0, quiet = 0, json = 0, c, error = 0, rc;
	mt_search_result res;
	char *end;

	memset(&o, 0, sizeof(o));
	o.jobs = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:p:e:j:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': op = optarg; break;
		case 'p': param = optarg; break;
		case 'F':
			from = strtod(optarg, &end);
			if (*end)
				return cli_usage_error("search", "--from must be a number, got '%s'", optarg);
			have_from = 1;
			break;
		case 'T':
			to = strtod(optarg, &end);
			if (*end)
				return cli_usage_error("search", "--to must be a number, got '%s'", optarg);
			have_to = 1;
			break;
		case 'e':
			precision = strtod(optarg, &end);
			if (*end || precision <= 0)
				return cli_usage_error("search", "--precision must be a positive number, got '%s'", optarg);
			break;
		case 'I': integer = 1; break;
		case 'j':
			if (cli_parse_jobs(&o.jobs, "search", optarg) < 0)
				return MT_EXIT_USAGE;
			break;
		case 'J': json = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(search_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("search", "unknown option");
		}
	}
	if (optind < argc)
		config_path = argv[optind++];
	if (optind < argc)
		return cli_usage_error("search", "unexpected argument '%s'", argv[optind]);
	if (!op || !param || !have_from || !have_to)
		return cli_usage_error("search", "--op, --param, --from and --to are required");
	if (from == to)
		return cli_usage_error("search", "--from and --to must differ");
	if (precision <= 0)
		precision = integer ? 1 : (from > to ? from - to : to - from) / 16;
	if ((error = cli_load_config(&cfg, config_path)) < 0)
		goto cleanup;
	o.config_path = config_path;
	o.self_exe = cli_self_exe();
	o.progress = quiet ? NULL : stderr;
	o.progress_tty = 0;
	if ((error = mt_source_search(&res, cfg, &o, op, param, from, to, precision, integer)) == 0) {
		error = print_search(&res, json);
		mt_search_result_dispose(&res);
	}
cleanup:
	rc = error < 0 ? cli_fail("search", error) : MT_EXIT_OK;
	mt_config_free(cfg);
	return rc;
}
