#include "tool.h"
int cmd_witness(int argc, char **argv) { (void)argc; (void)argv; return 2; }
