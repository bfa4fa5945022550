/*
 * test_bench_bfs_cluster.c - bench_bfs checks itself against a from-scratch
 * BFS and exits 1 on a mismatch; under N processes it used to compare one
 * process's share of the reached nodes with the whole graph's count (issue
 * 17, item 7). Here it must agree with its baseline, and every process must
 * report the same whole-graph count, under 2 x 1, 2 x 2 and 3 x 1. Skipped
 * where the benchmarks are not built (the sanitizer flavours).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_run.h"

static const char *const bfs_args[] = {"600", "1800", "20", "2", NULL};

static void bfs_cluster(uint32_t n, uint32_t w)
{
    const char *bin = tide_test_bin("bench_bfs");
    if (access(bin, X_OK) != 0) { /* (cr_skip_test is not in the TSan shim) */
        fprintf(stderr, "bench_bfs_cluster: skipped, bench_bfs is not built here\n");
        return;
    }
    tide_test_cluster c;
    cr_assert_eq(tide_test_cluster_start(&c, n, w, 10000, bin, bfs_args), 0);
    int rc = tide_test_cluster_wait(&c, 60000);
    char *out = tide_test_cluster_stdout(&c);
    char *err = tide_test_slurp(c.err[0]);
    cr_expect_eq(rc, 0, "bench_bfs %u x %u failed:\n%s", n, w, err);
    cr_expect(strstr(err, "MISMATCH") == NULL, "%s", err);
    /* One line per process, each with the same reached=... as its baseline. */
    uint32_t lines = 0;
    for (const char *p = out; (p = strstr(p, "bench=bfs ")) != NULL; p++) {
        const char *r = strstr(p, " reached="), *b = strstr(p, " baseline_reached=");
        cr_assert(r && b, "%s", out);
        cr_expect_eq(strtoull(r + 9, NULL, 10), strtoull(b + 18, NULL, 10), "%s", out);
        cr_expect(strtoull(r + 9, NULL, 10) > 0, "%s", out);
        lines++;
    }
    cr_expect_eq(lines, n, "%s", out);
    free(out), free(err);
    tide_test_cluster_cleanup(&c);
}

Test(bench_bfs_cluster, n2_w1)
{
    bfs_cluster(2, 1);
}
Test(bench_bfs_cluster, n2_w2)
{
    bfs_cluster(2, 2);
}
Test(bench_bfs_cluster, n3_w1)
{
    bfs_cluster(3, 1);
}
