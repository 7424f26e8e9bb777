/* Scheduling the source level's trainings: the slot table, the worker
 * pool and its callbacks, progress, and the verdict helpers that a run, a
 * false-kill measurement and a search share. */
#include "mutorch/clock.h"
#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/pool.h"
#include "mutorch/sourcerun.h"
#include "source_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mt_src_slots_free(mt_src_slots *st)
{
	if (!st)
		return;
	for (size_t s = 0; s < st->nslots; s++)
		free(st->reason[s]);
	free(st->keys);
	free(st->acc);
	free(st->failed);
	free(st->reason);
	free(st->decided);
	free(st->runs_used);
	free(st->test);
	free(st->killed);
	free(st->p_adjusted);
	free(st->fisher_p);
	free(st);
}

int mt_src_slots_new(mt_src_slots **out, size_t nslots, int max_runs)
{
	mt_src_slots *st = calloc(1, sizeof(*st));
	size_t cells = nslots * (size_t)max_runs;
	*out = NULL;
	if (!st)
		return mt_error_oom();
	st->nslots = nslots;
	st->max_runs = max_runs;
	st->keys = calloc(cells, MT_HASH_HEX);
	st->acc = malloc(sizeof(double) * cells);
	st->failed = calloc(nslots, sizeof(int));
	st->reason = calloc(nslots, sizeof(char *));
	st->decided = calloc(nslots, sizeof(int));
	st->runs_used = calloc(nslots, sizeof(int));
	st->test = calloc(nslots, sizeof(mt_stats_test));
	st->killed = calloc(nslots, sizeof(int));
	st->p_adjusted = calloc(nslots, sizeof(double));
	st->fisher_p = calloc(nslots, sizeof(double));
	if (!st->keys || !st->acc || !st->failed || !st->reason || !st->decided ||
	    !st->runs_used || !st->test || !st->killed || !st->p_adjusted || !st->fisher_p) {
		mt_src_slots_free(st);
		return mt_error_oom();
	}
	for (size_t i = 0; i < cells; i++)
		st->acc[i] = NAN;
	*out = st;
	return 0;
}

static void src_progress(mt_src_state *ss, int final)
{
	double t = mt_clock_now(), el = t - ss->start;
	double eta = ss->done ? el / (double)ss->done * (double)(ss->total - ss->done) : 0;
	if (!ss->o->progress || !ss->total)
		return;
	if (ss->o->progress_tty) {
		if (!final && t - ss->last_draw < 0.2)
			return;
		fprintf(ss->o->progress, "\rtrainings %zu/%zu  %.0fs elapsed  ETA %.0fs \033[K%s",
			ss->done, ss->total, el, eta, final ? "\n" : "");
	} else {
		size_t step = ss->total / 10 ? ss->total / 10 : 1;
		if (!final && ss->done % step)
			return;
		fprintf(ss->o->progress, "trainings %zu/%zu  %.0fs elapsed  ETA %.0fs\n",
			ss->done, ss->total, el, eta);
	}
	ss->last_draw = t;
	fflush(ss->o->progress);
}

static int src_record(mt_src_state *ss, size_t task, json_t *rec)
{
	size_t slot = task / MT_SOURCE_RUN_STRIDE;
	int run = (int)(task % MT_SOURCE_RUN_STRIDE), error;
	const char *status = json_string_value(json_object_get(rec, "status"));
	mt_src_slots *st = ss->st;

	/* A program that cannot read the spec fails every training alike:
	 * stop, the config is wrong (exit 3). */
	if (json_is_true(json_object_get(rec, "rejected_spec")))
		return mt_error_set(MT_EINVALID, "%s: %s", ss->cfg->path,
				    json_string_value(json_object_get(rec, "reason")));
	json_object_set_new(rec, "slot", json_integer((json_int_t)slot));
	json_object_set_new(rec, "run", json_integer(run));
	json_object_set_new(rec, "id", json_string(slot ? mt_plan_at(ss->plan, slot - 1)->id : "original"));
	if ((error = mt_resultlog_append(ss->log, rec)) < 0)
		return error;
	ss->done++;
	if (status && !strcmp(status, "Trained")) {
		st->acc[slot * (size_t)st->max_runs + (size_t)run] = json_number_value(json_object_get(rec, "accuracy"));
		if (json_is_true(json_object_get(rec, "reused_model")))
			ss->reevaluated_now++;
		else
			ss->trained_now++;
	} else if (!st->failed[slot]) {
		st->failed[slot] = status && !strcmp(status, "Timeout") ? 2 : 1;
		free(st->reason[slot]);
		st->reason[slot] = strdup(json_string_value(json_object_get(rec, "reason")) ?
					  json_string_value(json_object_get(rec, "reason")) : "failed");
	}
	src_progress(ss, 0);
	return 0;
}

static int src_on_result(void *ctx, size_t task, const char *payload)
{
	json_error_t jerr;
	json_t *rec = json_loads(payload, 0, &jerr);
	int error;
	if (!rec)
		return mt_error_set(MT_ERROR, "worker sent a malformed result for task %zu: %s", task, jerr.text);
	error = src_record(ctx, task, rec);
	json_decref(rec);
	return error;
}

static int src_on_failure(void *ctx, size_t task, mt_pool_failure kind, const char *reason)
{
	json_t *rec = json_pack("{s:s, s:s}", "status", kind == MT_POOL_TIMEOUT ? "Timeout" : "RuntimeError",
				"reason", reason);
	int error = src_record(ctx, task, rec);
	json_decref(rec);
	return error;
}

int mt_src_original_failed(const mt_config *cfg, const char *reason)
{
	if (cfg->command)
		return mt_error_set(MT_EINVALID, "%s: training the original with 'training.command' failed, so no mutant can be judged: %s",
				    cfg->path, reason);
	return mt_error_set(MT_ERROR, "training the original failed: %s", reason);
}

/* "deepcrime", "welch", "mannwhitney", "fisher" (mutation.source.rule). */
const char *mt_src_rule_name(int rule)
{
	static const char *const names[] = {"deepcrime", "welch", "mannwhitney", "fisher"};
	return rule >= 0 && rule < 4 ? names[rule] : "?";
}

/* Open the training log and set up the state a run, a false-kill
 * measurement and a search share; run_dir and plan are the caller's. */
mt_stats_rule mt_src_stats_rule(int rule)
{
	return rule == MT_SRC_RULE_WELCH ? MT_STATS_WELCH
	     : rule == MT_SRC_RULE_MANNWHITNEY ? MT_STATS_MANNWHITNEY : MT_STATS_DEEPCRIME;
}

int mt_src_state_open(mt_src_state *ss, json_t **records, const char *log_path,
			  const mt_config *cfg, const mt_run_options *o, mt_src_slots *st)
{
	/* The trained models and their accuracies come from the cache: the
	 * log is the record of what ran, so a damaged record is only said
	 * and dropped. Retries repeat a run, so ids may repeat. */
	mt_resultlog_schema schema = {mt_resultlog_check_source, NULL, NULL};
	mt_resultlog_contents contents;
	size_t i;
	json_t *d;
	int error = mt_resultlog_open(&ss->log, &contents, log_path, &schema);

	*records = NULL;
	if (error < 0) {
		mt_resultlog_contents_dispose(&contents);
		return error;
	}
	if (contents.format == 1)
		fprintf(stderr, "mutorch: %s is a training log of mutorch 0.1 (format 1, no checksums): "
			"its records were checked and it is rewritten in format %d\n", log_path,
			MT_RESULTLOG_FORMAT);
	json_array_foreach(contents.damage, i, d)
		fprintf(stderr, "mutorch: warning: %s:%lld: damaged record dropped (%s)\n", log_path,
			(long long)json_integer_value(json_object_get(d, "line")),
			json_string_value(json_object_get(d, "reason")));
	*records = json_incref(contents.records);
	mt_resultlog_contents_dispose(&contents);
	ss->cfg = cfg;
	ss->st = st;
	ss->o = o;
	ss->start = mt_clock_now();
	return 0;
}

int mt_src_slot_owned(const mt_src_state *ss, size_t s)
{
	return s == 0 || !ss->owner || ss->owner[s - 1] == ss->o->shard_index - 1;
}

/* `mutorch merge`: the trainings that no shard recorded, by mutant. */
static int missing_trainings(const mt_src_state *ss, const size_t *tasks, size_t ntasks)
{
	char msg[2048];
	size_t used = (size_t)snprintf(msg, sizeof(msg), "%zu training%s missing from the shards (a shard "
				       "has not finished; run it again to complete it):", ntasks,
				       ntasks == 1 ? "" : "s");
	size_t last = (size_t)-1, shown = 0;
	for (size_t i = 0; i < ntasks && used < sizeof(msg) - 80; i++) {
		size_t slot = tasks[i] / MT_SOURCE_RUN_STRIDE;
		if (slot == last)
			continue;
		last = slot;
		if (shown++ == 20) {
			used += (size_t)snprintf(msg + used, sizeof(msg) - used, " ...");
			break;
		}
		used += (size_t)snprintf(msg + used, sizeof(msg) - used, " %s",
					 slot ? mt_plan_at(ss->plan, slot - 1)->id : "original");
	}
	return mt_error_set(MT_EINVALID, "%s: %s", ss->run_dir, msg);
}

/* A mutant whose training failed once gets no more runs. */
static int src_skip(void *ctx, size_t task)
{
	mt_src_state *ss = ctx;
	return ss->st->failed[task / MT_SOURCE_RUN_STRIDE] != 0;
}

/* a[0..n) rotated left by k mod n */
static void rotate(size_t *a, size_t n, size_t k)
{
	if (n < 2 || (k %= n) == 0)
		return;
	for (size_t i = 0; i < k; i++) {
		size_t first = a[0];
		memmove(a, a + 1, sizeof(size_t) * (n - 1));
		a[n - 1] = first;
	}
}

static const mt_src_state *sort_state;

static double task_cost(size_t task)
{
	size_t slot = task / MT_SOURCE_RUN_STRIDE;
	return slot ? sort_state->run_cost[slot - 1] : 1.0;
}

/* Largest first; ties in task order (deterministic). */
static int by_run_cost(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	double cx = task_cost(x), cy = task_cost(y);
	if (cx != cy)
		return cx > cy ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Train whatever of runs [0, need[slot]) is not cached. */
int mt_src_train_missing(mt_src_state *ss, const int *need)
{
	mt_src_slots *st = ss->st;
	size_t *tasks = NULL, ntasks = 0;
	int error = 0;

	if (!(tasks = malloc(sizeof(size_t) * st->nslots * (size_t)st->max_runs + 1)))
		return mt_error_oom();
	for (size_t s = 0; s < st->nslots; s++) {
		if (st->failed[s])
			continue;
		for (int r = 0; r < need[s]; r++) {
			double *a = &st->acc[s * (size_t)st->max_runs + (size_t)r];
			if (isnan(*a) && !mt_src_cache_accuracy(a, ss->run_dir, st->keys[s * (size_t)st->max_runs + (size_t)r]))
				tasks[ntasks++] = s * MT_SOURCE_RUN_STRIDE + (size_t)r;
		}
	}
	if (ss->owner && ss->o->shard_count > 1) {
		/* Shards on a shared cache all need the original's runs: each
		 * starts at another run, so that they train them side by side
		 * instead of queueing on the same lock. */
		size_t norig = 0;
		while (norig < ntasks && tasks[norig] < MT_SOURCE_RUN_STRIDE)
			norig++;
		rotate(tasks, norig, (size_t)(ss->o->shard_index - 1));
	}
	if (ntasks > 1 && ss->run_cost) {
		sort_state = ss;
		qsort(tasks, ntasks, sizeof(size_t), by_run_cost);
	}
	if (ntasks > 0 && ss->o->merge_only) {
		error = missing_trainings(ss, tasks, ntasks);
	} else if (ntasks > 0) {
		const mt_run_options *o = ss->o;
		char *argv[] = {(char *)o->self_exe, "worker", (char *)o->config_path, "--run-dir",
				(char *)ss->run_dir, "--source", NULL};
		mt_pool_options po;
		memset(&po, 0, sizeof(po));
		po.argv = argv;
		po.jobs = o->jobs;
		/* mutation.source.timeout: an external program's worker keeps it
		 * itself (and records the program's output); the built-in
		 * trainer's is the pool's */
		po.task_timeout = o->timeout > 0 ? o->timeout : ss->cfg->command ? 0 : ss->cfg->src_timeout;
		po.startup_timeout = 600;
		po.on_result = src_on_result;
		po.on_failure = src_on_failure;
		po.skip = src_skip;
		po.ctx = ss;
		ss->total += ntasks;
		error = mt_pool_run(&po, tasks, ntasks);
		src_progress(ss, 1);
	}
	free(tasks);
	return error;
}

/* The group-sequential design of mutation.source: looks at n = 4, 6, ...
 * up to n_max, the configured alpha and effect size. */
int mt_src_sequential_design(mt_stats_sequential **out, const mt_config *cfg, int n_max)
{
	mt_stats_sequential_options so;
	mt_stats_sequential_options_init(&so);
	so.n_max = (size_t)n_max;
	so.alpha = cfg->src_alpha;
	so.effect = cfg->src_effect;
	if (so.n_first > so.n_max)
		so.n_first = so.n_max;
	return mt_stats_sequential_new(out, &so);
}

int mt_src_decide_fixed(int *killed, mt_stats_test *t, const mt_config *cfg, const char *dir,
			const mt_src_slots *st, size_t slot_a, int off_a, size_t slot_b, int off_b,
			int n, const int64_t *labels, int64_t n_test)
{
	const double *a = &st->acc[slot_a * (size_t)st->max_runs + (size_t)off_a];
	const double *b = &st->acc[slot_b * (size_t)st->max_runs + (size_t)off_b];
	int error = 0;

	if (cfg->src_rule == MT_SRC_RULE_FISHER) {
		int64_t *pa = malloc(sizeof(int64_t) * (size_t)n * (size_t)n_test);
		int64_t *pb = malloc(sizeof(int64_t) * (size_t)n * (size_t)n_test);
		mt_stats_fisher_verdict fv;
		if (!pa || !pb)
			error = mt_error_oom();
		for (int r = 0; r < n && error == 0; r++)
			if ((error = mt_src_cache_predictions(pa + (size_t)r * (size_t)n_test, dir,
						      st->keys[slot_a * (size_t)st->max_runs + (size_t)(off_a + r)], n_test)) == 0)
				error = mt_src_cache_predictions(pb + (size_t)r * (size_t)n_test, dir,
							 st->keys[slot_b * (size_t)st->max_runs + (size_t)(off_b + r)], n_test);
		if (error == 0 &&
		    (error = mt_stats_fisher_inputs(&fv, NULL, pa, pb, labels, (size_t)n, (size_t)n_test,
						    cfg->src_alpha, MT_STATS_HOLM)) == 0) {
			*killed = fv.killed;
			mt_stats_welch_test(t, a, (size_t)n, b, (size_t)n);
			t->p_value = fv.min_adjusted_p;
		}
		free(pa);
		free(pb);
		return error;
	}
	if ((error = mt_stats_decide(t, mt_src_stats_rule(cfg->src_rule), a, b, (size_t)n, cfg->src_alpha,
				     cfg->src_effect)) == 0)
		*killed = t->killed;
	return error;
}

