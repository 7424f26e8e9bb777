/* The one-file HTML report (see mutorch/html_report.h): the page, its
 * summary, the embedded JSON reports and the Stryker viewer tab. The
 * model-level sections are in html_model.c, the source level and the
 * history in html_source.c, the charts in svg.c. */
#include "html_internal.h"
#include "mutorch/analysis.h"
#include "mutorch/error.h"
#include "mutorch/html_report.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"
#include "mutorch/report.h"
#include "mutorch/scores.h"
#include "mutorch/source_results.h"
#include "mutorch/strbuf.h"

#include <stdlib.h>
#include <string.h>

const char *mt_history_score_name(int i)
{
	static const char *const names[MT_HISTORY_SCORES] = {
		"mutation_score", "deepmutation_score", "average_error_rate", "source_mutation_score"};
	return i >= 0 && i < MT_HISTORY_SCORES ? names[i] : "?";
}

static const char style[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#212121;"
	"background:#fafafa}"
	"header{background:#263238;color:#fff;padding:12px 24px;display:flex;align-items:center;"
	"gap:24px;flex-wrap:wrap}"
	"header h1{font-size:20px;margin:0}"
	"nav button{background:#37474f;color:#fff;border:0;padding:6px 14px;margin-right:4px;"
	"border-radius:4px;cursor:pointer;font:inherit}"
	"nav button.active{background:#80cbc4;color:#000}"
	"main,.tab{padding:8px 24px 32px;max-width:1100px}"
	"section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:4px 18px 14px;"
	"margin:16px 0}"
	"h2{font-size:17px;border-bottom:1px solid #eee;padding-bottom:4px}"
	"h3{font-size:15px;margin:14px 0 4px}"
	"table{border-collapse:collapse;margin:6px 0}"
	"td,th{border-bottom:1px solid #eee;padding:3px 10px;text-align:left;vertical-align:top}"
	"th{background:#f5f5f5}td.n,th.n{text-align:right;white-space:nowrap}"
	".big{font-size:26px;font-weight:600;margin-right:6px}"
	".cards{display:flex;flex-wrap:wrap;gap:12px}"
	".card{border:1px solid #e0e0e0;border-radius:6px;padding:8px 14px;min-width:180px}"
	".card p{margin:2px 0;color:#555;font-size:12px}"
	".chart{margin:10px 0}.chart svg{max-width:100%;height:auto;font-size:11px}"
	".chart figcaption{color:#555;font-size:12px}"
	".grid{stroke:#e0e0e0}.bar{fill:#26a69a}.cell{fill:#212121}.cell.dark{fill:#fff}"
	"code,.mono{font-family:ui-monospace,monospace;font-size:12px}"
	".killed{color:#2e7d32}.survived{color:#c62828}.muted{color:#757575}"
	".hint{background:#fff8e1;border:1px solid #ffe082;padding:8px 12px;border-radius:4px}"
	"details{margin:6px 0}"
	".js .tab[hidden]{display:none}\n";

/* #stryker in the address opens the Stryker view. Read in <head>, before
 * the viewer starts: it routes by the address's fragment and rewrites it,
 * so the tabs, set up at the end of the page, would no longer see it. */
static const char start_tab_js[] =
	"window.mutorchStartTab=location.hash==='#stryker'?'tab-stryker':'tab-report';";

/* Tabs: without scripts every tab shows, one after the other. */
static const char tabs_js[] =
	"(function(){document.documentElement.classList.add('js');"
	"var b=document.querySelectorAll('nav button');"
	"function show(id){document.querySelectorAll('.tab').forEach(function(t){t.hidden=t.id!==id;});"
	"b.forEach(function(x){x.classList.toggle('active',x.dataset.tab===id);});}"
	"b.forEach(function(x){x.addEventListener('click',function(){show(x.dataset.tab);});});"
	"show(window.mutorchStartTab||'tab-report');})();\n";

/* Loads the viewer's bundle, kept as base64 so that no text in it can end
 * the script element early, then hands each report to its element. */
static const char viewer_js[] =
	"(function(){var src=document.getElementById('mte-bundle');if(!src)return;"
	"var bin=atob(src.textContent.trim()),u=new Uint8Array(bin.length);"
	"for(var i=0;i<bin.length;i++)u[i]=bin.charCodeAt(i);"
	"var s=document.createElement('script');s.textContent=new TextDecoder().decode(u);"
	"document.head.appendChild(s);"
	"document.querySelectorAll('mutation-test-report-app[data-report]').forEach(function(app){"
	"app.report=JSON.parse(document.getElementById(app.dataset.report).textContent);});"
	"if(customElements.get('mutation-test-report-app'))document.body.dataset.viewer='ready';})();\n";

/* Text for a <script type="application/json"> element: '<' only occurs in
 * JSON strings, where \u003c means the same, so no "</script" can end the
 * element early. */
static void script_json(mt_strbuf *sb, const char *id, const char *json)
{
	mt_strbuf_printf(sb, "<script type=\"application/json\" id=\"%s\">", id);
	for (const char *p = json; *p; p++) {
		if (*p == '<')
			mt_strbuf_puts(sb, "\\u003c");
		else
			mt_strbuf_put(sb, p, 1);
	}
	mt_strbuf_puts(sb, "</script>\n");
}

static void base64(mt_strbuf *sb, const unsigned char *p, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		char q[4] = {abc[v >> 18 & 63], abc[v >> 12 & 63], i + 1 < n ? abc[v >> 6 & 63] : '=',
			     i + 2 < n ? abc[v & 63] : '='};
		mt_strbuf_put(sb, q, 4);
		if (i % 57 == 54)
			mt_strbuf_put(sb, "\n", 1);
	}
}

static void stryker_tab(mt_strbuf *sb, const mt_html_report *r)
{
	const char *texts[2] = {r->stryker, r->source_stryker};
	const char *names[2] = {"model level (stryker.json)", "source level (source-stryker.json)"};
	const char *ids[2] = {"stryker-model", "stryker-source"};

	mt_strbuf_puts(sb, "<div class=\"tab\" id=\"tab-stryker\"><h2>Stryker view</h2>\n");
	if (!r->stryker && !r->source_stryker)
		mt_strbuf_puts(sb, "<p class=\"hint\">This run directory has no Stryker report "
			       "(stryker.json or source-stryker.json).</p>\n");
	else if (!r->viewer_js) {
		mt_strbuf_puts(sb, "<p class=\"hint\">The Stryker view needs the npm package "
			       "<code>mutation-testing-elements</code>, which was not found when this "
			       "page was made. ");
		h_text(sb, r->viewer_hint ? r->viewer_hint : "");
		mt_strbuf_puts(sb, "</p>\n");
	}
	for (int i = 0; i < 2; i++) {
		if (!texts[i])
			continue;
		mt_strbuf_printf(sb, "<h3>%s</h3>\n", names[i]);
		if (r->viewer_js)
			mt_strbuf_printf(sb, "<mutation-test-report-app data-report=\"%s\" "
					 "title-postfix=\"mutorch\"></mutation-test-report-app>\n", ids[i]);
		script_json(sb, ids[i], texts[i]);
	}
	if (r->viewer_js && (r->stryker || r->source_stryker)) {
		mt_strbuf_puts(sb, "<script type=\"application/octet-stream\" id=\"mte-bundle\">\n");
		base64(sb, (const unsigned char *)r->viewer_js, r->viewer_len);
		mt_strbuf_puts(sb, "\n</script>\n<script>");
		mt_strbuf_puts(sb, viewer_js);
		mt_strbuf_puts(sb, "</script>\n");
	}
	mt_strbuf_puts(sb, "</div>\n");
}

static void meta_rows(mt_strbuf *sb, const mt_killmatrix *km)
{
	char digest[41], k[300];
	mt_strbuf_puts(sb, "<table><tr><th>metadata</th><th>value</th></tr>\n");
	for (size_t i = 0; i < mt_killmatrix_meta_count(km); i++) {
		const char *key, *value;
		if (mt_killmatrix_meta_at(&key, &value, km, i) < 0)
			continue;
		mt_strbuf_puts(sb, "<tr><td>");
		h_text(sb, key);
		mt_strbuf_puts(sb, "</td><td class=\"mono\">");
		snprintf(k, sizeof(k), "model/metadata/");
		h_enc(k + strlen(k), sizeof(k) - strlen(k), key);
		h_str(sb, value, k);
		mt_strbuf_puts(sb, "</td></tr>\n");
	}
	if (mt_killmatrix_digest(digest, km) == 0) {
		mt_strbuf_puts(sb, "<tr><td>kill-matrix digest</td><td class=\"mono\">");
		h_str(sb, digest, "model/killmatrix_digest");
		mt_strbuf_puts(sb, "</td></tr>\n");
	}
	mt_strbuf_puts(sb, "</table>\n");
}

static int build(mt_strbuf *sb, const mt_html_report *r)
{
	mt_scores *s = NULL;
	mt_minimise_result *min = NULL;
	mt_prioritise_result *prio = NULL;
	mt_lcr_result *lcr = NULL;
	mt_survivors_result *surv = NULL;
	char *model_json = NULL, *analysis_json = NULL, *source_json = NULL;
	const char *title = r->title ? r->title : "mutorch report";
	int error = 0;

	if (r->km &&
	    ((error = mt_killmatrix_scores(&s, r->km)) < 0 ||
	     (error = mt_analysis_minimise(&min, r->km)) < 0 ||
	     (error = mt_analysis_prioritise(&prio, r->km, MT_ANALYSIS_RANDOM_ORDERS, r->seed)) < 0 ||
	     (error = mt_analysis_lcr(&lcr, r->km)) < 0 ||
	     (error = mt_analysis_survivors(&surv, r->km)) < 0 ||
	     (error = mt_killmatrix_json_string(&model_json, r->km)) < 0 ||
	     (error = mt_analysis_json_string(&analysis_json, min, prio, lcr, surv, r->km, 0)) < 0))
		goto cleanup;
	if (r->source && (error = mt_source_results_json_string(&source_json, r->source)) < 0)
		goto cleanup;

	mt_strbuf_puts(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>");
	h_text(sb, title);
	mt_strbuf_printf(sb, "</title>\n<meta name=\"generator\" content=\"mutorch %s\">\n<style>%s</style>\n"
			 "<script>%s</script>\n"
			 "</head><body data-model=\"%d\" data-source=\"%d\" data-history=\"%d\">\n"
			 "<header><h1>", MUTORCH_VERSION, style, start_tab_js, r->km != NULL,
			 r->source != NULL, r->with_history != 0);
	h_text(sb, title);
	mt_strbuf_puts(sb, "</h1><nav><button data-tab=\"tab-report\">Report</button>"
		       "<button data-tab=\"tab-stryker\">Stryker view</button></nav>");
	if (r->run_dir) {
		mt_strbuf_puts(sb, "<span class=\"mono\">");
		h_text(sb, r->run_dir);
		mt_strbuf_puts(sb, "</span>");
	}
	mt_strbuf_puts(sb, "</header>\n<main class=\"tab\" id=\"tab-report\">\n");
	if (!r->km && !r->source && !r->with_history)
		mt_strbuf_puts(sb, "<section><p>Nothing to show: no kill matrix and no source-level "
			       "report.</p></section>\n");
	if (r->km) {
		if ((error = html_model_sections(sb, r, s, min, prio, lcr, surv)) < 0)
			goto cleanup;
		mt_strbuf_puts(sb, "<section id=\"provenance\"><h2>Provenance</h2>\n"
			       "<p>The run's seed, threads, versions and digests, as recorded in the kill "
			       "matrix. Equal kill-matrix digests mean equal kills, predictions and "
			       "statuses.</p>\n");
		meta_rows(sb, r->km);
		mt_strbuf_puts(sb, "</section>\n");
	}
	if (r->source)
		html_source_sections(sb, r->source);
	if (r->with_history)
		html_history_section(sb, r);
	mt_strbuf_puts(sb, "</main>\n");
	stryker_tab(sb, r);
	/* The reports the numbers come from, for scripts and checks. */
	if (model_json)
		script_json(sb, "mutorch-model", model_json);
	if (analysis_json)
		script_json(sb, "mutorch-analysis", analysis_json);
	if (source_json)
		script_json(sb, "mutorch-source", source_json);
	mt_strbuf_printf(sb, "<script>%s</script>\n</body></html>\n", tabs_js);
cleanup:
	free(model_json);
	free(analysis_json);
	free(source_json);
	mt_scores_free(s);
	mt_minimise_result_free(min);
	mt_prioritise_result_free(prio);
	mt_lcr_result_free(lcr);
	mt_survivors_result_free(surv);
	return error;
}

int mt_html_report_string(char **out, const mt_html_report *report)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	int error;
	*out = NULL;
	if ((error = build(&sb, report)) < 0) {
		mt_strbuf_dispose(&sb);
		return error;
	}
	return mt_strbuf_detach(out, &sb);
}

int mt_html_report_write(const mt_html_report *report, const char *path)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	int error;
	if ((error = build(&sb, report)) < 0) {
		mt_strbuf_dispose(&sb);
		return mt_error_prefix("%s: ", path);
	}
	return mt_strbuf_write_file(&sb, path);
}
