/* Logging to stderr with syslog priority prefixes ("<3>...") so journald
 * ranks the lines. Never pass a secret to these functions. */
#ifndef CVMBOOT_LOG_H
#define CVMBOOT_LOG_H

#include <syslog.h>

void log_set_level(int max_priority); /* default LOG_INFO; -v gives LOG_DEBUG */
int log_get_level(void);
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
