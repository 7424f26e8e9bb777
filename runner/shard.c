/* Shards (see shard.h): the deal by expected cost, the shard files, and
 * the merge, which copies the shards' results into one run directory and
 * lets the ordinary run build the kill matrix and the reports there. */
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/modelrun.h"
#include "mutorch/plan.h"
#include "mutorch/resultlog.h"
#include "mutorch/shard.h"
#include "mutorch/sourcerun.h"
#include "source_internal.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mt_shard_parse(int *k, int *n, const char *text)
{
	char *end;
	long a, b;

	*k = *n = 0;
	a = strtol(text, &end, 10);
	if (end == text || *end != '/')
		goto bad;
	b = strtol(end + 1, &end, 10);
	if (*end || a < 1 || b < 1 || a > b || b > MT_SHARD_MAX)
		goto bad;
	*k = (int)a;
	*n = (int)b;
	return 0;
bad:
	return mt_error_set(MT_EINVALID, "--shard: expected K/N with 1 <= K <= N <= %d, got '%s'",
			    MT_SHARD_MAX, text);
}

typedef struct {
	double cost;
	size_t index;
} cost_item;

static int by_cost_desc(const void *a, const void *b)
{
	const cost_item *x = a, *y = b;
	if (x->cost != y->cost)
		return x->cost > y->cost ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Longest processing time first: within 4/3 of the best static deal. */
int mt_shard_assign(int *owner, const double *cost, size_t count, int nshards)
{
	cost_item *items = malloc(sizeof(*items) * (count ? count : 1));
	double *load = calloc((size_t)(nshards > 0 ? nshards : 1), sizeof(double));

	if (!items || !load) {
		free(items);
		free(load);
		return mt_error_oom();
	}
	for (size_t i = 0; i < count; i++) {
		items[i].cost = cost[i] > 0 ? cost[i] : 0;
		items[i].index = i;
	}
	qsort(items, count, sizeof(*items), by_cost_desc);
	for (size_t i = 0; i < count; i++) {
		int best = 0;
		for (int s = 1; s < nshards; s++)
			if (load[s] < load[best])
				best = s;
		owner[items[i].index] = best;
		load[best] += items[i].cost;
	}
	free(items);
	free(load);
	return 0;
}

static json_t *shard_json(const char *level, int k, int n, const mt_plan *plan, const int *owner,
			  const double *cost)
{
	json_t *ids = json_array(), *costs = json_array();
	json_t *j = json_pack("{s:i, s:s, s:i, s:i, s:s}", "format", 1, "level", level, "shard", k,
			      "of", n, "plan_digest", mt_plan_digest(plan));
	if (!ids || !j || !costs) {
		json_decref(ids);
		json_decref(costs);
		json_decref(j);
		return NULL;
	}
	for (size_t i = 0; i < mt_plan_count(plan); i++) {
		if (owner[i] == k - 1)
			json_array_append_new(ids, json_string(mt_plan_at(plan, i)->id));
		/* rounded: the file is compared on resume, the figures need no
		 * more digits */
		json_array_append_new(costs, json_real(round(cost[i] * 1e6) / 1e6));
	}
	json_object_set_new(j, "mutants", ids);
	json_object_set_new(j, "expected_cost", costs);
	return j;
}

int mt_shard_record(const char *dir, const char *name, const char *level, int k, int n,
		    const mt_plan *plan, const int *owner, const double *cost)
{
	char *path = mt_io_path_join(dir, name), *text = NULL;
	json_t *want = shard_json(level, k, n, plan, owner, cost), *have = NULL;
	json_error_t jerr;
	int error = 0;

	if (!path || !want) {
		error = mt_error_oom();
		goto cleanup;
	}
	if (access(path, F_OK) == 0) {
		if (!(have = json_load_file(path, 0, &jerr))) {
			error = mt_error_set(MT_EINVALID, "%s:%d: not JSON (%s): a shard file was expected",
					     path, jerr.line, jerr.text);
		} else if (!json_equal(have, want)) {
			error = mt_error_set(MT_EINVALID, "%s: this directory holds shard %lld/%lld of plan %.12s, not "
					     "shard %d/%d of plan %.12s; use one run directory per shard (or --force)",
					     path, (long long)json_integer_value(json_object_get(have, "shard")),
					     (long long)json_integer_value(json_object_get(have, "of")),
					     json_string_value(json_object_get(have, "plan_digest")) ?
					     json_string_value(json_object_get(have, "plan_digest")) : "?",
					     k, n, mt_plan_digest(plan));
		}
		goto cleanup;
	}
	if (!(text = json_dumps(want, JSON_INDENT(1))))
		error = mt_error_oom();
	else
		error = mt_io_write_file_atomic(path, text, strlen(text));
cleanup:
	json_decref(want);
	json_decref(have);
	free(text);
	free(path);
	return error;
}

/* ---- merge ---------------------------------------------------------------- */

/* Every directory's shard file of this level (*found: how many have one);
 * checked as one set: one plan, one n, each k once, none missing. */
static int check_set(json_t **info, size_t *found, char *const *dirs, size_t ndirs,
		     const char *name, const char *plan_name)
{
	size_t first = ndirs;
	long long of = 0;
	const char *digest = NULL;
	int error = 0;
	mt_plan *plan = NULL;

	*found = 0;
	for (size_t i = 0; i < ndirs; i++) {
		char *p = mt_io_path_join(dirs[i], name);
		json_error_t jerr;
		if (!p)
			return mt_error_oom();
		info[i] = access(p, F_OK) == 0 ? json_load_file(p, 0, &jerr) : NULL;
		if (access(p, F_OK) == 0 && (!info[i] || !json_is_array(json_object_get(info[i], "mutants")) ||
					     !json_is_string(json_object_get(info[i], "plan_digest")))) {
			error = mt_error_set(MT_EINVALID, "%s: not a shard file (expected a JSON object with "
					     "'shard', 'of', 'plan_digest' and 'mutants')", p);
			free(p);
			return error;
		}
		free(p);
		if (info[i] && first == ndirs)
			first = i;
		*found += info[i] != NULL;
	}
	if (*found == 0)
		return 0;
	for (size_t i = 0; i < ndirs; i++) {
		if (!info[i])
			return mt_error_set(MT_EINVALID, "%s: no %s, though %s has one: not a shard of the same "
					    "`mutorch run --shard K/N`", dirs[i], name, dirs[first]);
		if (i == first) {
			of = json_integer_value(json_object_get(info[i], "of"));
			digest = json_string_value(json_object_get(info[i], "plan_digest"));
			continue;
		}
		if (json_integer_value(json_object_get(info[i], "of")) != of ||
		    strcmp(json_string_value(json_object_get(info[i], "plan_digest")), digest) != 0)
			return mt_error_set(MT_EINVALID, "%s is shard %lld/%lld of plan %.12s, but %s is of %lld "
					    "shards of plan %.12s: shards of different plans (configs, models or "
					    "shard counts) cannot be merged", dirs[i],
					    (long long)json_integer_value(json_object_get(info[i], "shard")),
					    (long long)json_integer_value(json_object_get(info[i], "of")),
					    json_string_value(json_object_get(info[i], "plan_digest")), dirs[first],
					    of, digest);
		for (size_t j = first; j < i; j++)
			if (info[j] && json_integer_value(json_object_get(info[j], "shard")) ==
					   json_integer_value(json_object_get(info[i], "shard")))
				return mt_error_set(MT_EINVALID, "%s and %s are both shard %lld/%lld: overlapping "
						    "shards cannot be merged", dirs[j], dirs[i],
						    (long long)json_integer_value(json_object_get(info[i], "shard")), of);
	}
	if ((long long)ndirs == of)
		return 0;
	{
		/* Name what is missing: the shards and the plan's mutants no
		 * directory holds. */
		char *pp = mt_io_path_join(dirs[first], plan_name);
		json_t *have = json_object();
		size_t nmiss = 0;
		char msg[4096];
		size_t used = 0;
		used += (size_t)snprintf(msg, sizeof(msg), "%zu of %lld shards given; missing shard", ndirs, of);
		for (long long k = 1; k <= of && used < sizeof(msg) - 64; k++) {
			int seen = 0;
			for (size_t i = 0; i < ndirs; i++)
				seen |= json_integer_value(json_object_get(info[i], "shard")) == k;
			if (!seen)
				used += (size_t)snprintf(msg + used, sizeof(msg) - used, " %lld/%lld", k, of);
		}
		if (pp && have && mt_plan_load(&plan, pp) == 0) {
			for (size_t i = 0; i < ndirs; i++) {
				size_t j;
				json_t *id;
				json_array_foreach(json_object_get(info[i], "mutants"), j, id)
					json_object_set(have, json_string_value(id), json_true());
			}
			used += (size_t)snprintf(msg + used, sizeof(msg) - used, "; their mutants:");
			for (size_t i = 0; i < mt_plan_count(plan); i++) {
				if (json_object_get(have, mt_plan_at(plan, i)->id))
					continue;
				if (nmiss++ < 20 && used < sizeof(msg) - 64)
					used += (size_t)snprintf(msg + used, sizeof(msg) - used, " %s",
								 mt_plan_at(plan, i)->id);
			}
			if (nmiss > 20 && used < sizeof(msg) - 32)
				snprintf(msg + used, sizeof(msg) - used, " (and %zu more)", nmiss - 20);
		}
		mt_error_clear();
		error = mt_error_set(MT_EINVALID, "%s", msg);
		json_decref(have);
		free(pp);
		mt_plan_free(plan);
		return error;
	}
}

/* The ids of a shard file's "mutants", as a set. */
static json_t *id_set(const json_t *info)
{
	json_t *set = json_object(), *id;
	size_t i;
	if (!set)
		return NULL;
	json_array_foreach(json_object_get(info, "mutants"), i, id)
		if (json_is_string(id))
			json_object_set_new(set, json_string_value(id), json_true());
	return set;
}

/* Model level: a shard whose mutants are not all recorded, by name. */
static int unfinished(const char *dir, const json_t *info, json_t *missing)
{
	char msg[2048];
	size_t used, shown = 0, j;
	json_t *id;

	used = (size_t)snprintf(msg, sizeof(msg), "%s (shard %lld/%lld) has not finished: %zu of its %zu mutants "
				"have no result:", dir, (long long)json_integer_value(json_object_get(info, "shard")),
				(long long)json_integer_value(json_object_get(info, "of")), json_object_size(missing),
				json_array_size(json_object_get(info, "mutants")));
	json_array_foreach(json_object_get(info, "mutants"), j, id) {
		if (!json_object_get(missing, json_string_value(id)))
			continue;
		if (shown++ == 20 || used >= sizeof(msg) - 80) {
			used += (size_t)snprintf(msg + used, sizeof(msg) - used, " ...");
			break;
		}
		used += (size_t)snprintf(msg + used, sizeof(msg) - used, " %s", json_string_value(id));
	}
	snprintf(msg + used, sizeof(msg) - used, "; run it again (it resumes), then merge");
	return mt_error_set(MT_EINVALID, "%s", msg);
}

/* A fresh log at out/log_name holding the records of every shard's log
 * that belong to that shard (and, extra_id, the shared original's runs). */
static int merge_logs(const char *out, const char *log_name, char *const *dirs, size_t ndirs,
		      json_t **info, const char *unique_key, const char *extra_id)
{
	mt_resultlog_schema schema = {NULL, NULL, unique_key};
	mt_resultlog_contents contents;
	mt_resultlog *log = NULL;
	char *path = mt_io_path_join(out, log_name);
	int error;

	memset(&contents, 0, sizeof(contents));
	if (!path)
		return mt_error_oom();
	unlink(path);
	error = mt_resultlog_open(&log, &contents, path, &schema);
	mt_resultlog_contents_dispose(&contents);
	for (size_t i = 0; i < ndirs && error == 0; i++) {
		char *p = mt_io_path_join(dirs[i], log_name);
		json_t *ids = id_set(info[i]), *rec;
		void *buf = NULL;
		size_t len = 0, j;

		if (!p || !ids) {
			error = mt_error_oom();
		} else if (access(p, F_OK) == 0 && (error = mt_io_read_file(&buf, &len, p)) == 0 &&
			   (error = mt_resultlog_parse(&contents, buf, len, p, &schema)) == 0) {
			json_array_foreach(contents.records, j, rec) {
				const char *id = json_string_value(json_object_get(rec, "id"));
				if (!id || (!json_object_get(ids, id) && !(extra_id && !strcmp(id, extra_id))))
					continue;
				if ((error = mt_resultlog_append(log, rec)) < 0)
					break;
				json_object_del(ids, id);
			}
		}
		if (error == 0 && unique_key && json_object_size(ids) > 0)
			error = unfinished(dirs[i], info[i], ids);
		mt_resultlog_contents_dispose(&contents);
		memset(&contents, 0, sizeof(contents));
		free(buf);
		free(p);
		json_decref(ids);
	}
	mt_resultlog_free(log);
	free(path);
	return error;
}

/* The shard's plan file copied to out (the run there checks it against
 * the config's plan). */
static int copy_plan(const char *out, const char *dir, const char *name)
{
	char *from = mt_io_path_join(dir, name), *to = mt_io_path_join(out, name);
	mt_plan *plan = NULL;
	int error = from && to ? 0 : mt_error_oom();

	if (error == 0 && (error = mt_plan_load(&plan, from)) == 0)
		error = mt_plan_save(plan, to);
	mt_plan_free(plan);
	free(from);
	free(to);
	return error;
}

static int refuse_shard_out(const char *out, const char *name)
{
	char *p = mt_io_path_join(out, name);
	int error = 0;
	if (!p)
		return mt_error_oom();
	if (access(p, F_OK) == 0)
		error = mt_error_set(MT_EINVALID, "%s holds %s: the merge goes into a directory of its own, "
				     "not into a shard", out, name);
	free(p);
	return error;
}

/* The evaluations (cache/KEY.pred, then cache/KEY.json) of dir's cache
 * that out's lacks; the trained models stay where they are (the verdicts
 * need only the predictions). */
static int copy_cache_entries(const char *out, const char *dir)
{
	char *from = mt_io_path_join(dir, "cache"), *to = mt_io_path_join(out, "cache");
	char rf[PATH_MAX], rt[PATH_MAX];
	int error = from && to ? 0 : mt_error_oom();

	if (error == 0 && realpath(from, rf) && realpath(to, rt) && strcmp(rf, rt) == 0)
		goto cleanup; /* one shared cache */
	for (int pass = 0; pass < 2 && error == 0; pass++) {
		const char *ext = pass == 0 ? ".pred" : ".json";
		DIR *d = opendir(from);
		struct dirent *e;
		if (!d)
			break; /* a shard that trained nothing */
		while (error == 0 && (e = readdir(d))) {
			size_t n = strlen(e->d_name), m = strlen(ext);
			char *src, *dst;
			void *buf = NULL;
			size_t len = 0;
			if (n <= m || strcmp(e->d_name + n - m, ext) != 0 ||
			    (pass == 1 && n > 11 && !strcmp(e->d_name + n - 11, ".train.json")) ||
			    strchr(e->d_name, '/'))
				continue;
			src = mt_io_path_join(from, e->d_name);
			dst = mt_io_path_join(to, e->d_name);
			if (!src || !dst)
				error = mt_error_oom();
			else if (access(dst, F_OK) != 0 && (error = mt_io_read_file(&buf, &len, src)) == 0)
				error = mt_io_write_file_atomic(dst, buf, len);
			free(buf);
			free(src);
			free(dst);
		}
		closedir(d);
	}
cleanup:
	free(from);
	free(to);
	return error;
}

int mt_shard_merge(mt_killmatrix **km, mt_source_results **sres, const mt_config *cfg,
		   const char *out, char *const *dirs, size_t ndirs, const mt_run_options *o)
{
	json_t **minfo = calloc(ndirs + 1, sizeof(json_t *)), **sinfo = calloc(ndirs + 1, sizeof(json_t *));
	size_t nmodel = 0, nsource = 0;
	mt_run_options mo = *o;
	int error;

	*km = NULL;
	*sres = NULL;
	if (!minfo || !sinfo) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = check_set(minfo, &nmodel, dirs, ndirs, "shard.json", "plan.json")) < 0 ||
	    (error = check_set(sinfo, &nsource, dirs, ndirs, "source-shard.json", "source-plan.json")) < 0)
		goto cleanup;
	if (nmodel == 0 && nsource == 0) {
		error = mt_error_set(MT_EINVALID, "%s: no shard.json or source-shard.json: not the run directory "
				     "of a `mutorch run --shard K/N`", dirs[0]);
		goto cleanup;
	}
	if ((error = mt_io_mkdirs(out)) < 0)
		goto cleanup;
	mo.run_dir = out;
	mo.merge_only = 1;
	mo.in_process = 1;
	mo.force = 0;
	mo.shard_index = mo.shard_count = 0;
	if (nmodel > 0) {
		if ((error = refuse_shard_out(out, "shard.json")) < 0 ||
		    (error = copy_plan(out, dirs[0], "plan.json")) < 0 ||
		    (error = merge_logs(out, "results.jsonl", dirs, ndirs, minfo, "id", NULL)) < 0 ||
		    (error = mt_model_run(km, cfg, &mo)) < 0)
			goto cleanup;
	}
	if (nsource > 0) {
		if ((error = refuse_shard_out(out, "source-shard.json")) < 0 ||
		    (error = mt_src_prepare_dir(out, o->cache_dir)) < 0 ||
		    (error = copy_plan(out, dirs[0], "source-plan.json")) < 0 ||
		    (error = merge_logs(out, "source-results.jsonl", dirs, ndirs, sinfo, NULL, "original")) < 0)
			goto cleanup;
		for (size_t i = 0; i < ndirs && error == 0; i++)
			error = copy_cache_entries(out, dirs[i]);
		if (error < 0 || (error = mt_source_run(sres, cfg, &mo)) < 0)
			goto cleanup;
	}
cleanup:
	for (size_t i = 0; minfo && sinfo && i < ndirs; i++) {
		json_decref(minfo[i]);
		json_decref(sinfo[i]);
	}
	free(minfo);
	free(sinfo);
	return error;
}
