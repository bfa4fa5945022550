/*
 * test_job_arr.c - shared arrangements across jobs: job A publishes an
 * arrangement while feeding it over several epochs; job B, submitted later,
 * looks it up and counts it; B's result equals a from-scratch count of A's
 * whole input. Cancelling A closes B's import (B ends), and the arrangement
 * leaves the status once both are gone. W = 1, 2, 4.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../jobs/common.h"
#include "job_harness.h"
#include "tide_test.h"

#define KEYS 48
#define CMAX 2048 /* records per key in [-1024, 1024) */

/* Count of A's records per key, as job_harness_parse_counts accumulates. */
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

/* Does B's output so far accumulate to @want? */
static int matches(job_harness *h, uint64_t id, const int64_t *want, int64_t *got)
{
    char *out = job_harness_out(h, id);
    memset(got, 0, KEYS * CMAX * sizeof *got);
    int ok = job_harness_parse_counts(out, got, KEYS, CMAX);
    cr_assert(ok, "malformed output: %.200s", out);
    free(out);
    return memcmp(got, want, KEYS * CMAX * sizeof *got) == 0;
}

static size_t published(job_harness *h, const char *name, uint64_t *records)
{
    tide__host_status st;
    cr_assert_eq(tide__host_status_get(h->host, &st), TIDE_OK);
    size_t n = 0;
    *records = 0;
    for (size_t i = 0; i < st.narrs; i++)
        if (strcmp(st.arrs[i].name, name) == 0) {
            cr_assert_eq(st.arrs[i].owner, 1, "owner job");
            *records += st.arrs[i].records;
            n++;
        }
    tide_free(st.arrs);
    return n;
}

static void run(uint32_t workers, uint64_t seed, uint64_t n)
{
    job_harness *h = job_harness_start(workers);
    cr_assert_not_null(h);
    char sa[32], na[32], ka[32];
    snprintf(sa, 32, "%llu", (unsigned long long)seed);
    snprintf(na, 32, "%llu", (unsigned long long)n);
    snprintf(ka, 32, "%d", KEYS);
    char *a_argv[5] = {"edges", sa, na, ka, "4"};
    tide_error e = {0};
    cr_assert_eq(
        tide__host_job_start(h->host, 1, "publish", job_harness_plugin("publish"), 5, a_argv, &e),
        TIDE_OK, "%s", e.msg);
    uint64_t records = 0;
    for (int i = 0; i < 3000 && published(h, "edges", &records) < workers; i++) usleep(1000);
    cr_assert_eq(published(h, "edges", &records), workers, "one shard per worker");
    /* The same name again is refused (on every worker: the job fails). */
    char *dup_argv[5] = {"edges", "1", "10", "4", "1"}, msg[256];
    cr_assert_eq(
        tide__host_job_start(h->host, 3, "publish", job_harness_plugin("publish"), 5, dup_argv, &e),
        TIDE_OK, "%s", e.msg);
    cr_assert_eq(job_harness_wait(h, 3, 30000, msg), TIDE_EINVAL);
    cr_assert(strstr(msg, "the name is taken"), "%s", msg);
    /* B reads it while A keeps feeding. */
    char *b_argv[1] = {"edges"};
    cr_assert_eq(
        tide__host_job_start(h->host, 2, "lookup", job_harness_plugin("lookup"), 1, b_argv, &e),
        TIDE_OK, "%s", e.msg);
    int64_t *want = calloc(KEYS * CMAX, sizeof *want), *got = calloc(KEYS * CMAX, sizeof *got);
    oracle(seed, n, want);
    int ok = 0;
    for (int i = 0; i < 3000 && !(ok = matches(h, 2, want, got)); i++) usleep(10000);
    if (!ok)
        for (uint64_t k = 0; k < KEYS * CMAX; k++)
            if (got[k] != want[k])
                fprintf(stderr, "W=%u key %llu count %lld: got %lld want %lld\n", workers,
                        (unsigned long long)(k / CMAX), (long long)(k % CMAX) - CMAX / 2,
                        (long long)got[k], (long long)want[k]);
    cr_assert(ok, "W=%u: B's counts never matched the from-scratch counts of A's input", workers);
    cr_assert_gt(published(h, "edges", &records), 0);
    cr_assert_gt(records, 0, "the status counts the shards' records");
    /* A goes: B's import closes and B completes; then the arrangement goes. */
    cr_assert_eq(tide__host_job_cancel(h->host, 1, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(job_harness_wait(h, 1, 30000, msg), TIDE_ECLOSED, "%s", msg);
    cr_assert_eq(job_harness_wait(h, 2, 30000, msg), TIDE_OK, "%s", msg);
    cr_assert(matches(h, 2, want, got), "B's final counts differ from the from-scratch counts");
    cr_assert_eq(published(h, "edges", &records), 0, "the arrangement is gone");
    free(want);
    free(got);
    job_harness_stop(h);
}

Test(job_arr, publish_then_lookup_w124)
{
    tide_rng r = {tide_test_seed("job_arr/publish_then_lookup_w124", 3)};
    for (uint32_t w = 1; w <= 4; w *= 2) run(w, tide_rng_next(&r), 2000 + tide_rng_below(&r, 6000));
}

/* B outlives A's end: the arrangement stays while B reads it. */
Test(job_arr, reader_keeps_arrangement)
{
    job_harness *h = job_harness_start(2);
    cr_assert_not_null(h);
    char *a_argv[5] = {"idx", "77", "3000", "48", "1"}, *b_argv[1] = {"idx"}, msg[256];
    tide_error e = {0};
    cr_assert_eq(
        tide__host_job_start(h->host, 1, "publish", job_harness_plugin("publish"), 5, a_argv, &e),
        TIDE_OK, "%s", e.msg);
    /* A hold job keeps B's dataflow alive: B = lookup; it ends only when A
     * is gone, so cancel B first and check the arrangement stays with A. */
    cr_assert_eq(
        tide__host_job_start(h->host, 2, "lookup", job_harness_plugin("lookup"), 1, b_argv, &e),
        TIDE_OK, "%s", e.msg);
    int64_t *want = calloc(KEYS * CMAX, sizeof *want), *got = calloc(KEYS * CMAX, sizeof *got);
    oracle(77, 3000, want);
    int ok = 0;
    for (int i = 0; i < 3000 && !(ok = matches(h, 2, want, got)); i++) usleep(10000);
    cr_assert(ok);
    cr_assert_eq(tide__host_job_cancel(h->host, 2, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(job_harness_wait(h, 2, 30000, msg), TIDE_ECLOSED, "%s", msg);
    uint64_t records;
    cr_assert_eq(published(h, "idx", &records), 2, "A still publishes it");
    /* A later reader still gets everything. */
    cr_assert_eq(
        tide__host_job_start(h->host, 4, "lookup", job_harness_plugin("lookup"), 1, b_argv, &e),
        TIDE_OK, "%s", e.msg);
    ok = 0;
    for (int i = 0; i < 3000 && !(ok = matches(h, 4, want, got)); i++) usleep(10000);
    cr_assert(ok);
    cr_assert_eq(tide__host_job_cancel(h->host, 1, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(job_harness_wait(h, 4, 30000, msg), TIDE_OK, "%s", msg);
    cr_assert_eq(published(h, "idx", &records), 0, "the arrangement is gone");
    free(want);
    free(got);
    job_harness_stop(h);
}
