/* The result log (runner/resultlog.c, resultlog_schema.c): frames and
 * checksums, the schemas of both levels, damage dropped and the file
 * rewritten, format 1 read and rewritten, a later format refused; and
 * 1,000 random corruptions of a real results.jsonl (bit flips, cut
 * files, repeated, swapped, dropped and garbage lines), each of which must
 * end in a clear error or in the kill matrix of the undamaged run, never
 * in a different one (the model-level run evaluates its mutants in this
 * process, o.in_process, so the thousand runs take about a minute). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "helpers.h"
#include "mutorch/config.h"
#include "mutorch/error.h"
#include "mutorch/io.h"
#include "mutorch/killmatrix.h"
#include "mutorch/modelrun.h"
#include "mutorch/resultlog.h"
#include "mutorch/rng.h"
#include "mutorch/run.h"
#include "mutorch/shim.h"

#include <zlib.h>

#define FASHION "/usr/share/datasets/fashion-mnist"

/* ---- the parser ---------------------------------------------------------- */

static const char *const ids[] = {"A", "B", "C"};
static const int64_t original[4] = {0, 1, 2, 0};
static const int64_t labels[4] = {0, 1, 1, 2};

static int known(const void *ctx, const char *id)
{
	(void)ctx;
	for (int i = 0; i < 3; i++)
		if (!strcmp(id, ids[i]))
			return 1;
	return 0;
}

static mt_resultlog_model_schema model_schema = {known, NULL, 4, 3, original, labels};

/* The frame of a record's text as written (no reformatting). */
static char *framed(const char *json)
{
	size_t n = strlen(json);
	char *line = malloc(n + 32);
	sprintf(line, "%zu %08lx %s\n", n, crc32(crc32(0L, Z_NULL, 0), (const Bytef *)json, (uInt)n), json);
	return line;
}

/* Parse header + lines with the model schema. */
static void parse(mt_resultlog_contents *c, const char *text)
{
	mt_resultlog_schema s = {mt_resultlog_check_model, &model_schema, "id"};
	cr_assert_eq(mt_resultlog_parse(c, text, strlen(text), "log", &s), 0, "%s", mt_error_last());
}

static const char *reason0(const mt_resultlog_contents *c)
{
	return json_string_value(json_object_get(json_array_get(c->damage, 0), "reason"));
}

#define GOOD_A "{\"status\":\"Evaluated\",\"accuracy\":0.75,\"diff\":[[2,1]],\"seconds\":0.5,\"id\":\"A\"}"
#define GOOD_B "{\"status\":\"RuntimeError\",\"reason\":\"worker killed by signal 11\",\"id\":\"B\"}"
#define GOOD_C "{\"status\":\"Ignored\",\"reason\":\"not applicable\",\"seconds\":0,\"id\":\"C\"}"

Test(resultlog_parse, frames_round_trip)
{
	char *a = framed(GOOD_A), *b = framed(GOOD_B), *c = framed(GOOD_C), text[2048], *line;
	mt_resultlog_contents ct;
	json_error_t jerr;
	json_t *rec = json_loads(GOOD_B, 0, &jerr);
	size_t n;

	/* mt_resultlog_frame writes what the reader expects */
	cr_assert_eq(mt_resultlog_frame(&line, &n, rec), 0);
	cr_assert_str_eq(line, b);
	cr_assert_eq(n, strlen(b));
	free(line);
	json_decref(rec);
	snprintf(text, sizeof(text), "%s\n%s%s%s", MT_RESULTLOG_HEADER, a, b, c);
	parse(&ct, text);
	cr_assert_eq(ct.format, 2);
	cr_assert_eq(json_array_size(ct.records), 3);
	cr_assert_eq(json_array_size(ct.damage), 0, "%s", reason0(&ct));
	cr_assert_eq(ct.rewrite, 0);
	cr_assert_eq(ct.good_end, strlen(text));
	mt_resultlog_contents_dispose(&ct);
	free(a);
	free(b);
	free(c);
}

/* One line of damage: the record is dropped with this reason. */
static void expect_damage(const char *line, const char *reason)
{
	char text[4096], *good = framed(GOOD_C);
	mt_resultlog_contents c;
	snprintf(text, sizeof(text), "%s\n%s%s\n", MT_RESULTLOG_HEADER, good, line);
	parse(&c, text);
	cr_assert_eq(json_array_size(c.records), 1, "accepted: %s", line);
	cr_assert_eq(json_array_size(c.damage), 1, "%s", line);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(c.damage, 0), "line")), 3);
	cr_assert(strstr(reason0(&c), reason), "%s: '%s' is not '%s'", line, reason0(&c), reason);
	cr_assert(c.rewrite);
	mt_resultlog_contents_dispose(&c);
	free(good);
}

/* A record in a valid frame that its schema refuses. */
static void expect_refused(const char *json, const char *reason)
{
	char *line = framed(json);
	line[strlen(line) - 1] = '\0';
	expect_damage(line, reason);
	free(line);
}

Test(resultlog_parse, damaged_frames)
{
	char *a = framed(GOOD_A), line[512], want[128], *bad;
	const char *rest = strchr(a, ' ') + 1;
	a[strlen(a) - 1] = '\0';
	expect_damage(rest, "not a frame");                 /* no length */
	snprintf(line, sizeof(line), "%zu %s", strlen(GOOD_A) + 10, rest);
	snprintf(want, sizeof(want), "the frame says %zu bytes, the record has %zu", strlen(GOOD_A) + 10,
		 strlen(GOOD_A));
	expect_damage(line, want);
	snprintf(line, sizeof(line), "%s", a);
	{
		char *digit = strchr(line, ' ') + 1;        /* a checksum digit */
		*digit = *digit == '0' ? '1' : '0';
	}
	expect_damage(line, "checksum mismatch");
	expect_damage("81 zzzzzzzz {}", "no 8-digit hex checksum");
	expect_damage("2 00000000{}", "no space after the checksum");
	expect_damage("", "not a frame");
	expect_damage("02 00000000 {}", "not a frame");     /* a leading zero */
	bad = framed("a");
	bad[strlen(bad) - 1] = '\0';
	expect_damage(bad, "not JSON");
	free(bad);
	bad = framed("[]");
	bad[strlen(bad) - 1] = '\0';
	expect_damage(bad, "not a JSON object");
	free(bad);
	free(a);
}

Test(resultlog_parse, model_schema)
{
	expect_refused("{\"status\":\"Evaluatd\",\"id\":\"A\",\"reason\":\"x\"}", "\"status\" is \"Evaluatd\"");
	expect_refused("{\"id\":\"A\",\"accuracy\":0.5,\"diff\":[],\"seconds\":1}", "\"status\" is missing");
	expect_refused("{\"status\":\"Evaluated\",\"accuracy\":0.75,\"diff\":null,\"seconds\":0,\"id\":\"A\"}",
		       "\"diff\" is not an array");
	expect_refused("{\"status\":\"Evaluated\",\"accuracy\":0.75,\"diff\":[[2,\"1\"]],\"seconds\":0,\"id\":\"A\"}",
		       "pair of integers");
	expect_refused("{\"status\":\"Evaluated\",\"accuracy\":0.75,\"diff\":[[4,1]],\"seconds\":0,\"id\":\"A\"}",
		       "input 4 is out of range [0, 4)");
	expect_refused("{\"status\":\"Evaluated\",\"accuracy\":0.75,\"diff\":[[2,3]],\"seconds\":0,\"id\":\"A\"}",
		       "class 3 is out of range [0, 3)");
	expect_refused("{\"status\":\"Evaluated\",\"accuracy\":0.5,\"diff\":[[2,2]],\"seconds\":0,\"id\":\"A\"}",
		       "the original's prediction");
	expect_refused("{\"status\":\"Evaluated\",\"accuracy\":0.5,\"diff\":[[2,1]],\"seconds\":0,\"id\":\"A\"}",
		       "its diff gives 0.75");
	expect_refused("{\"status\":\"Evaluated\",\"accuracy\":0.5,\"diff\":[[1,0],[0,1]],\"seconds\":0,\"id\":\"A\"}",
		       "is not after input");
	expect_refused("{\"status\":\"Evaluated\",\"accuracy\":0.75,\"diff\":[[2,1]],\"seconds\":-2,\"id\":\"A\"}",
		       "\"seconds\" is -2");
	expect_refused("{\"status\":\"Evaluated\",\"accuracy\":0.75,\"diff\":[[2,1]],\"id\":\"A\"}",
		       "\"seconds\" is missing");
	expect_refused("{\"status\":\"Evaluated\",\"accuracy\":0.75,\"diff\":[[2,1]],\"seconds\":0,\"id\":\"Z\"}",
		       "not a mutant of the plan");
	expect_refused("{\"status\":\"Evaluated\",\"accuracy\":0.75,\"diff\":[[2,1]],\"seconds\":0,\"id\":7}",
		       "\"id\" is not a string");
	expect_refused("{\"status\":\"Timeout\",\"id\":\"B\"}", "\"reason\" is missing");
	expect_refused("{\"status\":\"Timeout\",\"reason\":\"x\",\"diff\":[],\"id\":\"B\"}", "\"diff\" does not belong");
	expect_refused("{\"status\":\"Ignored\",\"reason\":\"x\",\"id\":\"B\"}", "\"seconds\" is missing");
	expect_refused("{\"status\":\"RuntimeError\",\"reason\":\"x\",\"id\":\"B\",\"extra\":1}", "unknown field \"extra\"");
	expect_refused("{\"status\":\"RuntimeError\",\"reason\":\"x\",\"id\":\"B\",\"id\":\"C\"}", "not JSON");
}

Test(resultlog_parse, source_schema)
{
	mt_resultlog_schema s = {mt_resultlog_check_source, NULL, NULL};
	static const char *const bad[][2] = {
		{"{\"status\":\"Trained\",\"key\":\"abc\",\"accuracy\":0.5,\"diverged\":false,\"slot\":0,\"run\":0,\"id\":\"original\"}", "40 hex"},
		{"{\"status\":\"Trained\",\"key\":\"0123456789abcdef0123456789abcdef01234567\",\"accuracy\":1.5,\"diverged\":false,\"slot\":0,\"run\":0,\"id\":\"original\"}", "\"accuracy\" is 1.5"},
		{"{\"status\":\"Trained\",\"key\":\"0123456789abcdef0123456789abcdef01234567\",\"accuracy\":0.5,\"diverged\":0,\"slot\":0,\"run\":0,\"id\":\"original\"}", "\"diverged\""},
		{"{\"status\":\"Trained\",\"key\":\"0123456789abcdef0123456789abcdef01234567\",\"accuracy\":0.5,\"diverged\":false,\"slot\":1,\"run\":0,\"id\":\"original\"}", "does not fit slot 1"},
		{"{\"status\":\"Trained\",\"key\":\"0123456789abcdef0123456789abcdef01234567\",\"accuracy\":0.5,\"diverged\":false,\"slot\":0,\"run\":-1,\"id\":\"original\"}", "\"run\" is not an integer"},
		{"{\"status\":\"Killed\",\"reason\":\"x\",\"slot\":0,\"run\":0,\"id\":\"original\"}", "\"status\" is \"Killed\""},
		{"{\"status\":\"Timeout\",\"slot\":0,\"run\":0,\"id\":\"original\"}", "\"reason\" is missing"},
	};
	const char *good = "{\"status\":\"Trained\",\"key\":\"0123456789abcdef0123456789abcdef01234567\","
			   "\"accuracy\":0.5,\"diverged\":false,\"reused_model\":true,\"seconds\":2,\"slot\":1,\"run\":3,"
			   "\"id\":\"LE-000\"}";
	char text[4096], *g = framed(good), *g2 = framed(good);
	mt_resultlog_contents c;

	/* the same run twice (a retry) is allowed at source level */
	snprintf(text, sizeof(text), "%s\n%s%s", MT_RESULTLOG_HEADER, g, g2);
	cr_assert_eq(mt_resultlog_parse(&c, text, strlen(text), "src", &s), 0);
	cr_assert_eq(json_array_size(c.records), 2, "%s", reason0(&c));
	mt_resultlog_contents_dispose(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *line = framed(bad[i][0]);
		snprintf(text, sizeof(text), "%s\n%s", MT_RESULTLOG_HEADER, line);
		cr_assert_eq(mt_resultlog_parse(&c, text, strlen(text), "src", &s), 0);
		cr_assert_eq(json_array_size(c.records), 0, "accepted %s", bad[i][0]);
		cr_assert(strstr(reason0(&c), bad[i][1]), "%s: %s", bad[i][0], reason0(&c));
		mt_resultlog_contents_dispose(&c);
		free(line);
	}
	free(g);
	free(g2);
}

Test(resultlog_parse, headers_formats_and_repeats)
{
	char text[4096], *a = framed(GOOD_A), *b = framed(GOOD_B);
	mt_resultlog_contents c;
	mt_resultlog_schema s = {mt_resultlog_check_model, &model_schema, "id"};

	/* format 1: unframed lines, checked the same, to be rewritten */
	snprintf(text, sizeof(text), "%s\n%s\n{\"status\":\"Bogus\",\"id\":\"C\"}\n", GOOD_A, GOOD_B);
	parse(&c, text);
	cr_assert_eq(c.format, 1);
	cr_assert_eq(json_array_size(c.records), 2);
	cr_assert_eq(json_array_size(c.damage), 1);
	cr_assert(c.rewrite);
	mt_resultlog_contents_dispose(&c);
	/* a later format is refused */
	snprintf(text, sizeof(text), "mutorch-results 3\n%s", a);
	cr_assert_eq(mt_resultlog_parse(&c, text, strlen(text), "log", &s), MT_EINVALID);
	cr_assert(strstr(mt_error_last(), "format 3"), "%s", mt_error_last());
	mt_resultlog_contents_dispose(&c);
	/* a lost header: the records are kept, the file rewritten */
	snprintf(text, sizeof(text), "%s%s", a, b);
	parse(&c, text);
	cr_assert_eq(json_array_size(c.records), 2);
	cr_assert(c.rewrite);
	mt_resultlog_contents_dispose(&c);
	/* a repeated id: every record of it is dropped */
	snprintf(text, sizeof(text), "%s\n%s%s%s", MT_RESULTLOG_HEADER, a, b, a);
	parse(&c, text);
	cr_assert_eq(json_array_size(c.records), 1);
	cr_assert_eq(json_array_size(c.damage), 2);
	cr_assert(strstr(reason0(&c), "has 2 records"), "%s", reason0(&c));
	mt_resultlog_contents_dispose(&c);
	/* a last line cut short: dropped silently */
	snprintf(text, sizeof(text), "%s\n%s%.20s", MT_RESULTLOG_HEADER, a, b);
	parse(&c, text);
	cr_assert_eq(json_array_size(c.records), 1);
	cr_assert_eq(json_array_size(c.damage), 0);
	cr_assert(c.cut_short);
	cr_assert_eq(c.good_end, strlen(MT_RESULTLOG_HEADER) + 1 + strlen(a));
	mt_resultlog_contents_dispose(&c);
	free(a);
	free(b);
}

Test(resultlog_parse, open_repairs_and_appends)
{
	char *dir = th_tempdir("rlopen"), path[4200], *a = framed(GOOD_A), text[4096];
	mt_resultlog_schema s = {mt_resultlog_check_model, &model_schema, "id"};
	mt_resultlog_contents c;
	mt_resultlog *log = NULL;
	json_error_t jerr;
	json_t *rec = json_loads(GOOD_B, 0, &jerr);

	snprintf(path, sizeof(path), "%s/results.jsonl", dir);
	/* a new log gets its header */
	cr_assert_eq(mt_resultlog_open(&log, &c, path, &s), 0, "%s", mt_error_last());
	cr_assert_eq(mt_resultlog_append(log, rec), 0);
	mt_resultlog_free(log);
	mt_resultlog_contents_dispose(&c);
	char *got = th_read_all(path, NULL), *b = framed(GOOD_B);
	snprintf(text, sizeof(text), "%s\n%s", MT_RESULTLOG_HEADER, b);
	cr_assert_str_eq(got, text);
	free(got);
	/* damage and a cut-short line: the file keeps only the good records */
	snprintf(text, sizeof(text), "%s\n%sgarbage\n%s%.10s", MT_RESULTLOG_HEADER, a, b, a);
	free(th_write(dir, "results.jsonl", text, (size_t)-1));
	cr_assert_eq(mt_resultlog_open(&log, &c, path, &s), 0, "%s", mt_error_last());
	cr_assert_eq(json_array_size(c.records), 2);
	cr_assert_eq(json_array_size(c.damage), 1);
	mt_resultlog_free(log);
	mt_resultlog_contents_dispose(&c);
	got = th_read_all(path, NULL);
	snprintf(text, sizeof(text), "%s\n%s%s", MT_RESULTLOG_HEADER, a, b);
	cr_assert_str_eq(got, text);
	free(got);
	json_decref(rec);
	free(a);
	free(b);
	free(dir);
}

/* ---- 1,000 corruptions of a real log -------------------------------------- */

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* The first n test images and labels as plain IDX files in dir. */
static void write_test_set(const char *dir, size_t n)
{
	void *img = NULL, *lab = NULL;
	size_t ilen, llen;
	unsigned char *buf = malloc(16 + n * 784);
	cr_assert_eq(mt_io_read_maybe_gzip(&img, &ilen, FASHION "/t10k-images-idx3-ubyte.gz"), 0);
	cr_assert_eq(mt_io_read_maybe_gzip(&lab, &llen, FASHION "/t10k-labels-idx1-ubyte.gz"), 0);
	put_be32(buf, 0x803);
	put_be32(buf + 4, (uint32_t)n);
	put_be32(buf + 8, 28);
	put_be32(buf + 12, 28);
	memcpy(buf + 16, (unsigned char *)img + 16, n * 784);
	free(th_write(dir, "test-images", buf, 16 + n * 784));
	put_be32(buf, 0x801);
	put_be32(buf + 4, (uint32_t)n);
	memcpy(buf + 8, (unsigned char *)lab + 8, n);
	free(th_write(dir, "test-labels", buf, 8 + n));
	free(buf);
	free(img);
	free(lab);
}

/* A line list of the log, to repeat, swap, drop and insert lines. */
static size_t split_lines(const char *buf, size_t len, size_t *starts, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n < max; i++)
		if (i == 0 || buf[i - 1] == '\n')
			starts[n++] = i;
	return n;
}

/* Corruption number k of the reference log (len bytes) into out; a short
 * description into what. */
static size_t corrupt(char *out, const char *ref, size_t len, uint64_t k, char *what, size_t wl)
{
	mt_rng rng;
	size_t starts[256], n, i, j;
	mt_rng_seed(&rng, mt_rng_derive(13, k));
	n = split_lines(ref, len, starts, 256);
	starts[n] = len;
	switch (k % 7) {
	case 0: { /* 1 to 3 bit flips */
		int flips = 1 + (int)mt_rng_below(&rng, 3);
		memcpy(out, ref, len);
		for (int f = 0; f < flips; f++)
			out[mt_rng_below(&rng, len)] ^= (char)(1u << mt_rng_below(&rng, 8));
		snprintf(what, wl, "%d bit flips", flips);
		return len;
	}
	case 1: /* cut anywhere */
		i = mt_rng_below(&rng, len);
		memcpy(out, ref, i);
		snprintf(what, wl, "cut at byte %zu", i);
		return i;
	case 2: { /* a line repeated somewhere */
		size_t o = 0;
		i = mt_rng_below(&rng, n);
		j = mt_rng_below(&rng, n + 1);
		for (size_t l = 0; l <= n; l++) {
			if (l == j) {
				memcpy(out + o, ref + starts[i], starts[i + 1] - starts[i]);
				o += starts[i + 1] - starts[i];
			}
			if (l < n) {
				memcpy(out + o, ref + starts[l], starts[l + 1] - starts[l]);
				o += starts[l + 1] - starts[l];
			}
		}
		snprintf(what, wl, "line %zu repeated before line %zu", i + 1, j + 1);
		return o;
	}
	case 3: { /* two lines swapped */
		size_t o = 0;
		i = mt_rng_below(&rng, n);
		j = mt_rng_below(&rng, n);
		for (size_t l = 0; l < n; l++) {
			size_t src = l == i ? j : l == j ? i : l;
			memcpy(out + o, ref + starts[src], starts[src + 1] - starts[src]);
			o += starts[src + 1] - starts[src];
		}
		snprintf(what, wl, "lines %zu and %zu swapped", i + 1, j + 1);
		return o;
	}
	case 4: { /* a line dropped */
		size_t o = 0;
		i = mt_rng_below(&rng, n);
		for (size_t l = 0; l < n; l++)
			if (l != i) {
				memcpy(out + o, ref + starts[l], starts[l + 1] - starts[l]);
				o += starts[l + 1] - starts[l];
			}
		snprintf(what, wl, "line %zu dropped", i + 1);
		return o;
	}
	case 5: { /* a run of random bytes */
		size_t at = mt_rng_below(&rng, len), m = 1 + mt_rng_below(&rng, 16);
		memcpy(out, ref, len);
		for (size_t b = 0; b < m && at + b < len; b++)
			out[at + b] = (char)mt_rng_below(&rng, 256);
		snprintf(what, wl, "%zu random bytes at %zu", m, at);
		return len;
	}
	default: { /* a garbage line inserted */
		size_t o, at;
		i = mt_rng_below(&rng, n + 1);
		at = i < n ? starts[i] : len;
		memcpy(out, ref, at);
		o = at + (size_t)sprintf(out + at, "%llu 0000beef {\"status\":\"Evaluated\"}\n",
					 (unsigned long long)mt_rng_below(&rng, 100));
		memcpy(out + o, ref + at, len - at);
		snprintf(what, wl, "a garbage line before line %zu", i + 1);
		return o + len - at;
	}
	}
}

/* A directory in memory where there is one: the thousand runs fsync every
 * record and report, which a disk makes ten times slower. */
static char *fast_tempdir(const char *tag)
{
	const char *old = getenv("TMPDIR");
	char *saved = old ? strdup(old) : NULL, *dir;
	if (access("/dev/shm", W_OK) == 0)
		setenv("TMPDIR", "/dev/shm", 1);
	dir = th_tempdir(tag);
	if (saved)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
	return dir;
}

Test(resultlog_corruption, one_thousand_corruptions, .timeout = 900)
{
	char *dir = fast_tempdir("corrupt"), text[4096], path[4200], log_path[4200], err_path[4200];
	char ref_digest[41], digest[41], what[128];
	mt_config *cfg = NULL;
	mt_killmatrix *km = NULL;
	mt_run_options o;
	size_t ref_len, errors = 0, recovered = 0, reported = 0, wrong = 0;
	char *ref, *buf;
	int saved_stderr = dup(STDERR_FILENO);

	write_test_set(dir, 200);
	snprintf(text, sizeof(text),
		 "model: {torchscript: %s/lenet5_pytorch.pt, input_shape: [1, 28, 28]}\n"
		 "data:\n"
		 "  train: {images: test-images, labels: test-labels}\n"
		 "  test: {images: test-images, labels: test-labels}\n"
		 "  normalize: {scale: 255, mean: 0.2860, std: 0.3530}\n"
		 "training: {threads: 1}\n"
		 "run: {dir: out}\n"
		 "mutation:\n"
		 "  seed: 11\n"
		 "  model_level:\n"
		 "    - {op: GF, ratio: 0.3, sigma: 3.0, mutants: 3}\n"
		 "    - {op: NAI, ratio: 0.1, mutants: 2, layers: [conv2, fc1]}\n"
		 "    - {op: NEB, ratio: 0.2, mutants: 2, layers: [fc1]}\n"
		 "    - {op: PRN, ratio: 0.7, layers: [fc2]}\n"
		 "    - {op: WPR, dtype: fp16, layers: [fc1]}\n"
		 "    - {op: AFRm}\n", MT_FIXTURES);
	free(th_write(dir, "mutorch.yml", text, (size_t)-1));
	snprintf(path, sizeof(path), "%s/mutorch.yml", dir);
	cr_assert_eq(mt_config_load(&cfg, path), 0, "%s", mt_error_last());
	cr_assert_eq(mt_shim_init(cfg->threads, cfg->seed, 0), 0);
	memset(&o, 0, sizeof(o));
	o.jobs = 1;
	o.in_process = 1;
	o.eval_timeout = 0;
	cr_assert_eq(mt_model_run(&km, cfg, &o), 0, "%s", mt_error_last());
	cr_assert_eq(mt_killmatrix_digest(ref_digest, km), 0);
	cr_assert_geq(mt_killmatrix_mutant_count(km), 8);
	mt_killmatrix_free(km);
	snprintf(log_path, sizeof(log_path), "%s/out/results.jsonl", dir);
	ref = th_read_all(log_path, &ref_len);
	buf = malloc(ref_len * 2 + 4096);
	snprintf(err_path, sizeof(err_path), "%s/stderr.txt", dir);

	for (uint64_t k = 0; k < 1000; k++) {
		size_t len = corrupt(buf, ref, ref_len, k, what, sizeof(what));
		struct stat st;
		int fd, rc;
		cr_assert_eq(mt_io_write_file_atomic(log_path, buf, len), 0);
		/* the warnings go to a file, to count them */
		fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		fflush(stderr);
		dup2(fd, STDERR_FILENO);
		close(fd);
		rc = mt_model_run(&km, cfg, &o);
		fflush(stderr);
		dup2(saved_stderr, STDERR_FILENO);
		if (rc < 0) {
			/* a clear error, naming the log */
			cr_assert(strstr(mt_error_last(), "results.jsonl"), "corruption %llu (%s): %s",
				  (unsigned long long)k, what, mt_error_last());
			errors++;
			continue;
		}
		cr_assert_eq(mt_killmatrix_digest(digest, km), 0);
		mt_killmatrix_free(km);
		km = NULL;
		if (strcmp(digest, ref_digest) != 0) {
			wrong++;
			cr_log_error("corruption %llu (%s): a different kill matrix", (unsigned long long)k, what);
			continue;
		}
		recovered++;
		reported += stat(err_path, &st) == 0 && st.st_size > 0;
	}
	cr_log_info("1000 corruptions of a %zu-byte results.jsonl: %zu clear errors, %zu recovered "
		    "(%zu of them with damage reported), %zu silently wrong", ref_len, errors, recovered,
		    reported, wrong);
	printf("1000 corruptions: %zu clear errors, %zu recovered (%zu reported damage), %zu silently wrong\n",
	       errors, recovered, reported, wrong);
	cr_assert_eq(wrong, 0, "%zu corruptions gave a different kill matrix", wrong);
	cr_assert_eq(errors + recovered, 1000);
	close(saved_stderr);
	free(ref);
	free(buf);
	mt_config_free(cfg);
	th_run(NULL, NULL, "rm -rf '%s'", dir);
	free(dir);
}
