/* The test-set analyses (killmatrix/analysis*.c) checked by brute force on
 * small random matrices: minimisation against the optimum over every
 * subset, APFD against the area under the kills curve and the mean over
 * every order, the greedy order step by step, LCR and its AUC against
 * their definitions, survivors on the hand example, and the .npy mask read
 * back by NumPy. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "mutorch/analysis.h"
#include "mutorch/error.h"
#include "mutorch/killmatrix.h"
#include "mutorch/rng.h"

/* A random matrix: n inputs, nm mutants, k classes; each mutant flips each
 * input's label with probability p; some mutants time out. */
static mt_killmatrix *random_matrix(mt_rng *rng, size_t n, size_t nm, int k, double p, double filter)
{
	int64_t cls[16], orig[16], pred[16];
	mt_killmatrix *km;
	cr_assert(n <= 16);
	for (size_t t = 0; t < n; t++) {
		cls[t] = (int64_t)mt_rng_below(rng, (uint64_t)k);
		orig[t] = mt_rng_uniform(rng) < 0.8 ? cls[t] : (int64_t)mt_rng_below(rng, (uint64_t)k);
	}
	cr_assert_eq(mt_killmatrix_new(&km, n, k, cls, orig), 0);
	cr_assert_eq(mt_killmatrix_set_accuracy_filter(km, filter), 0);
	for (size_t m = 0; m < nm; m++) {
		char id[32];
		mt_mutant_record r;
		memset(&r, 0, sizeof(r));
		snprintf(id, sizeof(id), "M%zu", m);
		r.id = id;
		r.operator_name = m % 2 ? "GF" : "NAI";
		r.layer = "fc";
		if (mt_rng_uniform(rng) < 0.1) {
			r.status = MT_MUTANT_TIMEOUT;
			r.accuracy = NAN;
			cr_assert_eq(mt_killmatrix_add_mutant(km, &r, NULL), 0);
			continue;
		}
		r.status = MT_MUTANT_PENDING;
		for (size_t t = 0; t < n; t++)
			pred[t] = mt_rng_uniform(rng) < p ? (int64_t)mt_rng_below(rng, (uint64_t)k) : orig[t];
		cr_assert_eq(mt_killmatrix_add_mutant(km, &r, pred), 0, "%s", mt_error_last());
	}
	return km;
}

static int in_mprime(const mt_killmatrix *km, size_t m)
{
	return mt_killmatrix_has_predictions(km, m) && !mt_killmatrix_mutant_filtered(km, m);
}

/* Mutants of M' (bit m) that the inputs in mask kill. */
static unsigned long long killed_by(const mt_killmatrix *km, unsigned mask)
{
	unsigned long long k = 0;
	for (size_t m = 0; m < mt_killmatrix_mutant_count(km); m++)
		for (size_t t = 0; t < mt_killmatrix_input_count(km); t++)
			if ((mask >> t & 1u) && in_mprime(km, m) && mt_killmatrix_kills(km, m, t))
				k |= 1ull << m;
	return k;
}

Test(analysis, minimise_against_the_optimum)
{
	mt_rng rng;
	size_t gaps = 0, optimal = 0;
	mt_rng_seed(&rng, 12);
	for (int trial = 0; trial < 150; trial++) {
		size_t n = 4 + mt_rng_below(&rng, 8), nm = 3 + mt_rng_below(&rng, 14);
		mt_killmatrix *km = random_matrix(&rng, n, nm, 3, 0.05 + 0.3 * mt_rng_uniform(&rng),
						  trial % 3 ? 0 : 0.5);
		mt_minimise_result *r;
		unsigned long long all = killed_by(km, (1u << n) - 1), got;
		unsigned mask = 0;
		size_t best = n + 1;

		cr_assert_eq(mt_analysis_minimise(&r, km), 0);
		for (unsigned s = 0; s < 1u << n; s++)
			if (killed_by(km, s) == all && (size_t)__builtin_popcount(s) < best)
				best = (size_t)__builtin_popcount(s);
		for (size_t i = 0; i < r->subset_size; i++) {
			cr_assert_lt(r->subset[i], n);
			cr_assert_eq(mask >> r->subset[i] & 1u, 0, "input %zu chosen twice", r->subset[i]);
			mask |= 1u << r->subset[i];
		}
		got = killed_by(km, mask);
		cr_assert_eq(got, all, "trial %d: the subset kills %llx, the whole set %llx", trial, got, all);
		cr_assert_eq(r->killable, (size_t)__builtin_popcountll(all));
		cr_assert_leq(r->lower_bound, best, "trial %d: bound %zu above the optimum %zu", trial,
			      r->lower_bound, best);
		cr_assert_geq(r->subset_size, best);
		/* reverse deletion: no chosen input can go */
		for (size_t i = 0; i < r->subset_size; i++)
			cr_assert_neq(killed_by(km, mask & ~(1u << r->subset[i])), all,
				      "trial %d: input %zu is redundant", trial, r->subset[i]);
		/* the packing's mutants share no killing input */
		for (size_t a = 0; a < r->packing_size; a++)
			for (size_t b = a + 1; b < r->packing_size; b++)
				for (size_t t = 0; t < n; t++)
					cr_assert(!(mt_killmatrix_kills(km, r->packing[a], t) &&
						    mt_killmatrix_kills(km, r->packing[b], t)),
						  "trial %d: packing mutants share input %zu", trial, t);
		cr_assert_eq(r->lower_bound, r->packing_size > r->coverage_bound ? r->packing_size :
			     r->coverage_bound);
		gaps += r->subset_size - best;
		optimal += r->subset_size == best;
		mt_minimise_result_free(r);
		mt_killmatrix_free(km);
	}
	cr_log_info("greedy optimal in %zu of 150 cases, %zu inputs above the optimum in all", optimal, gaps);
}

/* APFD from the definition: the trapezoid area under the curve of the
 * fraction of killable mutants killed after k of n inputs. */
static double apfd_area(const mt_killmatrix *km, const size_t *order, size_t n)
{
	unsigned long long all = killed_by(km, (1u << n) - 1);
	double area = 0, prev = 0, m = (double)__builtin_popcountll(all);
	unsigned mask = 0;
	if (!all)
		return NAN;
	for (size_t k = 0; k < n; k++) {
		double f;
		mask |= 1u << order[k];
		f = (double)__builtin_popcountll(killed_by(km, mask)) / m;
		area += (prev + f) / 2 / (double)n;
		prev = f;
	}
	return area;
}

static int next_permutation(size_t *a, size_t n)
{
	size_t i = n - 1, j = n - 1;
	while (i > 0 && a[i - 1] >= a[i])
		i--;
	if (i == 0)
		return 0;
	while (a[j] <= a[i - 1])
		j--;
	size_t t = a[i - 1];
	a[i - 1] = a[j];
	a[j] = t;
	for (size_t l = i, r = n - 1; l < r; l++, r--) {
		t = a[l];
		a[l] = a[r];
		a[r] = t;
	}
	return 1;
}

Test(analysis, prioritise_against_every_order)
{
	mt_rng rng;
	mt_rng_seed(&rng, 7);
	for (int trial = 0; trial < 40; trial++) {
		size_t n = 3 + mt_rng_below(&rng, 5), nm = 2 + mt_rng_below(&rng, 8), perm[8];
		mt_killmatrix *km = random_matrix(&rng, n, nm, 3, 0.1 + 0.3 * mt_rng_uniform(&rng), 0);
		mt_prioritise_result *r;
		double sum = 0, lo = INFINITY, hi = -INFINITY, count = 0, a;
		unsigned mask = 0, placed = 0;
		unsigned long long all = killed_by(km, (1u << n) - 1);

		cr_assert_eq(mt_analysis_prioritise(&r, km, 100, 3), 0);
		for (size_t i = 0; i < n; i++)
			perm[i] = i;
		do {
			cr_assert_eq(mt_analysis_apfd(&a, km, perm, n), 0);
			if (all) {
				cr_assert_float_eq(a, apfd_area(km, perm, n), 1e-12, "trial %d", trial);
				sum += a;
				lo = fmin(lo, a);
				hi = fmax(hi, a);
			} else {
				cr_assert(isnan(a));
			}
			count++;
		} while (next_permutation(perm, n));
		if (all) {
			cr_assert_float_eq(r->apfd_random_expected, sum / count, 1e-12,
					   "trial %d: expectation %.15g, mean over all orders %.15g", trial,
					   r->apfd_random_expected, sum / count);
			cr_assert_geq(r->apfd_random_mean, lo - 1e-12);
			cr_assert_leq(r->apfd_random_mean, hi + 1e-12);
			cr_assert_float_eq(r->apfd, apfd_area(km, r->order, n), 1e-12);
		}
		/* the greedy order: a permutation; every pick adds the most new
		 * kills among the inputs left until all are killed */
		for (size_t k = 0; k < n; k++) {
			size_t t = r->order[k], g = 0, best = 0;
			unsigned long long before = killed_by(km, mask);
			cr_assert_eq(placed >> t & 1u, 0);
			placed |= 1u << t;
			if (before != all) {
				g = (size_t)__builtin_popcountll(killed_by(km, mask | 1u << t) & ~before);
				for (size_t u = 0; u < n; u++)
					if (!(mask >> u & 1u)) {
						size_t gu = (size_t)__builtin_popcountll(killed_by(km, mask | 1u << u) & ~before);
						best = gu > best ? gu : best;
					}
				cr_assert_eq(g, best, "trial %d: pick %zu adds %zu, the best adds %zu", trial, k, g, best);
			}
			mask |= 1u << t;
			cr_assert_eq(r->kills_curve[k], (size_t)__builtin_popcountll(killed_by(km, mask)));
		}
		mt_prioritise_result_free(r);
		mt_killmatrix_free(km);
	}
}

Test(analysis, apfd_rejects_a_bad_order)
{
	mt_rng rng;
	mt_killmatrix *km;
	size_t order[4] = {0, 1, 1, 3};
	double a;
	mt_rng_seed(&rng, 1);
	km = random_matrix(&rng, 4, 3, 2, 0.3, 0);
	cr_assert_eq(mt_analysis_apfd(&a, km, order, 4), MT_EINVALID);
	cr_assert_eq(mt_analysis_apfd(&a, km, order, 3), MT_EINVALID);
	mt_killmatrix_free(km);
}

Test(analysis, lcr_and_auc_from_their_definitions)
{
	mt_rng rng;
	mt_rng_seed(&rng, 99);
	for (int trial = 0; trial < 60; trial++) {
		size_t n = 5 + mt_rng_below(&rng, 11), nm = 1 + mt_rng_below(&rng, 12), mp = 0;
		mt_killmatrix *km = random_matrix(&rng, n, nm, 4, 0.4 * mt_rng_uniform(&rng), trial % 2 ? 0.6 : 0);
		mt_lcr_result *r;
		double wins = 0, pairs = 0, sum_c = 0, nc = 0;

		cr_assert_eq(mt_analysis_lcr(&r, km), 0);
		for (size_t m = 0; m < nm; m++)
			mp += in_mprime(km, m);
		cr_assert_eq(r->n_mutants, mp);
		for (size_t t = 0; t < n; t++) {
			size_t changed = 0;
			for (size_t m = 0; m < nm; m++)
				changed += in_mprime(km, m) &&
					mt_killmatrix_prediction(km, m, t) != mt_killmatrix_original_prediction(km, t);
			if (!mp) {
				cr_assert(isnan(r->lcr[t]));
				continue;
			}
			cr_assert_eq(r->lcr[t], (double)changed / (double)mp);
			if (mt_killmatrix_original_correct(km, t)) {
				sum_c += r->lcr[t];
				nc++;
			}
			for (size_t u = 0; u < n; u++)
				if (!mt_killmatrix_original_correct(km, t) && mt_killmatrix_original_correct(km, u)) {
					pairs++;
					wins += r->lcr[t] > r->lcr[u] ? 1 : r->lcr[t] == r->lcr[u] ? 0.5 : 0;
				}
		}
		if (mp && pairs)
			cr_assert_float_eq(r->auc, wins / pairs, 1e-12, "trial %d", trial);
		else
			cr_assert(isnan(r->auc));
		if (mp && nc)
			cr_assert_float_eq(r->correct.mean, sum_c / nc, 1e-12);
		cr_assert_eq(r->correct.n, nc);
		mt_lcr_result_free(r);
		mt_killmatrix_free(km);
	}
}

/* The hand example of test_killmatrix.c with the filter at 0.5: M1
 * (GF-conv-0001) is the only survivor of M'; it differs from the original
 * only on t5 (class 2, which the original gets wrong). */
Test(analysis, survivors_and_their_near_misses)
{
	static const int64_t classes[8] = {0, 0, 1, 1, 2, 2, 0, 1};
	static const int64_t original[8] = {0, 0, 1, 1, 2, 0, 0, 2};
	static const int64_t p1[8] = {0, 0, 1, 1, 2, 2, 0, 2};
	static const int64_t p2[8] = {1, 0, 1, 0, 2, 0, 0, 2};
	mt_killmatrix *km;
	mt_survivors_result *r;
	mt_mutant_record rec;
	char *json;
	memset(&rec, 0, sizeof(rec));
	rec.operator_name = "GF";
	rec.layer = "conv";
	cr_assert_eq(mt_killmatrix_new(&km, 8, 3, classes, original), 0);
	cr_assert_eq(mt_killmatrix_set_accuracy_filter(km, 0.5), 0);
	rec.id = "GF-conv-0001";
	cr_assert_eq(mt_killmatrix_add_mutant(km, &rec, p1), 0);
	rec.id = "GF-conv-0002";
	cr_assert_eq(mt_killmatrix_add_mutant(km, &rec, p2), 0);
	cr_assert_eq(mt_analysis_survivors(&r, km), 0);
	cr_assert_eq(r->n, 1);
	cr_assert_eq(r->survivors[0].mutant, 0);
	cr_assert_eq(r->survivors[0].n_near_misses, 1);
	cr_assert_eq(r->survivors[0].near_misses[0], 5);
	cr_assert_eq(r->survivors[0].n_reached, 1);
	cr_assert(r->survivors[0].reached[2] && !r->survivors[0].reached[0] && !r->survivors[0].reached[1]);
	cr_assert_eq(mt_analysis_json_string(&json, NULL, NULL, NULL, r, km, 0), 0);
	cr_assert_str_eq(json, "{\"survivors\":[{\"id\":\"GF-conv-0001\",\"operator\":\"GF\",\"layer\":"
			 "\"conv\",\"near_misses\":1,\"near_miss_inputs\":[5],\"classes_reached\":[2],"
			 "\"classes_needed\":[0,1]}]}");
	free(json);
	mt_survivors_result_free(r);
	mt_killmatrix_free(km);
}

Test(analysis, npy_mask_reads_back_in_numpy)
{
	char *dir = th_tempdir("npy"), path[512], *out = NULL, *err = NULL;
	uint8_t mask[70];
	for (size_t i = 0; i < 70; i++)
		mask[i] = i % 3 == 0 || i == 69;
	snprintf(path, sizeof(path), "%s/mask.npy", dir);
	cr_assert_eq(mt_analysis_write_mask_npy(path, mask, 70), 0);
	cr_assert_eq(th_run(&out, &err, "/usr/bin/python3 -c \"import numpy; a = numpy.load('%s'); "
			    "print(a.dtype, a.shape, ''.join('1' if x else '0' for x in a))\"", path), 0,
		     "numpy could not read it: %s", err);
	{
		char want[128];
		int k = snprintf(want, sizeof(want), "bool (70,) ");
		for (size_t i = 0; i < 70; i++)
			want[k++] = mask[i] ? '1' : '0';
		want[k++] = '\n';
		want[k] = '\0';
		cr_assert_str_eq(out, want);
	}
	free(out);
	free(err);
	unlink(path);
	rmdir(dir);
	free(dir);
}
