/* Shared by the source-level runner's files; not a public header.
 *
 *   source_cache.c     content keys and the training cache
 *   source_worker.c    the worker: train (or reuse) and evaluate one run
 *   source_schedule.c  the slot table, the pool, stage by stage training
 *   source_run.c       mt_source_run: plan, train, decide, report
 *   source_calibrate.c mt_source_false_kill and mt_source_search
 */
#ifndef MUTORCH_RUNNER_SOURCE_INTERNAL_H
#define MUTORCH_RUNNER_SOURCE_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "mutorch/config.h"
#include "mutorch/hash.h"
#include "mutorch/plan.h"
#include "mutorch/resultlog.h"
#include "mutorch/run.h"
#include "mutorch/shim.h"
#include "mutorch/source.h"
#include "mutorch/stats.h"
#include "mutorch/stats_inputs.h"
#include "mutorch/stats_search.h"
#include "mutorch/stats_sequential.h"

/* ---- the cache (source_cache.c) ------------------------------------------ */

/* "TRAIN:TEST:MODEL": the digests of the training files, the test files and
 * the TorchScript model file ("none" for an architecture); for an external
 * training program MODEL is the digest of its program files (and the
 * command is checked: it must exist). */
#define MT_SRC_DIGEST_LEN (3 * MT_HASH_HEX)
int mt_src_data_digest(char out[MT_SRC_DIGEST_LEN], const mt_config *cfg);
/* source-setup.json: the digest the workers' keys use. */
int mt_src_setup_write(const char *dir, const char *digest);
int mt_src_setup_read(char out[MT_SRC_DIGEST_LEN], const char *dir);
/* dir/cache exists; with cache_dir (may be NULL) it is a link to that
 * directory (made absolute), the training cache shared by shards. */
int mt_src_prepare_dir(const char *dir, const char *cache_dir);
/* dir/name with its own cache, plan and setup (calibration, search);
 * *out is the malloc'd path. */
int mt_src_subdir(char **out, const char *dir, const char *name, const mt_plan *plan,
		  const char *digest);
/* The recipe of run `run`: a copy of base with the run's seed
 * mt_rng_derive(orig->seed, run). */
int mt_src_run_config(mt_config **out, const mt_config *base, const mt_config *orig, int run);
/* The keys of run `run` of the original (mu NULL) or a mutant: train_key
 * (may be NULL) names the trained model, eval_key its test predictions. */
int mt_src_run_keys(char train_key[MT_HASH_HEX], char eval_key[MT_HASH_HEX], const mt_config *cfg,
		    const mt_source_mutant *mu, const char *digest, int run);
int mt_src_run_key(char out[MT_HASH_HEX], const mt_config *cfg, const mt_source_mutant *mu,
		   const char *digest, int run);
int mt_src_cache_save_model(const char *run_dir, const char *key, const mt_module *model,
			    json_t *summary);
int mt_src_cache_save_eval(const char *run_dir, const char *key, const int64_t *pred, int64_t n,
			   json_t *summary);
/* A model file written elsewhere (an external program's) moved into the
 * cache as cache/TRAIN_KEY.pt, then its summary. */
int mt_src_cache_adopt_model(const char *run_dir, const char *key, const char *path,
			     json_t *summary);
/* An exclusive lock on path, held until mt_src_unlock, which removes the
 * file: created with O_EXCL and holding "PID HOST", so that it works on a
 * directory shared over NFS by several machines. Workers that could train
 * the same key (shards sharing a cache, a run resumed while an orphaned
 * worker finishes) take it, so no training is done twice; a waiter polls.
 * A lock whose holder is gone (same host: the pid no longer runs; another
 * host: the file is older than MUTORCH_LOCK_STALE seconds, default 86400)
 * is stale and taken over. *fd is -1 when not locked. */
int mt_src_lock(int *fd, const char *path);
void mt_src_unlock(int fd, const char *path);
/* 1 with the model and its training summary when cached, else 0. */
int mt_src_cache_load_model(mt_module **model, json_t **summary, const char *run_dir, const char *key);
/* 1 with the accuracy when the evaluation is cached, else 0. */
int mt_src_cache_accuracy(double *acc, const char *run_dir, const char *key);
int mt_src_cache_predictions(int64_t *pred, const char *run_dir, const char *key, int64_t n);

/* ---- scheduling (source_schedule.c) -------------------------------------- */

/* Slot 0 is the original, slot k the plan's mutant k - 1; each has up to
 * max_runs runs and, once decided, its statistics. */
typedef struct {
	char (*keys)[MT_HASH_HEX]; /* max_runs per slot */
	double *acc;             /* max_runs per slot; NaN: not trained */
	int *failed;             /* 0, 1 RuntimeError, 2 Timeout */
	char **reason;
	int *decided;            /* sequential: 1 once the verdict is final */
	int *runs_used;
	mt_stats_test *test;
	int *killed;
	double *p_adjusted;
	double *fisher_p;
	size_t nslots;
	int max_runs;
} mt_src_slots;

int mt_src_slots_new(mt_src_slots **out, size_t nslots, int max_runs);
void mt_src_slots_free(mt_src_slots *st);

/* What a run, a false-kill measurement and a search share: the training
 * log, the slots, the counts for progress and the report. */
typedef struct {
	const mt_config *cfg;
	const char *run_dir;
	mt_resultlog *log;
	mt_src_slots *st;
	const mt_plan *plan;
	size_t total, done, trained_now, reevaluated_now;
	double start, last_draw;
	const mt_run_options *o;
	/* --shard: owner[k] is the shard (0-based) of the plan's mutant k;
	 * NULL: every mutant is this run's. The original is every shard's. */
	const int *owner;
	/* largest_first: the expected cost of a run of mutant k (the
	 * original's: 1); NULL: slot order. */
	const double *run_cost;
} mt_src_state;

/* Is slot s (0: the original) this run's to train? */
int mt_src_slot_owned(const mt_src_state *ss, size_t s);

/* Open the training log (records: what it holds already); run_dir and
 * plan are set by the caller. */
int mt_src_state_open(mt_src_state *ss, json_t **records, const char *log_path,
		      const mt_config *cfg, const mt_run_options *o, mt_src_slots *st);
/* Train (in workers) whatever of runs [0, need[slot]) is neither in the
 * slot table nor in the cache; a slot whose training failed gets no more
 * runs. */
int mt_src_train_missing(mt_src_state *ss, const int *need);

/* The error when the original's training failed (nothing can be judged
 * then): the user's own program failing is bad input (MT_EINVALID), the
 * built-in trainer failing an internal error. */
int mt_src_original_failed(const mt_config *cfg, const char *reason);

/* "deepcrime", "welch", "mannwhitney", "fisher" (mutation.source.rule). */
const char *mt_src_rule_name(int rule);
/* The fixed-design test of a rule other than Fisher's. */
mt_stats_rule mt_src_stats_rule(int rule);
/* The group-sequential design of mutation.source with at most n_max runs. */
int mt_src_sequential_design(mt_stats_sequential **out, const mt_config *cfg, int n_max);
/* The configured fixed rule on n runs of slot_a (from run off_a) against n
 * runs of slot_b (from off_b); Fisher's rule reads the runs' predictions
 * from dir's cache. */
int mt_src_decide_fixed(int *killed, mt_stats_test *t, const mt_config *cfg, const char *dir,
			const mt_src_slots *st, size_t slot_a, int off_a, size_t slot_b, int off_b,
			int n, const int64_t *labels, int64_t n_test);

#endif
