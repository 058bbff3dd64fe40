/* SPDX-License-Identifier: MIT */
/* Certificates for TLS tests, made with openssl. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "harness.h"

int
cbh_tls_certs(const char *dir)
{
	char cmd[4096];
	int  st;

	/* P-256 keys, valid two days; a CA signs with sign NAME CA [ARGS]. */
	snprintf(cmd, sizeof(cmd),
	    "(set -e; cd '%s'; "
	    "k='openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes'; "
	    "sign() { openssl x509 -req -days 2 -in $1.csr -CA $2.pem "
	    "-CAkey $2.key -CAcreateserial -out $1.pem $3; }; "
	    "$k -x509 -days 2 -keyout ca.key -out ca.pem -subj '/CN=test CA'; "
	    "$k -x509 -days 2 -keyout other.key -out other.pem "
	    "-subj '/CN=other CA'; "
	    "printf 'subjectAltName=DNS:localhost\\n' >san.ext; "
	    "$k -keyout server.key -out server.csr -subj '/CN=localhost'; "
	    "sign server ca '-extfile san.ext'; "
	    "$k -keyout client.key -out client.csr -subj '/CN=client'; "
	    "sign client ca; "
	    "$k -keyout stranger.key -out stranger.csr -subj '/CN=stranger'; "
	    "sign stranger other; "
	    ") >'%s/openssl.log' 2>&1",
	    dir, dir);
	st = system(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		cbh_log("openssl could not make the test certificates (see "
		        "%s/openssl.log)",
		    dir);
		return (-1);
	}
	return (0);
}
