/*
 * test_tutorial.c - the programs of docs/tutorial.md (apps/examples/
 * tutorial_*.c) run as a user runs them, one process with 1 or 2 threads
 * and 2 processes, their output checked against answers computed here:
 * squares, counts per epoch, two-hop path counts and bfs distances of the
 * tutorial's changing graph (naive recomputation per epoch), and the stall
 * report of step 5 (a never-advanced input named, with its worker, within
 * the configured 200 ms stall time, and the run failing) at W = 1, W = 2
 * and 2 processes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_run.h"

TestSuite(tutorial);

#define MAXN   32
#define EPOCHS 4
#define NONE   INT64_MIN

/* ---- running -------------------------------------------------------------------- */

typedef struct layout {
    uint32_t n, w;
} layout;

static const layout layouts[] = {{1, 1}, {1, 2}, {2, 1}};

static char *run(const char *prog, const char *arg, layout l, char **err)
{
    const char *args[] = {arg, NULL};
    int rc;
    char *out = tide_test_run_sorted(l.n, l.w, tide_test_bin(prog), args, &rc, err);
    cr_assert_eq(rc, 0, "%s %s under %u x %u failed: %s", prog, arg, l.n, l.w, *err);
    return out;
}

/* ---- step 1: squares --------------------------------------------------------------- */

Test(tutorial, step1_map)
{
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        char *err, want[1024] = "";
        char *out = run("tutorial_1_map", "7", layouts[i], &err);
        for (unsigned x = 1; x <= 7; x++) {
            size_t at = strlen(want);
            snprintf(want + at, sizeof want - at, "square %u %u\n", x, x * x);
        }
        char *sorted = tide_test_sorted_lines(want);
        cr_expect_str_eq(out, sorted, "%u x %u", layouts[i].n, layouts[i].w);
        free(sorted), free(out), free(err);
    }
}

/* ---- changes of (key, value) pairs ------------------------------------------------------ */

/* Accumulate "epoch E: <word> K <word> V +|-" lines; then for every epoch
 * and key the pairs present must be exactly want[e][k] (NONE: no pair). */
static void check_pairs(const char *out, int64_t want[EPOCHS][MAXN], uint32_t epochs, uint32_t keys,
                        const char *what)
{
    static int64_t acc[EPOCHS][MAXN][4 * MAXN]; /* [epoch of change][key][value + MAXN] */
    memset(acc, 0, sizeof acc);
    const char *p = out;
    uint32_t lines = 0;
    while (*p) {
        unsigned long long e, k;
        long long v;
        char sign;
        cr_assert_eq(sscanf(p, "epoch %llu: %*s %llu %*s %lld %c", &e, &k, &v, &sign), 4,
                     "%s: bad line '%.60s'", what, p);
        cr_assert(e < epochs && k < keys && v >= -MAXN && v < 3 * MAXN, "%s: '%.60s'", what, p);
        acc[e][k][v + MAXN] += sign == '+' ? 1 : -1;
        lines++;
        p = strchr(p, '\n');
        if (p == NULL) break;
        p++;
    }
    cr_assert_gt(lines, 0, "%s: no output", what);
    for (uint32_t k = 0; k < keys; k++) {
        int64_t m[4 * MAXN] = {0};
        for (uint32_t e = 0; e < epochs; e++) {
            for (int v = 0; v < 4 * MAXN; v++) m[v] += acc[e][k][v];
            for (int v = 0; v < 4 * MAXN; v++) {
                int64_t expect = want[e][k] != NONE && want[e][k] + MAXN == v ? 1 : 0;
                cr_assert_eq(m[v], expect, "%s: epoch %u key %u value %d: multiplicity %lld", what,
                             e, k, v - MAXN, (long long)m[v]);
            }
        }
    }
}

/* ---- step 2: counts ------------------------------------------------------------------- */

Test(tutorial, step2_count)
{
    const uint32_t n = 9, epochs = 4;
    int64_t want[EPOCHS][MAXN];
    for (uint32_t e = 0; e < epochs; e++)
        for (uint32_t k = 0; k < MAXN; k++) {
            int64_t c = 0;
            for (uint32_t x = 1; x <= n; x++) c += x % (e + 2) == k;
            want[e][k] = c ? c : NONE;
        }
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        char *err;
        char *out = run("tutorial_2_count", "9", layouts[i], &err);
        check_pairs(out, want, epochs, MAXN, "tutorial_2_count");
        free(out), free(err);
    }
}

/* ---- the tutorial's graph, naively ----------------------------------------------------------- */

static void graph(int adj[MAXN][MAXN], uint32_t n, uint32_t e)
{
    for (uint32_t s = 0; s < n; s++) {
        if (e == 0) adj[s][(s + 1) % n] += 1;
        if (e == 1 && s % 4 == 2) adj[s][(s + 1) % n] -= 1;
        if (e == 1 && s % 2 == 0) adj[s][(3 * s + 1) % n] += 1;
        if (e == 2 && s % 5 == 2) adj[s][(s + 5) % n] += 1;
        if (e == 2 && s % 6 == 0) adj[s][(3 * s + 1) % n] -= 1;
    }
}

Test(tutorial, step3_join)
{
    const uint32_t n = 12;
    int adj[MAXN][MAXN] = {{0}};
    int64_t want[EPOCHS][MAXN];
    for (uint32_t e = 0; e < 3; e++) {
        graph(adj, n, e);
        for (uint32_t a = 0; a < n; a++) {
            int64_t paths = 0;
            for (uint32_t b = 0; b < n; b++)
                for (uint32_t c = 0; c < n; c++) paths += adj[a][b] * adj[b][c];
            want[e][a] = paths ? paths : NONE;
        }
    }
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        char *err;
        char *out = run("tutorial_3_join", "12", layouts[i], &err);
        check_pairs(out, want, 3, n, "tutorial_3_join");
        free(out), free(err);
    }
}

Test(tutorial, step4_bfs_constant_root)
{
    const uint32_t n = 12;
    int adj[MAXN][MAXN] = {{0}};
    int64_t want[EPOCHS][MAXN];
    for (uint32_t e = 0; e < 3; e++) {
        graph(adj, n, e);
        for (uint32_t v = 0; v < n; v++) want[e][v] = NONE;
        want[e][0] = 0;
        for (uint32_t round = 0; round < n; round++) /* Bellman-Ford on unit weights */
            for (uint32_t s = 0; s < n; s++)
                for (uint32_t d = 0; d < n; d++)
                    if (adj[s][d] > 0 && want[e][s] != NONE &&
                        (want[e][d] == NONE || want[e][s] + 1 < want[e][d]))
                        want[e][d] = want[e][s] + 1;
    }
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        char *err;
        char *out = run("tutorial_4_bfs", "12", layouts[i], &err);
        check_pairs(out, want, 3, n, "tutorial_4_bfs");
        free(out), free(err);
    }
}

/* ---- step 5: epochs, and the stall report ------------------------------------------------------
 */

Test(tutorial, step5_epochs_complete)
{
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        const char *args[] = {NULL};
        int rc;
        char *err;
        char *out = tide_test_run_sorted(layouts[i].n, layouts[i].w,
                                         tide_test_bin("tutorial_5_stall"), args, &rc, &err);
        cr_assert_eq(rc, 0, "%s", err);
        char want[512] = "";
        for (int e = 0; e < 3; e++)
            for (uint32_t k = 0; k < layouts[i].n * layouts[i].w; k++) {
                size_t at = strlen(want);
                snprintf(want + at, sizeof want - at, "epoch %d complete\n", e);
            }
        cr_expect_str_eq(out, want);
        free(out), free(err);
    }
}

Test(tutorial, step5_stall_report_names_the_input)
{
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        layout l = layouts[i];
        const char *args[] = {"--forget", "--stall-timeout", "200", NULL};
        tide_test_cluster c;
        cr_assert_eq(
            tide_test_cluster_start(&c, l.n, l.w, 10000, tide_test_bin("tutorial_5_stall"), args),
            0);
        /* The processes end by themselves, with an error, well before this
         * deadline (which would SIGKILL them: exit code 137). */
        tide_test_cluster_wait(&c, 20000);
        char who[32];
        snprintf(who, sizeof who, "on worker %u", l.n * l.w - 1);
        bool named = false;
        for (uint32_t p = 0; p < l.n; p++) {
            cr_expect_eq(tide_test_cluster_code(&c, p), 1, "%u x %u: process %u exit %d", l.n, l.w,
                         p, tide_test_cluster_code(&c, p));
            char *err = tide_test_slurp(c.err[p]);
            if (strstr(err, "input 'limits'") && strstr(err, "epoch 0") && strstr(err, who) &&
                strstr(err, "TIDE_ETIMEDOUT"))
                named = true;
            free(err);
        }
        char *err0 = tide_test_slurp(c.err[0]);
        cr_expect(named, "%u x %u: no report naming input 'limits' %s; process 0 said: %s", l.n,
                  l.w, who, err0);
        free(err0);
        tide_test_cluster_cleanup(&c);
    }
}
