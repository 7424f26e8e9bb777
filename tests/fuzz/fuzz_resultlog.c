/* libFuzzer target: the result-log reader (runner/resultlog.c) with both
 * levels' record schemas (runner/resultlog_schema.c), from a buffer. It
 * must never crash, leak, hang or trip a sanitizer, and every record it
 * accepts must pass the schema again and read back the same once framed.
 * Each input is parsed as it is and with its lines framed (correct
 * checksums), so both the frames and the records get fuzzed. Seeds:
 * tests/fuzz/corpus/resultlog/.
 * Built by tests/fuzz/targets_b.cmake (MUTORCH_FUZZ=ON). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "mutorch/resultlog.h"

#define N_INPUTS 6
#define N_CLASSES 3

static const char *const ids[] = {"GF-fc1-000", "GF-fc1-001", "NAI-all-000", "LD-relu@3"};
static const int64_t original[N_INPUTS] = {0, 1, 2, 0, 1, 2};
static const int64_t labels[N_INPUTS] = {0, 1, 1, 0, 2, 2};

static int known(const void *ctx, const char *id)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (!strcmp(ids[i], id))
			return 1;
	return 0;
}

static void parse(const uint8_t *data, size_t size, const mt_resultlog_schema *schema)
{
	mt_resultlog_contents c;
	char why[512];
	size_t i;
	json_t *rec;

	if (mt_resultlog_parse(&c, data, size, "fuzz", schema) == 0) {
		json_array_foreach(c.records, i, rec) {
			if (schema->check && schema->check(schema->ctx, rec, why, sizeof(why)) != 0)
				abort(); /* accepted a record its schema refuses */
			/* What is accepted frames and reads back the same. */
			char *line;
			size_t n;
			mt_resultlog_contents again;
			if (mt_resultlog_frame(&line, &n, rec) == 0) {
				size_t h = strlen(MT_RESULTLOG_HEADER "\n");
				char *buf = malloc(h + n);
				memcpy(buf, MT_RESULTLOG_HEADER "\n", h);
				memcpy(buf + h, line, n);
				if (mt_resultlog_parse(&again, buf, h + n, "again", schema) == 0 &&
				    (json_array_size(again.records) != 1 || json_array_size(again.damage) != 0))
					abort();
				mt_resultlog_contents_dispose(&again);
				free(buf);
				free(line);
			}
		}
	}
	mt_resultlog_contents_dispose(&c);
}

/* The input's lines framed with their right checksums under a header, so
 * that mutations of the records themselves reach the schemas of format 2
 * (a random line almost never carries its own CRC-32). */
static uint8_t *framed_lines(size_t *out_len, const uint8_t *data, size_t size)
{
	size_t cap = size + (size + 1) * 32 + 64, o = 0, start = 0;
	uint8_t *out = malloc(cap);
	if (!out)
		return NULL;
	o += (size_t)snprintf((char *)out, cap, "%s\n", MT_RESULTLOG_HEADER);
	for (size_t i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n')
			continue;
		size_t n = i - start;
		o += (size_t)snprintf((char *)out + o, cap - o, "%zu %08lx ", n,
				      crc32_z(crc32_z(0L, Z_NULL, 0), data + start, n));
		memcpy(out + o, data + start, n);
		o += n;
		if (i < size)
			out[o++] = '\n';
		start = i + 1;
	}
	*out_len = o;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mt_resultlog_model_schema model = {known, NULL, N_INPUTS, N_CLASSES, original, labels};
	mt_resultlog_schema model_log = {mt_resultlog_check_model, &model, "id"};
	mt_resultlog_schema source_log = {mt_resultlog_check_source, NULL, NULL};
	mt_resultlog_schema any = {NULL, NULL, NULL};

	uint8_t *framed;
	size_t flen;

	parse(data, size, &model_log);
	parse(data, size, &source_log);
	parse(data, size, &any);
	if ((framed = framed_lines(&flen, data, size))) {
		parse(framed, flen, &model_log);
		parse(framed, flen, &source_log);
		free(framed);
	}
	return 0;
}
