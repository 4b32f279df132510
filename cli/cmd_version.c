/* cmd_version.c: `compacter version`. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("compacter 0.1 (CUDA backend: %s)\n",
#ifdef HAVE_CUDA
           "built"
#else
           "not built"
#endif
    );
    return 0;
}
