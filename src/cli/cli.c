/* cli: the command line.  One table of subcommands drives dispatch and
 * the usage text; the default subcommand is the proxy itself. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli_internal.h"
#include "vuproxy/check.h"
#include "vuproxy/cli.h"
#include "vuproxy/control.h"
#include "vuproxy/dump.h"
#include "vuproxy/replay.h"
#include "vuproxy/rules.h"
#include "vuproxy/wireshark_lua.h"

static const struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} subcommands[] = {
        {"dump", vup_dump_main,
         "print a trace: a timeline, or --json; --session, --request"},
        {"check", vup_check_main,
         "check FILE: the spec's rules a trace breaks; --json, --junit"},
        {"replay", vup_replay_main,
         "replay FILE --as front-end|back-end: play a session, diff the peer"},
        {"wireshark-lua", vup_wireshark_lua_main,
         "print the Wireshark Lua dissector for traces (from the catalogue)"},
        {"rules", vup_rules_check_main,
         "rules check FILE...: validate fault-injection rules files"},
        {"ctl", vup_ctl_main,
         "ctl SOCKET COMMAND: ask a running vuproxy (sessions, show N, "
         "stats, ...)"},
        {"extcap", vup_extcap_main,
         "Wireshark's extcap: running vuproxys' sessions as interfaces"},
        {"requests", vup__cli_requests,
         "list the vhost-user requests vuproxy knows (the catalogue)"},
};

void vup__cli_usage(FILE *f)
{
	fprintf(f, "usage: vuproxy --frontend listen:PATH|connect:PATH "
	           "--backend connect:PATH|listen:PATH [options]\n"
	           "       vuproxy COMMAND [args]\n"
	           "\n"
	           "Relay vhost-user between a front-end (QEMU, DPDK "
	           "virtio-user) and a back-end\n"
	           "(DPDK vhost, qemu-storage-daemon, SPDK), with every fd. "
	           "man vuproxy: all of it.\n"
	           "\n"
	           "options:\n");
	vup_opts_print_help(f, vup_proxy_opts, VUP_OPT_COUNT);
	fprintf(f, "\ncommands (each takes --help and --version):\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		fprintf(f, "  %-22s %s\n", subcommands[i].name,
		        subcommands[i].summary);
}

/* Every subcommand answers --version (before "--"), whatever else it
 * was given. */
static bool asks_version(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--version") == 0)
			return true;
	return false;
}

int vup_cli_main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0] != '-') {
		for (size_t i = 0;
		     i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
			if (strcmp(argv[1], subcommands[i].name) != 0)
				continue;
			if (asks_version(argc - 1, argv + 1)) {
				printf("vuproxy %s\n", vup__cli_version());
				return 0;
			}
			return subcommands[i].run(argc - 1, argv + 1);
		}
		fprintf(stderr, "vuproxy: unknown command '%s'\n", argv[1]);
		vup__cli_usage(stderr);
		return 2;
	}
	return vup__cli_proxy(argc, argv);
}
