/*
 * cancel.c - `tide cancel [--cluster ADDR] ID`: drop a running job's
 * dataflows on every worker (its submitter sees "cancelled", exit 1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "commands.h"

#define PROG "tide cancel"

int tide_cmd_cancel(int argc, char **argv)
{
    const char *given = NULL;
    int orc = cli_common_opts(
        argc, argv, PROG, "cancel",
        "Usage: tide cancel [--cluster ADDR] [--keys FILE] ID\n"
        "Cancel job ID ('tide jobs' lists them): its dataflows are dropped and their\n"
        "memory freed on every worker.\n"
        "Exit status: 0 cancelled, 1 no such running job, 2 usage error.\n",
        &given);
    if (orc >= 0) return orc;
    if (optind + 1 != argc) return cli_usage_error(PROG, "expected one job ID");
    char *end;
    unsigned long long id = strtoull(argv[optind], &end, 10);
    if (argv[optind][0] < '0' || argv[optind][0] > '9' || *end || id == 0)
        return cli_usage_error(PROG, "'%s' is not a job id (a positive number)", argv[optind]);
    ctl_w w;
    ctl_w_begin(&w, "cancel", 1);
    ctl_w_u64(&w, "id", id);
    cli_reply r;
    int rc = cli_ask(PROG, given, &w, 10000, &r);
    if (rc == 0) printf("cancelled job %llu\n", id);
    cli_reply_fini(&r);
    return rc;
}
