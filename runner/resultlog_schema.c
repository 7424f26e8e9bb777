/* The record schemas of the two result logs (resultlog.h,
 * docs/run-directory.md): every field of every record kind, its type and
 * its range. A record that fails is damaged and its mutant evaluated
 * again, never trusted. */
#include "mutorch/resultlog.h"

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

/* Every key of rec is one of allowed (NULL-terminated). */
static int only_keys(const json_t *rec, const char *const *allowed, char *why, size_t wl)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)rec, key, v) {
		int known = 0;
		for (size_t i = 0; allowed[i] && !known; i++)
			known = !strcmp(key, allowed[i]);
		if (!known)
			return bad(why, wl, "unknown field \"%.100s\"", key);
	}
	return 0;
}

/* A finite number in [lo, hi] (hi may be INFINITY), when present; must be
 * present when required. */
static int number_field(double *out, const json_t *rec, const char *key, double lo, double hi,
			int required, char *why, size_t wl)
{
	json_t *v = json_object_get(rec, key);
	double x;
	if (!v)
		return required ? bad(why, wl, "\"%s\" is missing", key) : 0;
	if (!json_is_number(v))
		return bad(why, wl, "\"%s\" is not a number", key);
	x = json_number_value(v);
	if (!isfinite(x) || x < lo || x > hi)
		return bad(why, wl, "\"%s\" is %g, expected a number in [%g, %g]", key, x, lo, hi);
	if (out)
		*out = x;
	return 0;
}

static int string_field(const char **out, const json_t *rec, const char *key, int required,
			char *why, size_t wl)
{
	json_t *v = json_object_get(rec, key);
	*out = NULL;
	if (!v)
		return required ? bad(why, wl, "\"%s\" is missing", key) : 0;
	if (!json_is_string(v))
		return bad(why, wl, "\"%s\" is not a string", key);
	*out = json_string_value(v);
	return 0;
}

static int absent(const json_t *rec, const char *key, const char *status, char *why, size_t wl)
{
	if (json_object_get(rec, key))
		return bad(why, wl, "\"%s\" does not belong in a record of status %s", key, status);
	return 0;
}

/* diff: [[input, class], ...], inputs strictly increasing in [0, n), each
 * class in [0, classes) and, with the original's predictions, different
 * from it. *correct (with labels) counts the inputs the mutant gets right. */
static int check_diff(int64_t *correct, const json_t *diff, const mt_resultlog_model_schema *s,
		      char *why, size_t wl)
{
	size_t i;
	json_t *pair;
	int64_t last = -1, k = 0;

	if (!json_is_array(diff))
		return bad(why, wl, "\"diff\" is not an array");
	*correct = 0;
	json_array_foreach(diff, i, pair) {
		json_t *a = json_array_get(pair, 0), *b = json_array_get(pair, 1);
		json_int_t t, c;
		if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_integer(a) ||
		    !json_is_integer(b))
			return bad(why, wl, "\"diff\"[%zu] is not an [input, class] pair of integers", i);
		t = json_integer_value(a);
		c = json_integer_value(b);
		if (t < 0 || t >= s->n_inputs)
			return bad(why, wl, "\"diff\"[%zu]: input %lld is out of range [0, %lld)", i,
				   (long long)t, (long long)s->n_inputs);
		if (t <= last)
			return bad(why, wl, "\"diff\"[%zu]: input %lld is not after input %lld", i,
				   (long long)t, (long long)last);
		if (c < 0 || c >= s->n_classes)
			return bad(why, wl, "\"diff\"[%zu]: class %lld is out of range [0, %lld)", i,
				   (long long)c, (long long)s->n_classes);
		if (s->original && c == s->original[t])
			return bad(why, wl, "\"diff\"[%zu]: input %lld's class %lld is the original's "
				   "prediction, not a difference", i, (long long)t, (long long)c);
		if (s->original && s->labels) {
			/* inputs before t: the original's predictions */
			for (; k < t; k++)
				*correct += s->original[k] == s->labels[k];
			*correct += c == s->labels[t];
			k = t + 1;
		}
		last = t;
	}
	if (s->original && s->labels)
		for (; k < s->n_inputs; k++)
			*correct += s->original[k] == s->labels[k];
	return 0;
}

int mt_resultlog_check_model(const void *ctx, const json_t *rec, char *why, size_t wl)
{
	static const char *const keys[] = {"id", "status", "accuracy", "diff", "seconds", "reason", NULL};
	const mt_resultlog_model_schema *s = ctx;
	const char *id, *status, *reason;
	double accuracy = 0;

	if (!json_is_object(rec))
		return bad(why, wl, "not a JSON object");
	if (only_keys(rec, keys, why, wl) || string_field(&id, rec, "id", 1, why, wl) ||
	    string_field(&status, rec, "status", 1, why, wl) ||
	    string_field(&reason, rec, "reason", 0, why, wl) ||
	    number_field(NULL, rec, "seconds", 0, INFINITY, 0, why, wl))
		return 1;
	if (s->id_known && !s->id_known(s->id_ctx, id))
		return bad(why, wl, "\"id\" \"%.200s\" is not a mutant of the plan", id);
	if (!strcmp(status, "Evaluated")) {
		int64_t correct = 0;
		if (number_field(&accuracy, rec, "accuracy", 0, 1, 1, why, wl) ||
		    number_field(NULL, rec, "seconds", 0, INFINITY, 1, why, wl) ||
		    absent(rec, "reason", status, why, wl))
			return 1;
		if (!json_object_get(rec, "diff"))
			return bad(why, wl, "\"diff\" is missing");
		if (check_diff(&correct, json_object_get(rec, "diff"), s, why, wl))
			return 1;
		if (s->original && s->labels) {
			double want = s->n_inputs ? (double)correct / (double)s->n_inputs : 0;
			if (fabs(accuracy - want) > 1e-9)
				return bad(why, wl, "\"accuracy\" is %.17g, its diff gives %.17g", accuracy, want);
		}
		return 0;
	}
	if (strcmp(status, "Ignored") && strcmp(status, "RuntimeError") && strcmp(status, "Timeout"))
		return bad(why, wl, "\"status\" is \"%.100s\", expected Evaluated, Ignored, RuntimeError or Timeout",
			   status);
	if (absent(rec, "accuracy", status, why, wl) || absent(rec, "diff", status, why, wl))
		return 1;
	if (!reason)
		return bad(why, wl, "\"reason\" is missing (a record of status %s has one)", status);
	/* Ignored is decided in the worker, which always times it; a crash
	 * or a time limit is recorded by the parent, without seconds. */
	if (!strcmp(status, "Ignored") && number_field(NULL, rec, "seconds", 0, INFINITY, 1, why, wl))
		return 1;
	return 0;
}

static int is_hex_key(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == 40;
}

static int int_field(json_int_t *out, const json_t *rec, const char *key, char *why, size_t wl)
{
	json_t *v = json_object_get(rec, key);
	if (!v)
		return bad(why, wl, "\"%s\" is missing", key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(why, wl, "\"%s\" is not an integer >= 0", key);
	*out = json_integer_value(v);
	return 0;
}

int mt_resultlog_check_source(const void *ctx, const json_t *rec, char *why, size_t wl)
{
	static const char *const keys[] = {"status", "key", "accuracy", "diverged", "reused_model",
					   "seconds", "slot", "run", "id", "reason", NULL};
	const char *status, *id, *key, *reason;
	json_int_t slot = 0, run = 0;
	json_t *v;

	(void)ctx;
	if (!json_is_object(rec))
		return bad(why, wl, "not a JSON object");
	if (only_keys(rec, keys, why, wl) || string_field(&status, rec, "status", 1, why, wl) ||
	    string_field(&id, rec, "id", 1, why, wl) || string_field(&key, rec, "key", 0, why, wl) ||
	    string_field(&reason, rec, "reason", 0, why, wl) || int_field(&slot, rec, "slot", why, wl) ||
	    int_field(&run, rec, "run", why, wl) ||
	    number_field(NULL, rec, "seconds", 0, INFINITY, 0, why, wl))
		return 1;
	if ((slot == 0) != !strcmp(id, "original"))
		return bad(why, wl, "\"id\" \"%.200s\" does not fit slot %lld (slot 0 is \"original\")", id,
			   (long long)slot);
	if ((v = json_object_get(rec, "reused_model")) && !json_is_boolean(v))
		return bad(why, wl, "\"reused_model\" is not true or false");
	if (!strcmp(status, "Trained")) {
		if (!key || !is_hex_key(key))
			return bad(why, wl, "\"key\" is %s, expected 40 hex digits", key ? "malformed" : "missing");
		if (number_field(NULL, rec, "accuracy", 0, 1, 1, why, wl) || absent(rec, "reason", status, why, wl))
			return 1;
		if (!json_is_boolean(json_object_get(rec, "diverged")))
			return bad(why, wl, "\"diverged\" is not true or false");
		return 0;
	}
	if (strcmp(status, "RuntimeError") && strcmp(status, "Timeout"))
		return bad(why, wl, "\"status\" is \"%.100s\", expected Trained, RuntimeError or Timeout", status);
	if (!reason)
		return bad(why, wl, "\"reason\" is missing (a record of status %s has one)", status);
	if (absent(rec, "key", status, why, wl) || absent(rec, "accuracy", status, why, wl) ||
	    absent(rec, "diverged", status, why, wl))
		return 1;
	return 0;
}
