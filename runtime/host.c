/*
 * host.c - a process of a long-running cluster (host.h): its worker threads
 * in host mode, loading jobs with dlopen, the jobs table, status.
 *
 * The runtime (workers, queues, transport) is set up by execute.c exactly as
 * for tide_execute; here every local worker gets a thread of its own running
 * tide__job_worker_run (job.c) until tide__host_free stops it. A job is
 * loaded once per process and started on every local worker by a command;
 * when the last local worker has dropped it, it is finalized: hooks->done,
 * the shared object closed, freed memory returned to the OS (malloc_trim).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "job_int.h"
#include "tide/alloc.h"

#define KEEP_ENDED 256 /* ended jobs the table remembers */

struct tide__host {
    tide__runtime *rt;
    tide__host_hooks hooks;
    pthread_mutex_t lock;  /* the jobs table */
    struct tide_job *jobs; /* newest first */
    int64_t start_us;
    pthread_t *threads;
    uint32_t started;
    int *cores; /* [local worker], atomic: set by the worker thread */
};

static int64_t wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

uint64_t tide__rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return 0;
    unsigned long size = 0, rss = 0;
    int n = fscanf(f, "%lu %lu", &size, &rss);
    fclose(f);
    return n == 2 ? (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

const char *tide__job_state_name(int state)
{
    switch (state) {
    case TIDE__JOB_RUNNING:
        return "running";
    case TIDE__JOB_DONE:
        return "done";
    case TIDE__JOB_FAILED:
        return "failed";
    case TIDE__JOB_CANCELLED:
        return "cancelled";
    }
    return "?";
}

/* ======================================================================== */
/* Worker threads                                                           */
/* ======================================================================== */

static void *host_thread(void *arg)
{
    tide_worker *w = arg;
    tide__host *h = w->rt->host;
    __atomic_store_n(&h->cores[w->local], tide__runtime_pin(w->rt, w), __ATOMIC_RELAXED);
    tide__batch_pool_enable();
    tide__job_worker_run(w);
    tide__batch_pool_drain();
    return NULL;
}

int tide__host_new(const tide_config *cfg, const tide__host_hooks *hooks, tide__host **out,
                   tide_error *e)
{
    *out = NULL;
    tide__host *h = tide_calloc(1, sizeof *h);
    if (h == NULL) return tide_err_set(e, TIDE_ENOMEM, "out of memory starting the host");
    pthread_mutex_init(&h->lock, NULL);
    if (hooks) h->hooks = *hooks;
    /* Fixed thresholds: glibc otherwise raises them after large frees (up
     * to 32 MB / 64 MB), and then a thread arena's top chunk of that size
     * is never given back, not even by malloc_trim. A long-running process
     * whose jobs come and go wants the memory back. */
    mallopt(M_MMAP_THRESHOLD, 512 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    h->start_us = wall_us();
    h->rt = tide__runtime_new(cfg, e);
    if (h->rt == NULL) {
        int rc = e && e->code ? e->code : TIDE_ENOMEM;
        pthread_mutex_destroy(&h->lock);
        tide_free(h);
        return rc;
    }
    tide__runtime *rt = h->rt;
    rt->host = h;
    h->threads = tide_calloc(rt->threads, sizeof *h->threads);
    h->cores = tide_calloc(rt->threads, sizeof *h->cores);
    if (h->threads == NULL || h->cores == NULL) goto nomem;
    for (uint32_t i = 0; i < rt->threads; i++) {
        h->cores[i] = -1;
        if (tide__wstate_new(&rt->workers[i]) < 0) goto nomem;
    }
    for (uint32_t i = 0; i < rt->threads; i++, h->started++)
        if (pthread_create(&h->threads[i], NULL, host_thread, &rt->workers[i]) != 0) {
            tide_err_set(e, TIDE_ENOMEM, "cannot start worker thread %u", i);
            tide__host_free(h);
            return TIDE_ENOMEM;
        }
    *out = h;
    return TIDE_OK;
nomem:
    tide_err_set(e, TIDE_ENOMEM, "out of memory starting the host");
    tide__host_free(h);
    return TIDE_ENOMEM;
}

/* ======================================================================== */
/* Jobs                                                                     */
/* ======================================================================== */

static void job_free(struct tide_job *j)
{
    if (j == NULL) return;
    for (int i = 0; j->argv && i < j->argc; i++) tide_free(j->argv[i]);
    tide_free(j->argv);
    tide_free(j->front);
    if (j->dl) dlclose(j->dl);
    pthread_mutex_destroy(&j->lock);
    tide_free(j);
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = tide_alloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static struct tide_job *job_new(tide__host *h, uint64_t id, const char *name, int argc, char **argv)
{
    struct tide_job *j = tide_calloc(1, sizeof *j);
    if (j == NULL) return NULL;
    pthread_mutex_init(&j->lock, NULL);
    j->h = h;
    j->id = id;
    snprintf(j->name, sizeof j->name, "%s", name ? name : "job");
    j->start_us = wall_us();
    j->argv = tide_calloc((size_t)argc + 2, sizeof *j->argv);
    j->front = tide_calloc(h->rt->threads, sizeof *j->front);
    if (j->argv == NULL || j->front == NULL) goto fail;
    j->argv[j->argc++] = dupstr(j->name);
    if (j->argv[0] == NULL) goto fail;
    for (int i = 0; i < argc; i++)
        if ((j->argv[j->argc++] = dupstr(argv[i])) == NULL) goto fail;
    return j;
fail:
    job_free(j);
    return NULL;
}

/* Find @id in the table (host lock held). */
static struct tide_job *job_find(tide__host *h, uint64_t id)
{
    for (struct tide_job *j = h->jobs; j; j = j->next)
        if (j->id == id) return j;
    return NULL;
}

/* Forget the oldest finalized jobs beyond KEEP_ENDED (host lock held). */
static void prune(tide__host *h)
{
    uint32_t ended = 0;
    for (struct tide_job **p = &h->jobs; *p;) {
        struct tide_job *j = *p;
        if (j->finalized && ++ended > KEEP_ENDED) {
            *p = j->next;
            job_free(j);
            continue;
        }
        p = &j->next;
    }
}

/* Open @path and check its entry point and ABI version. */
static int load(const char *path, void **dl, tide_job_main_fn *entry, tide_error *e)
{
    dlerror();
    void *d = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (d == NULL) {
        const char *why = dlerror();
        return tide_err_set(e, TIDE_EINVAL, "not a shared object: %s", why ? why : path);
    }
    void *fn = dlsym(d, "tide_job_main");
    if (fn == NULL) {
        dlclose(d);
        return tide_err_set(e, TIDE_EINVAL, "%s: missing entry point tide_job_main", path);
    }
    const uint32_t *ver = dlsym(d, "tide_job_abi_version");
    uint32_t v = ver ? *ver : 0;
    if (v != TIDE_JOB_ABI_VERSION) {
        dlclose(d);
        return tide_err_set(e, TIDE_EINVAL, "%s: job ABI version %u, cluster runs %u", path, v,
                            (unsigned)TIDE_JOB_ABI_VERSION);
    }
    *dl = d;
    *(void **)entry = fn;
    return TIDE_OK;
}

static void forget_everywhere(tide__host *h, uint64_t id)
{
    for (uint32_t i = 0; i < h->rt->threads; i++)
        tide__job_cmd(&h->rt->workers[i], TIDE__CMD_FORGET, id, NULL);
}

/* Register job @id in the table: NULL with @e set when the id is bad or
 * taken, or out of memory. */
static struct tide_job *job_add(tide__host *h, uint64_t id, const char *name, int argc, char **argv,
                                tide_error *e)
{
    if (id > TIDE__JOB_ID_MAX) {
        tide_err_set(e, TIDE_EINVAL, "job id %llu is above %llu", (unsigned long long)id,
                     (unsigned long long)TIDE__JOB_ID_MAX);
        return NULL;
    }
    struct tide_job *j = job_new(h, id, name, argc, argv);
    if (j == NULL) {
        tide_err_set(e, TIDE_ENOMEM, "out of memory starting job %llu", (unsigned long long)id);
        return NULL;
    }
    pthread_mutex_lock(&h->lock);
    if (job_find(h, id)) {
        pthread_mutex_unlock(&h->lock);
        job_free(j);
        tide_err_set(e, TIDE_EINVAL, "job id %llu is already in use here", (unsigned long long)id);
        return NULL;
    }
    j->next = h->jobs;
    h->jobs = j;
    pthread_mutex_unlock(&h->lock);
    return j;
}

/* Start @j (entry set) on every local worker. */
static int job_launch(tide__host *h, struct tide_job *j, tide_error *e)
{
    for (uint32_t i = 0; i < h->rt->threads; i++)
        if (tide__job_cmd(&h->rt->workers[i], TIDE__CMD_START, j->id, j) < 0) {
            /* The workers that got it end it at once; the rest never see it. */
            tide__host_job_fail(j, TIDE_ENOMEM, "out of memory starting the job");
            for (uint32_t k = i; k < h->rt->threads; k++) tide__host_job_ended(j);
            return tide_err_set(e, TIDE_ENOMEM, "out of memory starting job %llu",
                                (unsigned long long)j->id);
        }
    return TIDE_OK;
}

int tide__host_job_start(tide__host *h, uint64_t id, const char *name, const char *so_path,
                         int argc, char **argv, tide_error *e)
{
    struct tide_job *j = job_add(h, id, name, argc, argv, e);
    if (j == NULL) return e && e->code ? e->code : TIDE_EINVAL;
    tide_error le = {0};
    int rc = load(so_path, &j->dl, &j->entry, &le);
    if (rc < 0) {
        pthread_mutex_lock(&j->lock);
        j->state = TIDE__JOB_FAILED;
        j->rc = rc;
        snprintf(j->err, sizeof j->err, "%s", le.msg);
        j->end_us = wall_us();
        pthread_mutex_unlock(&j->lock);
        pthread_mutex_lock(&h->lock);
        j->finalized = true;
        prune(h);
        pthread_mutex_unlock(&h->lock);
        forget_everywhere(h, id);
        if (e) *e = le;
        return rc;
    }
    return job_launch(h, j, e);
}

int tide__host_job_start_fn(tide__host *h, uint64_t id, const char *name, tide_job_main_fn fn,
                            int argc, char **argv, tide_error *e)
{
    struct tide_job *j = job_add(h, id, name, argc, argv, e);
    if (j == NULL) return e && e->code ? e->code : TIDE_EINVAL;
    j->entry = fn;
    return job_launch(h, j, e);
}

/* Mark @j ended with @state / @rc / @msg unless it ended already; true
 * when this call did it. */
static bool job_settle(struct tide_job *j, int state, int rc, const char *msg)
{
    pthread_mutex_lock(&j->lock);
    bool first = j->state == TIDE__JOB_RUNNING && j->rc == TIDE_OK;
    if (first) {
        j->state = state;
        j->rc = rc;
        snprintf(j->err, sizeof j->err, "%s", msg ? msg : "");
    }
    pthread_mutex_unlock(&j->lock);
    return first;
}

/* The cancelled flag alone ends the job (each worker checks it every
 * round); the command and the wake make it prompt, also for a parked
 * worker, and out of memory for the command loses nothing. */
static void cancel_everywhere(struct tide_job *j)
{
    if (__atomic_exchange_n(&j->cancelled, 1, __ATOMIC_SEQ_CST)) return;
    for (uint32_t i = 0; i < j->h->rt->threads; i++) {
        tide_worker *w = &j->h->rt->workers[i];
        if (tide__job_cmd(w, TIDE__CMD_CANCEL, j->id, NULL) < 0) tide__worker_wake(w);
    }
}

void tide__host_job_fail(struct tide_job *j, int code, const char *msg)
{
    if (code == TIDE_ECLOSED)
        job_settle(j, TIDE__JOB_CANCELLED, TIDE_ECLOSED, msg);
    else
        job_settle(j, TIDE__JOB_FAILED, code < 0 ? code : TIDE_EINVAL, msg);
    cancel_everywhere(j);
}

int tide__host_job_cancel(tide__host *h, uint64_t id, tide_error *e)
{
    pthread_mutex_lock(&h->lock);
    struct tide_job *j = job_find(h, id);
    bool live = j && __atomic_load_n(&j->ended, __ATOMIC_ACQUIRE) < h->rt->threads && !j->finalized;
    if (live) job_settle(j, TIDE__JOB_CANCELLED, TIDE_ECLOSED, "cancelled");
    pthread_mutex_unlock(&h->lock);
    if (!live)
        return tide_err_set(e, TIDE_ENOTFOUND, "no running job %llu here", (unsigned long long)id);
    cancel_everywhere(j);
    return TIDE_OK;
}

void tide__host_job_forget(tide__host *h, uint64_t id)
{
    forget_everywhere(h, id);
}

void tide__host_job_ended(struct tide_job *j)
{
    tide__host *h = j->h;
    if (__atomic_add_fetch(&j->ended, 1, __ATOMIC_ACQ_REL) != h->rt->threads) return;
    /* Every local worker has dropped it: finalize. */
    job_settle(j, TIDE__JOB_DONE, TIDE_OK, "");
    pthread_mutex_lock(&j->lock);
    j->end_us = wall_us();
    int rc = j->rc;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", j->err);
    pthread_mutex_unlock(&j->lock);
    if (j->dl) {
        dlclose(j->dl);
        j->dl = NULL;
    }
    /* The dropped dataflows' pages go back to the OS, so RSS falls, before
     * anyone hears that the job is done. */
    malloc_trim(0);
    if (h->hooks.done) h->hooks.done(h->hooks.ctx, j->id, rc, msg);
    pthread_mutex_lock(&h->lock);
    j->finalized = true;
    prune(h);
    pthread_mutex_unlock(&h->lock);
}

void tide__host_out(struct tide_job *j, int fd, const char *buf, size_t len)
{
    tide__host *h = j->h;
    if (h->hooks.out) {
        h->hooks.out(h->hooks.ctx, j->id, fd, buf, len);
        return;
    }
    fwrite(buf, 1, len, fd == 2 ? stderr : stdout);
}

/* ======================================================================== */
/* Snapshots                                                                */
/* ======================================================================== */

static void fill_info(const tide__host *h, struct tide_job *j, tide__job_info *o)
{
    memset(o, 0, sizeof *o);
    o->id = j->id;
    snprintf(o->name, sizeof o->name, "%s", j->name);
    pthread_mutex_lock(&j->lock);
    o->state = j->state;
    o->rc = j->rc;
    o->start_us = j->start_us;
    o->end_us = j->end_us;
    snprintf(o->error, sizeof o->error, "%s", j->err);
    pthread_mutex_unlock(&j->lock);
    bool done = j->finalized;
    o->records_in = __atomic_load_n(&j->records_in, __ATOMIC_RELAXED);
    o->records_out = __atomic_load_n(&j->records_out, __ATOMIC_RELAXED);
    uint64_t f = UINT64_MAX;
    for (uint32_t i = 0; !done && i < h->rt->threads; i++) {
        uint64_t v = __atomic_load_n(&j->front[i], __ATOMIC_RELAXED);
        if (v < f) f = v;
    }
    if (f == UINT64_MAX)
        snprintf(o->frontier, sizeof o->frontier, "done");
    else
        snprintf(o->frontier, sizeof o->frontier, "epoch %llu", (unsigned long long)f);
}

int tide__host_jobs(tide__host *h, tide__job_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&h->lock);
    size_t cnt = 0;
    for (struct tide_job *j = h->jobs; j; j = j->next) cnt++;
    tide__job_info *a = cnt ? tide_calloc(cnt, sizeof *a) : NULL;
    if (cnt && a == NULL) {
        pthread_mutex_unlock(&h->lock);
        return TIDE_ENOMEM;
    }
    /* Oldest first: the table is newest first. */
    size_t i = cnt;
    for (struct tide_job *j = h->jobs; j; j = j->next) fill_info(h, j, &a[--i]);
    pthread_mutex_unlock(&h->lock);
    *out = a;
    *n = cnt;
    return TIDE_OK;
}

int tide__host_status_get(tide__host *h, tide__host_status *st)
{
    memset(st, 0, sizeof *st);
    tide__runtime *rt = h->rt;
    st->process = rt->cfg.process;
    st->processes = rt->cfg.processes;
    st->workers = rt->threads;
    for (uint32_t i = 0; i < TIDE_MAX_WORKERS; i++)
        st->cores[i] = i < rt->threads ? __atomic_load_n(&h->cores[i], __ATOMIC_RELAXED) : -1;
    st->rss_bytes = tide__rss_bytes();
    st->uptime_us = wall_us() - h->start_us;
    pthread_mutex_lock(&h->lock);
    for (struct tide_job *j = h->jobs; j; j = j->next)
        if (!j->finalized) st->jobs_running++;
    pthread_mutex_unlock(&h->lock);
    return tide__pubs_snapshot(rt, &st->arrs, &st->narrs);
}

/* ======================================================================== */
/* Shutdown                                                                 */
/* ======================================================================== */

void tide__host_free(tide__host *h)
{
    if (h == NULL) return;
    tide__runtime *rt = h->rt;
    for (uint32_t i = 0; i < h->started; i++)
        while (tide__job_cmd(&rt->workers[i], TIDE__CMD_STOP, 0, NULL) < 0) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL); /* out of memory: try again */
        }
    for (uint32_t i = 0; i < h->started; i++) pthread_join(h->threads[i], NULL);
    for (uint32_t i = 0; i < rt->threads; i++) tide__wstate_free(&rt->workers[i]);
    /* Jobs that never reached a worker (no thread started) are finalized
     * as far as the table is concerned: free them all. */
    for (struct tide_job *j = h->jobs, *n; j; j = n) {
        n = j->next;
        job_free(j);
    }
    tide__runtime_free(rt);
    tide_free(h->threads);
    tide_free(h->cores);
    pthread_mutex_destroy(&h->lock);
    tide_free(h);
}
