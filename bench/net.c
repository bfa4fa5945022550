/*
 * net.c - what the ZeroMQ transport costs: the same exchange and progress
 * benchmarks as 2 processes x 1 worker (every other record and every
 * progress update crosses TCP loopback) and as 1 process x 2 threads.
 *
 *   bench_net [BATCH [ROUNDS [PROGRESS_ROUNDS]]]   (default 200000 10 20000)
 *
 * A driver: runs bench_exchange and bench_progress (next to this binary)
 * directly and under tide-cluster -n 2, each doing its own warm-up and
 * median of 5, and prints their figures side by side with ratios.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static char dir[PATH_MAX];

/* The value of "key=" in @line, or -1. */
static double field(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(line, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

/* Run @cmd; the first stdout line containing @tag (copied into @out). */
static int run(const char *cmd, const char *tag, char *out, size_t size)
{
    fprintf(stderr, "bench_net: %s\n", cmd);
    FILE *f = popen(cmd, "r");
    if (f == NULL) return -1;
    char line[2048];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (!found && strstr(line, tag)) {
            snprintf(out, size, "%s", line);
            found = 1;
        }
    int st = pclose(f);
    return found && st == 0 ? 0 : -1;
}

/* Two free loopback ports for a 2-process run, picked just before it (the
 * pid-derived port used before could be taken); 0 with a message if none. */
static unsigned free_ports(void)
{
    unsigned port = bench_free_ports(2);
    if (port == 0) fprintf(stderr, "bench_net: no two free loopback ports in 20000..31999\n");
    return port;
}

int main(int argc, char **argv)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 1;
    self[n] = '\0';
    snprintf(dir, sizeof dir, "%s", dirname(self));
    unsigned long batch = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    unsigned long rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 10;
    unsigned long prounds = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000;
    char cmd[2 * PATH_MAX + 256], one[2048], two[2048];

    snprintf(cmd, sizeof cmd, "'%s/bench_exchange' -w 2 --no-pin %lu %lu", dir, batch, rounds);
    if (run(cmd, "bench=exchange", one, sizeof one) < 0) return 1;
    unsigned port = free_ports();
    if (port == 0) return 1;
    snprintf(cmd, sizeof cmd,
             "'%s/tide-cluster' -n 2 --port %u --no-pin -- '%s/bench_exchange' %lu %lu", dir, port,
             dir, batch, rounds);
    if (run(cmd, "[0] bench=exchange", two, sizeof two) < 0) return 1;
    double r1 = field(one, "records_per_s"), r2 = field(two, "records_per_s");
    printf("bench=net_exchange batch=%lu rounds=%lu n1w2_records_per_s=%.4g n1w2_mb_per_s=%.1f "
           "n2w1_records_per_s=%.4g n2w1_mb_per_s=%.1f net_mb_per_s=%.1f ratio_n2w1_vs_n1w2=%.2f "
           "%s\n",
           batch, rounds, r1, field(one, "mb_per_s"), r2, field(two, "mb_per_s"),
           field(two, "mb_per_s") / 2, r2 / r1, bench_machine());

    snprintf(cmd, sizeof cmd, "'%s/bench_progress' -w 2 --no-pin %lu", dir, prounds);
    if (run(cmd, "bench=progress", one, sizeof one) < 0) return 1;
    if ((port = free_ports()) == 0) return 1;
    snprintf(cmd, sizeof cmd,
             "'%s/tide-cluster' -n 2 --port %u --no-pin -- '%s/bench_progress' %lu", dir, port, dir,
             prounds);
    if (run(cmd, "[0] bench=progress", two, sizeof two) < 0) return 1;
    double p1 = field(one, "advance_p50_us"), p2 = field(two, "advance_p50_us");
    double b1 = field(one, "barrier_us"), b2 = field(two, "barrier_us");
    printf("bench=net_progress rounds=%lu n1w2_advance_p50_us=%.2f n1w2_advance_p99_us=%.2f "
           "n2w1_advance_p50_us=%.2f n2w1_advance_p99_us=%.2f ratio_p50_n2w1_vs_n1w2=%.2f "
           "n1w2_barrier_us=%.2f n2w1_barrier_us=%.2f ratio_barrier=%.2f %s\n",
           prounds, p1, field(one, "advance_p99_us"), p2, field(two, "advance_p99_us"), p2 / p1, b1,
           b2, b2 / b1, bench_machine());
    return 0;
}
