/* Report writers: terminal table, JSON, CSV (kills, predictions, inputs). */
#include "internal.h"
#include "mutorch/analysis.h"
#include "mutorch/csv.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"
#include "mutorch/report.h"
#include "mutorch/scores.h"
#include "mutorch/strbuf.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- terminal table -------------------------------------------------- */

static void percent(char *buf, size_t size, double v)
{
	if (isnan(v))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.2f%%", 100.0 * v);
}

static int name_width(const mt_score_row *rows, size_t n, const char *title)
{
	size_t w = strlen(title);
	for (size_t i = 0; i < n; i++)
		if (strlen(rows[i].name) > w)
			w = strlen(rows[i].name);
	return (int)(w > 40 ? 40 : w);
}

static void table_row(FILE *f, int width, const mt_score_row *r)
{
	char ms[32], dm[32], aer[32];
	percent(ms, sizeof(ms), r->mutation_score);
	percent(dm, sizeof(dm), r->deepmutation_score);
	percent(aer, sizeof(aer), r->average_error_rate);
	fprintf(f, "%-*.*s %7zu %6zu %8zu %6zu %8zu %6zu %8zu %8s %8s %8s\n",
		width, width, r->name, r->mutants, r->valid, r->filtered,
		r->killed, r->survived, r->errors, r->timeouts, ms, dm, aer);
}

static void table(FILE *f, const char *title, const mt_score_row *rows,
		  size_t n, const mt_score_row *total)
{
	int width = name_width(rows, n, title);
	fprintf(f, "%-*s %7s %6s %8s %6s %8s %6s %8s %8s %8s %8s\n", width, title,
		"mutants", "valid", "filtered", "killed", "survived", "errors",
		"timeouts", "score", "DM score", "AER");
	for (size_t i = 0; i < n; i++)
		table_row(f, width, &rows[i]);
	table_row(f, width, total);
}

int mt_killmatrix_write_table(FILE *f, const mt_killmatrix *km)
{
	mt_scores *s;
	char acc[32], ms[32], dm[32], aer[32];
	int error;

	if ((error = mt_killmatrix_scores(&s, km)) < 0)
		return error;
	percent(acc, sizeof(acc), s->original_accuracy);
	percent(ms, sizeof(ms), s->total.mutation_score);
	percent(dm, sizeof(dm), s->total.deepmutation_score);
	percent(aer, sizeof(aer), s->total.average_error_rate);
	fprintf(f, "test inputs: %zu (%d classes); original accuracy %s, "
		"%zu inputs in T'\n", s->n_inputs, s->num_classes, acc,
		s->n_correct);
	fprintf(f, "mutants: %zu: %zu killed, %zu survived, %zu timeouts, %zu "
		"errors, %zu filtered (accuracy < %.2f x original), %zu ignored, "
		"%zu pending\n", s->total.mutants, s->total.killed,
		s->total.survived, s->total.timeouts, s->total.errors,
		s->total.filtered, s->accuracy_filter, s->total.ignored,
		s->total.pending);
	fprintf(f, "mutation score (killed + timeouts) / valid:  %s\n", ms);
	fprintf(f, "DeepMutation mutation score (MS):           %s\n", dm);
	fprintf(f, "average error rate (AER):                   %s\n\n", aer);
	table(f, "operator", s->operators, s->n_operators, &s->total);
	fputc('\n', f);
	table(f, "layer", s->layers, s->n_layers, &s->total);
	mt_scores_free(s);
	if (ferror(f))
		return mt_error_set(MT_EIO, "kill matrix table: write failed");
	return 0;
}

/* ---- JSON ------------------------------------------------------------- */

/* jansson cannot encode NaN; an undefined score is null. */
static json_t *real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *row_json(const mt_score_row *r, const char *key)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, key, json_string(r->name));
	json_object_set_new(o, "mutants", json_integer((json_int_t)r->mutants));
	json_object_set_new(o, "valid", json_integer((json_int_t)r->valid));
	json_object_set_new(o, "filtered", json_integer((json_int_t)r->filtered));
	json_object_set_new(o, "killed", json_integer((json_int_t)r->killed));
	json_object_set_new(o, "survived", json_integer((json_int_t)r->survived));
	json_object_set_new(o, "timeouts", json_integer((json_int_t)r->timeouts));
	json_object_set_new(o, "errors", json_integer((json_int_t)r->errors));
	json_object_set_new(o, "no_coverage", json_integer((json_int_t)r->no_coverage));
	json_object_set_new(o, "ignored", json_integer((json_int_t)r->ignored));
	json_object_set_new(o, "pending", json_integer((json_int_t)r->pending));
	json_object_set_new(o, "killed_classes",
			    json_integer((json_int_t)r->killed_classes));
	json_object_set_new(o, "mutation_score", real_or_null(r->mutation_score));
	json_object_set_new(o, "deepmutation_score",
			    real_or_null(r->deepmutation_score));
	json_object_set_new(o, "average_error_rate",
			    real_or_null(r->average_error_rate));
	return o;
}

/* Element k: the inputs of T' that kill exactly k mutants of M'. */
static json_t *ks1_histogram(const mt_killmatrix *km, const mt_scores *s)
{
	json_t *a = json_array();
	uint32_t max = 0;
	size_t *count;
	for (size_t t = 0; t < km->n_inputs; t++)
		if (km_bit(km->correct_bits, t) && s->ks1[t] > max)
			max = s->ks1[t];
	if (!(count = calloc((size_t)max + 1, sizeof(size_t))))
		return a;
	for (size_t t = 0; t < km->n_inputs; t++)
		if (km_bit(km->correct_bits, t))
			count[s->ks1[t]]++;
	for (size_t k = 0; k < km->n_inputs && k <= max; k++)
		json_array_append_new(a, json_integer((json_int_t)count[k]));
	free(count);
	return a;
}

/* "killed_by_class" in every row: element c counts the mutants of M' in
 * the row with c in KilledClasses(m) (the elements add up to the row's
 * killed_classes). */
static void class_kills(json_t *root, const mt_killmatrix *km, const mt_scores *s)
{
	size_t nc = (size_t)km->num_classes, *killed;
	size_t nrows = 1 + s->n_operators + s->n_layers;
	unsigned char *hit = malloc(nc);
	json_t *rows[2] = {json_object_get(root, "operators"), json_object_get(root, "layers")};

	if (!hit || !(killed = calloc(nrows * nc, sizeof(size_t)))) {
		free(hit);
		return;
	}
	for (size_t m = 0; m < km->n_mutants; m++) {
		const mt_km_mutant *mu = km->mutants[m];
		size_t at[3] = {0, 1, 1 + s->n_operators};
		if (!mu->predictions || s->filtered[m])
			continue;
		for (size_t i = 0; i < s->n_operators; i++)
			if (!strcmp(s->operators[i].name, mu->operator_name))
				at[1] += i;
		for (size_t i = 0; i < s->n_layers; i++)
			if (!strcmp(s->layers[i].name, mu->layer))
				at[2] += i;
		memset(hit, 0, nc);
		for (size_t t = 0; t < km->n_inputs; t++)
			if (mu->kills && km_bit(mu->kills, t))
				hit[km->classes[t]] = 1;
		for (size_t c = 0; c < nc; c++)
			for (size_t r = 0; r < 3 && hit[c]; r++)
				killed[at[r] * nc + c]++;
	}
	for (size_t r = 0; r < nrows; r++) {
		json_t *row = r == 0 ? json_object_get(root, "totals") :
			r <= s->n_operators ? json_array_get(rows[0], r - 1) :
			json_array_get(rows[1], r - 1 - s->n_operators);
		json_t *a = json_array();
		for (size_t c = 0; c < nc; c++)
			json_array_append_new(a, json_integer((json_int_t)killed[r * nc + c]));
		json_object_set_new(row, "killed_by_class", a);
	}
	free(killed);
	free(hit);
}

static json_t *report_json(const mt_killmatrix *km, const mt_scores *s)
{
	json_t *root = json_object(), *arr, *meta, *ks1;
	char digest[41];
	unsigned char *seen = malloc((size_t)km->num_classes);
	if (!root || !seen) {
		free(seen);
		json_decref(root);
		return NULL;
	}
	json_object_set_new(root, "format", json_string("mutorch-killmatrix-report"));
	json_object_set_new(root, "format_version", json_integer(1));
	json_object_set_new(root, "mutation_score",
			    real_or_null(s->total.mutation_score));
	json_object_set_new(root, "deepmutation_score",
			    real_or_null(s->total.deepmutation_score));
	json_object_set_new(root, "average_error_rate",
			    real_or_null(s->total.average_error_rate));
	json_object_set_new(root, "original_accuracy",
			    real_or_null(s->original_accuracy));
	json_object_set_new(root, "n_inputs", json_integer((json_int_t)s->n_inputs));
	json_object_set_new(root, "n_correct_inputs",
			    json_integer((json_int_t)s->n_correct));
	json_object_set_new(root, "num_classes", json_integer(s->num_classes));
	json_object_set_new(root, "accuracy_filter", json_real(s->accuracy_filter));
	json_object_set_new(root, "totals", row_json(&s->total, "name"));

	arr = json_array();
	for (size_t i = 0; i < s->n_operators; i++)
		json_array_append_new(arr, row_json(&s->operators[i], "operator"));
	json_object_set_new(root, "operators", arr);
	arr = json_array();
	for (size_t i = 0; i < s->n_layers; i++)
		json_array_append_new(arr, row_json(&s->layers[i], "layer"));
	json_object_set_new(root, "layers", arr);

	arr = json_array();
	for (size_t m = 0; m < km->n_mutants; m++) {
		const mt_km_mutant *mu = km->mutants[m];
		char seed[32];
		json_t *o = json_object();
		snprintf(seed, sizeof(seed), "%" PRIu64, mu->rec.seed);
		json_object_set_new(o, "id", json_string(mu->id));
		json_object_set_new(o, "operator", json_string(mu->operator_name));
		json_object_set_new(o, "layer", json_string(mu->layer));
		json_object_set_new(o, "params", json_string(mu->params));
		json_object_set_new(o, "seed", json_string(seed));
		json_object_set_new(o, "status",
				    json_string(mt_mutant_status_name(mu->rec.status)));
		if (mu->status_reason)
			json_object_set_new(o, "status_reason",
					    json_string(mu->status_reason));
		json_object_set_new(o, "accuracy", real_or_null(mu->rec.accuracy));
		json_object_set_new(o, "seconds", real_or_null(mu->rec.seconds));
		json_object_set_new(o, "killed_inputs",
				    json_integer((json_int_t)mu->kill_count));
		json_object_set_new(o, "killed_classes",
				    json_integer((json_int_t)km_killed_classes(km, mu,
									       seen)));
		json_object_set_new(o, "filtered", json_boolean(s->filtered[m]));
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "mutants", arr);

	ks1 = json_array();
	for (size_t t = 0; t < km->n_inputs; t++)
		json_array_append_new(ks1, json_integer(s->ks1[t]));
	json_object_set_new(root, "ks1", ks1);
	json_object_set_new(root, "ks1_histogram", ks1_histogram(km, s));
	class_kills(root, km, s);

	meta = json_object();
	for (size_t i = 0; i < km->n_meta; i++)
		json_object_set_new(meta, km->meta_keys[i],
				    json_string(km->meta_values[i]));
	json_object_set_new(root, "metadata", meta);
	if (mt_killmatrix_digest(digest, km) == 0)
		json_object_set_new(root, "killmatrix_digest", json_string(digest));
	free(seen);
	return root;
}

int mt_killmatrix_json_string(char **out, const mt_killmatrix *km)
{
	mt_scores *s;
	json_t *root;
	int error;

	*out = NULL;
	if ((error = mt_killmatrix_scores(&s, km)) < 0)
		return error;
	root = report_json(km, s);
	mt_scores_free(s);
	/* Text fields were checked for UTF-8 when they came in, so a
	 * failure here is memory. */
	if (root)
		*out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
				  JSON_REAL_PRECISION(17));
	json_decref(root);
	if (!*out)
		return mt_error_set(MT_ENOMEM, "kill matrix JSON: out of memory");
	return 0;
}

int mt_killmatrix_write_json(const mt_killmatrix *km, const char *path)
{
	char *text;
	int error;
	if ((error = mt_killmatrix_json_string(&text, km)) < 0)
		return mt_error_prefix("%s: ", path);
	error = mt_io_write_file_atomic(path, text, strlen(text));
	free(text);
	return error;
}

/* ---- CSV -------------------------------------------------------------- */

static void csv_header(mt_strbuf *t, const mt_killmatrix *km)
{
	mt_strbuf_puts(t, "id,operator,status");
	for (size_t i = 0; i < km->n_inputs; i++)
		mt_strbuf_printf(t, ",t%zu", i);
	mt_strbuf_put(t, "\n", 1);
}

static void csv_mutant_start(mt_strbuf *t, const mt_km_mutant *mu)
{
	mt_csv_field(t, mu->id);
	mt_strbuf_put(t, ",", 1);
	mt_csv_field(t, mu->operator_name);
	mt_strbuf_put(t, ",", 1);
	mt_strbuf_puts(t, mt_mutant_status_name(mu->rec.status));
}

int mt_killmatrix_write_kills_csv(const mt_killmatrix *km, const char *path)
{
	mt_strbuf t = MT_STRBUF_INIT;
	csv_header(&t, km);
	for (size_t m = 0; m < km->n_mutants; m++) {
		const mt_km_mutant *mu = km->mutants[m];
		csv_mutant_start(&t, mu);
		for (size_t i = 0; i < km->n_inputs; i++)
			mt_strbuf_put(&t, mu->kills && km_bit(mu->kills, i) ? ",1" :
				    ",0", 2);
		mt_strbuf_put(&t, "\n", 1);
	}
	return mt_strbuf_write_file(&t, path);
}

int mt_killmatrix_write_predictions_csv(const mt_killmatrix *km,
					const char *path)
{
	mt_strbuf t = MT_STRBUF_INIT;
	csv_header(&t, km);
	mt_strbuf_puts(&t, "@class,,");
	for (size_t i = 0; i < km->n_inputs; i++)
		mt_strbuf_printf(&t, ",%u", (unsigned)km->classes[i]);
	mt_strbuf_puts(&t, "\n@original,,");
	for (size_t i = 0; i < km->n_inputs; i++)
		mt_strbuf_printf(&t, ",%u", (unsigned)km->original[i]);
	mt_strbuf_put(&t, "\n", 1);
	for (size_t m = 0; m < km->n_mutants; m++) {
		const mt_km_mutant *mu = km->mutants[m];
		csv_mutant_start(&t, mu);
		for (size_t i = 0; i < km->n_inputs; i++) {
			if (mu->predictions)
				mt_strbuf_printf(&t, ",%u", (unsigned)mu->predictions[i]);
			else
				mt_strbuf_put(&t, ",", 1);
		}
		mt_strbuf_put(&t, "\n", 1);
	}
	return mt_strbuf_write_file(&t, path);
}

int mt_killmatrix_write_inputs_csv(const mt_killmatrix *km, const char *path)
{
	mt_strbuf t = MT_STRBUF_INIT;
	mt_scores *s;
	mt_lcr_result *lcr = NULL;
	int error;
	if ((error = mt_killmatrix_scores(&s, km)) < 0)
		return error;
	if ((error = mt_analysis_lcr(&lcr, km)) < 0) {
		mt_scores_free(s);
		return error;
	}
	mt_strbuf_puts(&t, "input,class,original_prediction,in_t_prime,ks1,lcr\n");
	for (size_t i = 0; i < km->n_inputs; i++) {
		mt_strbuf_printf(&t, "%zu,%u,%u,%d,%u,", i, (unsigned)km->classes[i],
			       (unsigned)km->original[i], km_bit(km->correct_bits, i),
			       (unsigned)s->ks1[i]);
		/* empty when no mutant is in M' (the rate is undefined) */
		if (isfinite(lcr->lcr[i]))
			mt_strbuf_double(&t, lcr->lcr[i]);
		mt_strbuf_put(&t, "\n", 1);
	}
	mt_lcr_result_free(lcr);
	mt_scores_free(s);
	return mt_strbuf_write_file(&t, path);
}
