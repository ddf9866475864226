/* privdrop: --user NAME.  Look the user up, check what it will need, then
 * become it for good and prove it: see include/vuproxy/privdrop.h. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vuproxy/log.h"
#include "vuproxy/privdrop.h"

__attribute__((format(printf, 4, 5))) static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

int vup_privdrop_lookup(const char *name, struct vup_privdrop_user *u,
                        char *err, size_t errlen)
{
	if (geteuid() != 0)
		return fail(err, errlen, -EPERM,
		            "only root can change to another user; vuproxy "
		            "runs as uid %u",
		            (unsigned)geteuid());
	if (strlen(name) >= sizeof(u->name))
		return fail(err, errlen, -ENAMETOOLONG, "user name too long");
	errno = 0;
	struct passwd *pw = getpwnam(name);
	if (!pw)
		return fail(err, errlen, errno ? -errno : -ENOENT,
		            "no such user%s%s", errno ? ": " : "",
		            errno ? strerror(errno) : "");
	return vup_privdrop_from_passwd(pw, u, err, errlen);
}

int vup_privdrop_from_passwd(const struct passwd *pw,
                             struct vup_privdrop_user *u, char *err,
                             size_t errlen)
{
	const char *name = pw->pw_name;
	if (strlen(name) >= sizeof(u->name))
		return fail(err, errlen, -ENAMETOOLONG, "user name too long");
	if (pw->pw_uid == 0)
		return fail(err, errlen, -EINVAL,
		            "%s has uid 0: that drops no privilege", name);
	/* Group 0 owns much of what root owns (files 0640 root:root, /etc,
	 * devices): running with it as primary group keeps that access. */
	if (pw->pw_gid == 0)
		return fail(err, errlen, -EINVAL,
		            "%s has gid 0 (root's group) as primary group: "
		            "that keeps root's group privilege",
		            name);
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}

/* No capability left in the permitted (hence effective, ambient) set. */
static int caps_left(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (d[i].permitted || d[i].effective)
			return 1;
	return 0;
}

static int verify(const struct vup_privdrop_user *u, char *err, size_t errlen)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return fail(err, errlen, -errno, "getresuid: %s",
		            strerror(errno));
	if (r != u->uid || e != u->uid || s != u->uid || rg != u->gid ||
	    eg != u->gid || sg != u->gid)
		return fail(err, errlen, -EPERM,
		            "uids %u/%u/%u gids %u/%u/%u after the change, "
		            "not %u and %u",
		            (unsigned)r, (unsigned)e, (unsigned)s, (unsigned)rg,
		            (unsigned)eg, (unsigned)sg, (unsigned)u->uid,
		            (unsigned)u->gid);
	/* The proof: root cannot be had back, nor another group set. */
	if (setuid(0) == 0 || seteuid(0) == 0)
		return fail(err, errlen, -EPERM, "uid 0 could be regained");
	if (u->gid != 0 && (setgid(0) == 0 || setegid(0) == 0))
		return fail(err, errlen, -EPERM, "gid 0 could be regained");
	if (setgroups(0, NULL) == 0)
		return fail(err, errlen, -EPERM,
		            "the supplementary groups can still be changed");
	int caps = caps_left();
	if (caps)
		return fail(err, errlen, caps < 0 ? caps : -EPERM,
		            "capabilities %s",
		            caps < 0 ? "cannot be read" : "are left");
	return 0;
}

int vup_privdrop_apply(const struct vup_privdrop_user *u, char *err,
                       size_t errlen)
{
	/* Groups first: once the uid is not 0, nothing else can change. */
	if (initgroups(u->name, u->gid) < 0)
		return fail(err, errlen, -errno, "initgroups(%s, %u): %s",
		            u->name, (unsigned)u->gid, strerror(errno));
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return fail(err, errlen, -errno, "setresgid(%u): %s",
		            (unsigned)u->gid, strerror(errno));
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return fail(err, errlen, -errno, "setresuid(%u): %s",
		            (unsigned)u->uid, strerror(errno));
	return verify(u, err, errlen);
}

static const char *verb(int mode)
{
	return (mode & W_OK) ? "write to" : (mode & R_OK) ? "read" : "reach";
}

int vup_privdrop_check(const struct vup_privdrop_user *u,
                       const struct vup_privdrop_need *needs, size_t n)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		vup_log(VUP_LOG_ERROR, "--user %s: pipe: %s", u->name,
		        strerror(errno));
		return -errno;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		vup_log(VUP_LOG_ERROR, "--user %s: fork: %s", u->name,
		        strerror(e));
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		/* The child: drop, then access(2) each need as NAME. */
		close(p[0]);
		char e[256];
		int rc = vup_privdrop_apply(u, e, sizeof(e));
		ssize_t w = write(p[1], &rc, sizeof(rc));
		for (size_t i = 0; rc == 0 && w > 0 && i < n; i++) {
			int r = access(needs[i].path, needs[i].mode) < 0 ? errno
			                                                 : 0;
			w = write(p[1], &r, sizeof(r));
		}
		if (rc)
			w = write(p[1], e, strlen(e) + 1);
		_exit(w > 0 ? 0 : 1);
	}
	close(p[1]);
	int rc = -EIO, bad = 0;
	FILE *f = fdopen(p[0], "r");
	if (!f || fread(&rc, sizeof(rc), 1, f) != 1) {
		vup_log(VUP_LOG_ERROR, "--user %s: the check process failed",
		        u->name);
		rc = -EIO;
	} else if (rc) {
		char e[256] = "";
		size_t got = fread(e, 1, sizeof(e) - 1, f);
		e[got] = '\0';
		vup_log(VUP_LOG_ERROR, "--user %s: cannot become %s: %s",
		        u->name, u->name, e);
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int r;
		if (fread(&r, sizeof(r), 1, f) != 1) {
			rc = -EIO;
			break;
		}
		if (!r || (r == ENOENT && !needs[i].required))
			continue;
		vup_log(needs[i].required ? VUP_LOG_ERROR : VUP_LOG_WARN,
		        "--user %s: %s cannot %s %s (%s): %s", u->name, u->name,
		        verb(needs[i].mode), needs[i].path, needs[i].what,
		        strerror(r));
		if (needs[i].required)
			bad = -EACCES;
	}
	if (f)
		fclose(f);
	else
		close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return rc ? rc : bad;
}
