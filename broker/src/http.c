/* SPDX-License-Identifier: MIT */
/* The HTTP endpoints: /metrics (Prometheus), /livez, /readyz. */
#include "http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "log.h"
#include "loop.h"
#include "prom.h"
#include "request.h"

#define SERVING CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING

/* Budget of the internal Health and Metrics requests behind a scrape:
 * within a Prometheus scrape timeout (10 s by default). */
#define HTTP_DEADLINE_MS 3000

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define PROM_TEXT "text/plain; version=0.0.4; charset=utf-8"

typedef enum http_kind { HTTP_LIVEZ, HTTP_READYZ, HTTP_METRICS } http_kind;

/* One registered path. */
typedef struct http_route {
	cbd_http *h;    /* back pointer */
	http_kind kind; /* what it answers */
} http_route;

static const struct {
	const char *path;
	http_kind   kind;
} routes[] = {
	{ "/livez", HTTP_LIVEZ },
	{ "/readyz", HTTP_READYZ },
	{ "/healthz", HTTP_READYZ },
	{ "/metrics", HTTP_METRICS },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

struct cbd_http {
	cbd_req_host    *host;            /* scrapes run as its requests */
	int              has_db;          /* /readyz reports the database */
	nng_http_server *server;          /* NULL: none configured */
	http_route       route[N_ROUTES]; /* handler data */
	/* mtx protects closing. Lock order: mtx, then the loop's inbox
	 * lock (http_handle posts under mtx, so that once closing is set
	 * nothing more reaches the loop); the loop runs jobs outside its
	 * lock, so the reverse order never happens. */
	pthread_mutex_t mtx;
	int             closing; /* answer 503 without the loop */
	int             started; /* nng_http_server_start done */
	int             mtx_ok;  /* mtx initialised */
};

/* One HTTP request being answered. The handler allocates it on nng's
 * thread; from cbd_loop_call on, the loop thread owns it until it calls
 * answer(), which frees it. */
typedef struct http_call {
	cbd_job                          job;    /* first: job -> call */
	cbd_http                        *h;      /* the server */
	http_kind                        kind;   /* the endpoint */
	nng_aio                         *aio;    /* nng's, finished by us */
	Cachebroker__V1__HealthResponse *health; /* /metrics: first half */
} http_call;

/* answer sends status and body (NUL-terminated text) and frees call.
 * Any thread. */
static void
answer(http_call *call, uint16_t status, const char *type, const char *body,
    size_t len)
{
	nng_http_res *res = NULL;
	int           rv;

	if ((rv = nng_http_res_alloc(&res)) != 0 ||
	    (rv = nng_http_res_set_status(res, status)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Content-Type", type)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Cache-Control", "no-store")) !=
	        0 ||
	    (rv = nng_http_res_copy_data(res, body, len)) != 0) {
		/* Finishing with an error makes nng answer 500 and close. */
		nng_http_res_free(res);
		nng_aio_finish(call->aio, rv);
	} else {
		nng_aio_set_output(call->aio, 0, res);
		nng_aio_finish(call->aio, 0);
	}
	if (call->health != NULL) {
		cachebroker__v1__health_response__free_unpacked(
		    call->health, NULL);
	}
	free(call);
}

static void
answer_text(http_call *call, uint16_t status, const char *text)
{
	answer(call, status, TEXT_PLAIN, text, strlen(text));
}

static int
http_closing(cbd_http *h)
{
	int closing;

	pthread_mutex_lock(&h->mtx);
	closing = h->closing;
	pthread_mutex_unlock(&h->mtx);
	return closing;
}

static void http_metrics_done(void *arg, cb_status code, const char *message,
    const void *payload, size_t plen);

/* submit starts an internal Health or Metrics request for call; on
 * failure call is answered 503. Loop thread. */
static void
submit(http_call *call, int method, const ProtobufCMessage *payload,
    cbd_req_done_fn *done)
{
	char      why[160];
	char      text[200];
	cb_status rv;

	rv = cbd_req_submit(call->h->host, NULL, method, payload,
	    HTTP_DEADLINE_MS, 0, done, call, why, sizeof(why));
	if (rv != CB_OK) {
		snprintf(
		    text, sizeof(text), "%s: %s\n", cb_status_str(rv), why);
		answer_text(call, 503, text);
	}
}

/* The Health half of /readyz and /metrics. Loop thread. */
static void
http_health_done(void *arg, cb_status code, const char *message,
    const void *payload, size_t plen)
{
	http_call                       *call = arg;
	cbd_http                        *h    = call->h;
	Cachebroker__V1__HealthResponse *hr;
	Cachebroker__V1__MetricsRequest  mreq =
	    CACHEBROKER__V1__METRICS_REQUEST__INIT;
	char text[400];

	if (code != CB_OK || http_closing(call->h)) {
		snprintf(text, sizeof(text), "not ready: %s: %s\n",
		    cb_status_str(code != CB_OK ? (int) code : CB_UNAVAILABLE),
		    code != CB_OK ? message : "broker shutting down");
		answer_text(call, 503, text);
		return;
	}
	hr = cachebroker__v1__health_response__unpack(NULL, plen, payload);
	if (hr == NULL) {
		answer_text(call, 500, "cannot decode Health\n");
		return;
	}
	if (call->kind == HTTP_METRICS) {
		call->health = hr;
		submit(
		    call, CBD_M_ADMIN_METRICS, &mreq.base, http_metrics_done);
		return;
	}
	if (atomic_load(&h->host->draining)) {
		answer_text(call, 503, "not ready: draining\n");
	} else if (hr->status != SERVING) {
		snprintf(text, sizeof(text), "not ready: redis %s%s%s\n",
		    hr->redis != NULL && hr->redis->connected ? "up" : "down",
		    h->has_db ? ", database " : "",
		    !h->has_db ? ""
		        : hr->database != NULL && hr->database->connected
		        ? "up"
		        : "down");
		answer_text(call, 503, text);
	} else {
		answer_text(call, 200, "ok\n");
	}
	cachebroker__v1__health_response__free_unpacked(hr, NULL);
}

/* The Metrics half of /metrics: render both answers. Loop thread. */
static void
http_metrics_done(void *arg, cb_status code, const char *message,
    const void *payload, size_t plen)
{
	http_call                        *call = arg;
	Cachebroker__V1__MetricsResponse *mr;
	char                             *text = NULL;
	size_t                            len  = 0;
	char                              err[200];

	if (code != CB_OK) {
		snprintf(err, sizeof(err), "%s: %s\n", cb_status_str(code),
		    message);
		answer_text(call, 503, err);
		return;
	}
	mr = cachebroker__v1__metrics_response__unpack(NULL, plen, payload);
	if (mr == NULL ||
	    cbd_prom_render(call->health, mr, &text, &len) != 0) {
		answer_text(call, 500, "cannot render metrics\n");
	} else {
		answer(call, 200, PROM_TEXT, text, len);
	}
	free(text);
	if (mr != NULL) {
		cachebroker__v1__metrics_response__free_unpacked(mr, NULL);
	}
}

/* The job: the loop thread picks the request up. */
static void
http_job(cbd_job *job)
{
	http_call                     *call = (http_call *) (void *) job;
	Cachebroker__V1__HealthRequest req =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;

	if (http_closing(call->h)) {
		answer_text(call, 503, "broker shutting down\n");
	} else if (call->kind == HTTP_READYZ &&
	    atomic_load(&call->h->host->draining)) {
		/* At once: a backend that hangs must not delay the news. */
		answer_text(call, 503, "not ready: draining\n");
	} else if (call->kind == HTTP_LIVEZ) {
		answer_text(call, 200, "ok\n");
	} else {
		submit(call, CBD_M_ADMIN_HEALTH, &req.base, http_health_done);
	}
}

/* nng's handler callback, on an nng thread: hand over to the loop. */
static void
http_handle(nng_aio *aio)
{
	nng_http_handler *hd    = nng_aio_get_input(aio, 1);
	http_route       *route = nng_http_handler_get_data(hd);
	cbd_http         *h     = route->h;
	http_call        *call  = calloc(1, sizeof(*call));

	if (call == NULL) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	call->job.fn = http_job;
	call->h      = h;
	call->kind   = route->kind;
	call->aio    = aio;
	/* Under the lock: once closing is set, nothing more reaches the
	 * loop, so quiesce's run of the queued jobs is the last. */
	pthread_mutex_lock(&h->mtx);
	if (!h->closing) {
		cbd_loop_call(h->host->loop, &call->job);
		call = NULL;
	}
	pthread_mutex_unlock(&h->mtx);
	if (call != NULL) {
		answer_text(call, 503, "broker shutting down\n");
	}
}

static int
http_routes(cbd_http *h)
{
	for (size_t i = 0; i < N_ROUTES; i++) {
		nng_http_handler *hd;
		int               rv;

		h->route[i].h    = h;
		h->route[i].kind = routes[i].kind;
		if ((rv = nng_http_handler_alloc(
		         &hd, routes[i].path, http_handle)) != 0) {
			return rv;
		}
		if ((rv = nng_http_handler_set_data(hd, &h->route[i], NULL)) !=
		        0 ||
		    (rv = nng_http_server_add_handler(h->server, hd)) != 0) {
			nng_http_handler_free(hd);
			return rv;
		}
	}
	return 0;
}

cb_status
cbd_http_open(cbd_http **out, const char *addr, cbd_req_host *host, int has_db)
{
	cbd_http *h;
	nng_url  *url = NULL;
	int       rv;

	*out = NULL;
	if (addr[0] == '\0') {
		return CB_OK;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	h->host   = host;
	h->has_db = has_db;
	if (pthread_mutex_init(&h->mtx, NULL) != 0) {
		free(h);
		return CB_INTERNAL;
	}
	h->mtx_ok = 1;
	if ((rv = nng_url_parse(&url, addr)) != 0 ||
	    (rv = nng_http_server_hold(&h->server, url)) != 0 ||
	    (rv = http_routes(h)) != 0 ||
	    (rv = nng_http_server_start(h->server)) != 0) {
		cbd_log_error(
		    "http: cannot listen on %s: %s", addr, nng_strerror(rv));
		nng_url_free(url);
		cbd_http_close(h);
		return CB_UNAVAILABLE;
	}
	nng_url_free(url);
	h->started = 1;
	cbd_log_info("http: %s serves /metrics, /livez, /readyz", addr);
	*out = h;
	return CB_OK;
}

void
cbd_http_quiesce(cbd_http *h)
{
	if (h == NULL) {
		return;
	}
	pthread_mutex_lock(&h->mtx);
	h->closing = 1;
	pthread_mutex_unlock(&h->mtx);
}

void
cbd_http_close(cbd_http *h)
{
	if (h == NULL) {
		return;
	}
	if (h->server != NULL) {
		if (h->started) {
			nng_http_server_stop(h->server);
		}
		/* Releasing the last hold frees the handlers too. */
		nng_http_server_release(h->server);
	}
	if (h->mtx_ok) {
		pthread_mutex_destroy(&h->mtx);
	}
	free(h);
}
