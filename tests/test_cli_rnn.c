/* End to end on an LSTM classifier (examples/fashion-mnist-lstm/make_model.py
 * with 16 hidden units, trained by `mutorch train` for one short epoch):
 * every static and dynamic RNN operator runs on the LSTM, exported static
 * mutants predict in PyTorch exactly what mutorch recorded, and bad RNN
 * input (a layer kind, a time step, a gate) is a clear error with exit 3. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define N_TEST 400

static void need_torch(void)
{
	if (th_run(NULL, NULL, "/usr/bin/python3 -c 'import torch'") != 0)
		cr_skip_test("python3-torch is not installed");
}

/* dir/lstm_init.pt: the example's model, untrained. */
static void make_model(const char *dir)
{
	char *err = NULL;
	cr_assert_eq(th_run(NULL, &err, "/usr/bin/python3 %s/examples/fashion-mnist-lstm/make_model.py %s/lstm_init.pt --hidden 16",
			    MT_SOURCE_DIR, dir),
		     0, "%s", err);
	free(err);
}

static char *write_config(const char *dir, const char *name, const char *ops)
{
	char text[8192];
	snprintf(text, sizeof(text),
		 "model:\n"
		 "  torchscript: lstm_init.pt\n"
		 "  input_shape: [1, 28, 28]\n"
		 "  output: lstm.pt\n"
		 "data:\n"
		 "  train: {images: " FASHION "/train-images-idx3-ubyte.gz, labels: " FASHION "/train-labels-idx1-ubyte.gz}\n"
		 "  test: {images: " FASHION "/t10k-images-idx3-ubyte.gz, labels: " FASHION "/t10k-labels-idx1-ubyte.gz}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "  train_limit: 3000\n"
		 "  test_limit: %d\n"
		 "training: {threads: 1, epochs: 1, batch_size: 32, eval_batch_size: 1000,\n"
		 "           optimizer: {name: adam, lr: 0.005}}\n"
		 "run: {dir: out}\n"
		 "mutation:\n"
		 "  seed: 3\n"
		 "  model_level:\n%s",
		 N_TEST, ops);
	return th_write(dir, name, text, (size_t)-1);
}

static const char ops[] =
	"    - {op: GF, ratio: 0.1, sigma: 2, mutants: 1}\n"
	"    - {op: NAI, ratio: 0.2, mutants: 1, layers: [lstm]}\n"
	"    - {op: NEB, ratio: 0.2, mutants: 1, layers: [lstm]}\n"
	"    - {op: WS, ratio: 0.2, mutants: 1, layers: [lstm]}\n"
	"    - {op: QNT, bits: 3, granularity: channel, layers: [lstm]}\n"
	"    - {op: RWGF, ratio: 0.3, sigma: 1.0, mutants: 1}\n"
	"    - {op: RWQ, ratio: 0.2, gate: cell, mutants: 1}\n"
	"    - {op: RWPR, ratio: 0.5, digits: 1, mutants: 1}\n"
	"    - {op: RGGF, gate: forget, sigma: 1.0, mutants: 1}\n"
	"    - {op: RGPR, gate: input, bits: 1}\n"
	"    - {op: SC, step: 14}\n"
	"    - {op: SR, step: 20-27, from: 10}\n"
	"    - {op: SGF, step: 27, sigma: 1.0, mutants: 1}\n"
	"    - {op: SPR, step: 0-27, digits: 0}\n"
	"    - {op: GC, step: 27, gate: output}\n"
	"    - {op: GGF, step: 20-27, gate: forget, sigma: 1.0, mutants: 1}\n"
	"    - {op: GPR, step: 0-27, bits: 1}\n";

static json_t *mutant_by_id(json_t *rep, const char *id)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(rep, "mutants"), i, m)
		if (!strcmp(json_string_value(json_object_get(m, "id")), id))
			return m;
	return NULL;
}

/* The predictions.csv row of id: N_TEST ints after id, operator, status. */
static void recorded(int *pred, const char *csv, const char *id)
{
	char row[128];
	snprintf(row, sizeof(row), "\n%s,", id);
	const char *line = strstr(csv, row);
	cr_assert(line, "no row for %s", id);
	line += strlen(row);
	line = strchr(line, ',') + 1; /* operator */
	line = strchr(line, ',') + 1; /* status */
	for (int t = 0; t < N_TEST; t++) {
		pred[t] = atoi(line);
		line = strchr(line, ',');
		if (line)
			line++;
	}
}

Test(rnn_cli, rnn_operators_run_and_static_mutants_export_exactly, .timeout = 600)
{
	char *dir = th_tempdir("rnn"), path[4200], *err = NULL, *out = NULL;
	need_torch();
	make_model(dir);
	char *cfg = write_config(dir, "mutorch.yml", ops);
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s train %s --quiet", dir, MT_MUTORCH_EXE, cfg), 0, "%s", err);
	free(err);
	cr_assert_eq(th_run(&out, &err, "cd %s && %s run %s --json -q --jobs 2", dir, MT_MUTORCH_EXE, cfg),
		     0, "%s", err);
	free(err);
	json_error_t jerr;
	json_t *rep = json_loads(out, 0, &jerr);
	cr_assert(rep, "not JSON: %s", out);
	free(out);

	/* every RNN mutant targets the LSTM and was evaluated */
	size_t i, rnn_mutants = 0;
	json_t *m;
	json_array_foreach(json_object_get(rep, "mutants"), i, m) {
		const char *id = json_string_value(json_object_get(m, "id"));
		const char *op = json_string_value(json_object_get(m, "operator"));
		const char *status = json_string_value(json_object_get(m, "status"));
		if (strcmp(op, "GF") == 0)
			continue;
		cr_assert_str_eq(json_string_value(json_object_get(m, "layer")), "lstm", "%s", id);
		cr_assert(strcmp(status, "RuntimeError") && strcmp(status, "Ignored") && strcmp(status, "Pending"),
			  "%s: %s (%s)", id, status, json_string_value(json_object_get(m, "reason")));
		rnn_mutants++;
	}
	cr_assert_eq(rnn_mutants, 16);
	cr_assert(mutant_by_id(rep, "GF-lstm-000") && mutant_by_id(rep, "GF-fc-000"));

	/* exported static mutants predict in PyTorch what mutorch recorded */
	const char *ids[] = {"GF-lstm-000", "NAI-lstm-000", "NEB-lstm-000", "WS-lstm-000", "QNT-lstm-000",
			     "RWGF-lstm-000", "RWQ-lstm-000", "RWPR-lstm-000", "RGGF-lstm-000",
			     "RGPR-lstm-000"};
	snprintf(path, sizeof(path), "%s/out/predictions.csv", dir);
	char *csv = th_read_all(path, NULL);
	static int want[N_TEST], orig[N_TEST];
	int changed = 0;
	recorded(orig, csv, "@original");
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		char *py = NULL, *p;
		int differs = 0;
		cr_assert(mutant_by_id(rep, ids[k]), "no mutant %s", ids[k]);
		cr_assert_eq(th_run(NULL, &err, "cd %s && %s export-mutant %s -o %s/m.pt %s", dir,
				    MT_MUTORCH_EXE, ids[k], dir, cfg), 0, "%s", err);
		free(err);
		cr_assert_eq(th_run(&py, &err, "/usr/bin/python3 %s/predict_torchscript.py %s/m.pt %d",
				    MT_FIXTURES, dir, N_TEST), 0, "%s", err);
		free(err);
		recorded(want, csv, ids[k]);
		p = py;
		for (int t = 0; t < N_TEST; t++) {
			int got = atoi(p);
			cr_assert_eq(got, want[t], "%s input %d: PyTorch %d, mutorch %d", ids[k], t, got, want[t]);
			differs |= got != orig[t];
			p = strchr(p, '\n') + 1;
		}
		changed += differs;
		free(py);
	}
	/* the check can fail: most of these mutants change predictions */
	cr_assert_geq(changed, 6, "only %d exported mutants differ from the original", changed);

	/* the same config, seed and threads give the same results, whatever
	 * the number of workers */
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s run %s -q --jobs 1 --run-dir one", dir,
			    MT_MUTORCH_EXE, cfg), 0, "%s", err);
	free(err);
	snprintf(path, sizeof(path), "%s/one/predictions.csv", dir);
	char *again = th_read_all(path, NULL);
	cr_assert_str_eq(again, csv, "predictions differ between --jobs 2 and --jobs 1");
	free(again);

	/* a dynamic mutant is no module */
	cr_assert_eq(th_run(NULL, &err, "cd %s && %s export-mutant SC-lstm-000 -o %s/d.pt %s", dir,
			    MT_MUTORCH_EXE, dir, cfg), 3);
	cr_assert(th_contains(err, "dynamic RNN mutant"), "%s", err);
	free(err);
	free(csv);
	json_decref(rep);
}

static void expect_error(const char *dir, const char *op_line, const char *const *needles)
{
	char *err = NULL;
	char *cfg = write_config(dir, "bad.yml", op_line);
	int rc = th_run(NULL, &err, "cd %s && %s mutants %s", dir, MT_MUTORCH_EXE, cfg);
	cr_assert_eq(rc, 3, "%s: exit %d: %s", op_line, rc, err);
	for (size_t i = 0; needles[i]; i++)
		cr_assert(th_contains(err, needles[i]), "%s: '%s' not in: %s", op_line, needles[i], err);
	free(err);
}

Test(rnn_cli, bad_rnn_input_is_a_clear_error, .timeout = 300)
{
	char *dir = th_tempdir("rnnbad");
	need_torch();
	make_model(dir);
	/* the untrained model serves: nothing here evaluates */
	char *err = NULL;
	cr_assert_eq(th_run(NULL, &err, "cp %s/lstm_init.pt %s/lstm.pt", dir, dir), 0);
	free(err);
	expect_error(dir, "    - {op: RGGF, layers: [fc]}\n",
		     (const char *const[]){"bad.yml:", "RGGF", "layer 'fc' is a linear layer",
					   "recurrent layer (LSTM, GRU or RNN): lstm", NULL});
	expect_error(dir, "    - {op: SC, step: 28}\n",
		     (const char *const[]){"SC", "step 28 is past the end of the input of layer 'lstm' (28 time steps)",
					   "0-27", NULL});
	expect_error(dir, "    - {op: GGF, step: 3-40, gate: forget}\n",
		     (const char *const[]){"step 40 is past the end", NULL});
	expect_error(dir, "    - {op: GC, step: 3, gate: reset}\n",
		     (const char *const[]){"layer 'lstm' is an lstm layer, which has no gate 'reset'",
					   "input, forget, cell, output", NULL});
	expect_error(dir, "    - {op: SPR}\n", (const char *const[]){"'step' is missing", "lstm", NULL});
	expect_error(dir, "    - {op: SC, step: 3, layers: all}\n",
		     (const char *const[]){"dynamic operator", NULL});
	expect_error(dir, "    - {op: SR, step: 3, from: 4}\n", (const char *const[]){"'from' is 4", NULL});
	expect_error(dir, "    - {op: NAI, layers: [lstm], depth: 1}\n",
		     (const char *const[]){"unknown parameter 'depth'", NULL});
}
