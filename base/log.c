/* stderr logging with syslog priority prefixes (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static int max_level = LOG_INFO;

void log_set_level(int max_priority) { max_level = max_priority; }
int log_get_level(void) { return max_level; }

void log_msg(int priority, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (priority > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line so concurrent writers do not interleave. */
	fprintf(stderr, "<%d>cvmboot: %s\n", priority, line);
}
