/* The expected cost of each model-level mutant, for the shards' deal:
 * a weight mutant re-runs only the forward after its layer (shim_partial.h),
 * so its cost is that suffix's share of the forward's multiply-adds,
 * measured on one zero sample (shapes only: deterministic); a graph,
 * dynamic or whole-model mutant runs the full forward. */
#include "mutorch/error.h"
#include "mutorch/operators.h"
#include "mutorch/plan.h"
#include "mutorch/shim.h"
#include "mutorch/shim_partial.h"
#include "modelrun_internal.h"

#include <stdlib.h>
#include <string.h>

/* Evaluating any mutant also applies it, compares and records: a fixed
 * part besides the forward. */
#define FIXED_COST 0.1

/* The suffix fraction of the cut before the tensors of layer `target`;
 * 1 when it cannot be cut. */
static double layer_fraction(mt_module *m, char **names, size_t count, const char *target,
			     const mt_tensor *one)
{
	const char **sel = malloc(sizeof(char *) * (count ? count : 1));
	size_t k = 0, len = strlen(target);
	mt_partial *p = NULL;
	double f = 1.0;

	if (!sel)
		return 1.0;
	for (size_t i = 0; i < count; i++)
		if (!strncmp(names[i], target, len) && names[i][len] == '.' && !strchr(names[i] + len + 1, '.'))
			sel[k++] = names[i];
	if (k > 0 && mt_partial_new(&p, m, sel, k) == 0) {
		if (!one || mt_partial_cache(p, one, 1, 0) < 0)
			mt_error_clear(); /* node counts instead of multiply-adds */
		f = mt_partial_suffix_fraction(p);
		if (!(f >= 0 && f <= 1))
			f = 1.0;
	}
	mt_partial_free(p);
	mt_error_clear();
	free(sel);
	return f;
}

int mt_mr_costs(double *cost, const mt_plan *plan, model_setup *s)
{
	char **names = NULL;
	size_t count = 0, n = mt_plan_count(plan);
	json_t *by_target = json_object();
	mt_tensor *one = NULL;
	int64_t shape[8];
	float *zeros = NULL;
	int ndim = s->x ? mt_tensor_ndim(s->x) : 0;

	if (!by_target)
		return mt_error_oom();
	if (mt_module_param_use_order(&names, &count, s->model) < 0) {
		mt_error_clear();
		names = NULL;
		count = 0;
	}
	if (ndim >= 2 && ndim <= 8) {
		int64_t per = 1;
		shape[0] = 1;
		for (int i = 1; i < ndim; i++)
			per *= (shape[i] = mt_tensor_dim(s->x, i));
		if ((zeros = calloc((size_t)per, sizeof(float))) &&
		    mt_tensor_from_data(&one, zeros, MT_DTYPE_FLOAT32, shape, ndim) < 0) {
			mt_error_clear();
			one = NULL;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const mt_mutant_desc *d = mt_plan_at(plan, i);
		const mt_operator *op = mt_operator_find(d->op);
		json_t *known = json_object_get(by_target, d->target);
		double f = 1.0;
		if (!op || op->kind != MT_OP_KIND_WEIGHTS || !strcmp(d->target, "all") || !names) {
			f = 1.0;
		} else if (known) {
			f = json_real_value(known);
		} else {
			f = layer_fraction(s->model, names, count, d->target, one);
			json_object_set_new(by_target, d->target, json_real(f));
		}
		cost[i] = FIXED_COST + f;
	}
	mt_tensor_free(one);
	free(zeros);
	if (names)
		mt_module_param_use_order_free(names, count);
	json_decref(by_target);
	return 0;
}
