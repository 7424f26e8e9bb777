/*
 * mutorch/html_report.h - the one-file HTML report of a run directory.
 *
 * A self-contained page (every style, script and chart inline; nothing is
 * fetched when it opens) for the model level, the source level or both:
 * the scores and their definitions, charts drawn as inline SVG by this
 * module, the surviving mutants and what would kill them, the test-set
 * analyses (mutorch/analysis.h), the score per commit of the first-parent
 * history, and the Stryker report in the mutation-testing-elements viewer
 * when its script is given. Every number the page shows carries its key
 * in the JSON reports (data-key, data-value, data-fmt), and the page
 * embeds those reports (docs/reports.md).
 */
#ifndef MUTORCH_HTML_REPORT_H
#define MUTORCH_HTML_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "mutorch/killmatrix.h"
#include "mutorch/source_results.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The scores a `mutorch ci` note records per commit (docs/ci.md). */
enum {
	MT_HISTORY_MUTATION_SCORE = 0,
	MT_HISTORY_DEEPMUTATION_SCORE,
	MT_HISTORY_AVERAGE_ERROR_RATE,
	MT_HISTORY_SOURCE_MUTATION_SCORE,
	MT_HISTORY_SCORES
};

/* "mutation_score", ... as in the note's "scores" object. */
const char *mt_history_score_name(int i);

/* One commit of the first-parent history, oldest first in the report. */
typedef struct {
	const char *commit;     /* 40 hex digits */
	const char *summary;    /* first line of the message */
	int has_note;           /* 0: no (valid) note: a gap in the chart */
	double scores[MT_HISTORY_SCORES]; /* NaN when the note lacks it */
	int gate;               /* -1: no gate recorded, 0 failed, 1 passed */
	const char *gate_score; /* the gated score's name, or NULL */
} mt_html_history_point;

typedef struct {
	const char *title;             /* NULL: "mutorch report" */
	const char *run_dir;           /* shown */
	const mt_killmatrix *km;       /* the model level, or NULL */
	const mt_source_results *source; /* the source level, or NULL */
	const char *stryker;           /* stryker.json's text, or NULL */
	const char *source_stryker;    /* source-stryker.json's text, or NULL */
	const char *viewer_js;         /* mutation-testing-elements' bundle
	                                * (dist/mutation-test-elements.js), or
	                                * NULL */
	size_t viewer_len;
	const char *viewer_hint;       /* shown in its place when it is NULL */
	uint64_t seed;                 /* the random orders of prioritisation */
	const mt_html_history_point *history; /* oldest first */
	size_t n_history;
	const char *history_note;      /* shown above the chart (the branch,
	                                * notes skipped), or NULL */
	int with_history;              /* draw the history section */
} mt_html_report;

/* The page as a malloc'd string, or written atomically to path. */
int mt_html_report_string(char **out, const mt_html_report *report);
int mt_html_report_write(const mt_html_report *report, const char *path);

#ifdef __cplusplus
}
#endif
#endif
