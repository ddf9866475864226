/* check_run: run `vuproxy check` in-process with its stdout in a file,
 * and read that file back; for the tests of src/check/cmd.c. */
#ifndef VUP_TEST_CHECK_RUN_H
#define VUP_TEST_CHECK_RUN_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "unit.h"
#include "vuproxy/check.h"

/* `vuproxy check A1 A2 A3 FILE` (NULL arguments left out), stdout into
 * out; its exit status. */
static inline int check_run(const char *out, const char *file, const char *a1,
                            const char *a2, const char *a3)
{
	char *argv[6] = {"check"};
	int argc = 1;
	const char *args[] = {a1, a2, a3};
	for (int i = 0; i < 3; i++)
		if (args[i])
			argv[argc++] = (char *)args[i];
	argv[argc++] = (char *)file;
	fflush(stdout);
	int saved = dup(1);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 1);
	close(fd);
	int rc = vup_check_main(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	return rc;
}

/* The file's text (up to 64 KiB), in a buffer the next call reuses. */
static inline char *check_slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

#endif
