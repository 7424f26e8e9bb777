/* The source-level mutation run (see sourcerun.h): plan, train the
 * missing runs in worker processes, decide statistically, report. */
#include "mutorch/clock.h"
#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/operators.h"
#include "mutorch/shim.h"
#include "mutorch/sourcerun.h"
#include "mutorch/error.h"
#include "mutorch/hash.h"
#include "mutorch/io.h"
#include "mutorch/plan.h"
#include "mutorch/pool.h"
#include "mutorch/resultlog.h"
#include "mutorch/rng.h"
#include "mutorch/runner.h"
#include "mutorch/source.h"
#include "mutorch/stats.h"
#include "runner_internal.h"

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* ---- planning ------------------------------------------------------------ */

/* Parse a canonical parameter string "OP k=v k=v" back into a list. */
static int parse_params(mt_config_param **out, size_t *count, const char *canonical)
{
	char *copy = strdup(canonical), *tok, *save = NULL;
	size_t n = 0, cap = 8;
	mt_config_param *list = calloc(cap, sizeof(*list));
	int first = 1;

	*out = NULL;
	*count = 0;
	if (!copy || !list) {
		free(copy);
		free(list);
		return mt_error_oom();
	}
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		if (first) {
			first = 0;
			continue; /* the operator's name */
		}
		if (!eq)
			continue;
		if (n == cap) {
			mt_config_param *grown = realloc(list, 2 * cap * sizeof(*list));
			if (!grown)
				goto oom;
			list = grown;
			cap *= 2;
		}
		*eq = '\0';
		list[n].key = strdup(tok);
		list[n].value = strdup(eq + 1);
		list[n].line = 0;
		if (!list[n].key || !list[n].value)
			goto oom;
		n++;
	}
	free(copy);
	*out = list;
	*count = n;
	return 0;
oom:
	for (size_t i = 0; i <= n && i < cap; i++) {
		free(list[i].key);
		free(list[i].value);
	}
	free(list);
	free(copy);
	return mt_error_oom();
}

static void free_params(mt_config_param *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].key);
		free(list[i].value);
	}
	free(list);
}

/* The mutant of a plan entry, from its canonical parameters. */
static int apply_desc(mt_source_mutant **mu, const mt_config *cfg, const mt_dataset *train,
		      const mt_mutant_desc *d)
{
	mt_config_param *params = NULL;
	size_t n = 0;
	int error;

	*mu = NULL;
	if ((error = parse_params(&params, &n, d->params)) < 0)
		return error;
	error = mt_source_apply(mu, cfg, train, d->op, params, n, d->seed);
	free_params(params, n);
	if (error == 0 && (*mu)->not_applicable) {
		error = mt_error_set(MT_EINVALID, "source mutant %s is not applicable: %s", d->id,
				     (*mu)->reason);
		mt_source_mutant_free(*mu);
		*mu = NULL;
	}
	return error;
}

static const char *param_value(const mt_config_mutation *e, const char *key)
{
	for (size_t i = 0; i < e->nparams; i++)
		if (!strcmp(e->params[i].key, key))
			return e->params[i].value;
	return NULL;
}

int mt_source_plan(mt_plan **out, const mt_config *cfg, const mt_dataset *train)
{
	mt_plan *plan = NULL;
	int error;

	*out = NULL;
	if (cfg->nsource_level == 0)
		return mt_error_set(MT_EINVALID, "%s: no mutation.source_level operators configured", cfg->path);
	if ((error = mt_plan_new(&plan)) < 0)
		return error;
	for (size_t e = 0; e < cfg->nsource_level; e++) {
		const mt_config_mutation *entry = &cfg->source_level[e];
		mt_source_variant *vars = NULL;
		size_t nvars = 0;
		char why[MT_OP_REASON_MAX] = "";
		const char *v = param_value(entry, "mutants");
		int mutants = 1, same_op = 0;
		char label[64];

		for (size_t f = 0; f < cfg->nsource_level; f++)
			same_op += !strcmp(cfg->source_level[f].op, entry->op);
		if (same_op > 1)
			snprintf(label, sizeof(label), "%s#%zu", entry->op, e);
		else
			snprintf(label, sizeof(label), "%s", entry->op);
		if (v) {
			char *end;
			long m = strtol(v, &end, 10);
			if (*end || m < 1 || m > 1000) {
				error = mt_error_set(MT_EINVALID, "%s:%d: mutation.source_level[%zu] (%s): 'mutants' must be an integer in [1, 1000], got '%s'",
						     cfg->path, entry->line, e, entry->op, v);
				goto fail;
			}
			mutants = (int)m;
		}
		if (mutants > 1 && !mt_source_op_is_random(entry->op)) {
			error = mt_error_set(MT_EINVALID, "%s:%d: mutation.source_level[%zu] (%s): %s draws nothing at random, so 'mutants: %d' would give identical mutants",
					     cfg->path, entry->line, e, entry->op, entry->op, mutants);
			goto fail;
		}
		if ((error = mt_source_plan_targets(&vars, &nvars, cfg, train, entry->op,
						    entry->params, entry->nparams, why)) < 0) {
			mt_error_prefix("%s:%d: mutation.source_level[%zu]: ", cfg->path, entry->line, e);
			goto fail;
		}
		if (nvars == 0)
			fprintf(stderr, "mutorch: %s:%d: %s makes no mutant here: %s\n", cfg->path,
				entry->line, entry->op, why);
		for (size_t i = 0; i < nvars && error == 0; i++) {
			char target[256];
			size_t k;
			if (vars[i].target && *vars[i].target) {
				snprintf(target, sizeof(target), "%s", vars[i].target);
			} else {
				/* nothing expanded: name it by the entry's own parameters */
				size_t len = 0;
				target[0] = '\0';
				for (size_t p = 0; p < entry->nparams; p++) {
					if (!strcmp(entry->params[p].key, "mutants") || !strcmp(entry->params[p].key, "seed"))
						continue;
					len += (size_t)snprintf(target + len, len < sizeof(target) ? sizeof(target) - len : 0,
								"%s%s=%s", len ? "," : "", entry->params[p].key,
								entry->params[p].value);
					if (len >= sizeof(target))
						break;
				}
				if (!target[0])
					snprintf(target, sizeof(target), "default");
			}
			for (k = 0; target[k]; k++)
				if (target[k] == ' ')
					target[k] = ',';
			for (int m = 0; m < mutants && error == 0; m++) {
				char id[512];
				uint64_t seed;
				mt_source_mutant *mu = NULL;
				size_t dup;
				if (mt_source_op_is_random(entry->op))
					snprintf(id, sizeof(id), "%s-%s-%03d", label, target, m);
				else
					snprintf(id, sizeof(id), "%s-%s", label, target);
				seed = mt_rng_seed_for_id(cfg->mutation_seed, id);
				if ((error = mt_source_apply(&mu, cfg, train, entry->op, vars[i].params,
							     vars[i].nparams, seed)) < 0)
					break;
				if (mu->not_applicable) {
					mt_source_mutant_free(mu);
					continue;
				}
				/* The same mutant reached from two entries is planned once. */
				int seen = 0;
				for (dup = 0; dup < mt_plan_count(plan); dup++)
					seen |= !strcmp(mt_plan_at(plan, dup)->params, mu->params);
				if (!seen)
					error = mt_plan_append(plan, id, entry->op, target, mu->params,
							       mu->seed, e);
				mt_source_mutant_free(mu);
			}
		}
		mt_source_variants_free(vars, nvars);
		if (error < 0)
			goto fail;
	}
	mt_plan_finish(plan);
	*out = plan;
	return 0;
fail:
	mt_plan_free(plan);
	return error;
}

/* ---- cache keys ---------------------------------------------------------- */

/* SHA-1 over the SHA-1s of a list of files, in order. */
static int files_digest(char out[MT_HASH_HEX], char *const *paths, size_t npaths)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	int error = 0;

	for (size_t i = 0; i < npaths; i++) {
		void *buf = NULL;
		size_t n = 0;
		char d[MT_HASH_HEX];
		if ((error = mt_io_read_file(&buf, &n, paths[i])) < 0)
			goto cleanup;
		error = mt_hash_blob(d, buf, n);
		free(buf);
		if (error < 0)
			goto cleanup;
		if (len + MT_HASH_HEX + 2 > cap) {
			char *grown = realloc(text, cap = cap * 2 + 256);
			if (!grown) {
				error = mt_error_oom();
				goto cleanup;
			}
			text = grown;
		}
		len += (size_t)snprintf(text + len, cap - len, "%s\n", d);
	}
	error = mt_hash_blob(out, text ? text : "", len);
cleanup:
	free(text);
	return error;
}

/* "TRAIN:TEST:MODEL": the digests of the training files, the test files and
 * the TorchScript model file ("none" for an architecture). Trained models
 * depend on TRAIN and MODEL only, so a commit that changes only the test set
 * re-evaluates them and trains nothing. */
#define DIGEST_LEN (3 * MT_HASH_HEX)
static int data_digest(char out[DIGEST_LEN], const mt_config *cfg)
{
	char train[MT_HASH_HEX], test[MT_HASH_HEX], model[MT_HASH_HEX] = "none";
	int error;
	if ((error = files_digest(train, cfg->train.paths, cfg->train.npaths)) < 0 ||
	    (error = files_digest(test, cfg->test.paths, cfg->test.npaths)) < 0 ||
	    (cfg->torchscript && (error = files_digest(model, &cfg->torchscript, 1)) < 0))
		return error;
	snprintf(out, DIGEST_LEN, "%s:%s:%s", train, test, model);
	return 0;
}

/* The recipe of run `run` of a slot: a copy with the run's seed. */
static int run_config(mt_config **out, const mt_config *base, const mt_config *orig, int run)
{
	int error = mt_source_config_copy(out, base);
	if (error == 0)
		(*out)->seed = mt_rng_derive(orig->seed, (uint64_t)run);
	return error;
}

/* The two content keys of run `run` of a slot: train_key names the
 * trained model (everything training depends on: versions, threads, the
 * training data and model file digests, data settings, the recipe with the
 * run's seed, the mutant), eval_key its predictions on the test set
 * (train_key, the test data digest, the test limit, the batch size). */
static int run_keys(char train_key[MT_HASH_HEX], char eval_key[MT_HASH_HEX], const mt_config *cfg,
		    const mt_source_mutant *mu, const char *digest, int run)
{
	mt_config *rc = NULL;
	char *recipe = NULL, *text = NULL, tk[MT_HASH_HEX], parts[3][MT_HASH_HEX] = {"", "", ""};
	size_t n;
	int error;

	if (sscanf(digest, "%40[0-9a-f]:%40[0-9a-f]:%40[0-9a-z]", parts[0], parts[1], parts[2]) != 3)
		return mt_error_set(MT_EINVALID, "malformed data digest '%s'", digest);
	if ((error = run_config(&rc, mu ? mu->config : cfg, cfg, run)) < 0)
		goto cleanup;
	if (rc->torchscript) {
		/* the model's content, not its path (which differs per checkout) */
		free(rc->torchscript);
		if (!(rc->torchscript = malloc(MT_HASH_HEX + 8))) {
			error = mt_error_oom();
			goto cleanup;
		}
		snprintf(rc->torchscript, MT_HASH_HEX + 8, "sha1:%s", parts[2]);
	}
	if ((error = mt_source_recipe_text(&recipe, rc)) < 0)
		goto cleanup;
	n = strlen(recipe) + (mu ? strlen(mu->params) : 0) + 1024;
	if (!(text = malloc(n))) {
		error = mt_error_oom();
		goto cleanup;
	}
	snprintf(text, n,
		 "mutorch-training 2\nmutorch %s\nlibtorch %s\nthreads %d\ntrain data %s\nmodel %s\n"
		 "format %d classes %d train_limit %lld\n"
		 "normalize %.17g %d %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n"
		 "recipe %s\nmutant %s\n",
		 MUTORCH_VERSION, mt_shim_torch_version(), cfg->threads, parts[0], parts[2],
		 (int)cfg->format, cfg->num_classes, (long long)cfg->train_limit,
		 cfg->norm_scale, cfg->nnorm, cfg->norm_mean[0], cfg->norm_mean[1],
		 cfg->norm_mean[2], cfg->norm_mean[3], cfg->norm_std[0], cfg->norm_std[1],
		 cfg->norm_std[2], cfg->norm_std[3], recipe, mu ? mu->params : "original");
	if ((error = mt_hash_blob(tk, text, strlen(text))) < 0)
		goto cleanup;
	if (train_key)
		memcpy(train_key, tk, MT_HASH_HEX);
	snprintf(text, n, "mutorch-evaluation 1\ntrained %s\ntest data %s\ntest_limit %lld\nbatch %lld\n",
		 tk, parts[1], (long long)cfg->test_limit, (long long)cfg->eval_batch_size);
	error = mt_hash_blob(eval_key, text, strlen(text));
cleanup:
	free(text);
	free(recipe);
	mt_config_free(rc);
	return error;
}

static int run_key(char out[MT_HASH_HEX], const mt_config *cfg, const mt_source_mutant *mu,
		   const char *digest, int run)
{
	return run_keys(NULL, out, cfg, mu, digest, run);
}

/* ---- the worker ----------------------------------------------------------- */

typedef struct {
	const mt_config *cfg;
	const char *run_dir;
	mt_plan *plan;
	char digest[DIGEST_LEN];
	mt_dataset *train, *test;
	mt_tensor *tx, *ty;
	int cached_slot;
	mt_source_mutant *mu; /* of cached_slot */
} worker_state;

static int read_digest(char out[DIGEST_LEN], const char *run_dir)
{
	char *path = mt_io_path_join(run_dir, "source-setup.json");
	json_error_t jerr;
	json_t *j = path ? json_load_file(path, 0, &jerr) : NULL;
	const char *d = j ? json_string_value(json_object_get(j, "data_digest")) : NULL;
	int error = 0;
	if (!d || strlen(d) >= DIGEST_LEN)
		error = mt_error_set(MT_EINVALID, "%s: missing or malformed data_digest", path ? path : run_dir);
	else
		snprintf(out, DIGEST_LEN, "%s", d);
	json_decref(j);
	free(path);
	return error;
}

/* cache/NAME written atomically from a JSON object. */
static int write_cache_json(const char *run_dir, const char *name, json_t *obj)
{
	char *p = mt_io_path_join(run_dir, name), *text = json_dumps(obj, JSON_COMPACT);
	int error = p && text ? mt_io_write_file_atomic(p, text, strlen(text))
			      : mt_error_oom();
	free(p);
	free(text);
	return error;
}

/* A trained model: cache/TRAIN_KEY.pt, then cache/TRAIN_KEY.train.json
 * (its presence marks a complete entry). */
static int write_train_cache(const char *run_dir, const char *key, const mt_module *model,
			     json_t *summary)
{
	char name[128], *p;
	int error;
	snprintf(name, sizeof(name), "cache/%s.pt", key);
	if (!(p = mt_io_path_join(run_dir, name)))
		return mt_error_oom();
	error = mt_module_save(model, p);
	free(p);
	if (error < 0)
		return error;
	snprintf(name, sizeof(name), "cache/%s.train.json", key);
	return write_cache_json(run_dir, name, summary);
}

/* Its test predictions: cache/EVAL_KEY.pred, then cache/EVAL_KEY.json. */
static int write_eval_cache(const char *run_dir, const char *key, const int64_t *pred, int64_t n,
			    json_t *summary)
{
	char name[128], *p = NULL;
	int32_t *buf = NULL;
	int error = 0;

	if (!(buf = malloc(sizeof(int32_t) * (size_t)(n ? n : 1))))
		return mt_error_oom();
	for (int64_t i = 0; i < n; i++)
		buf[i] = (int32_t)pred[i]; /* little-endian on every supported host */
	snprintf(name, sizeof(name), "cache/%s.pred", key);
	if (!(p = mt_io_path_join(run_dir, name)))
		error = mt_error_oom();
	else
		error = mt_io_write_file_atomic(p, buf, sizeof(int32_t) * (size_t)n);
	free(p);
	free(buf);
	if (error < 0)
		return error;
	snprintf(name, sizeof(name), "cache/%s.json", key);
	return write_cache_json(run_dir, name, summary);
}

/* A trained model in the cache, with its training summary; 0 when absent. */
static int load_trained(mt_module **model, json_t **summary, const char *run_dir, const char *key)
{
	char name[128], *pj = NULL, *pm = NULL;
	json_error_t jerr;
	int found = 0;
	*model = NULL;
	*summary = NULL;
	snprintf(name, sizeof(name), "cache/%s.train.json", key);
	pj = mt_io_path_join(run_dir, name);
	snprintf(name, sizeof(name), "cache/%s.pt", key);
	pm = mt_io_path_join(run_dir, name);
	if (pj && pm && access(pj, F_OK) == 0 && (*summary = json_load_file(pj, 0, &jerr)) &&
	    mt_module_load(model, pm) == 0)
		found = 1;
	if (!found) {
		json_decref(*summary);
		*summary = NULL;
		mt_error_clear();
	}
	free(pj);
	free(pm);
	return found;
}

static json_t *train_one(worker_state *ws, size_t slot, int run)
{
	const mt_config *cfg = ws->cfg;
	mt_config *rc = NULL;
	mt_dataset *mutated = NULL, *tr = NULL, *val = NULL;
	mt_tensor *x = NULL, *y = NULL, *vx = NULL, *vy = NULL;
	mt_module *model = NULL;
	mt_train_report report;
	mt_eval_result res = {0};
	char key[MT_HASH_HEX];
	json_t *rec = json_object(), *summary = NULL;
	double t0 = mt_clock_now();
	int error;

	/* Test-only fault hooks: a mutant whose training crashes or hangs. */
	if (slot > 0)
		mt_runner_test_fault_hooks(mt_plan_at(ws->plan, slot - 1)->id);
	if (slot > 0 && (int)slot != ws->cached_slot) {
		mt_source_mutant_free(ws->mu);
		ws->mu = NULL;
		ws->cached_slot = -1;
		if ((error = apply_desc(&ws->mu, cfg, ws->train, mt_plan_at(ws->plan, slot - 1))) < 0)
			goto fail;
		ws->cached_slot = (int)slot;
	}
	{
		const mt_source_mutant *mu = slot > 0 ? ws->mu : NULL;
		json_t *trained = NULL;
		char train_key[MT_HASH_HEX];
		int reused;
		if ((error = run_keys(train_key, key, cfg, mu, ws->digest, run)) < 0 ||
		    (error = run_config(&rc, mu ? mu->config : cfg, cfg, run)) < 0)
			goto fail;
		/* Trained before (only the test set changed)? Evaluate, don't train. */
		reused = load_trained(&model, &trained, ws->run_dir, train_key);
		if (!reused) {
			if (mu && mu->is_data &&
			    (error = mt_source_build_train(&mutated, mu, ws->train, cfg)) < 0)
				goto fail;
			if ((error = mt_dataset_split(&tr, &val, mutated ? mutated : ws->train,
						      rc->validation_split, rc->seed)) < 0 ||
			    (error = mt_runner_tensors(&x, &y, cfg, tr)) < 0 ||
			    (val && (error = mt_runner_tensors(&vx, &vy, cfg, val)) < 0))
				goto fail;
			if ((error = mt_shim_manual_seed(rc->seed)) < 0 ||
			    (error = mt_runner_initial_model(&model, rc)) < 0)
				goto fail;
			error = mt_runner_train(&report, model, rc, x, y, NULL, 0, vx, vy, NULL);
			if (error < 0 && error != MT_EDIVERGED)
				goto fail;
			trained = json_pack("{s:s, s:b, s:i, s:b, s:f, s:I, s:I}", "train_key", train_key,
					    "diverged", report.diverged, "epochs", report.epochs_run,
					    "stopped_early", report.stopped_early, "train_seconds", mt_clock_now() - t0,
					    "slot", (json_int_t)slot, "run", (json_int_t)run);
			if ((error = write_train_cache(ws->run_dir, train_key, model, trained)) < 0) {
				json_decref(trained);
				goto fail;
			}
		}
		/* A diverged run is a result: its weights are those before the
		 * NaN step, and it is evaluated like any other. */
		if ((error = mt_runner_evaluate(&res, model, ws->tx, mt_dataset_labels(ws->test),
						mt_dataset_count(ws->test), cfg->num_classes,
						cfg->eval_batch_size)) < 0) {
			json_decref(trained);
			goto fail;
		}
		summary = json_pack("{s:s, s:s, s:f, s:O, s:O, s:f, s:I, s:I}", "key", key,
				    "train_key", train_key, "accuracy", res.accuracy,
				    "diverged", json_object_get(trained, "diverged"),
				    "epochs", json_object_get(trained, "epochs"),
				    "seconds", mt_clock_now() - t0, "slot", (json_int_t)slot, "run", (json_int_t)run);
		json_decref(trained);
		if (!summary) {
			error = mt_error_set(MT_ERROR, "malformed training summary for %s", train_key);
			goto fail;
		}
		if ((error = write_eval_cache(ws->run_dir, key, res.predictions, res.n, summary)) < 0)
			goto fail;
		json_object_set_new(rec, "status", json_string("Trained"));
		json_object_set_new(rec, "key", json_string(key));
		json_object_set_new(rec, "accuracy", json_real(res.accuracy));
		json_object_set_new(rec, "diverged", json_copy(json_object_get(summary, "diverged")));
		json_object_set_new(rec, "reused_model", json_boolean(reused));
	}
	goto done;
fail:
	json_object_set_new(rec, "status", json_string("RuntimeError"));
	json_object_set_new(rec, "reason", json_string(mt_error_last()));
done:
	json_object_set_new(rec, "seconds", json_real(mt_clock_now() - t0));
	json_decref(summary);
	mt_eval_result_dispose(&res);
	mt_module_free(model);
	mt_tensor_free(x);
	mt_tensor_free(y);
	mt_tensor_free(vx);
	mt_tensor_free(vy);
	mt_dataset_free(tr);
	mt_dataset_free(val);
	mt_dataset_free(mutated);
	mt_config_free(rc);
	return rec;
}

int mt_source_worker(const mt_config *cfg, const char *run_dir)
{
	worker_state ws;
	char *plan_path = mt_io_path_join(run_dir, "source-plan.json"), line[256];
	int error;

	memset(&ws, 0, sizeof(ws));
	ws.cfg = cfg;
	ws.run_dir = run_dir;
	ws.cached_slot = -1;
	if ((error = mt_plan_load(&ws.plan, plan_path)) < 0 ||
	    (error = read_digest(ws.digest, run_dir)) < 0 ||
	    (error = mt_runner_load_dataset(&ws.train, cfg, MT_SPLIT_TRAIN)) < 0 ||
	    (error = mt_runner_load_dataset(&ws.test, cfg, MT_SPLIT_TEST)) < 0 ||
	    (error = mt_runner_tensors(&ws.tx, &ws.ty, cfg, ws.test)) < 0)
		goto cleanup;
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		size_t task = (size_t)strtoull(line, NULL, 10);
		size_t slot = task / MT_SOURCE_RUN_STRIDE;
		int run = (int)(task % MT_SOURCE_RUN_STRIDE);
		json_t *rec;
		char *text;
		if (slot > mt_plan_count(ws.plan)) {
			error = mt_error_set(MT_EINVALID, "worker: no slot %zu in %s", slot, plan_path);
			goto cleanup;
		}
		rec = train_one(&ws, slot, run);
		text = json_dumps(rec, JSON_COMPACT);
		json_decref(rec);
		if (!text) {
			error = mt_error_oom();
			goto cleanup;
		}
		printf("%zu\t%s\n", task, text);
		fflush(stdout);
		free(text);
	}
cleanup:
	mt_source_mutant_free(ws.mu);
	mt_tensor_free(ws.tx);
	mt_tensor_free(ws.ty);
	mt_dataset_free(ws.train);
	mt_dataset_free(ws.test);
	mt_plan_free(ws.plan);
	free(plan_path);
	return error;
}

/* ---- the parent ----------------------------------------------------------- */

typedef struct {
	char (*keys)[MT_HASH_HEX];   /* max_runs per slot */
	double *acc;             /* max_runs per slot; NaN: not trained */
	int *have;               /* runs trained per slot (a prefix) */
	int *failed;             /* 0, or MT_MUTANT-like: 1 RuntimeError, 2 Timeout */
	char **reason;
	int *decided;            /* sequential: 1 once the verdict is final */
	int *runs_used;
	mt_stats_test *test;
	int *killed;
	double *p_adjusted;
	double *fisher_p;
	size_t nslots;
	int max_runs;
} slot_table;

typedef struct {
	const mt_config *cfg;
	const char *run_dir;
	mt_resultlog *log;
	slot_table *st;
	const mt_plan *plan;
	size_t total, done, trained_now, reevaluated_now;
	double start, last_draw;
	const mt_source_run_options *o;
} src_state;

static int cache_lookup(double *acc, const char *run_dir, const char *key)
{
	char name[128], *p;
	json_error_t jerr;
	json_t *j;
	snprintf(name, sizeof(name), "cache/%s.json", key);
	if (!(p = mt_io_path_join(run_dir, name)))
		return 0;
	j = access(p, F_OK) == 0 ? json_load_file(p, 0, &jerr) : NULL;
	free(p);
	if (!j)
		return 0;
	*acc = json_number_value(json_object_get(j, "accuracy"));
	json_decref(j);
	return 1;
}

static int load_predictions(int64_t *pred, const char *run_dir, const char *key, int64_t n)
{
	char name[128], *p;
	void *buf = NULL;
	size_t len = 0;
	int error;
	snprintf(name, sizeof(name), "cache/%s.pred", key);
	if (!(p = mt_io_path_join(run_dir, name)))
		return mt_error_oom();
	error = mt_io_read_file(&buf, &len, p);
	if (error == 0 && len != sizeof(int32_t) * (size_t)n)
		error = mt_error_set(MT_EINVALID, "%s: holds %zu bytes, expected %lld predictions", p,
				     len, (long long)n);
	if (error == 0)
		for (int64_t i = 0; i < n; i++)
			pred[i] = ((int32_t *)buf)[i];
	free(buf);
	free(p);
	return error;
}

static void src_progress(src_state *ss, int final)
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

static int src_record(src_state *ss, size_t task, json_t *rec)
{
	size_t slot = task / MT_SOURCE_RUN_STRIDE;
	int run = (int)(task % MT_SOURCE_RUN_STRIDE), error;
	const char *status = json_string_value(json_object_get(rec, "status"));
	slot_table *st = ss->st;

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

/* "deepcrime", "welch", "mannwhitney", "fisher" (mutation.source.rule). */
static const char *source_rule_name(int rule)
{
	static const char *const names[] = {"deepcrime", "welch", "mannwhitney", "fisher"};
	return rule >= 0 && rule < 4 ? names[rule] : "?";
}

/* Open the training log and set up the state a run, a false-kill
 * measurement and a search share; run_dir and plan are the caller's. */
static int src_state_open(src_state *ss, json_t **records, const char *log_path,
			  const mt_config *cfg, const mt_source_run_options *o, slot_table *st)
{
	int error = mt_resultlog_open(&ss->log, records, log_path);
	if (error < 0)
		return error;
	ss->cfg = cfg;
	ss->st = st;
	ss->o = o;
	ss->start = mt_clock_now();
	return 0;
}

/* A mutant whose training failed once gets no more runs. */
static int src_skip(void *ctx, size_t task)
{
	src_state *ss = ctx;
	return ss->st->failed[task / MT_SOURCE_RUN_STRIDE] != 0;
}

/* Train whatever of runs [0, need[slot]) is not cached. */
static int train_missing(src_state *ss, const int *need)
{
	slot_table *st = ss->st;
	size_t *tasks = NULL, ntasks = 0;
	int error = 0;

	if (!(tasks = malloc(sizeof(size_t) * st->nslots * (size_t)st->max_runs + 1)))
		return mt_error_oom();
	for (size_t s = 0; s < st->nslots; s++) {
		if (st->failed[s])
			continue;
		for (int r = 0; r < need[s]; r++) {
			double *a = &st->acc[s * (size_t)st->max_runs + (size_t)r];
			if (isnan(*a) && !cache_lookup(a, ss->run_dir, st->keys[s * (size_t)st->max_runs + (size_t)r]))
				tasks[ntasks++] = s * MT_SOURCE_RUN_STRIDE + (size_t)r;
		}
	}
	if (ntasks > 0) {
		const mt_source_run_options *o = ss->o;
		char *argv[] = {(char *)o->self_exe, "worker", (char *)o->config_path, "--run-dir",
				(char *)ss->run_dir, "--source", NULL};
		mt_pool_options po;
		memset(&po, 0, sizeof(po));
		po.argv = argv;
		po.jobs = o->jobs;
		po.task_timeout = o->timeout;
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

static void slot_table_free(slot_table *st)
{
	if (!st)
		return;
	for (size_t s = 0; s < st->nslots; s++)
		free(st->reason[s]);
	free(st->keys);
	free(st->acc);
	free(st->have);
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

static int slot_table_new(slot_table **out, size_t nslots, int max_runs)
{
	slot_table *st = calloc(1, sizeof(*st));
	size_t cells = nslots * (size_t)max_runs;
	*out = NULL;
	if (!st)
		return mt_error_oom();
	st->nslots = nslots;
	st->max_runs = max_runs;
	st->keys = calloc(cells, MT_HASH_HEX);
	st->acc = malloc(sizeof(double) * cells);
	st->have = calloc(nslots, sizeof(int));
	st->failed = calloc(nslots, sizeof(int));
	st->reason = calloc(nslots, sizeof(char *));
	st->decided = calloc(nslots, sizeof(int));
	st->runs_used = calloc(nslots, sizeof(int));
	st->test = calloc(nslots, sizeof(mt_stats_test));
	st->killed = calloc(nslots, sizeof(int));
	st->p_adjusted = calloc(nslots, sizeof(double));
	st->fisher_p = calloc(nslots, sizeof(double));
	if (!st->keys || !st->acc || !st->have || !st->failed || !st->reason || !st->decided ||
	    !st->runs_used || !st->test || !st->killed || !st->p_adjusted || !st->fisher_p) {
		slot_table_free(st);
		return mt_error_oom();
	}
	for (size_t i = 0; i < cells; i++)
		st->acc[i] = NAN;
	*out = st;
	return 0;
}

static const char *verdict_name(const slot_table *st, size_t s)
{
	if (st->failed[s] == 2)
		return "Timeout";
	if (st->failed[s])
		return "RuntimeError";
	return st->killed[s] ? "Killed" : "Survived";
}

static double mean_sd(double *sd, const double *a, int n)
{
	double m = 0, v = 0;
	for (int i = 0; i < n; i++)
		m += a[i];
	m = n ? m / n : NAN;
	for (int i = 0; i < n; i++)
		v += (a[i] - m) * (a[i] - m);
	*sd = n > 1 ? sqrt(v / (n - 1)) : 0;
	return m;
}

/* The group-sequential design of mutation.source: looks at n = 4, 6, ...
 * up to n_max, the configured alpha and effect size. */
static int sequential_design(mt_stats_sequential **out, const mt_config *cfg, int n_max)
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

/* A report file of the run directory, and its checked close (a full disk
 * shows at fclose). */
static int report_open(FILE **f, const char *dir, const char *name)
{
	char *p = mt_io_path_join(dir, name);
	*f = p ? fopen(p, "w") : NULL;
	int error = *f ? 0 : mt_error_set(MT_EIO, "%s/%s: cannot create", dir, name);
	free(p);
	return error;
}

static int report_close(FILE *f, const char *dir, const char *name)
{
	int failed = ferror(f);
	if (fclose(f) != 0 || failed)
		return mt_error_set(MT_EIO, "%s/%s: write failed", dir, name);
	return 0;
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

int mt_source_run(const mt_config *cfg, const mt_source_run_options *o)
{
	const char *dir = o->run_dir ? o->run_dir : cfg->run_dir;
	mt_dataset *train = NULL, *test = NULL;
	mt_plan *plan = NULL, *old = NULL;
	mt_source_mutant **mus = NULL;
	slot_table *st = NULL;
	mt_stats_sequential *design = NULL;
	src_state ss;
	json_t *records = NULL, *report = NULL, *rows = NULL;
	char *plan_path = NULL, *log_path = NULL, *setup_path = NULL, digest[DIGEST_LEN];
	int *need = NULL, max_runs, error;
	size_t nslots, nmut;
	int64_t n_test;
	int64_t *orig_pred = NULL, *mut_pred = NULL;
	uint8_t **kills = NULL;
	double *kp = NULL, *pvals = NULL;
	FILE *out = o->out ? o->out : stdout;

	memset(&ss, 0, sizeof(ss));
	if (!(plan_path = mt_io_path_join(dir, "source-plan.json")) ||
	    !(log_path = mt_io_path_join(dir, "source-results.jsonl")) ||
	    !(setup_path = mt_io_path_join(dir, "source-setup.json"))) {
		error = mt_error_oom();
		goto cleanup;
	}
	{
		char *cache = mt_io_path_join(dir, "cache");
		error = cache ? mt_io_mkdirs(cache) : mt_error_oom();
		free(cache);
		if (error < 0)
			goto cleanup;
	}
	if (o->force) {
		unlink(plan_path);
		unlink(log_path);
	}
	if ((error = mt_runner_load_dataset(&train, cfg, MT_SPLIT_TRAIN)) < 0 ||
	    (error = mt_runner_load_dataset(&test, cfg, MT_SPLIT_TEST)) < 0 ||
	    (error = mt_source_plan(&plan, cfg, train)) < 0)
		goto cleanup;
	if (access(plan_path, F_OK) == 0) {
		if ((error = mt_plan_load(&old, plan_path)) < 0)
			goto cleanup;
		if (strcmp(mt_plan_digest(old), mt_plan_digest(plan)) != 0) {
			error = mt_error_set(MT_EINVALID, "%s holds the source-level results of a different plan (the config's mutation section changed); run with --force to start over (trained runs stay cached), or choose another run directory", dir);
			goto cleanup;
		}
	} else if ((error = mt_plan_save(plan, plan_path)) < 0) {
		goto cleanup;
	}
	if ((error = data_digest(digest, cfg)) < 0)
		goto cleanup;
	{
		json_t *setup = json_pack("{s:s}", "data_digest", digest);
		char *text = json_dumps(setup, JSON_COMPACT);
		json_decref(setup);
		error = text ? mt_io_write_file_atomic(setup_path, text, strlen(text))
			     : mt_error_oom();
		free(text);
		if (error < 0)
			goto cleanup;
	}

	nmut = mt_plan_count(plan);
	nslots = nmut + 1;
	if (nmut == 0) {
		/* Nothing to compare with: don't train the original for nothing. */
		static const char empty[] = "{\"level\":\"source\",\"mutants\":0,\"killed\":0,\"survived\":0,\"errors\":0,\"mutation_score\":null,\"trainings_used\":0,\"trainings_this_invocation\":0,\"mutants_detail\":[]}";
		if (o->json_out) {
			if (!(*o->json_out = strdup(empty)))
				error = mt_error_oom();
		} else if (o->json) {
			fprintf(out, "%s\n", empty);
		} else {
			fprintf(out, "source level: no mutants planned (every entry is equal to the original or makes no mutant here); nothing trained\n");
		}
		goto cleanup;
	}
	max_runs = cfg->src_sequential ? cfg->src_max_runs : cfg->src_runs;
	if (max_runs >= MT_SOURCE_RUN_STRIDE) {
		error = mt_error_set(MT_EINVALID, "%s: at most %d runs per mutant", cfg->path, MT_SOURCE_RUN_STRIDE - 1);
		goto cleanup;
	}
	if ((error = slot_table_new(&st, nslots, max_runs)) < 0)
		goto cleanup;
	if (!(mus = calloc(nslots, sizeof(*mus))) || !(need = calloc(nslots, sizeof(int)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (size_t s = 0; s < nslots; s++) {
		if (s > 0 && (error = apply_desc(&mus[s], cfg, train, mt_plan_at(plan, s - 1))) < 0)
			goto cleanup;
		for (int r = 0; r < max_runs; r++)
			if ((error = run_key(st->keys[s * (size_t)max_runs + (size_t)r], cfg, mus[s], digest, r)) < 0)
				goto cleanup;
	}
	if ((error = src_state_open(&ss, &records, log_path, cfg, o, st)) < 0)
		goto cleanup;
	ss.run_dir = dir;
	ss.plan = plan;
	if (o->progress)
		fprintf(o->progress, "%zu source-level mutants planned; %s, %d runs%s each, rule %s; results in %s\n",
			nmut, cfg->src_sequential ? "sequential design" : "fixed design", max_runs,
			cfg->src_sequential ? " at most" : "",
			source_rule_name(cfg->src_rule), dir);

	if (!cfg->src_sequential) {
		for (size_t s = 0; s < nslots; s++)
			need[s] = max_runs;
		if ((error = train_missing(&ss, need)) < 0)
			goto cleanup;
		/* runs trained: all of them, or those before a failure */
		for (size_t s = 0; s < nslots; s++)
			for (int r = 0; r < max_runs && !isnan(st->acc[s * (size_t)max_runs + (size_t)r]); r++)
				st->runs_used[s] = r + 1;
	} else {
		if ((error = sequential_design(&design, cfg, max_runs)) < 0)
			goto cleanup;
		for (size_t k = 0; k < mt_stats_sequential_looks(design); k++) {
			int n_k = (int)mt_stats_sequential_look_n(design, k), any = 0;
			need[0] = n_k;
			for (size_t s = 1; s < nslots; s++) {
				need[s] = st->decided[s] || st->failed[s] ? st->runs_used[s] : n_k;
				any |= !st->decided[s] && !st->failed[s];
			}
			if (!any)
				break;
			if ((error = train_missing(&ss, need)) < 0)
				goto cleanup;
			if (st->failed[0]) {
				error = mt_error_set(MT_ERROR, "training the original failed: %s", st->reason[0]);
				goto cleanup;
			}
			for (size_t s = 1; s < nslots; s++) {
				mt_stats_sequential_result sr;
				if (st->decided[s] || st->failed[s])
					continue;
				if ((error = mt_stats_sequential_decide(&sr, design, st->acc,
									&st->acc[s * (size_t)max_runs], (size_t)n_k)) < 0)
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
	}
	if (st->failed[0]) {
		error = mt_error_set(MT_ERROR, "training the original failed: %s", st->reason[0]);
		goto cleanup;
	}

	/* Per-input kill probabilities (and the Fisher rule) from predictions. */
	n_test = mt_dataset_count(test);
	{
		int n_pairs = st->runs_used[0];
		orig_pred = malloc(sizeof(int64_t) * (size_t)n_test * (size_t)max_runs);
		mut_pred = malloc(sizeof(int64_t) * (size_t)n_test * (size_t)max_runs);
		kills = calloc(nslots, sizeof(uint8_t *));
		kp = malloc(sizeof(double) * (size_t)n_test);
		pvals = malloc(sizeof(double) * nslots);
		if (!orig_pred || !mut_pred || !kills || !kp || !pvals) {
			error = mt_error_oom();
			goto cleanup;
		}
		for (int r = 0; r < n_pairs; r++)
			if ((error = load_predictions(orig_pred + (size_t)r * (size_t)n_test, dir,
						      st->keys[r], n_test)) < 0)
				goto cleanup;
		(void)n_pairs;
	}
	report = json_object();
	rows = json_array();
	for (size_t s = 1; s < nslots; s++) {
		const mt_mutant_desc *d = mt_plan_at(plan, s - 1);
		int n = st->runs_used[s];
		double sd_o, sd_m, mean_o, mean_m, mean_kp = NAN;
		json_t *row;

		if (!st->failed[s]) {
			for (int r = 0; r < n; r++)
				if ((error = load_predictions(mut_pred + (size_t)r * (size_t)n_test, dir,
							      st->keys[s * (size_t)max_runs + (size_t)r], n_test)) < 0)
					goto cleanup;
			if (!(kills[s] = malloc((size_t)n * (size_t)n_test))) {
				error = mt_error_oom();
				goto cleanup;
			}
			mt_stats_kills(kills[s], orig_pred, mut_pred, mt_dataset_labels(test), (size_t)n,
				       (size_t)n_test);
			mean_kp = mt_stats_kill_probabilities(kp, kills[s], (size_t)n, (size_t)n_test);
			if (!cfg->src_sequential) {
				if (cfg->src_rule == MT_SRC_RULE_FISHER) {
					mt_stats_fisher_verdict fv;
					if ((error = mt_stats_fisher_inputs(&fv, NULL, orig_pred, mut_pred,
									    mt_dataset_labels(test), (size_t)n,
									    (size_t)n_test, cfg->src_alpha,
									    MT_STATS_HOLM)) < 0)
						goto cleanup;
					st->fisher_p[s] = fv.min_adjusted_p;
					mt_stats_welch_test(&st->test[s], st->acc, (size_t)n,
							    &st->acc[s * (size_t)max_runs], (size_t)n);
				} else {
					mt_stats_rule rule = cfg->src_rule == MT_SRC_RULE_WELCH ? MT_STATS_WELCH
							   : cfg->src_rule == MT_SRC_RULE_MANNWHITNEY ? MT_STATS_MANNWHITNEY
							   : MT_STATS_DEEPCRIME;
					if ((error = mt_stats_decide(&st->test[s], rule, st->acc,
								     &st->acc[s * (size_t)max_runs], (size_t)n,
								     cfg->src_alpha, cfg->src_effect)) < 0)
						goto cleanup;
				}
			}
		}
		mean_o = mean_sd(&sd_o, st->acc, n);
		mean_m = mean_sd(&sd_m, &st->acc[s * (size_t)max_runs], n);
		row = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:o}",
				"id", d->id, "operator", d->op, "target", d->target, "params", d->params,
				"runs", n, "original_mean", num(mean_o), "original_sd", num(sd_o),
				"mutant_mean", num(mean_m), "mutant_sd", num(sd_m),
				"mean_kill_probability", num(mean_kp));
		if (st->failed[s])
			json_object_set_new(row, "reason", json_string(st->reason[s] ? st->reason[s] : ""));
		else
			json_object_set_new(row, "trivial", json_boolean(mt_stats_is_trivial(mean_kp)));
		json_array_append_new(rows, row);
	}
	/* Verdicts of the fixed design: p-values corrected across mutants. */
	if (!cfg->src_sequential) {
		size_t m = 0;
		for (size_t s = 1; s < nslots; s++)
			if (!st->failed[s])
				pvals[m++] = cfg->src_rule == MT_SRC_RULE_FISHER ? st->fisher_p[s] : st->test[s].p_value;
		if (m && (error = mt_stats_adjust(pvals, pvals, m,
						  cfg->src_correction == 1 ? MT_STATS_HOLM :
						  cfg->src_correction == 2 ? MT_STATS_BH : MT_STATS_NONE)) < 0)
			goto cleanup;
		m = 0;
		for (size_t s = 1; s < nslots; s++) {
			if (st->failed[s])
				continue;
			st->p_adjusted[s] = pvals[m++];
			st->killed[s] = st->p_adjusted[s] < cfg->src_alpha &&
				(cfg->src_rule == MT_SRC_RULE_FISHER || st->test[s].effect_size >= cfg->src_effect);
		}
	}
	/* Redundancy by subsumption over the runs every evaluated mutant has. */
	{
		uint8_t *redundant = calloc(nslots, 1);
		const uint8_t **kl = calloc(nslots, sizeof(*kl));
		size_t *idx = calloc(nslots, sizeof(size_t)), nk = 0, nred = 0;
		int n_common = max_runs;
		if (!redundant || !kl || !idx) {
			free(redundant);
			free(kl);
			free(idx);
			error = mt_error_oom();
			goto cleanup;
		}
		for (size_t s = 1; s < nslots; s++)
			if (kills[s])
				json_object_set_new(json_array_get(rows, s - 1), "redundant", json_false());
		/* Subsumption orders killed mutants: a mutant the test set does
		 * not kill subsumes nothing. */
		for (size_t s = 1; s < nslots; s++)
			if (kills[s] && st->killed[s] && st->runs_used[s] < n_common)
				n_common = st->runs_used[s];
		for (size_t s = 1; s < nslots; s++)
			if (kills[s] && st->killed[s]) {
				kl[nk] = kills[s]; /* the first n_common runs are a prefix */
				idx[nk++] = s;
			}
		if (nk > 0)
			error = mt_stats_redundant(redundant, &nred, kl, nk, (size_t)n_common,
						   (size_t)n_test, cfg->src_alpha);
		for (size_t k = 0; k < nk && error == 0; k++)
			json_object_set_new(json_array_get(rows, idx[k] - 1), "redundant",
					    json_boolean(redundant[k]));
		free(redundant);
		free(kl);
		free(idx);
		if (error < 0)
			goto cleanup;
	}

	/* Report. */
	{
		size_t killed = 0, survived = 0, errors = 0, used = (size_t)st->runs_used[0];
		size_t fixed = nslots * (size_t)max_runs;
		for (size_t s = 1; s < nslots; s++) {
			json_t *row = json_array_get(rows, s - 1);
			json_object_set_new(row, "status", json_string(verdict_name(st, s)));
			if (!st->failed[s]) {
				json_object_set_new(row, "p_value", num(cfg->src_sequential ? st->test[s].p_worse :
								      cfg->src_rule == MT_SRC_RULE_FISHER ? st->fisher_p[s] :
								      st->test[s].p_value));
				json_object_set_new(row, "p_adjusted", num(st->p_adjusted[s]));
				json_object_set_new(row, "effect_size", num(st->test[s].effect_size));
			}
			killed += !st->failed[s] && st->killed[s];
			survived += !st->failed[s] && !st->killed[s];
			errors += st->failed[s] != 0;
			used += (size_t)st->runs_used[s];
		}
		json_object_set_new(report, "level", json_string("source"));
		json_object_set_new(report, "mutants", json_integer((json_int_t)nmut));
		json_object_set_new(report, "killed", json_integer((json_int_t)killed));
		json_object_set_new(report, "survived", json_integer((json_int_t)survived));
		json_object_set_new(report, "errors", json_integer((json_int_t)errors));
		json_object_set_new(report, "mutation_score", num(killed + survived ? (double)killed / (double)(killed + survived) : NAN));
		json_object_set_new(report, "rule", json_string(source_rule_name(cfg->src_rule)));
		json_object_set_new(report, "sequential", json_boolean(cfg->src_sequential));
		json_object_set_new(report, "alpha", json_real(cfg->src_alpha));
		json_object_set_new(report, "effect_size", json_real(cfg->src_effect));
		json_object_set_new(report, "correction", json_string((const char *[]){"none", "holm", "bh"}[cfg->src_correction]));
		json_object_set_new(report, "original_runs", json_integer(st->runs_used[0]));
		json_object_set_new(report, "trainings_used", json_integer((json_int_t)used));
		json_object_set_new(report, "trainings_fixed_design", json_integer((json_int_t)fixed));
		json_object_set_new(report, "trainings_saved", json_integer((json_int_t)(fixed - used)));
		json_object_set_new(report, "trainings_this_invocation", json_integer((json_int_t)ss.trained_now));
		json_object_set_new(report, "reevaluations_this_invocation", json_integer((json_int_t)ss.reevaluated_now));
		if (cfg->src_sequential || cfg->src_rule != MT_SRC_RULE_FISHER) {
			double power = mt_stats_t_power((double)max_runs, cfg->src_effect, cfg->src_alpha);
			json_object_set_new(report, "power_at_effect_size", num(power));
		}
		json_object_set_new(report, "seed", json_integer((json_int_t)cfg->seed));
		json_object_set_new(report, "threads", json_integer(cfg->threads));
		json_object_set_new(report, "torch_version", json_string(mt_shim_torch_version()));
		json_object_set_new(report, "mutorch_version", json_string(MUTORCH_VERSION));
		json_object_set_new(report, "mutants_detail", rows);
		rows = NULL;
		{
			char *rp = mt_io_path_join(dir, "source-report.json");
			char *text = json_dumps(report, JSON_INDENT(1));
			error = rp && text ? mt_io_write_file_atomic(rp, text, strlen(text))
					   : mt_error_oom();
			free(rp);
			free(text);
			if (error < 0)
				goto cleanup;
		}
		/* Runs CSV: every accuracy the verdicts used. */
		{
			FILE *f = NULL;
			if ((error = report_open(&f, dir, "source-runs.csv")) < 0)
				goto cleanup;
			fprintf(f, "id,run,accuracy,key\n");
			for (size_t s = 0; s < nslots; s++)
				for (int r = 0; r < st->runs_used[s]; r++)
					fprintf(f, "%s,%d,%.17g,%s\n", s ? mt_plan_at(plan, s - 1)->id : "original",
						r, st->acc[s * (size_t)max_runs + (size_t)r],
						st->keys[s * (size_t)max_runs + (size_t)r]);
			if ((error = report_close(f, dir, "source-runs.csv")) < 0)
				goto cleanup;
		}
		/* Mutants CSV: one row per mutant with its verdict and statistics. */
		{
			FILE *f = NULL;
			if ((error = report_open(&f, dir, "source-mutants.csv")) < 0)
				goto cleanup;
			fprintf(f, "id,operator,status,runs,p_value,p_adjusted,effect_size,original_mean,original_sd,mutant_mean,mutant_sd,mean_kill_probability,trivial,redundant\n");
			for (size_t s2 = 1; s2 < nslots; s2++) {
				json_t *row = json_array_get(json_object_get(report, "mutants_detail"), s2 - 1);
				const char *keys[] = {"p_value", "p_adjusted", "effect_size", "original_mean",
						      "original_sd", "mutant_mean", "mutant_sd",
						      "mean_kill_probability"};
				fprintf(f, "%s,%s,%s,%d", mt_plan_at(plan, s2 - 1)->id, mt_plan_at(plan, s2 - 1)->op,
					verdict_name(st, s2), st->runs_used[s2]);
				for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
					json_t *v = json_object_get(row, keys[k]);
					if (json_is_number(v))
						fprintf(f, ",%.17g", json_number_value(v));
					else
						fputc(',', f);
				}
				fprintf(f, ",%d,%d\n", json_is_true(json_object_get(row, "trivial")),
					json_is_true(json_object_get(row, "redundant")));
			}
			if ((error = report_close(f, dir, "source-mutants.csv")) < 0)
				goto cleanup;
		}
		/* Kill probabilities CSV: one row per mutant, one column per input. */
		{
			FILE *f = NULL;
			if ((error = report_open(&f, dir, "source-kill-probabilities.csv")) < 0)
				goto cleanup;
			fprintf(f, "id");
			for (int64_t t = 0; t < n_test; t++)
				fprintf(f, ",t%lld", (long long)t);
			fputc('\n', f);
			for (size_t s = 1; s < nslots; s++) {
				if (!kills[s])
					continue;
				mt_stats_kill_probabilities(kp, kills[s], (size_t)st->runs_used[s], (size_t)n_test);
				fprintf(f, "%s", mt_plan_at(plan, s - 1)->id);
				for (int64_t t = 0; t < n_test; t++)
					fprintf(f, ",%.4g", kp[t]);
				fputc('\n', f);
			}
			if ((error = report_close(f, dir, "source-kill-probabilities.csv")) < 0)
				goto cleanup;
		}
		/* Stryker schema: the recipe is the mutated artefact. */
		{
			json_t *mutants = json_array(), *root;
			char *rp = mt_io_path_join(dir, "source-stryker.json"), *text;
			for (size_t s = 1; s < nslots; s++) {
				const mt_mutant_desc *d = mt_plan_at(plan, s - 1);
				json_t *m = json_pack("{s:s, s:s, s:s, s:{s:{s:i, s:i}, s:{s:i, s:i}}, s:s}",
						      "id", d->id, "mutatorName", d->op, "replacement", d->params,
						      "location", "start", "line", (int)s, "column", 1,
						      "end", "line", (int)s, "column", 2,
						      "status", verdict_name(st, s));
				json_array_append_new(mutants, m);
			}
			root = json_pack("{s:s, s:{s:i, s:i}, s:{s:{s:s, s:s, s:o}}}", "schemaVersion", "1",
					 "thresholds", "high", 80, "low", 60, "files",
					 cfg->path, "language", "yaml", "source", "",
					 "mutants", mutants);
			{
				/* The source: one line per mutant so that locations point somewhere. */
				size_t len = 0;
				char *src = NULL;
				for (size_t s = 1; s < nslots; s++)
					len += strlen(mt_plan_at(plan, s - 1)->params) + 1;
				if ((src = malloc(len + 1))) {
					char *p = src;
					for (size_t s = 1; s < nslots; s++)
						p += sprintf(p, "%s\n", mt_plan_at(plan, s - 1)->params);
					*p = '\0';
					json_object_set_new(json_object_get(json_object_get(root, "files"), cfg->path),
							    "source", json_string(src));
					free(src);
				}
			}
			text = json_dumps(root, JSON_INDENT(1));
			json_decref(root);
			error = rp && text ? mt_io_write_file_atomic(rp, text, strlen(text))
					   : mt_error_oom();
			free(rp);
			free(text);
			if (error < 0)
				goto cleanup;
		}
		if (o->json_out) {
			if (!(*o->json_out = json_dumps(report, JSON_COMPACT))) {
				error = mt_error_oom();
				goto cleanup;
			}
		} else if (o->json) {
			json_dumpf(report, out, JSON_COMPACT);
			fputc('\n', out);
		} else {
			fprintf(out, "source level: %zu mutants, %zu killed, %zu survived, %zu errors; rule %s, alpha %g, effect size %g%s\n",
				nmut, killed, survived, errors,
				source_rule_name(cfg->src_rule),
				cfg->src_alpha, cfg->src_effect, cfg->src_sequential ? ", sequential" : "");
			fprintf(out, "trainings: %zu used (%zu with a fixed %d-run design, %zu saved), %zu trained now, %zu trained models re-evaluated on a changed test set\n",
				used, fixed, max_runs, fixed - used, ss.trained_now, ss.reevaluated_now);
			{
				double sd_orig, mean_orig = mean_sd(&sd_orig, st->acc, st->runs_used[0]);
				fprintf(out, "original: %d runs, accuracy %.4f +- %.4f\n\n", st->runs_used[0],
					mean_orig, sd_orig);
			}
			fprintf(out, "%-28s %-13s runs  %-16s %9s %7s %s\n", "mutant", "status", "accuracy",
				"p", "d", "notes");
			for (size_t s = 1; s < nslots; s++) {
				json_t *row = json_array_get(json_object_get(report, "mutants_detail"), s - 1);
				double sd;
				double m = mean_sd(&sd, &st->acc[s * (size_t)max_runs], st->runs_used[s]);
				fprintf(out, "%-28s %-13s %4d  %.4f +- %.4f %9.2g %7.2f %s%s\n",
					mt_plan_at(plan, s - 1)->id, verdict_name(st, s), st->runs_used[s], m, sd,
					st->p_adjusted[s], st->test[s].effect_size,
					json_is_true(json_object_get(row, "trivial")) ? "trivial " : "",
					json_is_true(json_object_get(row, "redundant")) ? "redundant" : "");
			}
			if (killed + survived)
				fprintf(out, "\nmutation score (killed / (killed + survived)): %.2f%%\n",
					100.0 * (double)killed / (double)(killed + survived));
			else
				fprintf(out, "\nmutation score (killed / (killed + survived)): -\n");
		}
	}
cleanup:
	if (mus)
		for (size_t s = 0; s < (st ? st->nslots : 0); s++)
			mt_source_mutant_free(mus[s]);
	if (kills)
		for (size_t s = 0; s < (st ? st->nslots : 0); s++)
			free(kills[s]);
	free(kills);
	free(mus);
	free(need);
	free(kp);
	free(pvals);
	free(orig_pred);
	free(mut_pred);
	json_decref(rows);
	json_decref(report);
	json_decref(records);
	mt_resultlog_free(ss.log);
	mt_stats_sequential_free(design);
	slot_table_free(st);
	mt_plan_free(plan);
	mt_plan_free(old);
	mt_dataset_free(train);
	mt_dataset_free(test);
	free(plan_path);
	free(log_path);
	free(setup_path);
	return error;
}

/* ---- calibration: the false-kill rate, and DeepCrime's search ------------ */

/* A sub-directory of the run directory with its own plan, setup and cache
 * (workers read both files at start-up). */
static int prepare_subdir(char **out, const char *dir, const char *name, const mt_plan *plan,
			  const char *digest)
{
	char *sub = mt_io_path_join(dir, name), *cache = NULL, *p = NULL, *text = NULL;
	json_t *setup = NULL;
	int error;

	*out = NULL;
	if (!sub || !(cache = mt_io_path_join(sub, "cache"))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_io_mkdirs(cache)) < 0)
		goto cleanup;
	free(p);
	if (!(p = mt_io_path_join(sub, "source-plan.json"))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_plan_save(plan, p)) < 0)
		goto cleanup;
	free(p);
	setup = json_pack("{s:s}", "data_digest", digest);
	if (!(p = mt_io_path_join(sub, "source-setup.json")) || !(text = json_dumps(setup, JSON_COMPACT))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_io_write_file_atomic(p, text, strlen(text))) < 0)
		goto cleanup;
	*out = sub;
	sub = NULL;
cleanup:
	json_decref(setup);
	free(text);
	free(p);
	free(cache);
	free(sub);
	return error;
}

static int decide_fixed(int *killed, mt_stats_test *t, const mt_config *cfg, const char *dir,
			const slot_table *st, size_t slot_a, int off_a, size_t slot_b, int off_b,
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
			if ((error = load_predictions(pa + (size_t)r * (size_t)n_test, dir,
						      st->keys[slot_a * (size_t)st->max_runs + (size_t)(off_a + r)], n_test)) == 0)
				error = load_predictions(pb + (size_t)r * (size_t)n_test, dir,
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
	if ((error = mt_stats_decide(t, cfg->src_rule == MT_SRC_RULE_WELCH ? MT_STATS_WELCH :
				     cfg->src_rule == MT_SRC_RULE_MANNWHITNEY ? MT_STATS_MANNWHITNEY :
				     MT_STATS_DEEPCRIME, a, b, (size_t)n, cfg->src_alpha,
				     cfg->src_effect)) == 0)
		*killed = t->killed;
	return error;
}

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

int mt_source_false_kill(const mt_config *cfg, const mt_source_run_options *o, int trials)
{
	const char *dir = o->run_dir ? o->run_dir : cfg->run_dir;
	int n = cfg->src_sequential ? cfg->src_max_runs : cfg->src_runs;
	int total = 2 * trials * n, *need = NULL, error;
	mt_plan *plan = NULL;
	mt_dataset *test = NULL;
	slot_table *st = NULL;
	mt_stats_sequential *design = NULL;
	char digest[DIGEST_LEN], *sub = NULL, *log_path = NULL;
	json_t *records = NULL, *res = NULL;
	src_state ss;
	size_t kills = 0, seq_kills = 0, seq_runs = 0;
	FILE *out = o->out ? o->out : stdout;

	memset(&ss, 0, sizeof(ss));
	if (trials < 1 || total >= MT_SOURCE_RUN_STRIDE)
		return mt_error_set(MT_EUSAGE, "--trials must be in [1, %d] for %d runs per group",
				    (MT_SOURCE_RUN_STRIDE - 1) / (2 * n), n);
	if ((error = mt_plan_new(&plan)) < 0)
		return error;
	mt_plan_finish(plan);
	if ((error = data_digest(digest, cfg)) < 0 ||
	    (error = prepare_subdir(&sub, dir, "false-kill", plan, digest)) < 0 ||
	    (error = mt_runner_load_dataset(&test, cfg, MT_SPLIT_TEST)) < 0 ||
	    (error = slot_table_new(&st, 1, total)) < 0)
		goto cleanup;
	for (int r = 0; r < total; r++)
		if ((error = run_key(st->keys[r], cfg, NULL, digest, r)) < 0)
			goto cleanup;
	if (!(log_path = mt_io_path_join(sub, "source-results.jsonl")) || !(need = calloc(1, sizeof(int)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = src_state_open(&ss, &records, log_path, cfg, o, st)) < 0)
		goto cleanup;
	ss.run_dir = sub;
	ss.plan = plan;
	if (o->progress)
		fprintf(o->progress, "false-kill rate: %d trials, each the original's runs %d..%d against %d independent runs of itself (%d trainings)\n",
			trials, 0, n - 1, n, total);
	need[0] = total;
	if ((error = train_missing(&ss, need)) < 0)
		goto cleanup;
	if (st->failed[0]) {
		error = mt_error_set(MT_ERROR, "training the original failed: %s", st->reason[0]);
		goto cleanup;
	}
	if (cfg->src_sequential) {
		if ((error = sequential_design(&design, cfg, n)) < 0)
			goto cleanup;
	}
	for (int j = 0; j < trials; j++) {
		mt_stats_test t;
		int killed = 0;
		if ((error = decide_fixed(&killed, &t, cfg, sub, st, 0, 2 * j * n, 0, 2 * j * n + n, n,
					  mt_dataset_labels(test), mt_dataset_count(test))) < 0)
			goto cleanup;
		kills += (size_t)killed;
		if (design) {
			for (size_t k = 0; k < mt_stats_sequential_looks(design); k++) {
				mt_stats_sequential_result sr;
				size_t nk = mt_stats_sequential_look_n(design, k);
				if ((error = mt_stats_sequential_decide(&sr, design, &st->acc[2 * j * n],
									&st->acc[2 * j * n + n], nk)) < 0)
					goto cleanup;
				if (sr.verdict != MT_STATS_CONTINUE) {
					seq_kills += sr.verdict == MT_STATS_KILLED;
					seq_runs += nk;
					break;
				}
			}
		}
	}
	{
		double lo, hi, rate = wilson(&lo, &hi, kills, (size_t)trials);
		res = json_pack("{s:s, s:i, s:i, s:I, s:f, s:f, s:f, s:f, s:b, s:I}",
				"rule", source_rule_name(cfg->src_rule),
				"trials", trials, "runs_per_group", n, "false_kills", (json_int_t)kills,
				"false_kill_rate", rate, "ci95_low", lo, "ci95_high", hi,
				"alpha", cfg->src_alpha, "consistent_with_alpha", lo <= cfg->src_alpha,
				"trainings", (json_int_t)total);
		if (design) {
			double slo, shi, srate = wilson(&slo, &shi, seq_kills, (size_t)trials);
			json_object_set_new(res, "sequential_false_kills", json_integer((json_int_t)seq_kills));
			json_object_set_new(res, "sequential_false_kill_rate", json_real(srate));
			json_object_set_new(res, "sequential_ci95_high", json_real(shi));
			json_object_set_new(res, "sequential_mean_runs", json_real((double)seq_runs / trials));
		}
		if (o->json) {
			json_dumpf(res, out, JSON_COMPACT);
			fputc('\n', out);
		} else {
			fprintf(out, "rule %s, alpha %g, effect size %g: %zu false kills in %d trials of %d vs %d runs: rate %.3f (95%% CI %.3f-%.3f)%s\n",
				json_string_value(json_object_get(res, "rule")), cfg->src_alpha, cfg->src_effect,
				kills, trials, n, n, rate, lo, hi,
				lo <= cfg->src_alpha ? ", consistent with alpha" : ", ABOVE alpha");
			if (design)
				fprintf(out, "sequential design: %zu false kills (rate %.3f), mean %.1f runs per group\n",
					seq_kills, (double)seq_kills / trials, (double)seq_runs / trials);
		}
	}
cleanup:
	json_decref(res);
	json_decref(records);
	mt_resultlog_free(ss.log);
	mt_stats_sequential_free(design);
	slot_table_free(st);
	mt_dataset_free(test);
	mt_plan_free(plan);
	free(need);
	free(log_path);
	free(sub);
	return error;
}

static void format_value(char *buf, size_t len, double v, int integer)
{
	if (integer)
		snprintf(buf, len, "%lld", (long long)llround(v));
	else
		snprintf(buf, len, "%.6g", v);
}

int mt_source_search(const mt_config *cfg, const mt_source_run_options *o, const char *op,
		     const char *param, double weak, double strong, double precision, int integer)
{
	const char *dir = o->run_dir ? o->run_dir : cfg->run_dir;
	int n = cfg->src_runs, error, *need = NULL;
	mt_dataset *train = NULL, *test = NULL;
	mt_plan *plan = NULL;
	mt_stats_bisection b;
	char digest[DIGEST_LEN], *sub = NULL, *log_path = NULL, subname[256];
	json_t *records = NULL, *steps = json_array(), *res = NULL;
	slot_table *st = NULL;
	src_state ss;
	double value;
	FILE *out = o->out ? o->out : stdout;
	const int max_values = 64;

	memset(&ss, 0, sizeof(ss));
	snprintf(subname, sizeof(subname), "search-%s-%s", op, param);
	if ((error = mt_runner_load_dataset(&train, cfg, MT_SPLIT_TRAIN)) < 0 ||
	    (error = mt_runner_load_dataset(&test, cfg, MT_SPLIT_TEST)) < 0 ||
	    (error = data_digest(digest, cfg)) < 0 ||
	    (error = mt_plan_new(&plan)) < 0 ||
	    (error = slot_table_new(&st, (size_t)max_values + 1, n)) < 0 ||
	    (error = mt_stats_bisection_init(&b, weak < strong ? weak : strong, weak < strong ? strong : weak,
					     precision, weak < strong ? MT_STATS_STRONGER_UP : MT_STATS_STRONGER_DOWN,
					     integer)) < 0)
		goto cleanup;
	if (!(need = calloc((size_t)max_values + 1, sizeof(int)))) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (int r = 0; r < n; r++)
		if ((error = run_key(st->keys[r], cfg, NULL, digest, r)) < 0)
			goto cleanup;
	need[0] = n;
	while (mt_stats_bisection_next(&b, &value) == 0) {
		size_t slot = mt_plan_count(plan) + 1;
		char vbuf[64], id[256];
		mt_config_param p = {(char *)param, vbuf, 0};
		mt_source_mutant *mu = NULL;
		mt_stats_test t;
		int killed = 0;

		if ((int)slot > max_values) {
			error = mt_error_set(MT_ERROR, "the search tried %d values without settling; raise the precision", max_values);
			goto cleanup;
		}
		format_value(vbuf, sizeof(vbuf), value, integer);
		if ((error = mt_source_apply(&mu, cfg, train, op, &p, 1, cfg->mutation_seed)) < 0)
			goto cleanup;
		if (mu->not_applicable) {
			error = mt_error_set(MT_EINVALID, "%s %s=%s makes no mutant: %s", op, param, vbuf, mu->reason);
			mt_source_mutant_free(mu);
			goto cleanup;
		}
		snprintf(id, sizeof(id), "%s-%s=%s", op, param, vbuf);
		error = mt_plan_append(plan, id, op, vbuf, mu->params, mu->seed, 0);
		for (int r = 0; r < n && error == 0; r++)
			error = run_key(st->keys[slot * (size_t)n + (size_t)r], cfg, mu, digest, r);
		mt_source_mutant_free(mu);
		if (error < 0)
			goto cleanup;
		mt_plan_finish(plan);
		free(sub);
		sub = NULL;
		if ((error = prepare_subdir(&sub, dir, subname, plan, digest)) < 0)
			goto cleanup;
		if (!ss.log) {
			if (!(log_path = mt_io_path_join(sub, "source-results.jsonl"))) {
				error = mt_error_oom();
				goto cleanup;
			}
			if ((error = src_state_open(&ss, &records, log_path, cfg, o, st)) < 0)
				goto cleanup;
		}
		ss.run_dir = sub;
		ss.plan = plan;
		need[slot] = n;
		if ((error = train_missing(&ss, need)) < 0)
			goto cleanup;
		if (st->failed[0] || st->failed[slot]) {
			error = mt_error_set(MT_ERROR, "training failed: %s",
					     st->reason[st->failed[0] ? 0 : slot]);
			goto cleanup;
		}
		if ((error = decide_fixed(&killed, &t, cfg, sub, st, 0, 0, slot, 0, n,
					  mt_dataset_labels(test), mt_dataset_count(test))) < 0)
			goto cleanup;
		if ((error = mt_stats_bisection_report(&b, value, killed)) < 0)
			goto cleanup;
		json_array_append_new(steps, json_pack("{s:f, s:b, s:o, s:o}", "value", value, "killed", killed,
						       "p_value", num(t.p_value), "effect_size", num(t.effect_size)));
		if (o->progress)
			fprintf(o->progress, "%s %s=%s: %s (p %.3g, d %.2f)\n", op, param, vbuf,
				killed ? "killed" : "not killed", t.p_value, t.effect_size);
	}
	res = json_pack("{s:s, s:s, s:f, s:f, s:f, s:b, s:o, s:I, s:o}", "operator", op, "parameter", param,
			"from", weak, "to", strong, "precision", precision, "killable", b.found,
			"weakest_killing_value", b.found ? json_real(b.weakest) : json_null(),
			"values_tried", (json_int_t)b.evaluations, "steps", steps);
	steps = NULL;
	if (o->json) {
		json_dumpf(res, out, JSON_COMPACT);
		fputc('\n', out);
	} else if (b.found) {
		fprintf(out, "%s: the weakest killing %s is %.6g (between %.6g, not killed, and %.6g; %zu values tried, %d runs each)\n",
			op, param, b.weakest, b.weak, b.strong, b.evaluations, n);
	} else {
		fprintf(out, "%s: not killed even at %s=%.6g: the operator is not killable in [%g, %g]\n",
			op, param, strong, weak < strong ? weak : strong, weak < strong ? strong : weak);
	}
cleanup:
	json_decref(res);
	json_decref(steps);
	json_decref(records);
	mt_resultlog_free(ss.log);
	slot_table_free(st);
	mt_plan_free(plan);
	mt_dataset_free(train);
	mt_dataset_free(test);
	free(need);
	free(log_path);
	free(sub);
	return error;
}
