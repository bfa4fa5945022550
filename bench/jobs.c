/*
 * jobs.c - the cluster service's costs: submit-to-first-output latency on a
 * warm cluster, and 100 concurrent small jobs.
 *
 *   bench_jobs [-n N] [-w W] [--runs R] [--concurrent C]
 *
 * Starts a cluster with the `tide` binary next to this one (own state
 * directory, loopback), then speaks the control protocol directly (one
 * DEALER, apps/tide/client.c) so the figures are the service's, not the
 * CLI's start-up: a submit of test-jobs/hello.so (worker 0 prints one line)
 * is timed to its first "out" and to its "done"; after 3 warm-up jobs, R
 * runs give p50/p99. Then C submits are sent at once and timed until every
 * "done" arrived. Also times the whole `tide submit` command (exec included).
 * Stops the cluster at the end (and on any failure).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "common.h"

static char dir[4096], tide[4200], hello[4200], state[256];

static int sh(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (p == NULL) return -1;
    size_t n = out ? fread(out, 1, cap - 1, p) : 0;
    if (out) out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void stop_cluster(void)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "'%s' cluster stop >/dev/null 2>&1", tide);
    sh(cmd, NULL, 0);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void submit(cli_conn *c, const char *so, size_t n)
{
    ctl_w w;
    ctl_w_begin(&w, "submit", 3);
    ctl_w_str(&w, "name", "hello");
    ctl_w_bin(&w, "so", so, n);
    ctl_w_key(&w, "args");
    msgpack_pack_array(&w.pk, 0);
    cli_send(c, &w);
}

/* Wait for one message; returns its type: 'a'ccepted, 'o'ut, 'd'one, 'e'rror. */
static int next(cli_conn *c, uint64_t *id, int64_t *rc)
{
    zmq_msg_t m;
    ctl_doc d;
    if (cli_recv(c, "bench_jobs", &m, &d, 30000)) return 0;
    int t = ctl_is(&d, "accepted") ? 'a' : ctl_is(&d, "out") ? 'o' : ctl_is(&d, "done") ? 'd' : 'e';
    *id = ctl_u64(&d, 0, "id", 0);
    *rc = ctl_i64(&d, 0, "rc", -1);
    ctl_doc_fini(&d);
    zmq_msg_close(&m);
    return t;
}

/* One job: microseconds to its first output and to its end. */
static int one(cli_conn *c, const char *so, size_t n, double *first_us, double *done_us)
{
    uint64_t t0 = bench_now_ns(), id;
    int64_t rc;
    submit(c, so, n);
    *first_us = -1;
    for (;;) {
        int t = next(c, &id, &rc);
        if (t == 0 || t == 'e') return -1;
        if (t == 'o' && *first_us < 0) *first_us = (double)(bench_now_ns() - t0) / 1e3;
        if (t == 'd') {
            *done_us = (double)(bench_now_ns() - t0) / 1e3;
            return rc == 0 && *first_us >= 0 ? 0 : -1;
        }
    }
}

int main(int argc, char **argv)
{
    int n = 2, w = 2, runs = 20, conc = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-n") == 0) n = atoi(argv[i + 1]);
        if (strcmp(argv[i], "-w") == 0) w = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--runs") == 0) runs = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--concurrent") == 0) conc = atoi(argv[i + 1]);
    }
    if (runs < 5) runs = 5;
    ssize_t k = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (k <= 0) return 1;
    dir[k] = 0;
    dirname(dir);
    snprintf(tide, sizeof tide, "%s/tide", dir);
    snprintf(hello, sizeof hello, "%s/test-jobs/hello.so", dir);
    snprintf(state, sizeof state, "/tmp/bench_jobs.%d", (int)getpid());
    mkdir(state, 0700);
    setenv("XDG_RUNTIME_DIR", state, 1);
    unsetenv("TIDE_CLUSTER");

    char cmd[9000], addr[256];
    snprintf(cmd, sizeof cmd, "'%s' cluster start -n %d -w %d --no-pin --port %d", tide, n, w,
             20000 + (int)(getpid() % 12000)); /* below the ephemeral range */
    if (sh(cmd, addr, sizeof addr) != 0) {
        fprintf(stderr, "bench_jobs: '%s' failed\n", cmd);
        return 1;
    }
    addr[strcspn(addr, "\n")] = 0;
    fprintf(stderr, "bench_jobs: cluster %d x %d at %s\n", n, w, addr);
    size_t so_n = 0;
    char *so = slurp(hello, &so_n);
    cli_conn c;
    int rc = 1;
    if (so == NULL || cli_open(&c, "bench_jobs", addr)) goto out;

    double *first = calloc((size_t)runs, sizeof *first), *done = calloc((size_t)runs, sizeof *done);
    double f, d;
    for (int i = 0; i < 3; i++)
        if (one(&c, so, so_n, &f, &d) < 0) goto fail;
    for (int i = 0; i < runs; i++)
        if (one(&c, so, so_n, &first[i], &done[i]) < 0) goto fail;
    double p50 = bench_median(first, (size_t)runs), p99 = bench_percentile(first, (size_t)runs, 99);
    double d50 = bench_median(done, (size_t)runs);

    /* C jobs at once on one connection: submits pipelined, count the dones. */
    uint64_t t0 = bench_now_ns(), id;
    int64_t jrc;
    for (int i = 0; i < conc; i++) submit(&c, so, so_n);
    int ndone = 0, nfail = 0;
    while (ndone < conc) {
        int t = next(&c, &id, &jrc);
        if (t == 0 || t == 'e') goto fail;
        if (t == 'd') ndone++, nfail += jrc != 0;
    }
    double total_ms = (double)(bench_now_ns() - t0) / 1e6;

    /* The whole command, exec and connection included. */
    double cli[5];
    snprintf(cmd, sizeof cmd, "'%s' submit '%s' >/dev/null 2>&1", tide, hello);
    for (int i = 0; i < 5; i++) {
        uint64_t s = bench_now_ns();
        if (sh(cmd, NULL, 0) != 0) goto fail;
        cli[i] = (double)(bench_now_ns() - s) / 1e6;
    }
    printf("bench=jobs processes=%d workers=%d runs=%d first_output_p50_us=%.0f "
           "first_output_p99_us=%.0f done_p50_us=%.0f cli_submit_p50_ms=%.1f %s\n",
           n, w, runs, p50, p99, d50, bench_median(cli, 5), bench_machine());
    printf("bench=jobs_concurrent processes=%d workers=%d jobs=%d failed=%d total_ms=%.1f "
           "per_job_ms=%.2f %s\n",
           n, w, conc, nfail, total_ms, total_ms / conc, bench_machine());
    rc = nfail ? 1 : 0;
    free(first);
    free(done);
    cli_close(&c);
    goto out;
fail:
    fprintf(stderr, "bench_jobs: a job failed or the cluster did not answer\n");
    cli_close(&c);
out:
    free(so);
    stop_cluster();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", state);
    sh(cmd, NULL, 0);
    return rc;
}
