/* SPDX-License-Identifier: MIT */
/* Logging: one logfmt line per event on stderr, journald priority first. */
#ifndef CBD_LOG_H
#define CBD_LOG_H

/* Levels use syslog's numbers, which journald reads from the "<N>" prefix. */
enum cbd_log_level {
	CBD_LOG_ERROR   = 3,
	CBD_LOG_WARNING = 4,
	CBD_LOG_INFO    = 6,
	CBD_LOG_DEBUG   = 7,
};

/* cbd_log_set_level sets the most verbose level printed. Any thread;
 * lines being written meanwhile may follow either level. */
void cbd_log_set_level(int level);

/* cbd_log_level_parse maps "debug", "info", "warning", "error" to a level;
 * returns -1 for anything else. */
int cbd_log_level_parse(const char *name);

/* cbd_log writes one line (no newline needed in fmt). Thread-safe: one
 * write(2) per line. Never logs secrets: callers pass none. */
void cbd_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define cbd_log_error(...) cbd_log(CBD_LOG_ERROR, __VA_ARGS__)
#define cbd_log_warning(...) cbd_log(CBD_LOG_WARNING, __VA_ARGS__)
#define cbd_log_info(...) cbd_log(CBD_LOG_INFO, __VA_ARGS__)
#define cbd_log_debug(...) cbd_log(CBD_LOG_DEBUG, __VA_ARGS__)

#endif /* CBD_LOG_H */
