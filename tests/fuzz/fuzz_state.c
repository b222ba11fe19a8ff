/*
 * Fuzz target: the state file parser (pkg/state). The input is a state
 * file's bytes. What parses must also survive a round trip: the state's
 * serialization (what state_save writes) parses again and serializes to the
 * same text, so a daemon can always read back the file it wrote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../pkg/state/state.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state *st = NULL, *again = NULL;
	struct err e;
	char *text = NULL, *text2 = NULL;

	if (state_load_buffer("fuzz.json", (const char *)data, size, &st, &e) != ERR_OK)
		goto out;
	text = state_serialize(st);
	if (state_load_buffer("fuzz.json", text, strlen(text), &again, &e) != ERR_OK) {
		fprintf(stderr, "fuzz_state: the saved state does not parse: %s\n", e.msg);
		abort();
	}
	text2 = state_serialize(again);
	if (strcmp(text, text2) != 0) {
		fprintf(stderr, "fuzz_state: a second save differs from the first\n");
		abort();
	}
out:
	free(text);
	free(text2);
	state_close(st);
	state_close(again);
	return 0;
}
