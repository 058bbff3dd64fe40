/* SPDX-License-Identifier: MIT */
/* Fuzz target: everything the broker does to request bytes before the
 * loop sees them (size limit, envelope, routing, payload, checks). */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "router.h"

/* NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cbd_policy        *pol;
	cbd_config                cfg  = { 0 };
	Cachebroker__V1__Request *env  = NULL;
	const cbd_method         *m    = NULL;
	ProtobufCMessage         *in   = NULL;
	cbd_errors                errs = { 0 };
	char                      why[256];

	if (pol == NULL) {
		/* Small limits so that the size checks are reached. */
		if (cbd_config_load_string(&cfg, "fuzz",
		        "[broker]\nmax_message_size = 4k\nmax_key_size = 64\n"
		        "max_value_size = 1k\nmax_batch_keys = 8\n",
		        &errs) != CB_OK ||
		    cbd_policy_alloc(&pol, &cfg, NULL) != CB_OK) {
			__builtin_trap();
		}
	}
	/* As nng's thread does (no policy), then whole, as for an internal
	 * request (the policy's checks too). */
	for (int whole = 0; whole < 2; whole++) {
		if (cbd_router_decode(&pol->limits, whole ? pol->cfg : NULL,
		        data, size, &env, &m, &in, why,
		        sizeof(why)) == CB_OK) {
			protobuf_c_message_free_unpacked(in, NULL);
			cachebroker__v1__request__free_unpacked(env, NULL);
			env = NULL;
			in  = NULL;
		}
	}
	return 0;
}
