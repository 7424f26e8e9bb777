/* The command line on deep module trees (tests/tree_fixtures.h: scripted
 * torchvision resnet18 and mobilenet_v3_small, a hand-written ResNet with a
 * block called twice, 32 inputs labelled by each model's predictions):
 * `mutorch sites`, `run` and `export-mutant` of graph mutants at nested
 * sites, which must predict in PyTorch exactly what mutorch recorded (and,
 * for the hand-written ResNet, what an eager re-implementation with the
 * same edit computes), and bad sites refused with exit 3. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "tree_fixtures.h"

/* A config for fixture model `name` whose run directory is in dir. */
static char *write_config(const char *dir, const char *name, const char *mutation)
{
	const char *fx = tree_fixtures();
	char text[8192];
	snprintf(text, sizeof(text),
		 "model: {torchscript: %s/%s.pt, input_shape: [3, 32, 32]}\n"
		 "data:\n"
		 "  format: npy\n"
		 "  classes: 10\n"
		 "  train: {x: %s/x.npy, y: %s/y_%s.npy}\n"
		 "  test: {x: %s/x.npy, y: %s/y_%s.npy}\n"
		 "training: {threads: 1, eval_batch_size: 1000}\n"
		 "run: {dir: %s/out}\n"
		 "mutation:\n"
		 "  seed: 3\n"
		 "  model_level:\n%s",
		 fx, name, fx, fx, name, fx, fx, name, dir, mutation);
	return th_write(dir, "mutorch.yml", text, (size_t)-1);
}

static json_t *sites_json(const char *cfg, const char *extra)
{
	char *out = NULL, *err = NULL;
	json_error_t jerr;
	cr_assert_eq(th_run(&out, &err, "%s sites %s --json %s", MT_MUTORCH_EXE, cfg, extra), 0,
		     "%s", err);
	json_t *j = json_loads(out, 0, &jerr);
	cr_assert(j, "not JSON: %s", out);
	free(out);
	free(err);
	return j;
}

static json_int_t count_of(json_t *j, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(j, "counts"), key));
}

Test(tree_cli, sites_lists_the_whole_tree, .timeout = 300)
{
	char *dir = th_tempdir("tree_sites"), *out = NULL, *err = NULL;
	char *cfg = write_config(dir, "resnet18", "    - {op: LD}\n");
	json_t *j = sites_json(cfg, "");
	/* tests/torch_tree.c explains the counts */
	cr_assert_eq(count_of(j, "sites"), 84);
	cr_assert_eq(count_of(j, "LD"), 65);
	cr_assert_eq(count_of(j, "LAm"), 65);
	cr_assert_eq(count_of(j, "AFRm"), 17);
	json_t *sites = json_object_get(j, "sites"), *s = NULL, *x;
	size_t i;
	json_array_foreach(sites, i, x)
		if (!strcmp(json_string_value(json_object_get(x, "name")), "layer2.0.conv1"))
			s = x;
	cr_assert_not_null(s);
	cr_assert_str_eq(json_string_value(json_object_get(s, "module")), "layer2.0.conv1");
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(s, "output_shape"), 1)), 128);
	json_t *ld = json_object_get(json_object_get(s, "operators"), "LD");
	cr_assert(json_is_false(json_object_get(ld, "applies")));
	cr_assert(th_contains(json_string_value(json_object_get(ld, "reason")), "changes the shape"));
	json_decref(j);

	/* --op keeps the sites where the operator applies */
	j = sites_json(cfg, "--op AFRm");
	cr_assert_eq(json_array_size(json_object_get(j, "sites")), 17);
	json_decref(j);
	cr_assert_eq(th_run(&out, &err, "%s sites %s", MT_MUTORCH_EXE, cfg), 0, "%s", err);
	cr_assert(th_contains(out, "layer1.0.relu@2") && th_contains(out, "layer1.0:add@1") &&
		  th_contains(out, "84 sites; LD applies to 65, LAm to 65, AFRm to 17"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(th_run(&out, &err, "%s sites --help", MT_MUTORCH_EXE), 0);
	cr_assert(th_contains(out, "usage: mutorch sites"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(th_run(NULL, &err, "%s sites %s --op XY", MT_MUTORCH_EXE, cfg), 2);
	cr_assert(th_contains(err, "--op must be LD, LAm or AFRm"), "%s", err);
	free(err);
	cr_assert_eq(th_run(NULL, &err, "%s sites %s/none.yml", MT_MUTORCH_EXE, dir), 3);
	free(err);
	free(cfg);
	free(dir);
}

/* Run the config, export every mutant of ids, predict them all in one
 * PyTorch process, and compare with the run's predictions.csv row of each. */
static void check_exports(const char *dir, const char *cfg, const char *const *ids, size_t n)
{
	char path[4300], models[65536] = "", *err = NULL, *py = NULL, *pred;
	size_t used = 0;

	cr_assert_eq(th_run(NULL, &err, "%s run %s -q", MT_MUTORCH_EXE, cfg), 0, "%s", err);
	free(err);
	for (size_t k = 0; k < n; k++) {
		cr_assert_eq(th_run(NULL, &err, "%s export-mutant '%s' -o %s/m%zu.pt %s", MT_MUTORCH_EXE,
				    ids[k], dir, k, cfg),
			     0, "%s: %s", ids[k], err);
		free(err);
		used += (size_t)snprintf(models + used, sizeof(models) - used, " %s/m%zu.pt", dir, k);
	}
	cr_assert_eq(th_run(&py, &err, "/usr/bin/python3 %s/predict_npy.py %s/x.npy%s", MT_FIXTURES,
			    tree_fixtures(), models),
		     0, "PyTorch could not load or run a mutant: %s", err);
	free(err);
	snprintf(path, sizeof(path), "%s/out/predictions.csv", dir);
	pred = th_read_all(path, NULL);
	const char *line = py;
	for (size_t k = 0; k < n; k++) {
		char row[512], *csv;
		snprintf(row, sizeof(row), "\n%s,", ids[k]);
		csv = strstr(pred, row);
		cr_assert(csv, "no row for %s", ids[k]);
		csv = strchr(csv + strlen(row), ',') + 1; /* operator */
		cr_assert(!strncmp(csv, "Killed,", 7) || !strncmp(csv, "Survived,", 9), "%s: %.20s",
			  ids[k], csv);
		csv = strchr(csv, ',') + 1; /* status */
		const char *p = strchr(line, '\t') + 1;
		for (int t = 0; t < TREE_INPUTS; t++) {
			int want = atoi(csv), got = atoi(p);
			cr_assert_eq(got, want, "%s input %d: PyTorch %d, mutorch %d", ids[k], t, got, want);
			csv = strchr(csv, ',') + 1;
			p = strchr(p, ' ') + 1;
		}
		line = strchr(line, '\n') + 1;
	}
	free(pred);
	free(py);
}

Test(tree_cli, nested_mutants_of_torchvision_models_predict_the_same_in_pytorch, .timeout = 600)
{
	char *dir = th_tempdir("tree_export_resnet");
	char *cfg = write_config(dir, "resnet18",
				 "    - {op: AFRm, sites: [layer1.0.relu@2, layer4.1.relu]}\n"
				 "    - {op: LD, sites: [\"layer2.0:add@1\", layer3.0.downsample.1, layer1.1]}\n"
				 "    - {op: LAm, sites: [layer2.1.conv2, layer4.1.bn1]}\n"
				 "    - {op: GF, ratio: 0.2, sigma: 2.0, mutants: 1, layers: [layer3.1.conv1]}\n");
	const char *ids[] = {"AFRm-layer1.0.relu@2", "AFRm-layer4.1.relu", "LD-layer2.0:add@1",
			     "LD-layer3.0.downsample.1", "LD-layer1.1", "LAm-layer2.1.conv2",
			     "LAm-layer4.1.bn1", "GF-layer3.1.conv1-000"};
	check_exports(dir, cfg, ids, sizeof(ids) / sizeof(ids[0]));
	free(cfg);
	free(dir);

	dir = th_tempdir("tree_export_mobilenet");
	cfg = write_config(dir, "mobilenet",
			   "    - {op: AFRm, sites: [features.1.block.1.activation, features.4.block.0.2, classifier.1]}\n"
			   "    - {op: LD, sites: [features.1.block.1, features.6.block.3.1]}\n"
			   "    - {op: LAm, sites: [features.3.block.1.0, features.9.block.2.scale_activation]}\n");
	const char *ids2[] = {"AFRm-features.1.block.1.activation", "AFRm-features.4.block.0.2",
			      "AFRm-classifier.1", "LD-features.1.block.1", "LD-features.6.block.3.1",
			      "LAm-features.3.block.1.0", "LAm-features.9.block.2.scale_activation"};
	check_exports(dir, cfg, ids2, sizeof(ids2) / sizeof(ids2[0]));
	free(cfg);
	free(dir);
}

Test(tree_cli, mutants_of_shared_blocks_equal_an_eager_reference, .timeout = 600)
{
	char *dir = th_tempdir("tree_export_handres"), *err = NULL, *out = NULL;
	char *cfg = write_config(dir, "handres",
				 "    - {op: AFRm, sites: [\"shared@2:relu@1\", \"block1:relu@2\", act, head.2, relu@1]}\n"
				 "    - {op: LD, sites: [shared.bn1, \"block2:add@1\", shared, bn]}\n"
				 "    - {op: LAm, sites: [block2.conv1, shared@2, \"shared:add@1\"]}\n");
	const char *ids[] = {"AFRm-shared@2:relu@1", "AFRm-block1:relu@2", "AFRm-act",
			     "AFRm-head.2", "AFRm-relu@1", "LD-shared.bn1", "LD-block2:add@1",
			     "LD-shared", "LD-bn", "LAm-block2.conv1", "LAm-shared@2",
			     "LAm-shared:add@1"};
	const size_t n = sizeof(ids) / sizeof(ids[0]);
	char args[16384] = "";
	size_t used = 0;
	check_exports(dir, cfg, ids, n);
	for (size_t k = 0; k < n; k++) {
		/* "AFRm-shared@2:relu@1" -> "AFRm:shared@2:relu@1=m0.pt" */
		const char *dash = strchr(ids[k], '-');
		used += (size_t)snprintf(args + used, sizeof(args) - used, " '%.*s:%s=%s/m%zu.pt'",
					 (int)(dash - ids[k]), ids[k], dash + 1, dir, k);
	}
	int rc = th_run(&out, &err, "/usr/bin/python3 %s/check_handres.py %s%s", MT_FIXTURES,
			tree_fixtures(), args);
	cr_assert_eq(rc, 0, "a mutant differs from the eager reference:\n%s%s", out, err);
	free(out);
	free(err);
	free(cfg);
	free(dir);
}

Test(tree_cli, bad_sites_are_refused_with_what_is_valid, .timeout = 300)
{
	char *dir = th_tempdir("tree_bad"), *err = NULL;
	char *cfg = write_config(dir, "resnet18", "    - {op: LD, sites: [layer1.0.relu@3]}\n");
	cr_assert_eq(th_run(NULL, &err, "%s mutants %s", MT_MUTORCH_EXE, cfg), 3);
	cr_assert(th_contains(err, "mutorch.yml:12") &&
		  th_contains(err, "no site 'layer1.0.relu@3' in the module tree") &&
		  th_contains(err, "the sites in the forward of layer1.0 are layer1.0.conv1"),
		  "%s", err);
	free(err);
	free(cfg);
	cfg = write_config(dir, "resnet18", "    - {op: AFRm, sites: [layer2.0.bn1]}\n");
	cr_assert_eq(th_run(NULL, &err, "%s run %s -q", MT_MUTORCH_EXE, cfg), 3);
	cr_assert(th_contains(err, "site 'layer2.0.bn1' (BatchNorm2d, in the forward of layer2.0)") &&
		  th_contains(err, "is not an activation") &&
		  th_contains(err, "AFRm applies in the forward of layer2.0 to layer2.0.relu, layer2.0.relu@2"),
		  "%s", err);
	free(err);
	free(cfg);
	cfg = write_config(dir, "mobilenet", "    - {op: LAm, sites: [features.2.block.0.0]}\n");
	cr_assert_eq(th_run(NULL, &err, "%s mutants %s", MT_MUTORCH_EXE, cfg), 3);
	cr_assert(th_contains(err, "changes the shape [1, 16, 8, 8] -> [1, 72, 8, 8]") &&
		  th_contains(err, "LAm applies in the forward of features.2.block.0 to features.2.block.0.1"),
		  "%s", err);
	free(err);
	free(cfg);
	free(dir);
}
