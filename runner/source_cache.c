/* The source level's content-keyed training cache: the keys (what a
 * trained model and its predictions depend on) and the files under
 * RUN_DIR/cache. Entries are written atomically, the summary last, so a
 * summary's presence marks a complete entry. */
#include "mutorch/error.h"
#include "mutorch/hash.h"
#include "mutorch/io.h"
#include "mutorch/plan.h"
#include "mutorch/rng.h"
#include "mutorch/shim.h"
#include "external.h"
#include "source_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <time.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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
int mt_src_data_digest(char out[MT_SRC_DIGEST_LEN], const mt_config *cfg)
{
	char train[MT_HASH_HEX], test[MT_HASH_HEX], model[MT_HASH_HEX] = "none", *exe = NULL;
	int error;

	/* Every entry point of the source level takes this digest before it
	 * trains: the place to stop a command that does not exist (exit 3),
	 * before any worker starts it. */
	if (cfg->command) {
		if ((error = mt_ext_resolve_command(&exe, cfg)) < 0)
			return error;
		free(exe);
		if ((error = files_digest(model, cfg->program_files, cfg->nprogram_files)) < 0)
			return mt_error_prefix("%s: 'training.program_files': ", cfg->path);
	}
	if ((error = files_digest(train, cfg->train.paths, cfg->train.npaths)) < 0 ||
	    (error = files_digest(test, cfg->test.paths, cfg->test.npaths)) < 0 ||
	    (cfg->torchscript && !cfg->command && (error = files_digest(model, &cfg->torchscript, 1)) < 0))
		return error;
	snprintf(out, MT_SRC_DIGEST_LEN, "%s:%s:%s", train, test, model);
	return 0;
}

/* The recipe of run `run` of a slot: a copy with the run's seed. */
int mt_src_run_config(mt_config **out, const mt_config *base, const mt_config *orig, int run)
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
int mt_src_run_keys(char train_key[MT_HASH_HEX], char eval_key[MT_HASH_HEX], const mt_config *cfg,
		    const mt_source_mutant *mu, const char *digest, int run)
{
	mt_config *rc = NULL;
	char *recipe = NULL, *text = NULL, tk[MT_HASH_HEX], parts[3][MT_HASH_HEX] = {"", "", ""};
	size_t n;
	int error;

	if (sscanf(digest, "%40[0-9a-f]:%40[0-9a-f]:%40[0-9a-z]", parts[0], parts[1], parts[2]) != 3)
		return mt_error_set(MT_EINVALID, "malformed data digest '%s'", digest);
	if ((error = mt_src_run_config(&rc, mu ? mu->config : cfg, cfg, run)) < 0)
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

int mt_src_run_key(char out[MT_HASH_HEX], const mt_config *cfg, const mt_source_mutant *mu,
		   const char *digest, int run)
{
	return mt_src_run_keys(NULL, out, cfg, mu, digest, run);
}

int mt_src_setup_read(char out[MT_SRC_DIGEST_LEN], const char *run_dir)
{
	char *path = mt_io_path_join(run_dir, "source-setup.json");
	json_error_t jerr;
	json_t *j = path ? json_load_file(path, 0, &jerr) : NULL;
	const char *d = j ? json_string_value(json_object_get(j, "data_digest")) : NULL;
	int error = 0;
	if (!d || strlen(d) >= MT_SRC_DIGEST_LEN)
		error = mt_error_set(MT_EINVALID, "%s: missing or malformed data_digest", path ? path : run_dir);
	else
		snprintf(out, MT_SRC_DIGEST_LEN, "%s", d);
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
int mt_src_cache_save_model(const char *run_dir, const char *key, const mt_module *model,
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

int mt_src_cache_adopt_model(const char *run_dir, const char *key, const char *path,
			     json_t *summary)
{
	char name[128], *p;
	void *buf = NULL;
	size_t len = 0;
	int error = 0;

	snprintf(name, sizeof(name), "cache/%s.pt", key);
	if (!(p = mt_io_path_join(run_dir, name)))
		return mt_error_oom();
	if (rename(path, p) != 0) {
		/* another file system (a cache shared by `mutorch ci`): copy */
		if ((error = mt_io_read_file(&buf, &len, path)) == 0 &&
		    (error = mt_io_write_file_atomic(p, buf, len)) == 0)
			unlink(path);
		free(buf);
	}
	free(p);
	if (error < 0)
		return error;
	snprintf(name, sizeof(name), "cache/%s.train.json", key);
	return write_cache_json(run_dir, name, summary);
}

/* Is the holder written in the lock file gone? */
static int lock_is_stale(const char *path, const char *host)
{
	char buf[160] = "", other[80] = "";
	long pid = 0, limit = 86400;
	const char *env = getenv("MUTORCH_LOCK_STALE");
	struct stat st;
	FILE *f;

	if (env && atol(env) > 0)
		limit = atol(env);
	if (stat(path, &st) != 0)
		return 0; /* released meanwhile: try again */
	if ((f = fopen(path, "r"))) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	if (sscanf(buf, "%ld %79s", &pid, other) == 2 && !strcmp(other, host) && pid > 0)
		return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
	/* another host's (or a holder still writing its name): by age */
	return difftime(time(NULL), st.st_mtime) > (double)limit;
}

int mt_src_lock(int *fd, const char *path)
{
	char host[64] = "", line[128];
	unsigned waited = 0;

	*fd = -1;
	gethostname(host, sizeof(host) - 1);
	for (;;) {
		int f = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (f >= 0) {
			int n = snprintf(line, sizeof(line), "%ld %s\n", (long)getpid(), host);
			if (write(f, line, (size_t)n) != n || fsync(f) != 0) {
				int e = errno;
				close(f);
				unlink(path);
				return mt_error_set(MT_EIO, "%s: cannot write the lock: %s", path, strerror(e));
			}
			*fd = f;
			return 0;
		}
		if (errno != EEXIST)
			return mt_error_set(MT_EIO, "%s: cannot create the lock: %s", path, strerror(errno));
		if (lock_is_stale(path, host)) {
			/* Two waiters may judge it stale at once; the worst case
			 * is one training done twice, with the same result. */
			fprintf(stderr, "mutorch: %s: stale lock (its holder is gone): taken over\n", path);
			unlink(path);
			continue;
		}
		/* Someone else trains this key: wait, 0.1 s growing to 2 s. */
		{
			unsigned ms = waited < 20 ? 100 : 2000;
			struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
			waited++;
		}
	}
}

void mt_src_unlock(int fd, const char *path)
{
	if (fd < 0)
		return;
	unlink(path);
	close(fd);
}

/* Its test predictions: cache/EVAL_KEY.pred, then cache/EVAL_KEY.json. */
int mt_src_cache_save_eval(const char *run_dir, const char *key, const int64_t *pred, int64_t n,
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
int mt_src_cache_load_model(mt_module **model, json_t **summary, const char *run_dir, const char *key)
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

int mt_src_cache_accuracy(double *acc, const char *run_dir, const char *key)
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
	/* A summary that is not this key's, or whose accuracy is not a
	 * number in [0, 1], is damaged: not cached, so trained again. */
	{
		json_t *a = json_object_get(j, "accuracy");
		const char *k = json_string_value(json_object_get(j, "key"));
		double v = json_is_number(a) ? json_number_value(a) : NAN;
		int ok = k && !strcmp(k, key) && v >= 0 && v <= 1;
		json_decref(j);
		if (!ok)
			return 0;
		*acc = v;
	}
	return 1;
}

int mt_src_cache_predictions(int64_t *pred, const char *run_dir, const char *key, int64_t n)
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


int mt_src_setup_write(const char *dir, const char *digest)
{
	char *path = mt_io_path_join(dir, "source-setup.json"), *text = NULL;
	json_t *setup = json_pack("{s:s}", "data_digest", digest);
	int error;

	if (!path || !setup || !(text = json_dumps(setup, JSON_COMPACT)))
		error = mt_error_oom();
	else
		error = mt_io_write_file_atomic(path, text, strlen(text));
	json_decref(setup);
	free(text);
	free(path);
	return error;
}

int mt_src_prepare_dir(const char *dir, const char *cache_dir)
{
	char *cache = mt_io_path_join(dir, "cache"), target[PATH_MAX], have[PATH_MAX];
	struct stat st;
	ssize_t n;
	int error;

	if (!cache)
		return mt_error_oom();
	if (!cache_dir) {
		error = mt_io_mkdirs(cache);
		goto cleanup;
	}
	if ((error = mt_io_mkdirs(dir)) < 0 || (error = mt_io_mkdirs(cache_dir)) < 0)
		goto cleanup;
	if (!realpath(cache_dir, target)) {
		error = mt_error_set(MT_EIO, "%s: cannot resolve the cache directory: %s", cache_dir, strerror(errno));
		goto cleanup;
	}
	if (lstat(cache, &st) == 0 && !S_ISLNK(st.st_mode)) {
		error = mt_error_set(MT_EINVALID, "%s is a cache of its own, not a link to the shared cache %s: "
				     "move its entries there (they are keyed by content) and remove it", cache, target);
		goto cleanup;
	}
	if ((n = readlink(cache, have, sizeof(have) - 1)) >= 0) {
		have[n] = '\0';
		if (!strcmp(have, target))
			goto cleanup;
		unlink(cache); /* another shared cache than last time */
	}
	if (symlink(target, cache) < 0 && errno != EEXIST)
		error = mt_error_set(MT_EIO, "%s: cannot link the shared cache %s: %s", cache, target, strerror(errno));
cleanup:
	free(cache);
	return error;
}

int mt_src_subdir(char **out, const char *dir, const char *name, const mt_plan *plan,
		  const char *digest)
{
	char *sub = mt_io_path_join(dir, name), *p = NULL;
	int error;

	*out = NULL;
	if (!sub || !(p = mt_io_path_join(sub, "source-plan.json"))) {
		error = mt_error_oom();
		goto cleanup;
	}
	if ((error = mt_src_prepare_dir(sub, NULL)) < 0 || (error = mt_plan_save(plan, p)) < 0 ||
	    (error = mt_src_setup_write(sub, digest)) < 0)
		goto cleanup;
	*out = sub;
	sub = NULL;
cleanup:
	free(p);
	free(sub);
	return error;
}
