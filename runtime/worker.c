/*
 * worker.c - one worker thread's loop: deliver messages, step dataflows,
 * park when idle.
 *
 * A step drains every inbox (one SPSC queue per local peer plus one from the
 * network), hands DATA to operator inputs and PROGRESS to the dataflow's
 * tracker, then steps each dataflow. Messages for a dataflow this worker has
 * not built yet wait in the dataflow slot's early list (workers build the
 * same dataflows but not at the same moment).
 *
 * Parking uses a futex word: producers bump wake_seq after pushing and wake
 * the worker if it announced it is sleeping; the worker re-checks its queues
 * after announcing, so no wake-up is lost.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "stall.h"
#include "tide/alloc.h"
#include "transport.h"
#include "worker.h"

/* Pauses a parking worker spins for before it sleeps (~ a few us): long
 * enough to catch a peer's progress reply, which takes ~1 us, short enough
 * not to burn a core another thread needs (2000 pauses, ~50 us, cost the
 * exporter at W=2 a fifth of its CPU on a shared 2-core machine). */
#define TIDE__SPIN 100

uint32_t tide_worker_index(const tide_worker *w)
{
    return w->index;
}
uint32_t tide_worker_peers(const tide_worker *w)
{
    return w->peers;
}
const tide_config *tide_worker_config(const tide_worker *w)
{
    return &w->rt->cfg;
}
const tide_error *tide_worker_error(const tide_worker *w)
{
    return &w->err;
}

int tide__worker_fail(tide_worker *w, int code, const char *fmt, ...)
{
    if (w->rc == 0) {
        va_list ap;
        va_start(ap, fmt);
        w->err.code = code;
        vsnprintf(w->err.msg, sizeof w->err.msg, fmt, ap);
        va_end(ap);
        w->rc = code;
    }
    return code;
}

/* ---- wake-ups --------------------------------------------------------------- */

static long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

void tide__worker_wake(tide_worker *w)
{
    __atomic_add_fetch(&w->wake_seq, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&w->sleeping, __ATOMIC_SEQ_CST))
        futex(&w->wake_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

static bool inbox_nonempty(tide_worker *w)
{
    tide__runtime *rt = w->rt;
    for (uint32_t s = 0; s < rt->threads; s++)
        if (s != w->local && tide__queue_peek(&rt->queues[s * rt->threads + w->local])) return true;
    if (rt->netq && tide__queue_peek(&rt->netq[w->local])) return true;
    if (w->host) return tide__job_pending(w); /* commands, an unseen cluster failure */
    return __atomic_load_n(&rt->failed, __ATOMIC_ACQUIRE) != 0;
}

void tide__worker_park(tide_worker *w, int64_t timeout_us)
{
    uint32_t seq = __atomic_load_n(&w->wake_seq, __ATOMIC_ACQUIRE);
    /* Spin briefly first: a peer's reply usually comes within microseconds,
     * and a futex round trip costs more than that. */
    for (int i = 0; i < TIDE__SPIN; i++) {
        if (inbox_nonempty(w)) return;
        __builtin_ia32_pause();
    }
    __atomic_store_n(&w->sleeping, 1, __ATOMIC_SEQ_CST);
    if (!inbox_nonempty(w)) {
        struct timespec ts, *tsp = NULL;
        if (timeout_us >= 0) {
            ts.tv_sec = timeout_us / 1000000;
            ts.tv_nsec = (timeout_us % 1000000) * 1000;
            tsp = &ts;
        }
        futex(&w->wake_seq, FUTEX_WAIT_PRIVATE, seq, tsp);
    }
    __atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
}

/* ---- sending ------------------------------------------------------------------ */

/* Route @m (its payload reference is taken) to global worker @dst. */
int tide__worker_send(tide_worker *w, uint32_t dst, tide__msg *m)
{
    tide__runtime *rt = w->rt;
    m->from = w->index;
    if (dst == w->index) return tide__worker_deliver(w, m);
    if (dst >= rt->first && dst < rt->first + rt->threads) {
        uint32_t local = dst - rt->first;
        int rc = tide__queue_push(&rt->queues[w->local * rt->threads + local], m);
        if (rc < 0)
            return tide__worker_fail(w, rc, "worker %u: out of memory queueing a message",
                                     w->index);
        tide__worker_wake(&rt->workers[local]);
        return TIDE_OK;
    }
    return tide__transport_send(rt->tp, w->local, dst, m);
}

/* ---- receiving ------------------------------------------------------------------ */

tide_dataflow *tide__worker_df(tide_worker *w, uint32_t id)
{
    /* tide_execute: ids are creation indices; a dataflow sits at its own
     * index until one before it is dropped (tide_dataflow_drop). */
    if (w->host == NULL && id < w->ndfs && w->dfs[id]->index == id) return w->dfs[id];
    if (w->last_df && w->last_df->index == id) return w->last_df;
    for (uint32_t i = 0; i < w->ndfs; i++)
        if (w->dfs[i]->index == id) return w->last_df = w->dfs[i];
    return NULL;
}

/* Messages for a dataflow that is not sealed here yet wait in a worker-level
 * list per dataflow id, replayed by tide__worker_replay. Few dataflows wait
 * at any moment, so the lists are searched linearly. */
typedef struct tide__early early_list;
struct tide__early {
    uint32_t id;
    tide__msg *msgs;
    uint32_t len, cap;
};

static early_list *early_find(tide_worker *w, uint32_t id)
{
    for (uint32_t i = 0; i < w->nearly; i++)
        if (w->early[i].id == id) return &w->early[i];
    return NULL;
}

static int stash(tide_worker *w, const tide__msg *m)
{
    early_list *l = early_find(w, m->dataflow);
    if (l == NULL) {
        if (w->nearly == w->early_cap) {
            uint32_t n = w->early_cap ? w->early_cap * 2 : 8;
            early_list *e = tide_realloc(w->early, n * sizeof *e);
            if (e == NULL) return TIDE_ENOMEM;
            w->early = e;
            w->early_cap = n;
        }
        l = &w->early[w->nearly++];
        memset(l, 0, sizeof *l);
        l->id = m->dataflow;
    }
    if (l->len == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 16;
        tide__msg *p = tide_realloc(l->msgs, cap * sizeof *p);
        if (p == NULL) return TIDE_ENOMEM;
        l->msgs = p;
        l->cap = cap;
    }
    l->msgs[l->len++] = *m;
    return TIDE_OK;
}

static void release_msg(tide__msg *m)
{
    if (m->kind == TIDE__MSG_DATA)
        tide_batch_unref(m->batch);
    else
        tide__progress_unref(m->progress);
}

/* Remove early list @i (its messages are handed over or released first). */
static void early_remove(tide_worker *w, uint32_t i)
{
    tide_free(w->early[i].msgs);
    w->early[i] = w->early[--w->nearly];
}

void tide__worker_drop_early(tide_worker *w, uint32_t lo, uint32_t hi)
{
    for (uint32_t i = 0; i < w->nearly;) {
        early_list *l = &w->early[i];
        if (l->id < lo || l->id > hi) {
            i++;
            continue;
        }
        for (uint32_t k = 0; k < l->len; k++) release_msg(&l->msgs[k]);
        early_remove(w, i);
    }
}

int tide__worker_deliver(tide_worker *w, tide__msg *m)
{
    tide_dataflow *df = tide__worker_df(w, m->dataflow);
    int rc;
    if (df == NULL &&
        ((w->host && tide__job_retired(w, m->dataflow)) || tide__df_dropped(w, m->dataflow))) {
        release_msg(m); /* its job ended or it was dropped here: nobody will read it */
        return TIDE_OK;
    }
    if (df == NULL || !df->sealed) {
        rc = stash(w, m);
        if (rc < 0) {
            release_msg(m);
            return tide__worker_fail(w, rc, "worker %u: out of memory holding a message", w->index);
        }
        return TIDE_OK;
    }
    if (m->kind == TIDE__MSG_DATA) {
        /* Nothing reads a batch before it is known to fit its channel. */
        rc = tide__channel_check(df, m);
        if (rc < 0) {
            tide_batch_unref(m->batch);
            return rc;
        }
        return tide__deliver_local(df, m->channel, m->batch);
    }
    tide__stall_note(df, m->from, m->progress->updates, m->progress->len);
    rc = tide__df_apply(df, m->progress->updates, m->progress->len);
    tide__progress_unref(m->progress);
    return rc;
}

/* Replay what arrived for dataflow @index before it was sealed. */
int tide__worker_replay(tide_worker *w, uint32_t index)
{
    early_list *l = early_find(w, index);
    if (l == NULL) return TIDE_OK;
    early_list mine = *l;
    l->msgs = NULL; /* ours now: delivery below may stash for other ids */
    early_remove(w, (uint32_t)(l - w->early));
    int rc = TIDE_OK;
    for (uint32_t i = 0; i < mine.len; i++) {
        int r = tide__worker_deliver(w, &mine.msgs[i]);
        if (r < 0 && rc == TIDE_OK) rc = r;
    }
    tide_free(mine.msgs);
    return rc;
}

/* Free whatever is still stashed when the worker ends, and its published
 * arrangements (after its dataflows: they may point at them). */
void tide__worker_release_early(tide_worker *w)
{
    tide__worker_drop_early(w, 0, UINT32_MAX);
    tide_free(w->early);
    w->early = NULL;
    w->nearly = w->early_cap = 0;
    tide__pubs_release(w);
}

/* Deliver @m; in host mode an error fails the message's job, not the worker. */
static int deliver_one(tide_worker *w, tide__msg *m)
{
    uint32_t id = m->dataflow;
    int rc = tide__worker_deliver(w, m);
    if (rc < 0 && w->host) {
        tide__job_blame(w, id);
        rc = TIDE_OK;
    }
    return rc;
}

int tide__worker_drain(tide_worker *w, bool *did)
{
    tide__runtime *rt = w->rt;
    tide__msg m;
    for (uint32_t s = 0; s < rt->threads; s++) {
        if (s == w->local) continue;
        tide__queue *q = &rt->queues[s * rt->threads + w->local];
        while (tide__queue_pop(q, &m)) {
            *did = true;
            TIDE_TRY(deliver_one(w, &m));
        }
    }
    if (rt->netq) {
        while (tide__queue_pop(&rt->netq[w->local], &m)) {
            *did = true;
            TIDE_TRY(deliver_one(w, &m));
        }
    }
    return TIDE_OK;
}

/* ---- stepping ------------------------------------------------------------------ */

static int step(tide_worker *w, bool *did)
{
    if (w->host) return tide__job_step(w, did); /* a job's entry steps: job.c */
    if (w->rc) return w->rc;
    if (__atomic_load_n(&w->rt->failed, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&w->rt->fail_lock);
        tide__worker_fail(w, w->rt->fail_err.code, "%s", w->rt->fail_err.msg);
        pthread_mutex_unlock(&w->rt->fail_lock);
        return w->rc;
    }
    w->steps++;
    int rc = tide__worker_drain(w, did);
    if (rc < 0) return rc;
    int incomplete = 0;
    for (uint32_t i = 0; i < w->ndfs; i++) {
        tide_dataflow *df = w->dfs[i];
        if (df == NULL) continue;
        if (!df->sealed) {
            incomplete = 1;
            continue;
        }
        if (df->complete) continue;
        rc = tide__df_step(df, did);
        if (rc < 0) return rc;
        if (!df->complete) incomplete = 1;
    }
    if (w->rc) return w->rc;
    return incomplete;
}

/* step, published for the stall check of other threads' step_until
 * (probe.c): which step is running (0: none), and how many did work. */
static int step_counted(tide_worker *w, bool *did)
{
    __atomic_store_n(&w->in_step, w->steps + 1, __ATOMIC_RELAXED);
    int rc = step(w, did);
    __atomic_store_n(&w->in_step, 0, __ATOMIC_RELAXED);
    if (*did) __atomic_store_n(&w->worked, w->worked + 1, __ATOMIC_RELAXED);
    return rc;
}

int tide_worker_step(tide_worker *w)
{
    bool did = false;
    return step_counted(w, &did);
}

int tide_worker_step_or_park(tide_worker *w, int64_t timeout_us)
{
    bool did = false;
    int rc = step_counted(w, &did);
    if (rc > 0 && !did && timeout_us != 0) tide__worker_park(w, timeout_us);
    return rc;
}
