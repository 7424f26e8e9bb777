/*
 * mutorch/source.h - source-level mutation: the operators that rewrite the
 * training data and the training recipe (DeepMutation's source-level
 * operators, DeepCrime's operators). The runner retrains every mutant n
 * times; this module only decides what is trained (pure C, no torch).
 *
 * The operators are rows of the registry (operators.h, level
 * MT_OP_LEVEL_SOURCE, kind MT_OP_KIND_SOURCE): `mutorch operators` lists
 * them with their parameters. docs/operators.md ("Source level") gives the
 * exact semantics and the order of the random draws.
 *
 * Using it (the planner's and the runner's side; expanding an entry into
 * its variants is planning: source_plan.h):
 *
 *   for each variant: mt_source_apply(&mu, cfg, train, e->op, v[i].params,
 *                                     v[i].nparams, seed);
 *     mu->not_applicable never happens for a planned variant;
 *     data: train on mu->order_map (+ mu->labels, mu->noise), or build the
 *           whole mutated set with mt_source_build_train;
 *     recipe: train with mu->config instead of cfg.
 *   mt_source_mutant_free(mu);
 */
#ifndef MUTORCH_SOURCE_H
#define MUTORCH_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/config.h"
#include "mutorch/dataset.h"
#include "mutorch/operators.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Noise on one training sample (NP, TAN). Element i of the sample, in
 * row-major order, gets value += scale * sigma * z_i where z_0, z_1, ...
 * are successive mt_rng_normal draws of an mt_rng seeded with `seed` and
 * scale is data.normalize.scale: sigma is in scaled units (value / scale,
 * before mean/std normalisation). See mt_source_noise_add. */
typedef struct {
	int64_t index;  /* training-sample index */
	double sigma;
	uint64_t seed;
} mt_source_noise;

typedef struct {
	const mt_operator *op;     /* the registry row */
	int is_data;               /* 1: data operator, 0: program operator */

	/* 1: this parameter set cannot make a mutant here (a configuration equal
	 * to the original, a TorchScript model for an architecture operator, an
	 * empty class, ...); reason says why. Nothing below is set then. */
	int not_applicable;
	char reason[MT_OP_REASON_MAX];

	char *description;  /* one line: "ACH: layer 3 relu -> tanh" */
	/* Canonical parameters, "ACH activation=tanh layer=3" or
	 * "DR class=all ratio=0.1 seed=7": every parameter (defaults included)
	 * in registry order, then seed for data operators only (program
	 * operators draw nothing). Equal strings: equal mutants. */
	char *params;
	uint64_t seed;

	/* Data operators (is_data): the training set is position j ->
	 * sample order_map[j], j in [0, n_map), replacing 0..n-1; the runner's
	 * per-epoch permutation runs over these positions. labels, when not
	 * NULL, holds the label of each position (n_map entries), replacing
	 * the dataset's. noise lists the samples whose inputs get noise (at most
	 * one entry per sample, in draw order). Program operators: order_map
	 * and labels NULL, n_map 0, nnoise 0 (the training set is unchanged). */
	int64_t *order_map;
	int64_t n_map;
	int64_t *labels;
	mt_source_noise *noise;
	size_t nnoise;

	/* The recipe to train: a deep copy of the original (mt_config_copy),
	 * changed by program operators; data operators leave it equal to the
	 * original. The architecture, when changed, is in mt_arch_format's
	 * canonical form. */
	mt_config *config;
} mt_source_mutant;

/* Apply source operator `op` ("DR", "ACH", ...) with parameters from a
 * mutation.source_level entry (key/value strings; the key "mutants" is the
 * planner's and is skipped; "seed" overrides the `seed` argument).
 * `train` is the training set the runner trains on (after train_limit);
 * data operators and HDB need it, the others accept NULL.
 *
 * Returns 0 with *out set; (*out)->not_applicable = 1 with a reason when
 * the parameters are valid but make no mutant on this recipe/data. A bad
 * parameter (unknown key, out of range, a layer index past the end or of
 * the wrong kind, a class >= classes, a missing required parameter) gives
 * MT_EINVALID with a message naming the operator and the parameter; an
 * unknown or model-level operator gives MT_EINVALID. Deterministic: the
 * same (op, params, seed, labels/pixels, recipe) gives the same mutant. */
int mt_source_apply(mt_source_mutant **out, const mt_config *original,
		    const mt_dataset *train, const char *op,
		    const mt_config_param *params, size_t nparams, uint64_t seed);

void mt_source_mutant_free(mt_source_mutant *mu);

/* Add the noise of `noise` to one sample's values (count elements, in the
 * dataset's raw units, e.g. 0..255 for uint8 pixels read as float): see
 * mt_source_noise. Each value is computed in double and rounded to float. */
void mt_source_noise_add(float *values, int64_t count,
			 const mt_source_noise *noise, double scale);

/* The mutated training set as a dataset: position j holds sample
 * order_map[j] of `train` with label labels[j] (or its own label), noise
 * added with scale = cfg->norm_scale. Pixels stay uint8 unless some noise
 * applies, then the whole set is float32 in raw units (value, not
 * value / scale: the runner's normalisation divides by scale as before).
 * A program mutant gives a copy of `train`. */
int mt_source_build_train(mt_dataset **out, const mt_source_mutant *mu,
			  const mt_dataset *train, const mt_config *cfg);

/* 1 when the operator draws random numbers (the data operators), so
 * several seeds give several mutants; 0 for program operators and for
 * names that are not source operators. */
int mt_source_op_is_random(const char *op);

/* With the user's own training program (cfg->command): an operator can
 * change only the knobs the program declares (training.hyperparameters),
 * and no architecture. MT_EINVALID naming the missing
 * 'training.hyperparameters.KNOB' (or the architecture) when the entry
 * (op and its parameters as written) cannot mutate the program; 0
 * otherwise, and always for data operators and the built-in trainer.
 * mt_source_apply refuses the same (not applicable); the planner calls
 * this first so that such an entry is an error, not an empty plan. */
int mt_source_check_program(const mt_config *cfg, const char *op,
			    const mt_config_param *params, size_t nparams);

/* Deep copy of a config: the same as mt_config_copy (config.h). */
int mt_source_config_copy(mt_config **out, const mt_config *src);

/* The training recipe as one canonical line (architecture or TorchScript
 * path, init, optimizer with all settings, loss, epochs, batch size, seed,
 * grad_clip, l1, l2, patience, validation_split; for an external program:
 * the command, the protocol, the seed and the declared knobs' values):
 * equal recipes give equal strings, for cache keys and for telling mutants
 * apart. malloc'd. */
int mt_source_recipe_text(char **out, const mt_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
