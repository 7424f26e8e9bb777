/* The model-level sections of the HTML report: scores and their
 * definitions, the charts, the surviving mutants and the test-set
 * analyses. Every number carries its key in the JSON reports: "model/..."
 * in report.json, "analysis/..." in the analyses' JSON (docs/reports.md). */
#include "html_internal.h"
#include "mutorch/analysis.h"
#include "mutorch/error.h"
#include "mutorch/killmatrix.h"
#include "mutorch/scores.h"
#include "mutorch/strbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY 512

static void card(mt_strbuf *sb, const char *name, double v, h_fmt fmt, const char *key,
		 const char *definition)
{
	mt_strbuf_puts(sb, "<div class=\"card\"><span class=\"big\">");
	h_num(sb, v, fmt, key);
	mt_strbuf_puts(sb, "</span><b>");
	h_text(sb, name);
	mt_strbuf_puts(sb, "</b><p>");
	h_text(sb, definition);
	mt_strbuf_puts(sb, "</p></div>\n");
}

static void summary(mt_strbuf *sb, const mt_scores *s)
{
	mt_strbuf_puts(sb, "<section id=\"summary\"><h2>Model level: summary</h2>\n<div class=\"cards\">\n");
	card(sb, "mutation score", s->total.mutation_score, H_PCT, "model/mutation_score",
	     "(killed + timeouts) / valid mutants, Stryker's definition; valid = killed + "
	     "survived + timeouts");
	card(sb, "DeepMutation score (MS)", s->total.deepmutation_score, H_PCT,
	     "model/deepmutation_score",
	     "killed classes summed over the evaluated, not filtered mutants M', over |M'| x classes");
	card(sb, "average error rate (AER)", s->total.average_error_rate, H_PCT,
	     "model/average_error_rate",
	     "mean over M' of the fraction of T' (the inputs the original gets right) a mutant gets wrong");
	card(sb, "original accuracy", s->original_accuracy, H_PCT, "model/original_accuracy",
	     "|T'| / n: only inputs the original classifies correctly can kill");
	mt_strbuf_puts(sb, "</div>\n<p>");
	h_num(sb, (double)s->n_inputs, H_INT, "model/n_inputs");
	mt_strbuf_puts(sb, " test inputs, ");
	h_num(sb, (double)s->n_correct, H_INT, "model/n_correct_inputs");
	mt_strbuf_puts(sb, " in T′, ");
	h_num(sb, (double)s->num_classes, H_INT, "model/num_classes");
	mt_strbuf_puts(sb, " classes. Mutants: ");
	h_num(sb, (double)s->total.mutants, H_INT, "model/totals/mutants");
	mt_strbuf_puts(sb, " in all: <span class=\"killed\">");
	h_num(sb, (double)s->total.killed, H_INT, "model/totals/killed");
	mt_strbuf_puts(sb, " killed</span>, <span class=\"survived\">");
	h_num(sb, (double)s->total.survived, H_INT, "model/totals/survived");
	mt_strbuf_puts(sb, " survived</span>, ");
	h_num(sb, (double)s->total.timeouts, H_INT, "model/totals/timeouts");
	mt_strbuf_puts(sb, " timeouts, ");
	h_num(sb, (double)s->total.errors, H_INT, "model/totals/errors");
	mt_strbuf_puts(sb, " errors, ");
	h_num(sb, (double)s->total.filtered, H_INT, "model/totals/filtered");
	mt_strbuf_puts(sb, " filtered as too easy (accuracy below ");
	h_num(sb, s->accuracy_filter, H_F4, "model/accuracy_filter");
	mt_strbuf_puts(sb, " × the original's), ");
	h_num(sb, (double)s->total.ignored, H_INT, "model/totals/ignored");
	mt_strbuf_puts(sb, " ignored (the operator does not apply there).</p>\n</section>\n");
}

static void score_charts(mt_strbuf *sb, const mt_scores *s)
{
	size_t n = s->n_operators > s->n_layers ? s->n_operators : s->n_layers;
	h_bar *bars = calloc(n ? n : 1, sizeof(h_bar));
	char e[300];

	if (!bars)
		return;
	mt_strbuf_puts(sb, "<section id=\"scores\"><h2>Mutation score per operator and per layer</h2>\n");
	for (int layer = 0; layer < 2; layer++) {
		const mt_score_row *rows = layer ? s->layers : s->operators;
		size_t nr = layer ? s->n_layers : s->n_operators;
		for (size_t i = 0; i < nr; i++) {
			bars[i].label = rows[i].name;
			bars[i].value = rows[i].mutation_score;
			snprintf(bars[i].row, sizeof(bars[i].row), "model/%s/%s=%s",
				 layer ? "layers" : "operators", layer ? "layer" : "operator",
				 h_enc(e, sizeof(e), rows[i].name));
			bars[i].killed = rows[i].killed;
			bars[i].timeouts = rows[i].timeouts;
			bars[i].valid = rows[i].valid;
		}
		svg_bars(sb, layer ? "Mutation score per layer (killed + timeouts of valid mutants)" :
			 "Mutation score per operator (killed + timeouts of valid mutants)", bars, nr);
	}
	mt_strbuf_puts(sb, "</section>\n");
	free(bars);
}

typedef struct {
	const mt_scores *s;
} heat_ctx;

static void heat_key(char *buf, size_t size, size_t r, size_t c, const void *ctx)
{
	const heat_ctx *h = ctx;
	char e[300];
	snprintf(buf, size, "model/operators/operator=%s/killed_by_class/%zu",
		 h_enc(e, sizeof(e), h->s->operators[r].name), c);
}

static void heat_map(mt_strbuf *sb, const mt_killmatrix *km, const mt_scores *s)
{
	size_t nc = (size_t)s->num_classes, no = s->n_operators;
	size_t *counts = calloc(no * nc + 1, sizeof(size_t)), *totals = calloc(no + 1, sizeof(size_t));
	const char **labels = calloc(no + 1, sizeof(char *));
	heat_ctx ctx = {s};

	if (!counts || !totals || !labels)
		goto cleanup;
	for (size_t m = 0; m < mt_killmatrix_mutant_count(km); m++) {
		const mt_mutant_record *rec = mt_killmatrix_mutant(km, m);
		size_t o = 0;
		if (!mt_killmatrix_has_predictions(km, m) || s->filtered[m])
			continue;
		while (o < no && strcmp(s->operators[o].name, rec->operator_name))
			o++;
		totals[o]++;
		for (size_t c = 0; c < nc; c++)
			for (size_t t = 0; t < s->n_inputs; t++)
				if (mt_killmatrix_input_class(km, t) == (int)c &&
				    mt_killmatrix_kills(km, m, t)) {
					counts[o * nc + c]++;
					break;
				}
	}
	for (size_t o = 0; o < no; o++)
		labels[o] = s->operators[o].name;
	mt_strbuf_puts(sb, "<section id=\"heatmap\"><h2>Killed classes: operator × class</h2>\n"
		       "<p>Each cell counts the mutants of the operator (in M′) that some input of the "
		       "class kills: class c is in KilledClasses(m). Pale rows and columns are the "
		       "operators and classes the test set does not reach.</p>\n");
	svg_heatmap(sb, "Mutants of each operator killed in each class (colour: share of the "
		    "operator's mutants in M')", labels, no, nc, counts, totals, heat_key, &ctx, "class");
	mt_strbuf_puts(sb, "</section>\n");
cleanup:
	free(counts);
	free(totals);
	free(labels);
}

static void hist_key_ks1(char *buf, size_t size, size_t r, size_t c, const void *ctx)
{
	(void)r;
	(void)c;
	(void)ctx;
	snprintf(buf, size, "model/ks1_histogram");
}

static void ks1_histogram(mt_strbuf *sb, const mt_killmatrix *km, const mt_scores *s)
{
	size_t max = 0, nbins, width, *counts, *lo, *hi;
	char **labels;

	for (size_t t = 0; t < s->n_inputs; t++)
		if (mt_killmatrix_original_correct(km, t) && s->ks1[t] > max)
			max = s->ks1[t];
	/* 0 alone (the inputs that kill nothing), then bins of `width` */
	width = max > 40 ? (max + 39) / 40 : 1;
	nbins = 1 + (max + width - 1) / width;
	counts = calloc(nbins, sizeof(size_t));
	lo = calloc(nbins, sizeof(size_t));
	hi = calloc(nbins, sizeof(size_t));
	labels = calloc(nbins, sizeof(char *));
	if (!counts || !lo || !hi || !labels)
		goto cleanup;
	for (size_t t = 0; t < s->n_inputs; t++)
		if (mt_killmatrix_original_correct(km, t))
			counts[s->ks1[t] ? 1 + (s->ks1[t] - 1) / width : 0]++;
	for (size_t b = 0; b < nbins; b++) {
		char text[48];
		lo[b] = b ? 1 + (b - 1) * width : 0;
		hi[b] = b ? (lo[b] + width - 1 < max ? lo[b] + width - 1 : max) : 0;
		if (lo[b] == hi[b])
			snprintf(text, sizeof(text), "%zu", lo[b]);
		else
			snprintf(text, sizeof(text), "%zu-%zu", lo[b], hi[b]);
		labels[b] = strdup(text);
	}
	mt_strbuf_puts(sb, "<section id=\"ks1\"><h2>Kills per input (KS1)</h2>\n<p>How many mutants "
		       "of M′ each input of T′ kills (DeepMutation++'s KS1). Inputs at 0 kill nothing: "
		       "minimisation can drop them; inputs far right are the test set's strongest.</p>\n");
	svg_histogram(sb, "Inputs of T' by the number of mutants they kill", counts, nbins,
		      (const char *const *)labels, "mutants killed by the input", "#5c6bc0",
		      hist_key_ks1, NULL, lo, hi);
	mt_strbuf_puts(sb, "</section>\n");
cleanup:
	for (size_t b = 0; labels && b < nbins; b++)
		free(labels[b]);
	free(labels);
	free(counts);
	free(lo);
	free(hi);
}

/* Every mutant's accuracy, grouped by operator, against the original's and
 * the filter's threshold. */
static void accuracy_chart(mt_strbuf *sb, const mt_killmatrix *km, const mt_scores *s)
{
	const int left = 60, plot_w = 760, plot_h = 240, top = 16;
	size_t nm = mt_killmatrix_mutant_count(km), k = 0, drawn = 0;
	double orig = s->original_accuracy, thr = s->accuracy_filter * orig;
	char key[KEY], e[300], text[32];

	for (size_t m = 0; m < nm; m++)
		drawn += !isnan(mt_killmatrix_mutant(km, m)->accuracy);
	mt_strbuf_puts(sb, "<section id=\"accuracy\"><h2>Accuracy of every mutant</h2>\n<p>Each dot is "
		       "a mutant (green killed, red survived, grey filtered or ignored), grouped by "
		       "operator; the line is the original's accuracy (");
	h_num(sb, orig, H_PCT, "model/original_accuracy");
	mt_strbuf_puts(sb, "), the dashed line the filter's threshold: mutants below it are too easy "
		       "and left out of the scores. Hover a dot for its id and accuracy.</p>\n");
	mt_strbuf_printf(sb, "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
			 "viewBox=\"0 0 %d %d\" width=\"%d\" role=\"img\" aria-label=\"mutant accuracy\">",
			 left + plot_w + 20, top + plot_h + 70, left + plot_w + 20);
	for (int p = 0; p <= 4; p++) {
		double y = top + plot_h - plot_h * p / 4.0;
		mt_strbuf_printf(sb, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
				 "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>", left, y,
				 left + plot_w, y, left - 6, y + 4, p * 25);
	}
	if (!isnan(orig))
		mt_strbuf_printf(sb, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#263238\" "
				 "stroke-width=\"1.5\"/><line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
				 "stroke=\"#263238\" stroke-dasharray=\"5 4\"/>", left,
				 top + plot_h * (1 - orig), left + plot_w, top + plot_h * (1 - orig), left,
				 top + plot_h * (1 - thr), left + plot_w, top + plot_h * (1 - thr));
	for (size_t o = 0; o < s->n_operators; o++) {
		size_t start = k;
		for (size_t m = 0; m < nm; m++) {
			const mt_mutant_record *rec = mt_killmatrix_mutant(km, m);
			double x, y;
			if (strcmp(rec->operator_name, s->operators[o].name) || isnan(rec->accuracy))
				continue;
			x = left + plot_w * ((double)k + 0.5) / (double)(drawn ? drawn : 1);
			y = top + plot_h * (1 - rec->accuracy);
			k++;
			mt_strbuf_printf(sb, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title",
					 x, y, s->filtered[m] ? "#9e9e9e" : svg_status_colour(rec->status));
			snprintf(key, sizeof(key), "model/mutants/id=%s/accuracy", h_enc(e, sizeof(e), rec->id));
			h_num_attrs(sb, rec->accuracy, H_PCT, key);
			h_format(text, sizeof(text), rec->accuracy, H_PCT);
			mt_strbuf_puts(sb, ">");
			h_text(sb, rec->id);
			mt_strbuf_printf(sb, " (%s%s): accuracy %s</title></circle>",
					 mt_mutant_status_name(rec->status), s->filtered[m] ? ", filtered" : "", text);
		}
		if (k > start) {
			double x0 = left + plot_w * (double)start / (double)drawn;
			double x1 = left + plot_w * (double)k / (double)drawn;
			mt_strbuf_printf(sb, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
					 "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" "
					 "transform=\"rotate(-35 %.1f %d)\">", x1, top, x1, top + plot_h,
					 (x0 + x1) / 2, top + plot_h + 14, (x0 + x1) / 2, top + plot_h + 14);
			h_text(sb, s->operators[o].name);
			mt_strbuf_puts(sb, "</text>");
		}
	}
	mt_strbuf_printf(sb, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">mutants, by operator"
			 "</text></svg><figcaption>Accuracy of each mutant on the whole test set"
			 "</figcaption></figure>\n</section>\n", left + plot_w / 2.0, top + plot_h + 62);
}

static void class_list(mt_strbuf *sb, const unsigned char *flags, int n, int want)
{
	int any = 0;
	for (int c = 0; c < n; c++)
		if (!!flags[c] == want) {
			mt_strbuf_printf(sb, "%s%d", any ? ", " : "", c);
			any = 1;
		}
	if (!any)
		mt_strbuf_puts(sb, "none");
}

static void survivors(mt_strbuf *sb, const mt_killmatrix *km, const mt_survivors_result *surv)
{
	char key[KEY], e[300];
	mt_strbuf_puts(sb, "<section id=\"survivors\"><h2>Surviving mutants: what would kill them</h2>\n"
		       "<p>A <b>near-miss</b> of a surviving mutant is an input on which its prediction "
		       "differs from the original's. The mutant survived, so the original gets every "
		       "near-miss wrong: the fault shows there, but the test set has no right answer "
		       "to hold it against. <b>Classes needed</b> are the classes no near-miss reaches "
		       "(no input of that class changed its prediction): killing the mutant there needs "
		       "inputs of those classes unlike any in the test set. In the classes reached, a "
		       "correctly labelled input like the near-misses is the likely killer. A mutant "
		       "with no near-miss predicts exactly like the original on every input: it may be "
		       "equivalent on this data.</p>\n");
	if (!surv->n) {
		mt_strbuf_puts(sb, "<p>No mutant of M′ survived.</p></section>\n");
		return;
	}
	mt_strbuf_puts(sb, "<table><tr><th>mutant</th><th>operator</th><th>target</th><th class=\"n\">"
		       "near-misses</th><th>classes needed</th><th>classes reached</th><th>near-miss "
		       "inputs (first 8)</th></tr>\n");
	for (size_t i = 0; i < surv->n; i++) {
		const mt_survivor *sv = &surv->survivors[i];
		const mt_mutant_record *rec = mt_killmatrix_mutant(km, sv->mutant);
		mt_strbuf_puts(sb, "<tr><td class=\"mono\">");
		h_text(sb, rec->id);
		mt_strbuf_puts(sb, "</td><td>");
		h_text(sb, rec->operator_name);
		mt_strbuf_puts(sb, "</td><td>");
		h_text(sb, rec->layer);
		mt_strbuf_puts(sb, "</td><td class=\"n\">");
		snprintf(key, sizeof(key), "analysis/survivors/id=%s/near_misses", h_enc(e, sizeof(e), rec->id));
		h_num(sb, (double)sv->n_near_misses, H_INT, key);
		mt_strbuf_puts(sb, "</td><td>");
		class_list(sb, sv->reached, surv->num_classes, 0);
		mt_strbuf_puts(sb, "</td><td>");
		class_list(sb, sv->reached, surv->num_classes, 1);
		mt_strbuf_puts(sb, "</td><td class=\"mono\">");
		for (size_t j = 0; j < sv->n_near_misses && j < 8; j++)
			mt_strbuf_printf(sb, "%st%zu", j ? " " : "", sv->near_misses[j]);
		mt_strbuf_puts(sb, "</td></tr>\n");
	}
	mt_strbuf_puts(sb, "</table>\n</section>\n");
}

/* At most 400 points of a curve of n, as fractions of `of`. */
static size_t sample_curve(double *y, const size_t *curve, const double *mean, size_t n,
			   size_t of)
{
	size_t pts = n < 400 ? n : 400;
	for (size_t i = 0; i < pts; i++) {
		size_t k = pts > 1 ? (size_t)llround((double)i * (double)(n - 1) / (double)(pts - 1)) : 0;
		y[i] = of ? (curve ? (double)curve[k] : mean[k]) / (double)of : NAN;
	}
	return pts;
}

static void lcr_key(char *buf, size_t size, size_t r, size_t c, const void *ctx)
{
	(void)c;
	snprintf(buf, size, "analysis/lcr/%s/%zu", (const char *)ctx, r);
}

static void analyses(mt_strbuf *sb, const mt_minimise_result *min, const mt_prioritise_result *prio,
		     const mt_lcr_result *lcr)
{
	double *greedy = malloc(400 * sizeof(double)), *random = malloc(400 * sizeof(double));
	static const char *const bins[MT_LCR_BINS] = {
		"0", ".05", ".10", ".15", ".20", ".25", ".30", ".35", ".40", ".45",
		".50", ".55", ".60", ".65", ".70", ".75", ".80", ".85", ".90", ".95"};
	static const char *const names[] = {"correct", "wrong"};

	mt_strbuf_puts(sb, "<section id=\"minimise\"><h2>Test-set minimisation</h2>\n<p>");
	h_num(sb, (double)min->subset_size, H_INT, "analysis/minimise/subset_size");
	mt_strbuf_puts(sb, " of ");
	h_num(sb, (double)min->n_inputs, H_INT, "analysis/minimise/inputs");
	mt_strbuf_puts(sb, " inputs kill every one of the ");
	h_num(sb, (double)min->killable, H_INT, "analysis/minimise/killable");
	mt_strbuf_puts(sb, " mutants of M′ the whole set kills (greedy set cover, then redundant "
		       "inputs dropped). No subset can do it with fewer than ");
	h_num(sb, (double)min->lower_bound, H_INT, "analysis/minimise/lower_bound");
	mt_strbuf_puts(sb, " inputs: ");
	h_num(sb, (double)min->packing_size, H_INT, "analysis/minimise/packing_bound");
	mt_strbuf_puts(sb, " mutants share no killing input, so each needs its own; and the strongest "
		       "input kills at most a share that needs ");
	h_num(sb, (double)min->coverage_bound, H_INT, "analysis/minimise/coverage_bound");
	mt_strbuf_puts(sb, " inputs. <code>mutorch analyse RUN_DIR minimise</code> writes the subset "
		       "as an index list and a NumPy mask.</p>\n</section>\n");

	mt_strbuf_puts(sb, "<section id=\"prioritise\"><h2>Test-input prioritisation</h2>\n<p>Running "
		       "the inputs in additional-greedy order kills all killable mutants after ");
	h_num(sb, (double)prio->inputs_to_kill_all, H_INT, "analysis/prioritise/inputs_to_kill_all");
	mt_strbuf_puts(sb, " inputs. APFD (the area under the kills curve) of the greedy order: ");
	h_num(sb, prio->apfd, H_F4, "analysis/prioritise/apfd");
	mt_strbuf_puts(sb, "; ordered by KS1 alone: ");
	h_num(sb, prio->apfd_ks1, H_F4, "analysis/prioritise/apfd_ks1");
	mt_strbuf_puts(sb, "; random orders: mean ");
	h_num(sb, prio->apfd_random_mean, H_F4, "analysis/prioritise/apfd_random_mean");
	mt_strbuf_puts(sb, " (sd ");
	h_num(sb, prio->apfd_random_sd, H_F4, "analysis/prioritise/apfd_random_sd");
	mt_strbuf_puts(sb, ", ");
	h_num(sb, (double)prio->random_orders, H_INT, "analysis/prioritise/random_orders");
	mt_strbuf_puts(sb, " orders; exact expectation ");
	h_num(sb, prio->apfd_random_expected, H_F4, "analysis/prioritise/apfd_random_expected");
	mt_strbuf_puts(sb, ").</p>\n");
	if (greedy && random && prio->n_inputs) {
		size_t pts = sample_curve(greedy, prio->kills_curve, NULL, prio->n_inputs, prio->killable);
		svg_series series[2] = {{"greedy order", "#00897b", greedy, 0},
					{"random (mean)", "#9e9e9e", random, 1}};
		sample_curve(random, NULL, prio->random_curve, prio->n_inputs, prio->killable);
		svg_lines(sb, "Killable mutants killed against inputs run (x: 0 to all inputs)", series, 2,
			  pts, NULL, NULL, "inputs run (fraction of the test set)", "mutants killed");
	}
	mt_strbuf_puts(sb, "</section>\n");

	mt_strbuf_puts(sb, "<section id=\"lcr\"><h2>Label change rate</h2>\n<p>LCR(t): the fraction "
		       "of the mutants of M′ whose prediction on input t differs from the original's "
		       "(Wang et al., ICSE 2019). Inputs the original gets wrong, adversarial and "
		       "mislabelled ones sit near a decision boundary and have high LCR; a correctly "
		       "classified input with a high LCR is worth a look. Per input in "
		       "<code>inputs.csv</code> (column <code>lcr</code>).</p>\n<table><tr><th>inputs"
		       "</th><th class=\"n\">n</th><th class=\"n\">mean</th><th class=\"n\">sd</th>"
		       "<th class=\"n\">q1</th><th class=\"n\">median</th><th class=\"n\">q3</th>"
		       "<th class=\"n\">max</th></tr>\n");
	for (int g = 0; g < 2; g++) {
		const mt_lcr_summary *s = g ? &lcr->wrong : &lcr->correct;
		const double v[] = {s->n, s->mean, s->sd, s->q1, s->median, s->q3, s->max};
		static const char *const f[] = {"n", "mean", "sd", "q1", "median", "q3", "max"};
		mt_strbuf_printf(sb, "<tr><td>%s</td>", g ? "misclassified by the original" :
				 "classified correctly (T′)");
		for (int i = 0; i < 7; i++) {
			char key[KEY];
			snprintf(key, sizeof(key), "analysis/lcr/%s/%s", names[g], f[i]);
			mt_strbuf_puts(sb, "<td class=\"n\">");
			h_num(sb, v[i], i ? H_F4 : H_INT, key);
			mt_strbuf_puts(sb, "</td>");
		}
		mt_strbuf_puts(sb, "</tr>\n");
	}
	mt_strbuf_puts(sb, "</table>\n<p>AUC of LCR as a detector of the original's errors (the chance "
		       "that a misclassified input has a higher LCR than a correct one): ");
	h_num(sb, lcr->auc, H_F4, "analysis/lcr/auc");
	mt_strbuf_puts(sb, ".</p>\n");
	svg_histogram(sb, "LCR of the inputs the original classifies correctly", lcr->hist_correct,
		      MT_LCR_BINS, bins, "label change rate (bins of 0.05)", "#26a69a", lcr_key,
		      "histogram_correct", NULL, NULL);
	svg_histogram(sb, "LCR of the inputs the original misclassifies", lcr->hist_wrong, MT_LCR_BINS,
		      bins, "label change rate (bins of 0.05)", "#ef5350", lcr_key, "histogram_wrong",
		      NULL, NULL);
	mt_strbuf_puts(sb, "</section>\n");
	free(greedy);
	free(random);
}

int html_model_sections(mt_strbuf *sb, const mt_html_report *r, const mt_scores *s,
			const mt_minimise_result *min, const mt_prioritise_result *prio,
			const mt_lcr_result *lcr, const mt_survivors_result *surv)
{
	summary(sb, s);
	score_charts(sb, s);
	heat_map(sb, r->km, s);
	ks1_histogram(sb, r->km, s);
	accuracy_chart(sb, r->km, s);
	survivors(sb, r->km, surv);
	analyses(sb, min, prio, lcr);
	return sb->failed ? mt_error_oom() : 0;
}
