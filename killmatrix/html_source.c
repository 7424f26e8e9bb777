/* The source-level section of the HTML report (every mutant's accuracies
 * over its runs beside the original's, with p, effect size, verdict and
 * where the sequential design stopped) and the score per commit of the
 * first-parent history. Keys: "source/..." in source-report.json,
 * "history/commit=OID/..." in that commit's `mutorch ci` note. */
#include "html_internal.h"
#include "mutorch/html_report.h"
#include "mutorch/killmatrix.h"
#include "mutorch/source_results.h"
#include "mutorch/strbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void src_num(mt_strbuf *sb, double v, h_fmt fmt, const char *id, const char *field)
{
	char key[600], e[300];
	if (id)
		snprintf(key, sizeof(key), "source/mutants_detail/id=%s/%s", h_enc(e, sizeof(e), id), field);
	else
		snprintf(key, sizeof(key), "source/%s", field);
	h_num(sb, v, fmt, key);
}

static int failed(const mt_source_mutant_result *m)
{
	return m->status != MT_MUTANT_KILLED && m->status != MT_MUTANT_SURVIVED;
}

/* One row of dots: the original's first n runs above, the mutant's below,
 * on the row's own scale (from the lowest to the highest of these runs),
 * so that a small shift shows even beside a mutant that broke training. */
static void strip(mt_strbuf *sb, const mt_source_results *res, const mt_source_mutant_result *m)
{
	const int w = 280, h = 34;
	int n = m->runs < res->original_runs ? m->runs : res->original_runs;
	double lo = INFINITY, hi = -INFINITY, pad;

	for (int i = 0; i < n; i++)
		if (isfinite(res->original_accuracy[i])) {
			lo = fmin(lo, res->original_accuracy[i]);
			hi = fmax(hi, res->original_accuracy[i]);
		}
	for (int i = 0; i < m->runs; i++)
		if (isfinite(m->accuracy[i])) {
			lo = fmin(lo, m->accuracy[i]);
			hi = fmax(hi, m->accuracy[i]);
		}
	if (!isfinite(lo)) {
		lo = 0;
		hi = 1;
	}
	pad = hi > lo ? 0.05 * (hi - lo) : 0.005;
	lo -= pad;
	hi += pad;
	mt_strbuf_printf(sb, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
			 "width=\"%d\" role=\"img\" aria-label=\"runs\"><line class=\"grid\" x1=\"0\" "
			 "y1=\"17\" x2=\"%d\" y2=\"17\"/>", w, h, w, w);
#define X(v) (6 + (w - 12) * ((v) - lo) / (hi - lo))
	for (int i = 0; i < n; i++)
		if (isfinite(res->original_accuracy[i]))
			mt_strbuf_printf(sb, "<circle cx=\"%.1f\" cy=\"9\" r=\"3\" fill=\"#78909c\" "
					 "fill-opacity=\".7\"/>", X(res->original_accuracy[i]));
	for (int i = 0; i < m->runs; i++)
		if (isfinite(m->accuracy[i]))
			mt_strbuf_printf(sb, "<circle cx=\"%.1f\" cy=\"25\" r=\"3\" fill=\"%s\" "
					 "fill-opacity=\".8\"/>", X(m->accuracy[i]), svg_status_colour(m->status));
	if (isfinite(m->original_mean))
		mt_strbuf_printf(sb, "<line x1=\"%.1f\" y1=\"2\" x2=\"%.1f\" y2=\"16\" stroke=\"#263238\"/>",
				 X(m->original_mean), X(m->original_mean));
	if (isfinite(m->mutant_mean))
		mt_strbuf_printf(sb, "<line x1=\"%.1f\" y1=\"18\" x2=\"%.1f\" y2=\"32\" stroke=\"#263238\"/>",
				 X(m->mutant_mean), X(m->mutant_mean));
#undef X
	mt_strbuf_puts(sb, "</svg>");
}

void html_source_sections(mt_strbuf *sb, const mt_source_results *res)
{
	mt_strbuf_puts(sb, "<section id=\"source\"><h2>Source level: retrained mutants</h2>\n"
		       "<div class=\"cards\"><div class=\"card\"><span class=\"big\">");
	src_num(sb, mt_source_results_score(res), H_PCT, NULL, "mutation_score");
	mt_strbuf_puts(sb, "</span><b>mutation score</b><p>killed / (killed + survived); mutants "
		       "whose training failed are not counted</p></div></div>\n<p>");
	src_num(sb, (double)res->nmutants, H_INT, NULL, "mutants");
	mt_strbuf_puts(sb, " mutants: <span class=\"killed\">");
	src_num(sb, (double)res->killed, H_INT, NULL, "killed");
	mt_strbuf_puts(sb, " killed</span>, <span class=\"survived\">");
	src_num(sb, (double)res->survived, H_INT, NULL, "survived");
	mt_strbuf_puts(sb, " survived</span>, ");
	src_num(sb, (double)res->errors, H_INT, NULL, "errors");
	mt_strbuf_puts(sb, " failed to train. Rule <b>");
	h_text(sb, res->rule);
	mt_strbuf_puts(sb, "</b>: killed when the mutant's accuracies are worse than the original's "
		       "with p below alpha = ");
	src_num(sb, res->alpha, H_G3, NULL, "alpha");
	mt_strbuf_puts(sb, " and an effect size (Cohen's d) of at least ");
	src_num(sb, res->effect, H_G3, NULL, "effect_size");
	mt_strbuf_puts(sb, "; correction for multiple comparisons: ");
	h_text(sb, res->correction);
	mt_strbuf_puts(sb, ". Run i of the original and of each mutant share their seed. ");
	if (res->sequential) {
		mt_strbuf_puts(sb, "The sequential design adds runs in stages and stops a mutant as soon "
			       "as its verdict is clear (at most ");
		src_num(sb, (double)res->max_runs, H_INT, NULL, "max_runs");
		mt_strbuf_puts(sb, " runs each): it used ");
		src_num(sb, (double)res->trainings_used, H_INT, NULL, "trainings_used");
		mt_strbuf_puts(sb, " trainings where the fixed design needs ");
		src_num(sb, (double)res->trainings_fixed_design, H_INT, NULL, "trainings_fixed_design");
		mt_strbuf_puts(sb, ".");
	} else {
		mt_strbuf_puts(sb, "Fixed design: ");
		src_num(sb, (double)res->max_runs, H_INT, NULL, "max_runs");
		mt_strbuf_puts(sb, " runs each.");
	}
	mt_strbuf_puts(sb, "</p>\n<p>Each row: the original's runs (grey, top) and the mutant's "
		       "(bottom) that the verdict used, each row on its own accuracy scale (from its "
		       "lowest to its highest run), so that small shifts show; the ticks are the "
		       "means.</p>\n"
		       "<table><tr><th>mutant</th><th>runs (original / mutant)</th><th class=\"n\">"
		       "original mean</th><th class=\"n\">mutant mean</th><th class=\"n\">p</th>"
		       "<th class=\"n\">d</th><th>verdict</th><th class=\"n\">runs used</th></tr>\n");
	for (size_t k = 0; k < res->nmutants; k++) {
		const mt_source_mutant_result *m = &res->mutants[k];
		mt_strbuf_puts(sb, "<tr><td><span class=\"mono\">");
		h_text(sb, m->id);
		mt_strbuf_puts(sb, "</span><br><span class=\"muted\">");
		h_text(sb, m->op);
		mt_strbuf_puts(sb, " on ");
		h_text(sb, m->target);
		mt_strbuf_puts(sb, "</span></td><td>");
		strip(sb, res, m);
		mt_strbuf_puts(sb, "</td><td class=\"n\">");
		src_num(sb, m->original_mean, H_F4, m->id, "original_mean");
		mt_strbuf_puts(sb, "</td><td class=\"n\">");
		src_num(sb, m->mutant_mean, H_F4, m->id, "mutant_mean");
		mt_strbuf_puts(sb, "</td><td class=\"n\">");
		if (!failed(m))
			src_num(sb, m->p_adjusted, H_G3, m->id, "p_adjusted");
		mt_strbuf_puts(sb, "</td><td class=\"n\">");
		if (!failed(m))
			src_num(sb, m->effect_size, H_G3, m->id, "effect_size");
		mt_strbuf_printf(sb, "</td><td class=\"%s\">%s", m->status == MT_MUTANT_KILLED ? "killed" :
				 m->status == MT_MUTANT_SURVIVED ? "survived" : "muted",
				 mt_mutant_status_name(m->status));
		if (failed(m) && m->reason) {
			mt_strbuf_puts(sb, ": ");
			h_text(sb, m->reason);
		}
		mt_strbuf_puts(sb, "</td><td class=\"n\">");
		src_num(sb, (double)m->runs, H_INT, m->id, "runs");
		/* a mutant whose training failed did not stop: it has no verdict */
		if (res->sequential && !failed(m) && m->runs < res->max_runs)
			mt_strbuf_puts(sb, " <span class=\"muted\">(stopped early)</span>");
		mt_strbuf_puts(sb, "</td></tr>\n");
	}
	mt_strbuf_puts(sb, "</table>\n</section>\n");
}

void html_history_section(mt_strbuf *sb, const mt_html_report *r)
{
	size_t n = r->n_history;
	double *y[MT_HISTORY_SCORES] = {NULL};
	const char **labels = calloc(n ? n : 1, sizeof(char *));
	unsigned char *marks = calloc(n ? n : 1, 1);
	char (*shorts)[8] = calloc(n ? n : 1, 8);
	svg_series series[MT_HISTORY_SCORES];
	static const char *const colours[MT_HISTORY_SCORES] = {"#00897b", "#5c6bc0", "#8d6e63",
								"#f9a825"};
	size_t ns = 0;
	int gated = MT_HISTORY_MUTATION_SCORE, order[MT_HISTORY_SCORES], no = 0;

	mt_strbuf_puts(sb, "<section id=\"history\"><h2>Score per commit</h2>\n");
	if (r->history_note) {
		mt_strbuf_puts(sb, "<p>");
		h_text(sb, r->history_note);
		mt_strbuf_puts(sb, "</p>\n");
	}
	if (!labels || !marks || !shorts)
		goto cleanup;
	/* The gated score of the newest commit that recorded a gate goes
	 * first: the crosses mark it. */
	for (size_t i = n; i-- > 0;)
		if (r->history[i].gate >= 0 && r->history[i].gate_score) {
			for (int k = 0; k < MT_HISTORY_SCORES; k++)
				if (!strcmp(r->history[i].gate_score, mt_history_score_name(k)))
					gated = k;
			break;
		}
	order[no++] = gated;
	for (int k = 0; k < MT_HISTORY_SCORES; k++)
		if (k != gated)
			order[no++] = k;
	for (int j = 0; j < no; j++) {
		int k = order[j], any = 0;
		for (size_t i = 0; i < n; i++)
			any |= r->history[i].has_note && !isnan(r->history[i].scores[k]);
		if (!any && j > 0)
			continue;
		if (!(y[k] = malloc((n ? n : 1) * sizeof(double))))
			goto cleanup;
		for (size_t i = 0; i < n; i++)
			y[k][i] = r->history[i].has_note ? r->history[i].scores[k] : NAN;
		series[ns].name = mt_history_score_name(k);
		series[ns].colour = colours[k];
		series[ns].y = y[k];
		series[ns].dashed = j > 0;
		ns++;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(shorts[i], 8, "%.7s", r->history[i].commit);
		labels[i] = shorts[i];
		marks[i] = r->history[i].has_note && r->history[i].gate == 0;
	}
	if (!n) {
		mt_strbuf_puts(sb, "<p>No commits.</p>\n");
		goto cleanup;
	}
	mt_strbuf_puts(sb, "<p>The scores the <code>mutorch ci</code> notes (<code>refs/notes/mutorch"
		       "</code>) hold for each commit of the first-parent history, oldest left; a "
		       "commit without a note is a gap. Red crosses mark the commits whose gate "
		       "failed (the score fell by more than the tolerance or is below the "
		       "threshold).</p>\n");
	svg_lines(sb, "Scores per commit (first-parent history, oldest left)", series, ns, n, labels,
		  marks, "commit", "score");
	mt_strbuf_puts(sb, "<details open><summary>Commits</summary><table><tr><th>commit</th>"
		       "<th>summary</th>");
	for (size_t s = 0; s < ns; s++)
		mt_strbuf_printf(sb, "<th class=\"n\">%s</th>", series[s].name);
	mt_strbuf_puts(sb, "<th>gate</th></tr>\n");
	for (size_t i = n; i-- > 0;) {
		const mt_html_history_point *p = &r->history[i];
		mt_strbuf_puts(sb, "<tr><td class=\"mono\">");
		h_text(sb, shorts[i]);
		mt_strbuf_puts(sb, "</td><td>");
		h_text(sb, p->summary);
		mt_strbuf_puts(sb, "</td>");
		for (size_t s = 0; s < ns; s++) {
			char key[200];
			mt_strbuf_puts(sb, "<td class=\"n\">");
			if (p->has_note && !isnan(series[s].y[i])) {
				snprintf(key, sizeof(key), "history/commit=%s/scores/%s", p->commit,
					 series[s].name);
				h_num(sb, series[s].y[i], H_PCT, key);
			} else {
				mt_strbuf_puts(sb, p->has_note ? "-" : "<span class=\"muted\">no note</span>");
			}
			mt_strbuf_puts(sb, "</td>");
		}
		mt_strbuf_printf(sb, "<td>%s</td></tr>\n", !p->has_note || p->gate < 0 ? "" :
				 p->gate ? "<span class=\"killed\">passed</span>" :
				 "<span class=\"survived\">failed</span>");
	}
	mt_strbuf_puts(sb, "</table></details>\n");
cleanup:
	mt_strbuf_puts(sb, "</section>\n");
	for (int k = 0; k < MT_HISTORY_SCORES; k++)
		free(y[k]);
	free(labels);
	free(marks);
	free(shorts);
}
