/* Recurrent layers step by step (shim/rnn.cpp, shim/rnn_site.cpp) against
 * PyTorch: unmutated, the steps reproduce nn.LSTM, nn.GRU and nn.RNN
 * (stacked, bidirectional, batch_first or not, proj_size, no bias) within
 * 1e-5, and a model split around its recurrent layer predicts what the
 * whole model does; mutated, they give what an independent Python loop
 * following docs/operators.md gives. The fixtures are made by
 * tests/fixtures/make_rnn_fixture.py (python3-torch) once per build. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "mutorch/error.h"
#include "mutorch/shim.h"
#include "mutorch/shim_rnn.h"

#define N 5
#define T 7
#define F 6
#define TOL 1e-5

static const char *const cases[] = {"lstm2bi", "gru2bi", "rnntanh", "rnnrelu", "lstmproj",
				    "lstmnobias"};
static const int batch_first[] = {1, 0, 1, 1, 1, 0};

static char fixdir[4096];

/* Make the fixtures unless they are newer than the script. */
static void setup(void)
{
	struct stat script, stamp;
	char path[4200];
	cr_assert_eq(mt_shim_init(1, 7, 0), 0, "%s", mt_error_last());
	snprintf(fixdir, sizeof(fixdir), "%s/rnn-fixtures", MT_BINARY_DIR);
	snprintf(path, sizeof(path), "%s/stamp", fixdir);
	cr_assert_eq(stat(MT_FIXTURES "/make_rnn_fixture.py", &script), 0);
	if (stat(path, &stamp) == 0 && stamp.st_mtime >= script.st_mtime)
		return;
	if (th_run(NULL, NULL, "/usr/bin/python3 -c 'import torch'") != 0)
		cr_skip_test("python3-torch is not installed");
	char *err = NULL;
	cr_assert_eq(th_run(NULL, &err, "mkdir -p %s && /usr/bin/python3 %s/make_rnn_fixture.py %s && touch %s",
			    fixdir, MT_FIXTURES, fixdir, path),
		     0, "%s", err);
	free(err);
}

TestSuite(rnn, .init = setup, .timeout = 600);

static float *read_floats(const char *name, const char *ext, size_t *count)
{
	char path[4400];
	size_t len;
	snprintf(path, sizeof(path), "%s/%s.%s", fixdir, name, ext);
	char *data = th_read_all(path, &len);
	*count = len / sizeof(float);
	return (float *)data;
}

static mt_tensor *tensor_of(const char *name, const char *ext, const int64_t *shape, int ndim)
{
	size_t n;
	float *v = read_floats(name, ext, &n);
	mt_tensor *t = NULL;
	int64_t want = 1;
	for (int d = 0; d < ndim; d++)
		want *= shape[d];
	cr_assert_eq((int64_t)n, want, "%s.%s: %zu floats, expected %lld", name, ext, n, (long long)want);
	cr_assert_eq(mt_tensor_from_data(&t, v, MT_DTYPE_FLOAT32, shape, ndim), 0, "%s", mt_error_last());
	free(v);
	return t;
}

static mt_module *model_of(const char *name)
{
	char path[4400];
	mt_module *m = NULL;
	snprintf(path, sizeof(path), "%s/%s.pt", fixdir, name);
	cr_assert_eq(mt_module_load(&m, path), 0, "%s", mt_error_last());
	cr_assert_eq(mt_module_set_training(m, 0), 0);
	return m;
}

/* max |t - file| over the tensor, which must have as many elements. */
static double max_diff(const mt_tensor *t, const char *name, const char *ext)
{
	size_t n;
	float *want = read_floats(name, ext, &n);
	cr_assert_eq(mt_tensor_numel(t), (int64_t)n, "%s.%s: %lld elements, expected %zu", name, ext,
		     (long long)mt_tensor_numel(t), n);
	float *got = malloc(n * sizeof(float));
	cr_assert_eq(mt_tensor_copy_out(t, got, MT_DTYPE_FLOAT32, (int64_t)n), 0);
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - (double)want[i]);
		if (!(d <= worst))
			worst = d;
	}
	free(got);
	free(want);
	return worst;
}

static mt_tensor *layer_input(size_t c)
{
	int64_t bf[3] = {N, T, F}, tf[3] = {T, N, F};
	return tensor_of(cases[c], "x", batch_first[c] ? bf : tf, 3);
}

Test(rnn, unmutated_steps_equal_pytorch)
{
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		mt_module *m = model_of(cases[c]);
		mt_tensor *x = layer_input(c), *out = NULL, *h = NULL, *cn = NULL;
		cr_assert_eq(mt_rnn_layer_forward(&out, &h, &cn, m, "rnn", x, NULL), 0, "%s: %s",
			     cases[c], mt_error_last());
		double d = max_diff(out, cases[c], "out");
		cr_log_info("%s: max |output - nn| = %g", cases[c], d);
		cr_assert_leq(d, TOL, "%s: output", cases[c]);
		cr_assert_leq(max_diff(h, cases[c], "h"), TOL, "%s: h_n", cases[c]);
		if (cn)
			cr_assert_leq(max_diff(cn, cases[c], "c"), TOL, "%s: c_n", cases[c]);
		else
			cr_assert(strstr(cases[c], "lstm") == NULL, "%s: no c_n", cases[c]);
		mt_tensor_free(out);
		mt_tensor_free(h);
		mt_tensor_free(cn);
		mt_tensor_free(x);
		mt_module_free(m);
	}
}

/* One line of CASE.muts into a mutation (factors malloc'd). */
static int parse_mutation(mt_rnn_mutation *m, float **factors, FILE *f)
{
	int action, depth, direction;
	long long first, last, reset;
	unsigned states, gates;
	double scale;
	size_t nf;
	memset(m, 0, sizeof(*m));
	if (fscanf(f, "%d %lld %lld %lld %d %d %u %u %lf %zu", &action, &first, &last, &reset,
		   &depth, &direction, &states, &gates, &scale, &nf) != 10)
		return 0;
	*factors = calloc(nf + 1, sizeof(float));
	for (size_t i = 0; i < nf; i++)
		cr_assert_eq(fscanf(f, "%f", &(*factors)[i]), 1);
	m->action = (mt_rnn_action)action;
	m->first = first;
	m->last = last;
	m->reset_step = reset;
	m->depth = depth;
	m->direction = direction;
	m->states = states;
	m->gates = gates;
	m->scale = scale;
	m->factors = *factors;
	m->nfactors = nf;
	return 1;
}

Test(rnn, mutated_steps_follow_the_documented_semantics)
{
	int checked = 0;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char path[4400];
		mt_module *m = model_of(cases[c]);
		mt_tensor *x = layer_input(c);
		snprintf(path, sizeof(path), "%s/%s.muts", fixdir, cases[c]);
		FILE *f = fopen(path, "r");
		cr_assert_not_null(f);
		mt_rnn_mutation mut;
		float *factors;
		for (int i = 0; parse_mutation(&mut, &factors, f); i++) {
			char ext[16];
			mt_tensor *out = NULL, *h = NULL, *cn = NULL;
			snprintf(ext, sizeof(ext), "mut%d", i);
			cr_assert_eq(mt_rnn_layer_forward(&out, &h, &cn, m, "rnn", x, &mut), 0,
				     "%s %s: %s", cases[c], ext, mt_error_last());
			double d = max_diff(out, cases[c], ext);
			cr_assert_leq(d, TOL, "%s mutation %d (action %d): differs by %g", cases[c], i,
				      (int)mut.action, d);
			/* the mutation changes something: the unmutated output differs */
			cr_assert_gt(max_diff(out, cases[c], "out"), 1e-4, "%s mutation %d changes nothing",
				     cases[c], i);
			checked++;
			free(factors);
			mt_tensor_free(out);
			mt_tensor_free(h);
			mt_tensor_free(cn);
		}
		fclose(f);
		mt_tensor_free(x);
		mt_module_free(m);
	}
	cr_assert_geq(checked, 30);
}

Test(rnn, a_step_past_the_sequence_is_refused)
{
	mt_module *m = model_of("lstm2bi");
	mt_tensor *x = layer_input(0), *out = NULL, *h = NULL;
	mt_rnn_mutation mut = {0};
	mut.action = MT_RNN_STATE_CLEAR;
	mut.first = 3;
	mut.last = T;
	mut.depth = mut.direction = -1;
	mut.states = MT_RNN_STATE_C;
	cr_assert_lt(mt_rnn_layer_forward(&out, &h, NULL, m, "rnn", x, &mut), 0);
	cr_assert(strstr(mt_error_last(), "past the end") && strstr(mt_error_last(), "7 time steps"),
		  "%s", mt_error_last());
	mt_tensor_free(x);
	mt_module_free(m);
}

Test(rnn, the_split_model_predicts_like_the_whole_model)
{
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		mt_module *m = model_of(cases[c]);
		int64_t shape[4] = {N, 1, T, F}, steps = 0, nout = 0, nfull = 0;
		mt_tensor *in = tensor_of(cases[c], "in", shape, 4);
		mt_rnn_site *s = NULL;
		int64_t labels[N], full[N];
		float logits[N * 4], full_logits[N * 4];
		cr_assert_eq(mt_rnn_site_new(&s, m, "rnn"), 0, "%s: %s", cases[c], mt_error_last());
		cr_assert_eq(mt_rnn_site_seq_len(&steps, s, shape + 1, 3), 0, "%s", mt_error_last());
		cr_assert_eq(steps, T);
		/* batches of 2: the split runs per batch as the whole does */
		cr_assert_eq(mt_rnn_site_cache(s, in, 2), 0, "%s", mt_error_last());
		cr_assert_eq(mt_rnn_site_predict(labels, logits, &nout, s, NULL), 0, "%s", mt_error_last());
		cr_assert_eq(mt_module_predict(full, full_logits, &nfull, m, in, 2), 0, "%s",
			     mt_error_last());
		cr_assert_eq(nout, 4);
		cr_assert_eq(nfull, 4);
		size_t nref;
		float *ref = read_floats(cases[c], "logits", &nref);
		cr_assert_eq(nref, (size_t)(N * 4));
		for (int i = 0; i < N * 4; i++) {
			cr_assert_leq(fabsf(logits[i] - full_logits[i]), TOL, "%s logit %d", cases[c], i);
			cr_assert_leq(fabsf(logits[i] - ref[i]), TOL, "%s logit %d vs PyTorch", cases[c], i);
		}
		for (int i = 0; i < N; i++)
			cr_assert_eq(labels[i], full[i]);
		free(ref);

		/* mutation 0 through the split model: PyTorch's fc on the
		 * reference's mutated last step */
		char path[4400];
		snprintf(path, sizeof(path), "%s/%s.muts", fixdir, cases[c]);
		FILE *f = fopen(path, "r");
		mt_rnn_mutation mut;
		float *factors;
		cr_assert(parse_mutation(&mut, &factors, f));
		fclose(f);
		cr_assert_eq(mt_rnn_site_predict(labels, logits, &nout, s, &mut), 0, "%s", mt_error_last());
		ref = read_floats(cases[c], "mlogits0", &nref);
		for (int i = 0; i < N * 4; i++)
			cr_assert_leq(fabsf(logits[i] - ref[i]), TOL, "%s mutated logit %d", cases[c], i);
		free(ref);
		free(factors);
		/* a step past the end is an error, not a crash */
		mut.last = T + 3;
		cr_assert_eq(mt_rnn_site_predict(labels, logits, &nout, s, &mut), MT_EINVALID);
		cr_assert(strstr(mt_error_last(), "past the end"), "%s", mt_error_last());
		mt_rnn_site_free(s);
		mt_tensor_free(in);
		mt_module_free(m);
	}
}

Test(rnn, a_suffix_writing_into_a_cached_value_leaves_the_cache_alone)
{
	mt_module *m = model_of("inplace");
	int64_t shape[4] = {N, 1, T, F}, nout = 0;
	mt_tensor *in = tensor_of("lstm2bi", "in", shape, 4);
	mt_rnn_site *s = NULL;
	int64_t labels[N], full[N];
	float first[N * 4], again[N * 4], whole[N * 4];
	cr_assert_eq(mt_rnn_site_new(&s, m, "rnn"), 0, "%s", mt_error_last());
	cr_assert_eq(mt_rnn_site_cache(s, in, 0), 0, "%s", mt_error_last());
	cr_assert_eq(mt_rnn_site_predict(labels, first, &nout, s, NULL), 0, "%s", mt_error_last());
	cr_assert_eq(mt_rnn_site_predict(labels, again, &nout, s, NULL), 0, "%s", mt_error_last());
	cr_assert_eq(mt_module_predict(full, whole, NULL, m, in, 0), 0, "%s", mt_error_last());
	for (int i = 0; i < N * 4; i++) {
		cr_assert_eq(first[i], again[i], "logit %d changed on the second run", i);
		cr_assert_leq(fabsf(first[i] - whole[i]), TOL, "logit %d", i);
	}
	mt_rnn_site_free(s);
	mt_tensor_free(in);
	mt_module_free(m);
}

Test(rnn, layers_called_in_a_loop_or_twice_are_refused)
{
	mt_module *m = model_of("loop");
	mt_rnn_site *s = NULL;
	cr_assert_eq(mt_rnn_site_new(&s, m, "rnn"), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "inside a branch or loop"), "%s", mt_error_last());
	mt_module_free(m);
	m = model_of("twice");
	cr_assert_eq(mt_rnn_site_new(&s, m, "rnn"), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "2 times"), "%s", mt_error_last());
	/* not a recurrent layer */
	cr_assert_eq(mt_rnn_site_new(&s, m, "fc"), MT_EINVALID);
	mt_module_free(m);
}

Test(rnn, submodule_class_names_and_attributes)
{
	mt_module *m = model_of("lstm2bi");
	char name[256];
	int64_t v = 0;
	cr_assert_eq(mt_module_type_name(name, sizeof(name), m, "rnn"), 0, "%s", mt_error_last());
	cr_assert_str_eq(name, "__torch__.torch.nn.modules.rnn.LSTM");
	cr_assert_eq(mt_module_type_name(name, sizeof(name), m, "fc"), 0);
	cr_assert_str_eq(name, "__torch__.torch.nn.modules.linear.Linear");
	cr_assert_eq(mt_module_type_name(name, sizeof(name), m, "nope"), MT_ENOTFOUND);
	cr_assert_eq(mt_module_int_attr(&v, m, "rnn", "num_layers"), 0, "%s", mt_error_last());
	cr_assert_eq(v, 2);
	cr_assert_eq(mt_module_int_attr(&v, m, "rnn", "mode"), MT_ENOTFOUND);
	mt_module_free(m);
}
