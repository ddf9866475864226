/* cli: subcommands and options; main() only calls this. */
#ifndef VUPROXY_CLI_H
#define VUPROXY_CLI_H

int vup_cli_main(int argc, char **argv);

#endif
