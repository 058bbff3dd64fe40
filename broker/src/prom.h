/* SPDX-License-Identifier: MIT */
/* Health and Metrics answers rendered in Prometheus' text format. */
#ifndef CBD_PROM_H
#define CBD_PROM_H

#include <stddef.h>

#include <cachebroker/cachebroker.h>

/*
 * cbd_prom_render writes the text exposition format (version 0.0.4) of
 * one scrape: h (AdminService/Health) and m (AdminService/Metrics), both
 * as the broker answers them, so that /metrics and `cachebroker metrics`
 * always show the same numbers. Names follow Prometheus' conventions:
 * the cachebroker_ prefix, base units (seconds, bytes), _total counters,
 * and labels only from bounded sets (method, code, namespace, backend,
 * strategy). On success *out is a NUL-terminated heap string of *len
 * bytes that the caller frees; -1 when out of memory. Pure; any thread.
 */
int cbd_prom_render(const Cachebroker__V1__HealthResponse *h,
    const Cachebroker__V1__MetricsResponse *m, char **out, size_t *len);

#endif /* CBD_PROM_H */
