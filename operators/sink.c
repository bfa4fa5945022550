/*
 * sink.c - tide_sink_updates (tide/sink.h): every update of a collection,
 * consolidated per time, delivered on global worker 0.
 *
 * Routing: a map wraps each update as (route key, u32 klen | key | val),
 * where the route key is the first 8-byte value (0, 1, 2, ...) whose record
 * hash the cluster places on the chosen worker (for worker 0 it is 0:
 * fmix64(0) == 0), so an EXCHANGE pact sends everything there. The sink operator unwraps
 * each update into a per-time batch of the original layout and, when its
 * input frontier passes a time, consolidates and delivers it.
 */
#include "tide/sink.h"

#include <stdarg.h>
#include <string.h>

#include "tide/alloc.h"
#include "tide/ops.h"
#include "tide/scratch.h"
#include "tide/snapshot.h"
#include "worker.h"

typedef struct pending {
    tide_time t;
    tide_batch *b; /* UPDATES, original layout */
} pending;

typedef struct sink_state {
    tide_sink_fns fns;
    void *ctx;
    tide_layout layout; /* the collection's */
    pending *p;
    uint32_t np, cap;
    uint32_t at;         /* the global worker that delivers */
    tide_antichain last; /* frontier last reported */
    bool reported;       /* @last is valid */
    tide_error e;
} sink_state;

static void wrap(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                 tide_emitter *em)
{
    uint8_t *buf = tide_scratch(4, (size_t)4 + kl + vl);
    if (buf == NULL) {
        if (em->rc == 0) em->rc = TIDE_ENOMEM;
        return;
    }
    uint8_t n[4] = {(uint8_t)(kl >> 24), (uint8_t)(kl >> 16), (uint8_t)(kl >> 8), (uint8_t)kl};
    memcpy(buf, n, 4);
    if (kl) memcpy(buf + 4, k, kl);
    if (vl) memcpy(buf + 4 + kl, v, vl);
    uint8_t route[8];
    tide_u64_store(route, (uint64_t)(uintptr_t)ctx);
    tide_emit(em, route, 8, buf, 4 + kl + vl);
}

static tide_batch *batch_at(sink_state *st, tide_time t)
{
    for (uint32_t i = 0; i < st->np; i++)
        if (tide_time_eq(st->p[i].t, t)) return st->p[i].b;
    if (st->np == st->cap) {
        uint32_t cap = st->cap ? st->cap * 2 : 8;
        pending *q = tide_realloc(st->p, cap * sizeof *q);
        if (q == NULL) return NULL;
        st->p = q;
        st->cap = cap;
    }
    tide_batch *b = tide_batch_new(st->layout, TIDE_BATCH_UPDATES, 64);
    if (b == NULL) return NULL;
    b->time = t;
    st->p[st->np++] = (pending){t, b};
    return b;
}

static int absorb(sink_state *st, const tide_batch *in)
{
    for (uint32_t i = 0; i < in->len; i++) {
        uint32_t wl;
        const uint8_t *w = tide_batch_val(in, i, &wl);
        uint32_t kl = (uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3];
        tide_batch *b = batch_at(st, in->times[i]);
        if (b == NULL) return TIDE_ENOMEM;
        TIDE_TRY(tide_batch_push_update(b, w + 4, kl, w + 4 + kl, wl - 4 - kl, in->times[i],
                                        in->diffs[i]));
    }
    return TIDE_OK;
}

/* The earliest (tide_time_cmp) pending time not beyond @f, or -1. */
static int next_ready(const sink_state *st, const tide_antichain *f)
{
    int best = -1;
    for (uint32_t i = 0; i < st->np; i++)
        if (!tide_antichain_less_equal(f, st->p[i].t) &&
            (best < 0 || tide_time_cmp(st->p[i].t, st->p[best].t) < 0))
            best = (int)i;
    return best;
}

static int deliver(sink_state *st, const tide_antichain *f)
{
    int i;
    while ((i = next_ready(st, f)) >= 0) {
        pending p = st->p[i];
        st->p[i] = st->p[--st->np];
        int rc = tide_batch_consolidate(p.b);
        tide_err_clear(&st->e);
        if (rc == TIDE_OK && p.b->len > 0 && st->fns.updates)
            rc = st->fns.updates(st->ctx, p.t, p.b, &st->e);
        tide_batch_unref(p.b);
        TIDE_TRY(rc);
    }
    if (st->reported && tide_antichain_eq(&st->last, f)) return TIDE_OK;
    TIDE_TRY(tide_antichain_copy(&st->last, f));
    st->reported = true;
    tide_err_clear(&st->e);
    return st->fns.frontier ? st->fns.frontier(st->ctx, f, &st->e) : TIDE_OK;
}

static void sink_schedule(tide_op *op, void *state)
{
    sink_state *st = state;
    tide_batch *b;
    int rc = TIDE_OK;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        if (rc == TIDE_OK) rc = absorb(st, b);
        tide_batch_unref(b);
    }
    if (rc == TIDE_OK && tide_worker_index(tide_op_worker(op)) == st->at)
        rc = deliver(st, tide_op_frontier(op, 0));
    if (rc < 0) tide_op_fail(op, rc, "sink: %s", st->e.code ? st->e.msg : tide_strerror(rc));
}

/* Snapshots: at a quiescent epoch every time before it was delivered; after
 * a load the consumer has seen everything before R. */
static int sink_save(tide_op *op, void *state, tide_snap *s)
{
    sink_state *st = state;
    if (st->np > 0) return tide_snap_fail(s, TIDE_ESTATE, "%u time(s) not delivered yet", st->np);
    return TIDE_OK;
}

static int sink_load(tide_op *op, void *state, tide_snap *s)
{
    sink_state *st = state;
    tide_antichain_clear(&st->last);
    TIDE_TRY(tide_antichain_insert(&st->last, tide_time_epoch(tide_snap_epoch(s))));
    st->reported = true;
    return TIDE_OK;
}

static void sink_free(void *p)
{
    sink_state *st = p;
    for (uint32_t i = 0; i < st->np; i++) tide_batch_unref(st->p[i].b);
    tide_free(st->p);
    tide_antichain_fini(&st->last);
    tide_free(st);
}

int tide_sink_updates(tide_stream *c, const char *name, const tide_sink_fns *fns, void *ctx)
{
    return tide_sink_updates_on(c, name, fns, ctx, 0);
}

int tide_sink_updates_on(tide_stream *c, const char *name, const tide_sink_fns *fns, void *ctx,
                         uint32_t worker)
{
    tide_scope *s = tide_stream_scope(c);
    tide_worker *w = tide_scope_worker(s);
    if (!(c->flags & TIDE_BATCH_UPDATES)) return TIDE_EINVAL;
    uint32_t peers = tide_worker_peers(w);
    if (worker >= peers) return TIDE_EINVAL;
    /* The route key: about @peers tries (the hash spreads evenly). */
    uint64_t route = 0;
    for (;; route++) {
        uint8_t k[8];
        tide_u64_store(k, route);
        if (tide_hash_owner(tide_hash(k, 8), peers) == worker) break;
        if (route > 1000000) return TIDE_EINVAL; /* a hash that never lands there */
    }
    tide_stream *wrapped = tide_flat_map(c, name ? name : "sink", tide_layout_make(8, TIDE_VAR),
                                         wrap, (void *)(uintptr_t)route);
    if (wrapped == NULL) return tide_worker_error(w)->code;
    sink_state *st = tide_calloc(1, sizeof *st);
    if (st == NULL) return TIDE_ENOMEM;
    st->fns = *fns;
    st->ctx = ctx;
    st->layout = tide_stream_layout(c);
    st->at = worker;
    tide_antichain_init(&st->last);
    tide_pact pact = TIDE_EXCHANGE;
    tide_op_desc d = {.name = name ? name : "sink",
                      .ninputs = 1,
                      .inputs = &wrapped,
                      .pacts = &pact,
                      .noutputs = 0,
                      .schedule = sink_schedule,
                      .state = st,
                      .state_free = sink_free,
                      .disconnected = true,
                      .save = sink_save,
                      .load = sink_load};
    if (tide_op_build(s, &d) == NULL) {
        sink_free(st);
        return tide_worker_error(w)->code;
    }
    return TIDE_OK;
}
