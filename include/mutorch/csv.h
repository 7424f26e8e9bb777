/*
 * mutorch/csv.h - the quoting of every CSV file mutorch writes.
 *
 * RFC 4180: records end in "\n", fields are separated by ',', and a field
 * holding a comma, a double quote, CR or LF is enclosed in double quotes
 * with each double quote doubled. Other fields are written as they are, so
 * ids such as "GF-conv1-000" stay unquoted while "NP-ratio=0.3,sigma=0.3-000"
 * is quoted. Files are built in an mt_strbuf and written atomically with
 * mt_strbuf_write_file, so a reader never sees half a report.
 */
#ifndef MUTORCH_CSV_H
#define MUTORCH_CSV_H

#include "mutorch/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Append one text field, quoted when it needs to be. */
void mt_csv_field(mt_strbuf *sb, const char *text);

#ifdef __cplusplus
}
#endif
#endif
