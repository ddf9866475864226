#include "vuproxy/cli.h"

int main(int argc, char **argv)
{
	return vup_cli_main(argc, argv);
}
