/* dump: the `vuproxy dump` subcommand. */
#ifndef VUPROXY_DUMP_H
#define VUPROXY_DUMP_H

int vup_dump_main(int argc, char **argv);

#endif
