/*
 * commands.h - the subcommands of the `tide` command-line tool.
 *
 * Each subcommand lives in its own file (keygen.c, cluster.c, submit.c, ...)
 * and exports one function that takes the arguments after its name
 * (argv[0] is the subcommand's name) and returns the process exit status:
 * 0 on success, 1 on a failure it reported on stderr, 2 on a usage error.
 */
#ifndef TIDE_APP_COMMANDS_H
#define TIDE_APP_COMMANDS_H

typedef struct tide_command {
    const char *name;    /* as typed: "submit" */
    const char *summary; /* one line for `tide --help` */
    int (*run)(int argc, char **argv);
} tide_command;

/* The subcommands, one per file. */
int tide_cmd_keygen(int argc, char **argv); /* keygen.c */

/* The table, NULL-terminated (main.c). */
extern const tide_command tide_commands[];

/* The service commands (cluster.c, submit.c, jobs.c, cancel.c, status.c). */
int tide_cmd_cluster(int argc, char **argv);
int tide_cmd_submit(int argc, char **argv);
int tide_cmd_jobs(int argc, char **argv);
int tide_cmd_cancel(int argc, char **argv);
int tide_cmd_status(int argc, char **argv);

#endif /* TIDE_APP_COMMANDS_H */
