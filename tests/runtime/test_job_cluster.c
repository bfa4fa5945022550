/*
 * test_job_cluster.c - jobs across processes: two forked processes, each a
 * host (runtime/host.h) of 2 workers on loopback, run two count jobs at once
 * (started in opposite orders, so messages for a job not yet started wait
 * and are replayed); their combined output equals the oracle's. This checks
 * that dataflow ids derived from job ids match across processes.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../jobs/common.h"
#include "cluster_run.h"
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

typedef struct child_out {
    FILE *f[3]; /* [job id]: its stdout */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done[3], rc[3];
} child_out;

static void c_out(void *ctx, uint64_t job, int fd, const char *buf, size_t len)
{
    child_out *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (fd == 1 && job < 3) fwrite(buf, 1, len, c->f[job]);
    pthread_mutex_unlock(&c->lock);
}

static void c_done(void *ctx, uint64_t job, int rc, const char *msg)
{
    child_out *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (job < 3) c->done[job] = 1, c->rc[job] = rc;
    if (rc) fprintf(stderr, "job %llu: %s\n", (unsigned long long)job, msg);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* One process of the cluster: start both jobs, wait, write outputs. */
static int child(uint32_t p, uint16_t port, const char *dir, uint64_t s1, uint64_t s2)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    child_out c = {0};
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    char path[256];
    for (int j = 1; j <= 2; j++) {
        snprintf(path, sizeof path, "%s/out-%u-%d", dir, p, j);
        if ((c.f[j] = fopen(path, "w")) == NULL) return 2;
    }
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = 2;
    cfg.processes = 2;
    cfg.process = p;
    cfg.base_port = port;
    cfg.pin = 0;
    cfg.peer_timeout_ms = 20000;
    snprintf(cfg.job, sizeof cfg.job, "test_job_cluster");
    tide__host_hooks hooks = {.out = c_out, .done = c_done, .ctx = &c};
    tide__host *h;
    tide_error e = {0};
    if (tide__host_new(&cfg, &hooks, &h, &e) < 0) {
        fprintf(stderr, "process %u: %s\n", p, e.msg);
        return 3;
    }
    char a[2][4][32];
    uint64_t seeds[2] = {s1, s2};
    for (int j = 0; j < 2; j++) {
        snprintf(a[j][0], 32, "%llu", (unsigned long long)seeds[j]);
        snprintf(a[j][1], 32, "%d", 3000 + 1000 * j);
        snprintf(a[j][2], 32, "%d", KEYS);
        snprintf(a[j][3], 32, "%d", 3);
    }
    /* Process 0 starts job 1 first, process 1 job 2 first. */
    for (int k = 0; k < 2; k++) {
        int j = p == 0 ? k : 1 - k;
        char *argv[4] = {a[j][0], a[j][1], a[j][2], a[j][3]};
        if (tide__host_job_start(h, (uint64_t)j + 1, "count", job_harness_plugin("count"), 4, argv,
                                 &e) < 0) {
            fprintf(stderr, "process %u: %s\n", p, e.msg);
            return 4;
        }
    }
    pthread_mutex_lock(&c.lock);
    while (!(c.done[1] && c.done[2])) pthread_cond_wait(&c.cond, &c.lock);
    int ok = c.rc[1] == 0 && c.rc[2] == 0;
    pthread_mutex_unlock(&c.lock);
    tide__host_free(h);
    fclose(c.f[1]);
    fclose(c.f[2]);
    return ok ? 0 : 5;
}

Test(job_cluster, two_processes_two_jobs)
{
    tide_rng r = {tide_test_seed("job_cluster/two_processes_two_jobs", 4)};
    uint64_t s1 = tide_rng_next(&r), s2 = tide_rng_next(&r);
    char dir[] = "/tmp/tide_job_cluster_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    uint16_t port = tide_test_free_ports(2);
    cr_assert_neq(port, 0);
    pid_t pid[2];
    for (uint32_t p = 0; p < 2; p++) {
        pid[p] = fork();
        cr_assert_geq(pid[p], 0);
        if (pid[p] == 0) _exit(child(p, port, dir, s1, s2));
    }
    uint64_t deadline = tide_test_now_ms() + 60000;
    int status[2] = {-1, -1}, left = 2;
    while (left > 0 && tide_test_now_ms() < deadline) {
        for (int p = 0; p < 2; p++)
            if (status[p] == -1) {
                int st;
                if (waitpid(pid[p], &st, WNOHANG) == pid[p]) status[p] = st, left--;
            }
        usleep(10000);
    }
    for (int p = 0; p < 2; p++)
        if (status[p] == -1) {
            kill(pid[p], SIGKILL);
            waitpid(pid[p], &status[p], 0);
        }
    for (int p = 0; p < 2; p++)
        cr_assert(WIFEXITED(status[p]) && WEXITSTATUS(status[p]) == 0, "process %d: status %d", p,
                  status[p]);
    int64_t *got = calloc(KEYS * CMAX, sizeof *got), *want = calloc(KEYS * CMAX, sizeof *want);
    for (int j = 1; j <= 2; j++) {
        memset(got, 0, KEYS * CMAX * sizeof *got);
        for (int p = 0; p < 2; p++) {
            char path[256];
            snprintf(path, sizeof path, "%s/out-%d-%d", dir, p, j);
            char *out = tide_test_slurp(path);
            cr_assert(job_harness_parse_counts(out, got, KEYS, CMAX), "malformed: %.100s", out);
            free(out);
            unlink(path);
        }
        oracle(j == 1 ? s1 : s2, (uint64_t)(3000 + 1000 * (j - 1)), want);
        cr_assert(memcmp(got, want, KEYS * CMAX * sizeof *got) == 0,
                  "job %d: the two processes' counts differ from the oracle's", j);
    }
    rmdir(dir);
    free(got);
    free(want);
}

/* A process of the cluster dies while a job runs: the other process's job
 * fails with the transport's message naming the lost process (its workers
 * do not fail), and its host shuts down cleanly. */
static int lost_child(uint32_t p, uint16_t port, const char *dir)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    child_out c = {0};
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/lost-%u", dir, p);
    FILE *res = fopen(path, "w");
    if (res == NULL) return 2;
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = 2;
    cfg.processes = 2;
    cfg.process = p;
    cfg.base_port = port;
    cfg.pin = 0;
    cfg.peer_timeout_ms = 2000;
    snprintf(cfg.job, sizeof cfg.job, "test_job_cluster_lost");
    tide__host_hooks hooks = {.out = c_out, .done = c_done, .ctx = &c};
    tide__host *h;
    tide_error e = {0};
    if (tide__host_new(&cfg, &hooks, &h, &e) < 0) {
        fprintf(stderr, "process %u: %s\n", p, e.msg);
        return 3;
    }
    char *argv[2] = {"5", "4000"};
    if (tide__host_job_start(h, 1, "hold", job_harness_plugin("hold"), 2, argv, &e) < 0) return 4;
    if (p == 1) {
        usleep(300000);
        _exit(0); /* no goodbye: the peer must notice */
    }
    pthread_mutex_lock(&c.lock);
    while (!c.done[1]) pthread_cond_wait(&c.cond, &c.lock);
    int rc = c.rc[1];
    pthread_mutex_unlock(&c.lock);
    tide__job_info *ji;
    size_t n;
    if (tide__host_jobs(h, &ji, &n) < 0 || n != 1) return 5;
    fprintf(res, "%d %s\n", rc, ji[0].error);
    tide_free(ji);
    fclose(res);
    tide__host_free(h);
    return 0;
}

Test(job_cluster, lost_process_fails_the_job)
{
    char dir[] = "/tmp/tide_job_lost_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    uint16_t port = tide_test_free_ports(2);
    cr_assert_neq(port, 0);
    pid_t pid[2];
    for (uint32_t p = 0; p < 2; p++) {
        pid[p] = fork();
        cr_assert_geq(pid[p], 0);
        if (pid[p] == 0) _exit(lost_child(p, port, dir));
    }
    int status[2] = {-1, -1}, left = 2;
    uint64_t deadline = tide_test_now_ms() + 60000;
    while (left > 0 && tide_test_now_ms() < deadline) {
        for (int p = 0; p < 2; p++)
            if (status[p] == -1) {
                int st;
                if (waitpid(pid[p], &st, WNOHANG) == pid[p]) status[p] = st, left--;
            }
        usleep(10000);
    }
    for (int p = 0; p < 2; p++)
        if (status[p] == -1) {
            kill(pid[p], SIGKILL);
            waitpid(pid[p], &status[p], 0);
        }
    cr_assert(WIFEXITED(status[0]) && WEXITSTATUS(status[0]) == 0, "process 0: status %d",
              status[0]);
    char path[256];
    snprintf(path, sizeof path, "%s/lost-0", dir);
    char *res = tide_test_slurp(path);
    unlink(path);
    rmdir(dir);
    int rc = 0;
    cr_assert_eq(sscanf(res, "%d", &rc), 1, "%s", res);
    cr_assert_eq(rc, TIDE_EPEER, "%s", res);
    cr_assert(strstr(res, "process 1"), "the message names the lost process: %s", res);
    free(res);
}
