/*
 * mutorch/killmatrix.h - the model-level kill matrix and its file format.
 *
 * The matrix holds n test inputs (their class and the original model's
 * prediction) and a growing list of mutants. For every mutant that was
 * evaluated it keeps the predicted label of every input and one kill bit per
 * input: input t kills mutant m when the original classifies t correctly
 * (t is in T') and m does not. Definitions of every score are in
 * docs/scores.md; the file format is in docs/killmatrix-format.md.
 *
 * A matrix is not locked: one thread adds mutants (the runner's collector);
 * any number may read it once it is complete.
 *
 * Its scores are in mutorch/scores.h, the reports written from it in
 * mutorch/report.h.
 */
#ifndef MUTORCH_KILLMATRIX_H
#define MUTORCH_KILLMATRIX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_killmatrix mt_killmatrix;

/* Stryker's mutant statuses (mutation-testing-report-schema). The values
 * are stored in files: never renumber them. */
typedef enum {
	MT_MUTANT_PENDING = 0,       /* not evaluated yet */
	MT_MUTANT_KILLED = 1,        /* some input of T' kills it */
	MT_MUTANT_SURVIVED = 2,      /* evaluated, no input kills it */
	MT_MUTANT_TIMEOUT = 3,       /* evaluation passed its time limit */
	MT_MUTANT_RUNTIME_ERROR = 4, /* evaluation crashed (NaN, libtorch error, signal) */
	MT_MUTANT_COMPILE_ERROR = 5, /* the mutant could not be built */
	MT_MUTANT_IGNORED = 6,       /* deliberately not evaluated */
	MT_MUTANT_NO_COVERAGE = 7    /* no input reaches it (unused at model level) */
} mt_mutant_status;

#define MT_MUTANT_STATUS_COUNT 8

/* "Killed", "Survived", "Timeout", "RuntimeError", "CompileError",
 * "Ignored", "Pending", "NoCoverage"; "?" for an unknown value. */
const char *mt_mutant_status_name(mt_mutant_status status);

/* The inverse (exact, case-sensitive); MT_EINVALID for an unknown name. */
int mt_mutant_status_from_name(mt_mutant_status *out, const char *name);

/* One mutant. Strings are copied by mt_killmatrix_add_mutant; the records
 * that mt_killmatrix_mutant returns point into the matrix. */
typedef struct {
	const char *id;            /* stable, unique in the matrix: "GF-conv2d_0-0003" */
	const char *operator_name; /* "GF", "NAI", ... */
	const char *layer;         /* target layer, or "*" for the whole model */
	const char *params;        /* parameters as text: "ratio=0.01 sigma=0.5"; may be NULL */
	const char *status_reason; /* why (error message, ...); may be NULL */
	uint64_t seed;
	mt_mutant_status status;
	double accuracy;           /* fraction of all n inputs classified correctly */
	double seconds;            /* evaluation time */
} mt_mutant_record;

/*
 * A matrix for n_inputs test inputs. classes[t] is the true class of input t
 * and original_predictions[t] the original model's predicted class, both in
 * [0, num_classes); num_classes is at most 65535. The arrays are copied.
 * The accuracy filter starts at 0.9 (see mt_killmatrix_set_accuracy_filter).
 */
int mt_killmatrix_new(mt_killmatrix **out, size_t n_inputs, int num_classes,
		      const int64_t *classes,
		      const int64_t *original_predictions);

void mt_killmatrix_free(mt_killmatrix *km);

/*
 * Append a mutant. rec->id must be new and non-empty, rec->operator_name and
 * rec->layer non-NULL.
 *
 * With predictions (n_inputs labels in [0, num_classes)): the kill bits are
 * computed, and so are the status (Killed when at least one input kills it,
 * otherwise Survived) and the accuracy; rec->status must then be Pending,
 * Killed or Survived (anything else is MT_EINVALID) and rec->accuracy is
 * ignored.
 *
 * Without predictions (NULL: timeouts, crashes, ignored or pending
 * mutants): the status and accuracy are kept as given (accuracy may be NaN),
 * there are no kills, and rec->status must not be Killed or Survived.
 */
int mt_killmatrix_add_mutant(mt_killmatrix *km, const mt_mutant_record *rec,
			     const int64_t *predictions);

/* Sizes. */
size_t mt_killmatrix_input_count(const mt_killmatrix *km);
int mt_killmatrix_class_count(const mt_killmatrix *km);
size_t mt_killmatrix_mutant_count(const mt_killmatrix *km);

/* Inputs: class, original prediction, membership of T'. t < input_count. */
int mt_killmatrix_input_class(const mt_killmatrix *km, size_t t);
int mt_killmatrix_original_prediction(const mt_killmatrix *km, size_t t);
int mt_killmatrix_original_correct(const mt_killmatrix *km, size_t t);
/* |T'| and |T'| / n (NaN when n is 0). */
size_t mt_killmatrix_correct_count(const mt_killmatrix *km);
double mt_killmatrix_original_accuracy(const mt_killmatrix *km);

/* Mutant m (m < mutant_count), or NULL when out of range. The record stays
 * valid until the matrix is freed. */
const mt_mutant_record *mt_killmatrix_mutant(const mt_killmatrix *km, size_t m);

/* Index of the mutant with this id; MT_ENOTFOUND when there is none. */
int mt_killmatrix_find(size_t *index, const mt_killmatrix *km, const char *id);

/* Does input t kill mutant m? 0 or 1 (0 when out of range). */
int mt_killmatrix_kills(const mt_killmatrix *km, size_t m, size_t t);
/* Number of inputs that kill mutant m. */
size_t mt_killmatrix_mutant_kill_count(const mt_killmatrix *km, size_t m);
/* Number of classes c such that some input of class c kills mutant m. */
size_t mt_killmatrix_mutant_killed_classes(const mt_killmatrix *km, size_t m);
/* Does mutant m have predictions (was it evaluated)? */
int mt_killmatrix_has_predictions(const mt_killmatrix *km, size_t m);
/* Mutant m's predicted label of input t, or -1 without predictions. */
int mt_killmatrix_prediction(const mt_killmatrix *km, size_t m, size_t t);

/*
 * The accuracy filter: an evaluated mutant whose accuracy is below
 * factor x the original's accuracy is "too easy" (filtered): it keeps its
 * status and kills in the matrix but is left out of every score. factor in
 * [0, 1]; 0 turns the filter off. Stored in the file.
 */
int mt_killmatrix_set_accuracy_filter(mt_killmatrix *km, double factor);
double mt_killmatrix_accuracy_filter(const mt_killmatrix *km);
/* Is mutant m filtered out (too easy) under the current factor? */
int mt_killmatrix_mutant_filtered(const mt_killmatrix *km, size_t m);

/* Metadata: string key/value pairs stored in the file (seed, threads,
 * library versions, config and model digests, ...). Setting an existing
 * key replaces its value; keys must be non-empty. */
int mt_killmatrix_set_meta(mt_killmatrix *km, const char *key, const char *value);
/* The value, or NULL when the key is not set. */
const char *mt_killmatrix_meta(const mt_killmatrix *km, const char *key);
size_t mt_killmatrix_meta_count(const mt_killmatrix *km);
/* The i-th pair in insertion order; MT_ENOTFOUND when out of range. */
int mt_killmatrix_meta_at(const char **key, const char **value,
			  const mt_killmatrix *km, size_t i);

/*
 * Files (docs/killmatrix-format.md). save writes atomically; load validates
 * everything (magic, version, lengths, CRC-32, counts, ranges, kill bits
 * against predictions) and fails with MT_EINVALID naming the file and the
 * problem. The buffer variants do the same in memory; name is used in
 * messages and *buf is malloc'd.
 */
int mt_killmatrix_save(const mt_killmatrix *km, const char *path);
int mt_killmatrix_load(mt_killmatrix **out, const char *path);
int mt_killmatrix_serialize(void **buf, size_t *len, const mt_killmatrix *km);
int mt_killmatrix_deserialize(mt_killmatrix **out, const void *buf, size_t len,
			      const char *name);

#define MT_KILLMATRIX_FORMAT_VERSION 1

/* The digest of a matrix's content: the git blob id (hash.h) of its
 * serialization with evaluation times zeroed and only the deterministic
 * metadata (plan digest, seeds, threads, versions), so two runs that
 * computed the same kills, predictions and statuses have the same digest
 * (out: 40 hex digits and the NUL). */
int mt_killmatrix_digest(char out[41], const mt_killmatrix *km);
#ifdef __cplusplus
}
#endif
#endif
