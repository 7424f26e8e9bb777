/* The C API over libtorch: training (optimizers, losses with weight
 * penalties, one step, one epoch over an index order). Modules are in
 * module.cpp, the shim's errors and tensors in shim.cpp.
 * Every extern "C" function runs its body through mtshim::guard, so no C++
 * exception crosses into C. */
#include "shim_internal.hpp"

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "mutorch/error.h"
#include "mutorch/recipe.h"
#include "mutorch/shim.h"
#include "mutorch/shim_train.h"

struct mt_optimizer {
	std::unique_ptr<torch::optim::Optimizer> optimizer;
	/* The module's parameters, in order: the penalties, gradient
	 * clipping and zeroing use them without asking the module again. */
	std::vector<at::Tensor> params;
};

using mtshim::failf;
using mtshim::forward_tensor;
using mtshim::guard;

extern "C" {

/* ---- training ------------------------------------------------------------------ */

static bool finite_positive(double v)
{
	return std::isfinite(v) && v > 0;
}

int mt_optimizer_new(mt_optimizer **out, mt_module *m,
		     const mt_optim_config *c)
{
	*out = NULL;
	return guard("mt_optimizer_new", [&] {
		namespace optim = torch::optim;
		if (!finite_positive(c->lr))
			return failf(MT_EINVALID,
				     "optimizer: lr is %g, expected a positive number", c->lr);
		auto holder = std::make_unique<mt_optimizer>();
		for (at::Tensor p : m->module.parameters(true)) {
			/* Leaves only: a loaded or cloned module may have them
			 * off, and an optimizer needs them on. */
			if (!p.requires_grad())
				p.set_requires_grad(true);
			holder->params.push_back(p);
		}
		if (holder->params.empty())
			return failf(MT_EINVALID,
				     "optimizer: the module has no parameters to train");
		const auto &ps = holder->params;
		switch (c->kind) {
		case MT_OPTIM_SGD:
			holder->optimizer = std::make_unique<optim::SGD>(
				ps, optim::SGDOptions(c->lr)
					    .momentum(c->momentum)
					    .dampening(c->dampening)
					    .nesterov(c->nesterov != 0)
					    .weight_decay(c->weight_decay));
			break;
		case MT_OPTIM_ADAM:
			holder->optimizer = std::make_unique<optim::Adam>(
				ps, optim::AdamOptions(c->lr)
					    .betas(std::make_tuple(c->beta1, c->beta2))
					    .eps(c->eps)
					    .weight_decay(c->weight_decay)
					    .amsgrad(c->amsgrad != 0));
			break;
		case MT_OPTIM_ADAMW:
			holder->optimizer = std::make_unique<optim::AdamW>(
				ps, optim::AdamWOptions(c->lr)
					    .betas(std::make_tuple(c->beta1, c->beta2))
					    .eps(c->eps)
					    .weight_decay(c->weight_decay)
					    .amsgrad(c->amsgrad != 0));
			break;
		case MT_OPTIM_RMSPROP:
			holder->optimizer = std::make_unique<optim::RMSprop>(
				ps, optim::RMSpropOptions(c->lr)
					    .alpha(c->alpha)
					    .eps(c->eps)
					    .weight_decay(c->weight_decay)
					    .momentum(c->momentum));
			break;
		case MT_OPTIM_ADAGRAD:
			holder->optimizer = std::make_unique<optim::Adagrad>(
				ps, optim::AdagradOptions(c->lr)
					    .lr_decay(c->lr_decay)
					    .weight_decay(c->weight_decay)
					    .eps(c->eps));
			break;
		default:
			return failf(MT_EINVALID, "optimizer: unknown kind %d",
				     (int)c->kind);
		}
		*out = holder.release();
		return 0;
	});
}

void mt_optimizer_free(mt_optimizer *opt)
{
	delete opt;
}

static at::Tensor compute_loss(const at::Tensor &out, const at::Tensor &y,
			       const mt_train_options *o,
			       const std::vector<at::Tensor> &params)
{
	at::Tensor loss;
	switch (o->loss) {
	case MT_LOSS_CROSS_ENTROPY:
		loss = at::cross_entropy_loss(out, y);
		break;
	case MT_LOSS_NLL:
		loss = at::nll_loss(out, y);
		break;
	case MT_LOSS_MSE: {
		int64_t classes = o->num_classes > 0 ? o->num_classes
						     : (out.dim() == 2 ? out.size(1) : 0);
		at::Tensor target = at::one_hot(y, classes).to(out.scalar_type());
		loss = at::mse_loss(out, target);
		break;
	}
	default:
		throw std::invalid_argument("unknown loss kind " +
					    std::to_string((int)o->loss));
	}
	if (o->l1 != 0) {
		at::Tensor sum = params[0].abs().sum();
		for (size_t i = 1; i < params.size(); i++)
			sum = sum + params[i].abs().sum();
		loss = loss + o->l1 * sum;
	}
	if (o->l2 != 0) {
		at::Tensor sum = params[0].pow(2).sum();
		for (size_t i = 1; i < params.size(); i++)
			sum = sum + params[i].pow(2).sum();
		loss = loss + o->l2 * sum;
	}
	return loss;
}

/* zero_grad (to None), forward, loss, backward, clip, step. Returns the
 * loss; a non-finite loss returns before backward, so the weights stay as
 * they were. */
static double train_batch(mt_module *m, mt_optimizer *opt, const at::Tensor &x,
			  const at::Tensor &y, const mt_train_options *o)
{
	for (at::Tensor &p : opt->params)
		p.mutable_grad().reset();
	at::Tensor out = forward_tensor(m->module, x);
	at::Tensor loss = compute_loss(out, y, o, opt->params);
	double value = loss.item<double>();
	if (!std::isfinite(value))
		return value;
	loss.backward();
	if (o->grad_clip > 0)
		torch::nn::utils::clip_grad_norm_(opt->params, o->grad_clip);
	opt->optimizer->step();
	return value;
}

static at::Tensor as_labels(const at::Tensor &y)
{
	return y.scalar_type() == at::kLong ? y : y.to(at::kLong);
}

int mt_train_step(double *loss, mt_module *m, mt_optimizer *opt,
		  const mt_tensor *x, const mt_tensor *y,
		  const mt_train_options *o)
{
	*loss = NAN;
	return guard("mt_train_step", [&] {
		m->module.train(true);
		double value = train_batch(m, opt, x->tensor, as_labels(y->tensor), o);
		*loss = value;
		if (!std::isfinite(value))
			return failf(MT_EDIVERGED, "training diverged: the loss is %g",
				     value);
		return 0;
	});
}

int mt_train_epoch(mt_epoch_stats *stats, mt_module *m, mt_optimizer *opt,
		   const mt_tensor *x, const mt_tensor *y,
		   const int64_t *order, int64_t n, const mt_train_options *o)
{
	memset(stats, 0, sizeof(*stats));
	return guard("mt_train_epoch", [&] {
		auto t0 = std::chrono::steady_clock::now();
		const at::Tensor &xs = x->tensor;
		if (o->batch_size <= 0)
			return failf(MT_EINVALID,
				     "mt_train_epoch: batch_size is %lld, expected > 0",
				     (long long)o->batch_size);
		if (xs.dim() < 1 || y->tensor.dim() != 1 ||
		    y->tensor.size(0) != xs.size(0))
			return failf(MT_EINVALID,
				     "mt_train_epoch: x has shape %s and y %s, expected the same number of samples",
				     c10::str(xs.sizes()).c_str(),
				     c10::str(y->tensor.sizes()).c_str());
		int64_t count = xs.size(0);
		for (int64_t i = 0; i < n; i++)
			if (order[i] < 0 || order[i] >= count)
				return failf(MT_EINVALID,
					     "mt_train_epoch: order[%lld] = %lld, expected an index in [0, %lld)",
					     (long long)i, (long long)order[i],
					     (long long)count);
		at::Tensor ys = as_labels(y->tensor);
		/* A view of the caller's array: batches are gathered with
		 * index_select, never copied sample by sample. */
		at::Tensor index = at::from_blob(const_cast<int64_t *>(order), {n},
						 at::TensorOptions().dtype(at::kLong));
		m->module.train(true);
		double loss_sum = 0;
		int error = 0;
		for (int64_t start = 0; start < n; start += o->batch_size) {
			int64_t len = std::min(o->batch_size, n - start);
			at::Tensor idx = index.narrow(0, start, len);
			double loss = train_batch(m, opt, xs.index_select(0, idx),
						  ys.index_select(0, idx), o);
			if (!std::isfinite(loss)) {
				stats->diverged = 1;
				error = failf(MT_EDIVERGED,
					      "training diverged: the loss of batch %lld is %g",
					      (long long)stats->batches, loss);
				break;
			}
			loss_sum += loss * (double)len;
			stats->samples += len;
			stats->batches++;
			if (o->progress) {
				int stop = o->progress(o->progress_ctx, stats->samples,
						       n, loss);
				if (stop) {
					error = stop < 0 ? mtshim::fail_from_last(stop) : 0;
					break;
				}
			}
		}
		stats->mean_loss = stats->samples > 0 ? loss_sum / (double)stats->samples
						      : 0.0;
		stats->seconds = std::chrono::duration<double>(
					 std::chrono::steady_clock::now() - t0)
					 .count();
		return error;
	});
}

} /* extern "C" */
