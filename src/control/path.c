/* control: where the socket goes by default. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vuproxy/control.h"
#include "vuproxy/log.h"
#include "vuproxy/proxy.h"

int vup_control_runtime_dir(char *dir, size_t cap, char *err, size_t errlen)
{
	if (geteuid() == 0) {
		snprintf(dir, cap, "/run/vuproxy");
		return 0;
	}
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (!xdg || !*xdg) {
		snprintf(err, errlen,
		         "XDG_RUNTIME_DIR is not set (give --control PATH)");
		return -ENOENT;
	}
	if ((size_t)snprintf(dir, cap, "%s/vuproxy", xdg) >= cap) {
		snprintf(err, errlen, "XDG_RUNTIME_DIR is too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

int vup_control_default_path(const char *name, char *out, size_t cap, char *err,
                             size_t errlen)
{
	char dir[4096];
	int rc = vup_control_runtime_dir(dir, sizeof(dir), err, errlen);
	if (rc)
		return rc;
	/* Only ours: a directory others can write would let them swap the
	 * socket for their own. */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(e));
		return -e;
	}
	struct stat st;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(err, errlen,
		         "%s is not a directory of ours that only we can write",
		         dir);
		return -EPERM;
	}
	if ((size_t)snprintf(out, cap, "%s/%s.ctl", dir, name) >= cap) {
		snprintf(err, errlen, "%s/%s.ctl: path too long", dir, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* On by default, as the issue asks: a vuproxy left in the path of a VM
 * for its whole life must be askable when the problem shows.  The
 * default path may fail (no XDG_RUNTIME_DIR): a warning then, while a
 * --control PATH that cannot be opened stops vuproxy. */
int vup_control_configure(struct vup_proxy_config *cfg, bool off,
                          const char *name, char *buf, size_t len)
{
	if (off && cfg->control_path) {
		fprintf(stderr, "vuproxy: --control and --no-control\n");
		return -1;
	}
	if (name && (!*name || strchr(name, '/') || *name == '.')) {
		fprintf(stderr,
		        "vuproxy: --name '%s': a file name, without '/' and "
		        "not starting with '.'\n",
		        name);
		return -1;
	}
	if (off || cfg->control_path)
		return 0;
	char pid[24], err[512];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	cfg->control_optional = true;
	if (vup_control_default_path(name ? name : pid, buf, len, err,
	                             sizeof(err)) == 0)
		cfg->control_path = buf;
	else
		vup_log(VUP_LOG_WARN, "control socket: %s; running without one",
		        err);
	return 0;
}
