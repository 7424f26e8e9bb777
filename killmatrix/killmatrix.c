/* The kill matrix in memory: inputs, mutants, kill bits, metadata. */
#include "internal.h"
#include "mutorch/error.h"
#include "mutorch/hash.h"
#include "mutorch/killmatrix.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[MT_MUTANT_STATUS_COUNT] = {
	[MT_MUTANT_PENDING] = "Pending",
	[MT_MUTANT_KILLED] = "Killed",
	[MT_MUTANT_SURVIVED] = "Survived",
	[MT_MUTANT_TIMEOUT] = "Timeout",
	[MT_MUTANT_RUNTIME_ERROR] = "RuntimeError",
	[MT_MUTANT_COMPILE_ERROR] = "CompileError",
	[MT_MUTANT_IGNORED] = "Ignored",
	[MT_MUTANT_NO_COVERAGE] = "NoCoverage",
};

const char *mt_mutant_status_name(mt_mutant_status status)
{
	if ((unsigned)status >= MT_MUTANT_STATUS_COUNT)
		return "?";
	return status_names[status];
}

int mt_mutant_status_from_name(mt_mutant_status *out, const char *name)
{
	for (int i = 0; i < MT_MUTANT_STATUS_COUNT; i++) {
		if (name && strcmp(name, status_names[i]) == 0) {
			*out = (mt_mutant_status)i;
			return 0;
		}
	}
	return mt_error_set(MT_EINVALID,
			    "mutant status '%s' is unknown, expected one of Killed, "
			    "Survived, Timeout, RuntimeError, CompileError, Ignored, "
			    "Pending, NoCoverage", name ? name : "(null)");
}

int mt_killmatrix_new(mt_killmatrix **out, size_t n_inputs, int num_classes,
		      const int64_t *classes, const int64_t *original_predictions)
{
	mt_killmatrix *km = NULL;
	int error = 0;

	*out = NULL;
	if (num_classes < 1 || num_classes > 65535)
		return mt_error_set(MT_EINVALID, "kill matrix: num_classes is %d, "
				    "expected 1 to 65535", num_classes);
	if (n_inputs > UINT32_MAX)
		return mt_error_set(MT_EINVALID, "kill matrix: %zu inputs, expected "
				    "at most %u", n_inputs, (unsigned)UINT32_MAX);
	if (n_inputs > 0 && (!classes || !original_predictions))
		return mt_error_set(MT_EINVALID, "kill matrix: classes and original "
				    "predictions are required");
	for (size_t t = 0; t < n_inputs; t++) {
		if (classes[t] < 0 || classes[t] >= num_classes)
			return mt_error_set(MT_EINVALID, "kill matrix: class of input "
					    "%zu is %lld, expected 0 to %d", t,
					    (long long)classes[t], num_classes - 1);
		if (original_predictions[t] < 0 ||
		    original_predictions[t] >= num_classes)
			return mt_error_set(MT_EINVALID, "kill matrix: original "
					    "prediction of input %zu is %lld, expected "
					    "0 to %d", t,
					    (long long)original_predictions[t],
					    num_classes - 1);
	}

	if (!(km = calloc(1, sizeof(*km))))
		goto oom;
	km->n_inputs = n_inputs;
	km->num_classes = num_classes;
	km->n_words = (n_inputs + 63) / 64;
	km->accuracy_filter = 0.9;
	km->classes = malloc((n_inputs ? n_inputs : 1) * sizeof(uint16_t));
	km->original = malloc((n_inputs ? n_inputs : 1) * sizeof(uint16_t));
	km->correct_bits = calloc(km->n_words ? km->n_words : 1, sizeof(uint64_t));
	if (!km->classes || !km->original || !km->correct_bits)
		goto oom;
	for (size_t t = 0; t < n_inputs; t++) {
		km->classes[t] = (uint16_t)classes[t];
		km->original[t] = (uint16_t)original_predictions[t];
		if (classes[t] == original_predictions[t]) {
			km->correct_bits[t >> 6] |= (uint64_t)1 << (t & 63);
			km->n_correct++;
		}
	}
	*out = km;
	return 0;
oom:
	error = mt_error_set(MT_ENOMEM, "kill matrix: out of memory (%zu inputs)",
			     n_inputs);
	mt_killmatrix_free(km);
	return error;
}

static void mutant_free(mt_km_mutant *mu)
{
	if (!mu)
		return;
	free(mu->id);
	free(mu->operator_name);
	free(mu->layer);
	free(mu->params);
	free(mu->status_reason);
	free(mu->kills);
	free(mu->predictions);
	free(mu);
}

void mt_killmatrix_free(mt_killmatrix *km)
{
	if (!km)
		return;
	for (size_t m = 0; m < km->n_mutants; m++)
		mutant_free(km->mutants[m]);
	free(km->mutants);
	free(km->id_slots);
	for (size_t i = 0; i < km->n_meta; i++) {
		free(km->meta_keys[i]);
		free(km->meta_values[i]);
	}
	free(km->meta_keys);
	free(km->meta_values);
	free(km->classes);
	free(km->original);
	free(km->correct_bits);
	free(km);
}

/* FNV-1a: ids are short, and the table only needs to spread them. */
static size_t id_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

static size_t *id_slot(const mt_killmatrix *km, const char *id)
{
	size_t mask = km->id_slots_cap - 1, i = id_hash(id) & mask;
	while (km->id_slots[i] &&
	       strcmp(km->mutants[km->id_slots[i] - 1]->id, id) != 0)
		i = (i + 1) & mask;
	return &km->id_slots[i];
}

/* Keep the id table at most half full. */
static int id_table_reserve(mt_killmatrix *km, size_t count)
{
	size_t cap = km->id_slots_cap ? km->id_slots_cap : 64, *old = km->id_slots;
	if (km->id_slots && count * 2 <= km->id_slots_cap)
		return 0;
	while (count * 2 > cap)
		cap *= 2;
	if (!(km->id_slots = calloc(cap, sizeof(size_t)))) {
		km->id_slots = old;
		return mt_error_set(MT_ENOMEM, "kill matrix: out of memory");
	}
	km->id_slots_cap = cap;
	free(old);
	for (size_t m = 0; m < km->n_mutants; m++)
		*id_slot(km, km->mutants[m]->id) = m + 1;
	return 0;
}

int mt_killmatrix_find(size_t *index, const mt_killmatrix *km, const char *id)
{
	size_t *slot;
	if (id && km->id_slots) {
		slot = id_slot(km, id);
		if (*slot) {
			*index = *slot - 1;
			return 0;
		}
	}
	return mt_error_set(MT_ENOTFOUND, "kill matrix: no mutant with id '%s'",
			    id ? id : "(null)");
}

/* Reports are JSON: reject text that is not UTF-8 when it comes in. */
int km_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (p && *p) {
		int n;
		uint32_t cp;
		if (*p < 0x80) {
			p++;
			continue;
		} else if ((*p & 0xE0) == 0xC0) {
			n = 1;
			cp = *p & 0x1F;
		} else if ((*p & 0xF0) == 0xE0) {
			n = 2;
			cp = *p & 0x0F;
		} else if ((*p & 0xF8) == 0xF0) {
			n = 3;
			cp = *p & 0x07;
		} else {
			return 0;
		}
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		p += n + 1;
	}
	return 1;
}

static char *dup_or_null(const char *s, int *failed)
{
	char *copy;
	if (!s)
		return NULL;
	if (!(copy = strdup(s)))
		*failed = 1;
	return copy;
}

int mt_killmatrix_add_mutant(mt_killmatrix *km, const mt_mutant_record *rec,
			     const int64_t *predictions)
{
	mt_km_mutant *mu = NULL;
	int failed = 0, error = 0;
	size_t tmp;

	if (!rec || !rec->id || !rec->id[0])
		return mt_error_set(MT_EINVALID, "kill matrix: mutant id is empty, "
				    "expected a unique id");
	if (!rec->operator_name || !rec->layer)
		return mt_error_set(MT_EINVALID, "kill matrix: mutant %s: operator "
				    "and layer are required", rec->id);
	if (!km_utf8_valid(rec->id) || !km_utf8_valid(rec->operator_name) ||
	    !km_utf8_valid(rec->layer) || !km_utf8_valid(rec->params) ||
	    !km_utf8_valid(rec->status_reason))
		return mt_error_set(MT_EINVALID, "kill matrix: mutant %s: a text "
				    "field is not valid UTF-8, expected UTF-8",
				    km_utf8_valid(rec->id) ? rec->id : "(id not UTF-8)");
	if ((unsigned)rec->status >= MT_MUTANT_STATUS_COUNT)
		return mt_error_set(MT_EINVALID, "kill matrix: mutant %s: status %d "
				    "is unknown", rec->id, (int)rec->status);
	if (km->id_slots && mt_killmatrix_find(&tmp, km, rec->id) == 0)
		return mt_error_set(MT_EINVALID, "kill matrix: mutant id '%s' is "
				    "already in the matrix, expected unique ids",
				    rec->id);
	mt_error_clear();
	if (predictions && rec->status != MT_MUTANT_PENDING &&
	    rec->status != MT_MUTANT_KILLED && rec->status != MT_MUTANT_SURVIVED)
		return mt_error_set(MT_EINVALID, "kill matrix: mutant %s has "
				    "predictions but status %s, expected Pending, "
				    "Killed or Survived", rec->id,
				    mt_mutant_status_name(rec->status));
	if (!predictions && (rec->status == MT_MUTANT_KILLED ||
			     rec->status == MT_MUTANT_SURVIVED))
		return mt_error_set(MT_EINVALID, "kill matrix: mutant %s is %s "
				    "but has no predictions, expected predictions "
				    "for an evaluated mutant", rec->id,
				    mt_mutant_status_name(rec->status));
	if (predictions) {
		for (size_t t = 0; t < km->n_inputs; t++)
			if (predictions[t] < 0 || predictions[t] >= km->num_classes)
				return mt_error_set(MT_EINVALID, "kill matrix: mutant "
						    "%s: prediction of input %zu is "
						    "%lld, expected 0 to %d", rec->id,
						    t, (long long)predictions[t],
						    km->num_classes - 1);
	}

	if (!(mu = calloc(1, sizeof(*mu))))
		goto oom;
	mu->id = dup_or_null(rec->id, &failed);
	mu->operator_name = dup_or_null(rec->operator_name, &failed);
	mu->layer = dup_or_null(rec->layer, &failed);
	mu->params = dup_or_null(rec->params ? rec->params : "", &failed);
	mu->status_reason = dup_or_null(rec->status_reason, &failed);
	if (failed)
		goto oom;
	mu->rec = *rec;
	mu->rec.id = mu->id;
	mu->rec.operator_name = mu->operator_name;
	mu->rec.layer = mu->layer;
	mu->rec.params = mu->params;
	mu->rec.status_reason = mu->status_reason;

	if (predictions) {
		mu->kills = calloc(km->n_words ? km->n_words : 1, sizeof(uint64_t));
		mu->predictions = malloc((km->n_inputs ? km->n_inputs : 1) *
					 sizeof(uint16_t));
		if (!mu->kills || !mu->predictions)
			goto oom;
		for (size_t t = 0; t < km->n_inputs; t++) {
			mu->predictions[t] = (uint16_t)predictions[t];
			if (mu->predictions[t] == km->classes[t])
				mu->correct_count++;
			else if (km_bit(km->correct_bits, t)) {
				mu->kills[t >> 6] |= (uint64_t)1 << (t & 63);
				mu->kill_count++;
			}
		}
		mu->rec.status = mu->kill_count ? MT_MUTANT_KILLED : MT_MUTANT_SURVIVED;
		mu->rec.accuracy = km->n_inputs ? (double)mu->correct_count /
			(double)km->n_inputs : NAN;
	}

	if (km->n_mutants == km->mutants_cap) {
		size_t cap = km->mutants_cap ? km->mutants_cap * 2 : 16;
		mt_km_mutant **grown = realloc(km->mutants, cap * sizeof(*grown));
		if (!grown)
			goto oom;
		km->mutants = grown;
		km->mutants_cap = cap;
	}
	if ((error = id_table_reserve(km, km->n_mutants + 1)) < 0)
		goto cleanup;
	km->mutants[km->n_mutants++] = mu;
	*id_slot(km, mu->id) = km->n_mutants;
	return 0;
oom:
	error = mt_error_set(MT_ENOMEM, "kill matrix: out of memory adding "
			     "mutant %s", rec->id);
cleanup:
	mutant_free(mu);
	return error;
}

size_t mt_killmatrix_input_count(const mt_killmatrix *km) { return km->n_inputs; }
int mt_killmatrix_class_count(const mt_killmatrix *km) { return km->num_classes; }
size_t mt_killmatrix_mutant_count(const mt_killmatrix *km) { return km->n_mutants; }

int mt_killmatrix_input_class(const mt_killmatrix *km, size_t t)
{
	return t < km->n_inputs ? km->classes[t] : -1;
}

int mt_killmatrix_original_prediction(const mt_killmatrix *km, size_t t)
{
	return t < km->n_inputs ? km->original[t] : -1;
}

int mt_killmatrix_original_correct(const mt_killmatrix *km, size_t t)
{
	return t < km->n_inputs ? km_bit(km->correct_bits, t) : 0;
}

size_t mt_killmatrix_correct_count(const mt_killmatrix *km) { return km->n_correct; }

double mt_killmatrix_original_accuracy(const mt_killmatrix *km)
{
	return km->n_inputs ? (double)km->n_correct / (double)km->n_inputs : NAN;
}

const mt_mutant_record *mt_killmatrix_mutant(const mt_killmatrix *km, size_t m)
{
	return m < km->n_mutants ? &km->mutants[m]->rec : NULL;
}

int mt_killmatrix_kills(const mt_killmatrix *km, size_t m, size_t t)
{
	if (m >= km->n_mutants || t >= km->n_inputs || !km->mutants[m]->kills)
		return 0;
	return km_bit(km->mutants[m]->kills, t);
}

size_t mt_killmatrix_mutant_kill_count(const mt_killmatrix *km, size_t m)
{
	return m < km->n_mutants ? km->mutants[m]->kill_count : 0;
}

size_t km_killed_classes(const mt_killmatrix *km, const mt_km_mutant *mu,
			 unsigned char *seen)
{
	size_t count = 0;
	if (!mu->kills || !mu->kill_count)
		return 0;
	memset(seen, 0, (size_t)km->num_classes);
	for (size_t w = 0; w < km->n_words; w++) {
		uint64_t bits = mu->kills[w];
		while (bits) {
			size_t t = w * 64 + (size_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (!seen[km->classes[t]]) {
				seen[km->classes[t]] = 1;
				count++;
			}
		}
	}
	return count;
}

size_t mt_killmatrix_mutant_killed_classes(const mt_killmatrix *km, size_t m)
{
	unsigned char *seen;
	size_t count;
	if (m >= km->n_mutants || !km->mutants[m]->kill_count)
		return 0;
	if (!(seen = malloc((size_t)km->num_classes)))
		return 0;
	count = km_killed_classes(km, km->mutants[m], seen);
	free(seen);
	return count;
}

int mt_killmatrix_has_predictions(const mt_killmatrix *km, size_t m)
{
	return m < km->n_mutants && km->mutants[m]->predictions != NULL;
}

int mt_killmatrix_prediction(const mt_killmatrix *km, size_t m, size_t t)
{
	if (m >= km->n_mutants || t >= km->n_inputs || !km->mutants[m]->predictions)
		return -1;
	return km->mutants[m]->predictions[t];
}

int mt_killmatrix_set_accuracy_filter(mt_killmatrix *km, double factor)
{
	if (!(factor >= 0.0 && factor <= 1.0))
		return mt_error_set(MT_EINVALID, "kill matrix: accuracy filter %g, "
				    "expected a factor from 0 to 1", factor);
	km->accuracy_filter = factor;
	return 0;
}

double mt_killmatrix_accuracy_filter(const mt_killmatrix *km)
{
	return km->accuracy_filter;
}

/* Compare counts, not accuracies: both are over the same n inputs, and
 * counts avoid a rounding step. */
int km_mutant_filtered(const mt_killmatrix *km, const mt_km_mutant *mu)
{
	return mu->predictions &&
	       (double)mu->correct_count < km->accuracy_filter * (double)km->n_correct;
}

int mt_killmatrix_mutant_filtered(const mt_killmatrix *km, size_t m)
{
	return m < km->n_mutants && km_mutant_filtered(km, km->mutants[m]);
}

int mt_killmatrix_set_meta(mt_killmatrix *km, const char *key, const char *value)
{
	char *k = NULL, *v = NULL;
	if (!key || !key[0] || !value)
		return mt_error_set(MT_EINVALID, "kill matrix: metadata key and value "
				    "are required, expected a non-empty key");
	if (!km_utf8_valid(key) || !km_utf8_valid(value))
		return mt_error_set(MT_EINVALID, "kill matrix: metadata is not valid "
				    "UTF-8, expected UTF-8 text");
	if (!(v = strdup(value)))
		goto oom;
	for (size_t i = 0; i < km->n_meta; i++) {
		if (strcmp(km->meta_keys[i], key) == 0) {
			free(km->meta_values[i]);
			km->meta_values[i] = v;
			return 0;
		}
	}
	if (km->n_meta == km->meta_cap) {
		size_t cap = km->meta_cap ? km->meta_cap * 2 : 8;
		char **keys = realloc(km->meta_keys, cap * sizeof(char *));
		if (!keys)
			goto oom;
		km->meta_keys = keys;
		char **values = realloc(km->meta_values, cap * sizeof(char *));
		if (!values)
			goto oom;
		km->meta_values = values;
		km->meta_cap = cap;
	}
	if (!(k = strdup(key)))
		goto oom;
	km->meta_keys[km->n_meta] = k;
	km->meta_values[km->n_meta] = v;
	km->n_meta++;
	return 0;
oom:
	free(k);
	free(v);
	return mt_error_set(MT_ENOMEM, "kill matrix: out of memory setting "
			    "metadata %s", key);
}

const char *mt_killmatrix_meta(const mt_killmatrix *km, const char *key)
{
	for (size_t i = 0; key && i < km->n_meta; i++)
		if (strcmp(km->meta_keys[i], key) == 0)
			return km->meta_values[i];
	return NULL;
}

size_t mt_killmatrix_meta_count(const mt_killmatrix *km) { return km->n_meta; }

int mt_killmatrix_meta_at(const char **key, const char **value,
			  const mt_killmatrix *km, size_t i)
{
	if (i >= km->n_meta)
		return mt_error_set(MT_ENOTFOUND, "kill matrix: metadata entry %zu "
				    "of %zu", i, km->n_meta);
	*key = km->meta_keys[i];
	*value = km->meta_values[i];
	return 0;
}

/* ---- text buffer ----------------------------------------------------- */

int mt_killmatrix_digest(char digest[MT_HASH_HEX], const mt_killmatrix *km)
{
	static const char *const kept[] = {"plan_digest", "mutation_seed", "threads",
					   "torch_version", "mutorch_version"};
	size_t n = mt_killmatrix_input_count(km), m;
	int64_t *classes = malloc(sizeof(int64_t) * (n ? n : 1));
	int64_t *original = malloc(sizeof(int64_t) * (n ? n : 1));
	int64_t *pred = malloc(sizeof(int64_t) * (n ? n : 1));
	mt_killmatrix *copy = NULL;
	void *buf = NULL;
	size_t len;
	int error;

	if (!classes || !original || !pred) {
		error = mt_error_oom();
		goto cleanup;
	}
	for (size_t t = 0; t < n; t++) {
		classes[t] = mt_killmatrix_input_class(km, t);
		original[t] = mt_killmatrix_original_prediction(km, t);
	}
	if ((error = mt_killmatrix_new(&copy, n, mt_killmatrix_class_count(km), classes, original)) < 0 ||
	    (error = mt_killmatrix_set_accuracy_filter(copy, mt_killmatrix_accuracy_filter(km))) < 0)
		goto cleanup;
	for (m = 0; m < mt_killmatrix_mutant_count(km); m++) {
		mt_mutant_record rec = *mt_killmatrix_mutant(km, m);
		rec.seconds = 0; /* times differ between runs; results do not */
		if (mt_killmatrix_has_predictions(km, m)) {
			for (size_t t = 0; t < n; t++)
				pred[t] = mt_killmatrix_prediction(km, m, t);
			rec.status = MT_MUTANT_PENDING;
			error = mt_killmatrix_add_mutant(copy, &rec, pred);
		} else {
			error = mt_killmatrix_add_mutant(copy, &rec, NULL);
		}
		if (error < 0)
			goto cleanup;
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		const char *v = mt_killmatrix_meta(km, kept[i]);
		if (v && (error = mt_killmatrix_set_meta(copy, kept[i], v)) < 0)
			goto cleanup;
	}
	if ((error = mt_killmatrix_serialize(&buf, &len, copy)) < 0)
		goto cleanup;
	error = mt_hash_blob(digest, buf, len);
cleanup:
	free(buf);
	free(classes);
	free(original);
	free(pred);
	mt_killmatrix_free(copy);
	return error;
}
