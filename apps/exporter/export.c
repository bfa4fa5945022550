/*
 * export.c - the exporter's run (export.h).
 *
 *   worker 0: log --batches--> input (epoch k) --views--> sink --> db txn per epoch
 *   workers:  their share of the views (exchanged by key)
 *
 * Offsets: for every epoch sent, the last offset of each stream it holds;
 * when the sink's frontier passes epochs, their offsets go into the open
 * transaction (the one holding their row changes) and it commits.
 *
 * Threads: worker 0 reads (feed); the sink runs on the last worker of
 * process 0, the same thread when W = 1, and hands each transaction to the
 * writer thread (dbq.h), which alone uses the database connection. They
 * share the queue of sent epochs and the stream names (under @lock) and
 * next_commit (atomic, stored by the writer thread after each commit).
 */
#define _GNU_SOURCE
#include "export.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "db.h"
#include "dbq.h"
#include "log.h"
#include "snapshot.h"
#include "window.h"

typedef struct off_ent {
    uint32_t stream; /* index in ex.streams */
    int64_t off;
} off_ent;

typedef struct epoch_offs {
    uint64_t epoch;
    off_ent *e;
    uint32_t n, cap;
} epoch_offs;

typedef struct ex {
    const fx_export_opts *o;
    const fx_views *views;
    fx_db *db;
    fx_dbq *dbq;          /* process 0: the writer thread, which alone uses db */
    uint64_t queued;      /* the sink: transactions handed to dbq */
    fx_smap stored;       /* offsets in the database at start */
    bool *fresh;          /* per view: no offsets stored (written from epoch 0 on) */
    pthread_mutex_t lock; /* q and inserts into streams */
    fx_smap streams;      /* stream name -> index (reader inserts, writer reads names) */
    uint64_t *last_epoch; /* reader: per stream, last epoch holding it */
    uint32_t *entry;      /* reader: per stream, its entry in that epoch */
    uint32_t nstreams_cap;
    epoch_offs cur; /* reader: the epoch being sent */
    epoch_offs *q;  /* epochs sent, not committed, ascending */
    uint32_t nq, qcap;
    uint64_t next_commit; /* first epoch not committed (atomic) */
    bool txn;             /* the sink: rows queued since the last commit */
    uint64_t *wrote;      /* writer: per stream, the commit_stamp its offset was written at */
    uint32_t nwrote;
    uint64_t commit_stamp;
    fx_export_stats st;
    tide_error input_err;  /* a bad batch: reported after the clean stop */
    bool windowed;         /* --since: the reader keeps the window's events in win */
    fx_window win;         /* reader: the events inside it */
    char *snap_path;       /* snapshots: the file (NULL: none) */
    char *sig;             /* snapshots: the views' names and versions, the window */
    uint64_t snap_pending; /* epoch whose snapshot waits in PATH.tmp for its commit (0: none) */
    /* State snapshots (snapshot.h): taking them ... */
    uint32_t nlocal;    /* this process's workers */
    uint64_t snap_req;  /* atomic: the epoch every worker is asked to save at (0: none) */
    uint64_t *saved_at; /* per local worker, atomic: the last epoch it saved at */
    char **sbuf;        /* per local worker: its saved state (open_memstream's) */
    size_t *slen;       /* per local worker */
    int *src;           /* per local worker: its save's result */
    /* ... and loading one at a restart. */
    fx_snapshot *snap;          /* the checked snapshot to load (NULL: replay the log) */
    pthread_barrier_t snap_bar; /* the workers agree whether every load succeeded */
    bool snap_failed;           /* atomic: some worker's load failed */
    bool restored;              /* the dataflow holds the snapshot's state */
    uint64_t replay_epoch;      /* the replayed events' epoch: 0, or 1 after a load */
} ex;

/* ---- offsets per epoch ------------------------------------------------------- */

/* Start collecting the offsets of @epoch (reader). */
static epoch_offs *epoch_new(ex *x, uint64_t epoch)
{
    x->cur.epoch = epoch;
    x->cur.n = 0;
    return &x->cur;
}

/* Hand the current epoch's offsets to the writer (before the input moves
 * past the epoch, so they are queued before the frontier can pass it). */
static int epoch_push(ex *x)
{
    pthread_mutex_lock(&x->lock);
    int rc = TIDE_OK;
    if (x->nq == x->qcap) {
        uint32_t cap = x->qcap ? x->qcap * 2 : 8;
        epoch_offs *q = realloc(x->q, cap * sizeof *q);
        if (q == NULL)
            rc = TIDE_ENOMEM;
        else
            x->q = q, x->qcap = cap;
    }
    if (rc == TIDE_OK) {
        x->q[x->nq++] = x->cur;
        x->cur = (epoch_offs){0};
    }
    pthread_mutex_unlock(&x->lock);
    return rc;
}

static int note_offset(ex *x, epoch_offs *eo, const char *s, size_t n, int64_t off)
{
    /* Only this thread inserts: a lookup needs no lock, an insert does
     * (the writer reads names meanwhile). */
    int64_t *idx = fx_smap_get(&x->streams, s, n);
    if (idx == NULL) {
        pthread_mutex_lock(&x->lock);
        idx = fx_smap_put(&x->streams, s, n, (int64_t)x->streams.n);
        pthread_mutex_unlock(&x->lock);
    }
    if (idx == NULL) return TIDE_ENOMEM;
    uint32_t i = (uint32_t)*idx;
    if (i >= x->nstreams_cap) {
        uint32_t cap = x->nstreams_cap ? x->nstreams_cap * 2 : 256;
        while (cap <= i) cap *= 2;
        uint64_t *le = realloc(x->last_epoch, cap * sizeof *le);
        if (le) x->last_epoch = le;
        uint32_t *en = realloc(x->entry, cap * sizeof *en);
        if (en) x->entry = en;
        if (!le || !en) return TIDE_ENOMEM;
        for (uint32_t k = x->nstreams_cap; k < cap; k++) x->last_epoch[k] = UINT64_MAX;
        x->nstreams_cap = cap;
    }
    if (x->last_epoch[i] == eo->epoch) {
        eo->e[x->entry[i]].off = off;
        return TIDE_OK;
    }
    if (eo->n == eo->cap) {
        uint32_t cap = eo->cap ? eo->cap * 2 : 64;
        off_ent *e = realloc(eo->e, cap * sizeof *e);
        if (e == NULL) return TIDE_ENOMEM;
        eo->e = e;
        eo->cap = cap;
    }
    x->last_epoch[i] = eo->epoch;
    x->entry[i] = eo->n;
    eo->e[eo->n++] = (off_ent){i, off};
    return TIDE_OK;
}

/* ---- the sink: the database writer --------------------------------------------- */

static int on_updates(void *ctx, tide_time t, const tide_batch *b, tide_error *e)
{
    ex *x = ctx;
    x->txn = true;
    /* Deletes first, so that a replaced primary key is free for its insert. */
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < b->len; i++) {
            if ((b->diffs[i] < 0) != (pass == 0)) continue;
            uint32_t kl;
            const uint8_t *k = tide_batch_key(b, i, &kl);
            int view = k[0];
            if (t.epoch <= x->replay_epoch && !x->fresh[view]) continue; /* replayed: stored */
            TIDE_TRY(fx_dbq_row(x->dbq, view, k + 1, kl - 1, b->diffs[i], e));
            x->st.rows++;
        }
    return TIDE_OK;
}

/* Make the snapshot waiting in PATH.tmp current (under x->lock: the reader
 * and the writer may both try; a failure costs the snapshot, not the
 * export). */
static void publish_locked(ex *x)
{
    tide_error se = {0};
    if (fx_snapshot_publish(x->snap_path, &se) < 0)
        fprintf(stderr, "tide-export: %s\n", se.msg);
    else
        x->st.snapshots++;
    x->snap_pending = 0;
}

/* Once the epoch of the snapshot waiting in PATH.tmp has committed (the
 * commit covers the epochs before @upto), it replaces PATH. */
static int publish_snapshot(ex *x, uint64_t upto)
{
    pthread_mutex_lock(&x->lock);
    if (x->snap_pending != 0 && x->snap_pending < upto) publish_locked(x);
    pthread_mutex_unlock(&x->lock);
    return TIDE_OK;
}

/* Size the writer's per-stream stamps to the streams known (under lock). */
static int wrote_grow(ex *x)
{
    if (x->nwrote >= x->streams.n) return TIDE_OK;
    uint32_t n = x->streams.n + 256;
    uint64_t *w = realloc(x->wrote, n * sizeof *w);
    if (w == NULL) return TIDE_ENOMEM;
    memset(w + x->nwrote, 0, (n - x->nwrote) * sizeof *w);
    x->wrote = w;
    x->nwrote = n;
    return TIDE_OK;
}

static int on_frontier(void *ctx, const tide_antichain *f, tide_error *e)
{
    ex *x = ctx;
    uint64_t upto = f->len == 0 ? UINT64_MAX : f->elems[0].epoch;
    pthread_mutex_lock(&x->lock);
    uint32_t done = 0;
    while (done < x->nq && x->q[done].epoch < upto) done++;
    int rc = TIDE_OK;
    bool commit = done > 0 || x->txn;
    /* Newest epoch first: a stream's offset is written once per commit,
     * its last (epochs committed together often share most streams). */
    if (rc == TIDE_OK && done > 0 && wrote_grow(x) < 0)
        rc = tide_err_set(e, TIDE_ENOMEM, "the writer: out of memory");
    x->commit_stamp++;
    for (uint32_t q = done; q-- > 0 && rc == TIDE_OK;) {
        const epoch_offs *eo = &x->q[q];
        for (uint32_t i = 0; i < eo->n && rc == TIDE_OK; i++) {
            if (x->wrote[eo->e[i].stream] == x->commit_stamp) continue;
            x->wrote[eo->e[i].stream] = x->commit_stamp;
            const char *s = x->streams.keys[eo->e[i].stream];
            for (int v = 0; v < x->views->n && rc == TIDE_OK; v++)
                if (eo->epoch > x->replay_epoch || x->fresh[v])
                    rc = fx_dbq_offset(x->dbq, v, s, strlen(s), eo->e[i].off, e);
        }
    }
    for (uint32_t q = 0; q < done; q++) free(x->q[q].e);
    if (done > 0) memmove(x->q, x->q + done, (x->nq - done) * sizeof *x->q);
    x->nq -= done;
    pthread_mutex_unlock(&x->lock);
    if (rc < 0 || !commit) return rc;
    /* The crash test: the writer dies with the transaction half done. */
    bool crash = x->o->crash_at_commit && (long)++x->queued == x->o->crash_at_commit;
    TIDE_TRY(fx_dbq_commit(x->dbq, upto, crash, e));
    x->txn = false;
    return TIDE_OK;
}

/* The writer thread committed the transaction that brought the tables to
 * the frontier @upto. */
static void on_committed(void *ctx, uint64_t upto)
{
    ex *x = ctx;
    x->st.commits++; /* read at the end, after the writer stopped */
    __atomic_store_n(&x->next_commit, upto, __ATOMIC_RELEASE);
    publish_snapshot(x, upto);
}

/* ---- worker 0: reading and feeding --------------------------------------------- */

/* Send event row @row at the input's epoch, noting its offset in @eo. */
static int send_event(ex *x, tide_input *in, epoch_offs *eo, const uint8_t *row, uint32_t len)
{
    tide_row r;
    TIDE_TRY(tide_row_open(&r, &FX_EVENT, row, len));
    uint32_t sl;
    tide_rowbuf scratch;
    tide_rowbuf_init(&scratch);
    const char *s = tide_row_str(&r, EV_STREAM, &sl, &scratch);
    int rc = note_offset(x, eo, s, sl, (int64_t)tide_row_u64(&r, EV_OFFSET));
    tide_rowbuf_fini(&scratch);
    TIDE_TRY(rc);
    x->st.fed++;
    return tide_input_update(in, row, len, NULL, 0, 1);
}

static int64_t event_ts(const uint8_t *row, uint32_t len)
{
    tide_row r;
    if (tide_row_open(&r, &FX_EVENT, row, len) < 0) return INT64_MIN;
    return tide_row_i64(&r, EV_TIMESTAMP);
}

/*
 * --since: take event @row at the input's epoch. Its offset counts whether
 * or not it is inside the window (the offsets say how far the log was
 * read); only an event inside is sent, and kept to be retracted later.
 * The caller has shown the window every timestamp of the batch first.
 */
static int window_event(ex *x, tide_input *in, epoch_offs *eo, const uint8_t *row, uint32_t len,
                        bool send)
{
    tide_row r;
    TIDE_TRY(tide_row_open(&r, &FX_EVENT, row, len));
    uint32_t sl;
    tide_rowbuf scratch;
    tide_rowbuf_init(&scratch);
    const char *s = tide_row_str(&r, EV_STREAM, &sl, &scratch);
    int rc = note_offset(x, eo, s, sl, (int64_t)tide_row_u64(&r, EV_OFFSET));
    tide_rowbuf_fini(&scratch);
    TIDE_TRY(rc);
    int64_t ts = tide_row_i64(&r, EV_TIMESTAMP);
    if (!fx_window_inside(&x->win, ts)) return TIDE_OK; /* too old: never enters */
    TIDE_TRY(fx_window_add(&x->win, row, len, ts));
    if (send) x->st.fed++;
    return send ? tide_input_update(in, row, len, NULL, 0, 1) : TIDE_OK;
}

/* --since: retract (when @send) the kept events that fell out of the window. */
static int window_expire(ex *x, tide_input *in, bool send)
{
    fx_wev old;
    int rc = TIDE_OK;
    while (fx_window_expired(&x->win, &old)) {
        if (send && rc == TIDE_OK) rc = tide_input_update(in, old.row, old.len, NULL, 0, -1);
        free(old.row);
    }
    return rc;
}

/* Take events [from, from + n) of @src at the input's epoch: all sent, or
 * with --since the window's changes (new events inside, old ones out). */
static int take_batch(ex *x, tide_input *in, epoch_offs *eo, const fx_batch *src, uint32_t from,
                      uint32_t n)
{
    int rc = TIDE_OK;
    uint32_t len;
    if (x->windowed) /* the newest timestamp first: the window at the batch's end */
        for (uint32_t i = from; i < from + n; i++) {
            const uint8_t *row = fx_batch_row(src, i, &len);
            fx_window_see(&x->win, event_ts(row, len));
        }
    for (uint32_t i = from; i < from + n && rc == TIDE_OK; i++) {
        const uint8_t *row = fx_batch_row(src, i, &len);
        rc =
            x->windowed ? window_event(x, in, eo, row, len, true) : send_event(x, in, eo, row, len);
    }
    if (rc == TIDE_OK && x->windowed) rc = window_expire(x, in, true);
    return rc;
}

/* True when the event is at or below the stored offset of its stream; the
 * count of streams still to catch up drops when it reaches it. */
static bool stored_event(ex *x, const uint8_t *row, uint32_t len, uint32_t *behind)
{
    tide_row r;
    if (tide_row_open(&r, &FX_EVENT, row, len) < 0) return false;
    uint32_t sl;
    tide_rowbuf scratch;
    tide_rowbuf_init(&scratch);
    const char *s = tide_row_str(&r, EV_STREAM, &sl, &scratch);
    int64_t *stored = fx_smap_get(&x->stored, s, sl);
    tide_rowbuf_fini(&scratch);
    int64_t off = (int64_t)tide_row_u64(&r, EV_OFFSET);
    if (stored == NULL || off > *stored) return false;
    if (off == *stored) (*behind)--;
    return true;
}

static int append_row(fx_batch *b, const uint8_t *row, uint32_t len)
{
    if (tide_row_put_raw(&b->rows, row, len) < 0) return TIDE_ENOMEM;
    if (b->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 1024;
        uint32_t *e = realloc(b->ends, cap * sizeof *e);
        if (e == NULL) return TIDE_ENOMEM;
        b->ends = e;
        b->cap = cap;
    }
    b->ends[b->n++] = b->rows.len;
    return TIDE_OK;
}

/* Wait until fewer than @k epochs are in the dataflow (the views' frontier,
 * the probe @done, is at most @k behind) and fewer than 2 @k are waiting
 * for their commit, so the writer thread's transactions overlap with the
 * next epochs' computation. The probe's progress messages wake this worker;
 * next_commit (stored by the writer thread) wakes nobody, so waiting for
 * the writer alone takes short naps. */
static int wait_inflight(ex *x, tide_worker *w, const tide_probe *done, uint64_t epoch, uint32_t k)
{
    for (;;) {
        bool computing = epoch > k && tide_probe_less_than(done, tide_time_epoch(epoch - k));
        bool writing = epoch > __atomic_load_n(&x->next_commit, __ATOMIC_ACQUIRE) + 2 * (uint64_t)k;
        /* A failed writer commits nothing more: stop (its error is reported
         * at the end, by fx_export_end). */
        tide_error we;
        if (fx_dbq_failed(x->dbq, &we) < 0) return we.code;
        if (!computing && !writing) return TIDE_OK;
        int rc = tide_worker_step_or_park(w, computing ? 1000 : 20);
        if (rc < 0) return rc;
    }
}

/*
 * Replay: every event at or below the stored offsets goes in at the replay
 * epoch (0; 1 after loading a snapshot, whose state sits at 0, and then
 * only the events after its offsets); newer ones read meanwhile are kept
 * in @carry for the epochs after it. With --since and a loaded snapshot
 * (whose window the dataflow holds already) the window's changes are sent
 * as they come, otherwise the window reached at the end.
 */
static int replay(ex *x, tide_worker *w, tide_input *in, fx_log *log, fx_batch *carry,
                  uint32_t behind, tide_error *e)
{
    epoch_offs *eo = epoch_new(x, x->replay_epoch);
    if (eo == NULL) return TIDE_ENOMEM;
    bool send = x->restored;
    fx_batch b;
    fx_batch_init(&b);
    int rc = TIDE_OK;
    while (behind > 0 && rc == TIDE_OK) {
        int n = fx_log_next(log, x->o->batch, &b, e);
        if (n < 0) {
            rc = n;
            break;
        }
        for (int i = 0; i < n && rc == TIDE_OK; i++) {
            uint32_t len;
            const uint8_t *row = fx_batch_row(&b, (uint32_t)i, &len);
            if (stored_event(x, row, len, &behind)) {
                if (x->windowed) { /* kept, sent once the window is known */
                    fx_window_see(&x->win, event_ts(row, len));
                    rc = window_event(x, in, eo, row, len, send);
                } else {
                    rc = send_event(x, in, eo, row, len);
                }
                x->st.replayed++;
            } else {
                rc = append_row(carry, row, len);
            }
        }
        if (n == 0 && fx_log_done(log))
            rc = tide_err_set(e, TIDE_EINVAL,
                              "the log ends before the offsets stored in %s (%u stream(s) short)",
                              x->o->db, behind);
        if (x->windowed && rc == TIDE_OK) rc = window_expire(x, in, send);
        if (n == 0 && rc == TIDE_OK) rc = tide_worker_step_or_park(w, 50000);
        if (rc > 0) rc = TIDE_OK;
    }
    /* --since: the window of the stored prefix, as if it had slid there. */
    for (uint32_t i = 0; x->windowed && !send && i < x->win.n && rc == TIDE_OK; i++) {
        rc = tide_input_update(in, x->win.h[i].row, x->win.h[i].len, NULL, 0, 1);
        x->st.fed++;
    }
    fx_batch_fini(&b);
    return rc;
}

/* ---- snapshots (snapshot.h) ------------------------------------------------------ */

/* Save this worker's state if the reader asked for one at an epoch it has
 * not saved at and the dataflow is quiescent there (every worker's loop
 * calls this between steps). */
static void save_if_asked(ex *x, tide_worker *w, tide_dataflow *df)
{
    uint32_t li = tide_worker_index(w) - tide_worker_config(w)->process * x->nlocal;
    uint64_t T = __atomic_load_n(&x->snap_req, __ATOMIC_ACQUIRE);
    if (T == 0 || __atomic_load_n(&x->saved_at[li], __ATOMIC_RELAXED) == T ||
        !tide_dataflow_quiescent(df, T))
        return;
    free(x->sbuf[li]);
    x->sbuf[li] = NULL;
    FILE *f = open_memstream(&x->sbuf[li], &x->slen[li]);
    tide_error se = {0};
    x->src[li] = f ? tide_dataflow_save(df, T, f, &se) : TIDE_ENOMEM;
    if (f && fclose(f) != 0 && x->src[li] == TIDE_OK) x->src[li] = TIDE_EIO;
    if (x->src[li] < 0)
        fprintf(stderr, "tide-export: worker %u: snapshot: %s (going on without it)\n",
                tide_worker_index(w), se.code ? se.msg : tide_strerror(x->src[li]));
    __atomic_store_n(&x->saved_at[li], T, __ATOMIC_RELEASE); /* sbuf, slen, src are ready */
}

/* How many of this process's workers have saved at @T. */
static uint32_t saved_count(ex *x, uint64_t T)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < x->nlocal; i++)
        n += __atomic_load_n(&x->saved_at[i], __ATOMIC_ACQUIRE) == T;
    return n;
}

/* A worker that never gets quiescent (an operator activating itself
 * forever) must not stop the export: the snapshot is given up. */
#define SNAPSHOT_WAIT_US (60u * 1000000u)

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Take a snapshot at epoch @T (the input has just advanced there, nothing
 * sent at it yet): ask every worker to save when quiescent at T, wait for
 * all of them (the reader sends nothing meanwhile: the cost of a snapshot
 * is this drain of the pipeline plus the write), then write PATH.tmp with
 * the log's state for the writer to publish once epoch T - 1 commits.
 * Skipped while an earlier one still waits. A failure costs the snapshot,
 * not the export.
 */
static int take_snapshot(ex *x, tide_worker *w, tide_dataflow *df, fx_log *log, uint64_t T)
{
    pthread_mutex_lock(&x->lock);
    bool busy = x->snap_pending != 0;
    pthread_mutex_unlock(&x->lock);
    if (busy) return TIDE_OK;
    uint64_t t0 = now_us();
    __atomic_store_n(&x->snap_req, T, __ATOMIC_RELEASE);
    int rc = TIDE_OK;
    bool all = false;
    while (!all && now_us() - t0 < SNAPSHOT_WAIT_US) {
        save_if_asked(x, w, df);
        if ((all = saved_count(x, T) == x->nlocal)) break;
        if ((rc = tide_worker_step_or_park(w, 200)) < 0) break;
        rc = TIDE_OK;
    }
    __atomic_store_n(&x->snap_req, 0, __ATOMIC_RELEASE);
    if (!all) { /* a late worker may still be saving into its buffer: leave them */
        if (rc == TIDE_OK)
            fprintf(stderr,
                    "tide-export: snapshot at epoch %llu: the workers were not quiescent "
                    "within %u s (going on without it)\n",
                    (unsigned long long)T, SNAPSHOT_WAIT_US / 1000000u);
        x->st.snapshot_us += now_us() - t0;
        return rc;
    }
    bool ok = rc == TIDE_OK;
    for (uint32_t i = 0; i < x->nlocal; i++) ok = ok && x->src[i] == TIDE_OK;
    int n = fx_log_nsources(log);
    fx_log_pos *pos = calloc((size_t)n + 1, sizeof *pos);
    char **paths = calloc((size_t)n + 1, sizeof *paths);
    int cur = !ok || !pos || !paths ? TIDE_ENOMEM : fx_log_tell(log, pos);
    for (int i = 0; i < n && cur >= 0; i++) paths[i] = (char *)fx_log_source(log, i);
    tide_error se = {0};
    fx_snap_state ds = {x->nlocal, 1, T, x->sbuf, x->slen};
    uint64_t bytes = 0, t1 = now_us();
    if (cur >= 0 && fx_snapshot_write(x->snap_path, x->sig, paths, n, pos, cur, fx_log_last(log),
                                      &x->win, &ds, &bytes, &se) == TIDE_OK) {
        /* Usually the drain has let the writer commit epoch T - 1 already:
         * publish now; otherwise the writer does after that commit. */
        pthread_mutex_lock(&x->lock);
        x->snap_pending = T - 1;
        if (__atomic_load_n(&x->next_commit, __ATOMIC_ACQUIRE) >= T) publish_locked(x);
        pthread_mutex_unlock(&x->lock);
        x->st.snapshot_bytes = bytes;
    } else if (se.code) {
        fprintf(stderr, "tide-export: %s (going on without it)\n", se.msg);
    }
    for (uint32_t i = 0; i < x->nlocal; i++) {
        free(x->sbuf[i]);
        x->sbuf[i] = NULL;
    }
    free(pos);
    free(paths);
    x->st.snapshot_write_us += now_us() - t1;
    x->st.snapshot_us += now_us() - t0;
    x->st.snapshots_taken++;
    return rc;
}

/* @a and @b name the same file (./f and f, a link and its target). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0) return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Why the snapshot @s cannot stand for the stored prefix, or NULL. */
static const char *snapshot_mismatch(ex *x, const fx_snapshot *s)
{
    if (strcmp(s->signature, x->sig) != 0) return "made by other views or another window";
    uint32_t procs = x->o->cfg.processes ? x->o->cfg.processes : 1;
    uint32_t workers = (x->o->cfg.workers ? x->o->cfg.workers : 1) * procs;
    if (s->workers != workers || s->processes != procs)
        return "made with another number of workers or processes";
    for (int i = 0; i < x->o->nevents; i++)
        if (strcmp(x->o->events[i], "-") == 0) return "the log is on stdin";
    tide_error le = {0};
    fx_log *log = fx_log_open(x->o->events, x->o->nevents, false, x->o->skip_bad, &le);
    bool same = log && s->nsrc == fx_log_nsources(log);
    for (int i = 0; same && i < s->nsrc; i++) same = same_file(s->paths[i], fx_log_source(log, i));
    fx_log_free(log);
    if (!same) return "made from other sources";
    for (uint32_t i = 0; i < s->offsets.n; i++) {
        int64_t *db = fx_smap_get(&x->stored, s->offsets.keys[i], strlen(s->offsets.keys[i]));
        if (db == NULL || *db < s->offsets.vals[i]) return "ahead of the database's offsets";
    }
    for (int v = 0; v < x->views->n; v++)
        if (x->fresh[v]) return "a view is being rebuilt";
    return NULL;
}

/* At a restart (process 0): read and check the snapshot into x->snap, or
 * leave it NULL (reported on stderr, unless there is none): the workers
 * then replay the log. */
static void snapshot_read(ex *x)
{
    fx_snapshot *s = calloc(1, sizeof *s);
    if (s == NULL) return;
    fx_snapshot_init(s);
    tide_error se = {0};
    int rc = fx_snapshot_read(x->snap_path, s, &se);
    const char *why = rc < 0 ? se.msg : snapshot_mismatch(x, s);
    if (why == NULL) {
        x->snap = s;
        return;
    }
    if (rc < 0 && rc != TIDE_EIO) /* a missing snapshot is no news */
        fprintf(stderr, "tide-export: %s: replaying the log\n", why);
    else if (rc == TIDE_OK)
        fprintf(stderr, "tide-export: snapshot %s: %s: replaying the log\n", x->snap_path, why);
    fx_snapshot_fini(s);
    free(s);
}

/* Load this worker's part of x->snap into @df (built, not sealed); every
 * worker then learns whether all loads succeeded. False: drop @df and
 * build it again, the log is replayed. */
static bool snapshot_load(ex *x, tide_worker *w, tide_dataflow *df)
{
    uint32_t wi = tide_worker_index(w);
    tide_error le = {0};
    FILE *f = fx_snapshot_open(x->snap_path, x->snap, wi, &le);
    int rc = f ? tide_dataflow_load(df, f, 1, &le) : TIDE_EIO;
    if (f) fclose(f);
    if (rc < 0) {
        fprintf(stderr, "tide-export: worker %u: snapshot %s: %s: replaying the log\n", wi,
                x->snap_path, le.code ? le.msg : tide_strerror(rc));
        __atomic_store_n(&x->snap_failed, true, __ATOMIC_RELEASE);
    }
    pthread_barrier_wait(&x->snap_bar);
    bool ok = !__atomic_load_n(&x->snap_failed, __ATOMIC_ACQUIRE);
    pthread_barrier_wait(&x->snap_bar); /* all have read it before worker 0 moves on */
    return ok;
}

/*
 * Restart from the loaded snapshot (worker 0): its window's events go into
 * win (the dataflow holds them already), the log continues from its
 * positions. The number of stored streams the replay must still catch up
 * with, or a negative code when the log cannot be positioned.
 */
static int snapshot_apply(ex *x, fx_log *log, tide_error *e)
{
    fx_snapshot *s = x->snap;
    int rc = fx_log_seek(log, s->pos, s->cur, &s->offsets, e);
    for (uint32_t i = 0; i < s->events.n && rc == TIDE_OK; i++) {
        uint32_t len;
        const uint8_t *row = fx_batch_row(&s->events, i, &len);
        rc = fx_window_add(&x->win, row, len, event_ts(row, len));
    }
    x->win.newest = s->newest;
    int behind = (int)x->stored.n;
    for (uint32_t i = 0; i < x->stored.n; i++) { /* streams the snapshot covers */
        int64_t *at = fx_smap_get(&s->offsets, x->stored.keys[i], strlen(x->stored.keys[i]));
        if (at && *at == x->stored.vals[i]) behind--;
    }
    x->st.snapshot_events = s->events.n;
    x->st.restored = 1;
    return rc < 0 ? rc : behind;
}

static int feed(ex *x, tide_worker *w, tide_dataflow *df, tide_input *in, const tide_probe *done,
                tide_error *e)
{
    tide_error le = {0};
    fx_log *log = fx_log_open(x->o->events, x->o->nevents, x->o->follow, x->o->skip_bad, &le);
    if (log == NULL) {
        x->input_err = le;
        return TIDE_OK;
    }
    fx_batch carry, b;
    fx_batch_init(&carry);
    fx_batch_init(&b);
    int rc = TIDE_OK;
    if (x->stored.n > 0) { /* a restart */
        int behind = x->restored ? snapshot_apply(x, log, &le) : (int)x->stored.n;
        rc = behind < 0 ? behind : replay(x, w, in, log, &carry, (uint32_t)behind, &le);
    }
    uint32_t next = 0; /* events of carry already sent */
    /* Default: ~64K events in flight. Small batches then overlap (the
     * reader runs ahead, the writer commits the epochs its frontier passed
     * together) instead of paying a round of progress messages and a
     * commit each, one after the other. */
    uint32_t inflight = x->o->inflight;
    if (inflight == 0) inflight = 65536 / (x->o->batch ? x->o->batch : 1);
    if (inflight < 4) inflight = 4;
    uint64_t epoch = x->replay_epoch + 1;
    if (rc == TIDE_OK && x->stored.n > 0) rc = epoch_push(x); /* the replay's offsets */
    if (rc == TIDE_OK) rc = tide_input_advance_to(in, epoch);
    while (rc == TIDE_OK && (x->o->max_batches == 0 || x->st.batches < x->o->max_batches)) {
        if ((rc = wait_inflight(x, w, done, epoch, inflight)) < 0) break;
        const fx_batch *src = &b;
        uint32_t from = 0, n;
        if (next < carry.n) { /* newer events met during the replay go first */
            src = &carry, from = next;
            n = carry.n - next < x->o->batch ? carry.n - next : x->o->batch;
            next += n;
        } else {
            int got = fx_log_next(log, x->o->batch, &b, &le);
            if (got < 0) {
                rc = got;
                break;
            }
            n = (uint32_t)got;
        }
        if (n == 0) {
            if (fx_log_done(log)) break;
            rc = tide_worker_step_or_park(w, 50000); /* following: wait for more */
            if (rc > 0) rc = TIDE_OK;
            continue;
        }
        epoch_offs *eo = epoch_new(x, epoch);
        rc = eo ? take_batch(x, in, eo, src, from, n) : TIDE_ENOMEM;
        x->st.events += n;
        x->st.batches++;
        if (rc == TIDE_OK) rc = epoch_push(x);
        if (rc == TIDE_OK) rc = tide_input_advance_to(in, ++epoch);
        if (rc == TIDE_OK && src == &b && next >= carry.n && x->snap_path &&
            (epoch - 1) % x->o->snapshot_every == 0)
            rc = take_snapshot(x, w, df, log, epoch);
    }
    if (rc < 0 && le.code != 0) {
        x->input_err = le; /* bad input: stop cleanly, report after */
        rc = TIDE_OK;
    }
    x->st.skipped = fx_log_skipped(log);
    fx_batch_fini(&carry);
    fx_batch_fini(&b);
    fx_log_free(log);
    if (rc < 0) return tide_err_set(e, rc, "feeding the dataflow: %s", tide_strerror(rc));
    return TIDE_OK;
}

static int worker_main(tide_worker *w, void *arg)
{
    ex *x = arg;
    bool load = x->snap != NULL;
again:;
    tide_dataflow *df = tide_dataflow_new(w, "exporter");
    if (df == NULL) return TIDE_ENOMEM;
    tide_stream *events;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(TIDE_VAR, 0),
                                    TIDE_BATCH_UPDATES, &events);
    tide_stream *rows = in ? x->views->build(events) : NULL;
    if (rows == NULL) return tide_worker_error(w)->code;
    tide_sink_fns fns = {on_updates, on_frontier};
    /* The writer: the last worker of process 0 (worker 0 reads). */
    uint32_t writer = x->o->cfg.workers > 0 ? x->o->cfg.workers - 1 : 0;
    TIDE_TRY(tide_sink_updates_on(rows, "db", &fns, x, writer));
    tide_probe *done = tide_probe_new(rows); /* the reader's flow control */
    if (done == NULL) return tide_worker_error(w)->code;
    if (load && !snapshot_load(x, w, df)) { /* every worker: the same new dataflow */
        TIDE_TRY(tide_dataflow_drop(df));
        load = false;
        goto again;
    }
    if (tide_worker_index(w) == 0) {
        x->restored = load;
        x->replay_epoch = load ? 1 : 0;
    }
    TIDE_TRY(tide_dataflow_seal(df));
    if (tide_worker_index(w) == 0) {
        tide_error e = {0};
        int rc = feed(x, w, df, in, done, &e);
        if (rc < 0) {
            tide_input_close(in);
            return rc;
        }
        return tide_input_close(in);
    }
    int rc = tide_input_close(in);
    /* The other workers save their state when the reader asks for it. */
    while (rc >= 0 && x->snap_path) {
        save_if_asked(x, w, df);
        if ((rc = tide_worker_step_or_park(w, 1000)) == 0) break;
    }
    return rc < 0 ? rc : TIDE_OK;
}

/* The snapshot's path: --snapshot, or FILE.snapshot beside sqlite:FILE;
 * NULL for another database without --snapshot, or out of memory
 * (*@oom). The caller frees it. */
static char *snapshot_path(const fx_export_opts *o, bool *oom)
{
    char *p = NULL;
    *oom = false;
    if (o->snapshot)
        p = strdup(o->snapshot);
    else if (strncmp(o->db, "sqlite:", 7) != 0)
        return NULL;
    else if (asprintf(&p, "%.*s.snapshot", (int)strcspn(o->db + 7, "?"), o->db + 7) < 0)
        p = NULL;
    *oom = p == NULL;
    return p;
}

/* The snapshot's path (--snapshot, or FILE.snapshot beside sqlite:FILE)
 * and the signature it must carry. */
static int snapshot_setup(ex *x, tide_error *e)
{
    const char *db = x->o->db;
    if (x->o->cfg.processes > 1) { /* each process would save its own workers: not done */
        if (x->o->cfg.process == 0)
            fprintf(stderr, "tide-export: --snapshot-every: not with several processes (a "
                            "restart replays the log)\n");
        return TIDE_OK;
    }
    bool oom;
    x->snap_path = snapshot_path(x->o, &oom);
    if (x->snap_path == NULL && !oom)
        return tide_err_set(e, TIDE_EINVAL, "--snapshot-every: give --snapshot PATH for %s", db);
    size_t cap = 64;
    for (int v = 0; v < x->views->n; v++) cap += strlen(x->views->views[v].table) + 24;
    x->sig = malloc(cap);
    if (x->snap_path == NULL || x->sig == NULL) return TIDE_ENOMEM;
    size_t at = (size_t)snprintf(x->sig, cap, "since=%lld", (long long)x->o->since_us);
    for (int v = 0; v < x->views->n; v++)
        at += (size_t)snprintf(x->sig + at, cap - at, ";%s:%d", x->views->views[v].table,
                               x->views->views[v].version);
    return TIDE_OK;
}

/* A restart without --snapshot-every does not look at snapshots: say so
 * when one lies where --snapshot-every would have put it. */
static void note_unused_snapshot(const fx_export_opts *o)
{
    bool oom;
    char *path = snapshot_path(o, &oom);
    if (path && access(path, F_OK) == 0)
        fprintf(stderr,
                "tide-export: %s exists, but without --snapshot-every it is not used: replaying "
                "the log\n",
                path);
    free(path);
}

void fx_export_opts_init(fx_export_opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 50000;
    o->inflight = 0; /* auto: ~64K events */
    tide_config_init(&o->cfg);
}

int fx_export_begin(const fx_export_opts *o, fx_run **run, tide_error *e)
{
    ex *x = calloc(1, sizeof *x);
    *run = x;
    if (x == NULL) return tide_err_set(e, TIDE_ENOMEM, "out of memory");
    x->o = o;
    x->views = o->views ? o->views : &FX_FACTORY_VIEWS;
    fx_smap_init(&x->stored);
    fx_smap_init(&x->streams);
    pthread_mutex_init(&x->lock, NULL);
    x->fresh = calloc((size_t)x->views->n, sizeof *x->fresh);
    x->windowed = o->since_us > 0;
    fx_window_init(&x->win, o->since_us);
    if (x->fresh == NULL) return tide_err_set(e, TIDE_ENOMEM, "out of memory");
    int rc = TIDE_OK;
    if (o->cfg.process == 0) {
        x->db = fx_db_open(o->db, x->views, o->since_us / 1000000, e);
        if (x->db == NULL) rc = e->code ? e->code : TIDE_EIO;
        if (rc == TIDE_OK) rc = fx_db_offsets(x->db, &x->stored, x->fresh, e);
        if (rc == TIDE_OK && (x->dbq = fx_dbq_start(x->db, on_committed, x, e)) == NULL)
            rc = e->code;
    }
    if (rc == TIDE_OK && o->snapshot_every > 0) rc = snapshot_setup(x, e);
    if (rc == TIDE_OK && o->snapshot_every == 0 && o->cfg.process == 0 && x->stored.n > 0)
        note_unused_snapshot(o);
    x->nlocal = o->cfg.workers ? o->cfg.workers : 1;
    pthread_barrier_init(&x->snap_bar, NULL, x->nlocal);
    x->saved_at = calloc(x->nlocal, sizeof *x->saved_at);
    x->sbuf = calloc(x->nlocal, sizeof *x->sbuf);
    x->slen = calloc(x->nlocal, sizeof *x->slen);
    x->src = calloc(x->nlocal, sizeof *x->src);
    if (!x->saved_at || !x->sbuf || !x->slen || !x->src)
        return rc < 0 ? rc : tide_err_set(e, TIDE_ENOMEM, "out of memory");
    if (rc == TIDE_OK && x->snap_path && x->stored.n > 0) snapshot_read(x);
    return rc;
}

int fx_export_worker(tide_worker *w, fx_run *run)
{
    return worker_main(w, run);
}

int fx_export_end(fx_run *x, int rc, fx_export_stats *st, tide_error *e)
{
    /* Every queued transaction is whole (rows and offsets of completed
     * epochs): it commits even when the run failed after it. */
    tide_error we = {0};
    int wrc = fx_dbq_stop(x->dbq, &we);
    if (wrc < 0) { /* the root cause when the writer failed (the run then stopped too) */
        *e = we;
        rc = wrc;
    }
    if (rc == TIDE_OK && x->input_err.code != 0) {
        *e = x->input_err;
        rc = x->input_err.code;
    }
    if (x->snap_path && x->snap_pending != 0) { /* its epoch never committed: not usable */
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", x->snap_path);
        unlink(tmp);
    }
    fx_db_close(x->db);
    if (st) *st = x->st;
    for (uint32_t i = 0; i < x->nq; i++) free(x->q[i].e);
    free(x->cur.e);
    pthread_mutex_destroy(&x->lock);
    free(x->q);
    free(x->fresh);
    free(x->snap_path);
    free(x->sig);
    if (x->snap) fx_snapshot_fini(x->snap);
    free(x->snap);
    for (uint32_t i = 0; x->sbuf && i < x->nlocal; i++) free(x->sbuf[i]);
    free(x->sbuf);
    free(x->slen);
    free(x->src);
    free(x->saved_at);
    if (x->nlocal) pthread_barrier_destroy(&x->snap_bar);
    fx_window_fini(&x->win);
    free(x->last_epoch);
    free(x->wrote);
    free(x->entry);
    fx_smap_fini(&x->stored);
    fx_smap_fini(&x->streams);
    free(x);
    return rc;
}

int fx_export(const fx_export_opts *o, fx_export_stats *st, tide_error *e)
{
    if (st) memset(st, 0, sizeof *st);
    fx_run *x = NULL;
    int rc = fx_export_begin(o, &x, e);
    if (rc == TIDE_OK) rc = tide_execute(&o->cfg, worker_main, x, e);
    return x ? fx_export_end(x, rc, st, e) : rc;
}

void fx_export_summary(const fx_export_stats *st, char *buf, size_t cap)
{
    /* restart: "state loaded from the snapshot (with W window events), then
     * R event(s) replayed"; else "R event(s) replayed". */
    char restart[128] = "";
    if (st->restored && st->snapshot_events)
        snprintf(restart, sizeof restart,
                 "state loaded from the snapshot (with %llu window event(s)), then ",
                 (unsigned long long)st->snapshot_events);
    else if (st->restored)
        snprintf(restart, sizeof restart, "state loaded from the snapshot, then ");
    snprintf(buf, cap,
             "%llu new event(s) in %llu batch(es): %llu row change(s) in %llu commit(s); "
             "%s%llu event(s) replayed to rebuild the state (not written); %llu snapshot(s) "
             "taken; %llu bad event(s) logged",
             (unsigned long long)st->events, (unsigned long long)st->batches,
             (unsigned long long)st->rows, (unsigned long long)st->commits, restart,
             (unsigned long long)st->replayed, (unsigned long long)st->snapshots,
             (unsigned long long)st->skipped);
}
