/* Placeholders for recording at run time and snapshots, until they are
 * built: the control socket's commands answer "not built yet".  Weak, so
 * that the real definitions replace them. */
#include <errno.h>
#include <stdio.h>

#include "internal.h"

__attribute__((weak)) int vup__record_start(struct vup_proxy *p, int fd,
                                            int session, const char *tap,
                                            bool gzip, char *err, size_t errlen)
{
	(void)p, (void)fd, (void)session, (void)tap, (void)gzip;
	snprintf(err, errlen, "not built yet");
	return -ENOTSUP;
}

__attribute__((weak)) int vup__record_stop(struct vup_proxy *p,
                                           uint64_t *messages, char *err,
                                           size_t errlen)
{
	(void)p, (void)messages;
	snprintf(err, errlen, "not built yet");
	return -ENOTSUP;
}

__attribute__((weak)) int vup__snapshot(struct vup_proxy *p, int fd, char *path,
                                        size_t pathlen, uint64_t *messages,
                                        char *err, size_t errlen)
{
	(void)p, (void)fd, (void)path, (void)pathlen, (void)messages;
	snprintf(err, errlen, "not built yet");
	return -ENOTSUP;
}
