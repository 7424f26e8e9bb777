/* Kill matrix: scores computed by hand, file format round trip and
 * corruption, CSV/JSON/Stryker reports. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "helpers.h"
#include "mutorch/error.h"
#include "mutorch/killmatrix.h"
#include "mutorch/report.h"
#include "mutorch/scores.h"

/*
 * The hand-computed example: 8 inputs, 3 classes.
 *
 *   input       t0 t1 t2 t3 t4 t5 t6 t7
 *   class        0  0  1  1  2  2  0  1
 *   original     0  0  1  1  2  0  0  2
 *   in T'        y  y  y  y  y  n  y  n     |T'| = 6, accuracy 6/8
 *
 *   mutant          op  layer preds             correct kills     classes
 *   M1 GF-conv-0001 GF  conv  0 0 1 1 2 2 0 2   7      -          {}
 *   M2 GF-conv-0002 GF  conv  1 0 1 0 2 0 0 2   4      t0 t3      {0,1}
 *   M3 NAI-fc-0001  NAI fc    2 2 2 2 2 2 2 2   2      t0-t3 t6   {0,1}
 *   M4 NAI-fc-0002  NAI fc    0 1 1 1 1 2 0 1   6      t1 t4      {0,2}
 *   M5 NS-fc-0001   NS  fc    Timeout (no predictions)
 *   M6 NS-conv-0001 NS  conv  RuntimeError (no predictions)
 *   M7 GF-fc-0003   GF  fc    1 0 1 1 2 0 1 2   4      t0 t6      {0}
 *   M8 LD-conv-0001 LD  conv  Ignored (no predictions)
 *
 * With the accuracy filter at 0.5: a mutant is filtered when its correct
 * count < 0.5 x 6 = 3, so only M3 (2 correct) is filtered.
 *   M' = {M1, M2, M4, M7}
 *   MS  = (0 + 2 + 2 + 1) / (4 x 3) = 5/12
 *   AER = (0 + 2 + 2 + 2) / (4 x 6) = 6/24 = 1/4
 *   Stryker: killed M2 M4 M7 = 3, survived M1 = 1, timeout M5 = 1,
 *            valid = 5, score = (3 + 1) / 5 = 4/5; errors 1, ignored 1.
 *   KS1 (over M'): t0 = 2 (M2, M7), t1 = 1 (M4), t2 = 0, t3 = 1 (M2),
 *            t4 = 1 (M4), t5 = 0, t6 = 1 (M7), t7 = 0.
 * Per operator (sorted):
 *   GF:  M1 S, M2 K, M7 K: valid 3, score 2/3, MS (0+2+1)/(3x3) = 1/3,
 *        AER (0+2+2)/(3x6) = 2/9
 *   LD:  M8 Ignored: valid 0, every score undefined (NaN)
 *   NAI: M3 filtered, M4 K: valid 1, score 1, MS 2/(1x3) = 2/3,
 *        AER 2/(1x6) = 1/3
 *   NS:  M5 Timeout, M6 RuntimeError: valid 1, score 1/1, MS and AER NaN
 * Per layer:
 *   conv: M1 S, M2 K, M6 RE, M8 Ign: valid 2, score 1/2,
 *         MS (0+2)/(2x3) = 1/3, AER 2/(2x6) = 1/6
 *   fc:   M3 filtered, M4 K, M5 TO, M7 K: valid 3, score 3/3,
 *         MS (2+1)/(2x3) = 1/2, AER (2+2)/(2x6) = 1/3
 * With the default filter 0.9 (threshold 5.4 correct): M2, M3 and M7 are
 * filtered; M' = {M1, M4}: MS = 2/(2x3) = 1/3, AER = 2/(2x6) = 1/6,
 * killed 1, survived 1, timeout 1: score 2/3.
 */
#define N 8
static const int64_t classes[N] = {0, 0, 1, 1, 2, 2, 0, 1};
static const int64_t original[N] = {0, 0, 1, 1, 2, 0, 0, 2};
static const int64_t p1[N] = {0, 0, 1, 1, 2, 2, 0, 2};
static const int64_t p2[N] = {1, 0, 1, 0, 2, 0, 0, 2};
static const int64_t p3[N] = {2, 2, 2, 2, 2, 2, 2, 2};
static const int64_t p4[N] = {0, 1, 1, 1, 1, 2, 0, 1};
static const int64_t p7[N] = {1, 0, 1, 1, 2, 0, 1, 2};

static mt_mutant_record rec(const char *id, const char *op, const char *layer,
			    mt_mutant_status status)
{
	mt_mutant_record r;
	memset(&r, 0, sizeof(r));
	r.id = id;
	r.operator_name = op;
	r.layer = layer;
	r.params = "ratio=0.01";
	r.seed = 0xFFFFFFFFFFFFFFF0ull + (uint64_t)strlen(id);
	r.status = status;
	r.accuracy = NAN;
	r.seconds = 0.25;
	return r;
}

static mt_killmatrix *example(void)
{
	mt_killmatrix *km;
	mt_mutant_record r;
	cr_assert_eq(mt_killmatrix_new(&km, N, 3, classes, original), 0, "%s",
		     mt_error_last());
	cr_assert_eq(mt_killmatrix_set_accuracy_filter(km, 0.5), 0);
#define ADD(id, op, layer, st, preds) \
	r = rec(id, op, layer, st); \
	cr_assert_eq(mt_killmatrix_add_mutant(km, &r, preds), 0, "%s", mt_error_last())
	ADD("GF-conv-0001", "GF", "conv", MT_MUTANT_PENDING, p1);
	ADD("GF-conv-0002", "GF", "conv", MT_MUTANT_PENDING, p2);
	ADD("NAI-fc-0001", "NAI", "fc", MT_MUTANT_KILLED, p3);
	ADD("NAI-fc-0002", "NAI", "fc", MT_MUTANT_PENDING, p4);
	ADD("NS-fc-0001", "NS", "fc", MT_MUTANT_TIMEOUT, NULL);
	r = rec("NS-conv-0001", "NS", "conv", MT_MUTANT_RUNTIME_ERROR);
	r.status_reason = "NaN in outputs";
	cr_assert_eq(mt_killmatrix_add_mutant(km, &r, NULL), 0);
	ADD("GF-fc-0003", "GF", "fc", MT_MUTANT_PENDING, p7);
	ADD("LD-conv-0001", "LD", "conv", MT_MUTANT_IGNORED, NULL);
#undef ADD
	cr_assert_eq(mt_killmatrix_set_meta(km, "seed", "42"), 0);
	cr_assert_eq(mt_killmatrix_set_meta(km, "threads", "1"), 0);
	cr_assert_eq(mt_killmatrix_set_meta(km, "libtorch", "1.13.1"), 0);
	return km;
}

static const mt_score_row *row(const mt_score_row *rows, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	cr_assert_fail("no row %s", name);
	return NULL;
}

static void assert_counts(const mt_score_row *r, size_t mutants, size_t filtered,
			  size_t killed, size_t survived, size_t timeouts,
			  size_t errors, size_t ignored, size_t valid)
{
	cr_assert_eq(r->mutants, mutants, "%s mutants %zu", r->name, r->mutants);
	cr_assert_eq(r->filtered, filtered, "%s filtered %zu", r->name, r->filtered);
	cr_assert_eq(r->killed, killed, "%s killed %zu", r->name, r->killed);
	cr_assert_eq(r->survived, survived, "%s survived %zu", r->name, r->survived);
	cr_assert_eq(r->timeouts, timeouts, "%s timeouts", r->name);
	cr_assert_eq(r->errors, errors, "%s errors", r->name);
	cr_assert_eq(r->ignored, ignored, "%s ignored", r->name);
	cr_assert_eq(r->pending, 0);
	cr_assert_eq(r->no_coverage, 0);
	cr_assert_eq(r->valid, valid, "%s valid %zu", r->name, r->valid);
}

/* Scores are the same real quotient computed two ways: IEEE division is
 * correctly rounded, so they are equal exactly. */
static void assert_scores(const mt_score_row *r, double ms, double dm, double aer)
{
	if (isnan(ms))
		cr_assert(isnan(r->mutation_score), "%s score %g", r->name, r->mutation_score);
	else
		cr_assert_eq(r->mutation_score, ms, "%s score %.17g", r->name,
			     r->mutation_score);
	if (isnan(dm))
		cr_assert(isnan(r->deepmutation_score), "%s MS", r->name);
	else
		cr_assert_eq(r->deepmutation_score, dm, "%s MS %.17g", r->name,
			     r->deepmutation_score);
	if (isnan(aer))
		cr_assert(isnan(r->average_error_rate), "%s AER", r->name);
	else
		cr_assert_eq(r->average_error_rate, aer, "%s AER %.17g", r->name,
			     r->average_error_rate);
}

Test(killmatrix, accessors_and_kill_bits)
{
	mt_killmatrix *km = example();
	size_t idx;
	static const int kills_m2[N] = {1, 0, 0, 1, 0, 0, 0, 0};
	static const int kills_m3[N] = {1, 1, 1, 1, 0, 0, 1, 0};

	cr_assert_eq(mt_killmatrix_input_count(km), N);
	cr_assert_eq(mt_killmatrix_class_count(km), 3);
	cr_assert_eq(mt_killmatrix_mutant_count(km), 8);
	cr_assert_eq(mt_killmatrix_correct_count(km), 6);
	cr_assert_eq(mt_killmatrix_original_accuracy(km), 0.75);
	cr_assert_eq(mt_killmatrix_original_correct(km, 5), 0);
	cr_assert_eq(mt_killmatrix_original_correct(km, 6), 1);
	cr_assert_eq(mt_killmatrix_input_class(km, 7), 1);
	cr_assert_eq(mt_killmatrix_original_prediction(km, 7), 2);
	for (size_t t = 0; t < N; t++) {
		cr_assert_eq(mt_killmatrix_kills(km, 1, t), kills_m2[t], "M2 t%zu", t);
		cr_assert_eq(mt_killmatrix_kills(km, 2, t), kills_m3[t], "M3 t%zu", t);
		cr_assert_eq(mt_killmatrix_kills(km, 0, t), 0);
		cr_assert_eq(mt_killmatrix_kills(km, 4, t), 0);
		cr_assert_eq(mt_killmatrix_prediction(km, 6, t), (int)p7[t]);
		cr_assert_eq(mt_killmatrix_prediction(km, 4, t), -1);
	}
	/* statuses computed from the kills; accuracies from the predictions */
	cr_assert_eq(mt_killmatrix_mutant(km, 0)->status, MT_MUTANT_SURVIVED);
	cr_assert_eq(mt_killmatrix_mutant(km, 1)->status, MT_MUTANT_KILLED);
	cr_assert_eq(mt_killmatrix_mutant(km, 0)->accuracy, 7.0 / 8.0);
	cr_assert_eq(mt_killmatrix_mutant(km, 2)->accuracy, 2.0 / 8.0);
	cr_assert_eq(mt_killmatrix_mutant(km, 4)->status, MT_MUTANT_TIMEOUT);
	cr_assert(isnan(mt_killmatrix_mutant(km, 4)->accuracy));
	cr_assert_str_eq(mt_killmatrix_mutant(km, 5)->status_reason, "NaN in outputs");
	cr_assert_null(mt_killmatrix_mutant(km, 0)->status_reason);
	cr_assert_null(mt_killmatrix_mutant(km, 8));
	cr_assert_eq(mt_killmatrix_mutant_kill_count(km, 2), 5);
	cr_assert_eq(mt_killmatrix_mutant_killed_classes(km, 1), 2);
	cr_assert_eq(mt_killmatrix_mutant_killed_classes(km, 2), 2);
	cr_assert_eq(mt_killmatrix_mutant_killed_classes(km, 6), 1);
	cr_assert_eq(mt_killmatrix_mutant_killed_classes(km, 0), 0);
	cr_assert_eq(mt_killmatrix_mutant_filtered(km, 2), 1);
	cr_assert_eq(mt_killmatrix_mutant_filtered(km, 1), 0);
	cr_assert_eq(mt_killmatrix_mutant_filtered(km, 4), 0);

	cr_assert_eq(mt_killmatrix_find(&idx, km, "GF-fc-0003"), 0);
	cr_assert_eq(idx, 6);
	cr_assert_eq(mt_killmatrix_find(&idx, km, "nope"), MT_ENOTFOUND);

	cr_assert_str_eq(mt_killmatrix_meta(km, "seed"), "42");
	cr_assert_eq(mt_killmatrix_set_meta(km, "seed", "43"), 0);
	cr_assert_str_eq(mt_killmatrix_meta(km, "seed"), "43");
	cr_assert_eq(mt_killmatrix_meta_count(km), 3);
	cr_assert_null(mt_killmatrix_meta(km, "missing"));
	mt_killmatrix_free(km);
	mt_killmatrix_free(NULL);
}

Test(killmatrix, scores_by_hand)
{
	mt_killmatrix *km = example();
	mt_scores *s;
	static const uint32_t ks1[N] = {2, 1, 0, 1, 1, 0, 1, 0};
	static const uint8_t filtered[8] = {0, 0, 1, 0, 0, 0, 0, 0};

	cr_assert_eq(mt_killmatrix_scores(&s, km), 0, "%s", mt_error_last());
	cr_assert_eq(s->n_inputs, N);
	cr_assert_eq(s->n_correct, 6);
	cr_assert_eq(s->original_accuracy, 0.75);
	assert_counts(&s->total, 8, 1, 3, 1, 1, 1, 1, 5);
	cr_assert_eq(s->total.deepmutation_mutants, 4);
	cr_assert_eq(s->total.killed_classes, 5);
	cr_assert_eq(s->total.kills, 6);
	assert_scores(&s->total, 4.0 / 5.0, 5.0 / 12.0, 1.0 / 4.0);
	for (size_t t = 0; t < N; t++)
		cr_assert_eq(s->ks1[t], ks1[t], "KS1 of t%zu is %u", t, s->ks1[t]);
	for (size_t m = 0; m < 8; m++)
		cr_assert_eq(s->filtered[m], filtered[m]);

	cr_assert_eq(s->n_operators, 4);
	cr_assert_str_eq(s->operators[0].name, "GF");
	cr_assert_str_eq(s->operators[1].name, "LD");
	cr_assert_str_eq(s->operators[2].name, "NAI");
	cr_assert_str_eq(s->operators[3].name, "NS");
	assert_counts(row(s->operators, 4, "GF"), 3, 0, 2, 1, 0, 0, 0, 3);
	assert_scores(row(s->operators, 4, "GF"), 2.0 / 3.0, 1.0 / 3.0, 2.0 / 9.0);
	assert_counts(row(s->operators, 4, "LD"), 1, 0, 0, 0, 0, 0, 1, 0);
	assert_scores(row(s->operators, 4, "LD"), NAN, NAN, NAN);
	assert_counts(row(s->operators, 4, "NAI"), 2, 1, 1, 0, 0, 0, 0, 1);
	assert_scores(row(s->operators, 4, "NAI"), 1.0, 2.0 / 3.0, 1.0 / 3.0);
	assert_counts(row(s->operators, 4, "NS"), 2, 0, 0, 0, 1, 1, 0, 1);
	assert_scores(row(s->operators, 4, "NS"), 1.0, NAN, NAN);

	cr_assert_eq(s->n_layers, 2);
	assert_counts(row(s->layers, 2, "conv"), 4, 0, 1, 1, 0, 1, 1, 2);
	assert_scores(row(s->layers, 2, "conv"), 1.0 / 2.0, 1.0 / 3.0, 1.0 / 6.0);
	assert_counts(row(s->layers, 2, "fc"), 4, 1, 2, 0, 1, 0, 0, 3);
	assert_scores(row(s->layers, 2, "fc"), 1.0, 1.0 / 2.0, 1.0 / 3.0);
	mt_scores_free(s);

	/* the default factor 0.9 filters M2, M3 and M7 */
	cr_assert_eq(mt_killmatrix_set_accuracy_filter(km, 0.9), 0);
	cr_assert_eq(mt_killmatrix_scores(&s, km), 0);
	assert_counts(&s->total, 8, 3, 1, 1, 1, 1, 1, 3);
	assert_scores(&s->total, 2.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0);
	cr_assert_eq(s->ks1[0], 0);
	cr_assert_eq(s->ks1[1], 1);
	cr_assert_eq(s->ks1[4], 1);
	mt_scores_free(s);

	/* factor 0 turns the filter off: M' holds all five evaluated mutants:
	 * MS (0+2+2+2+1)/(5x3) = 7/15, AER (0+2+5+2+2)/(5x6) = 11/30,
	 * score (4 killed + 1 timeout) / 6 valid = 5/6 */
	cr_assert_eq(mt_killmatrix_set_accuracy_filter(km, 0.0), 0);
	cr_assert_eq(mt_killmatrix_scores(&s, km), 0);
	assert_counts(&s->total, 8, 0, 4, 1, 1, 1, 1, 6);
	assert_scores(&s->total, 5.0 / 6.0, 7.0 / 15.0, 11.0 / 30.0);
	mt_scores_free(s);
	cr_assert_eq(mt_killmatrix_set_accuracy_filter(km, 1.5), MT_EINVALID);
	cr_assert_eq(mt_killmatrix_set_accuracy_filter(km, NAN), MT_EINVALID);
	mt_killmatrix_free(km);
}

Test(killmatrix, filter_boundary_is_strict)
{
	/* 4 inputs all correct; factor 0.5: threshold 2 correct. A mutant with
	 * exactly 2 correct stays, one with 1 correct is filtered. */
	static const int64_t c[4] = {0, 1, 0, 1};
	static const int64_t two[4] = {0, 1, 1, 0}, one[4] = {0, 0, 1, 0};
	mt_killmatrix *km;
	mt_mutant_record r = rec("a", "GF", "l", MT_MUTANT_PENDING);
	cr_assert_eq(mt_killmatrix_new(&km, 4, 2, c, c), 0);
	cr_assert_eq(mt_killmatrix_accuracy_filter(km), 0.9);
	cr_assert_eq(mt_killmatrix_set_accuracy_filter(km, 0.5), 0);
	cr_assert_eq(mt_killmatrix_add_mutant(km, &r, two), 0);
	r.id = "b";
	cr_assert_eq(mt_killmatrix_add_mutant(km, &r, one), 0);
	cr_assert_eq(mt_killmatrix_mutant_filtered(km, 0), 0);
	cr_assert_eq(mt_killmatrix_mutant_filtered(km, 1), 1);
	mt_killmatrix_free(km);
}

Test(killmatrix, rejects_bad_arguments)
{
	static const int64_t bad_class[N] = {0, 0, 1, 1, 3, 2, 0, 1};
	static const int64_t bad_pred[N] = {0, 0, 1, 1, 2, 2, 0, -1};
	mt_killmatrix *km = NULL;
	mt_mutant_record r;
	mt_mutant_status st;

	cr_assert_eq(mt_killmatrix_new(&km, N, 3, bad_class, original), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "class of input 4"), "%s",
		  mt_error_last());
	cr_assert_null(km);
	cr_assert_eq(mt_killmatrix_new(&km, N, 0, classes, original), MT_EINVALID);
	km = example();
	r = rec("GF-conv-0001", "GF", "conv", MT_MUTANT_PENDING);
	cr_assert_eq(mt_killmatrix_add_mutant(km, &r, p1), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "already"), "%s", mt_error_last());
	r.id = "new";
	cr_assert_eq(mt_killmatrix_add_mutant(km, &r, bad_pred), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "input 7"), "%s", mt_error_last());
	r.status = MT_MUTANT_KILLED;
	cr_assert_eq(mt_killmatrix_add_mutant(km, &r, NULL), MT_EINVALID);
	r.status = MT_MUTANT_TIMEOUT;
	cr_assert_eq(mt_killmatrix_add_mutant(km, &r, p1), MT_EINVALID);
	r.status = MT_MUTANT_PENDING;
	r.id = "";
	cr_assert_eq(mt_killmatrix_add_mutant(km, &r, p1), MT_EINVALID);
	r.id = "bad\xff";
	cr_assert_eq(mt_killmatrix_add_mutant(km, &r, p1), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "UTF-8"), "%s", mt_error_last());
	cr_assert_eq(mt_killmatrix_mutant_count(km), 8);

	cr_assert_eq(mt_mutant_status_from_name(&st, "RuntimeError"), 0);
	cr_assert_eq(st, MT_MUTANT_RUNTIME_ERROR);
	cr_assert_eq(mt_mutant_status_from_name(&st, "Dead"), MT_EINVALID);
	for (int i = 0; i < MT_MUTANT_STATUS_COUNT; i++) {
		cr_assert_eq(mt_mutant_status_from_name(&st,
			     mt_mutant_status_name((mt_mutant_status)i)), 0);
		cr_assert_eq((int)st, i);
	}
	mt_killmatrix_free(km);
}

/* ---- file format ------------------------------------------------------ */

static void assert_same(const mt_killmatrix *a, const mt_killmatrix *b)
{
	cr_assert_eq(mt_killmatrix_input_count(a), mt_killmatrix_input_count(b));
	cr_assert_eq(mt_killmatrix_class_count(a), mt_killmatrix_class_count(b));
	cr_assert_eq(mt_killmatrix_mutant_count(a), mt_killmatrix_mutant_count(b));
	cr_assert_eq(mt_killmatrix_accuracy_filter(a), mt_killmatrix_accuracy_filter(b));
	for (size_t t = 0; t < mt_killmatrix_input_count(a); t++) {
		cr_assert_eq(mt_killmatrix_input_class(a, t), mt_killmatrix_input_class(b, t));
		cr_assert_eq(mt_killmatrix_original_prediction(a, t),
			     mt_killmatrix_original_prediction(b, t));
	}
	for (size_t m = 0; m < mt_killmatrix_mutant_count(a); m++) {
		const mt_mutant_record *x = mt_killmatrix_mutant(a, m);
		const mt_mutant_record *y = mt_killmatrix_mutant(b, m);
		cr_assert_str_eq(x->id, y->id);
		cr_assert_str_eq(x->operator_name, y->operator_name);
		cr_assert_str_eq(x->layer, y->layer);
		cr_assert_str_eq(x->params, y->params);
		if (x->status_reason)
			cr_assert_str_eq(x->status_reason, y->status_reason);
		else
			cr_assert_null(y->status_reason);
		cr_assert_eq(x->seed, y->seed);
		cr_assert_eq(x->status, y->status);
		cr_assert(memcmp(&x->accuracy, &y->accuracy, sizeof(double)) == 0);
		cr_assert_eq(x->seconds, y->seconds);
		cr_assert_eq(mt_killmatrix_has_predictions(a, m),
			     mt_killmatrix_has_predictions(b, m));
		for (size_t t = 0; t < mt_killmatrix_input_count(a); t++) {
			cr_assert_eq(mt_killmatrix_kills(a, m, t), mt_killmatrix_kills(b, m, t));
			cr_assert_eq(mt_killmatrix_prediction(a, m, t),
				     mt_killmatrix_prediction(b, m, t));
		}
	}
	cr_assert_eq(mt_killmatrix_meta_count(a), mt_killmatrix_meta_count(b));
	for (size_t i = 0; i < mt_killmatrix_meta_count(a); i++) {
		const char *ka, *va, *kb, *vb;
		cr_assert_eq(mt_killmatrix_meta_at(&ka, &va, a, i), 0);
		cr_assert_eq(mt_killmatrix_meta_at(&kb, &vb, b, i), 0);
		cr_assert_str_eq(ka, kb);
		cr_assert_str_eq(va, vb);
	}
}

Test(killmatrix, save_load_round_trip)
{
	mt_killmatrix *km = example(), *back;
	char *dir = th_tempdir("km"), path[4200];
	void *buf1, *buf2;
	size_t len1, len2;

	snprintf(path, sizeof(path), "%s/kill.mtkm", dir);
	cr_assert_eq(mt_killmatrix_save(km, path), 0, "%s", mt_error_last());
	cr_assert_eq(mt_killmatrix_load(&back, path), 0, "%s", mt_error_last());
	assert_same(km, back);
	/* serializing the loaded matrix gives the same bytes */
	cr_assert_eq(mt_killmatrix_serialize(&buf1, &len1, km), 0);
	cr_assert_eq(mt_killmatrix_serialize(&buf2, &len2, back), 0);
	cr_assert_eq(len1, len2);
	cr_assert(memcmp(buf1, buf2, len1) == 0);
	cr_assert(memcmp(buf1, "MTKM\x01\0\0\0\0\0\0\0", 12) == 0);
	free(buf1);
	free(buf2);
	mt_killmatrix_free(back);
	unlink(path);

	/* a larger matrix: several 64-bit words per bitset, many mutants */
	{
		enum { n = 1000, mutants = 300 };
		int64_t *c = malloc(n * sizeof(int64_t)), *o = malloc(n * sizeof(int64_t));
		int64_t *p = malloc(n * sizeof(int64_t));
		mt_killmatrix *big, *big_back;
		char id[32];
		uint32_t x = 12345;
		for (int t = 0; t < n; t++) {
			c[t] = t % 10;
			o[t] = t % 7 == 0 ? (t + 1) % 10 : t % 10;
		}
		cr_assert_eq(mt_killmatrix_new(&big, n, 10, c, o), 0);
		for (int m = 0; m < mutants; m++) {
			snprintf(id, sizeof(id), "GF-x-%04d", m);
			mt_mutant_record r = rec(id, "GF", m % 2 ? "a" : "b",
						 MT_MUTANT_PENDING);
			for (int t = 0; t < n; t++) {
				x = x * 1103515245u + 12345u;
				p[t] = (x >> 16) % 5 == 0 ? (int64_t)((x >> 8) % 10) : c[t];
			}
			if (m % 50 == 7) {
				r.status = MT_MUTANT_COMPILE_ERROR;
				cr_assert_eq(mt_killmatrix_add_mutant(big, &r, NULL), 0);
			} else {
				cr_assert_eq(mt_killmatrix_add_mutant(big, &r, p), 0);
			}
		}
		snprintf(path, sizeof(path), "%s/big.mtkm", dir);
		cr_assert_eq(mt_killmatrix_save(big, path), 0, "%s", mt_error_last());
		cr_assert_eq(mt_killmatrix_load(&big_back, path), 0, "%s",
			     mt_error_last());
		assert_same(big, big_back);
		cr_assert_eq(mt_killmatrix_find(&len1, big_back, "GF-x-0299"), 0);
		cr_assert_eq(len1, 299);
		mt_killmatrix_free(big);
		mt_killmatrix_free(big_back);
		free(c);
		free(o);
		free(p);
		unlink(path);
	}
	rmdir(dir);
	free(dir);
	mt_killmatrix_free(km);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void fix_header_crc(unsigned char *file)
{
	put32(file + 36, (uint32_t)crc32(0, file, 36));
}

static int load_bytes(const void *buf, size_t len)
{
	mt_killmatrix *km = NULL;
	int error = mt_killmatrix_deserialize(&km, buf, len, "corrupt.mtkm");
	if (error == 0)
		mt_killmatrix_free(km);
	else
		cr_assert_null(km);
	return error;
}

Test(killmatrix, every_flipped_byte_is_rejected)
{
	mt_killmatrix *km = example();
	unsigned char *buf;
	size_t len;
	cr_assert_eq(mt_killmatrix_serialize((void **)&buf, &len, km), 0);
	for (size_t i = 0; i < len; i++) {
		static const unsigned char masks[] = {0x01, 0xFF};
		for (size_t k = 0; k < 2; k++) {
			buf[i] ^= masks[k];
			int error = load_bytes(buf, len);
			cr_assert_eq(error, MT_EINVALID, "byte %zu ^ 0x%02x: %d %s", i,
				     masks[k], error, mt_error_last());
			cr_assert(th_contains(mt_error_last(), "corrupt.mtkm"), "%s",
				  mt_error_last());
			if (i >= 4 && i < 40)
				cr_assert(th_contains(mt_error_last(), "header checksum"),
					  "byte %zu: %s", i, mt_error_last());
			if (i >= 40)
				cr_assert(th_contains(mt_error_last(),
						      "compressed payload checksum"),
					  "byte %zu: %s", i, mt_error_last());
			buf[i] ^= masks[k];
		}
	}
	cr_assert_eq(load_bytes(buf, len), 0);
	free(buf);
	mt_killmatrix_free(km);
}

Test(killmatrix, truncation_magic_version_checksum)
{
	mt_killmatrix *km = example();
	unsigned char *buf, *longer;
	size_t len;
	cr_assert_eq(mt_killmatrix_serialize((void **)&buf, &len, km), 0);

	for (size_t cut = 0; cut < len; cut++) {
		cr_assert_eq(load_bytes(buf, cut), MT_EINVALID, "cut at %zu", cut);
		if (cut >= 4)
			cr_assert(th_contains(mt_error_last(), "truncated"),
				  "cut at %zu: %s", cut, mt_error_last());
	}
	longer = malloc(len + 1);
	memcpy(longer, buf, len);
	longer[len] = 0;
	cr_assert_eq(load_bytes(longer, len + 1), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "after the compressed payload"),
		  "%s", mt_error_last());
	free(longer);

	buf[0] = 'X';
	cr_assert_eq(load_bytes(buf, len), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "not a kill matrix file"), "%s",
		  mt_error_last());
	buf[0] = 'M';

	put32(buf + 4, 2);
	fix_header_crc(buf);
	cr_assert_eq(load_bytes(buf, len), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "unsupported format version 2"),
		  "%s", mt_error_last());
	put32(buf + 4, 1);

	/* a payload CRC that does not match (header CRC made consistent) */
	put32(buf + 28, get32(buf + 28) ^ 0x10);
	fix_header_crc(buf);
	cr_assert_eq(load_bytes(buf, len), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "payload checksum mismatch"), "%s",
		  mt_error_last());
	put32(buf + 28, get32(buf + 28) ^ 0x10);
	fix_header_crc(buf);
	cr_assert_eq(load_bytes(buf, len), 0, "%s", mt_error_last());

	/* load from a path names the path */
	{
		char *dir = th_tempdir("km"), *path;
		mt_killmatrix *out;
		path = th_write(dir, "short.mtkm", buf, 20);
		cr_assert_eq(mt_killmatrix_load(&out, path), MT_EINVALID);
		cr_assert(th_contains(mt_error_last(), path), "%s", mt_error_last());
		unlink(path);
		free(path);
		rmdir(dir);
		free(dir);
	}
	free(buf);
	mt_killmatrix_free(km);
}

/* Rebuild a file around an edited payload, with correct lengths and
 * checksums, so that only the payload's own consistency is tested. */
static int load_payload(const unsigned char *payload, size_t plen)
{
	uLongf zlen = compressBound(plen);
	unsigned char *file = malloc(40 + zlen);
	int error;
	cr_assert_eq(compress2(file + 40, &zlen, payload, plen, 6), Z_OK);
	memcpy(file, "MTKM", 4);
	put32(file + 4, 1);
	put32(file + 8, 0);
	put32(file + 12, (uint32_t)plen);
	put32(file + 16, 0);
	put32(file + 20, (uint32_t)zlen);
	put32(file + 24, 0);
	put32(file + 28, (uint32_t)crc32(0, payload, (uInt)plen));
	put32(file + 32, (uint32_t)crc32(0, file + 40, (uInt)zlen));
	fix_header_crc(file);
	error = load_bytes(file, 40 + zlen);
	free(file);
	return error;
}

static size_t skip_str(const unsigned char *p, size_t pos)
{
	uint32_t n = get32(p + pos);
	return pos + 4 + (n ? n - 1 : 0);
}

Test(killmatrix, inconsistent_payloads_are_rejected)
{
	mt_killmatrix *km = example();
	unsigned char *file, *payload, *edit;
	size_t len, pos;
	uLongf plen;

	cr_assert_eq(mt_killmatrix_serialize((void **)&file, &len, km), 0);
	plen = get32(file + 12);
	payload = malloc(plen + 1);
	edit = malloc(plen + 1);
	cr_assert_eq(uncompress(payload, &plen, file + 40, len - 40), Z_OK);
	cr_assert_eq(load_payload(payload, plen), 0, "%s", mt_error_last());

	/* counts: one mutant more than stored */
	memcpy(edit, payload, plen);
	put32(edit + 8, get32(edit + 8) + 1);
	cr_assert_eq(load_payload(edit, plen), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "truncated reading mutant id"), "%s",
		  mt_error_last());
	/* one input more than stored */
	memcpy(edit, payload, plen);
	put32(edit, get32(edit) + 1);
	cr_assert_eq(load_payload(edit, plen), MT_EINVALID);
	/* a byte left over */
	memcpy(edit, payload, plen);
	edit[plen] = 0;
	cr_assert_eq(load_payload(edit, plen + 1), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "1 bytes left"), "%s", mt_error_last());
	/* a class out of range (class of t4 at offset 24 + 2 x 4) */
	memcpy(edit, payload, plen);
	edit[24 + 8] = 3;
	cr_assert_eq(load_payload(edit, plen), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "class of input 4"), "%s",
		  mt_error_last());

	/* find M2 (the second mutant): header 24, classes and predictions 32,
	 * 3 metadata pairs, then mutant 1 */
	pos = 24 + 4 * N;
	for (int i = 0; i < 6; i++)
		pos = skip_str(payload, pos);
	for (int i = 0; i < 5; i++)
		pos = skip_str(payload, pos);
	pos += 8 + 1 + 1 + 2 + 8 + 8 + 1 + 2 * N; /* M1 has predictions */
	cr_assert(memcmp(payload + pos + 4, "GF-conv-0002", 12) == 0);
	for (int i = 0; i < 5; i++)
		pos = skip_str(payload, pos);
	size_t status_at = pos + 8, bits_at = pos + 8 + 1 + 1 + 2 + 8 + 8;
	cr_assert_eq(payload[status_at], MT_MUTANT_KILLED);
	cr_assert_eq(payload[bits_at], 0x09); /* t0 and t3 */

	memcpy(edit, payload, plen);
	edit[bits_at] = 0x0B; /* claims t1 kills too */
	cr_assert_eq(load_payload(edit, plen), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "kill bit of input 1 disagrees"),
		  "%s", mt_error_last());
	memcpy(edit, payload, plen);
	edit[status_at] = MT_MUTANT_SURVIVED;
	cr_assert_eq(load_payload(edit, plen), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "disagree"), "%s", mt_error_last());
	memcpy(edit, payload, plen);
	edit[status_at] = 99;
	cr_assert_eq(load_payload(edit, plen), MT_EINVALID);
	memcpy(edit, payload, plen);
	edit[bits_at + 1 + 2 * 3] = 7; /* prediction of t3: 7 >= 3 classes */
	cr_assert_eq(load_payload(edit, plen), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "prediction of input 3"), "%s",
		  mt_error_last());
	/* M2 renamed to M1's id */
	memcpy(edit, payload, plen);
	{
		size_t id_at = 24 + 4 * N;
		for (int i = 0; i < 6; i++)
			id_at = skip_str(payload, id_at);
		size_t m2_id = id_at;
		for (int i = 0; i < 5; i++)
			m2_id = skip_str(payload, m2_id);
		m2_id += 8 + 1 + 1 + 2 + 8 + 8 + 1 + 2 * N;
		edit[m2_id + 4 + 11] = '1';
	}
	cr_assert_eq(load_payload(edit, plen), MT_EINVALID);
	cr_assert(th_contains(mt_error_last(), "already"), "%s", mt_error_last());

	free(payload);
	free(edit);
	free(file);
	mt_killmatrix_free(km);
}

/* ---- reports ----------------------------------------------------------- */

Test(killmatrix, csv_exact)
{
	mt_killmatrix *km = example();
	char *dir = th_tempdir("km"), path[4200], *text;

	snprintf(path, sizeof(path), "%s/kills.csv", dir);
	cr_assert_eq(mt_killmatrix_write_kills_csv(km, path), 0, "%s", mt_error_last());
	text = th_read_all(path, NULL);
	cr_assert_str_eq(text,
		"id,operator,status,t0,t1,t2,t3,t4,t5,t6,t7\n"
		"GF-conv-0001,GF,Survived,0,0,0,0,0,0,0,0\n"
		"GF-conv-0002,GF,Killed,1,0,0,1,0,0,0,0\n"
		"NAI-fc-0001,NAI,Killed,1,1,1,1,0,0,1,0\n"
		"NAI-fc-0002,NAI,Killed,0,1,0,0,1,0,0,0\n"
		"NS-fc-0001,NS,Timeout,0,0,0,0,0,0,0,0\n"
		"NS-conv-0001,NS,RuntimeError,0,0,0,0,0,0,0,0\n"
		"GF-fc-0003,GF,Killed,1,0,0,0,0,0,1,0\n"
		"LD-conv-0001,LD,Ignored,0,0,0,0,0,0,0,0\n");
	free(text);
	unlink(path);

	snprintf(path, sizeof(path), "%s/predictions.csv", dir);
	cr_assert_eq(mt_killmatrix_write_predictions_csv(km, path), 0);
	text = th_read_all(path, NULL);
	cr_assert_str_eq(text,
		"id,operator,status,t0,t1,t2,t3,t4,t5,t6,t7\n"
		"@class,,,0,0,1,1,2,2,0,1\n"
		"@original,,,0,0,1,1,2,0,0,2\n"
		"GF-conv-0001,GF,Survived,0,0,1,1,2,2,0,2\n"
		"GF-conv-0002,GF,Killed,1,0,1,0,2,0,0,2\n"
		"NAI-fc-0001,NAI,Killed,2,2,2,2,2,2,2,2\n"
		"NAI-fc-0002,NAI,Killed,0,1,1,1,1,2,0,1\n"
		"NS-fc-0001,NS,Timeout,,,,,,,,\n"
		"NS-conv-0001,NS,RuntimeError,,,,,,,,\n"
		"GF-fc-0003,GF,Killed,1,0,1,1,2,0,1,2\n"
		"LD-conv-0001,LD,Ignored,,,,,,,,\n");
	free(text);
	unlink(path);

	snprintf(path, sizeof(path), "%s/inputs.csv", dir);
	cr_assert_eq(mt_killmatrix_write_inputs_csv(km, path), 0);
	text = th_read_all(path, NULL);
	/* lcr over M' = {M1, M2, M4, M7}: the mutants whose label differs
	 * from the original's: t0 M2 M7, t1 M4, t2 none, t3 M2, t4 M4,
	 * t5 M1 M4, t6 M7, t7 M4 */
	cr_assert_str_eq(text,
		"input,class,original_prediction,in_t_prime,ks1,lcr\n"
		"0,0,0,1,2,0.5\n1,0,0,1,1,0.25\n2,1,1,1,0,0\n3,1,1,1,1,0.25\n"
		"4,2,2,1,1,0.25\n5,2,0,0,0,0.5\n6,0,0,1,1,0.25\n7,1,2,0,0,0.25\n");
	free(text);
	unlink(path);

	/* CSV quoting of an id with a comma and a quote */
	{
		static const int64_t c[1] = {0};
		mt_killmatrix *one;
		mt_mutant_record r = rec("a,\"b\"", "GF", "l", MT_MUTANT_PENDING);
		cr_assert_eq(mt_killmatrix_new(&one, 1, 2, c, c), 0);
		cr_assert_eq(mt_killmatrix_add_mutant(one, &r, (const int64_t[]){1}), 0);
		snprintf(path, sizeof(path), "%s/quoted.csv", dir);
		cr_assert_eq(mt_killmatrix_write_kills_csv(one, path), 0);
		text = th_read_all(path, NULL);
		cr_assert_str_eq(text, "id,operator,status,t0\n"
				 "\"a,\"\"b\"\"\",GF,Killed,1\n");
		free(text);
		unlink(path);
		mt_killmatrix_free(one);
	}
	rmdir(dir);
	free(dir);
	mt_killmatrix_free(km);
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	cr_assert(json_is_number(v), "key %s is not a number", key);
	return json_number_value(v);
}

static json_t *find_by(json_t *arr, const char *key, const char *value)
{
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		if (strcmp(json_string_value(json_object_get(o, key)), value) == 0)
			return o;
	}
	cr_assert_fail("no %s = %s", key, value);
	return NULL;
}

Test(killmatrix, json_report)
{
	mt_killmatrix *km = example();
	char *dir = th_tempdir("km"), path[4200];
	json_error_t jerr;
	json_t *root, *o;

	snprintf(path, sizeof(path), "%s/report.json", dir);
	cr_assert_eq(mt_killmatrix_write_json(km, path), 0, "%s", mt_error_last());
	root = json_load_file(path, 0, &jerr);
	cr_assert_not_null(root, "%s", jerr.text);
	static const char *const keys[] = {"mutation_score", "deepmutation_score",
		"average_error_rate", "operators", "layers", "mutants",
		"original_accuracy", "n_inputs", "metadata"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		cr_assert_not_null(json_object_get(root, keys[i]), "key %s", keys[i]);
	cr_assert_eq(num(root, "mutation_score"), 4.0 / 5.0);
	cr_assert_eq(num(root, "deepmutation_score"), 5.0 / 12.0);
	cr_assert_eq(num(root, "average_error_rate"), 1.0 / 4.0);
	cr_assert_eq(num(root, "original_accuracy"), 0.75);
	cr_assert_eq(num(root, "n_inputs"), 8);
	cr_assert_eq(num(root, "n_correct_inputs"), 6);
	cr_assert_eq(num(root, "accuracy_filter"), 0.5);

	json_t *ops = json_object_get(root, "operators");
	cr_assert_eq(json_array_size(ops), 4);
	o = find_by(ops, "operator", "GF");
	cr_assert_eq(num(o, "mutants"), 3);
	cr_assert_eq(num(o, "killed"), 2);
	cr_assert_eq(num(o, "survived"), 1);
	cr_assert_eq(num(o, "mutation_score"), 2.0 / 3.0);
	cr_assert_eq(num(o, "deepmutation_score"), 1.0 / 3.0);
	cr_assert_eq(num(o, "average_error_rate"), 2.0 / 9.0);
	o = find_by(ops, "operator", "LD");
	cr_assert(json_is_null(json_object_get(o, "mutation_score")));
	cr_assert(json_is_null(json_object_get(o, "deepmutation_score")));
	o = find_by(ops, "operator", "NAI");
	cr_assert_eq(num(o, "filtered"), 1);
	o = find_by(json_object_get(root, "layers"), "layer", "fc");
	cr_assert_eq(num(o, "deepmutation_score"), 1.0 / 2.0);

	json_t *mutants = json_object_get(root, "mutants");
	cr_assert_eq(json_array_size(mutants), 8);
	o = find_by(mutants, "id", "NAI-fc-0001");
	cr_assert_str_eq(json_string_value(json_object_get(o, "operator")), "NAI");
	cr_assert_str_eq(json_string_value(json_object_get(o, "layer")), "fc");
	cr_assert_str_eq(json_string_value(json_object_get(o, "params")), "ratio=0.01");
	/* seeds are decimal strings: uint64 does not fit a JSON double */
	cr_assert_str_eq(json_string_value(json_object_get(o, "seed")),
			 "18446744073709551611");
	cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "Killed");
	cr_assert(json_is_true(json_object_get(o, "filtered")));
	cr_assert_eq(num(o, "killed_inputs"), 5);
	cr_assert_eq(num(o, "killed_classes"), 2);
	cr_assert_eq(num(o, "accuracy"), 0.25);
	o = find_by(mutants, "id", "NS-conv-0001");
	cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "RuntimeError");
	cr_assert_str_eq(json_string_value(json_object_get(o, "status_reason")),
			 "NaN in outputs");
	cr_assert(json_is_null(json_object_get(o, "accuracy")));
	cr_assert(json_is_false(json_object_get(o, "filtered")));

	json_t *ks1 = json_object_get(root, "ks1");
	cr_assert_eq(json_array_size(ks1), 8);
	cr_assert_eq(json_integer_value(json_array_get(ks1, 0)), 2);
	cr_assert_str_eq(json_string_value(json_object_get(
		json_object_get(root, "metadata"), "libtorch")), "1.13.1");
	json_decref(root);
	unlink(path);
	rmdir(dir);
	free(dir);
	mt_killmatrix_free(km);
}

Test(killmatrix, table)
{
	mt_killmatrix *km = example();
	char *text = NULL;
	size_t size;
	FILE *f = open_memstream(&text, &size);
	cr_assert_eq(mt_killmatrix_write_table(f, km), 0);
	fclose(f);
	cr_assert(th_contains(text, "mutation score (killed + timeouts) / valid:  80.00%"),
		  "%s", text);
	cr_assert(th_contains(text, "DeepMutation mutation score (MS):           41.67%"),
		  "%s", text);
	cr_assert(th_contains(text, "average error rate (AER):                   25.00%"),
		  "%s", text);
	cr_assert(th_contains(text, "1 filtered"), "%s", text);
	/* GF: 3 mutants, 3 valid, 0 filtered, 2 killed, 1 survived, 0, 0,
	 * 66.67%, 33.33%, 22.22% */
	cr_assert(th_contains(text, "GF             3      3        0      2        1"
			      "      0        0   66.67%   33.33%   22.22%"), "%s", text);
	cr_assert(th_contains(text, "LD             1      0        0      0        0"
			      "      0        0        -        -        -"), "%s", text);
	free(text);
	mt_killmatrix_free(km);
}

static json_t *stryker(const mt_killmatrix *km, const mt_stryker_options *o)
{
	char *text;
	json_error_t jerr;
	json_t *root;
	cr_assert_eq(mt_killmatrix_stryker_string(&text, km, o), 0, "%s",
		     mt_error_last());
	root = json_loads(text, 0, &jerr);
	cr_assert_not_null(root, "%s", jerr.text);
	free(text);
	return root;
}

Test(killmatrix, stryker_structure)
{
	mt_killmatrix *km = example();
	mt_stryker_options opts;
	json_t *root, *file, *mutants, *m, *tests, *arr;

	root = stryker(km, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(root, "schemaVersion")), "1");
	cr_assert_eq(json_integer_value(json_object_get(
		json_object_get(root, "thresholds"), "high")), 80);
	file = json_object_get(json_object_get(root, "files"), "model");
	cr_assert_not_null(file);
	cr_assert_str_eq(json_string_value(json_object_get(file, "language")), "text");
	cr_assert_str_eq(json_string_value(json_object_get(file, "source")),
			 "# layers of the model that mutorch mutated\n"
			 "layer conv\nlayer fc\n");
	mutants = json_object_get(file, "mutants");
	cr_assert_eq(json_array_size(mutants), 8);

	m = find_by(mutants, "id", "GF-conv-0002");
	cr_assert_str_eq(json_string_value(json_object_get(m, "mutatorName")), "GF");
	cr_assert_str_eq(json_string_value(json_object_get(m, "status")), "Killed");
	arr = json_object_get(m, "killedBy");
	cr_assert_eq(json_array_size(arr), 2);
	cr_assert_str_eq(json_string_value(json_array_get(arr, 0)), "t0");
	cr_assert_str_eq(json_string_value(json_array_get(arr, 1)), "t3");
	cr_assert_null(json_object_get(m, "coveredBy"));
	/* "conv" sits on line 2, columns 7 to 10 (end exclusive: 11) */
	json_t *loc = json_object_get(m, "location");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(loc, "start"),
							"line")), 2);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(loc, "start"),
							"column")), 7);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(loc, "end"),
							"column")), 11);
	cr_assert_eq(json_number_value(json_object_get(m, "duration")), 250.0);

	m = find_by(mutants, "id", "NAI-fc-0001");
	cr_assert_str_eq(json_string_value(json_object_get(m, "status")), "Ignored");
	cr_assert(th_contains(json_string_value(json_object_get(m, "statusReason")),
			      "too easy"));
	cr_assert_null(json_object_get(m, "killedBy"));
	m = find_by(mutants, "id", "NS-fc-0001");
	cr_assert_str_eq(json_string_value(json_object_get(m, "status")), "Timeout");
	cr_assert_null(json_object_get(m, "killedBy"));
	m = find_by(mutants, "id", "NS-conv-0001");
	cr_assert_str_eq(json_string_value(json_object_get(m, "statusReason")),
			 "NaN in outputs");
	m = find_by(mutants, "id", "GF-conv-0001");
	cr_assert_str_eq(json_string_value(json_object_get(m, "status")), "Survived");
	cr_assert_eq(json_array_size(json_object_get(m, "killedBy")), 0);

	tests = json_object_get(json_object_get(json_object_get(root, "testFiles"),
						"test-set"), "tests");
	cr_assert_eq(json_array_size(tests), 8);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(tests, 2),
							   "id")), "t2");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(tests, 2),
							   "name")),
			 "test input 2 (class 1)");
	cr_assert(th_contains(json_string_value(json_object_get(json_array_get(tests, 5),
								"name")),
			      "cannot kill"));
	json_decref(root);

	/* options: a given source, caps, coveredBy */
	mt_stryker_options_init(&opts);
	opts.file_name = "lenet.pt";
	opts.source = "conv: Conv2d(1, 6, 5)\nfc: Linear(84, 10)\n";
	opts.max_killed_by = 1;
	opts.covered_by = 1;
	opts.max_covered_by = 4;
	root = stryker(km, &opts);
	mutants = json_object_get(json_object_get(json_object_get(root, "files"),
						  "lenet.pt"), "mutants");
	m = find_by(mutants, "id", "GF-fc-0003");
	loc = json_object_get(m, "location");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(loc, "start"),
							"line")), 2);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(loc, "start"),
							"column")), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(loc, "end"),
							"column")), 3);
	arr = json_object_get(m, "killedBy");
	cr_assert_eq(json_array_size(arr), 1);
	cr_assert_str_eq(json_string_value(json_array_get(arr, 0)), "t0");
	arr = json_object_get(m, "coveredBy");
	cr_assert_eq(json_array_size(arr), 4);
	cr_assert_str_eq(json_string_value(json_array_get(arr, 3)), "t3");
	json_decref(root);

	opts.threshold_low = 90;
	cr_assert_eq(mt_killmatrix_stryker_string(&(char *){NULL}, km, &opts),
		     MT_EINVALID);
	mt_killmatrix_free(km);
}

static int have(const char *tool)
{
	return th_run(NULL, NULL, "command -v %s", tool) == 0;
}

Test(killmatrix, stryker_validates_against_schema)
{
	const char *flag = getenv("MUTORCH_TEST_NPM");
	if (!flag || strcmp(flag, "1") != 0 || !have("node") || !have("npm"))
		cr_skip_test("set MUTORCH_TEST_NPM=1 (needs node, npm and the npm "
			     "registry) to validate against the Stryker schema");
	mt_killmatrix *km = example();
	mt_stryker_options opts;
	char *dir = th_tempdir("km"), path[4200], *out = NULL, *err = NULL;
	int rc;

	mt_stryker_options_init(&opts);
	opts.covered_by = 1;
	snprintf(path, sizeof(path), "%s/stryker.json", dir);
	cr_assert_eq(mt_killmatrix_write_stryker(km, path, &opts), 0, "%s",
		     mt_error_last());
	rc = th_run(&out, &err, "'%s/scripts/validate-stryker.sh' '%s'",
		    MT_SOURCE_DIR, path);
	cr_assert_eq(rc, 0, "validate-stryker.sh failed (%d):\n%s\n%s", rc, out, err);
	cr_assert(th_contains(out, "valid"), "%s", out);
	free(out);
	free(err);

	/* and the validator does reject a bad report */
	char *bad = th_write(dir, "bad.json", "{\"schemaVersion\":\"1\",\"thresholds\":"
			     "{\"high\":80,\"low\":60},\"files\":{\"m\":{\"language\":"
			     "\"text\",\"source\":\"\",\"mutants\":[{\"id\":\"1\","
			     "\"mutatorName\":\"GF\",\"status\":\"Dead\",\"location\":"
			     "{\"start\":{\"line\":1,\"column\":1},\"end\":{\"line\":1,"
			     "\"column\":1}}}]}}}", (size_t)-1);
	rc = th_run(&out, &err, "'%s/scripts/validate-stryker.sh' '%s'",
		    MT_SOURCE_DIR, bad);
	cr_assert_eq(rc, 1, "a bad report passed (%d):\n%s\n%s", rc, out, err);
	cr_assert(th_contains(err, "status"), "%s", err);
	free(out);
	free(err);
	unlink(bad);
	free(bad);
	unlink(path);
	rmdir(dir);
	free(dir);
	mt_killmatrix_free(km);
}
