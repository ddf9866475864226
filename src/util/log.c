/* log: timestamped lines on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "vuproxy/log.h"

enum vup_log_level vup_log_level = VUP_LOG_INFO;

void vup_log(enum vup_log_level lvl, const char *fmt, ...)
{
	if (!vup_log_enabled(lvl))
		return;
	char line[2048];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%06ld %s",
	                 tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec,
	                 lvl == VUP_LOG_ERROR  ? "error: "
	                 : lvl == VUP_LOG_WARN ? "warning: "
	                                       : "");
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so that lines of concurrent writers don't mix. */
	fprintf(stderr, "%s\n", line);
}
