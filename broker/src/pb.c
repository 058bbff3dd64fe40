/* SPDX-License-Identifier: MIT */
/* Filling protobuf-c messages by hand: setting their string fields. */
#include "pb.h"

#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

int
cbd_pb_str_setn(char **field, const char *s, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy == NULL) {
		return -1;
	}
	if (len > 0) {
		memcpy(copy, s, len);
	}
	copy[len] = '\0';
	/* The default is static: protobuf-c's, not ours to free. */
	if (*field != NULL && *field != protobuf_c_empty_string) {
		free(*field);
	}
	*field = copy;
	return 0;
}

int
cbd_pb_str_set(char **field, const char *s)
{
	if (s == NULL) {
		s = "";
	}
	return cbd_pb_str_setn(field, s, strlen(s));
}
