/* Internals shared by the killmatrix translation units. */
#ifndef MUTORCH_KILLMATRIX_INTERNAL_H
#define MUTORCH_KILLMATRIX_INTERNAL_H

#include "mutorch/killmatrix.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	mt_mutant_record rec;  /* strings point to the owned copies below */
	char *id, *operator_name, *layer, *params, *status_reason;
	uint64_t *kills;       /* n_words bits; NULL without predictions */
	uint16_t *predictions; /* n_inputs labels; NULL without predictions */
	size_t kill_count;
	size_t correct_count;  /* inputs it classifies correctly */
} mt_km_mutant;

struct mt_killmatrix {
	size_t n_inputs;
	int num_classes;
	size_t n_words;        /* 64-bit words per bitset */
	uint16_t *classes;
	uint16_t *original;
	uint64_t *correct_bits; /* T' */
	size_t n_correct;
	double accuracy_filter;

	mt_km_mutant **mutants;
	size_t n_mutants, mutants_cap;
	size_t *id_slots;      /* open addressing: mutant index + 1, 0 = empty */
	size_t id_slots_cap;   /* power of two */

	char **meta_keys, **meta_values;
	size_t n_meta, meta_cap;
};

static inline int km_bit(const uint64_t *bits, size_t i)
{
	return (int)((bits[i >> 6] >> (i & 63)) & 1u);
}

/* Is s (NULL counts as valid) UTF-8? */
int km_utf8_valid(const char *s);

/* Is mutant m too easy under the matrix's factor? */
int km_mutant_filtered(const mt_killmatrix *km, const mt_km_mutant *mu);
size_t km_killed_classes(const mt_killmatrix *km, const mt_km_mutant *mu,
			 unsigned char *scratch);

#endif
