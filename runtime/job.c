/*
 * job.c - jobs on the worker side: the host-mode loop of a worker thread,
 * dataflow ids, dropping a job's dataflows, and the tide_job_* calls.
 *
 * A worker in host mode loops forever: it takes commands (start a job: call
 * its entry; cancel; retire an id; stop), runs one scheduling round over the
 * dataflows of every job (messages first, then each live dataflow in
 * creation order), ends the jobs whose dataflows are all complete, and parks
 * when a round did nothing. Errors raised while a job's code or dataflow ran
 * (tide__worker_fail, tide_op_fail) are taken off the worker and fail that
 * job only (tide__host_job_fail cancels it on every local worker).
 *
 * Ending a job here drops its dataflows (operators, channels, staged and
 * queued batches, traces no other reader holds), the messages waiting for
 * them, and retires its id: later messages for it are dropped on arrival.
 * See docs/jobs.md.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job_int.h"
#include "tide/alloc.h"

/* ======================================================================== */
/* Commands                                                                 */
/* ======================================================================== */

int tide__wstate_new(tide_worker *w)
{
    tide__wstate *ws = tide_calloc(1, sizeof *ws);
    if (ws == NULL) return TIDE_ENOMEM;
    pthread_mutex_init(&ws->lock, NULL);
    w->host = ws;
    return TIDE_OK;
}

void tide__wstate_free(tide_worker *w)
{
    tide__wstate *ws = w->host;
    if (ws == NULL) return;
    for (tide__cmd *c = ws->head, *n; c; c = n) {
        n = c->next;
        tide_free(c);
    }
    tide_free(ws->retired);
    pthread_mutex_destroy(&ws->lock);
    tide_free(ws);
    w->host = NULL;
}

int tide__job_cmd(tide_worker *w, int kind, uint64_t id, struct tide_job *job)
{
    tide__wstate *ws = w->host;
    tide__cmd *c = tide_calloc(1, sizeof *c);
    if (c == NULL) return TIDE_ENOMEM;
    c->kind = kind;
    c->id = id;
    c->job = job;
    pthread_mutex_lock(&ws->lock);
    if (ws->tail)
        ws->tail->next = c;
    else
        ws->head = c;
    ws->tail = c;
    __atomic_add_fetch(&ws->ncmds, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&ws->lock);
    tide__worker_wake(w);
    return TIDE_OK;
}

static tide__cmd *cmd_pop(tide__wstate *ws)
{
    if (__atomic_load_n(&ws->ncmds, __ATOMIC_ACQUIRE) == 0) return NULL;
    pthread_mutex_lock(&ws->lock);
    tide__cmd *c = ws->head;
    if (c) {
        ws->head = c->next;
        if (ws->head == NULL) ws->tail = NULL;
        __atomic_sub_fetch(&ws->ncmds, 1, __ATOMIC_SEQ_CST);
    }
    pthread_mutex_unlock(&ws->lock);
    return c;
}

bool tide__job_pending(tide_worker *w)
{
    tide__wstate *ws = w->host;
    if (!ws->in_entry && __atomic_load_n(&ws->ncmds, __ATOMIC_ACQUIRE)) return true;
    return !ws->failed_seen && __atomic_load_n(&w->rt->failed, __ATOMIC_ACQUIRE);
}

/* ======================================================================== */
/* Retired ids                                                              */
/* ======================================================================== */

static bool retired(const tide__wstate *ws, uint64_t id)
{
    uint32_t lo = 0, hi = ws->nretired;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (ws->retired[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ws->nretired && ws->retired[lo] == id;
}

bool tide__job_retired(tide_worker *w, uint32_t dfid)
{
    return retired(w->host, tide__df_job(dfid));
}

/* Ids arrive mostly increasing: an append, rarely a shift. On ENOMEM the id
 * stays live and its late messages wait until the worker stops (a leak
 * bounded by one job's traffic, never a wrong delivery). */
static void retire(tide_worker *w, uint64_t id)
{
    tide__wstate *ws = w->host;
    tide__worker_drop_early(w, (uint32_t)(id << TIDE__DF_SEQ_BITS),
                            (uint32_t)(id << TIDE__DF_SEQ_BITS | (TIDE__DF_PER_JOB - 1)));
    if (retired(ws, id)) return;
    if (ws->nretired == ws->retired_cap) {
        uint32_t c = ws->retired_cap ? ws->retired_cap * 2 : 64;
        uint64_t *r = tide_realloc(ws->retired, c * sizeof *r);
        if (r == NULL) return;
        ws->retired = r;
        ws->retired_cap = c;
    }
    uint32_t i = ws->nretired;
    while (i > 0 && ws->retired[i - 1] > id) {
        ws->retired[i] = ws->retired[i - 1];
        i--;
    }
    ws->retired[i] = id;
    ws->nretired++;
}

/* ======================================================================== */
/* Dataflow ids and blame                                                   */
/* ======================================================================== */

int tide__job_df_new(tide_worker *w, tide_dataflow *df)
{
    tide__wjob *wj = w->host->cur;
    if (wj == NULL)
        return tide__worker_fail(w, TIDE_ESTATE, "worker %u: dataflow '%s' built outside a job",
                                 w->index, df->name);
    if (wj->seq >= TIDE__DF_PER_JOB)
        return tide__worker_fail(w, TIDE_ERANGE, "job %llu: more than %u dataflows",
                                 (unsigned long long)wj->id, TIDE__DF_PER_JOB);
    df->index = (uint32_t)(wj->id << TIDE__DF_SEQ_BITS | wj->seq++);
    df->job = wj;
    return TIDE_OK;
}

static tide__wjob *wjob_find(tide__wstate *ws, uint64_t id)
{
    for (tide__wjob *j = ws->jobs; j; j = j->next)
        if (j->id == id) return j;
    return NULL;
}

/* Take the worker's error off it and fail @wj's job with it. */
static void blame(tide_worker *w, tide__wjob *wj)
{
    if (w->rc == 0) return;
    if (wj)
        tide__host_job_fail(wj->job, w->err.code ? w->err.code : w->rc, w->err.msg);
    else
        fprintf(stderr, "tide: worker %u: error outside any job: %s\n", w->index, w->err.msg);
    w->rc = 0;
    tide_err_clear(&w->err);
}

void tide__job_blame(tide_worker *w, uint32_t dfid)
{
    blame(w, wjob_find(w->host, tide__df_job(dfid)));
}

/* ======================================================================== */
/* Rounds                                                                   */
/* ======================================================================== */

static bool job_cancelled(const tide__wjob *wj)
{
    return wj && __atomic_load_n(&wj->job->cancelled, __ATOMIC_ACQUIRE);
}

/* The cluster failed (a peer was lost): every job here fails with it. */
static void check_failed(tide_worker *w)
{
    tide__wstate *ws = w->host;
    if (ws->failed_seen || !__atomic_load_n(&w->rt->failed, __ATOMIC_ACQUIRE)) return;
    ws->failed_seen = true;
    tide_error e;
    pthread_mutex_lock(&w->rt->fail_lock);
    e = w->rt->fail_err;
    pthread_mutex_unlock(&w->rt->fail_lock);
    for (tide__wjob *j = ws->jobs; j; j = j->next)
        tide__host_job_fail(j->job, e.code ? e.code : TIDE_EPEER, e.msg);
}

static void stats(tide_worker *w, bool force);

/* Messages, then one step of every live dataflow, each under its job. */
static void round_all(tide_worker *w, bool *did)
{
    tide__wstate *ws = w->host;
    w->steps++;
    tide__worker_drain(w, did); /* errors are blamed per message */
    tide__wjob *saved = ws->cur;
    for (uint32_t i = 0; i < w->ndfs; i++) {
        tide_dataflow *df = w->dfs[i];
        if (!df->sealed || df->complete || job_cancelled(df->job)) continue;
        ws->cur = df->job;
        tide__df_step(df, did);
        blame(w, df->job);
    }
    ws->cur = saved;
    check_failed(w);
}

/* tide_worker_step from inside an entry: one round of the whole worker;
 * 1 while the entry's job has incomplete dataflows here. */
int tide__job_step(tide_worker *w, bool *did)
{
    tide__wstate *ws = w->host;
    round_all(w, did);
    stats(w, false);
    tide__wjob *wj = ws->cur;
    if (wj == NULL) return 0;
    if (job_cancelled(wj)) return TIDE_ECLOSED;
    for (uint32_t i = 0; i < w->ndfs; i++)
        if (w->dfs[i]->job == wj && !w->dfs[i]->complete) return 1;
    return 0;
}

/* ======================================================================== */
/* Statistics                                                               */
/* ======================================================================== */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Least epoch any input of @df may still see (UINT64_MAX: none). */
static uint64_t df_front(const tide_dataflow *df)
{
    uint64_t m = UINT64_MAX;
    if (!df->sealed || df->complete) return m;
    for (uint32_t i = 0; i < df->nops; i++)
        for (uint32_t p = 0; p < df->ops[i]->ninputs; p++) {
            const tide_antichain *f = tide__tracker_frontier(df->tracker, i, p);
            for (uint32_t k = 0; k < f->len; k++)
                if (f->elems[k].epoch < m) m = f->elems[k].epoch;
        }
    return m;
}

/* Add what @wj's dataflows counted since last time to its job. */
static void wjob_stats(tide_worker *w, tide__wjob *wj)
{
    uint64_t in = 0, out = 0, front = UINT64_MAX;
    for (uint32_t i = 0; i < w->ndfs; i++) {
        tide_dataflow *df = w->dfs[i];
        if (df->job != wj) continue;
        in += df->records_in;
        out += df->records_out;
        uint64_t f = df_front(df);
        if (f < front) front = f;
    }
    if (!wj->entered && front == UINT64_MAX) front = 0; /* still building */
    if (in > wj->rin) __atomic_add_fetch(&wj->job->records_in, in - wj->rin, __ATOMIC_RELAXED);
    if (out > wj->rout) __atomic_add_fetch(&wj->job->records_out, out - wj->rout, __ATOMIC_RELAXED);
    wj->rin = in > wj->rin ? in : wj->rin;
    wj->rout = out > wj->rout ? out : wj->rout;
    __atomic_store_n(&wj->job->front[w->local], front, __ATOMIC_RELAXED);
}

static void stats(tide_worker *w, bool force)
{
    tide__wstate *ws = w->host;
    uint64_t now = mono_ns();
    if (!force && now - ws->stats_ns < 1000000u) return; /* at most every ms */
    ws->stats_ns = now;
    for (tide__wjob *j = ws->jobs; j; j = j->next) wjob_stats(w, j);
    tide__pubs_refresh(w);
}

/* ======================================================================== */
/* Starting and ending jobs                                                 */
/* ======================================================================== */

/* Drop everything of @wj on this worker and tell the host. */
static void wjob_end(tide_worker *w, tide__wjob *wj)
{
    tide__wstate *ws = w->host;
    wjob_stats(w, wj);
    __atomic_store_n(&wj->job->front[w->local], UINT64_MAX, __ATOMIC_RELAXED);
    for (uint32_t i = w->ndfs; i-- > 0;)
        if (w->dfs[i]->job == wj) tide__df_drop(w->dfs[i]);
    retire(w, wj->id);
    tide__pubs_job_ended(w, wj);
    for (tide__wjob **p = &ws->jobs; *p; p = &(*p)->next)
        if (*p == wj) {
            *p = wj->next;
            break;
        }
    if (ws->cur == wj) ws->cur = NULL;
    struct tide_job *job = wj->job;
    tide_free(wj);
    /* Batches the dropped dataflows freed sit in this thread's cache. */
    tide__batch_pool_drain();
    tide__batch_pool_enable();
    tide__host_job_ended(job);
}

static void job_start(tide_worker *w, struct tide_job *job)
{
    tide__wstate *ws = w->host;
    tide__wjob *wj = tide_calloc(1, sizeof *wj);
    if (wj == NULL) {
        tide__host_job_fail(job, TIDE_ENOMEM, "out of memory starting the job");
        tide__host_job_ended(job);
        return;
    }
    wj->job = job;
    wj->id = job->id;
    wj->next = ws->jobs;
    ws->jobs = wj;
    if (retired(ws, job->id)) {
        /* Messages for a retired id are dropped on arrival: never run it. */
        char msg[96];
        snprintf(msg, sizeof msg, "job id %llu was used before on worker %u",
                 (unsigned long long)job->id, w->index);
        tide__host_job_fail(job, TIDE_EINVAL, msg);
    }
    if (ws->failed_seen) {
        pthread_mutex_lock(&w->rt->fail_lock);
        tide__host_job_fail(job, TIDE_EPEER, w->rt->fail_err.msg);
        pthread_mutex_unlock(&w->rt->fail_lock);
    }
    if (job_cancelled(wj)) {
        wjob_end(w, wj);
        return;
    }
    ws->cur = wj;
    ws->in_entry = true;
    int rc = job->entry(w, job->argc, job->argv, job);
    ws->in_entry = false;
    if (w->rc) {
        blame(w, wj);
    } else if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "worker %u: the entry returned %s", w->index, tide_err_name(rc));
        tide__host_job_fail(job, rc, msg);
    } else {
        /* Seal what the entry left open (its dataflows start running). */
        for (uint32_t i = 0; i < w->ndfs && !job_cancelled(wj); i++)
            if (w->dfs[i]->job == wj && !w->dfs[i]->sealed) {
                tide_dataflow_seal(w->dfs[i]);
                blame(w, wj);
            }
    }
    ws->cur = NULL;
    wj->entered = true;
}

/* Run the commands waiting; true once told to stop. */
static bool commands(tide_worker *w, bool *did)
{
    tide__wstate *ws = w->host;
    tide__cmd *c;
    bool stop = false;
    while (!stop && (c = cmd_pop(ws)) != NULL) {
        *did = true;
        tide__wjob *wj = c->kind == TIDE__CMD_START ? NULL : wjob_find(ws, c->id);
        switch (c->kind) {
        case TIDE__CMD_START:
            job_start(w, c->job);
            break;
        case TIDE__CMD_CANCEL:
        case TIDE__CMD_FORGET:
            if (wj)
                wjob_end(w, wj);
            else
                retire(w, c->id);
            break;
        case TIDE__CMD_STOP:
            stop = true;
            break;
        }
        tide_free(c);
    }
    return stop;
}

/* End the jobs that are complete here, or cancelled. */
static void finish(tide_worker *w, bool *did)
{
    tide__wstate *ws = w->host;
    for (tide__wjob *j = ws->jobs, *n; j; j = n) {
        n = j->next;
        bool end = job_cancelled(j);
        if (!end && j->entered) {
            end = true;
            for (uint32_t i = 0; i < w->ndfs && end; i++)
                if (w->dfs[i]->job == j && !w->dfs[i]->complete) end = false;
        }
        if (end) {
            *did = true;
            wjob_end(w, j);
        }
    }
}

void tide__job_worker_run(tide_worker *w)
{
    tide__wstate *ws = w->host;
    for (;;) {
        bool did = false;
        if (commands(w, &did)) break;
        round_all(w, &did);
        finish(w, &did);
        stats(w, false);
        /* The timeout is a safety net only: every producer wakes us. */
        if (!did) tide__worker_park(w, 1000000);
    }
    /* Stop: every job still here ends as cancelled. */
    while (ws->jobs) {
        tide__host_job_fail(ws->jobs->job, TIDE_ECLOSED, "the cluster stopped");
        wjob_end(w, ws->jobs);
    }
}

/* ======================================================================== */
/* The public tide_job_* calls                                              */
/* ======================================================================== */

/* Format into @stack, or a heap buffer when longer; *@heap to free. */
static int vformat(char *stack, size_t size, char **heap, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(stack, size, fmt, cp);
    va_end(cp);
    *heap = NULL;
    if (n < 0) return TIDE_EINVAL;
    if ((size_t)n < size) return n;
    *heap = tide_alloc((size_t)n + 1);
    if (*heap == NULL) return TIDE_ENOMEM;
    vsnprintf(*heap, (size_t)n + 1, fmt, ap);
    return n;
}

static int job_vwrite(tide_job *job, int fd, const char *fmt, va_list ap)
{
    char stack[1024], *heap;
    int n = vformat(stack, sizeof stack, &heap, fmt, ap);
    if (n < 0) return n;
    const char *buf = heap ? heap : stack;
    if (job)
        tide__host_out(job, fd, buf, (size_t)n);
    else
        fwrite(buf, 1, (size_t)n, fd == 1 ? stdout : stderr);
    tide_free(heap);
    return n;
}

int tide_job_printf(tide_job *job, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = job_vwrite(job, 1, fmt, ap);
    va_end(ap);
    return n;
}

int tide_job_eprintf(tide_job *job, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = job_vwrite(job, 2, fmt, ap);
    va_end(ap);
    return n;
}

int tide_job_fail(tide_job *job, int code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (code >= 0) code = TIDE_EINVAL;
    if (job)
        tide__host_job_fail(job, code, msg);
    else
        fprintf(stderr, "job failed: %s: %s\n", tide_err_name(code), msg);
    return code;
}

bool tide_job_cancelled(const tide_job *job)
{
    return job && __atomic_load_n(&job->cancelled, __ATOMIC_ACQUIRE);
}

uint64_t tide_job_id(const tide_job *job)
{
    return job ? job->id : 0;
}

const char *tide_job_name(const tide_job *job)
{
    return job ? job->name : "";
}
