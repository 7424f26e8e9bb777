/* Checks every number an HTML report shows against the JSON reports it
 * came from (docs/reports.md, "Numbers and their keys"): each element with
 * data-key, data-value and data-fmt must have the value the key names in
 * the JSON, and show it formatted as data-fmt says. Included by the tests
 * that read reports (static functions: it needs Jansson, which not every
 * test links). */
#ifndef MUTORCH_TESTS_HTML_CHECK_H
#define MUTORCH_TESTS_HTML_CHECK_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The attribute name="..." of the tag that starts at tag (before '>'), or
 * NULL; malloc'd, entities &amp; &lt; &gt; &quot; &#39; decoded. */
static char *hc_attr(const char *tag, const char *end, const char *name)
{
	char pat[64];
	const char *p, *q;
	char *out, *o;
	snprintf(pat, sizeof(pat), " %s=\"", name);
	p = strstr(tag, pat);
	if (!p || p > end)
		return NULL;
	p += strlen(pat);
	q = strchr(p, '"');
	cr_assert(q && q <= end, "unterminated %s attribute", name);
	out = o = malloc((size_t)(q - p) + 1);
	while (p < q) {
		static const char *const ent[][2] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"},
						     {"&quot;", "\""}, {"&#39;", "'"}};
		int done = 0;
		for (size_t i = 0; i < 5 && !done; i++)
			if (!strncmp(p, ent[i][0], strlen(ent[i][0]))) {
				*o++ = ent[i][1][0];
				p += strlen(ent[i][0]);
				done = 1;
			}
		if (!done)
			*o++ = *p++;
	}
	*o = '\0';
	return out;
}

static void hc_unescape_text(char *s)
{
	char *o = s;
	while (*s) {
		if (!strncmp(s, "&amp;", 5)) { *o++ = '&'; s += 5; }
		else if (!strncmp(s, "&lt;", 4)) { *o++ = '<'; s += 4; }
		else if (!strncmp(s, "&gt;", 4)) { *o++ = '>'; s += 4; }
		else if (!strncmp(s, "&quot;", 6)) { *o++ = '"'; s += 6; }
		else if (!strncmp(s, "&#39;", 5)) { *o++ = '\''; s += 5; }
		else *o++ = *s++;
	}
	*o = '\0';
}

/* Decode %XX in place. */
static void hc_pct_decode(char *s)
{
	char *o = s;
	while (*s) {
		unsigned v;
		if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1) {
			*o++ = (char)v;
			s += 3;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/* The JSON value a key names: segments split by '/', "field=value" picks
 * the array element whose field equals value, a number indexes an array. */
static json_t *hc_resolve(json_t *root, const char *key)
{
	char *copy = strdup(key), *save = NULL, *seg;
	json_t *cur = root;
	for (seg = strtok_r(copy, "/", &save); seg && cur; seg = strtok_r(NULL, "/", &save)) {
		char *eq = strchr(seg, '=');
		if (eq && json_is_array(cur)) {
			size_t i;
			json_t *el, *found = NULL;
			*eq = '\0';
			hc_pct_decode(seg);
			hc_pct_decode(eq + 1);
			json_array_foreach(cur, i, el) {
				const char *v = json_string_value(json_object_get(el, seg));
				if (v && !strcmp(v, eq + 1))
					found = el;
			}
			cur = found;
		} else if (json_is_array(cur)) {
			cur = json_array_get(cur, strtoul(seg, NULL, 10));
		} else {
			hc_pct_decode(seg);
			cur = json_object_get(cur, seg);
		}
	}
	free(copy);
	return cur;
}

static void hc_format(char *buf, size_t size, double v, const char *fmt)
{
	if (isnan(v))
		snprintf(buf, size, "-");
	else if (!strcmp(fmt, "pct"))
		snprintf(buf, size, "%.2f%%", 100.0 * v);
	else if (!strcmp(fmt, "int"))
		snprintf(buf, size, "%.0f", v);
	else if (!strcmp(fmt, "f4"))
		snprintf(buf, size, "%.4f", v);
	else if (!strcmp(fmt, "g3"))
		snprintf(buf, size, "%.3g", v);
	else
		cr_assert_fail("unknown data-fmt '%s'", fmt);
}

/* Check every tagged number of html against root {"model": ...,
 * "analysis": ..., "source": ..., "history": [notes]}; returns how many
 * were checked. With bad, a value that differs from the JSON is counted
 * there instead of failing the test. */
static size_t hc_check_counting(const char *html, json_t *root, size_t *bad)
{
	size_t checked = 0;
	const char *p = html;
	while ((p = strstr(p, " data-key=\"")) != NULL) {
		const char *tag = p, *end, *text_start, *text_end;
		char *key, *value, *fmt, *sum, *text, shown[64];
		json_t *j;
		while (tag > html && *tag != '<')
			tag--;
		end = strchr(p, '>');
		cr_assert(end, "unterminated tag");
		key = hc_attr(tag, end, "data-key");
		value = hc_attr(tag, end, "data-value");
		fmt = hc_attr(tag, end, "data-fmt");
		sum = hc_attr(tag, end, "data-sum");
		cr_assert(key && value && fmt, "a data-key without data-value or data-fmt near %.80s", tag);
		text_start = end + 1;
		text_end = strchr(text_start, '<');
		cr_assert(text_end);
		text = strndup(text_start, (size_t)(text_end - text_start));
		hc_unescape_text(text);
		j = hc_resolve(root, key);
		if (!strcmp(fmt, "str")) {
			cr_assert(json_is_string(j), "%s: not a string in the JSON", key);
			cr_assert_str_eq(json_string_value(j), value, "%s: the page says '%s', the JSON '%s'",
					 key, value, json_string_value(j));
			cr_assert(strstr(text, value), "%s: shows '%s', not '%s'", key, text, value);
		} else {
			double v = !strcmp(value, "null") ? NAN : strtod(value, NULL), want;
			if (sum) {
				size_t lo, hi, i;
				cr_assert(sscanf(sum, "%zu:%zu", &lo, &hi) == 2 && json_is_array(j), "%s: bad sum", key);
				want = 0;
				for (i = lo; i <= hi; i++)
					want += json_number_value(json_array_get(j, i));
			} else if (bad && !(json_is_number(j) || json_is_null(j))) {
				want = -INFINITY; /* counted below */
			} else {
				cr_assert(json_is_number(j) || json_is_null(j), "%s: no number in the JSON", key);
				want = json_is_null(j) ? NAN : json_number_value(j);
			}
			if (bad && !((isnan(v) && isnan(want)) || v == want))
				(*bad)++;
			else
				cr_assert((isnan(v) && isnan(want)) || v == want,
					  "%s: the page says %.17g, the JSON %.17g", key, v, want);
			hc_format(shown, sizeof(shown), v, fmt);
			cr_assert(strstr(text, shown), "%s: shows '%s', which does not hold '%s'", key, text, shown);
		}
		checked++;
		free(key);
		free(value);
		free(fmt);
		free(sum);
		free(text);
		p = end;
	}
	return checked;
}

static size_t hc_check(const char *html, json_t *root)
{
	return hc_check_counting(html, root, NULL);
}

/* The page asks for nothing over the network: no http(s) URL in a src,
 * href, url() or import, no <link> or <script src>. */
static void hc_offline(const char *html)
{
	static const char *const bad[] = {"src=\"http", "href=\"http", "url(http", "@import",
					  "<link", "<script src", "<iframe", "src=\"//", "href=\"//"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(!strstr(html, bad[i]), "the page fetches something: it holds '%s'", bad[i]);
}

#endif
