/*
 * job_harness.c - see job_harness.h.
 */
#include "job_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef TIDE_TEST_JOBS_DIR
#define TIDE_TEST_JOBS_DIR "." /* only test_runtime has the plugins */
#endif

static void on_out(void *ctx, uint64_t job, int fd, const char *buf, size_t len)
{
    job_harness *h = ctx;
    if (fd != 1 || job >= JOB_HARNESS_MAX) {
        fwrite(buf, 1, len, stderr);
        return;
    }
    pthread_mutex_lock(&h->lock);
    char *p = realloc(h->out[job], h->outlen[job] + len + 1);
    if (p) {
        memcpy(p + h->outlen[job], buf, len);
        h->outlen[job] += len;
        p[h->outlen[job]] = 0;
        h->out[job] = p;
    }
    pthread_mutex_unlock(&h->lock);
}

static void on_done(void *ctx, uint64_t job, int rc, const char *msg)
{
    job_harness *h = ctx;
    if (job >= JOB_HARNESS_MAX) return;
    pthread_mutex_lock(&h->lock);
    h->done[job]++;
    h->rc[job] = rc;
    snprintf(h->msg[job], sizeof h->msg[job], "%s", msg);
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

job_harness *job_harness_start(uint32_t workers)
{
    job_harness *h = calloc(1, sizeof *h);
    if (h == NULL) return NULL;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = workers;
    cfg.pin = 0;
    tide__host_hooks hooks = {.out = on_out, .done = on_done, .ctx = h};
    tide_error e = {0};
    if (tide__host_new(&cfg, &hooks, &h->host, &e) < 0) {
        fprintf(stderr, "job_harness: %s\n", e.msg);
        free(h);
        return NULL;
    }
    return h;
}

const char *job_harness_plugin(const char *name)
{
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, 512, "%s/%s.so", TIDE_TEST_JOBS_DIR, name);
    return b;
}

int job_harness_wait(job_harness *h, uint64_t id, int ms, char *msg)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->lock);
    while (!h->done[id])
        if (pthread_cond_timedwait(&h->cond, &h->lock, &dl) == ETIMEDOUT) break;
    int rc = h->done[id] ? h->rc[id] : JOB_HARNESS_TIMEOUT;
    if (msg) snprintf(msg, 256, "%s", h->msg[id]);
    pthread_mutex_unlock(&h->lock);
    return rc;
}

char *job_harness_out(job_harness *h, uint64_t id)
{
    pthread_mutex_lock(&h->lock);
    char *c = strdup(h->out[id] ? h->out[id] : "");
    pthread_mutex_unlock(&h->lock);
    return c;
}

int job_harness_done_count(job_harness *h, uint64_t id)
{
    pthread_mutex_lock(&h->lock);
    int n = h->done[id];
    pthread_mutex_unlock(&h->lock);
    return n;
}

void job_harness_stop(job_harness *h)
{
    if (h == NULL) return;
    tide__host_free(h->host);
    for (int i = 0; i < JOB_HARNESS_MAX; i++) free(h->out[i]);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    free(h);
}

int job_harness_parse_counts(const char *out, int64_t *acc, uint64_t kmax, uint64_t cmax)
{
    const char *p = out;
    while (*p) {
        unsigned long long k;
        long long c, d;
        int used = 0;
        if (sscanf(p, "%llu %lld %lld\n%n", &k, &c, &d, &used) != 3 || used == 0) return 0;
        long long half = (long long)(cmax / 2);
        if (k >= kmax || c < -half || c >= half) return 0;
        acc[k * cmax + (uint64_t)(c + half)] += d;
        p += used;
    }
    return 1;
}
