/* The schema check of a base's note (ci_note_check.h): a note whose fields
 * are not what `mutorch ci` wrote is ignored, never reused, so a junk
 * field can neither reach the gate nor be copied into HEAD's note. */
#include "ci_note_check.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int bad(char *why, size_t wl, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

static int bad(char *why, size_t wl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, wl, fmt, ap);
	va_end(ap);
	return 1;
}

static int is_hex(const char *s, size_t min, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n >= min && n <= max;
}

/* A hex string of min..max digits at o.key; an optional one may be absent
 * or null. */
static int hex_field(const json_t *o, const char *path, const char *key, size_t min, size_t max,
		     int required, char *why, size_t wl)
{
	json_t *v = json_object_get(o, key);
	if (!v || (json_is_null(v) && !required))
		return required ? bad(why, wl, "%s%s is missing", path, key) : 0;
	if (!json_is_string(v) || !is_hex(json_string_value(v), min, max))
		return bad(why, wl, "%s%s is not %zu%s hex digits", path, key, min, max > min ? " or more" : "");
	return 0;
}

static int string_field(const json_t *o, const char *path, const char *key, int required, int nullable,
			char *why, size_t wl)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return required ? bad(why, wl, "%s%s is missing", path, key) : 0;
	if (json_is_null(v) && nullable)
		return 0;
	if (!json_is_string(v))
		return bad(why, wl, "%s%s is not a string", path, key);
	return 0;
}

/* A count: an integer in [0, 2^53). */
static int count_field(json_int_t *out, const json_t *o, const char *path, const char *key, int required,
		       int nullable, char *why, size_t wl)
{
	json_t *v = json_object_get(o, key);
	*out = 0;
	if (!v)
		return required ? bad(why, wl, "%s%s is missing", path, key) : 0;
	if (json_is_null(v) && nullable)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > ((json_int_t)1 << 53))
		return bad(why, wl, "%s%s is not a count (an integer >= 0)", path, key);
	*out = json_integer_value(v);
	return 0;
}

/* A fraction in [0, 1], or null (undefined) where nullable; *out NAN for
 * null or absent. */
static int fraction_field(double *out, const json_t *o, const char *path, const char *key, int required,
			  int nullable, char *why, size_t wl)
{
	json_t *v = json_object_get(o, key);
	double x;
	if (out)
		*out = NAN;
	if (!v)
		return required ? bad(why, wl, "%s%s is missing", path, key) : 0;
	if (json_is_null(v))
		return nullable ? 0 : bad(why, wl, "%s%s is null, expected a number in [0, 1]", path, key);
	if (!json_is_number(v))
		return bad(why, wl, "%s%s is not a number", path, key);
	x = json_number_value(v);
	if (!isfinite(x) || x < 0 || x > 1)
		return bad(why, wl, "%s%s is %g, expected a number in [0, 1]", path, key, x);
	if (out)
		*out = x;
	return 0;
}

static int only_keys(const json_t *o, const char *path, const char *const *allowed, char *why, size_t wl)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)o, key, v) {
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], key))
			i++;
		if (!allowed[i])
			return bad(why, wl, "%sunknown field \"%.80s\"", path, key);
	}
	return 0;
}

static int same_score(double a, double b)
{
	return (isnan(a) && isnan(b)) || fabs(a - b) <= 1e-9;
}

/* A model-level score row (total, operators[i]). */
static int check_row(const json_t *row, const char *path, char *why, size_t wl)
{
	static const char *const keys[] = {"name", "mutants", "valid", "filtered", "killed", "survived",
					   "timeouts", "errors", "ignored", "pending", "mutation_score",
					   "deepmutation_score", "average_error_rate", NULL};
	static const char *const counts[] = {"valid", "filtered", "killed", "survived", "timeouts", "errors",
					     "ignored", "pending"};
	json_int_t mutants, c[8];
	double ms;

	if (!json_is_object(row))
		return bad(why, wl, "%s is not an object", path);
	{
		char p[128];
		snprintf(p, sizeof(p), "%s.", path);
		if (only_keys(row, p, keys, why, wl) || string_field(row, p, "name", 1, 0, why, wl) ||
		    count_field(&mutants, row, p, "mutants", 1, 0, why, wl))
			return 1;
		for (size_t i = 0; i < 8; i++) {
			if (count_field(&c[i], row, p, counts[i], 1, 0, why, wl))
				return 1;
			if (c[i] > mutants)
				return bad(why, wl, "%s%s is %lld, more than the %lld mutants", p, counts[i],
					   (long long)c[i], (long long)mutants);
		}
		if (fraction_field(&ms, row, p, "mutation_score", 1, 1, why, wl) ||
		    fraction_field(NULL, row, p, "deepmutation_score", 1, 1, why, wl) ||
		    fraction_field(NULL, row, p, "average_error_rate", 1, 1, why, wl))
			return 1;
	}
	/* valid = killed + survived + timeouts + no coverage; the score is
	 * (killed + timeouts) / valid, undefined without valid mutants. */
	if (c[2] + c[3] + c[4] > c[0])
		return bad(why, wl, "%s: killed + survived + timeouts is more than valid", path);
	if (!same_score(ms, c[0] ? (double)(c[2] + c[4]) / (double)c[0] : NAN))
		return bad(why, wl, "%s.mutation_score does not equal (killed + timeouts) / valid", path);
	return 0;
}

static int check_scores(const json_t *scores, int model, char *why, size_t wl)
{
	static const char *const keys[] = {"mutation_score", "deepmutation_score", "average_error_rate",
					   "original_accuracy", "inputs", "inputs_correct", "accuracy_filter",
					   "source_mutation_score", NULL};
	json_int_t inputs, correct;

	if (!json_is_object(scores))
		return bad(why, wl, "scores is not an object");
	if (only_keys(scores, "scores.", keys, why, wl) ||
	    fraction_field(NULL, scores, "scores.", "mutation_score", model, 1, why, wl) ||
	    fraction_field(NULL, scores, "scores.", "deepmutation_score", model, 1, why, wl) ||
	    fraction_field(NULL, scores, "scores.", "average_error_rate", model, 1, why, wl) ||
	    fraction_field(NULL, scores, "scores.", "original_accuracy", model, 1, why, wl) ||
	    fraction_field(NULL, scores, "scores.", "accuracy_filter", model, 0, why, wl) ||
	    fraction_field(NULL, scores, "scores.", "source_mutation_score", 0, 1, why, wl) ||
	    count_field(&inputs, scores, "scores.", "inputs", model, 0, why, wl) ||
	    count_field(&correct, scores, "scores.", "inputs_correct", model, 0, why, wl))
		return 1;
	if (correct > inputs)
		return bad(why, wl, "scores.inputs_correct is more than scores.inputs");
	return 0;
}

static int check_source(const json_t *src, char *why, size_t wl)
{
	static const char *const keys[] = {"key", "mutants", "killed", "survived", "errors", "mutation_score",
					   "rule", "original_runs", "trainings_used", "trainings", "reevaluated",
					   "operators", "reused_from", NULL};
	static const char *const row_keys[] = {"name", "mutants", "killed", "survived", "other",
					       "mutation_score", NULL};
	json_int_t mutants, killed, survived, errors, unused;
	size_t i;
	json_t *row;

	if (!json_is_object(src))
		return bad(why, wl, "source is not an object");
	if (only_keys(src, "source.", keys, why, wl) || hex_field(src, "source.", "key", 40, 40, 1, why, wl) ||
	    count_field(&mutants, src, "source.", "mutants", 1, 0, why, wl) ||
	    count_field(&killed, src, "source.", "killed", 1, 0, why, wl) ||
	    count_field(&survived, src, "source.", "survived", 1, 0, why, wl) ||
	    count_field(&errors, src, "source.", "errors", 1, 0, why, wl) ||
	    fraction_field(NULL, src, "source.", "mutation_score", 1, 1, why, wl) ||
	    string_field(src, "source.", "rule", 0, 1, why, wl) ||
	    count_field(&unused, src, "source.", "original_runs", 0, 1, why, wl) ||
	    count_field(&unused, src, "source.", "trainings_used", 0, 0, why, wl) ||
	    count_field(&unused, src, "source.", "trainings", 0, 0, why, wl) ||
	    count_field(&unused, src, "source.", "reevaluated", 0, 0, why, wl) ||
	    hex_field(src, "source.", "reused_from", 40, 40, 0, why, wl))
		return 1;
	if (killed + survived + errors > mutants)
		return bad(why, wl, "source: killed + survived + errors is more than mutants");
	if (!json_is_array(json_object_get(src, "operators")))
		return bad(why, wl, "source.operators is %s", json_object_get(src, "operators") ? "not an array" : "missing");
	json_array_foreach(json_object_get(src, "operators"), i, row) {
		char p[64];
		json_int_t m, k, s, o;
		snprintf(p, sizeof(p), "source.operators[%zu].", i);
		if (!json_is_object(row))
			return bad(why, wl, "source.operators[%zu] is not an object", i);
		if (only_keys(row, p, row_keys, why, wl) || string_field(row, p, "name", 1, 0, why, wl) ||
		    count_field(&m, row, p, "mutants", 1, 0, why, wl) || count_field(&k, row, p, "killed", 1, 0, why, wl) ||
		    count_field(&s, row, p, "survived", 1, 0, why, wl) || count_field(&o, row, p, "other", 1, 0, why, wl) ||
		    fraction_field(NULL, row, p, "mutation_score", 1, 1, why, wl))
			return 1;
		if (k + s + o != m)
			return bad(why, wl, "%s: killed + survived + other is not mutants", p);
	}
	return 0;
}

/* inputs: [{role, path, blob, in_repository}]: what ci_same_inputs reads. */
static int check_inputs(const json_t *inputs, char *why, size_t wl)
{
	static const char *const keys[] = {"role", "path", "blob", "in_repository", NULL};
	size_t i;
	json_t *in;
	if (!json_is_array(inputs))
		return bad(why, wl, "inputs is %s", inputs ? "not an array" : "missing");
	json_array_foreach(inputs, i, in) {
		char p[64];
		snprintf(p, sizeof(p), "inputs[%zu].", i);
		if (!json_is_object(in))
			return bad(why, wl, "inputs[%zu] is not an object", i);
		if (only_keys(in, p, keys, why, wl) || string_field(in, p, "role", 1, 0, why, wl) ||
		    string_field(in, p, "path", 1, 0, why, wl) || hex_field(in, p, "blob", 40, 40, 0, why, wl))
			return 1;
		if (!json_is_boolean(json_object_get(in, "in_repository")))
			return bad(why, wl, "%sin_repository is not true or false", p);
	}
	return 0;
}

int ci_note_check(const json_t *note, char *why, size_t wl)
{
	json_t *v, *levels = json_object_get(note, "levels"), *row;
	int model = 0, source = 0;
	size_t i;
	double ms, total_ms;

	if (!json_is_object(note))
		return bad(why, wl, "not a JSON object");
	v = json_object_get(note, "mutorch_note");
	if (!json_is_integer(v) || json_integer_value(v) != NOTE_FORMAT)
		return bad(why, wl, "mutorch_note is not %d (not a format-%d mutorch note)", NOTE_FORMAT, NOTE_FORMAT);
	if (!json_is_array(levels))
		return bad(why, wl, "levels is %s", levels ? "not an array" : "missing");
	json_array_foreach(levels, i, v) {
		const char *l = json_string_value(v);
		if (l && !strcmp(l, "model") && !model)
			model = 1;
		else if (l && !strcmp(l, "source") && !source)
			source = 1;
		else
			return bad(why, wl, "levels[%zu] is not \"model\" or \"source\" (once each)", i);
	}
	if (hex_field(note, "", "model_key", 40, 40, 1, why, wl) ||
	    hex_field(note, "", "config_digest", 40, 40, 1, why, wl) ||
	    check_inputs(json_object_get(note, "inputs"), why, wl) ||
	    check_scores(json_object_get(note, "scores"), model, why, wl))
		return 1;
	if (source && check_source(json_object_get(note, "source"), why, wl))
		return 1;
	if (!source && json_object_get(note, "source"))
		return bad(why, wl, "source is present but levels has no \"source\"");
	if (!model)
		return 0;
	/* What a commit with the same model key copies. */
	if (hex_field(note, "", "killmatrix_digest", 40, 40, 1, why, wl) ||
	    hex_field(note, "", "plan_digest", 1, 64, 1, why, wl) ||
	    check_row(json_object_get(note, "total"), "total", why, wl))
		return 1;
	fraction_field(&ms, json_object_get(note, "scores"), "", "mutation_score", 1, 1, why, wl);
	fraction_field(&total_ms, json_object_get(note, "total"), "", "mutation_score", 1, 1, why, wl);
	if (!same_score(ms, total_ms))
		return bad(why, wl, "scores.mutation_score is not total.mutation_score");
	if (!json_is_array(json_object_get(note, "operators")))
		return bad(why, wl, "operators is %s", json_object_get(note, "operators") ? "not an array" : "missing");
	json_array_foreach(json_object_get(note, "operators"), i, row) {
		char p[48];
		snprintf(p, sizeof(p), "operators[%zu]", i);
		if (check_row(row, p, why, wl))
			return 1;
	}
	return 0;
}

json_t *ci_note_parse_buffer(const char *text, size_t len, char *why, size_t wl)
{
	json_error_t jerr;
	json_t *note = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	char reason[512];

	if (!note) {
		bad(why, wl, "not JSON (%s)", jerr.text);
		return NULL;
	}
	if (ci_note_check(note, reason, sizeof(reason))) {
		bad(why, wl, "%s", reason);
		json_decref(note);
		return NULL;
	}
	return note;
}
