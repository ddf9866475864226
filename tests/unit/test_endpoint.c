/* Unit tests of src/relay/endpoint.c: the mode of a listening socket file.
 *
 * - vup_endpoint_listen gives the socket exactly the mode asked whatever
 *   the caller's umask (0600, 0660, 0666 under umask 000, 022, 077);
 * - no path-based mode change follows a link: a symbolic link swapped in
 *   at the socket's path after bind (what a user who may write to the
 *   directory can do while root sets up --user NAME) is not followed and
 *   its target keeps its mode; a file that is not our socket is refused;
 * - under a default ACL (which narrows what bind gives) the mode is still
 *   the one asked: it is set on the inode bind created, not by path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "unit.h"
#include "vuproxy/endpoint.h"

static char dir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/vup-endpoint.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void in_dir(struct vup_endpoint *ep, const char *name)
{
	ep->role = VUP_ROLE_LISTEN;
	snprintf(ep->path, sizeof(ep->path), "%s/%s", dir, name);
}

static unsigned mode_of(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		fail_msg("lstat %s: %s", path, strerror(errno));
	return st.st_mode & 07777;
}

static int listen_at(const struct vup_endpoint *ep, unsigned mode)
{
	char err[256] = "";
	int fd = vup_endpoint_listen(ep, mode, err, sizeof(err));
	if (fd < 0)
		fail_msg("listen %s %04o: %s", ep->path, mode, err);
	return fd;
}

static void listen_mode_whatever_umask(void **state)
{
	(void)state;
	static const mode_t masks[] = {000, 022, 077};
	static const unsigned modes[] = {0600, 0660, 0666, 0700};
	struct vup_endpoint ep;
	in_dir(&ep, "m.sock");
	for (size_t i = 0; i < COUNT(masks); i++) {
		for (size_t j = 0; j < COUNT(modes); j++) {
			mode_t old = umask(masks[i]);
			int fd = listen_at(&ep, modes[j]);
			mode_t during = umask(old);
			struct stat st;
			assert_int_equal(lstat(ep.path, &st), 0);
			assert_true(S_ISSOCK(st.st_mode));
			if ((st.st_mode & 07777) != modes[j])
				fail_msg("umask %03o, mode %04o: socket %04o",
				         (unsigned)masks[i], modes[j],
				         (unsigned)(st.st_mode & 07777));
			/* The caller's umask is given back. */
			assert_int_equal(during, masks[i]);
			close(fd);
			assert_int_equal(unlink(ep.path), 0);
		}
	}
}

/* bind's socket, then a link to a file 0600 of ours in its place: the
 * check after bind refuses it and the file keeps its mode. */
static void link_after_bind_not_followed(void **state)
{
	(void)state;
	struct vup_endpoint ep, moved;
	in_dir(&ep, "l.sock");
	in_dir(&moved, "l.moved.sock");
	char target[512], err[256] = "";
	snprintf(target, sizeof(target), "%s/precious", dir);
	int tfd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(tfd >= 0);
	assert_int_equal(write(tfd, "root's\n", 7), 7);
	close(tfd);
	assert_int_equal(chmod(target, 0600), 0);

	int fd = listen_at(&ep, 0600);
	/* The swap, as a user who may write to the directory makes it. */
	assert_int_equal(rename(ep.path, moved.path), 0);
	assert_int_equal(symlink(target, ep.path), 0);
	int rc = vup_endpoint_check_mode(ep.path, 0666, err, sizeof(err));
	assert_int_equal(rc, -ELOOP);
	assert_contains(err, "symbolic link");
	assert_int_equal(mode_of(target), 0600);

	/* A link to a socket of ours is not followed either. */
	assert_int_equal(unlink(ep.path), 0);
	assert_int_equal(symlink(moved.path, ep.path), 0);
	rc = vup_endpoint_check_mode(ep.path, 0666, err, sizeof(err));
	assert_int_equal(rc, -ELOOP);
	assert_int_equal(mode_of(moved.path), 0600);

	/* A regular file in its place (a hard link to another file would
	 * look the same) is not a socket: refused, mode kept. */
	assert_int_equal(unlink(ep.path), 0);
	assert_int_equal(link(target, ep.path), 0);
	rc = vup_endpoint_check_mode(ep.path, 0666, err, sizeof(err));
	assert_int_equal(rc, -EEXIST);
	assert_contains(err, "replaced");
	assert_int_equal(mode_of(target), 0600);

	/* Our socket, with a mode other than asked: set on its inode. */
	rc = vup_endpoint_check_mode(moved.path, 0660, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(mode_of(moved.path), 0660);
	close(fd);
	unlink(ep.path);
	unlink(moved.path);
	unlink(target);
}

/* A default ACL in the directory masks what bind gives (bind applies the
 * umask to sockets itself, so the mode is never looser than asked): with
 * u::rwx g::r-x o::--- a socket asked 0666 comes out 0640.  The mode asked
 * is then set on the inode bind made, never by path. */
#define ACL_VERSION   2
#define ACL_USER_OBJ  0x01
#define ACL_GROUP_OBJ 0x04
#define ACL_OTHER     0x20

static void default_acl_mode_set(void **state)
{
	(void)state;
	char sub[80];
	snprintf(sub, sizeof(sub), "%s/acl", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	struct {
		uint32_t version;
		struct {
			uint16_t tag, perm;
			uint32_t id;
		} e[3];
	} acl = {ACL_VERSION,
	         {{ACL_USER_OBJ, 7, UINT32_MAX},
	          {ACL_GROUP_OBJ, 5, UINT32_MAX},
	          {ACL_OTHER, 0, UINT32_MAX}}};
	if (setxattr(sub, "system.posix_acl_default", &acl, sizeof(acl), 0) <
	    0) {
		print_message("no default ACL on %s (%s): skipped\n", sub,
		              strerror(errno));
		skip();
	}
	/* What bind alone makes there. */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/raw.sock", sub);
	int raw = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(raw >= 0);
	mode_t old = umask(0777 & ~0666);
	assert_int_equal(bind(raw, (struct sockaddr *)&sa, sizeof(sa)), 0);
	umask(old);
	assert_int_equal(mode_of(sa.sun_path), 0640);
	close(raw);

	struct vup_endpoint ep = {.role = VUP_ROLE_LISTEN};
	snprintf(ep.path, sizeof(ep.path), "%s/a.sock", sub);
	static const unsigned modes[] = {0600, 0660, 0666};
	for (size_t i = 0; i < COUNT(modes); i++) {
		int fd = listen_at(&ep, modes[i]);
		assert_int_equal(mode_of(ep.path), modes[i]);
		close(fd);
		assert_int_equal(unlink(ep.path), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(listen_mode_whatever_umask),
	        cmocka_unit_test(link_after_bind_not_followed),
	        cmocka_unit_test(default_acl_mode_set),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
