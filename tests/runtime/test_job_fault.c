/*
 * test_job_fault.c - allocation failures while a job starts and runs: the
 * Nth allocation fails (N over a range, in any thread: the host's or a
 * worker's); the job then either completes with the right output or fails
 * with TIDE_ENOMEM, never hangs, the workers serve the next job, and
 * nothing leaks (ASan).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../jobs/common.h"
#include "job_harness.h"
#include "tide_test.h"

#define KEYS 64
#define CMAX 1024

static void oracle(uint64_t seed, uint64_t n, int64_t *acc)
{
    int64_t cnt[KEYS] = {0};
    uint64_t s = seed;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key, val;
        int64_t diff;
        job_update(&s, KEYS, &key, &val, &diff);
        cnt[key] += diff;
    }
    memset(acc, 0, KEYS * CMAX * sizeof *acc);
    for (uint64_t k = 0; k < KEYS; k++)
        if (cnt[k] != 0) acc[k * CMAX + (uint64_t)(cnt[k] + CMAX / 2)] = 1;
}

static int start_count(job_harness *h, uint64_t id, uint64_t seed, tide_error *e)
{
    char a[32];
    snprintf(a, sizeof a, "%llu", (unsigned long long)seed);
    char *argv[4] = {a, "1500", "64", "2"};
    return tide__host_job_start(h->host, id, "count", job_harness_plugin("count"), 4, argv, e);
}

static void check(job_harness *h, uint64_t id, uint64_t seed)
{
    int64_t *got = calloc(KEYS * CMAX, sizeof *got), *want = calloc(KEYS * CMAX, sizeof *want);
    char *out = job_harness_out(h, id);
    cr_assert(job_harness_parse_counts(out, got, KEYS, CMAX), "malformed: %.100s", out);
    oracle(seed, 1500, want);
    cr_assert(memcmp(got, want, KEYS * CMAX * sizeof *got) == 0, "job %llu: wrong counts",
              (unsigned long long)id);
    free(out);
    free(got);
    free(want);
}

Test(job_fault, allocation_failures_fail_the_job_only)
{
    tide_rng r = {tide_test_seed("job_fault/allocation_failures_fail_the_job_only", 5)};
    uint32_t failed = 0, passed = 0;
    for (uint32_t round = 0; round < 24; round++) {
        long n = 1 + (long)tide_rng_below(&r, round < 12 ? 40 : 400);
        job_harness *h = job_harness_start(2);
        cr_assert_not_null(h);
        tide_error e = {0};
        tide_alloc_fail_after(n);
        int rc = start_count(h, 1, 100 + round, &e);
        if (rc == TIDE_OK) {
            char msg[256];
            rc = job_harness_wait(h, 1, 30000, msg);
            cr_assert(rc == TIDE_OK || rc == TIDE_ENOMEM, "N=%ld: rc %d: %s", n, rc, msg);
            if (rc == TIDE_OK) check(h, 1, 100 + round);
        } else {
            cr_assert_eq(rc, TIDE_ENOMEM, "N=%ld: %s", n, e.msg);
        }
        rc == TIDE_OK ? passed++ : failed++;
        tide_alloc_fail_after(0);
        /* The workers still serve. */
        cr_assert_eq(start_count(h, 2, 7, &e), TIDE_OK, "%s", e.msg);
        char msg[256];
        cr_assert_eq(job_harness_wait(h, 2, 30000, msg), TIDE_OK, "N=%ld: %s", n, msg);
        check(h, 2, 7);
        job_harness_stop(h);
    }
    fprintf(stderr, "job_fault: %u job(s) failed with ENOMEM, %u completed\n", failed, passed);
    cr_assert_gt(failed, 0, "some allocation failure should hit the job");
}
