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
    return __atomic_load_n(&rt->failed, __ATOMIC_ACQUIRE) != 0;
}

static void park(tide_worker *w, int64_t timeout_us)
{
    uint32_t seq = __atomic_load_n(&w->wake_seq, __ATOMIC_ACQUIRE);
    /* Spin briefly first: a peer's reply usually comes within microseconds,
     * and a futex round trip costs more than that. */
    for (int i = 0; i < 2000; i++) {
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

static tide_dataflow *df_slot(tide_worker *w, uint32_t index)
{
    return index < w->ndfs ? w->dfs[index] : NULL;
}

/* Messages for a dataflow that is not sealed here yet wait in a worker-level
 * list keyed by dataflow index, replayed by tide__worker_replay. */
typedef struct tide__early early_list;
struct tide__early {
    tide__msg *msgs;
    uint32_t len, cap;
};

static int stash(tide_worker *w, const tide__msg *m)
{
    if (m->dataflow >= w->nearly) {
        uint32_t n = m->dataflow + 8;
        early_list *e = tide_realloc(w->early, n * sizeof *e);
        if (e == NULL) return TIDE_ENOMEM;
        memset(e + w->nearly, 0, (n - w->nearly) * sizeof *e);
        w->early = e;
        w->nearly = n;
    }
    early_list *l = &w->early[m->dataflow];
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

int tide__worker_deliver(tide_worker *w, tide__msg *m)
{
    tide_dataflow *df = df_slot(w, m->dataflow);
    int rc;
    if (df == NULL || !df->sealed) {
        rc = stash(w, m);
        if (rc < 0) {
            release_msg(m);
            return tide__worker_fail(w, rc, "worker %u: out of memory holding a message", w->index);
        }
        return TIDE_OK;
    }
    if (m->kind == TIDE__MSG_DATA) {
        if (m->channel >= df->nchans) {
            tide_batch_unref(m->batch);
            return tide__worker_fail(w, TIDE_EPROTO,
                                     "worker %u: dataflow '%s' has no channel %u (from worker %u)",
                                     w->index, df->name, m->channel, m->from);
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
    if (index >= w->nearly) return TIDE_OK;
    early_list *l = &w->early[index];
    int rc = TIDE_OK;
    for (uint32_t i = 0; i < l->len; i++) {
        int r = tide__worker_deliver(w, &l->msgs[i]);
        if (r < 0 && rc == TIDE_OK) rc = r;
    }
    tide_free(l->msgs);
    memset(l, 0, sizeof *l);
    return rc;
}

/* Free whatever is still stashed when the worker ends. */
void tide__worker_release_early(tide_worker *w)
{
    for (uint32_t d = 0; d < w->nearly; d++) {
        for (uint32_t i = 0; i < w->early[d].len; i++) release_msg(&w->early[d].msgs[i]);
        tide_free(w->early[d].msgs);
    }
    tide_free(w->early);
    w->early = NULL;
    w->nearly = 0;
}

static int drain(tide_worker *w, bool *did)
{
    tide__runtime *rt = w->rt;
    tide__msg m;
    for (uint32_t s = 0; s < rt->threads; s++) {
        if (s == w->local) continue;
        tide__queue *q = &rt->queues[s * rt->threads + w->local];
        while (tide__queue_pop(q, &m)) {
            *did = true;
            int rc = tide__worker_deliver(w, &m);
            if (rc < 0) return rc;
        }
    }
    if (rt->netq) {
        while (tide__queue_pop(&rt->netq[w->local], &m)) {
            *did = true;
            int rc = tide__worker_deliver(w, &m);
            if (rc < 0) return rc;
        }
    }
    return TIDE_OK;
}

/* ---- stepping ------------------------------------------------------------------ */

static int step(tide_worker *w, bool *did)
{
    if (w->rc) return w->rc;
    if (__atomic_load_n(&w->rt->failed, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&w->rt->fail_lock);
        tide__worker_fail(w, w->rt->fail_err.code, "%s", w->rt->fail_err.msg);
        pthread_mutex_unlock(&w->rt->fail_lock);
        return w->rc;
    }
    w->steps++;
    int rc = drain(w, did);
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

int tide_worker_step(tide_worker *w)
{
    bool did = false;
    int rc = step(w, &did);
    w->worked += did;
    return rc;
}

int tide_worker_step_or_park(tide_worker *w, int64_t timeout_us)
{
    bool did = false;
    int rc = step(w, &did);
    w->worked += did;
    if (rc > 0 && !did && timeout_us != 0) park(w, timeout_us);
    return rc;
}
