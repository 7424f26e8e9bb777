/*
 * mutorch/resultlog.h - the append-only result log of a run directory.
 *
 * One JSON object per line, written and fsync'ed after every mutant, so a
 * run killed at any moment (Ctrl-C, kill -9, a power cut) keeps everything
 * it recorded and resumes with what is missing. A last line cut short by
 * the interruption is dropped (and cut from the file) when the log is
 * opened again; any other malformed line is an error naming the line.
 */
#ifndef MUTORCH_RESULTLOG_H
#define MUTORCH_RESULTLOG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_resultlog mt_resultlog;
typedef struct json_t json_t;

/* Open (create) the log and read the records already there into
 * *records (a JSON array; decref it). */
int mt_resultlog_open(mt_resultlog **out, json_t **records, const char *path);
/* Append one record (a JSON object) durably. */
int mt_resultlog_append(mt_resultlog *log, const json_t *record);
void mt_resultlog_free(mt_resultlog *log);

#ifdef __cplusplus
}
#endif
#endif
