/* SPDX-License-Identifier: MIT */
/* Owned strings of the configuration's structures. */
#include "str.h"

#include <stdlib.h>
#include <string.h>

int
cbd_strset(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL) {
		return -1;
	}
	free(*slot);
	*slot = copy;
	return 0;
}
