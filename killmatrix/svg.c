/* The HTML report's building blocks: escaping, numbers tagged with their
 * JSON key, and the charts, drawn as inline SVG here (no charting library:
 * the page must open offline and stay one file). */
#include "html_internal.h"
#include "mutorch/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void h_format(char *buf, size_t size, double v, h_fmt fmt)
{
	if (isnan(v)) {
		snprintf(buf, size, "-");
		return;
	}
	switch (fmt) {
	case H_PCT: snprintf(buf, size, "%.2f%%", 100.0 * v); break;
	case H_INT: snprintf(buf, size, "%.0f", v); break;
	case H_F4: snprintf(buf, size, "%.4f", v); break;
	case H_G3: snprintf(buf, size, "%.3g", v); break;
	case H_STR: snprintf(buf, size, "?"); break;
	}
}

void h_text(mt_strbuf *sb, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': mt_strbuf_puts(sb, "&amp;"); break;
		case '<': mt_strbuf_puts(sb, "&lt;"); break;
		case '>': mt_strbuf_puts(sb, "&gt;"); break;
		case '"': mt_strbuf_puts(sb, "&quot;"); break;
		case '\'': mt_strbuf_puts(sb, "&#39;"); break;
		default: mt_strbuf_put(sb, s, 1);
		}
	}
}

static int seg_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("._-,:+*=", c) != NULL;
}

void h_seg(mt_strbuf *sb, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (seg_plain(c))
			mt_strbuf_put(sb, s, 1);
		else
			mt_strbuf_printf(sb, "%%%02X", c);
	}
}

const char *h_enc(char *buf, size_t size, const char *s)
{
	mt_strbuf sb = MT_STRBUF_INIT;
	h_seg(&sb, s);
	snprintf(buf, size, "%s", sb.buf ? sb.buf : "");
	mt_strbuf_dispose(&sb);
	return buf;
}

static const char *fmt_name(h_fmt fmt)
{
	static const char *const names[] = {"pct", "int", "f4", "g3", "str"};
	return names[fmt];
}

void h_num_attrs(mt_strbuf *sb, double v, h_fmt fmt, const char *key)
{
	mt_strbuf_puts(sb, " data-key=\"");
	h_text(sb, key);
	mt_strbuf_puts(sb, "\" data-value=\"");
	if (isnan(v))
		mt_strbuf_puts(sb, "null");
	else
		mt_strbuf_double(sb, v);
	mt_strbuf_printf(sb, "\" data-fmt=\"%s\"", fmt_name(fmt));
}

void h_num(mt_strbuf *sb, double v, h_fmt fmt, const char *key)
{
	char text[64];
	h_format(text, sizeof(text), v, fmt);
	mt_strbuf_puts(sb, "<span class=\"num\"");
	h_num_attrs(sb, v, fmt, key);
	mt_strbuf_printf(sb, ">%s</span>", text);
}

void h_str(mt_strbuf *sb, const char *value, const char *key)
{
	mt_strbuf_puts(sb, "<span class=\"str\" data-key=\"");
	h_text(sb, key);
	mt_strbuf_puts(sb, "\" data-value=\"");
	h_text(sb, value);
	mt_strbuf_puts(sb, "\" data-fmt=\"str\">");
	h_text(sb, value);
	mt_strbuf_puts(sb, "</span>");
}

const char *svg_status_colour(mt_mutant_status status)
{
	switch (status) {
	case MT_MUTANT_KILLED: return "#2e7d32";
	case MT_MUTANT_SURVIVED: return "#c62828";
	case MT_MUTANT_TIMEOUT: return "#ef6c00";
	case MT_MUTANT_RUNTIME_ERROR:
	case MT_MUTANT_COMPILE_ERROR: return "#6a1b9a";
	default: return "#757575";
	}
}

static void svg_open(mt_strbuf *sb, const char *title, int w, int h)
{
	mt_strbuf_printf(sb, "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
			 "viewBox=\"0 0 %d %d\" width=\"%d\" role=\"img\" aria-label=\"", w, h, w);
	h_text(sb, title);
	mt_strbuf_puts(sb, "\">");
}

static void svg_close(mt_strbuf *sb, const char *title)
{
	mt_strbuf_puts(sb, "</svg><figcaption>");
	h_text(sb, title);
	mt_strbuf_puts(sb, "</figcaption></figure>\n");
}

/* Text at (x, y); anchor "start", "middle" or "end". */
static void svg_label(mt_strbuf *sb, double x, double y, const char *anchor, const char *text)
{
	mt_strbuf_printf(sb, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", x, y, anchor);
	h_text(sb, text);
	mt_strbuf_puts(sb, "</text>");
}

/* ---- bars ------------------------------------------------------------------ */

static void tspan(mt_strbuf *sb, double v, const char *row, const char *field)
{
	char key[320], text[32];
	snprintf(key, sizeof(key), "%s/%s", row, field);
	h_format(text, sizeof(text), v, H_INT);
	mt_strbuf_puts(sb, "<tspan");
	h_num_attrs(sb, v, H_INT, key);
	mt_strbuf_printf(sb, ">%s</tspan>", text);
}

void svg_bars(mt_strbuf *sb, const char *title, const h_bar *bars, size_t n)
{
	char key[300];
	const int label_w = 170, bar_w = 420, row_h = 22, top = 24;
	int h = top + (int)n * row_h + 28, w = label_w + bar_w + 150;

	svg_open(sb, title, w, h);
	for (int p = 0; p <= 100; p += 25) {
		double x = label_w + bar_w * p / 100.0;
		char tick[16];
		snprintf(tick, sizeof(tick), "%d%%", p);
		mt_strbuf_printf(sb, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x,
				 top - 4, x, top + (int)n * row_h);
		svg_label(sb, x, (double)(top + (int)n * row_h + 16), "middle", tick);
	}
	for (size_t i = 0; i < n; i++) {
		double y = top + (double)i * row_h, v = bars[i].value;
		char text[64];
		svg_label(sb, label_w - 8, y + 15, "end", bars[i].label);
		if (!isnan(v))
			mt_strbuf_printf(sb, "<rect class=\"bar\" x=\"%d\" y=\"%.1f\" width=\"%.1f\" "
					 "height=\"%d\"/>", label_w, y + 3, bar_w * v, row_h - 6);
		h_format(text, sizeof(text), v, H_PCT);
		snprintf(key, sizeof(key), "%s/mutation_score", bars[i].row);
		mt_strbuf_printf(sb, "<text x=\"%.1f\" y=\"%.1f\"",
				 label_w + (isnan(v) ? 0 : bar_w * v) + 6, y + 15);
		h_num_attrs(sb, v, H_PCT, key);
		mt_strbuf_printf(sb, ">%s</text>", text);
		mt_strbuf_printf(sb, "<text x=\"%d\" y=\"%.1f\">", label_w + bar_w + 70, y + 15);
		tspan(sb, (double)bars[i].killed, bars[i].row, "killed");
		mt_strbuf_puts(sb, " + ");
		tspan(sb, (double)bars[i].timeouts, bars[i].row, "timeouts");
		mt_strbuf_puts(sb, " of ");
		tspan(sb, (double)bars[i].valid, bars[i].row, "valid");
		mt_strbuf_puts(sb, "</text>");
	}
	svg_close(sb, title);
}

/* ---- heat map -------------------------------------------------------------- */

void svg_heatmap(mt_strbuf *sb, const char *title, const char *const *row_labels, size_t rows,
		 size_t cols, const size_t *counts, const size_t *totals, svg_key_fn key,
		 const void *ctx, const char *x_label)
{
	const int label_w = 90, cell = cols > 20 ? 20 : 36, top = 34;
	int w = label_w + (int)cols * cell + 20, h = top + (int)rows * cell + 40;
	char k[512], text[32], tick[24];

	if (w < 360)
		w = 360;
	svg_open(sb, title, w, h);
	for (size_t c = 0; c < cols; c++) {
		snprintf(tick, sizeof(tick), "%zu", c);
		svg_label(sb, label_w + (c + 0.5) * cell, top - 8, "middle", tick);
	}
	for (size_t r = 0; r < rows; r++) {
		svg_label(sb, label_w - 6, top + (r + 0.5) * cell + 4, "end", row_labels[r]);
		for (size_t c = 0; c < cols; c++) {
			size_t v = counts[r * cols + c];
			double f = totals[r] ? (double)v / (double)totals[r] : 0;
			/* white to dark green */
			int red = (int)lround(255 - 209 * f), green = (int)lround(255 - 130 * f),
			    blue = (int)lround(255 - 205 * f);
			key(k, sizeof(k), r, c, ctx);
			mt_strbuf_printf(sb, "<rect x=\"%zu\" y=\"%zu\" width=\"%d\" height=\"%d\" "
					 "fill=\"rgb(%d,%d,%d)\" stroke=\"#fff\"/>",
					 label_w + c * (size_t)cell, top + r * (size_t)cell, cell, cell, red,
					 green, blue);
			h_format(text, sizeof(text), (double)v, H_INT);
			mt_strbuf_printf(sb, "<text class=\"cell%s\" x=\"%.1f\" y=\"%.1f\" "
					 "text-anchor=\"middle\"", f > 0.5 ? " dark" : "",
					 label_w + (c + 0.5) * cell, top + (r + 0.5) * cell + 4);
			h_num_attrs(sb, (double)v, H_INT, k);
			mt_strbuf_printf(sb, ">%s</text>", text);
		}
	}
	svg_label(sb, label_w + cols * cell / 2.0, top + rows * cell + 24, "middle", x_label);
	svg_close(sb, title);
}

/* ---- histogram ------------------------------------------------------------- */

void svg_histogram(mt_strbuf *sb, const char *title, const size_t *counts, size_t n,
		   const char *const *bin_labels, const char *x_label, const char *colour,
		   svg_key_fn key, const void *ctx, const size_t *sum_lo, const size_t *sum_hi)
{
	const int left = 60, plot_w = 560, plot_h = 200, top = 16;
	size_t max = 1;
	double bw = n ? (double)plot_w / (double)n : plot_w;
	size_t every = n > 12 ? (n + 11) / 12 : 1;
	char k[512], text[32];

	for (size_t i = 0; i < n; i++)
		if (counts[i] > max)
			max = counts[i];
	svg_open(sb, title, left + plot_w + 20, top + plot_h + 50);
	for (int p = 0; p <= 4; p++) {
		double y = top + plot_h - plot_h * p / 4.0;
		char tick[32];
		snprintf(tick, sizeof(tick), "%.0f", (double)max * p / 4.0);
		mt_strbuf_printf(sb, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>",
				 left, y, left + plot_w, y);
		svg_label(sb, left - 6, y + 4, "end", tick);
	}
	for (size_t i = 0; i < n; i++) {
		double hgt = plot_h * (double)counts[i] / (double)max;
		key(k, sizeof(k), i, 0, ctx);
		mt_strbuf_printf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				 "fill=\"%s\">", left + i * bw + 1, top + plot_h - hgt, bw > 2 ? bw - 2 : bw,
				 hgt, colour);
		h_format(text, sizeof(text), (double)counts[i], H_INT);
		mt_strbuf_puts(sb, "<title");
		h_num_attrs(sb, (double)counts[i], H_INT, k);
		if (sum_lo && sum_hi)
			mt_strbuf_printf(sb, " data-sum=\"%zu:%zu\"", sum_lo[i], sum_hi[i]);
		mt_strbuf_printf(sb, ">%s: %s inputs</title></rect>", bin_labels[i], text);
		if (i % every == 0)
			svg_label(sb, left + (i + 0.5) * bw, top + plot_h + 16, "middle", bin_labels[i]);
	}
	svg_label(sb, left + plot_w / 2.0, top + plot_h + 38, "middle", x_label);
	svg_close(sb, title);
}

/* ---- lines ----------------------------------------------------------------- */

void svg_lines(mt_strbuf *sb, const char *title, const svg_series *series, size_t nseries,
	       size_t n, const char *const *x_labels, const unsigned char *marks,
	       const char *x_label, const char *y_label)
{
	const int left = 60, plot_w = 600, plot_h = 220, top = 16;
	size_t every = n > 10 ? (n + 9) / 10 : 1;

	svg_open(sb, title, left + plot_w + 160, top + plot_h + 56);
	for (int p = 0; p <= 4; p++) {
		double y = top + plot_h - plot_h * p / 4.0;
		char tick[16];
		snprintf(tick, sizeof(tick), "%d%%", p * 25);
		mt_strbuf_printf(sb, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>",
				 left, y, left + plot_w, y);
		svg_label(sb, left - 6, y + 4, "end", tick);
	}
#define SX(i) (left + (n > 1 ? plot_w * (double)(i) / (double)(n - 1) : plot_w / 2.0))
#define SY(v) (top + plot_h - plot_h * (v))
	for (size_t s = 0; s < nseries; s++) {
		int pen = 0;
		mt_strbuf_printf(sb, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"",
				 series[s].colour, series[s].dashed ? " stroke-dasharray=\"6 4\"" : "");
		for (size_t i = 0; i < n; i++) {
			double v = series[s].y[i];
			if (isnan(v)) {
				pen = 0;
				continue;
			}
			mt_strbuf_printf(sb, "%s%.1f %.1f ", pen ? "L" : "M", SX(i), SY(v));
			pen = 1;
		}
		mt_strbuf_puts(sb, "\"/>");
		/* a single point between gaps still shows */
		if (n <= 200)
			for (size_t i = 0; i < n; i++)
				if (!isnan(series[s].y[i]))
					mt_strbuf_printf(sb, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" "
							 "fill=\"%s\"/>", SX(i), SY(series[s].y[i]),
							 series[s].colour);
		mt_strbuf_printf(sb, "<rect x=\"%d\" y=\"%zu\" width=\"14\" height=\"4\" fill=\"%s\"/>",
				 left + plot_w + 12, top + 8 + s * 18, series[s].colour);
		svg_label(sb, left + plot_w + 30, top + 13 + s * 18.0, "start", series[s].name);
	}
	if (marks && nseries)
		for (size_t i = 0; i < n; i++) {
			double v = series[0].y[i];
			if (!marks[i])
				continue;
			if (isnan(v))
				v = 0;
			mt_strbuf_printf(sb, "<path class=\"fail\" d=\"M%.1f %.1f l8 8 m0 -8 l-8 8\" "
					 "stroke=\"#c62828\" stroke-width=\"2.5\"/>", SX(i) - 4, SY(v) - 4);
		}
	if (x_labels)
		for (size_t i = 0; i < n; i += every)
			svg_label(sb, SX(i), top + plot_h + 16, "middle", x_labels[i]);
	svg_label(sb, left + plot_w / 2.0, top + plot_h + 40, "middle", x_label);
	mt_strbuf_printf(sb, "<text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" "
			 "transform=\"rotate(-90 14 %.1f)\">", top + plot_h / 2.0, top + plot_h / 2.0);
	h_text(sb, y_label);
	mt_strbuf_puts(sb, "</text>");
#undef SX
#undef SY
	svg_close(sb, title);
}
