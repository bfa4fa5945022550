/*
 * std_flags.h - --help and --version for the example programs, answered
 * before tide_config_parse (which would take them for cluster flags or run
 * the demo): --help prints @usage (then the cluster flags) on stdout,
 * --version "NAME (tide) VERSION"; both exit 0.
 */
#ifndef TIDE_EXAMPLES_STD_FLAGS_H
#define TIDE_EXAMPLES_STD_FLAGS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/tide.h"

/* Scan @argv for --help / --version (up to a "--"); if one is there, answer
 * it and exit(0). @usage: the program's own lines, ending in "\n". */
static inline void example_std_flags(int argc, char **argv, const char *name, const char *usage)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("%s\n%s", usage, tide_config_usage());
            exit(0);
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s (tide) %s\n", name, TIDE_VERSION);
            exit(0);
        }
    }
}

#endif /* TIDE_EXAMPLES_STD_FLAGS_H */
