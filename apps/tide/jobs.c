/*
 * jobs.c - `tide jobs [--cluster ADDR]`: the cluster's jobs, one a line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "commands.h"

#define PROG "tide jobs"

static void when(char *out, size_t cap, int64_t us)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

int tide_cmd_jobs(int argc, char **argv)
{
    const char *given = NULL;
    int orc = cli_common_opts(
        argc, argv, PROG, "jobs",
        "Usage: tide jobs [--cluster ADDR] [--keys FILE]\n"
        "List the cluster's jobs (running ones and the last 1024 ended ones): id,\n"
        "name, state (pending, running, done, failed, cancelled), start time,\n"
        "records in (from the job's inputs) and out (leaving its dataflows), summed\n"
        "over all workers, the progress frontier (least epoch in progress, on\n"
        "process 0), and a failed job's message.\n",
        &given);
    if (orc >= 0) return orc;
    if (optind < argc) return cli_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
    ctl_w w;
    ctl_w_begin(&w, "jobs", 0);
    cli_reply r;
    int rc = cli_ask(PROG, given, &w, 10000, &r);
    if (rc == 0) {
        printf("%-6s %-20s %-10s %-19s %12s %12s %-10s %s\n", "ID", "NAME", "STATE", "STARTED",
               "IN", "OUT", "FRONTIER", "MESSAGE");
        int arr = ctl_get(&r.d, 0, "jobs");
        for (int e = arr >= 0 ? r.d.nodes[arr].child : -1; e >= 0; e = r.d.nodes[e].next) {
            char name[64], state[32], fr[64], msg[512], t[32];
            when(t, sizeof t, ctl_i64(&r.d, e, "start_us", 0));
            ctl_str(&r.d, e, "frontier", fr, sizeof fr);
            printf("%-6llu %-20s %-10s %-19s %12llu %12llu %-10s %s\n",
                   (unsigned long long)ctl_u64(&r.d, e, "id", 0),
                   ctl_str(&r.d, e, "name", name, 64),
                   ctl_str(&r.d, e, "state", state, sizeof state), t,
                   (unsigned long long)ctl_u64(&r.d, e, "in", 0),
                   (unsigned long long)ctl_u64(&r.d, e, "out", 0), fr[0] ? fr : "-",
                   ctl_str(&r.d, e, "msg", msg, sizeof msg));
        }
    }
    cli_reply_fini(&r);
    return rc;
}
