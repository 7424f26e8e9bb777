/*
 * mutorch/shim_partial.h - partial evaluation of weight mutants: run the
 * part of the forward that a mutant does not change once per test set, and
 * only the rest for each mutant.
 *
 * Part of the C API over libtorch (mutorch/shim.h: errors, threads,
 * tensors, modules); the same rules hold: negative codes and
 * mt_shim_last_error() on failure, *_free(NULL) is a no-op.
 */
#ifndef MUTORCH_SHIM_PARTIAL_H
#define MUTORCH_SHIM_PARTIAL_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A weight mutant changes a few parameters; everything its forward computes
 * before the first node that reads one of them equals the original model's.
 * mt_partial splits the inlined forward (submodule calls inlined, top-level
 * prim::If/Loop nodes atomic) at that node: the prefix runs once per test
 * set and its live values are cached; each mutant runs only the suffix,
 * which reads the module's current parameters (write mutated weights with
 * mt_module_write_tensor between calls). With the same batch size as
 * mt_module_predict the logits are bit-identical to a full forward.
 *
 * The forward must take one tensor (forward(self, x)). When a value live at
 * the cut is not a tensor (an int read from a size, a list), the cut moves
 * earlier until every live value is a tensor; constants, attribute reads and
 * lists of them are recomputed by the suffix instead of cached.
 *
 * An mt_partial holds m by pointer: m must outlive it. Not thread-safe. */
typedef struct mt_partial mt_partial;

/* A cut before the first node that reads any of the named parameters or
 * buffers ("conv2.weight"); nparams 0 cuts at the start (full forward). An
 * unknown name gives MT_ENOTFOUND; a forward that does not take exactly one
 * input gives MT_EINVALID. */
int mt_partial_new(mt_partial **out, mt_module *m,
		   const char *const *param_names, size_t nparams);
void mt_partial_free(mt_partial *p);

/* Run the prefix over inputs (n x ...) in batches of batch_size (<= 0: one
 * batch), no grad, module in eval mode, and keep the live values at the
 * cut; the suffix then runs once on the first batch to learn the output
 * width. A live value that is not a tensor with the batch as dim 0 gives
 * MT_EINVALID (callers fall back to mt_module_predict). When the cache
 * (bytes of the distinct storages it keeps alive) would exceed
 * memory_budget_bytes (0: no limit) it gives MT_ENOMEM and holds nothing.
 * Calling it again replaces the cache. */
int mt_partial_cache(mt_partial *p, const mt_tensor *inputs,
		     int64_t batch_size, size_t memory_budget_bytes);
size_t mt_partial_cache_bytes(const mt_partial *p);
/* Fill p's cache from an earlier cut's filled cache of the same module (its
 * cut at or before p's): only the nodes between the two cuts run, so a
 * series of cuts costs one forward pass in all. The values are the ones
 * mt_partial_cache computes (the same ops on the same batches). The work
 * estimate is the earlier cut's (the same forward); when it has none,
 * inputs (may be NULL) serves one sample to measure it. */
int mt_partial_cache_from(mt_partial *p, const mt_partial *earlier,
			  const mt_tensor *inputs, size_t memory_budget_bytes);
/* The top-level node index of the cut (orders cuts of one module). */
size_t mt_partial_cut_index(const mt_partial *p);
/* Number of cached inputs, output width (classes), values live at the cut;
 * 0 before mt_partial_cache. */
int64_t mt_partial_count(const mt_partial *p);
int64_t mt_partial_num_outputs(const mt_partial *p);
size_t mt_partial_live_count(const mt_partial *p);

/* Predictions (argmax over dim 1) for all cached inputs, running only the
 * suffix on the module's current parameters. labels holds
 * mt_partial_count(p) int64; logits, when not NULL, count * num_outputs
 * floats. batch_size must be 0 or the cache's (the suffix runs on the
 * cached batches). */
int mt_partial_predict(int64_t *labels, float *logits, const mt_partial *p,
		       int64_t batch_size);

/* The share of the forward's work that the suffix runs, for reports. After
 * mt_partial_cache each top-level node is weighted by its multiply-adds
 * (conv, linear, matmul) or output elements (other tensor ops), measured
 * on one cached sample; before, compute nodes (not constants, attribute
 * reads or lists) count 1 each. 1.0 for a cut at the start. */
double mt_partial_suffix_fraction(const mt_partial *p);

/* The parameter and buffer names of m in the order the inlined forward
 * first reads them (names it never reads are left out), so that layers can
 * be ordered by forward order. Free with mt_module_param_use_order_free. */
int mt_module_param_use_order(char ***names, size_t *count, mt_module *m);
void mt_module_param_use_order_free(char **names, size_t count);

#ifdef __cplusplus
}
#endif
#endif
