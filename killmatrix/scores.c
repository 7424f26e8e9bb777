/* Scores over the kill matrix: Stryker's mutation score, DeepMutation's
 * mutation score and average error rate, KS1 per input, per operator and
 * per layer. Definitions: docs/scores.md. */
#include "internal.h"
#include "mutorch/error.h"
#include "mutorch/killmatrix.h"
#include "mutorch/scores.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Distinct names (borrowed pointers), sorted. */
static const char **distinct_names(size_t *count, const mt_killmatrix *km,
				   int by_layer)
{
	const char **names = malloc((km->n_mutants ? km->n_mutants : 1) *
				    sizeof(char *));
	size_t n = 0;
	if (!names)
		return NULL;
	for (size_t m = 0; m < km->n_mutants; m++)
		names[m] = by_layer ? km->mutants[m]->layer :
			km->mutants[m]->operator_name;
	qsort(names, km->n_mutants, sizeof(char *), cmp_str);
	for (size_t m = 0; m < km->n_mutants; m++)
		if (n == 0 || strcmp(names[n - 1], names[m]) != 0)
			names[n++] = names[m];
	*count = n;
	return names;
}

static void count_mutant(mt_score_row *row, const mt_km_mutant *mu,
			 int filtered, size_t killed_classes)
{
	row->mutants++;
	if (filtered) {
		row->filtered++;
		return;
	}
	switch (mu->rec.status) {
	case MT_MUTANT_KILLED: row->killed++; break;
	case MT_MUTANT_SURVIVED: row->survived++; break;
	case MT_MUTANT_TIMEOUT: row->timeouts++; break;
	case MT_MUTANT_RUNTIME_ERROR:
	case MT_MUTANT_COMPILE_ERROR: row->errors++; break;
	case MT_MUTANT_NO_COVERAGE: row->no_coverage++; break;
	case MT_MUTANT_IGNORED: row->ignored++; break;
	case MT_MUTANT_PENDING: row->pending++; break;
	}
	if (mu->predictions) {
		row->killed_classes += killed_classes;
		row->kills += mu->kill_count;
	}
}

static void finish_row(mt_score_row *row, const mt_killmatrix *km)
{
	row->valid = row->killed + row->survived + row->timeouts + row->no_coverage;
	row->deepmutation_mutants = row->killed + row->survived;
	row->mutation_score = row->valid ?
		(double)(row->killed + row->timeouts) / (double)row->valid : NAN;
	row->deepmutation_score = row->deepmutation_mutants ?
		(double)row->killed_classes /
		((double)row->deepmutation_mutants * (double)km->num_classes) : NAN;
	row->average_error_rate = row->deepmutation_mutants && km->n_correct ?
		(double)row->kills /
		((double)row->deepmutation_mutants * (double)km->n_correct) : NAN;
}

static size_t find_row(const mt_score_row *rows, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(rows[mid].name, name);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n; /* not reached: every name has a row */
}

static int make_rows(mt_score_row **rows, size_t *n_rows,
		     const mt_killmatrix *km, int by_layer)
{
	const char **names = distinct_names(n_rows, km, by_layer);
	if (!names)
		return -1;
	*rows = calloc(*n_rows ? *n_rows : 1, sizeof(mt_score_row));
	if (!*rows) {
		free(names);
		return -1;
	}
	for (size_t i = 0; i < *n_rows; i++) {
		if (!((*rows)[i].name = strdup(names[i]))) {
			free(names);
			return -1;
		}
	}
	free(names);
	return 0;
}

int mt_killmatrix_scores(mt_scores **out, const mt_killmatrix *km)
{
	mt_scores *s = NULL;
	unsigned char *seen = NULL;
	int error = 0;

	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		goto oom;
	s->n_inputs = km->n_inputs;
	s->n_correct = km->n_correct;
	s->num_classes = km->num_classes;
	s->original_accuracy = mt_killmatrix_original_accuracy(km);
	s->accuracy_filter = km->accuracy_filter;
	s->ks1 = calloc(km->n_inputs ? km->n_inputs : 1, sizeof(uint32_t));
	s->filtered = calloc(km->n_mutants ? km->n_mutants : 1, 1);
	seen = malloc((size_t)km->num_classes);
	if (!s->ks1 || !s->filtered || !seen || !(s->total.name = strdup("total")))
		goto oom;
	if (make_rows(&s->operators, &s->n_operators, km, 0) < 0 ||
	    make_rows(&s->layers, &s->n_layers, km, 1) < 0)
		goto oom;

	for (size_t m = 0; m < km->n_mutants; m++) {
		const mt_km_mutant *mu = km->mutants[m];
		int filtered = km_mutant_filtered(km, mu);
		size_t classes = 0;
		s->filtered[m] = (uint8_t)filtered;
		if (mu->predictions && !filtered) {
			classes = km_killed_classes(km, mu, seen);
			for (size_t w = 0; w < km->n_words; w++) {
				uint64_t bits = mu->kills[w];
				while (bits) {
					s->ks1[w * 64 + (size_t)__builtin_ctzll(bits)]++;
					bits &= bits - 1;
				}
			}
		}
		count_mutant(&s->total, mu, filtered, classes);
		count_mutant(&s->operators[find_row(s->operators, s->n_operators,
						    mu->operator_name)],
			     mu, filtered, classes);
		count_mutant(&s->layers[find_row(s->layers, s->n_layers, mu->layer)],
			     mu, filtered, classes);
	}
	finish_row(&s->total, km);
	for (size_t i = 0; i < s->n_operators; i++)
		finish_row(&s->operators[i], km);
	for (size_t i = 0; i < s->n_layers; i++)
		finish_row(&s->layers[i], km);
	free(seen);
	*out = s;
	return 0;
oom:
	error = mt_error_set(MT_ENOMEM, "kill matrix: out of memory computing "
			     "scores");
	free(seen);
	mt_scores_free(s);
	return error;
}

void mt_scores_free(mt_scores *s)
{
	if (!s)
		return;
	free(s->total.name);
	for (size_t i = 0; s->operators && i < s->n_operators; i++)
		free(s->operators[i].name);
	for (size_t i = 0; s->layers && i < s->n_layers; i++)
		free(s->layers[i].name);
	free(s->operators);
	free(s->layers);
	free(s->ks1);
	free(s->filtered);
	free(s);
}
