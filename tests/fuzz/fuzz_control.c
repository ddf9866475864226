/* libFuzzer target for the control socket's request parser and dispatch
 * (src/control/json.c, dispatch.c): arbitrary bytes as one request line,
 * after a first byte that says how many fds (0 to 2) come with it.  Checked
 * besides memory safety and leaks: the reply is one JSON object our own reader
 * accepts, with "ok" a boolean, a non-empty "error" when false, no newline in
 * it; every fd is closed unless a handler took it.
 *
 * Build: CC=clang cmake -DVUP_FUZZ=ON; run: fuzz_control
 * tests/fuzz/corpus/control.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vuproxy/control.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static int cmd_args(struct vup_control_req *r)
{
	static const char *const kinds[] = {"net", "blk", NULL};
	int64_t n;
	char s[32];
	int k;
	if (vup_control_arg_int(r, "n", false, -5, 5, &n) < 0 ||
	    vup_control_arg_str(r, "s", false, s, sizeof(s)) < 0 ||
	    vup_control_arg_enum(r, "tap", false, kinds, &k) < 0)
		return -1;
	vup_jw_obj(r->out);
	vup_jw_kstr(r->out, "s", s);
	vup_jw_end(r->out);
	return 0;
}

static int cmd_take(struct vup_control_req *r)
{
	if (r->nfds) {
		close(r->fds[0]); /* taken: closed here */
		r->fds[0] = -1;
	}
	return 0;
}

static const struct vup_control_cmd table[] = {
        {"help", "", 0, vup_control_help, "the commands"},
        {"args", "n,s,tap", 0, cmd_args, "arguments of each type"},
        {"take", "", 1, cmd_take, "one fd"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds[2];
	unsigned nfds = size ? data[0] % 3 : 0;
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct vup_jw w;
	vup_jw_init(&w);
	const char *line = size ? (const char *)data + 1 : "";
	vup_control_dispatch(table, sizeof(table) / sizeof(table[0]), NULL,
	                     line, size ? size - 1 : 0, fds, nfds, &w);
	CHECK(!w.oom && w.len > 0);
	CHECK(!memchr(w.buf, '\n', w.len));
	struct vup_json_doc d;
	char err[256];
	CHECK(vup_json_parse(&d, w.buf, w.len, err, sizeof(err)) == 0);
	CHECK(d.n[0].type == VUP_JSON_OBJECT);
	int ok = vup_json_get(&d, 0, "ok");
	CHECK(ok >= 0);
	CHECK(d.n[ok].type == VUP_JSON_TRUE || d.n[ok].type == VUP_JSON_FALSE);
	if (d.n[ok].type == VUP_JSON_FALSE) {
		char e[1100];
		CHECK(vup_json_string(&d, vup_json_get(&d, 0, "error"), e,
		                      sizeof(e), NULL) == 0);
		CHECK(e[0] != '\0');
	}
	vup_json_doc_free(&d);
	vup_jw_free(&w);
	for (unsigned i = 0; i < nfds; i++)
		CHECK(fcntl(fds[i], F_GETFD) < 0); /* closed */
	return 0;
}
