/* SPDX-License-Identifier: MIT */
/* Owned strings of the configuration's structures. */
#ifndef CBD_STR_H
#define CBD_STR_H

/* cbd_strset replaces *slot (owned, or NULL) with a copy of value,
 * freeing the old one; -1 when out of memory, *slot untouched. */
int cbd_strset(char **slot, const char *value);

#endif /* CBD_STR_H */
