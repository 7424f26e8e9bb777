/* The worker's cuts for partial evaluation (runner/cut_cache.c); private to
 * runner/. */
#ifndef MUTORCH_RUNNER_CUT_CACHE_H
#define MUTORCH_RUNNER_CUT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/shim.h"
#include "mutorch/shim_partial.h"

typedef struct mt_cut_cache mt_cut_cache;

/* Cuts whose cached activations take at most budget_bytes in all. */
int mt_cut_cache_new(mt_cut_cache **out, size_t budget_bytes);
void mt_cut_cache_free(mt_cut_cache *cc);

/* The filled cut for a mutant that changed the tensors names[0..n) of m
 * (borrowed until the cache is freed), or NULL when the model cannot be
 * cut there (the caller runs a full forward). x and batch are the test
 * inputs and the batch size of every cut of this cache. */
mt_partial *mt_cut_cache_get(mt_cut_cache *cc, mt_module *m, const mt_tensor *x,
			     const char *const *names, size_t n, int64_t batch);

/* How many cuts it holds, and the bytes of their activations. */
size_t mt_cut_cache_count(const mt_cut_cache *cc);
size_t mt_cut_cache_bytes(const mt_cut_cache *cc);

#endif
