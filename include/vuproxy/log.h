/* log: one line per event on stderr, each prefixed with wall-clock time
 * (like tcpdump) so that it lines up with peers' logs. */
#ifndef VUPROXY_LOG_H
#define VUPROXY_LOG_H

enum vup_log_level {
	VUP_LOG_ERROR, /* a session or the proxy failed */
	VUP_LOG_WARN,  /* something odd that was relayed anyway */
	VUP_LOG_INFO,  /* lifecycle: listening, sessions opening/closing */
	VUP_LOG_MSG,   /* one line per relayed message (-v) */
	VUP_LOG_DEBUG, /* -vv */
};

/* Lines above this level are dropped.  Default VUP_LOG_INFO; -v MSG. */
extern enum vup_log_level vup_log_level;

__attribute__((format(printf, 2, 3))) void vup_log(enum vup_log_level lvl,
                                                   const char *fmt, ...);

static inline int vup_log_enabled(enum vup_log_level lvl)
{
	return lvl <= vup_log_level;
}

#endif
