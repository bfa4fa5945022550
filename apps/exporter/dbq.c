/*
 * dbq.c - the database writer's own thread (dbq.h).
 *
 * A transaction is a byte log of entries, filled by the sink's thread and
 * handed over whole at fx_dbq_commit:
 *
 *   kind u8 (ROW | OFFSET) | view u8 | diff or offset i64 | len u32 | bytes
 *
 * Handed-over transactions wait in a FIFO; the writer thread takes all that
 * wait and commits them as one (run_txns). A finished transaction's buffer is kept as the next open
 * one, so a steady run allocates nothing per transaction.
 */
#define _GNU_SOURCE
#include "dbq.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

enum { ENT_ROW, ENT_OFFSET };
#define ENT_HEAD 14 /* kind, view, value, len */

typedef struct txn {
    tide_rowbuf log;
    uint64_t upto;
    int crash;
    struct txn *next;
} txn;

struct fx_dbq {
    fx_db *db;
    fx_dbq_committed_fn fn;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    txn *head, *tail; /* handed over, not yet taken */
    txn *open;        /* the sink thread's */
    txn *spare;       /* a finished one, for reuse */
    bool stop;        /* stop once the queue is empty */
    int failed;       /* under lock; read without it by the sink thread (atomic) */
    tide_error err;   /* the first error (written once, before failed) */
};

static txn *txn_new(fx_dbq *q)
{
    pthread_mutex_lock(&q->lock);
    txn *t = q->spare;
    q->spare = NULL;
    pthread_mutex_unlock(&q->lock);
    if (t == NULL && (t = calloc(1, sizeof *t)) != NULL) tide_rowbuf_init(&t->log);
    if (t) tide_rowbuf_clear(&t->log), t->next = NULL, t->crash = 0;
    return t;
}

static void txn_free(txn *t)
{
    if (t == NULL) return;
    tide_rowbuf_fini(&t->log);
    free(t);
}

/* Run the queued transactions @t.. (linked by next) as ONE database
 * transaction: when the writer falls behind it commits what waits together
 * (a group commit), and a keyed view's changes of a key across them become
 * one write (db.c). Each was whole, so their union is too. */
static int run_txns(fx_dbq *q, txn *t, tide_error *e)
{
    TIDE_TRY(fx_db_begin(q->db, e));
    int rc = TIDE_OK, crash = 0;
    for (; t && rc == TIDE_OK; t = t->next) {
        for (uint32_t at = 0; at < t->log.len && rc == TIDE_OK;) {
            const uint8_t *p = t->log.data + at;
            int64_t v;
            uint32_t len;
            memcpy(&v, p + 2, 8);
            memcpy(&len, p + 10, 4);
            if (p[0] == ENT_ROW)
                rc = fx_db_row(q->db, p[1], p + ENT_HEAD, len, v, e);
            else
                rc = fx_db_offset(q->db, p[1], (const char *)p + ENT_HEAD, len, v, e);
            at += ENT_HEAD + len;
        }
        crash |= t->crash;
    }
    if (rc == TIDE_OK && crash) raise(SIGKILL); /* the crash test: rows written, no COMMIT */
    if (rc == TIDE_OK) rc = fx_db_commit(q->db, e);
    if (rc < 0) fx_db_rollback(q->db);
    return rc;
}

static void *writer(void *arg)
{
    fx_dbq *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (q->head == NULL && !q->stop) pthread_cond_wait(&q->cond, &q->lock);
        if (q->head == NULL || q->failed) break; /* stopping, and drained */
        txn *t = q->head, *last = q->tail;       /* everything queued */
        q->head = q->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        tide_error e = {0};
        int rc = run_txns(q, t, &e);
        if (rc == TIDE_OK) q->fn(q->ctx, last->upto);
        pthread_mutex_lock(&q->lock);
        if (rc < 0) {
            q->err = e;
            __atomic_store_n(&q->failed, 1, __ATOMIC_RELEASE);
        }
        for (txn *n; t; t = n) {
            n = t->next;
            if (q->spare == NULL)
                q->spare = t;
            else
                txn_free(t);
        }
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

fx_dbq *fx_dbq_start(fx_db *db, fx_dbq_committed_fn fn, void *ctx, tide_error *e)
{
    fx_dbq *q = calloc(1, sizeof *q);
    if (q == NULL) {
        tide_err_set(e, TIDE_ENOMEM, "the writer: out of memory");
        return NULL;
    }
    q->db = db, q->fn = fn, q->ctx = ctx;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    if (pthread_create(&q->thread, NULL, writer, q) != 0) {
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->cond);
        free(q);
        tide_err_set(e, TIDE_ENOMEM, "the writer: cannot start its thread");
        return NULL;
    }
    return q;
}

/* The writer's error, once it failed (copied under the lock). */
static int failed(fx_dbq *q, tide_error *e)
{
    if (!__atomic_load_n(&q->failed, __ATOMIC_ACQUIRE)) return TIDE_OK;
    pthread_mutex_lock(&q->lock);
    *e = q->err;
    pthread_mutex_unlock(&q->lock);
    return e->code ? e->code : TIDE_EIO;
}

int fx_dbq_failed(fx_dbq *q, tide_error *e)
{
    return q ? failed(q, e) : TIDE_OK;
}

static int append(fx_dbq *q, uint8_t kind, int view, int64_t v, const void *p, uint32_t len,
                  tide_error *e)
{
    TIDE_TRY(failed(q, e));
    if (q->open == NULL && (q->open = txn_new(q)) == NULL)
        return tide_err_set(e, TIDE_ENOMEM, "the writer: out of memory");
    uint8_t h[ENT_HEAD] = {kind, (uint8_t)view};
    memcpy(h + 2, &v, 8);
    memcpy(h + 10, &len, 4);
    if (tide_row_put_raw(&q->open->log, h, ENT_HEAD) < 0 ||
        (len > 0 && tide_row_put_raw(&q->open->log, p, len) < 0))
        return tide_err_set(e, TIDE_ENOMEM, "the writer: out of memory");
    return TIDE_OK;
}

int fx_dbq_row(fx_dbq *q, int view, const uint8_t *row, uint32_t len, int64_t diff, tide_error *e)
{
    return append(q, ENT_ROW, view, diff, row, len, e);
}

int fx_dbq_offset(fx_dbq *q, int view, const char *stream, size_t n, int64_t off, tide_error *e)
{
    return append(q, ENT_OFFSET, view, off, stream, (uint32_t)n, e);
}

int fx_dbq_commit(fx_dbq *q, uint64_t upto, int crash_before_commit, tide_error *e)
{
    TIDE_TRY(failed(q, e));
    txn *t = q->open ? q->open : txn_new(q);
    if (t == NULL) return tide_err_set(e, TIDE_ENOMEM, "the writer: out of memory");
    q->open = NULL;
    t->upto = upto;
    t->crash = crash_before_commit;
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    return TIDE_OK;
}

int fx_dbq_stop(fx_dbq *q, tide_error *e)
{
    if (q == NULL) return TIDE_OK;
    pthread_mutex_lock(&q->lock);
    q->stop = true;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    int rc = q->failed ? (q->err.code ? q->err.code : TIDE_EIO) : TIDE_OK;
    if (rc < 0 && e) *e = q->err;
    for (txn *t = q->head, *n; t; t = n) n = t->next, txn_free(t);
    txn_free(q->open);
    txn_free(q->spare);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q);
    return rc;
}
