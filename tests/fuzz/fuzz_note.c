/* libFuzzer target: the schema check of a base's `mutorch ci` note
 * (cli/ci_note_check.c), from a buffer. It must never crash, leak, hang or
 * trip a sanitizer; a note it accepts must read back and pass again once
 * written out (what `mutorch ci` copies into HEAD's note). Seeds:
 * tests/fuzz/corpus/note/. Built by tests/fuzz/targets_b.cmake. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/ci_note_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512];
	json_t *note = ci_note_parse_buffer((const char *)data, size, why, sizeof(why));

	if (note) {
		char *text = json_dumps(note, JSON_COMPACT);
		json_t *again = text ? ci_note_parse_buffer(text, strlen(text), why, sizeof(why)) : NULL;
		if (text && !again)
			abort(); /* what it accepted does not survive a round trip */
		json_decref(again);
		free(text);
	} else if (!why[0]) {
		abort(); /* refused without a reason */
	}
	json_decref(note);
	return 0;
}
