/* SPDX-License-Identifier: MIT */
/* Fuzz target: everything the broker does to request bytes before the
 * loop sees them (size limit, envelope, routing, payload, checks). */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cbd_config         cfg;
	static int                loaded;
	Cachebroker__V1__Request *env  = NULL;
	const cbd_method         *m    = NULL;
	ProtobufCMessage         *in   = NULL;
	cbd_errors                errs = { 0 };
	char                      why[256];

	if (!loaded) {
		/* Small limits so that the size checks are reached. */
		if (cbd_config_load_string(&cfg, "fuzz",
		        "[broker]\nmax_message_size = 4k\nmax_key_size = 64\n"
		        "max_value_size = 1k\nmax_batch_keys = 8\n",
		        &errs) != CB_OK) {
			__builtin_trap();
		}
		loaded = 1;
	}
	if (cbd_router_decode(
	        &cfg, data, size, &env, &m, &in, why, sizeof(why)) == CB_OK) {
		protobuf_c_message_free_unpacked(in, NULL);
		cachebroker__v1__request__free_unpacked(env, NULL);
	}
	return 0;
}
