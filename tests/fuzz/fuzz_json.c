/* SPDX-License-Identifier: MIT */
/* Fuzz target: the JSON of a notification's payload (json.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "json.h"

/* NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly the bound the API promises: len + 1. */
	char       *out = malloc(size + 1);
	const char *event;
	const char *names[8];
	const char *vals[8];
	size_t      n;
	char        why[160];

	if (out == NULL) {
		return 0;
	}
	if (cbd_json_event((const char *) data, size, out, size + 1, &event,
	        names, vals, 8, &n, why, sizeof(why)) == CB_OK &&
	    event == NULL) {
		__builtin_trap(); /* OK always names the event */
	}
	free(out);
	return 0;
}
