/* libFuzzer target: reading a source-level run back for the HTML report
 * (killmatrix/source_results_load.c: source-report.json and
 * source-runs.csv), from a buffer split in two (fuzz_split.h). It must
 * never crash, leak, hang, trip a sanitizer or allocate without bound
 * (MT_SOURCE_MAX_TOTAL_RUNS); what it accepts must write out as a report
 * that reads back the same. Seeds: tests/fuzz/corpus/source_results/
 * (`mutorch run --level source` files of three mutants and of none). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_split.h"
#include "mutorch/source_results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *report, *runs;
	size_t report_len, runs_len;
	mt_source_results *res = NULL, *again = NULL;
	char *json = NULL, *json_again = NULL;

	fuzz_split(data, size, &report, &report_len, &runs, &runs_len);
	if (mt_source_results_parse(&res, (const char *)report, report_len, (const char *)runs,
				    runs_len, "source-report.json", "source-runs.csv") != 0)
		return 0;
	/* the report it writes parses again to the same report (the runs
	 * file is not part of the JSON, so none is needed when it has no
	 * mutants; with mutants the same runs are passed again) */
	if (mt_source_results_json_string(&json, res) == 0) {
		if (mt_source_results_parse(&again, json, strlen(json), (const char *)runs, runs_len,
					    "again.json", "source-runs.csv") != 0)
			abort(); /* what it wrote does not read back */
		if (mt_source_results_json_string(&json_again, again) == 0 && strcmp(json, json_again))
			abort(); /* it reads back as another report */
	}
	free(json);
	free(json_again);
	mt_source_results_free(again);
	mt_source_results_free(res);
	return 0;
}
