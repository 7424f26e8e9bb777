/* mutorch analyse: test-set analyses of a stored kill matrix
 * (docs/reports.md): minimise, prioritise, lcr, survivors, all. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mutorch/analysis.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"
#include "mutorch/report.h"
#include "mutorch/strbuf.h"

static const char analyse_usage[] =
	"usage: mutorch analyse RUN_DIR minimise [-o PREFIX] [--json] [--filter F]\n"
	"       mutorch analyse RUN_DIR prioritise [-o FILE] [--seed S] [--orders N] [--json]\n"
	"       mutorch analyse RUN_DIR lcr [--csv FILE] [--json]\n"
	"       mutorch analyse RUN_DIR survivors [--json]\n"
	"       mutorch analyse RUN_DIR all --json [--per-input]\n"
	"\n"
	"What the kill matrix of a finished model-level run (RUN_DIR/killmatrix.mtkm)\n"
	"says about the test set. Every analysis uses M', the evaluated mutants that\n"
	"the accuracy filter keeps (the scores' mutants). docs/reports.md defines each.\n"
	"\n"
	"  minimise    the smallest subset of test inputs found (greedy set cover)\n"
	"              that kills every mutant the whole set kills, and a lower bound\n"
	"              on any such subset; writes PREFIX.txt (one input index a line,\n"
	"              increasing) and PREFIX.npy (a NumPy boolean mask over the test\n"
	"              set); PREFIX defaults to RUN_DIR/minimised\n"
	"  prioritise  the inputs in additional-greedy order, which kills mutants\n"
	"              fastest; its APFD against the mean of random orders; writes the\n"
	"              order to FILE (default RUN_DIR/prioritised.txt)\n"
	"  lcr         label change rate per input (Wang et al., ICSE 2019): its\n"
	"              distribution for inputs the original classifies correctly and\n"
	"              wrongly, and the correctly classified inputs with the highest\n"
	"              rate; --csv FILE writes inputs.csv with the lcr column\n"
	"  survivors   the surviving mutants, their near-misses and the classes a\n"
	"              killing input would need\n"
	"  all         every analysis (with --json)\n"
	"\n"
	"  -o, --output P     output prefix (minimise) or file (prioritise)\n"
	"      --csv FILE     lcr: write the per-input CSV there\n"
	"      --seed S       seed of the random orders (default 1)\n"
	"      --orders N     random orders to average (default 100)\n"
	"      --filter F     accuracy filter factor in [0, 1] (default: the stored one)\n"
	"      --json         print the analysis as JSON on stdout\n"
	"      --per-input    with --json: include the order and the per-input rates\n"
	"  -h, --help         show this help\n";

typedef struct {
	const char *output, *csv;
	unsigned long long seed;
	size_t orders;
	int json, per_input;
} analyse_opts;

static int write_lines(const char *path, const size_t *v, size_t n)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	for (size_t i = 0; i < n; i++)
		mt_strbuf_printf(&sb, "%zu\n", v[i]);
	return mt_strbuf_write_file(&sb, path);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* The subset kills exactly the mutants of M' the whole set kills. */
static int check_subset(const mt_killmatrix *km, const uint8_t *mask)
{
	for (size_t m = 0; m < mt_killmatrix_mutant_count(km); m++) {
		int all = 0, sub = 0;
		if (!mt_killmatrix_has_predictions(km, m) || mt_killmatrix_mutant_filtered(km, m))
			continue;
		for (size_t t = 0; t < mt_killmatrix_input_count(km) && !sub; t++)
			if (mt_killmatrix_kills(km, m, t)) {
				all = 1;
				sub = mask[t];
			}
		if (all != sub)
			return mt_error_set(MT_ERROR, "minimise: the subset does not kill mutant %s, which "
					    "the whole test set kills (a bug)", mt_killmatrix_mutant(km, m)->id);
	}
	return 0;
}

static int minimise(const mt_killmatrix *km, const char *dir, const analyse_opts *o)
{
	mt_minimise_result *r = NULL;
	char *prefix = NULL, *txt = NULL, *npy = NULL, *json = NULL;
	size_t n = mt_killmatrix_input_count(km), *sorted = NULL;
	uint8_t *mask = NULL;
	int error;

	if ((error = mt_analysis_minimise(&r, km)) < 0)
		return error;
	prefix = o->output ? strdup(o->output) : mt_io_path_join(dir, "minimised");
	txt = prefix ? malloc(strlen(prefix) + 5) : NULL;
	npy = prefix ? malloc(strlen(prefix) + 5) : NULL;
	sorted = malloc((r->subset_size + 1) * sizeof(size_t));
	mask = calloc(n + 1, 1);
	if (!txt || !npy || !sorted || !mask) {
		error = mt_error_oom();
		goto cleanup;
	}
	sprintf(txt, "%s.txt", prefix);
	sprintf(npy, "%s.npy", prefix);
	memcpy(sorted, r->subset, r->subset_size * sizeof(size_t));
	qsort(sorted, r->subset_size, sizeof(size_t), cmp_size);
	for (size_t i = 0; i < r->subset_size; i++)
		mask[r->subset[i]] = 1;
	if ((error = check_subset(km, mask)) < 0 || (error = write_lines(txt, sorted, r->subset_size)) < 0 ||
	    (error = mt_analysis_write_mask_npy(npy, mask, n)) < 0)
		goto cleanup;
	if (o->json) {
		if ((error = mt_analysis_json_string(&json, r, NULL, NULL, NULL, km, 0)) < 0)
			goto cleanup;
		printf("%s\n", json);
	} else {
		printf("minimised test set: %zu of %zu inputs kill all %zu mutants the whole set kills "
		       "(of %zu in M'); checked against the kill matrix\n", r->subset_size, n, r->killable,
		       r->n_mutants);
		printf("lower bound: no subset of fewer than %zu inputs does (%zu mutants share no killing "
		       "input; coverage bound %zu)", r->lower_bound, r->packing_size, r->coverage_bound);
		if (r->lower_bound)
			printf(": the subset is at most %.2fx the smallest\n",
			       (double)r->subset_size / (double)r->lower_bound);
		else
			printf("\n");
		printf("wrote %s (input indices) and %s (NumPy boolean mask)\n", txt, npy);
	}
cleanup:
	mt_minimise_result_free(r);
	free(prefix);
	free(txt);
	free(npy);
	free(sorted);
	free(mask);
	free(json);
	return error;
}

static int prioritise(const mt_killmatrix *km, const char *dir, const analyse_opts *o)
{
	mt_prioritise_result *r = NULL;
	char *path = NULL, *json = NULL;
	int error;

	if ((error = mt_analysis_prioritise(&r, km, o->orders, o->seed)) < 0)
		return error;
	if (!(path = o->output ? strdup(o->output) : mt_io_path_join(dir, "prioritised.txt"))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = write_lines(path, r->order, r->n_inputs)) < 0)
		goto cleanup;
	if (o->json) {
		if ((error = mt_analysis_json_string(&json, NULL, r, NULL, NULL, km, o->per_input)) < 0)
			goto cleanup;
		printf("%s\n", json);
	} else {
		printf("prioritised %zu inputs (additional greedy); the first %zu kill all %zu killable "
		       "mutants\n", r->n_inputs, r->inputs_to_kill_all, r->killable);
		printf("APFD: greedy %.4f, by KS1 %.4f, random orders %.4f (sd %.4f, %zu orders, seed %llu; "
		       "exact expectation %.4f)\n", r->apfd, r->apfd_ks1, r->apfd_random_mean,
		       r->apfd_random_sd, r->random_orders, (unsigned long long)r->seed,
		       r->apfd_random_expected);
		printf("wrote %s (input indices, in order)\n", path);
	}
cleanup:
	mt_prioritise_result_free(r);
	free(path);
	free(json);
	return error;
}

static int lcr(const mt_killmatrix *km, const analyse_opts *o)
{
	mt_lcr_result *r = NULL;
	char *json = NULL;
	int error;

	if ((error = mt_analysis_lcr(&r, km)) < 0)
		return error;
	if (o->csv && (error = mt_killmatrix_write_inputs_csv(km, o->csv)) < 0)
		goto cleanup;
	if (o->json) {
		if ((error = mt_analysis_json_string(&json, NULL, NULL, r, NULL, km, o->per_input)) < 0)
			goto cleanup;
		printf("%s\n", json);
	} else {
		size_t shown = 0;
		printf("label change rate over %zu mutants of M'\n", r->n_mutants);
		printf("%-28s %7s %8s %8s %8s %8s %8s\n", "inputs", "n", "mean", "sd", "q1", "median", "q3");
		for (int g = 0; g < 2; g++) {
			const mt_lcr_summary *s = g ? &r->wrong : &r->correct;
			printf("%-28s %7.0f %8.4f %8.4f %8.4f %8.4f %8.4f\n",
			       g ? "misclassified" : "correctly classified (T')", s->n, s->mean, s->sd, s->q1,
			       s->median, s->q3);
		}
		printf("AUC of LCR as a detector of the original's errors: %.4f\n", r->auc);
		printf("correctly classified inputs with the highest LCR (look at them first):");
		if (r->n_mutants) {
			/* the ten largest, ties by index: selection is enough */
			unsigned char *taken = calloc(r->n_inputs + 1, 1);
			for (size_t k = 0; taken && k < 10; k++) {
				size_t best = SIZE_MAX;
				for (size_t t = 0; t < r->n_inputs; t++)
					if (!taken[t] && mt_killmatrix_original_correct(km, t) &&
					    (best == SIZE_MAX || r->lcr[t] > r->lcr[best]))
						best = t;
				if (best == SIZE_MAX || r->lcr[best] <= 0)
					break;
				taken[best] = 1;
				printf(" t%zu (%.3f)", best, r->lcr[best]);
				shown++;
			}
			free(taken);
		}
		printf("%s\n", shown ? "" : " none");
		if (o->csv)
			printf("wrote %s\n", o->csv);
	}
cleanup:
	mt_lcr_result_free(r);
	free(json);
	return error;
}

static int survivors(const mt_killmatrix *km, const analyse_opts *o)
{
	mt_survivors_result *r = NULL;
	char *json = NULL;
	int error;

	if ((error = mt_analysis_survivors(&r, km)) < 0)
		return error;
	if (o->json) {
		if ((error = mt_analysis_json_string(&json, NULL, NULL, NULL, r, km, 0)) < 0)
			goto cleanup;
		printf("%s\n", json);
		goto cleanup;
	}
	printf("%zu surviving mutants of M'\n%-28s %-6s %-12s %11s  %s\n", r->n, "mutant", "op", "target",
	       "near-misses", "classes needed (no near-miss of that class)");
	for (size_t i = 0; i < r->n; i++) {
		const mt_survivor *sv = &r->survivors[i];
		const mt_mutant_record *rec = mt_killmatrix_mutant(km, sv->mutant);
		int any = 0;
		printf("%-28s %-6s %-12s %11zu  ", rec->id, rec->operator_name, rec->layer,
		       sv->n_near_misses);
		for (int c = 0; c < r->num_classes; c++)
			if (!sv->reached[c]) {
				printf("%s%d", any ? "," : "", c);
				any = 1;
			}
		printf("%s\n", any ? "" : "none");
	}
cleanup:
	mt_survivors_result_free(r);
	free(json);
	return error;
}

static int all(const mt_killmatrix *km, const analyse_opts *o)
{
	mt_minimise_result *min = NULL;
	mt_prioritise_result *prio = NULL;
	mt_lcr_result *l = NULL;
	mt_survivors_result *s = NULL;
	char *json = NULL;
	int error;

	if ((error = mt_analysis_minimise(&min, km)) < 0 ||
	    (error = mt_analysis_prioritise(&prio, km, o->orders, o->seed)) < 0 ||
	    (error = mt_analysis_lcr(&l, km)) < 0 || (error = mt_analysis_survivors(&s, km)) < 0 ||
	    (error = mt_analysis_json_string(&json, min, prio, l, s, km, o->per_input)) < 0)
		goto cleanup;
	printf("%s\n", json);
cleanup:
	mt_minimise_result_free(min);
	mt_prioritise_result_free(prio);
	mt_lcr_result_free(l);
	mt_survivors_result_free(s);
	free(json);
	return error;
}

int cmd_analyse(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"csv", required_argument, NULL, 'C'},
		{"seed", required_argument, NULL, 'S'},
		{"orders", required_argument, NULL, 'N'},
		{"filter", required_argument, NULL, 'F'},
		{"json", no_argument, NULL, 'J'},
		{"per-input", no_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	analyse_opts o = {NULL, NULL, 1, MT_ANALYSIS_RANDOM_ORDERS, 0, 0};
	const char *dir, *what;
	mt_killmatrix *km = NULL;
	char *path = NULL, *end;
	double filter = -1;
	unsigned long long v;
	int c, error = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.output = optarg; break;
		case 'C': o.csv = optarg; break;
		case 'J': o.json = 1; break;
		case 'P': o.per_input = 1; break;
		case 'F':
			filter = strtod(optarg, &end);
			if (*end || end == optarg || !(filter >= 0 && filter <= 1))
				return cli_usage_error("analyse", "--filter must be a number in [0, 1], got '%s'", optarg);
			break;
		case 'S':
		case 'N':
			v = strtoull(optarg, &end, 10);
			if (*end || end == optarg || optarg[0] == '-' || (c == 'N' && (v < 1 || v > 100000)))
				return cli_usage_error("analyse", "%s must be %s, got '%s'",
						       c == 'N' ? "--orders" : "--seed",
						       c == 'N' ? "an integer in [1, 100000]" :
						       "a non-negative integer", optarg);
			if (c == 'N')
				o.orders = (size_t)v;
			else
				o.seed = v;
			break;
		case 'h': fputs(analyse_usage, stdout); return MT_EXIT_OK;
		default: return cli_usage_error("analyse", "unknown option");
		}
	}
	if (argc - optind < 2)
		return cli_usage_error("analyse", argc - optind < 1 ? "missing RUN_DIR" :
				       "missing the analysis: minimise, prioritise, lcr, survivors or all");
	dir = argv[optind];
	what = argv[optind + 1];
	if (argc - optind > 2)
		return cli_usage_error("analyse", "unexpected argument '%s'", argv[optind + 2]);
	if (strcmp(what, "minimise") && strcmp(what, "minimize") && strcmp(what, "prioritise") &&
	    strcmp(what, "prioritize") && strcmp(what, "lcr") && strcmp(what, "survivors") &&
	    strcmp(what, "all"))
		return cli_usage_error("analyse", "unknown analysis '%s': expected minimise, prioritise, "
				       "lcr, survivors or all", what);
	if (!strcmp(what, "all") && !o.json)
		return cli_usage_error("analyse", "'all' prints JSON: add --json");
	if (!(path = mt_io_path_join(dir, "killmatrix.mtkm"))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if (access(path, F_OK) != 0) {
		error = mt_error_set(MT_ENOTFOUND, "%s: no kill matrix (killmatrix.mtkm): not the run "
				     "directory of a finished model-level `mutorch run`", dir);
		goto cleanup;
	}
	if ((error = mt_killmatrix_load(&km, path)) < 0)
		goto cleanup;
	if (filter >= 0 && (error = mt_killmatrix_set_accuracy_filter(km, filter)) < 0)
		goto cleanup;
	if (what[0] == 'm')
		error = minimise(km, dir, &o);
	else if (what[0] == 'p')
		error = prioritise(km, dir, &o);
	else if (what[0] == 'l')
		error = lcr(km, &o);
	else if (what[0] == 's')
		error = survivors(km, &o);
	else
		error = all(km, &o);
cleanup:
	rc = error < 0 ? cli_fail("analyse", error) : MT_EXIT_OK;
	free(path);
	mt_killmatrix_free(km);
	return rc;
}
