/* The schema of the note `mutorch ci` reads back from a base commit
 * (docs/ci.md, "Reading a base's note"); not a public header. Needs only
 * Jansson, so the fuzz target tests/fuzz/fuzz_note.c builds it alone. */
#ifndef MUTORCH_CLI_CI_NOTE_CHECK_H
#define MUTORCH_CLI_CI_NOTE_CHECK_H

#include <jansson.h>
#include <stddef.h>

#define NOTE_FORMAT 1

/* 0 when every field of note that `mutorch ci` reads or copies from a
 * base's note has its type and range (finite numbers, scores in [0, 1],
 * counts that add up, digests of hex digits); else 1 with the first
 * problem, naming the field, in why. */
int ci_note_check(const json_t *note, char *why, size_t whylen);

/* Parse a note's text (len bytes, need not be NUL-terminated) and check
 * it: the note, or NULL with the reason in why. */
json_t *ci_note_parse_buffer(const char *text, size_t len, char *why, size_t whylen);

#endif
