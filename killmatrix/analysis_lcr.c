/* The label change rate per input (Wang et al., ICSE 2019), the surviving
 * mutants' near-misses, the analyses' JSON and the .npy mask. Definitions:
 * docs/reports.md. */
#include "internal.h"
#include "mutorch/analysis.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"
#include "mutorch/strbuf.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void mt_lcr_result_free(mt_lcr_result *res)
{
	if (!res)
		return;
	free(res->lcr);
	free(res);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Quantile of sorted v[0..n) by linear interpolation between order
 * statistics (R's type 7, numpy's default). */
static double quantile(const double *v, size_t n, double q)
{
	double h = (double)(n - 1) * q;
	size_t lo = (size_t)floor(h);
	if (lo + 1 >= n)
		return v[n - 1];
	return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

static void summarise(mt_lcr_summary *s, double *v, size_t n)
{
	double mean = 0, ss = 0;
	s->n = (double)n;
	if (!n) {
		s->mean = s->sd = s->min = s->q1 = s->median = s->q3 = s->max = NAN;
		return;
	}
	qsort(v, n, sizeof(double), cmp_double);
	for (size_t i = 0; i < n; i++)
		mean += v[i];
	mean /= (double)n;
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - mean) * (v[i] - mean);
	s->mean = mean;
	s->sd = n > 1 ? sqrt(ss / (double)(n - 1)) : NAN;
	s->min = v[0];
	s->q1 = quantile(v, n, 0.25);
	s->median = quantile(v, n, 0.5);
	s->q3 = quantile(v, n, 0.75);
	s->max = v[n - 1];
}

/* P(wrong > correct) + P(tie) / 2 from the two sorted samples by merging. */
static double auc(const double *correct, size_t nc, const double *wrong, size_t nw)
{
	double sum = 0;
	size_t lo = 0, hi = 0;
	if (!nc || !nw)
		return NAN;
	for (size_t i = 0; i < nw; i++) {
		while (lo < nc && correct[lo] < wrong[i])
			lo++;
		if (hi < lo)
			hi = lo;
		while (hi < nc && correct[hi] <= wrong[i])
			hi++;
		sum += (double)lo + 0.5 * (double)(hi - lo);
	}
	return sum / ((double)nc * (double)nw);
}

static size_t bin_of(double v)
{
	size_t b = (size_t)floor(v * MT_LCR_BINS);
	return b >= MT_LCR_BINS ? MT_LCR_BINS - 1 : b;
}

int mt_analysis_lcr(mt_lcr_result **out, const mt_killmatrix *km)
{
	mt_lcr_result *res = calloc(1, sizeof(*res));
	size_t n = km->n_inputs, nc = 0, nw = 0, *changed = NULL;
	double *vc = NULL, *vw = NULL;

	*out = NULL;
	if (!res || !(res->lcr = malloc((n ? n : 1) * sizeof(double))) ||
	    !(changed = calloc(n ? n : 1, sizeof(size_t))) ||
	    !(vc = malloc((n ? n : 1) * sizeof(double))) ||
	    !(vw = malloc((n ? n : 1) * sizeof(double)))) {
		mt_lcr_result_free(res);
		free(changed);
		free(vc);
		return mt_error_oom();
	}
	res->n_inputs = n;
	for (size_t m = 0; m < km->n_mutants; m++) {
		const mt_km_mutant *mu = km->mutants[m];
		if (!mu->predictions || km_mutant_filtered(km, mu))
			continue;
		res->n_mutants++;
		for (size_t t = 0; t < n; t++)
			changed[t] += mu->predictions[t] != km->original[t];
	}
	for (size_t t = 0; t < n; t++) {
		double v = res->n_mutants ? (double)changed[t] / (double)res->n_mutants : NAN;
		res->lcr[t] = v;
		if (!res->n_mutants)
			continue;
		if (km_bit(km->correct_bits, t)) {
			vc[nc++] = v;
			res->hist_correct[bin_of(v)]++;
		} else {
			vw[nw++] = v;
			res->hist_wrong[bin_of(v)]++;
		}
	}
	summarise(&res->correct, vc, nc);
	summarise(&res->wrong, vw, nw);
	res->auc = auc(vc, nc, vw, nw);
	free(changed);
	free(vc);
	free(vw);
	*out = res;
	return 0;
}

/* ---- surviving mutants ------------------------------------------------- */

void mt_survivors_result_free(mt_survivors_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n; i++) {
		free(res->survivors[i].near_misses);
		free(res->survivors[i].reached);
	}
	free(res->survivors);
	free(res);
}

int mt_analysis_survivors(mt_survivors_result **out, const mt_killmatrix *km)
{
	mt_survivors_result *res = calloc(1, sizeof(*res));

	*out = NULL;
	if (!res || !(res->survivors = calloc(km->n_mutants ? km->n_mutants : 1, sizeof(mt_survivor))))
		goto oom;
	res->num_classes = km->num_classes;
	for (size_t m = 0; m < km->n_mutants; m++) {
		const mt_km_mutant *mu = km->mutants[m];
		mt_survivor *sv;
		if (!mu->predictions || km_mutant_filtered(km, mu) ||
		    mu->rec.status != MT_MUTANT_SURVIVED)
			continue;
		sv = &res->survivors[res->n++];
		sv->mutant = m;
		if (!(sv->reached = calloc((size_t)km->num_classes, 1)))
			goto oom;
		for (size_t t = 0; t < km->n_inputs; t++)
			sv->n_near_misses += mu->predictions[t] != km->original[t];
		if (!(sv->near_misses = malloc((sv->n_near_misses ? sv->n_near_misses : 1) * sizeof(size_t))))
			goto oom;
		sv->n_near_misses = 0;
		for (size_t t = 0; t < km->n_inputs; t++) {
			if (mu->predictions[t] == km->original[t])
				continue;
			sv->near_misses[sv->n_near_misses++] = t;
			if (!sv->reached[km->classes[t]]) {
				sv->reached[km->classes[t]] = 1;
				sv->n_reached++;
			}
		}
	}
	*out = res;
	return 0;
oom:
	mt_survivors_result_free(res);
	return mt_error_oom();
}

/* ---- JSON -------------------------------------------------------------- */

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *sizes(const size_t *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)v[i]));
	return a;
}

static json_t *summary_json(const mt_lcr_summary *s)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "n", (json_int_t)s->n,
			 "mean", num(s->mean), "sd", num(s->sd), "min", num(s->min), "q1", num(s->q1),
			 "median", num(s->median), "q3", num(s->q3), "max", num(s->max));
}

static json_t *minimise_json(const mt_minimise_result *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "inputs", json_integer((json_int_t)r->n_inputs));
	json_object_set_new(o, "mutants", json_integer((json_int_t)r->n_mutants));
	json_object_set_new(o, "killable", json_integer((json_int_t)r->killable));
	json_object_set_new(o, "subset_size", json_integer((json_int_t)r->subset_size));
	json_object_set_new(o, "lower_bound", json_integer((json_int_t)r->lower_bound));
	json_object_set_new(o, "packing_bound", json_integer((json_int_t)r->packing_size));
	json_object_set_new(o, "coverage_bound", json_integer((json_int_t)r->coverage_bound));
	json_object_set_new(o, "subset", sizes(r->subset, r->subset_size));
	return o;
}

static json_t *prioritise_json(const mt_prioritise_result *r, int per_input)
{
	json_t *o = json_object();
	char seed[32];
	snprintf(seed, sizeof(seed), "%" PRIu64, r->seed);
	json_object_set_new(o, "inputs", json_integer((json_int_t)r->n_inputs));
	json_object_set_new(o, "killable", json_integer((json_int_t)r->killable));
	json_object_set_new(o, "apfd", num(r->apfd));
	json_object_set_new(o, "apfd_ks1", num(r->apfd_ks1));
	json_object_set_new(o, "apfd_random_mean", num(r->apfd_random_mean));
	json_object_set_new(o, "apfd_random_sd", num(r->apfd_random_sd));
	json_object_set_new(o, "apfd_random_expected", num(r->apfd_random_expected));
	json_object_set_new(o, "random_orders", json_integer((json_int_t)r->random_orders));
	json_object_set_new(o, "seed", json_string(seed));
	json_object_set_new(o, "inputs_to_kill_all", json_integer((json_int_t)r->inputs_to_kill_all));
	if (per_input)
		json_object_set_new(o, "order", sizes(r->order, r->n_inputs));
	return o;
}

static json_t *lcr_json(const mt_lcr_result *r, int per_input)
{
	json_t *o = json_object();
	json_object_set_new(o, "inputs", json_integer((json_int_t)r->n_inputs));
	json_object_set_new(o, "mutants", json_integer((json_int_t)r->n_mutants));
	json_object_set_new(o, "correct", summary_json(&r->correct));
	json_object_set_new(o, "wrong", summary_json(&r->wrong));
	json_object_set_new(o, "auc", num(r->auc));
	json_object_set_new(o, "histogram_correct", sizes(r->hist_correct, MT_LCR_BINS));
	json_object_set_new(o, "histogram_wrong", sizes(r->hist_wrong, MT_LCR_BINS));
	if (per_input) {
		json_t *a = json_array();
		for (size_t t = 0; t < r->n_inputs; t++)
			json_array_append_new(a, num(r->lcr[t]));
		json_object_set_new(o, "lcr", a);
	}
	return o;
}

static json_t *survivors_json(const mt_survivors_result *r, const mt_killmatrix *km)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const mt_survivor *sv = &r->survivors[i];
		const mt_km_mutant *mu = km->mutants[sv->mutant];
		json_t *reached = json_array(), *needed = json_array();
		for (int c = 0; c < r->num_classes; c++)
			json_array_append_new(sv->reached[c] ? reached : needed, json_integer(c));
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:o}", "id", mu->id,
						   "operator", mu->operator_name, "layer", mu->layer,
						   "near_misses", (json_int_t)sv->n_near_misses,
						   "near_miss_inputs", sizes(sv->near_misses, sv->n_near_misses),
						   "classes_reached", reached, "classes_needed", needed));
	}
	return a;
}

int mt_analysis_json_string(char **out, const mt_minimise_result *min,
			    const mt_prioritise_result *prio, const mt_lcr_result *lcr,
			    const mt_survivors_result *surv, const mt_killmatrix *km, int per_input)
{
	json_t *root = json_object();
	*out = NULL;
	if (!root)
		return mt_error_oom();
	if (min)
		json_object_set_new(root, "minimise", minimise_json(min));
	if (prio)
		json_object_set_new(root, "prioritise", prioritise_json(prio, per_input));
	if (lcr)
		json_object_set_new(root, "lcr", lcr_json(lcr, per_input));
	if (surv && km)
		json_object_set_new(root, "survivors", survivors_json(surv, km));
	*out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(root);
	return *out ? 0 : mt_error_oom();
}

/* ---- .npy -------------------------------------------------------------- */

int mt_analysis_write_mask_npy(const char *path, const uint8_t *mask, size_t n)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	char header[128];
	int len = snprintf(header, sizeof(header),
			   "{'descr': '|b1', 'fortran_order': False, 'shape': (%zu,), }", n);
	/* magic, version 1.0, header length, header padded with spaces and
	 * ended by a newline so that the data starts at a multiple of 64 */
	size_t total = 10 + (size_t)len + 1, pad = (64 - total % 64) % 64;
	uint16_t hlen = (uint16_t)((size_t)len + pad + 1);
	unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
				    (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};

	mt_strbuf_put(&sb, (const char *)prefix, sizeof(prefix));
	mt_strbuf_put(&sb, header, (size_t)len);
	for (size_t i = 0; i < pad; i++)
		mt_strbuf_put(&sb, " ", 1);
	mt_strbuf_put(&sb, "\n", 1);
	for (size_t i = 0; i < n; i++)
		mt_strbuf_put(&sb, mask[i] ? "\1" : "\0", 1);
	return mt_strbuf_write_file(&sb, path);
}
