/* Unit tests of src/privdrop.c: which users --user refuses, on passwd
 * entries made up here (no user is created; the system may have no user
 * with gid 0 other than root, tests/trace/privdrop.sh shows the refusal
 * end to end with a private /etc/passwd).
 *
 * - uid 0 is refused: that drops no privilege;
 * - a primary gid of 0 is refused: root's group keeps root's files;
 * - an ordinary user is taken with its uid and gid.
 */
#include <errno.h>
#include <pwd.h>

#include "unit.h"
#include "vuproxy/privdrop.h"

static struct passwd entry(const char *name, uid_t uid, gid_t gid)
{
	struct passwd pw = {.pw_name = (char *)name,
	                    .pw_passwd = (char *)"x",
	                    .pw_uid = uid,
	                    .pw_gid = gid,
	                    .pw_gecos = (char *)"",
	                    .pw_dir = (char *)"/nonexistent",
	                    .pw_shell = (char *)"/usr/sbin/nologin"};
	return pw;
}

static void gid_0_refused(void **state)
{
	(void)state;
	struct passwd pw = entry("opgroup", 1234, 0);
	struct vup_privdrop_user u = {.uid = 99, .gid = 99};
	char err[256] = "";
	assert_int_equal(vup_privdrop_from_passwd(&pw, &u, err, sizeof(err)),
	                 -EINVAL);
	assert_contains(err, "opgroup has gid 0");
	/* Nothing of it was taken. */
	assert_int_equal(u.uid, 99);
	assert_int_equal(u.gid, 99);
}

static void uid_0_refused(void **state)
{
	(void)state;
	struct passwd pw = entry("toor", 0, 1234);
	struct vup_privdrop_user u;
	char err[256] = "";
	assert_int_equal(vup_privdrop_from_passwd(&pw, &u, err, sizeof(err)),
	                 -EINVAL);
	assert_contains(err, "toor has uid 0");
	pw = entry("root", 0, 0);
	assert_int_equal(vup_privdrop_from_passwd(&pw, &u, err, sizeof(err)),
	                 -EINVAL);
	assert_contains(err, "root has uid 0");
}

static void ordinary_user_taken(void **state)
{
	(void)state;
	struct passwd pw = entry("vuproxy", 997, 996);
	struct vup_privdrop_user u;
	char err[256] = "";
	assert_int_equal(vup_privdrop_from_passwd(&pw, &u, err, sizeof(err)),
	                 0);
	assert_string_equal(u.name, "vuproxy");
	assert_int_equal(u.uid, 997);
	assert_int_equal(u.gid, 996);
	char longname[100];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	pw = entry(longname, 997, 996);
	assert_int_equal(vup_privdrop_from_passwd(&pw, &u, err, sizeof(err)),
	                 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(gid_0_refused),
	        cmocka_unit_test(uid_0_refused),
	        cmocka_unit_test(ordinary_user_taken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
