/* The HTML report of a real run (report_run.h) in headless Chromium, as a
 * person would open it: loaded from the file with no network, no console
 * message, every section and chart in the rendered DOM, the Stryker viewer
 * started when it is inlined, and a screenshot of the whole page
 * (scripts/check-report-browser.sh). Without Chromium the test is skipped
 * and says so on stderr, which tests/CMakeLists.txt turns into CTest's
 * "Skipped" (SKIP_REGULAR_EXPRESSION), so a machine without a browser
 * shows it in the summary instead of passing quietly. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "report_run.h"

Test(report, opens_in_chromium_offline, .timeout = 300)
{
	char *dir, path[600], shot[600], *out = NULL, *err = NULL, *png;
	size_t len;
	int rc;

	/* the script's own lookup: $CHROMIUM, chromium, chromium-browser */
	if (th_run(NULL, NULL, "test -n \"$CHROMIUM\" || command -v chromium || "
		   "command -v chromium-browser") != 0) {
		fprintf(stderr, "SKIPPED: no chromium here, so the HTML report was not checked in a "
			"browser (scripts/setup.sh installs Debian's chromium)\n");
		cr_skip_test("no chromium");
	}
	dir = make_run("report-browser");
	snprintf(path, sizeof(path), "%s/out/report.html", dir);
	snprintf(shot, sizeof(shot), "%s/report-screenshot.png", MT_BINARY_DIR);
	rc = th_run(&out, &err, "sh %s/scripts/check-report-browser.sh '%s' '%s'", MT_SOURCE_DIR, path, shot);
	cr_assert_eq(rc, 0, "the browser check failed (%d): %s%s", rc, out, err);
	png = th_read_all(shot, &len);
	cr_assert_geq(len, 8);
	cr_assert_eq(memcmp(png, "\x89PNG\r\n\x1a\n", 8), 0, "not a PNG");
	cr_assert_gt(len, 50000, "the screenshot is nearly empty (%zu bytes)", len);
	{
		char *html = th_read_all(path, NULL);
		cr_log_info("screenshot of the report: %s (%zu bytes), %s", shot, len,
			    th_contains(html, "id=\"mte-bundle\"") ? "with the Stryker viewer" :
			    "without the Stryker viewer (mutation-testing-elements is not installed)");
		free(html);
	}
	free(png);
	free(out);
	free(err);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
	free(dir);
}
