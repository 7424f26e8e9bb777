/* The git note of `mutorch ci` (docs/ci.md): what goes into it, how a
 * base's note is read back, and the comparison printed between two. */
#include "ci_note.h"
#include "cli_git.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mutorch/error.h"
#include "mutorch/scores.h"

void ci_say(int quiet, const char *fmt, ...)
{
	va_list ap;
	if (quiet)
		return;
	va_start(ap, fmt);
	fputs("mutorch ci: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

json_t *ci_number_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *score_row_json(const mt_score_row *r)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", r->name,
			      "mutants", (json_int_t)r->mutants, "valid", (json_int_t)r->valid,
			      "filtered", (json_int_t)r->filtered, "killed", (json_int_t)r->killed,
			      "survived", (json_int_t)r->survived, "timeouts", (json_int_t)r->timeouts,
			      "errors", (json_int_t)r->errors, "ignored", (json_int_t)r->ignored,
			      "pending", (json_int_t)r->pending);
	json_object_set_new(o, "mutation_score", ci_number_or_null(r->mutation_score));
	json_object_set_new(o, "deepmutation_score", ci_number_or_null(r->deepmutation_score));
	json_object_set_new(o, "average_error_rate", ci_number_or_null(r->average_error_rate));
	return o;
}

/* scores, operators, digests of a kill matrix, into the note. */
int ci_results_into_note(json_t *note, const mt_killmatrix *km)
{
	mt_scores *sc = NULL;
	char digest[MT_GIT_OID_HEX];
	json_t *scores, *ops;
	int error;

	if ((error = mt_killmatrix_scores(&sc, km)) < 0 || (error = mt_killmatrix_digest(digest, km)) < 0)
		goto cleanup;
	scores = json_object();
	json_object_set_new(scores, "mutation_score", ci_number_or_null(sc->total.mutation_score));
	json_object_set_new(scores, "deepmutation_score", ci_number_or_null(sc->total.deepmutation_score));
	json_object_set_new(scores, "average_error_rate", ci_number_or_null(sc->total.average_error_rate));
	json_object_set_new(scores, "original_accuracy", ci_number_or_null(sc->original_accuracy));
	json_object_set_new(scores, "inputs", json_integer((json_int_t)sc->n_inputs));
	json_object_set_new(scores, "inputs_correct", json_integer((json_int_t)sc->n_correct));
	json_object_set_new(scores, "accuracy_filter", json_real(sc->accuracy_filter));
	json_object_set_new(note, "scores", scores);
	json_object_set_new(note, "total", score_row_json(&sc->total));
	ops = json_array();
	for (size_t i = 0; i < sc->n_operators; i++)
		json_array_append_new(ops, score_row_json(&sc->operators[i]));
	json_object_set_new(note, "operators", ops);
	json_object_set_new(note, "killmatrix_digest", json_string(digest));
	json_object_set_new(note, "plan_digest",
			    json_string(mt_killmatrix_meta(km, "plan_digest") ? mt_killmatrix_meta(km, "plan_digest") : ""));
cleanup:
	mt_scores_free(sc);
	return error;
}

double ci_note_score(json_t *note, const char *name)
{
	json_t *v = json_object_get(json_object_get(note, "scores"), name);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *find_row(json_t *note, const char *name)
{
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(note, "operators"), i, row) {
		const char *n = json_string_value(json_object_get(row, "name"));
		if (n && !strcmp(n, name))
			return row;
	}
	return NULL;
}

static void print_pct(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, " %9.2f%%", v * 100);
	else
		fprintf(f, " %10s", "-");
}

static void print_change(FILE *f, double base, double head)
{
	if (isfinite(base) && isfinite(head))
		fprintf(f, " %+10.2f\n", (head - base) * 100);
	else
		fprintf(f, " %10s\n", "-");
}

/* The change per score and per operator (percentage points). */
void ci_print_comparison(FILE *f, json_t *base, json_t *head, const char *base_name)
{
	static const char *const names[] = {"mutation_score", "deepmutation_score", "average_error_rate",
					    "source_mutation_score"};
	size_t i;
	json_t *row;

	fprintf(f, "\n%-24s %10s %10s %10s\n", "score", base_name, "HEAD", "change");
	for (size_t k = 0; k < 4; k++) {
		if (!json_object_get(json_object_get(head, "scores"), names[k]) &&
		    !(base && json_object_get(json_object_get(base, "scores"), names[k])))
			continue;
		fprintf(f, "%-24s", names[k]);
		print_pct(f, base ? ci_note_score(base, names[k]) : NAN);
		print_pct(f, ci_note_score(head, names[k]));
		print_change(f, base ? ci_note_score(base, names[k]) : NAN, ci_note_score(head, names[k]));
	}
	fprintf(f, "\n%-10s %7s %7s %10s %10s %10s\n", "operator", "killed", "valid", base_name, "HEAD",
		"change");
	json_array_foreach(json_object_get(head, "operators"), i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		json_t *old = base ? find_row(base, name) : NULL;
		double b = old ? json_number_value(json_object_get(old, "mutation_score")) : NAN;
		double h = json_number_value(json_object_get(row, "mutation_score"));
		if (old && !json_is_number(json_object_get(old, "mutation_score")))
			b = NAN;
		if (!json_is_number(json_object_get(row, "mutation_score")))
			h = NAN;
		fprintf(f, "%-10s %7lld %7lld", name, (long long)json_integer_value(json_object_get(row, "killed")),
			(long long)json_integer_value(json_object_get(row, "valid")));
		print_pct(f, b);
		print_pct(f, h);
		print_change(f, b, h);
	}
	/* Source-level operators. */
	json_array_foreach(json_object_get(json_object_get(head, "source"), "operators"), i, row) {
		const char *name = json_string_value(json_object_get(row, "name"));
		json_t *old = NULL, *r2;
		size_t j;
		double b = NAN, h;
		if (base)
			json_array_foreach(json_object_get(json_object_get(base, "source"), "operators"), j, r2)
				if (name && json_string_value(json_object_get(r2, "name")) &&
				    !strcmp(name, json_string_value(json_object_get(r2, "name"))))
					old = r2;
		if (old && json_is_number(json_object_get(old, "mutation_score")))
			b = json_number_value(json_object_get(old, "mutation_score"));
		h = json_is_number(json_object_get(row, "mutation_score")) ?
			json_number_value(json_object_get(row, "mutation_score")) : NAN;
		fprintf(f, "%-10s %7lld %7lld", name ? name : "?",
			(long long)json_integer_value(json_object_get(row, "killed")),
			(long long)(json_integer_value(json_object_get(row, "killed")) +
				    json_integer_value(json_object_get(row, "survived"))));
		print_pct(f, b);
		print_pct(f, h);
		if (isfinite(b) && isfinite(h))
			fprintf(f, " %+10.2f (source level)\n", (h - b) * 100);
		else
			fprintf(f, " %10s (source level)\n", "-");
	}
	/* Operators only the base had. */
	if (base)
		json_array_foreach(json_object_get(base, "operators"), i, row) {
			const char *name = json_string_value(json_object_get(row, "name"));
			if (name && !find_row(head, name))
				fprintf(f, "%-10s (only at the base)\n", name);
		}
}

/* A base note we can compare with and reuse from, or NULL. */
json_t *ci_parse_note(const char *text, const char *commit, int quiet)
{
	char why[512];
	json_t *note = ci_note_parse_buffer(text, strlen(text), why, sizeof(why));
	(void)quiet; /* a warning is shown also with --quiet */
	if (!note)
		ci_say(0, "warning: the %s note of %.12s is not a valid format-%d mutorch note (%s); "
		    "ignoring it: nothing is compared with it or reused from it", MT_GIT_NOTES_REF, commit,
		    NOTE_FORMAT, why);
	return note;
}

/* The blob ids of a note's inputs of one role, joined. */
static void role_hashes(char *buf, size_t size, json_t *note, const char *role)
{
	size_t i, used = 0;
	json_t *in;
	buf[0] = '\0';
	json_array_foreach(json_object_get(note, "inputs"), i, in) {
		const char *r = json_string_value(json_object_get(in, "role"));
		const char *h = json_string_value(json_object_get(in, "blob"));
		if (r && !strcmp(r, role) && used < size)
			used += (size_t)snprintf(buf + used, size - used, "%s;", h ? h : "-");
	}
}

/* Do the base's and HEAD's inputs of this role have the same hashes? */
int ci_same_inputs(json_t *base, json_t *head, const char *role)
{
	char hb[2048], hh[2048];
	role_hashes(hb, sizeof(hb), base, role);
	role_hashes(hh, sizeof(hh), head, role);
	return !strcmp(hb, hh);
}

/* Per-operator rows of source-level results: mutants, killed, survived,
 * other (training failed) and the score killed / (killed + survived). */
json_t *ci_source_operator_rows(const mt_source_results *res)
{
	json_t *by = json_object(), *rows = json_array(), *agg;
	const char *name;

	for (size_t i = 0; i < res->nmutants; i++) {
		const mt_source_mutant_result *m = &res->mutants[i];
		if (!(agg = json_object_get(by, m->op))) {
			agg = json_pack("{s:s, s:i, s:i, s:i, s:i}", "name", m->op, "mutants", 0, "killed", 0,
					"survived", 0, "other", 0);
			json_object_set_new(by, m->op, agg);
		}
		json_object_set_new(agg, "mutants", json_integer(json_integer_value(json_object_get(agg, "mutants")) + 1));
		name = m->status == MT_MUTANT_KILLED ? "killed" : m->status == MT_MUTANT_SURVIVED ? "survived" : "other";
		json_object_set_new(agg, name, json_integer(json_integer_value(json_object_get(agg, name)) + 1));
	}
	json_object_foreach(by, name, agg) {
		json_int_t k = json_integer_value(json_object_get(agg, "killed"));
		json_int_t sv = json_integer_value(json_object_get(agg, "survived"));
		json_object_set_new(agg, "mutation_score", k + sv ? json_real((double)k / (double)(k + sv)) : json_null());
		json_array_append(rows, agg);
	}
	json_decref(by);
	return rows;
}

