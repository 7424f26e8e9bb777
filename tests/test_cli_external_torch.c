/* The example's real PyTorch training program
 * (examples/fashion-mnist-pytorch: train.py and its mutorch.yml) driven
 * end to end, made smaller (3000 training and 500 test images, 2 epochs,
 * 6 runs, three mutants): a label error on 30 % of the data and the
 * learning rate cut by 1000 are killed, a shuffle of the data survives,
 * and a second identical run trains nothing. Each training starts Debian's
 * python3 and imports torch (about a second). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define RUNS 6

static json_t *run_json(const char *dir)
{
	char *out = NULL, *err = NULL;
	json_error_t jerr;
	int rc = th_run(&out, &err, "cd %s && %s run mutorch.yml --level source --jobs 2 --json -q", dir,
			MT_MUTORCH_EXE);
	cr_assert_eq(rc, 0, "mutorch run failed (%d): %s", rc, err);
	json_t *j = json_loads(out, 0, &jerr);
	cr_assert(j, "not JSON (%s): %s", jerr.text, out);
	free(out);
	free(err);
	return j;
}

static const char *status_of(const json_t *rep, const char *id)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(rep, "mutants_detail"), i, m)
		if (!strcmp(json_string_value(json_object_get(m, "id")), id))
			return json_string_value(json_object_get(m, "status"));
	cr_assert_fail("no mutant %s", id);
	return NULL;
}

Test(external_torch, the_example_program_end_to_end, .timeout = 600)
{
	char *dir = th_tempdir("exttorch");
	const char *ex = MT_SOURCE_DIR "/examples/fashion-mnist-pytorch";
	int rc = th_run(NULL, NULL,
			"cp '%s/train.py' '%s/' && sed -e 's/train_limit: 10000/train_limit: 3000/' "
			"-e 's/test_limit: 2000/test_limit: 500/' -e 's/epochs: 3/epochs: 2/' "
			"-e 's/runs: 10/runs: %d/' -e '/^    - {op:/d' '%s/mutorch.yml' > '%s/mutorch.yml' && "
			"printf '    - {op: LE, ratio: 0.3}\\n    - {op: HLR, factor: 0.001}\\n    - {op: DF, ratio: 0.5}\\n' >> '%s/mutorch.yml'",
			ex, dir, RUNS, ex, dir, dir);
	cr_assert_eq(rc, 0);

	json_t *first = run_json(dir);
	cr_assert_str_eq(status_of(first, "LE-ratio=0.3-000"), "Killed");
	cr_assert_str_eq(status_of(first, "HLR-factor=0.001"), "Killed");
	cr_assert_str_eq(status_of(first, "DF-ratio=0.5-000"), "Survived");
	cr_assert_eq(json_integer_value(json_object_get(first, "errors")), 0);
	cr_assert_eq(json_integer_value(json_object_get(first, "trainings_this_invocation")), 4 * RUNS);

	json_t *second = run_json(dir);
	cr_assert_eq(json_integer_value(json_object_get(second, "trainings_this_invocation")), 0,
		     "a second identical run trained");
	cr_assert_str_eq(status_of(second, "LE-ratio=0.3-000"), "Killed");
	json_decref(first);
	json_decref(second);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
}
