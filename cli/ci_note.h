/* The note `mutorch ci` attaches to a commit (docs/ci.md), shared by
 * cmd_ci.c and ci_note.c; not a public header. */
#ifndef MUTORCH_CLI_CI_NOTE_H
#define MUTORCH_CLI_CI_NOTE_H

#include <jansson.h>
#include <stdio.h>

#include "ci_note_check.h"
#include "mutorch/killmatrix.h"
#include "mutorch/source_results.h"

/* "mutorch ci: <message>" on stderr unless quiet. */
void ci_say(int quiet, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* A number, or null when it is not finite. */
json_t *ci_number_or_null(double v);
/* The scores, per-operator rows and digests of a kill matrix, into the
 * note. */
int ci_results_into_note(json_t *note, const mt_killmatrix *km);
/* The per-operator rows of source-level results. */
json_t *ci_source_operator_rows(const mt_source_results *res);
/* A score of a note ("mutation_score", ...), NaN when absent. */
double ci_note_score(json_t *note, const char *name);
/* A base's note we can compare with and reuse from, or NULL (with a
 * warning naming the field) when it is not a mutorch note of this format
 * or fails its schema (ci_note_check): nothing of it is then reused. */
json_t *ci_parse_note(const char *text, const char *commit, int quiet);
/* Do two notes' inputs of this role ("model", "test set", ...) have the
 * same hashes? */
int ci_same_inputs(json_t *base, json_t *head, const char *role);
/* The change per score and per operator, in percentage points. */
void ci_print_comparison(FILE *f, json_t *base, json_t *head, const char *base_name);

#endif
