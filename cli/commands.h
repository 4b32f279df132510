/* commands.h: declarations of every sub-command listed in commands.def. */
#ifndef COMPACTER_CLI_COMMANDS_H
#define COMPACTER_CLI_COMMANDS_H
#define X(name, fn, summary) int fn(int argc, char **argv);
#include "cli/commands.def"
#undef X
#endif
