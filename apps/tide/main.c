/*
 * tide - the command-line front end of a tide cluster.
 *
 *   tide COMMAND [ARGS...]     (tide --help lists the commands)
 *
 * Dispatches to one subcommand per file; see commands.h. Exit status: the
 * subcommand's, or 2 for an unknown command.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "tide/tide.h"

const tide_command tide_commands[] = {
    {"cluster", "start or stop the cluster service (start, stop)", tide_cmd_cluster},
    {"submit", "run a job (a shared object) on the cluster", tide_cmd_submit},
    {"jobs", "list the cluster's jobs", tide_cmd_jobs},
    {"cancel", "cancel a job", tide_cmd_cancel},
    {"status", "show processes, workers, memory and arrangements", tide_cmd_status},
    {"keygen", "write a cluster key file (CURVE)", tide_cmd_keygen},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tide COMMAND [ARGS...]\n\ncommands:\n");
    for (const tide_command *c = tide_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n'tide COMMAND --help' describes one command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tide %s\n", TIDE_VERSION);
        return 0;
    }
    for (const tide_command *c = tide_commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "tide: unknown command '%s' (tide --help lists them)\n", argv[1]);
    return 2;
}
