/*
 * mutorch/resultlog.h - the append-only result log of a run directory.
 *
 * Format 2 (docs/run-directory.md): the header line "mutorch-results 2",
 * then one record per line, framed as LevelDB's log and SQLite's WAL frame
 * theirs, so that a damaged record is found instead of trusted:
 *
 *     <length> <crc32> <json>\n
 *
 * <length> is the byte count of <json> in decimal, <crc32> zlib's CRC-32 of
 * those bytes as 8 lowercase hex digits, <json> a JSON object on one line.
 * A record is written and fsync'ed after every mutant, so a run killed at
 * any moment (Ctrl-C, kill -9, a power cut) keeps everything it recorded
 * and resumes with what is missing.
 *
 * Reading checks every line: the frame, the checksum, the JSON, the
 * caller's schema, and that no two records share the schema's unique key
 * (the mutant id). A record that fails any check is damaged: it is left
 * out of the records (the caller evaluates its mutant again), listed in
 * `damage`, and the log is rewritten without it. A last line cut short by
 * an interruption is dropped without a word. Format 1 (the unframed JSON
 * lines of mutorch 0.1) is read with the same schema checks and rewritten
 * in format 2; a header naming any other format is an error.
 */
#ifndef MUTORCH_RESULTLOG_H
#define MUTORCH_RESULTLOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_RESULTLOG_FORMAT 2
#define MT_RESULTLOG_HEADER "mutorch-results 2"

typedef struct mt_resultlog mt_resultlog;
typedef struct json_t json_t;

/* A record's schema: 0 when it is valid, else non-zero with the reason
 * (what is wrong with which field, and what was expected) in why. */
typedef int (*mt_resultlog_check_fn)(const void *ctx, const json_t *record,
				     char *why, size_t whylen);

typedef struct {
	mt_resultlog_check_fn check; /* NULL: any JSON object */
	const void *ctx;
	/* A string key no two records may share ("id"): every record with a
	 * repeated value is damaged (which of them is right cannot be told).
	 * NULL: repeats are allowed. */
	const char *unique_key;
} mt_resultlog_schema;

typedef struct {
	json_t *records;  /* the records that passed every check, in order */
	json_t *damage;   /* [{"line": n, "reason": "..."}]: what was dropped */
	int format;       /* the file's: 0 absent or empty, 1 unframed, 2 */
	int cut_short;    /* the last line had no newline and was dropped */
	int rewrite;      /* the file must be rewritten (damage, format 1) */
	size_t good_end;  /* bytes up to the end of the last whole line */
} mt_resultlog_contents;

/* Parse a log held in memory (name is for messages). Fails only on out of
 * memory, or MT_EINVALID for a header of another format; everything else
 * is damage. Dispose *out also after a failure. */
int mt_resultlog_parse(mt_resultlog_contents *out, const void *buf, size_t len,
		       const char *name, const mt_resultlog_schema *schema);
void mt_resultlog_contents_dispose(mt_resultlog_contents *c);

/* Open (create) the log at path, read what it holds into *contents
 * (dispose it) and leave it ready for appending: a cut-short last line is
 * cut off, and a log with damage or in format 1 is rewritten (atomically)
 * with only its good records. */
int mt_resultlog_open(mt_resultlog **out, mt_resultlog_contents *contents,
		      const char *path, const mt_resultlog_schema *schema);
/* Append one record (a JSON object) durably. */
int mt_resultlog_append(mt_resultlog *log, const json_t *record);
void mt_resultlog_free(mt_resultlog *log);

/* The frame of one record: "<length> <crc32> <json>\n" (malloc'd; *len
 * gets its length). */
int mt_resultlog_frame(char **line, size_t *len, const json_t *record);

/* ---- the schemas of the two run levels (docs/run-directory.md) -------- */

/* Model level: {"id", "status", "accuracy", "diff", "seconds", "reason"}. */
typedef struct {
	/* Is id a mutant of the plan? */
	int (*id_known)(const void *ctx, const char *id);
	const void *id_ctx;
	int64_t n_inputs;         /* test inputs */
	int64_t n_classes;        /* predicted classes are in [0, n_classes) */
	/* May be NULL. With original: a diff entry must differ from the
	 * original's prediction; with labels too, accuracy must be the one
	 * the diff gives. */
	const int64_t *original;
	const int64_t *labels;
} mt_resultlog_model_schema;

/* ctx is a const mt_resultlog_model_schema *. */
int mt_resultlog_check_model(const void *ctx, const json_t *record, char *why,
			     size_t whylen);

/* Source level: {"status", "key", "accuracy", "diverged", "reused_model",
 * "seconds", "slot", "run", "id", "reason"}; ctx is unused. */
int mt_resultlog_check_source(const void *ctx, const json_t *record, char *why,
			      size_t whylen);

#ifdef __cplusplus
}
#endif
#endif
