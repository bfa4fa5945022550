/*
 * status.c - `tide status [--cluster ADDR]`: the processes (pid, workers,
 * pinned cores, memory, uptime, restarts) and every published
 * arrangement's shards (name, owner job, records and bytes per worker).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "commands.h"

#define PROG "tide status"

static const char *mib(char *out, size_t cap, uint64_t b)
{
    snprintf(out, cap, "%.1f MiB", (double)b / (1024.0 * 1024.0));
    return out;
}

static void print_processes(const ctl_doc *d)
{
    printf("%-8s %-8s %-14s %-8s %-12s %12s %10s %s\n", "PROCESS", "PID", "STATE", "WORKERS",
           "CORES", "RSS", "UPTIME", "RESTARTS");
    int arr = ctl_get(d, 0, "processes");
    for (int e = arr >= 0 ? d->nodes[arr].child : -1; e >= 0; e = d->nodes[e].next) {
        char state[32], cores[128] = "", m[32];
        int ca = ctl_get(d, e, "cores");
        size_t k = 0;
        for (int x = ca >= 0 ? d->nodes[ca].child : -1; x >= 0 && k + 16 < sizeof cores;
             x = d->nodes[x].next) {
            int core = (int)d->nodes[x].i;
            if (core < 0)
                k += (size_t)snprintf(cores + k, sizeof cores - k, "%s-", k ? "," : "");
            else
                k += (size_t)snprintf(cores + k, sizeof cores - k, "%s%d", k ? "," : "", core);
        }
        printf("%-8llu %-8lld %-14s %-8llu %-12s %12s %9.1fs %llu\n",
               (unsigned long long)ctl_u64(d, e, "process", 0), (long long)ctl_i64(d, e, "pid", 0),
               ctl_str(d, e, "state", state, sizeof state),
               (unsigned long long)ctl_u64(d, e, "workers", 0), k ? cores : "-",
               mib(m, sizeof m, ctl_u64(d, e, "rss", 0)),
               (double)ctl_i64(d, e, "uptime_us", 0) / 1e6,
               (unsigned long long)ctl_u64(d, e, "restarts", 0));
    }
}

static void print_arrangements(const ctl_doc *d)
{
    int arr = ctl_get(d, 0, "arrs");
    if (arr < 0 || d->nodes[arr].n == 0) {
        printf("\nno published arrangements\n");
        return;
    }
    printf("\n%-24s %-8s %-8s %-8s %12s %12s\n", "ARRANGEMENT", "OWNER", "PROCESS", "WORKER",
           "RECORDS", "BYTES");
    for (int e = d->nodes[arr].child; e >= 0; e = d->nodes[e].next) {
        char name[64];
        printf("%-24s %-8llu %-8llu %-8llu %12llu %12llu\n", ctl_str(d, e, "name", name, 64),
               (unsigned long long)ctl_u64(d, e, "owner", 0),
               (unsigned long long)ctl_u64(d, e, "process", 0),
               (unsigned long long)ctl_u64(d, e, "worker", 0),
               (unsigned long long)ctl_u64(d, e, "records", 0),
               (unsigned long long)ctl_u64(d, e, "bytes", 0));
    }
}

int tide_cmd_status(int argc, char **argv)
{
    const char *given = NULL;
    int orc =
        cli_common_opts(argc, argv, PROG, "status",
                        "Usage: tide status [--cluster ADDR] [--keys FILE]\n"
                        "Show the cluster: each process's pid, state, workers, pinned cores ('-'\n"
                        "unpinned), resident memory, uptime and restarts; then each published\n"
                        "arrangement's shards: name, owner job, process, worker, records, bytes.\n",
                        &given);
    if (orc >= 0) return orc;
    if (optind < argc) return cli_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
    ctl_w w;
    ctl_w_begin(&w, "status", 0);
    cli_reply r;
    int rc = cli_ask(PROG, given, &w, 10000, &r);
    if (rc == 0) {
        char a[CLI_ADDR_MAX];
        printf("cluster %s  generation %llu  uptime %.1fs\n\n",
               ctl_str(&r.d, 0, "addr", a, sizeof a),
               (unsigned long long)ctl_u64(&r.d, 0, "gen", 0),
               (double)ctl_i64(&r.d, 0, "uptime_us", 0) / 1e6);
        print_processes(&r.d);
        print_arrangements(&r.d);
    }
    cli_reply_fini(&r);
    return rc;
}
