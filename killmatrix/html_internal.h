/* Internals of the HTML report (html*.c, svg.c): escaping, tagged numbers
 * and the inline SVG charts. Not a public header. */
#ifndef MUTORCH_KILLMATRIX_HTML_INTERNAL_H
#define MUTORCH_KILLMATRIX_HTML_INTERNAL_H

#include "mutorch/analysis.h"
#include "mutorch/html_report.h"
#include "mutorch/killmatrix.h"
#include "mutorch/scores.h"
#include "mutorch/strbuf.h"

#include <stddef.h>

/* How a number is shown; the page's test formats data-value the same way
 * and finds it in the element's text (docs/reports.md). */
typedef enum {
	H_PCT,  /* 100 v with 2 decimals and "%": 81.25% */
	H_INT,  /* an integer: 42 */
	H_F4,   /* 4 decimals: 0.8125 */
	H_G3,   /* 3 significant digits (p-values): 0.00123 */
	H_STR   /* a string value (data-value holds the text) */
} h_fmt;

/* The text of v in a format; "-" for NaN. */
void h_format(char *buf, size_t size, double v, h_fmt fmt);
/* HTML-escaped text (also fit for attribute values). */
void h_text(mt_strbuf *sb, const char *s);
/* A key path segment: bytes other than letters, digits and ._-,:+*=
 * percent-encoded, so '/' separates segments and '%' never appears raw. */
void h_seg(mt_strbuf *sb, const char *s);

/* The attributes of a tagged number (a leading space included):
 *  data-key="KEY" data-value="V" data-fmt="F"
 * key is printf-formatted: its %s arguments must be h_seg-encoded
 * already (h_enc). */
void h_num_attrs(mt_strbuf *sb, double v, h_fmt fmt, const char *key);
/* <span class="num" ...attrs>TEXT</span> */
void h_num(mt_strbuf *sb, double v, h_fmt fmt, const char *key);
/* The same for a string value (metadata). */
void h_str(mt_strbuf *sb, const char *value, const char *key);
/* h_seg into a small buffer (truncated at size: keys are short). */
const char *h_enc(char *buf, size_t size, const char *s);

/* ---- SVG ----------------------------------------------------------------- */

/* A horizontal bar of a bar chart: value in [0, 1] (NaN: no bar, "-"). */
typedef struct {
	const char *label;
	double value;
	char row[256];     /* the row's data key: "model/operators/operator=GF";
	                    * the value is row/mutation_score */
	size_t killed, timeouts, valid; /* shown after the value */
} h_bar;

/* Horizontal bars with percentages, one row each. */
void svg_bars(mt_strbuf *sb, const char *title, const h_bar *bars, size_t n);

/* A heat map: rows x cols cells; counts[r * cols + c] out of totals[r]
 * (the cell's colour is counts / totals); keys(r, c) gives each count's
 * data key. */
typedef void (*svg_key_fn)(char *buf, size_t size, size_t r, size_t c, const void *ctx);
void svg_heatmap(mt_strbuf *sb, const char *title, const char *const *row_labels, size_t rows,
		 size_t cols, const size_t *counts, const size_t *totals, svg_key_fn key,
		 const void *ctx, const char *x_label);

/* A histogram of counts[0..n) with bin labels; the tooltips carry the
 * counts with data keys from key(i) (r is the bin, c unused). When the
 * count of a bar is a sum of an array's elements, key gives the array and
 * sum_lo/sum_hi (may be NULL) the inclusive index range. */
void svg_histogram(mt_strbuf *sb, const char *title, const size_t *counts, size_t n,
		   const char *const *bin_labels, const char *x_label, const char *colour,
		   svg_key_fn key, const void *ctx, const size_t *sum_lo, const size_t *sum_hi);

/* A line of a line chart: y values in [0, 1] (NaN: a gap). */
typedef struct {
	const char *name;
	const char *colour;
	const double *y;
	int dashed;
} svg_series;

/* Lines over x = 0..n-1 with y in [0, 1] (percent axis); marks[i] != 0
 * draws a red cross at series 0's point i; labels (may be NULL) under the
 * x axis, at most ~12 shown. */
void svg_lines(mt_strbuf *sb, const char *title, const svg_series *series, size_t nseries,
	       size_t n, const char *const *x_labels, const unsigned char *marks,
	       const char *x_label, const char *y_label);

/* Colour of a mutant status. */
const char *svg_status_colour(mt_mutant_status status);

/* ---- sections ------------------------------------------------------------ */

/* The model-level part of the page (html_model.c). */
int html_model_sections(mt_strbuf *sb, const mt_html_report *r, const mt_scores *s,
			const mt_minimise_result *min, const mt_prioritise_result *prio,
			const mt_lcr_result *lcr, const mt_survivors_result *surv);
/* The source-level part (html_source.c). */
void html_source_sections(mt_strbuf *sb, const mt_source_results *res);
/* The history chart (html_source.c). */
void html_history_section(mt_strbuf *sb, const mt_html_report *r);

#endif
