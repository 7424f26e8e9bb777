/*
 * Program operators on the user's own training program (training.command,
 * docs/training-programs.md): mutorch cannot see inside the program, so an
 * operator can change only a knob the program declares under
 * training.hyperparameters. This file maps each program operator onto its
 * knobs and refuses the ones whose knob is missing, and the architecture
 * operators (the program, not model.architecture, defines the model).
 */
#include <stdio.h>
#include <string.h>

#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/source.h"
#include "source_internal.h"

static const char *const arch_ops[] = { "LRs", "LAs", "AFRs", "ACH", "ARM", "AAL", "WAB",
	"WRB" };

static int is_arch_op(const char *op)
{
	for (size_t i = 0; i < sizeof(arch_ops) / sizeof(arch_ops[0]); i++)
		if (!strcmp(arch_ops[i], op))
			return 1;
	return 0;
}

/* The knobs operator `op` changes; *any: one of them is enough (HLR: lr,
 * or the optimizer's own lr), else every one is needed (RCW swaps l1 and
 * l2). penalty: RAW's and RRW's parameter, NULL when not given. 0: not a
 * program operator with a knob. */
static unsigned needed_knobs(const char *op, const char *penalty, int *any)
{
	static const struct { const char *op; unsigned knobs; } table[] = {
		{ "HBS", MT_KNOB_BATCH_SIZE }, { "HDB", MT_KNOB_BATCH_SIZE },
		{ "HNE", MT_KNOB_EPOCHS }, { "RCD", MT_KNOB_DROPOUT },
		{ "RCP", MT_KNOB_PATIENCE }, { "WCI", MT_KNOB_INIT }, { "LCH", MT_KNOB_LOSS },
		{ "OCH", MT_KNOB_OPTIMIZER }, { "OCG", MT_KNOB_GRAD_CLIP },
		{ "VRM", MT_KNOB_VALIDATION_SPLIT }, { "RCW", MT_KNOB_L1 | MT_KNOB_L2 },
	};
	*any = 0;
	if (!strcmp(op, "HLR")) {
		*any = 1;
		return MT_KNOB_LR | MT_KNOB_OPTIMIZER;
	}
	if (!strcmp(op, "RAW") || !strcmp(op, "RRW")) {
		if (penalty && !strcmp(penalty, "l1"))
			return MT_KNOB_L1;
		if (penalty && !strcmp(penalty, "l2"))
			return MT_KNOB_L2;
		*any = 1; /* expanded over both, or all: either will do */
		return MT_KNOB_L1 | MT_KNOB_L2;
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].op, op))
			return table[i].knobs;
	return 0;
}

/* "'training.hyperparameters.l1' and 'training.hyperparameters.l2'" for
 * the knobs of `knobs` that are missing (any: all of them, joined by or). */
static void missing_text(char *buf, size_t size, unsigned knobs, unsigned declared, int any)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < MT_KNOB_COUNT && used < size; i++) {
		unsigned bit = 1u << i;
		if (!(knobs & bit) || (declared & bit))
			continue;
		int n = snprintf(buf + used, size - used, "%s'training.hyperparameters.%s'",
				 used ? (any ? " or " : " and ") : "", mt_knob_name(i));
		if (n > 0)
			used += (size_t)n;
	}
}

/* Can operator `op` mutate cfg's training program? 0: yes (or no program);
 * 1: it is an architecture operator; 2: a knob it needs is not declared,
 * and `missing` (size bytes) names the keys. */
static int refusal(char *missing, size_t size, const mt_config *cfg, const mt_operator *op,
		   const char *penalty)
{
	int any;
	unsigned knobs;

	missing[0] = '\0';
	if (!cfg->command || !op || op->level != MT_OP_LEVEL_SOURCE)
		return 0;
	if (is_arch_op(op->name))
		return 1;
	knobs = needed_knobs(op->name, penalty, &any);
	if (!knobs || (any ? (knobs & cfg->knobs) != 0 : (knobs & cfg->knobs) == knobs))
		return 0;
	missing_text(missing, size, knobs, cfg->knobs, any);
	return 2;
}

int mt_source_check_program(const mt_config *cfg, const char *op_name,
			    const mt_config_param *params, size_t nparams)
{
	const mt_operator *op = mt_operator_find(op_name);
	const char *penalty = NULL;
	char missing[400];

	for (size_t i = 0; i < nparams; i++)
		if (params[i].key && !strcmp(params[i].key, "penalty"))
			penalty = params[i].value;
	switch (refusal(missing, sizeof(missing), cfg, op, penalty)) {
	case 1:
		return mt_error_set(MT_EINVALID,
				    "%s (%s) changes model.architecture, but your training program (training.command) defines the model; mutorch mutates the program's training data and the knobs it declares under training.hyperparameters; expected no %s entry",
				    op->name, op->description, op->name);
	case 2:
		return mt_error_set(MT_EINVALID,
				    "%s (%s) changes a knob the training program does not declare: expected %s in %s (when the program reads it), or no %s entry",
				    op->name, op->description, missing, cfg->path, op->name);
	default:
		return 0;
	}
}

int src_program_refusal(mt_source_mutant *mu, src_args *a, int *refused)
{
	static const char *const penalties[] = { "l1", "l2", "all" };
	src_value *pen = src_arg(a, "penalty");
	char missing[200];

	*refused = refusal(missing, sizeof(missing), a->cfg, mu->op,
			   pen && pen->has && pen->choice >= 0 && pen->choice < 3 ?
			   penalties[pen->choice] : NULL);
	if (*refused == 1)
		return src_not_applicable(mu, "your training program (training.command) defines the model, not model.architecture");
	if (*refused == 2)
		return src_not_applicable(mu, "the training program does not declare %s", missing);
	return 0;
}
