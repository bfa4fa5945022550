/*
 * job_harness.h - a host (runtime/host.h) for job tests: one process, W
 * unpinned workers, with hooks that collect each job's stdout and result.
 *
 *   job_harness *h = job_harness_start(2);
 *   job_harness_submit(h, 1, "count", "count.so", argc, argv, &e);
 *   int rc = job_harness_wait(h, 1, 30000, &msg);   // the job's result
 *   const char *out = job_harness_out(h, 1);         // everything it printed
 *   job_harness_stop(h);
 *
 * Job ids must be below JOB_HARNESS_MAX. Thread-safe as the host is.
 */
#ifndef TIDE_TEST_JOB_HARNESS_H
#define TIDE_TEST_JOB_HARNESS_H

#include <pthread.h>
#include <stdint.h>

#include "host.h"

#define JOB_HARNESS_MAX     64
#define JOB_HARNESS_TIMEOUT -1000 /* job_harness_wait: not done in time */

typedef struct job_harness {
    tide__host *host;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *out[JOB_HARNESS_MAX]; /* malloc'd, NUL-terminated */
    size_t outlen[JOB_HARNESS_MAX];
    int done[JOB_HARNESS_MAX]; /* times hooks->done was called */
    int rc[JOB_HARNESS_MAX];
    char msg[JOB_HARNESS_MAX][256];
} job_harness;

/* A started host with @workers workers, or NULL (the error on stderr). */
job_harness *job_harness_start(uint32_t workers);
/* The path of test plugin @name (TIDE_TEST_JOBS_DIR/@name.so); static buffer rotation. */
const char *job_harness_plugin(const char *name);
/* Wait up to @ms for job @id to finish; its rc (JOB_HARNESS_TIMEOUT if not),
 * its message copied to @msg (256 bytes) when non-NULL. */
int job_harness_wait(job_harness *h, uint64_t id, int ms, char *msg);
/* Everything job @id printed so far (a copy; free it). */
char *job_harness_out(job_harness *h, uint64_t id);
/* How often hooks->done was called for @id. */
int job_harness_done_count(job_harness *h, uint64_t id);
/* Stop the host and free everything. */
void job_harness_stop(job_harness *h);

/* Accumulate "K C D" lines of @out into @acc[k * cmax + c + cmax / 2] (k <
 * kmax, c in [-cmax/2, cmax/2)); false on a malformed or out-of-range line. */
int job_harness_parse_counts(const char *out, int64_t *acc, uint64_t kmax, uint64_t cmax);

#endif
