/*
 * test_job.c - jobs on a host (runtime/host.h): results against an oracle at
 * W = 1, 2, 4, two jobs at once, cancel frees memory, failing jobs fail alone,
 * load errors. The jobs are the plugins of tests/jobs (dlopen'ed).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../jobs/common.h"
#include "job_harness.h"
#include "tide_test.h"

#define KEYS 64
#define CMAX 1024 /* counts in [-512, 512) */

/* The count job's expected output, accumulated as job_harness_parse_counts
 * does: (key, final count) once for every key whose count is not 0. */
static void oracle_counts(uint64_t seed, uint64_t n, int64_t *acc)
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

static void submit_count(job_harness *h, uint64_t id, uint64_t seed, uint64_t n, uint64_t epochs)
{
    char a[4][32];
    snprintf(a[0], 32, "%llu", (unsigned long long)seed);
    snprintf(a[1], 32, "%llu", (unsigned long long)n);
    snprintf(a[2], 32, "%d", KEYS);
    snprintf(a[3], 32, "%llu", (unsigned long long)epochs);
    char *argv[4] = {a[0], a[1], a[2], a[3]};
    tide_error e = {0};
    cr_assert_eq(
        tide__host_job_start(h->host, id, "count", job_harness_plugin("count"), 4, argv, &e),
        TIDE_OK, "%s", e.msg);
}

/* Wait for count job @id and compare its output with the oracle's. */
static void check_count(job_harness *h, uint64_t id, uint64_t seed, uint64_t n)
{
    char msg[256];
    int rc = job_harness_wait(h, id, 60000, msg);
    cr_assert_eq(rc, TIDE_OK, "job %llu: rc %d: %s", (unsigned long long)id, rc, msg);
    int64_t *got = calloc(KEYS * CMAX, sizeof *got), *want = calloc(KEYS * CMAX, sizeof *want);
    char *out = job_harness_out(h, id);
    cr_assert(job_harness_parse_counts(out, got, KEYS, CMAX), "malformed output: %.200s", out);
    oracle_counts(seed, n, want);
    for (uint64_t k = 0; k < KEYS; k++)
        for (uint64_t c = 0; c < CMAX; c++)
            cr_assert_eq(got[k * CMAX + c], want[k * CMAX + c],
                         "job %llu key %llu count %lld: got %lld, want %lld",
                         (unsigned long long)id, (unsigned long long)k, (long long)c - CMAX / 2,
                         (long long)got[k * CMAX + c], (long long)want[k * CMAX + c]);
    free(out);
    free(got);
    free(want);
    cr_assert_eq(job_harness_done_count(h, id), 1);
}

/* The snapshot of job @id (asserts it is listed). */
static tide__job_info job_info(job_harness *h, uint64_t id)
{
    tide__job_info *a, r = {0};
    size_t n;
    cr_assert_eq(tide__host_jobs(h->host, &a, &n), TIDE_OK);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i].id == id) r = a[i], found = 1;
    tide_free(a);
    cr_assert(found, "job %llu not listed", (unsigned long long)id);
    return r;
}

Test(job, count_matches_oracle_w124)
{
    tide_rng r = {tide_test_seed("job/count_matches_oracle_w124", 1)};
    for (uint32_t w = 1; w <= 4; w *= 2) {
        job_harness *h = job_harness_start(w);
        cr_assert_not_null(h);
        uint64_t seed = tide_rng_next(&r), n = 500 + tide_rng_below(&r, 4000);
        uint64_t epochs = 1 + tide_rng_below(&r, 5);
        submit_count(h, 1, seed, n, epochs);
        check_count(h, 1, seed, n);
        tide__job_info ji = job_info(h, 1);
        cr_assert_eq(ji.state, TIDE__JOB_DONE);
        cr_assert_str_eq(ji.name, "count");
        cr_assert_eq(ji.records_in, n, "records in %llu, fed %llu",
                     (unsigned long long)ji.records_in, (unsigned long long)n);
        cr_assert_gt(ji.records_out, 0);
        cr_assert_str_eq(ji.frontier, "done");
        job_harness_stop(h);
    }
}

Test(job, two_jobs_at_once)
{
    tide_rng r = {tide_test_seed("job/two_jobs_at_once", 2)};
    job_harness *h = job_harness_start(2);
    cr_assert_not_null(h);
    uint64_t s1 = tide_rng_next(&r), s2 = tide_rng_next(&r);
    uint64_t n1 = 1000 + tide_rng_below(&r, 3000), n2 = 1000 + tide_rng_below(&r, 3000);
    submit_count(h, 1, s1, n1, 3);
    submit_count(h, 2, s2, n2, 2);
    check_count(h, 2, s2, n2);
    check_count(h, 1, s1, n1);
    job_harness_stop(h);
}

static void submit(job_harness *h, uint64_t id, const char *plugin, int argc, char **argv)
{
    tide_error e = {0};
    cr_assert_eq(
        tide__host_job_start(h->host, id, plugin, job_harness_plugin(plugin), argc, argv, &e),
        TIDE_OK, "%s", e.msg);
}

Test(job, cancel_frees_memory)
{
    job_harness *h = job_harness_start(2);
    cr_assert_not_null(h);
    /* Warm-up: the first job grows the worker's own tables once. */
    submit_count(h, 1, 7, 2000, 2);
    check_count(h, 1, 7, 2000);
    long long before = tide_alloc_live_bytes();
    char *argv[2] = {"11", "20000"};
    submit(h, 2, "hold", 2, argv);
    /* Wait until the edges are in (and arranged: epoch 0 is sealed). */
    tide__job_info ji;
    for (int i = 0; i < 3000; i++) {
        ji = job_info(h, 2);
        if (ji.records_in == 20000 && strcmp(ji.frontier, "epoch 1") == 0) break;
        usleep(10000);
    }
    cr_assert_eq(ji.records_in, 20000);
    cr_assert_str_eq(ji.frontier, "epoch 1");
    cr_assert_eq(ji.state, TIDE__JOB_RUNNING);
    long long during = tide_alloc_live_bytes();
    tide_error e = {0};
    cr_assert_eq(tide__host_job_cancel(h->host, 2, &e), TIDE_OK, "%s", e.msg);
    char msg[256];
    cr_assert_eq(job_harness_wait(h, 2, 30000, msg), TIDE_ECLOSED, "%s", msg);
    long long after = tide_alloc_live_bytes();
    fprintf(stderr, "cancel_frees_memory: live bytes before=%lld during=%lld after=%lld\n", before,
            during, after);
    cr_assert_gt(during, before + 500000, "20000 arranged edges should hold > 500 KB");
    /* What stays: the ended job's row in the jobs table (< 1 KB). */
    cr_assert_lt(after, before + 4096, "live bytes after cancel %lld, before %lld", after, before);
    cr_assert_eq(job_info(h, 2).state, TIDE__JOB_CANCELLED);
    /* Cancelling it again: it is gone. */
    cr_assert_eq(tide__host_job_cancel(h->host, 2, &e), TIDE_ENOTFOUND);
    cr_assert_eq(tide__host_job_cancel(h->host, 99, &e), TIDE_ENOTFOUND);
    cr_assert(strstr(e.msg, "99") != NULL, "%s", e.msg);
    job_harness_stop(h);
}

Test(job, failing_jobs_fail_alone)
{
    job_harness *h = job_harness_start(2);
    cr_assert_not_null(h);
    char msg[256];
    char *entry[1] = {"entry"}, *op[1] = {"op"}, *code[1] = {"code"};
    submit(h, 1, "fail", 1, entry);
    submit_count(h, 2, 5, 3000, 3);
    cr_assert_eq(job_harness_wait(h, 1, 30000, msg), TIDE_EINVAL);
    cr_assert(strstr(msg, "deliberate failure in the entry"), "%s", msg);
    check_count(h, 2, 5, 3000);
    submit(h, 3, "fail", 1, op);
    cr_assert_eq(job_harness_wait(h, 3, 30000, msg), TIDE_EINVAL);
    cr_assert(strstr(msg, "deliberate operator failure"), "%s", msg);
    cr_assert(strstr(msg, "boom"), "the message names the operator: %s", msg);
    submit(h, 4, "fail", 1, code);
    cr_assert_eq(job_harness_wait(h, 4, 30000, msg), TIDE_ERANGE);
    cr_assert(strstr(msg, "TIDE_ERANGE"), "%s", msg);
    /* The workers still serve. */
    submit_count(h, 5, 6, 2000, 1);
    check_count(h, 5, 6, 2000);
    for (uint64_t id = 1; id <= 4; id++) {
        cr_assert_eq(job_harness_done_count(h, id), 1);
        if (id == 2) continue; /* the count job */
        tide__job_info ji = job_info(h, id);
        cr_assert_eq(ji.state, TIDE__JOB_FAILED, "job %llu: %s (%s)", (unsigned long long)id,
                     tide__job_state_name(ji.state), ji.error);
    }
    job_harness_stop(h);
}

Test(job, load_errors)
{
    job_harness *h = job_harness_start(2);
    cr_assert_not_null(h);
    char path[64];
    snprintf(path, sizeof path, "/tmp/tide_notelf_%d.so", (int)getpid());
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("this is not an ELF file\n", f);
    fclose(f);
    tide_error e = {0};
    cr_assert_eq(tide__host_job_start(h->host, 1, "text", path, 0, NULL, &e), TIDE_EINVAL);
    unlink(path);
    cr_assert(strncmp(e.msg, "not a shared object: ", 21) == 0, "%s", e.msg);
    cr_assert(strstr(e.msg, path), "dlerror's text names the file: %s", e.msg);
    cr_assert_eq(
        tide__host_job_start(h->host, 2, "noentry", job_harness_plugin("noentry"), 0, NULL, &e),
        TIDE_EINVAL);
    cr_assert(strstr(e.msg, "missing entry point tide_job_main"), "%s", e.msg);
    cr_assert_eq(
        tide__host_job_start(h->host, 3, "badabi", job_harness_plugin("badabi"), 0, NULL, &e),
        TIDE_EINVAL);
    cr_assert(strstr(e.msg, "job ABI version 999, cluster runs 1"), "%s", e.msg);
    /* A used id is refused. */
    cr_assert_eq(
        tide__host_job_start(h->host, 3, "again", job_harness_plugin("count"), 0, NULL, &e),
        TIDE_EINVAL);
    for (uint64_t id = 1; id <= 3; id++) {
        tide__job_info ji = job_info(h, id);
        cr_assert_eq(ji.state, TIDE__JOB_FAILED);
        cr_assert_eq(ji.rc, TIDE_EINVAL);
        cr_assert_eq(job_harness_done_count(h, id), 0);
    }
    /* A correct job still runs afterwards. */
    submit_count(h, 4, 9, 1500, 2);
    check_count(h, 4, 9, 1500);
    /* An id retired by the workers (here one that was forgotten) is never
     * run again: its messages would be dropped. */
    tide__host_job_forget(h->host, 5);
    submit_count(h, 6, 9, 100, 1);
    check_count(h, 6, 9, 100); /* the FORGET has been handled */
    char msg[256];
    submit_count(h, 5, 9, 100, 1);
    cr_assert_eq(job_harness_wait(h, 5, 30000, msg), TIDE_EINVAL);
    cr_assert(strstr(msg, "was used before"), "%s", msg);
    job_harness_stop(h);
}

Test(job, lookup_of_unknown_name_fails)
{
    job_harness *h = job_harness_start(2);
    cr_assert_not_null(h);
    char *argv[1] = {"nope"}, msg[256];
    submit(h, 1, "lookup", 1, argv);
    cr_assert_eq(job_harness_wait(h, 1, 30000, msg), TIDE_ENOTFOUND);
    cr_assert(strstr(msg, "no arrangement 'nope'"), "%s", msg);
    job_harness_stop(h);
}

/* An entry that steps its own dataflow (tide_worker_step inside a job) while
 * another job runs beside it (its dataflow progresses in the entry's rounds);
 * and one that loops until it is cancelled. Commands wait while an entry
 * runs, so the looping job is started last. */
Test(job, entry_that_steps)
{
    job_harness *h = job_harness_start(2);
    cr_assert_not_null(h);
    char *fv[1] = {"forever"}, *cv[4] = {"count", "31", "2500", "64"}, msg[256];
    submit_count(h, 2, 32, 2000, 2);
    submit(h, 3, "loop", 4, cv);
    check_count(h, 2, 32, 2000);
    cr_assert_eq(job_harness_wait(h, 3, 60000, msg), TIDE_OK, "%s", msg);
    char *out = job_harness_out(h, 3);
    char *fin = strstr(out, "finished\n");
    cr_assert_not_null(fin, "%.200s", out);
    *fin = 0; /* the rest are the counts */
    int64_t *got = calloc(KEYS * CMAX, sizeof *got), *want = calloc(KEYS * CMAX, sizeof *want);
    cr_assert(job_harness_parse_counts(out, got, KEYS, CMAX), "malformed: %.200s", out);
    oracle_counts(31, 2500, want);
    cr_assert(memcmp(got, want, KEYS * CMAX * sizeof *got) == 0, "loop job's counts differ");
    free(got);
    free(want);
    free(out);
    submit(h, 1, "loop", 1, fv);
    for (int i = 0; i < 1000 && strcmp(job_info(h, 1).frontier, "epoch 0") == 0; i++) usleep(1000);
    cr_assert_eq(job_info(h, 1).state, TIDE__JOB_RUNNING);
    tide_error e = {0};
    cr_assert_eq(tide__host_job_cancel(h->host, 1, &e), TIDE_OK, "%s", e.msg);
    cr_assert_eq(job_harness_wait(h, 1, 30000, msg), TIDE_ECLOSED, "%s", msg);
    job_harness_stop(h);
}

/* The manual's example job (include/tide/job.h, tests/jobs/example.c). */
Test(job, manual_example)
{
    job_harness *h = job_harness_start(2);
    cr_assert_not_null(h);
    char *argv[1] = {"1003"}, msg[256];
    submit(h, 1, "example", 1, argv);
    cr_assert_eq(job_harness_wait(h, 1, 30000, msg), TIDE_OK, "%s", msg);
    char *out = job_harness_out(h, 1);
    long long count[10] = {0};
    int lines = 0;
    for (const char *p = out; *p;) {
        unsigned long long k;
        long long c;
        int used = 0;
        cr_assert_eq(sscanf(p, "key %llu: %lld\n%n", &k, &c, &used), 2, "%.80s", p);
        cr_assert_lt(k, 10);
        count[k] = c;
        lines++;
        p += used;
    }
    cr_assert_eq(lines, 10, "one line per key: %s", out);
    for (int k = 0; k < 10; k++) cr_assert_eq(count[k], k < 3 ? 101 : 100, "key %d", k);
    free(out);
    job_harness_stop(h);
}
