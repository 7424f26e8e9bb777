/* The Stryker mutation-testing-report-schema writer (schemaVersion "1"),
 * so that mutation-testing-elements renders a mutorch run: the mutated
 * artefact (model or config) is the one "file", test inputs are the tests. */
#include "internal.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"
#include "mutorch/report.h"
#include "mutorch/strbuf.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef MUTORCH_VERSION
#define MUTORCH_VERSION "unknown"
#endif

void mt_stryker_options_init(mt_stryker_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->file_name = "model";
	opts->language = "text";
	opts->test_file_name = "test-set";
	opts->threshold_high = 80;
	opts->threshold_low = 60;
}

typedef struct {
	const char *layer;
	size_t line, column, end_column; /* 1-based; end exclusive */
} layer_location;

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.';
}

/* The first whole-word occurrence of name in the source; line 1 column 1
 * to the end of line 1 when there is none. */
static layer_location locate(const char *source, const char *name)
{
	layer_location loc = {name, 1, 1, 1};
	size_t n = strlen(name), line = 1;
	const char *line_start = source, *p;

	if (n) {
		for (p = source; (p = strstr(p, name)) != NULL; p++) {
			int left_ok = p == source || !is_name_char(p[-1]) ||
				      !is_name_char(name[0]);
			int right_ok = !is_name_char(p[n]) ||
				       !is_name_char(name[n - 1]);
			if (!left_ok || !right_ok)
				continue;
			for (const char *q = line_start; q < p; q++) {
				if (*q == '\n') {
					line++;
					line_start = q + 1;
				}
			}
			if (memchr(p, '\n', n))
				continue; /* a name never spans lines */
			loc.line = line;
			loc.column = (size_t)(p - line_start) + 1;
			loc.end_column = loc.column + n;
			return loc;
		}
	}
	p = strchr(source, '\n');
	loc.end_column = (p ? (size_t)(p - source) : strlen(source)) + 1;
	return loc;
}

static json_t *position(size_t line, size_t column)
{
	return json_pack("{s:I,s:I}", "line", (json_int_t)line, "column",
			 (json_int_t)column);
}

static char *default_source(const mt_killmatrix *km)
{
	mt_strbuf t = MT_STRBUF_INIT;
	const char **seen = malloc((km->n_mutants ? km->n_mutants : 1) *
				   sizeof(char *));
	size_t n_seen = 0;
	if (!seen)
		return NULL;
	mt_strbuf_puts(&t, "# layers of the model that mutorch mutated\n");
	for (size_t m = 0; m < km->n_mutants; m++) {
		const char *layer = km->mutants[m]->layer;
		size_t i;
		for (i = 0; i < n_seen && strcmp(seen[i], layer) != 0; i++)
			;
		if (i < n_seen)
			continue;
		seen[n_seen++] = layer;
		mt_strbuf_printf(&t, "layer %s\n", layer);
	}
	free(seen);
	{
		char *text = NULL;
		mt_strbuf_detach(&text, &t);
		return text;
	}
}

static void test_ids(json_t *arr, const mt_killmatrix *km, const uint64_t *bits,
		     size_t cap)
{
	char id[32];
	size_t count = 0;
	for (size_t t = 0; t < km->n_inputs; t++) {
		if (!km_bit(bits, t))
			continue;
		if (cap && count == cap)
			break;
		snprintf(id, sizeof(id), "t%zu", t);
		json_array_append_new(arr, json_string(id));
		count++;
	}
}

static json_t *mutant_json(const mt_killmatrix *km, const mt_km_mutant *mu,
			   int filtered, const layer_location *loc,
			   const mt_stryker_options *o, unsigned char *seen)
{
	json_t *j = json_object(), *loc_j;
	char seed[32], *text = NULL;
	size_t len;
	mt_mutant_status status = filtered ? MT_MUTANT_IGNORED : mu->rec.status;

	if (!j)
		return NULL;
	snprintf(seed, sizeof(seed), "%" PRIu64, mu->rec.seed);
	json_object_set_new(j, "id", json_string(mu->id));
	json_object_set_new(j, "mutatorName", json_string(mu->operator_name));
	json_object_set_new(j, "replacement", json_string(mu->params[0] ?
							  mu->params :
							  mu->operator_name));
	len = strlen(mu->operator_name) + strlen(mu->layer) + strlen(mu->params) + 64;
	if ((text = malloc(len))) {
		snprintf(text, len, "%s on %s%s%s, seed %s", mu->operator_name,
			 mu->layer, mu->params[0] ? ": " : "", mu->params, seed);
		json_object_set_new(j, "description", json_string(text));
		free(text);
		text = NULL;
	}
	loc_j = json_object();
	json_object_set_new(loc_j, "start", position(loc->line, loc->column));
	json_object_set_new(loc_j, "end", position(loc->line, loc->end_column));
	json_object_set_new(j, "location", loc_j);
	json_object_set_new(j, "status", json_string(mt_mutant_status_name(status)));

	char reason[512];
	reason[0] = '\0';
	if (filtered)
		snprintf(reason, sizeof(reason), "too easy, left out of the score: "
			 "accuracy %.4f < %.2f x original accuracy %.4f",
			 mu->rec.accuracy, km->accuracy_filter,
			 mt_killmatrix_original_accuracy(km));
	else if (mu->status_reason)
		snprintf(reason, sizeof(reason), "%s", mu->status_reason);
	else if (mu->predictions)
		snprintf(reason, sizeof(reason), "killed by %zu of %zu correctly "
			 "classified test inputs (%zu classes); accuracy %.4f",
			 mu->kill_count, km->n_correct,
			 km_killed_classes(km, mu, seen), mu->rec.accuracy);
	if (reason[0])
		json_object_set_new(j, "statusReason", json_string(reason));

	if (mu->predictions && !filtered) {
		json_t *killed_by = json_array();
		test_ids(killed_by, km, mu->kills, o->max_killed_by);
		json_object_set_new(j, "killedBy", killed_by);
		json_object_set_new(j, "testsCompleted",
				    json_integer((json_int_t)km->n_correct));
		if (o->covered_by) {
			json_t *covered_by = json_array();
			test_ids(covered_by, km, km->correct_bits, o->max_covered_by);
			json_object_set_new(j, "coveredBy", covered_by);
		}
	}
	if (isfinite(mu->rec.seconds) && mu->rec.seconds >= 0)
		json_object_set_new(j, "duration", json_real(mu->rec.seconds * 1000.0));
	return j;
}

int mt_killmatrix_stryker_string(char **out, const mt_killmatrix *km,
				 const mt_stryker_options *opts)
{
	mt_stryker_options o;
	json_t *root = NULL, *files, *file, *mutants, *tests, *test_file, *config;
	char *generated = NULL;
	const char *source;
	layer_location *locs = NULL;
	size_t n_locs = 0;
	unsigned char *seen = NULL;
	int error = 0;

	*out = NULL;
	if (opts)
		o = *opts;
	else
		mt_stryker_options_init(&o);
	if (!o.file_name || !o.file_name[0] || !o.test_file_name ||
	    !o.test_file_name[0] || !o.language)
		return mt_error_set(MT_EINVALID, "Stryker report: file_name, "
				    "test_file_name and language are required");
	if (o.threshold_low < 0 || o.threshold_high > 100 ||
	    o.threshold_low > o.threshold_high)
		return mt_error_set(MT_EINVALID, "Stryker report: thresholds low %d, "
				    "high %d, expected 0 <= low <= high <= 100",
				    o.threshold_low, o.threshold_high);
	if (!(source = o.source) && !(source = generated = default_source(km)))
		goto oom;
	if (!km_utf8_valid(source)) {
		error = mt_error_set(MT_EINVALID, "Stryker report: the source text "
				     "is not valid UTF-8, expected UTF-8");
		goto cleanup;
	}
	locs = malloc((km->n_mutants ? km->n_mutants : 1) * sizeof(*locs));
	seen = malloc((size_t)km->num_classes);
	if (!locs || !seen || !(root = json_object()))
		goto oom;

	json_object_set_new(root, "schemaVersion", json_string("1"));
	json_object_set_new(root, "thresholds",
			    json_pack("{s:i,s:i}", "high", o.threshold_high,
				      "low", o.threshold_low));
	json_object_set_new(root, "framework",
			    json_pack("{s:s,s:s}", "name", "mutorch", "version",
				      MUTORCH_VERSION));
	config = json_object();
	json_object_set_new(config, "accuracy_filter", json_real(km->accuracy_filter));
	for (size_t i = 0; i < km->n_meta; i++)
		json_object_set_new(config, km->meta_keys[i],
				    json_string(km->meta_values[i]));
	json_object_set_new(root, "config", config);

	mutants = json_array();
	for (size_t m = 0; m < km->n_mutants; m++) {
		const mt_km_mutant *mu = km->mutants[m];
		size_t i;
		for (i = 0; i < n_locs && strcmp(locs[i].layer, mu->layer) != 0; i++)
			;
		if (i == n_locs)
			locs[n_locs++] = locate(source, mu->layer);
		if (json_array_append_new(mutants,
					  mutant_json(km, mu, km_mutant_filtered(km, mu),
						      &locs[i], &o, seen)) < 0) {
			json_decref(mutants);
			goto oom;
		}
	}
	file = json_object();
	json_object_set_new(file, "language", json_string(o.language));
	json_object_set_new(file, "source", json_string(source));
	json_object_set_new(file, "mutants", mutants);
	files = json_object();
	json_object_set_new(files, o.file_name, file);
	json_object_set_new(root, "files", files);

	tests = json_array();
	for (size_t t = 0; t < km->n_inputs; t++) {
		char id[32], name[128];
		snprintf(id, sizeof(id), "t%zu", t);
		if (km_bit(km->correct_bits, t))
			snprintf(name, sizeof(name), "test input %zu (class %u)", t,
				 (unsigned)km->classes[t]);
		else
			snprintf(name, sizeof(name), "test input %zu (class %u, the "
				 "original predicts %u: cannot kill)", t,
				 (unsigned)km->classes[t], (unsigned)km->original[t]);
		json_array_append_new(tests, json_pack("{s:s,s:s}", "id", id,
						       "name", name));
	}
	test_file = json_object();
	json_object_set_new(test_file, "tests", tests);
	json_object_set_new(root, "testFiles",
			    json_pack("{s:o}", o.test_file_name, test_file));

	if (!(*out = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER |
				JSON_REAL_PRECISION(17))))
		goto oom;
	goto cleanup;
oom:
	error = mt_error_set(MT_ENOMEM, "Stryker report: out of memory");
cleanup:
	json_decref(root);
	free(generated);
	free(locs);
	free(seen);
	return error;
}

int mt_killmatrix_write_stryker(const mt_killmatrix *km, const char *path,
				const mt_stryker_options *opts)
{
	char *text;
	int error;
	if ((error = mt_killmatrix_stryker_string(&text, km, opts)) < 0)
		return mt_error_prefix("%s: ", path);
	error = mt_io_write_file_atomic(path, text, strlen(text));
	free(text);
	return error;
}
