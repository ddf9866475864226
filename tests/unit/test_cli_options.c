/* Unit tests of src/cli/options.c and proxy_args.c: the proxy's option
 * table, its scanner (getopt_long's habits), the config file splitter,
 * the cross-option checks, and --help and the man page generated from
 * the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "unit.h"

#define ARGV(...) ((char *[]){"vuproxy", __VA_ARGS__, NULL})
#define ARGC(v)   ((int)(sizeof(v) / sizeof(v[0])) - 1)

static char err[512];

/* Parses the arguments given (after argv[0]) into a; the return code. */
static int parse_n(struct vup_proxy_args *a, int argc, char **argv)
{
	err[0] = '\0';
	return vup_proxy_args_parse(argc, argv, a, err, sizeof(err));
}
#define PARSE(a, ...) parse_n(a, ARGC(ARGV(__VA_ARGS__)), ARGV(__VA_ARGS__))

#define FE "--frontend", "listen:/tmp/fe.sock"
#define BE "--backend", "connect:/tmp/be.sock"

static void defaults_and_the_usual_line(void **state)
{
	(void)state;
	struct vup_proxy_args a;
	assert_int_equal(PARSE(&a, FE, BE), 0);
	assert_int_equal(a.cfg.frontend.role, VUP_ROLE_LISTEN);
	assert_string_equal(a.cfg.frontend.path, "/tmp/fe.sock");
	assert_int_equal(a.cfg.backend.role, VUP_ROLE_CONNECT);
	assert_int_equal(a.cfg.socket_mode, 0600);
	assert_int_equal(a.cfg.control_mode, 0600);
	assert_int_equal(a.cfg.max_sessions, 1024);
	assert_int_equal(a.cfg.stall_timeout_ms, 30000);
	assert_int_equal(a.cfg.reply_timeout_s, 5);
	assert_int_equal(a.cfg.backend_wait_ms, -1);
	assert_int_equal(a.cfg.tap.snaplen, 256);
	assert_int_equal(a.cfg.tap_interval_us, 1000);
	assert_int_equal(a.cfg.active, VUP_TAP_OFF); /* passthrough */
	assert_null(a.tcfg.path);
	assert_null(a.rules_path);
	assert_int_equal(a.verbosity, 0);
	assert_false(a.help || a.version || a.no_control);
}

static void active_net(void **state)
{
	(void)state;
	struct vup_proxy_args a;
	assert_int_equal(PARSE(&a, FE, BE, "--active", "net", "-w", "t"), 0);
	assert_int_equal(a.cfg.active, VUP_TAP_NET);
	assert_int_equal(a.cfg.tap.kind, VUP_TAP_OFF); /* no passive tap */
	/* Its help says it writes the guest's used rings. */
	const struct vup_opt_def *d = &vup_proxy_opts[VUP_OPT_ACTIVE];
	assert_string_equal(d->name, "active");
	assert_non_null(strstr(d->help, "WRITES the guest's used rings"));
}

static void getopt_long_spellings(void **state)
{
	(void)state;
	struct vup_proxy_args a;
	/* --name=V, -wFILE, -w FILE, clusters, prefixes of long names. */
	assert_int_equal(PARSE(&a, "--frontend=connect:/a", "--backend",
	                       "listen:/b", "-vv", "-wt.pcapng.gz", "-C", "5",
	                       "-W3", "--max-s", "7", "-s0", "--socket-mode",
	                       "0660"),
	                 0);
	assert_string_equal(err, "");
	assert_int_equal(a.cfg.frontend.role, VUP_ROLE_CONNECT);
	assert_int_equal(a.cfg.backend.role, VUP_ROLE_LISTEN);
	assert_int_equal(a.verbosity, 2);
	assert_string_equal(a.tcfg.path, "t.pcapng.gz");
	assert_int_equal(a.tcfg.rotate_bytes, 5000000);
	assert_int_equal(a.tcfg.max_files, 3);
	assert_int_equal(a.cfg.max_sessions, 7);
	assert_int_equal(a.cfg.tap.snaplen, 65535); /* -s 0: all of it */
	assert_int_equal(a.cfg.socket_mode, 0660);
	/* -q after -v wins, as the last word does for every option. */
	assert_int_equal(PARSE(&a, FE, BE, "-v", "-q", "--max-sessions", "2",
	                       "--max-sessions", "9"),
	                 0);
	assert_int_equal(a.verbosity, -1);
	assert_int_equal(a.cfg.max_sessions, 9);
	/* "--" ends the options; nothing may follow. */
	assert_int_equal(PARSE(&a, FE, BE, "--"), 0);
}

/* Each wrong line: its message, and which argument is at fault. */
static void refusals_name_the_option(void **state)
{
	(void)state;
	static const struct {
		char *argv[14];
		const char *msg;
		int bad;
	} cases[] = {
	        {{"--nope"}, "unknown option '--nope'", 1},
	        {{FE, "-x"}, "unknown option '-x'", 3},
	        {{"--snap", "1"}, "ambiguous option '--snap'", 1},
	        {{FE, "--backend"}, "--backend needs a value", 3},
	        {{"-w"}, "-w needs a value (FILE)", 1},
	        {{"--strict=yes"}, "--strict takes no value", 1},
	        {{FE, BE, "stray"}, "unexpected argument 'stray'", 5},
	        {{FE, BE, "--", "x"}, "unexpected argument 'x'", 6},
	        {{FE, BE, "--ring", "0"}, "--ring '0': not in 1..65536", 5},
	        {{FE, BE, "--ring", "-1"}, "--ring '-1': not a number", 5},
	        {{FE, BE, "-C", "12x"}, "-C '12x': not a number", 5},
	        {{FE, BE, "--socket-mode", "8"}, "not an octal number", 5},
	        {{FE, BE, "--socket-mode", "1777"}, "not in 0..777", 5},
	        {{FE, BE, "--tap-interval", "9"}, "not in 10..1000000", 5},
	        {{FE, BE, "--tap", "scsi"}, "--tap scsi: net or blk", 5},
	        {{FE, BE, "--active", "scsi"}, "--active scsi: net or blk", 5},
	        {{FE, BE, "--active", "blk"}, "--active blk: not yet", 5},
	        {{"--frontend", "bind:/x"}, "--frontend ", 1},
	        {{FE, BE, "--snapshot-on", "sometimes"}, "--snapshot-on ", 5},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[16] = {"vuproxy"};
		int argc = 1;
		for (int j = 0; cases[i].argv[j]; j++)
			argv[argc++] = cases[i].argv[j];
		struct vup_proxy_args a;
		assert_int_equal(parse_n(&a, argc, argv), -1);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
			         cases[i].msg);
		assert_int_equal(a.bad_arg, cases[i].bad);
	}
}

static void options_that_need_others(void **state)
{
	(void)state;
	struct vup_proxy_args a;
	static const struct {
		char *argv[14];
		const char *msg;
	} cases[] = {
	        {{FE}, "both --frontend and --backend are needed"},
	        {{FE, "--backend", "connect:/tmp/fe.sock"}, "the same socket"},
	        {{FE, BE, "-C", "1"}, "-C, -G and -W need -w FILE"},
	        {{FE, BE, "-w", "f", "-W", "2"}, "-W needs -C SIZE or -G"},
	        {{FE, BE, "--snapshot-dir", "/tmp"}, "need --ring MB"},
	        {{FE, BE, "--ring", "8", "--snapshot-on", "failure"},
	         "--snapshot-on needs --snapshot-dir"},
	        {{FE, BE, "--ring", "8", "--snapshot-dir", "/t",
	          "--snapshot-on", "nack", "--no-check"},
	         "need the checker"},
	        {{FE, BE, "--trace-findings"}, "--trace-findings needs -w"},
	        {{FE, BE, "--tap-strict"}, "need --tap"},
	        {{FE, BE, "--tap-unverified"}, "need --tap"},
	        {{FE, BE, "--tap", "net", "--active", "net"},
	         "--active records every frame itself"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[16] = {"vuproxy"};
		int argc = 1;
		for (int j = 0; cases[i].argv[j]; j++)
			argv[argc++] = cases[i].argv[j];
		assert_int_equal(parse_n(&a, argc, argv), -1);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
			         cases[i].msg);
		assert_int_equal(a.bad_arg, -1);
	}
	/* --help and --version need nothing else. */
	assert_int_equal(PARSE(&a, "--help"), 0);
	assert_true(a.help);
	assert_int_equal(PARSE(&a, "-V"), 0);
	assert_true(a.version);
	/* Together, they are accepted. */
	assert_int_equal(PARSE(&a, FE, BE, "--ring", "8", "--snapshot-dir",
	                       "/t", "--snapshot-on", "failure,timeout",
	                       "--tap", "blk", "--tap-strict", "-w", "f", "-G",
	                       "60", "-W", "4", "--trace-findings"),
	                 0);
	assert_int_equal(a.ring_mb, 8);
	assert_int_equal(a.cfg.snapshot_on,
	                 1u << VUP_SNAP_FAILURE | 1u << VUP_SNAP_TIMEOUT);
	assert_true(a.tcfg.findings);
	assert_int_equal(a.tcfg.rotate_secs, 60);
}

/* ---- config files ---- */

struct split {
	char buf[2048];
	char *args[32];
	int lines[32];
	size_t n;
};

static int split(struct split *s, const char *text)
{
	err[0] = '\0';
	return vup_opts_split_config(vup_proxy_opts, VUP_OPT_COUNT, text,
	                             s->buf, sizeof(s->buf), s->args, s->lines,
	                             32, &s->n, err, sizeof(err));
}

static void config_lines_become_arguments(void **state)
{
	(void)state;
	struct split s;
	assert_int_equal(split(&s,
	                       "# vm1, started by vuproxy@vm1\n"
	                       "\n"
	                       "frontend listen:/run/vuproxy/vm1.sock\n"
	                       "  --backend   connect:/run/my dir/be.sock \n"
	                       "-w /var/log/vuproxy/vm1.pcapng.gz\n"
	                       "\t# indented comment\n"
	                       "strict\n"
	                       "-v"),
	                 0);
	const char *want[] = {"--frontend", "listen:/run/vuproxy/vm1.sock",
	                      "--backend",  "connect:/run/my dir/be.sock",
	                      "-w",         "/var/log/vuproxy/vm1.pcapng.gz",
	                      "--strict",   "-v"};
	const int lines[] = {3, 3, 4, 4, 5, 5, 7, 8};
	assert_int_equal(s.n, 8);
	for (size_t i = 0; i < s.n; i++) {
		assert_string_equal(s.args[i], want[i]);
		assert_int_equal(s.lines[i], lines[i]);
	}
	/* What it makes parses as a command line. */
	char *argv[12] = {"vuproxy"};
	for (size_t i = 0; i < s.n; i++)
		argv[i + 1] = s.args[i];
	struct vup_proxy_args a;
	assert_int_equal(parse_n(&a, (int)s.n + 1, argv), 0);
	assert_string_equal(a.cfg.backend.path, "/run/my dir/be.sock");
	assert_true(a.cfg.strict);
	/* Empty, and CRLF line ends. */
	assert_int_equal(split(&s, ""), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(split(&s, "ring 64\r\nno-check\r\n"), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.args[1], "64");
	assert_string_equal(s.args[2], "--no-check");
	/* "--name=value", as on a command line (the example conf and the
	 * man page say "as on the command line"). */
	assert_int_equal(split(&s, "--frontend=listen:/run/a b.sock\n"
	                           "ring=64\n"
	                           "backend=connect:/x=y\n"),
	                 0);
	const char *eq[] = {"--frontend", "listen:/run/a b.sock",
	                    "--ring",     "64",
	                    "--backend",  "connect:/x=y"};
	assert_int_equal(s.n, 6);
	for (size_t i = 0; i < s.n; i++)
		assert_string_equal(s.args[i], eq[i]);
}

static void config_refusals_name_the_line(void **state)
{
	(void)state;
	struct split s;
	static const struct {
		const char *text, *msg;
	} cases[] = {
	        {"ring 8\nfrontnd listen:/x\n", "2: unknown option 'frontnd'"},
	        {"front listen:/x\n", "1: unknown option 'front'"},
	        {"\n\nbackend\n", "3: 'backend' needs a value"},
	        {"strict yes\n", "1: 'strict' takes no value"},
	        {"config /etc/other.conf\n", "has no place in a config file"},
	        {"--help\n", "has no place in a config file"},
	        {"-vv\n", "unknown option '-vv'"},
	        {"strict=\n", "1: 'strict' takes no value"},
	        {"ring=\n", "1: 'ring' needs a value"},
	        {"-w=/x\n", "unknown option '-w=/x'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(split(&s, cases[i].text), -1);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
			         cases[i].msg);
	}
	/* More arguments than room: refused, not cut. */
	char text[512] = "";
	for (int i = 0; i < 40; i++)
		strcat(text, "strict\n");
	assert_int_equal(split(&s, text), -1);
	assert_non_null(strstr(err, "too many options"));
}

/* ---- --help and the man page ---- */

static char *render(void (*print)(FILE *, const struct vup_opt_def *, size_t))
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	assert_non_null(f);
	print(f, vup_proxy_opts, VUP_OPT_COUNT);
	fclose(f);
	return out;
}

static void help_and_man_list_every_option(void **state)
{
	(void)state;
	char *help = render(vup_opts_print_help);
	char *man = render(vup_opts_print_man);
	for (size_t i = 0; i < VUP_OPT_COUNT; i++) {
		const struct vup_opt_def *d = &vup_proxy_opts[i];
		assert_int_equal(d->id, i);
		char h[64], m[96];
		if (d->name) {
			snprintf(h, sizeof(h), "--%s", d->name);
			snprintf(m, sizeof(m), "\\fB\\-\\-");
			for (const char *p = d->name; *p; p++)
				snprintf(m + strlen(m), sizeof(m) - strlen(m),
				         *p == '-' ? "\\-" : "%c", *p);
		} else {
			snprintf(h, sizeof(h), "  -%c %s", d->letter, d->arg);
			snprintf(m, sizeof(m), "\\fB\\-%c\\fR", d->letter);
		}
		if (!strstr(help, h))
			fail_msg("--help lacks %s", h);
		if (!strstr(man, m))
			fail_msg("the man page lacks %s", m);
	}
	/* --help fits 79 columns; the man page has no stray requests and
	 * no unescaped dash. */
	for (char *line = help; *line;) {
		size_t len = strcspn(line, "\n");
		if (len > 79)
			fail_msg("--help line over 79 columns: %.*s", (int)len,
			         line);
		line += len + (line[len] != '\0');
	}
	for (char *line = man; *line;) {
		size_t len = strcspn(line, "\n");
		if (line[0] == '.' || line[0] == '\'')
			assert_true(strncmp(line, ".TP\n", 4) == 0);
		for (size_t i = 0; i < len; i++)
			if (line[i] == '-')
				assert_true(i > 0 && line[i - 1] == '\\');
		line += len + (line[len] != '\0');
	}
	free(help);
	free(man);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(defaults_and_the_usual_line),
	        cmocka_unit_test(active_net),
	        cmocka_unit_test(getopt_long_spellings),
	        cmocka_unit_test(refusals_name_the_option),
	        cmocka_unit_test(options_that_need_others),
	        cmocka_unit_test(config_lines_become_arguments),
	        cmocka_unit_test(config_refusals_name_the_line),
	        cmocka_unit_test(help_and_man_list_every_option),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
