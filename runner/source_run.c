/* The source-level run (see sourcerun.h): plan, train what the cache
 * lacks in worker processes (all runs at once, or stage by stage with the
 * sequential design), decide statistically, and hand the results to the
 * report writers (source_results.h). */
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/runner.h"
#include "mutorch/shard.h"
#include "mutorch/source_plan.h"
#include "mutorch/sourcerun.h"
#include "source_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The plan of this run directory: the config's, saved on the first run;
 * a directory holding another plan's results is refused. */
static int check_plan(const mt_plan *plan, const char *dir, const char *plan_path)
{
	mt_plan *old = NULL;
	int error;

	if (access(plan_path, F_OK) != 0)
		return mt_plan_save(plan, plan_path);
	if ((error = mt_plan_load(&old, plan_path)) < 0)
		return error;
	if (strcmp(mt_plan_digest(old), mt_plan_digest(plan)) != 0)
		error = mt_error_set(MT_EINVALID, "%s holds the source-level results of a different plan (the config's mutation section changed); run with --force to start over (trained runs stay cached), or choose another run directory", dir);
	mt_plan_free(old);
	return error;
}

/* Every run of every slot (the fixed design), then the runs trained: all
 * of them, or those before a failure. */
static int train_fixed(mt_src_state *ss, int *need)
{
	mt_src_slots *st = ss->st;
	int error;

	for (size_t s = 0; s < st->nslots; s++)
		need[s] = mt_src_slot_owned(ss, s) ? st->max_runs : 0;
	if ((error = mt_src_train_missing(ss, need)) < 0)
		return error;
	for (size_t s = 0; s < st->nslots; s++)
		for (int r = 0; r < st->max_runs && !isnan(st->acc[s * (size_t)st->max_runs + (size_t)r]); r++)
			st->runs_used[s] = r + 1;
	return 0;
}

/* Stage by stage: after each look of the design, the mutants whose
 * verdict is settled get no more runs. */
static int train_sequential(mt_src_state *ss, int *need)
{
	mt_src_slots *st = ss->st;
	mt_stats_sequential *design = NULL;
	size_t nslots = st->nslots;
	int error;

	if ((error = mt_src_sequential_design(&design, ss->cfg, st->max_runs)) < 0)
		return error;
	for (size_t k = 0; k < mt_stats_sequential_looks(design); k++) {
		int n_k = (int)mt_stats_sequential_look_n(design, k), any = 0;
		need[0] = n_k;
		for (size_t s = 1; s < nslots; s++) {
			if (!mt_src_slot_owned(ss, s)) {
				need[s] = 0;
				continue;
			}
			need[s] = st->decided[s] || st->failed[s] ? st->runs_used[s] : n_k;
			any |= !st->decided[s] && !st->failed[s];
		}
		if (!any)
			break;
		if ((error = mt_src_train_missing(ss, need)) < 0)
			goto cleanup;
		if (st->failed[0]) {
			error = mt_src_original_failed(ss->cfg, st->reason[0]);
			goto cleanup;
		}
		for (size_t s = 1; s < nslots; s++) {
			mt_stats_sequential_result sr;
			if (st->decided[s] || st->failed[s] || !mt_src_slot_owned(ss, s))
				continue;
			if ((error = mt_stats_sequential_decide(&sr, design, st->acc,
								&st->acc[s * (size_t)st->max_runs], (size_t)n_k)) < 0)
				goto cleanup;
			st->runs_used[s] = n_k;
			st->test[s] = sr.test;
			st->p_adjusted[s] = sr.test.p_worse;
			if (sr.verdict != MT_STATS_CONTINUE) {
				st->decided[s] = 1;
				st->killed[s] = sr.verdict == MT_STATS_KILLED;
			}
		}
	}
	st->runs_used[0] = 0;
	for (size_t s = 1; s < nslots; s++)
		if (st->runs_used[s] > st->runs_used[0])
			st->runs_used[0] = st->runs_used[s];
cleanup:
	mt_stats_sequential_free(design);
	return error;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* One mutant's runs, kill probabilities and (fixed design) test; the
 * verdict itself comes after the correction across mutants. */
static int assess_mutant(mt_source_mutant_result *m, uint8_t **kills, const mt_src_state *ss,
			 size_t s, const int64_t *orig_pred, int64_t *mut_pred, const int64_t *labels,
			 int64_t n_test)
{
	const mt_config *cfg = ss->cfg;
	const mt_src_slots *st = ss->st;
	const mt_mutant_desc *d = mt_plan_at(ss->plan, s - 1);
	const double *acc = &st->acc[s * (size_t)st->max_runs];
	int n = st->runs_used[s], error = 0;

	if (!(m->id = dup_or_empty(d->id)) || !(m->op = dup_or_empty(d->op)) ||
	    !(m->target = dup_or_empty(d->target)) || !(m->params = dup_or_empty(d->params)) ||
	    !(m->accuracy = malloc(sizeof(double) * (size_t)(n ? n : 1))) ||
	    !(m->keys = malloc(MT_HASH_HEX * (size_t)(n ? n : 1))))
		return mt_error_oom();
	m->runs = n;
	memcpy(m->accuracy, acc, sizeof(double) * (size_t)n);
	memcpy(m->keys, st->keys[s * (size_t)st->max_runs], MT_HASH_HEX * (size_t)n);
	m->original_mean = mt_stats_mean_sd(&m->original_sd, st->acc, (size_t)(n));
	m->mutant_mean = mt_stats_mean_sd(&m->mutant_sd, acc, (size_t)(n));
	m->mean_kill_probability = m->p_value = m->p_adjusted = m->effect_size = NAN;
	m->redundant = -1;
	if (st->failed[s]) {
		m->status = st->failed[s] == 2 ? MT_MUTANT_TIMEOUT : MT_MUTANT_RUNTIME_ERROR;
		return (m->reason = dup_or_empty(st->reason[s])) ? 0 : mt_error_oom();
	}
	for (int r = 0; r < n && error == 0; r++)
		error = mt_src_cache_predictions(mut_pred + (size_t)r * (size_t)n_test, ss->run_dir,
						 st->keys[s * (size_t)st->max_runs + (size_t)r], n_test);
	if (error < 0)
		return error;
	if (!(*kills = malloc((size_t)n * (size_t)n_test + 1)) ||
	    !(m->kill_probability = malloc(sizeof(double) * (size_t)(n_test ? n_test : 1))))
		return mt_error_oom();
	mt_stats_kills(*kills, orig_pred, mut_pred, labels, (size_t)n, (size_t)n_test);
	m->mean_kill_probability = mt_stats_kill_probabilities(m->kill_probability, *kills, (size_t)n,
								(size_t)n_test);
	m->trivial = mt_stats_is_trivial(m->mean_kill_probability);
	if (cfg->src_sequential)
		return 0;
	if (cfg->src_rule == MT_SRC_RULE_FISHER) {
		mt_stats_fisher_verdict fv;
		if ((error = mt_stats_fisher_inputs(&fv, NULL, orig_pred, mut_pred, labels, (size_t)n,
						    (size_t)n_test, cfg->src_alpha, MT_STATS_HOLM)) < 0)
			return error;
		st->fisher_p[s] = fv.min_adjusted_p;
		mt_stats_welch_test(&st->test[s], st->acc, (size_t)n, acc, (size_t)n);
		return 0;
	}
	return mt_stats_decide(&st->test[s], mt_src_stats_rule(cfg->src_rule), st->acc, acc, (size_t)n,
			       cfg->src_alpha, cfg->src_effect);
}

/* The fixed design's verdicts: p-values corrected across the mutants. */
static int decide_fixed_design(const mt_src_state *ss)
{
	const mt_config *cfg = ss->cfg;
	mt_src_slots *st = ss->st;
	double *pvals = malloc(sizeof(double) * st->nslots);
	size_t m = 0;
	int error = 0;

	if (!pvals)
		return mt_error_oom();
	for (size_t s = 1; s < st->nslots; s++)
		if (!st->failed[s])
			pvals[m++] = cfg->src_rule == MT_SRC_RULE_FISHER ? st->fisher_p[s] : st->test[s].p_value;
	if (m && (error = mt_stats_adjust(pvals, pvals, m,
					  cfg->src_correction == 1 ? MT_STATS_HOLM :
					  cfg->src_correction == 2 ? MT_STATS_BH : MT_STATS_NONE)) < 0)
		goto cleanup;
	m = 0;
	for (size_t s = 1; s < st->nslots; s++) {
		if (st->failed[s])
			continue;
		st->p_adjusted[s] = pvals[m++];
		st->killed[s] = st->p_adjusted[s] < cfg->src_alpha &&
			(cfg->src_rule == MT_SRC_RULE_FISHER || st->test[s].effect_size >= cfg->src_effect);
	}
cleanup:
	free(pvals);
	return error;
}

/* Redundancy by subsumption, among the killed mutants (a mutant the test
 * set does not kill subsumes nothing), over the runs they all have. */
static int assess_redundancy(mt_source_results *res, uint8_t *const *kills, const mt_src_state *ss,
			     int64_t n_test)
{
	const mt_src_slots *st = ss->st;
	size_t nslots = st->nslots, nk = 0;
	uint8_t *redundant = calloc(nslots, 1);
	const uint8_t **kl = calloc(nslots, sizeof(*kl));
	size_t *idx = calloc(nslots, sizeof(size_t));
	int n_common = st->max_runs, error = 0;

	if (!redundant || !kl || !idx) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (size_t s = 1; s < nslots; s++)
		if (kills[s])
			res->mutants[s - 1].redundant = 0;
	for (size_t s = 1; s < nslots; s++)
		if (kills[s] && st->killed[s] && st->runs_used[s] < n_common)
			n_common = st->runs_used[s];
	for (size_t s = 1; s < nslots; s++)
		if (kills[s] && st->killed[s]) {
			kl[nk] = kills[s]; /* the first n_common runs are a prefix */
			idx[nk++] = s;
		}
	if (nk > 0 && (error = mt_stats_redundant(redundant, NULL, kl, nk, (size_t)n_common,
						  (size_t)n_test, ss->cfg->src_alpha)) < 0)
		goto cleanup;
	for (size_t k = 0; k < nk; k++)
		res->mutants[idx[k] - 1].redundant = redundant[k];
cleanup:
	free(redundant);
	free(kl);
	free(idx);
	return error;
}

/* The results of a finished schedule: every mutant assessed, the verdicts,
 * redundancy, the counts. */
static int collect(mt_source_results *res, const mt_src_state *ss, const mt_dataset *test)
{
	const mt_config *cfg = ss->cfg;
	mt_src_slots *st = ss->st;
	size_t nslots = st->nslots;
	int64_t n_test = mt_dataset_count(test);
	const int64_t *labels = mt_dataset_labels(test);
	int64_t *orig_pred = malloc(sizeof(int64_t) * (size_t)(n_test ? n_test : 1) * (size_t)st->max_runs);
	int64_t *mut_pred = malloc(sizeof(int64_t) * (size_t)(n_test ? n_test : 1) * (size_t)st->max_runs);
	uint8_t **kills = calloc(nslots, sizeof(uint8_t *));
	int error = 0;

	if (!orig_pred || !mut_pred || !kills) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (int r = 0; r < st->runs_used[0] && error == 0; r++)
		error = mt_src_cache_predictions(orig_pred + (size_t)r * (size_t)n_test, ss->run_dir,
						 st->keys[r], n_test);
	for (size_t s = 1; s < nslots && error == 0; s++)
		error = assess_mutant(&res->mutants[s - 1], &kills[s], ss, s, orig_pred, mut_pred, labels,
				      n_test);
	if (error < 0 || (!cfg->src_sequential && (error = decide_fixed_design(ss)) < 0) ||
	    (error = assess_redundancy(res, kills, ss, n_test)) < 0)
		goto cleanup;
	res->trainings_used = (size_t)st->runs_used[0];
	for (size_t s = 1; s < nslots; s++) {
		mt_source_mutant_result *m = &res->mutants[s - 1];
		res->trainings_used += (size_t)st->runs_used[s];
		if (st->failed[s]) {
			res->errors++;
			continue;
		}
		m->status = st->killed[s] ? MT_MUTANT_KILLED : MT_MUTANT_SURVIVED;
		m->p_value = cfg->src_sequential ? st->test[s].p_worse
			   : cfg->src_rule == MT_SRC_RULE_FISHER ? st->fisher_p[s] : st->test[s].p_value;
		m->p_adjusted = st->p_adjusted[s];
		m->effect_size = st->test[s].effect_size;
		res->killed += st->killed[s] != 0;
		res->survived += st->killed[s] == 0;
	}
cleanup:
	if (kills)
		for (size_t s = 0; s < nslots; s++)
			free(kills[s]);
	free(kills);
	free(orig_pred);
	free(mut_pred);
	return error;
}

/* The settings and provenance the reports state. */
static int describe(mt_source_results *res, const mt_config *cfg, const mt_src_state *ss)
{
	const mt_src_slots *st = ss->st;
	static const char *const corrections[] = {"none", "holm", "bh"};
	int n = st->runs_used[0];

	snprintf(res->rule, sizeof(res->rule), "%s", mt_src_rule_name(cfg->src_rule));
	snprintf(res->correction, sizeof(res->correction), "%s",
		 corrections[cfg->src_correction >= 0 && cfg->src_correction < 3 ? cfg->src_correction : 0]);
	res->sequential = cfg->src_sequential;
	res->alpha = cfg->src_alpha;
	res->effect = cfg->src_effect;
	res->max_runs = st->max_runs;
	if (cfg->src_sequential || cfg->src_rule != MT_SRC_RULE_FISHER)
		res->power_at_effect_size = mt_stats_t_power((double)st->max_runs, cfg->src_effect,
							     cfg->src_alpha);
	res->seed = cfg->seed;
	res->threads = cfg->threads;
	snprintf(res->torch_version, sizeof(res->torch_version), "%s", mt_shim_torch_version());
	snprintf(res->mutorch_version, sizeof(res->mutorch_version), "%s", MUTORCH_VERSION);
	res->trainings_fixed_design = st->nslots * (size_t)st->max_runs;
	res->trainings_this_invocation = ss->trained_now;
	res->reevaluations_this_invocation = ss->reevaluated_now;
	res->original_runs = n;
	if (!(res->config_path = strdup(cfg->path)) ||
	    !(res->original_accuracy = malloc(sizeof(double) * (size_t)(n ? n : 1))) ||
	    !(res->original_keys = malloc(MT_HASH_HEX * (size_t)(n ? n : 1))))
		return mt_error_oom();
	memcpy(res->original_accuracy, st->acc, sizeof(double) * (size_t)n);
	memcpy(res->original_keys, st->keys, MT_HASH_HEX * (size_t)n);
	return 0;
}

/* The expected cost of a mutant's trainings, relative to one of the
 * original's: more runs, more epochs and more samples cost more (the
 * shards' deal). */
static double expected_cost(const mt_config *cfg, const mt_dataset *train, const mt_source_mutant *mu,
			    int runs)
{
	double c = (double)runs;
	int64_t n = mt_dataset_count(train);
	if (!mu || mu->not_applicable || !mu->config)
		return 0.1;
	if (cfg->epochs > 0 && mu->config->epochs > 0)
		c *= (double)mu->config->epochs / (double)cfg->epochs;
	if (mu->n_map > 0 && n > 0)
		c *= (double)mu->n_map / (double)n;
	return c;
}

/* `mutorch merge`: a mutant whose training failed in its shard is
 * recorded so in the merged log; it stays failed with that reason. */
static void seed_failures(mt_src_slots *st, json_t *records)
{
	size_t i;
	json_t *rec;
	json_array_foreach(records, i, rec) {
		const char *status = json_string_value(json_object_get(rec, "status"));
		json_int_t slot = json_integer_value(json_object_get(rec, "slot"));
		const char *reason = json_string_value(json_object_get(rec, "reason"));
		if (!status || !strcmp(status, "Trained") || slot < 0 || (size_t)slot >= st->nslots ||
		    st->failed[slot])
			continue;
		st->failed[slot] = !strcmp(status, "Timeout") ? 2 : 1;
		st->reason[slot] = strdup(reason ? reason : "failed");
	}
}

/* Train and decide the planned mutants, then fill *out and write the
 * reports into dir. */
static int run_plan(mt_source_results **out, const mt_config *cfg, const mt_run_options *o,
		    const char *dir, const mt_plan *plan, const mt_dataset *train,
		    const mt_dataset *test, const char *digest)
{
	size_t nmut = mt_plan_count(plan), nslots = nmut + 1;
	int max_runs = cfg->src_sequential ? cfg->src_max_runs : cfg->src_runs, *need = NULL, error;
	char *log_path = mt_io_path_join(dir, "source-results.jsonl"), *report_path = NULL;
	mt_source_mutant *mu = NULL;
	mt_src_slots *st = NULL;
	mt_src_state ss;
	json_t *records = NULL;
	mt_source_results *res = NULL;
	double *cost = NULL;
	int *owner = NULL;

	memset(&ss, 0, sizeof(ss));
	if (max_runs >= MT_SOURCE_RUN_STRIDE) {
		error = mt_error_set(MT_EINVALID, "%s: at most %d runs per mutant", cfg->path, MT_SOURCE_RUN_STRIDE - 1);
		goto cleanup;
	}
	if (!log_path || !(report_path = mt_io_path_join(dir, "source-report.json")) ||
	    !(need = calloc(nslots, sizeof(int)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_src_slots_new(&st, nslots, max_runs)) < 0)
		goto cleanup;
	if (!(cost = malloc(sizeof(double) * nslots))) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (size_t s = 0; s < nslots; s++) {
		if (s > 0 && (error = mt_source_plan_mutant(&mu, cfg, train, mt_plan_at(plan, s - 1))) < 0)
			goto cleanup;
		if (s > 0)
			cost[s - 1] = expected_cost(cfg, train, mu, max_runs);
		for (int r = 0; r < max_runs && error == 0; r++)
			error = mt_src_run_key(st->keys[s * (size_t)max_runs + (size_t)r], cfg, mu, digest, r);
		mt_source_mutant_free(mu);
		mu = NULL;
		if (error < 0)
			goto cleanup;
	}
	if ((error = mt_src_state_open(&ss, &records, log_path, cfg, o, st)) < 0)
		goto cleanup;
	ss.run_dir = dir;
	ss.plan = plan;
	if (o->shard_count > 0) {
		if (!(owner = malloc(sizeof(int) * (nmut ? nmut : 1)))) {
			error = mt_error_oom();
			goto cleanup;
		}
		if ((error = mt_shard_assign(owner, cost, nmut, o->shard_count)) < 0 ||
		    (error = mt_shard_record(dir, "source-shard.json", "source", o->shard_index, o->shard_count,
					     plan, owner, cost)) < 0)
			goto cleanup;
		ss.owner = owner;
	}
	if (o->merge_only)
		seed_failures(st, records);
	if (o->largest_first) {
		for (size_t k = 0; k < nmut; k++)
			cost[k] /= max_runs; /* per run */
		ss.run_cost = cost;
	}
	if (o->progress)
		fprintf(o->progress, "%zu source-level mutants planned; %s, %d runs%s each, rule %s; results in %s\n",
			nmut, cfg->src_sequential ? "sequential design" : "fixed design", max_runs,
			cfg->src_sequential ? " at most" : "", mt_src_rule_name(cfg->src_rule), dir);
	if ((error = cfg->src_sequential ? train_sequential(&ss, need) : train_fixed(&ss, need)) < 0)
		goto cleanup;
	if (st->failed[0]) {
		error = mt_src_original_failed(cfg, st->reason[0]);
		goto cleanup;
	}
	if (owner) {
		/* The verdicts need every shard's runs: `mutorch merge`. */
		if (o->progress)
			fprintf(o->progress, "shard %d/%d: its trainings are done; merge the shards with `mutorch merge OUT DIR...`\n",
				o->shard_index, o->shard_count);
		goto cleanup;
	}
	if ((error = mt_source_results_new(&res, nmut, (size_t)mt_dataset_count(test))) < 0 ||
	    (error = collect(res, &ss, test)) < 0 || (error = describe(res, cfg, &ss)) < 0 ||
	    (error = mt_source_results_write_json(res, report_path)) < 0 ||
	    (error = mt_source_results_write_files(res, dir)) < 0)
		goto cleanup;
	*out = res;
	res = NULL;
cleanup:
	mt_source_results_free(res);
	json_decref(records);
	mt_resultlog_free(ss.log);
	mt_src_slots_free(st);
	free(need);
	free(cost);
	free(owner);
	free(log_path);
	free(report_path);
	return error;
}

int mt_source_run(mt_source_results **out, const mt_config *cfg, const mt_run_options *o)
{
	const char *dir = o->run_dir ? o->run_dir : cfg->run_dir;
	mt_dataset *train = NULL, *test = NULL;
	mt_plan *plan = NULL;
	char *plan_path = mt_io_path_join(dir, "source-plan.json");
	char *log_path = mt_io_path_join(dir, "source-results.jsonl"), digest[MT_SRC_DIGEST_LEN];
	int error;

	*out = NULL;
	if (!plan_path || !log_path) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_src_prepare_dir(dir, o->cache_dir)) < 0)
		goto cleanup;
	if (o->force) {
		char *shard_path = mt_io_path_join(dir, "source-shard.json");
		unlink(plan_path);
		unlink(log_path);
		if (shard_path)
			unlink(shard_path);
		free(shard_path);
	}
	if ((error = mt_runner_load_dataset(&train, cfg, MT_SPLIT_TRAIN)) < 0 ||
	    (error = mt_runner_load_dataset(&test, cfg, MT_SPLIT_TEST)) < 0 ||
	    (error = mt_source_plan(&plan, cfg, train)) < 0 ||
	    (error = check_plan(plan, dir, plan_path)) < 0 ||
	    (error = mt_src_data_digest(digest, cfg)) < 0 ||
	    (error = mt_src_setup_write(dir, digest)) < 0)
		goto cleanup;
	if (mt_plan_count(plan) == 0)
		/* Nothing to compare with: don't train the original for nothing. */
		error = mt_source_results_new(out, 0, (size_t)mt_dataset_count(test));
	else
		error = run_plan(out, cfg, o, dir, plan, train, test, digest);
cleanup:
	mt_plan_free(plan);
	mt_dataset_free(train);
	mt_dataset_free(test);
	free(plan_path);
	free(log_path);
	return error;
}
