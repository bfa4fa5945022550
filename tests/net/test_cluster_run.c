/*
 * test_cluster_run.c - real multi-process runs over the ZeroMQ transport on
 * loopback: the same jobs under N processes x W threads give the output of
 * one process with N*W threads (exchange, a loop, wordcount); a killed or
 * stopped process makes the others fail within --peer-timeout, naming it.
 * Programs come from the build directory (apps/examples); processes are
 * started and reaped by tests/support/cluster_run.c.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_run.h"

/* No criterion .timeout: every wait below has its own deadline, and criterion
 * 2.4 leaks its watchdog entries under --jobs 2 (an LSan report). */
TestSuite(cluster_run);

/* @prog @args under n x w equals the single process with n * w threads. */
static void same_as_single(const char *prog, const char *const *args, uint32_t n, uint32_t w)
{
    int rc1, rcn;
    char *err1, *errn;
    char *one = tide_test_run_sorted(1, n * w, tide_test_bin(prog), args, &rc1, &err1);
    char *many = tide_test_run_sorted(n, w, tide_test_bin(prog), args, &rcn, &errn);
    cr_expect_eq(rc1, 0, "single process failed: %s", err1);
    cr_expect_eq(rcn, 0, "%u x %u failed: %s", n, w, errn);
    cr_expect(strlen(one) > 0, "no output");
    cr_expect_str_eq(many, one, "%s under %u x %u differs from 1 x %u", prog, n, w, n * w);
    free(one), free(many), free(err1), free(errn);
}

static const char *const exchange_args[] = {"exchange", "20000", "4", NULL};
static const char *const loop_args[] = {"loop", "3000", NULL};

Test(cluster_run, exchange_n2_w1)
{
    same_as_single("netcheck", exchange_args, 2, 1);
}
Test(cluster_run, exchange_n2_w2)
{
    same_as_single("netcheck", exchange_args, 2, 2);
}
Test(cluster_run, exchange_n3_w1)
{
    same_as_single("netcheck", exchange_args, 3, 1);
}
Test(cluster_run, exchange_n3_w2)
{
    same_as_single("netcheck", exchange_args, 3, 2);
}
Test(cluster_run, loop_n2_w1)
{
    same_as_single("netcheck", loop_args, 2, 1);
}
Test(cluster_run, loop_n2_w2)
{
    same_as_single("netcheck", loop_args, 2, 2);
}
Test(cluster_run, loop_n3_w1)
{
    same_as_single("netcheck", loop_args, 3, 1);
}
Test(cluster_run, loop_n3_w2)
{
    same_as_single("netcheck", loop_args, 3, 2);
}

/* wordcount prints the words its workers own: together, the single output. */
Test(cluster_run, wordcount_n2_w1)
{
    same_as_single("wordcount", NULL, 2, 1);
}
Test(cluster_run, wordcount_n3_w2)
{
    same_as_single("wordcount", NULL, 3, 2);
}

/* Differential dataflows across processes: bfs (join, min per key, iterate)
 * and reachability (join, distinct, iterate) print every change of their
 * output per epoch; together the processes print the single-process lines. */
Test(cluster_run, bfs_n2_w1)
{
    same_as_single("bfs", NULL, 2, 1);
}
Test(cluster_run, bfs_n3_w2)
{
    same_as_single("bfs", NULL, 3, 2);
}
Test(cluster_run, reachability_n2_w2)
{
    same_as_single("reachability", NULL, 2, 2);
}
Test(cluster_run, reachability_n3_w1)
{
    same_as_single("reachability", NULL, 3, 1);
}

Test(cluster_run, exchange_records_exactly_once)
{
    int rc;
    char *out = tide_test_run_sorted(3, 2, tide_test_bin("netcheck"), exchange_args, &rc, NULL);
    cr_assert_eq(rc, 0);
    unsigned long long total = 0, bad = 0;
    for (char *l = out; l && *l; l = strchr(l, '\n') + 1) {
        unsigned long long r, b;
        if (sscanf(l, "exchange worker=%*u records=%llu sum=%*u mix=%*x bad=%llu", &r, &b) == 2)
            total += r, bad += b;
        if (strchr(l, '\n') == NULL) break;
    }
    cr_expect_eq(total, 20000ull * 4 * 6, "records received %llu", total);
    cr_expect_eq(bad, 0);
    free(out);
}

/* Start 3 processes of a long exchange loop; once all run, hit process 1
 * with @sig; the others must fail within the peer timeout, naming it. */
static void lose_one(int sig)
{
    const uint32_t timeout = 2000;
    const char *const args[] = {"spin", "30", NULL};
    tide_test_cluster c;
    cr_assert_eq(tide_test_cluster_start(&c, 3, 1, timeout, tide_test_bin("netcheck"), args), 0);
    int ready = 0;
    uint64_t until = tide_test_now_ms() + 15000;
    while (!ready && tide_test_now_ms() < until) {
        ready = 1;
        for (uint32_t i = 0; i < 3; i++) {
            char *s = tide_test_slurp(c.out[i]);
            ready &= strstr(s, "ready") != NULL;
            free(s);
        }
        usleep(10000);
    }
    uint64_t t0 = tide_test_now_ms();
    if (ready) kill(c.pid[1], sig);
    tide_test_cluster_wait(&c, ready ? timeout + 3000 : 0);
    char name[64];
    snprintf(name, sizeof name, "process 1 at 127.0.0.1:%u", c.port + 1);
    int code[3];
    uint64_t took[3];
    char *err[3];
    for (uint32_t i = 0; i < 3; i++) {
        code[i] = tide_test_cluster_code(&c, i);
        took[i] = c.exit_ms[i] - t0;
        err[i] = tide_test_slurp(c.err[i]);
    }
    tide_test_cluster_cleanup(&c);
    cr_assert(ready, "the processes did not start");
    for (uint32_t i = 0; i < 3; i += 2) {
        cr_expect_eq(code[i], 1, "process %u exit code %d; stderr: %s", i, code[i], err[i]);
        cr_expect(strstr(err[i], name) != NULL, "process %u: '%s' lacks '%s'", i, err[i], name);
        cr_expect(took[i] <= timeout + 500, "process %u took %llu ms to give up", i,
                  (unsigned long long)took[i]);
    }
    for (uint32_t i = 0; i < 3; i++) free(err[i]);
}

Test(cluster_run, kill9_one_of_three)
{
    lose_one(SIGKILL);
}
Test(cluster_run, stopped_one_of_three)
{
    lose_one(SIGSTOP);
}
