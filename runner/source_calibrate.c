/* Calibration of the source level's statistical killing: the measured
 * false-kill rate of the configured rule, and DeepCrime's bisection search
 * for the weakest killing value of a numeric operator parameter. Both
 * train through the same cache, pool and log as a run, in a
 * sub-directory of the run directory. */
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/runner.h"
#include "mutorch/sourcerun.h"
#include "source_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The 95% Wilson score interval of k successes in n trials; returns k/n. */
static double wilson(double *lo, double *hi, size_t k, size_t n)
{
	const double z = 1.959963984540054;
	double p = n ? (double)k / (double)n : 0, d = 1 + z * z / (double)n;
	double c = (p + z * z / (2.0 * (double)n)) / d;
	double h = z * sqrt(p * (1 - p) / (double)n + z * z / (4.0 * (double)n * (double)n)) / d;
	*lo = c - h < 0 ? 0 : c - h;
	*hi = c + h > 1 ? 1 : c + h;
	return p;
}

/* Trial j of the sequential design: the first look whose verdict is
 * final. */
static int sequential_trial(int *killed, size_t *runs, const mt_stats_sequential *design,
			    const double *a, const double *b)
{
	for (size_t k = 0; k < mt_stats_sequential_looks(design); k++) {
		mt_stats_sequential_result sr;
		size_t nk = mt_stats_sequential_look_n(design, k);
		int error = mt_stats_sequential_decide(&sr, design, a, b, nk);
		if (error < 0)
			return error;
		if (sr.verdict != MT_STATS_CONTINUE) {
			*killed = sr.verdict == MT_STATS_KILLED;
			*runs = nk;
			return 0;
		}
	}
	*killed = 0;
	*runs = 0;
	return 0;
}

int mt_source_false_kill(mt_false_kill_result *out, const mt_config *cfg, const mt_run_options *o,
			 int trials)
{
	const char *dir = o->run_dir ? o->run_dir : cfg->run_dir;
	int n = cfg->src_sequential ? cfg->src_max_runs : cfg->src_runs;
	int total = 2 * trials * n, need, error;
	mt_plan *plan = NULL;
	mt_dataset *test = NULL;
	mt_src_slots *st = NULL;
	mt_stats_sequential *design = NULL;
	char digest[MT_SRC_DIGEST_LEN], *sub = NULL, *log_path = NULL;
	json_t *records = NULL;
	mt_src_state ss;
	size_t seq_runs = 0;

	memset(out, 0, sizeof(*out));
	memset(&ss, 0, sizeof(ss));
	if (trials < 1 || total >= MT_SOURCE_RUN_STRIDE)
		return mt_error_set(MT_EUSAGE, "--trials must be in [1, %d] for %d runs per group",
				    (MT_SOURCE_RUN_STRIDE - 1) / (2 * n), n);
	if ((error = mt_plan_new(&plan)) < 0)
		return error;
	mt_plan_finish(plan);
	if ((error = mt_src_data_digest(digest, cfg)) < 0 ||
	    (error = mt_src_subdir(&sub, dir, "false-kill", plan, digest)) < 0 ||
	    (error = mt_runner_load_dataset(&test, cfg, MT_SPLIT_TEST)) < 0 ||
	    (error = mt_src_slots_new(&st, 1, total)) < 0)
		goto cleanup;
	for (int r = 0; r < total; r++)
		if ((error = mt_src_run_key(st->keys[r], cfg, NULL, digest, r)) < 0)
			goto cleanup;
	if (!(log_path = mt_io_path_join(sub, "source-results.jsonl"))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_src_state_open(&ss, &records, log_path, cfg, o, st)) < 0)
		goto cleanup;
	ss.run_dir = sub;
	ss.plan = plan;
	if (o->progress)
		fprintf(o->progress, "false-kill rate: %d trials, each the original's runs %d..%d against %d independent runs of itself (%d trainings)\n",
			trials, 0, n - 1, n, total);
	need = total;
	if ((error = mt_src_train_missing(&ss, &need)) < 0)
		goto cleanup;
	if (st->failed[0]) {
		error = mt_src_original_failed(ss.cfg, st->reason[0]);
		goto cleanup;
	}
	if (cfg->src_sequential && (error = mt_src_sequential_design(&design, cfg, n)) < 0)
		goto cleanup;
	for (int j = 0; j < trials; j++) {
		mt_stats_test t;
		int killed = 0;
		size_t runs;
		if ((error = mt_src_decide_fixed(&killed, &t, cfg, sub, st, 0, 2 * j * n, 0, 2 * j * n + n, n,
						 mt_dataset_labels(test), mt_dataset_count(test))) < 0)
			goto cleanup;
		out->false_kills += (size_t)killed;
		if (!design)
			continue;
		if ((error = sequential_trial(&killed, &runs, design, &st->acc[2 * j * n],
					      &st->acc[2 * j * n + n])) < 0)
			goto cleanup;
		out->sequential_false_kills += (size_t)killed;
		seq_runs += runs;
	}
	snprintf(out->rule, sizeof(out->rule), "%s", mt_src_rule_name(cfg->src_rule));
	out->trials = trials;
	out->runs_per_group = n;
	out->trainings = total;
	out->alpha = cfg->src_alpha;
	out->effect = cfg->src_effect;
	out->rate = wilson(&out->ci95_low, &out->ci95_high, out->false_kills, (size_t)trials);
	if (design) {
		double lo;
		out->sequential = 1;
		out->sequential_rate = wilson(&lo, &out->sequential_ci95_high, out->sequential_false_kills,
					      (size_t)trials);
		out->sequential_mean_runs = (double)seq_runs / trials;
	}
cleanup:
	json_decref(records);
	mt_resultlog_free(ss.log);
	mt_stats_sequential_free(design);
	mt_src_slots_free(st);
	mt_dataset_free(test);
	mt_plan_free(plan);
	free(log_path);
	free(sub);
	return error;
}

void mt_search_result_dispose(mt_search_result *res)
{
	if (!res)
		return;
	free(res->steps);
	memset(res, 0, sizeof(*res));
}

static void format_value(char *buf, size_t len, double v, int integer)
{
	if (integer)
		snprintf(buf, len, "%lld", (long long)llround(v));
	else
		snprintf(buf, len, "%.6g", v);
}

static int add_step(mt_search_result *res, double value, int killed, const mt_stats_test *t)
{
	mt_search_step *grown = realloc(res->steps, sizeof(*grown) * (res->nsteps + 1));
	if (!grown)
		return mt_error_oom();
	res->steps = grown;
	res->steps[res->nsteps++] = (mt_search_step){value, killed, t->p_value, t->effect_size};
	return 0;
}

/* The search state: the plan grows by one mutant per value tried. */
typedef struct {
	const mt_config *cfg;
	const mt_run_options *o;
	const mt_dataset *train, *test;
	const char *dir, *op, *param, *digest;
	char subname[256];
	mt_plan *plan;
	mt_src_slots *st;
	mt_src_state ss;
	json_t *records;
	char *sub, *log_path;
	int *need, n, integer;
	mt_search_result *res;
} search_state;

#define SEARCH_MAX_VALUES 64

/* Train value `value` n times (what the cache lacks) and decide it. */
static int try_value(int *killed, search_state *s, double value)
{
	size_t slot = mt_plan_count(s->plan) + 1;
	char vbuf[64], id[256];
	mt_config_param p = {(char *)s->param, vbuf, 0};
	mt_source_mutant *mu = NULL;
	mt_stats_test t;
	int error;

	if ((int)slot > SEARCH_MAX_VALUES)
		return mt_error_set(MT_ERROR, "the search tried %d values without settling; raise the precision",
				    SEARCH_MAX_VALUES);
	format_value(vbuf, sizeof(vbuf), value, s->integer);
	if ((error = mt_source_apply(&mu, s->cfg, s->train, s->op, &p, 1, s->cfg->mutation_seed)) < 0)
		return error;
	if (mu->not_applicable) {
		error = mt_error_set(MT_EINVALID, "%s %s=%s makes no mutant: %s", s->op, s->param, vbuf, mu->reason);
		mt_source_mutant_free(mu);
		return error;
	}
	snprintf(id, sizeof(id), "%s-%s=%s", s->op, s->param, vbuf);
	error = mt_plan_append(s->plan, id, s->op, vbuf, mu->params, mu->seed, 0);
	for (int r = 0; r < s->n && error == 0; r++)
		error = mt_src_run_key(s->st->keys[slot * (size_t)s->n + (size_t)r], s->cfg, mu, s->digest, r);
	mt_source_mutant_free(mu);
	if (error < 0)
		return error;
	mt_plan_finish(s->plan);
	free(s->sub);
	s->sub = NULL;
	if ((error = mt_src_subdir(&s->sub, s->dir, s->subname, s->plan, s->digest)) < 0)
		return error;
	if (!s->ss.log) {
		if (!(s->log_path = mt_io_path_join(s->sub, "source-results.jsonl")))
			return mt_error_oom();
		if ((error = mt_src_state_open(&s->ss, &s->records, s->log_path, s->cfg, s->o, s->st)) < 0)
			return error;
	}
	s->ss.run_dir = s->sub;
	s->ss.plan = s->plan;
	s->need[slot] = s->n;
	if ((error = mt_src_train_missing(&s->ss, s->need)) < 0)
		return error;
	if (s->st->failed[0] || s->st->failed[slot])
		return mt_error_set(MT_ERROR, "training failed: %s", s->st->reason[s->st->failed[0] ? 0 : slot]);
	if ((error = mt_src_decide_fixed(killed, &t, s->cfg, s->sub, s->st, 0, 0, slot, 0, s->n,
					 mt_dataset_labels(s->test), mt_dataset_count(s->test))) < 0 ||
	    (error = add_step(s->res, value, *killed, &t)) < 0)
		return error;
	if (s->o->progress)
		fprintf(s->o->progress, "%s %s=%s: %s (p %.3g, d %.2f)\n", s->op, s->param, vbuf,
			*killed ? "killed" : "not killed", t.p_value, t.effect_size);
	return 0;
}

int mt_source_search(mt_search_result *out, const mt_config *cfg, const mt_run_options *o,
		     const char *op, const char *param, double weak, double strong,
		     double precision, int integer)
{
	search_state s;
	mt_dataset *train = NULL, *test = NULL;
	mt_stats_bisection b;
	char digest[MT_SRC_DIGEST_LEN];
	double value;
	int error, killed;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.o = o;
	s.dir = o->run_dir ? o->run_dir : cfg->run_dir;
	s.op = op;
	s.param = param;
	s.digest = digest;
	s.n = cfg->src_runs;
	s.integer = integer;
	s.res = out;
	snprintf(s.subname, sizeof(s.subname), "search-%s-%s", op, param);
	if ((error = mt_runner_load_dataset(&train, cfg, MT_SPLIT_TRAIN)) < 0 ||
	    (error = mt_runner_load_dataset(&test, cfg, MT_SPLIT_TEST)) < 0 ||
	    (error = mt_src_data_digest(digest, cfg)) < 0 ||
	    (error = mt_plan_new(&s.plan)) < 0 ||
	    (error = mt_src_slots_new(&s.st, (size_t)SEARCH_MAX_VALUES + 1, s.n)) < 0 ||
	    (error = mt_stats_bisection_init(&b, weak < strong ? weak : strong, weak < strong ? strong : weak,
					     precision, weak < strong ? MT_STATS_STRONGER_UP : MT_STATS_STRONGER_DOWN,
					     integer)) < 0)
		goto cleanup;
	s.train = train;
	s.test = test;
	if (!(s.need = calloc((size_t)SEARCH_MAX_VALUES + 1, sizeof(int)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (int r = 0; r < s.n; r++)
		if ((error = mt_src_run_key(s.st->keys[r], cfg, NULL, digest, r)) < 0)
			goto cleanup;
	s.need[0] = s.n;
	while (mt_stats_bisection_next(&b, &value) == 0)
		if ((error = try_value(&killed, &s, value)) < 0 ||
		    (error = mt_stats_bisection_report(&b, value, killed)) < 0)
			goto cleanup;
	snprintf(out->op, sizeof(out->op), "%s", op);
	snprintf(out->param, sizeof(out->param), "%s", param);
	out->from = weak;
	out->to = strong;
	out->precision = precision;
	out->integer = integer;
	out->runs = s.n;
	out->killable = b.found;
	out->weakest = b.found ? b.weakest : NAN;
	out->weak = b.weak;
	out->strong = b.strong;
cleanup:
	if (error < 0)
		mt_search_result_dispose(out);
	json_decref(s.records);
	mt_resultlog_free(s.ss.log);
	mt_src_slots_free(s.st);
	mt_plan_free(s.plan);
	mt_dataset_free(train);
	mt_dataset_free(test);
	free(s.need);
	free(s.log_path);
	free(s.sub);
	return error;
}
