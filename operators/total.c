/*
 * total.c - count and threshold for totally ordered times (the root scope),
 * as differential's count_total / threshold_total.
 *
 * Depends on arrangements (arrange.h: announcements, readers) and the trace
 * cursor. Used by tide_count, tide_distinct and tide_threshold when the
 * arrangement's scope is the root (depth 0); loops take the general reduce.
 *
 * With totally ordered times the accumulation of a key at any time of a new
 * batch is its accumulation before the batch (the trace cut at the batch's
 * lower) plus the batch's own updates up to that time. So per key of each
 * announced batch: one seek for the old multiplicity m, then a walk over the
 * batch's updates in time order, emitting f(m_new) - f(m_old) at each time
 * where the output changes. No interesting times, no value sorting, no
 * output trace: the output is a plain collection, produced in the activation
 * that receives the batch, at the announcement's time (<= its updates), so
 * no capability is ever held.
 *
 * Compaction: only totals before a batch are ever read, and compaction
 * preserves totals, so the reader's logical frontier follows the input
 * frontier; its physical frontier stays at the upper of the last processed
 * batch, where the next cut will be made (as join does).
 *
 * The operator around the per-batch work (announcements in, reader
 * frontiers) is tide__total_op, shared with min, max and top_k
 * (extremum.c), which read the trace the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "arrange.h"
#include "diff.h"
#include "reduce.h"
#include "tide/alloc.h"
#include "tide/snapshot.h"
#include "tide/record.h"

/* ======================================================================== */
/* The operator shared with extremum.c                                      */
/* ======================================================================== */

static void total_op_free(void *p)
{
    tide__total *t = p;
    if (t == NULL) return;
    tide_trace_reader_free(t->reader);
    tide_antichain_fini(&t->ack);
    tide_antichain_fini(&t->proj);
    t->fini(t);
    tide_free(t);
}

static void total_schedule(tide_op *op, void *state)
{
    tide__total *t = state;
    tide_batch *m;
    while ((m = tide_op_pull(op, 0)) != NULL) {
        const tide_trace_batch *tb = tide__arranged_batch(m);
        int rc = TIDE_OK;
        if (tb && t->reader) {
            rc = tb->nupds ? t->batch(op, t, m->time, tb) : TIDE_OK;
            if (rc == TIDE_OK && tide_antichain_copy(&t->ack, &tb->upper) < 0)
                rc = tide_op_fail(op, TIDE_ENOMEM, "out of memory");
        }
        tide_batch_unref(m);
        if (rc < 0) return;
    }
    if (t->reader == NULL) return;
    const tide_antichain *f = tide_op_frontier(op, 0);
    if (f->len == 0) {
        /* Complete: nothing will read the trace again. */
        tide_trace_reader_free(t->reader);
        t->reader = NULL;
        return;
    }
    if (tide__frontier_project(f, t->in->trace_depth, &t->proj) < 0 ||
        tide__reader_advance(t->reader, &t->proj, &t->ack) < 0)
        tide_op_fail(op, TIDE_ENOMEM, "out of memory compacting");
}

/* Snapshots: the trace is the arrange operator's; this keeps whether its
 * reader is released and the upper it processed, R after a load. The
 * embedding states (count, threshold, extremum) keep only scratch. */
static int total_save(tide_op *op, void *state, tide_snap *s)
{
    tide__total *t = state;
    uint8_t gone = t->reader == NULL;
    return tide_snap_put(s, &gone, 1);
}

static int total_load(tide_op *op, void *state, tide_snap *s)
{
    tide__total *t = state;
    uint8_t gone;
    TIDE_TRY(tide_snap_get(s, &gone, 1));
    if (gone) {
        tide_trace_reader_free(t->reader);
        t->reader = NULL;
    }
    tide_antichain_clear(&t->ack);
    return tide_antichain_insert(&t->ack, tide_time_epoch(tide_snap_epoch(s))) < 0 ? TIDE_ENOMEM
                                                                                   : TIDE_OK;
}

tide_stream *tide__total_op(tide_arranged *a, const char *name, tide_layout out, tide__total *t,
                            tide__total_batch_fn batch, void (*fini)(tide__total *t))
{
    tide_worker *w = a->scope->df->w;
    if (t == NULL) goto nomem;
    t->in = a;
    t->batch = batch;
    t->fini = fini;
    tide_antichain_init(&t->ack);
    tide_antichain_init(&t->proj);
    if (tide_antichain_insert(&t->ack, TIDE_TIME_ZERO) < 0) goto nomem_t;
    if (tide__arranged_reader(a, &t->reader) < 0) goto nomem_t;
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = name,
                      .ninputs = 1,
                      .inputs = &a->stream,
                      .noutputs = 1,
                      .outputs = &out,
                      .out_flags = &flags,
                      .schedule = total_schedule,
                      .state = t,
                      .state_free = total_op_free,
                      .save = total_save,
                      .load = total_load};
    tide_op *op = tide_op_build(a->scope, &d);
    if (op == NULL) {
        total_op_free(t);
        return NULL;
    }
    return tide_op_output(op, 0);
nomem_t:
    total_op_free(t);
nomem:
    tide__worker_fail(w, TIDE_ENOMEM, "out of memory building '%s'", name);
    return NULL;
}

/* ======================================================================== */
/* count, distinct, threshold                                               */
/* ======================================================================== */

typedef struct total_state {
    tide__total base;     /* first: the shared operator's fields */
    bool count;           /* count (i64 value per key), else threshold */
    tide_threshold_fn fn; /* threshold's function; NULL: distinct */
    void *ctx;
    tide_time_delta *upd; /* scratch: one key's updates in the batch */
    uint32_t cap;
} total_state;

static void total_fini(tide__total *t)
{
    tide_free(((total_state *)t)->upd);
}

static int td_cmp(const void *a, const void *b)
{
    return tide_time_cmp(((const tide_time_delta *)a)->time, ((const tide_time_delta *)b)->time);
}

static void sum_time(void *ctx, tide_time t, int64_t diff)
{
    tide__diff_sum_add(ctx, diff);
}

/* The output multiplicity of a record whose input multiplicity is @m. */
static inline int64_t thr_out(const total_state *st, int64_t m)
{
    if (m == 0) return 0;
    return st->fn ? st->fn(st->ctx, m) : (m > 0 ? 1 : 0);
}

/* Emit the change of key @key's output at time @t from input multiplicity
 * @old to @now. */
static int emit_change(tide_op *op, total_state *st, tide_time cap, const uint8_t *key, uint32_t kl,
                       tide_time t, int64_t old, int64_t now)
{
    if (st->count) {
        uint8_t v[TIDE_I64_SIZE];
        if (old != 0) {
            tide_i64_store(v, old);
            TIDE_TRY(tide_out_push_update(op, 0, cap, key, kl, v, sizeof v, t, -1));
        }
        if (now != 0) {
            tide_i64_store(v, now);
            TIDE_TRY(tide_out_push_update(op, 0, cap, key, kl, v, sizeof v, t, 1));
        }
        return TIDE_OK;
    }
    int64_t d;
    if (!tide__diff_sub(thr_out(st, now), thr_out(st, old), &d))
        return tide__diff_overflow(op, key, kl, t, "the threshold function's change of output");
    return d ? tide_out_push_update(op, 0, cap, key, kl, NULL, 0, t, d) : TIDE_OK;
}

static int overflow(tide_op *op, const uint8_t *key, uint32_t kl, tide_time t)
{
    return tide__diff_overflow(op, key, kl, t, "the accumulated multiplicity leaves int64");
}

/* Process announced batch @tb at capability @cap. */
static int total_batch(tide_op *op, tide__total *base, tide_time cap, const tide_trace_batch *tb)
{
    total_state *st = (total_state *)base;
    tide_cursor *c = NULL;
    int rc = tide_trace_reader_cursor_through(base->reader, &tb->lower, &c);
    if (rc < 0)
        return tide_op_fail(op, rc, "cutting the trace at a batch's lower: %s", tide_strerror(rc));
    for (uint32_t k = 0; k < tb->nkeys && rc == TIDE_OK; k++) {
        uint32_t kl, ckl;
        const uint8_t *key = tide_trace_batch_key(tb, k, &kl);
        /* The multiplicity before the batch: an exact sum, checked once
         * it is used (diff.h). */
        tide__diff_sum m = {0, 0};
        tide_cursor_seek_key(c, key, kl);
        if (tide_cursor_key_valid(c)) {
            const uint8_t *ck = tide_cursor_key(c, &ckl);
            if (tide_bytes_cmp(ck, ckl, key, kl) == 0)
                for (; tide_cursor_val_valid(c); tide_cursor_step_val(c))
                    tide_cursor_map_times(c, sum_time, &m);
        }
        /* The batch's updates of the key, in time order. One value (count
         * and threshold arrange empty values) is already in order. */
        uint32_t v0 = tb->key_vals[k], v1 = tb->key_vals[k + 1];
        const tide_time_delta *u = tb->upds + tb->val_upds[v0];
        uint32_t n = tb->val_upds[v1] - tb->val_upds[v0];
        if (v1 - v0 > 1) {
            if ((rc = tide__grow(&st->upd, &st->cap, sizeof *st->upd, n)) < 0) break;
            memcpy(st->upd, u, (size_t)n * sizeof *u);
            qsort(st->upd, n, sizeof *st->upd, td_cmp);
            u = st->upd;
        }
        /* The multiplicity at each time of the batch: the old one plus the
         * updates up to that time, each an exact sum that must fit. */
        if (!tide__diff_sum_ok(&m)) rc = overflow(op, key, kl, u[0].time);
        for (uint32_t i = 0; i < n && rc == TIDE_OK;) {
            tide_time t = u[i].time;
            tide__diff_sum now = m;
            for (; i < n && tide_time_eq(u[i].time, t); i++) tide__diff_sum_add(&now, u[i].delta);
            if (!tide__diff_sum_ok(&now))
                rc = overflow(op, key, kl, t);
            else if (now.v != m.v)
                rc = emit_change(op, st, cap, key, kl, t, m.v, now.v);
            m = now;
        }
    }
    tide_cursor_free(c);
    if (rc == TIDE_ERANGE) return rc; /* failed with the key and time already */
    if (rc < 0) return tide_op_fail(op, rc, "out of memory counting");
    return TIDE_OK;
}

tide_stream *tide__total_build(tide_arranged *a, const char *name, bool count, tide_threshold_fn fn,
                               void *ctx)
{
    total_state *st = tide_calloc(1, sizeof *st);
    if (st) *st = (total_state){.count = count, .fn = fn, .ctx = ctx};
    tide_layout out = tide_layout_make(a->layout.key_width, count ? TIDE_I64_SIZE : 0);
    return tide__total_op(a, name, out, st ? &st->base : NULL, total_batch, total_fini);
}
