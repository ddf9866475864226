/* privdrop: run as an ordinary user once the privileged set-up is done
 * (--user NAME).
 *
 * vuproxy started as root opens its listening sockets and the trace file,
 * then becomes NAME for good: supplementary groups (initgroups), gid, uid,
 * verified (uid 0 cannot be regained, no capability is left).  Whatever it
 * does later (connect to a peer's socket, rotate the trace, reload the
 * rules on SIGHUP) it does as NAME; vup_privdrop_check asks, before
 * anything is opened, whether NAME will be able to.
 */
#ifndef VUPROXY_PRIVDROP_H
#define VUPROXY_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct vup_privdrop_user {
	char name[64];
	uid_t uid;
	gid_t gid;
};

/* Something NAME will need after the drop. */
struct vup_privdrop_need {
	const char *path; /* a file, socket or directory */
	int mode;         /* as for access(2): R_OK, W_OK | X_OK, ... */
	const char *what; /* for the message: "-C rotates the trace in it" */
	bool required;    /* refuse to start without it, or warn */
};

/* Resolve NAME (getpwnam).  Refused (-EPERM, -ENOENT, -EINVAL, with a
 * reason in err) unless vuproxy runs as root and NAME is a user other
 * than root whose primary group is not 0. */
int vup_privdrop_lookup(const char *name, struct vup_privdrop_user *u,
                        char *err, size_t errlen);

/* The checks of vup_privdrop_lookup on a passwd entry already found
 * (uid 0 or gid 0 refused with -EINVAL, a name too long with
 * -ENAMETOOLONG), filling u.  No root needed. */
struct passwd;
int vup_privdrop_from_passwd(const struct passwd *pw,
                             struct vup_privdrop_user *u, char *err,
                             size_t errlen);

/* Check each need as NAME would meet it, in a child process that drops
 * privileges first.  Logs one line per unmet need (an error if required,
 * else a warning; a missing path that is not required is not reported:
 * a peer's socket may appear later).  Returns -EACCES if a required one
 * is unmet, 0 otherwise. */
int vup_privdrop_check(const struct vup_privdrop_user *u,
                       const struct vup_privdrop_need *needs, size_t n);

/* Become NAME for good and verify it.  On failure (-errno, reason in err)
 * the process may be half-dropped: the caller must exit. */
int vup_privdrop_apply(const struct vup_privdrop_user *u, char *err,
                       size_t errlen);

#endif
