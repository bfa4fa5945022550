/*
 * arrange.c - arrangements: a collection exchanged by key into a batcher,
 * sealed into a shared trace as its input frontier advances, each sealed
 * batch announced downstream (see arrange.h for the announcement protocol).
 * Also consolidate (the same operator emitting the sealed updates instead of
 * keeping a trace), tide_arranged_stream, _enter and _import.
 *
 * Capabilities: the operator holds one capability per minimal time of the
 * updates it buffers (tide_batcher_frontier), nothing else. When the input
 * frontier F moves it seals, for each held capability c_i not beyond F in
 * tide_time_cmp order, the updates not beyond F + {c_(i+1), ...}: every such
 * update is beyond c_i (it is beyond some held time, and not beyond the later
 * ones), so announcing the batch at c_i is legal and <= its updates, which is
 * what a join needs to stamp its output. This is differential's arrange_core
 * scheme; with totally ordered times it is one batch per frontier move.
 *
 * Compaction: readers (join, reduce, imports) steer the trace. With no
 * reader, nobody can look at history, so the operator compacts the trace to
 * its input frontier itself, which keeps it at the size of the collection.
 */
#include <stdlib.h>
#include <string.h>

#include "arrange.h"

#include "tide/snapshot.h"
#include "diff.h"
#include "tide/alloc.h"
#include "trace/trace_int.h"

/* ======================================================================== */
/* Shared helpers                                                           */
/* ======================================================================== */

static void tb_free(void *p)
{
    tide_trace_batch_unref(p);
}

int tide__arranged_give_ext(tide_op *op, uint32_t port, tide_batch *b)
{
    tide__outport *out = &op->out[port];
    tide_dataflow *df = op->df;
    if (out->nchannels == 0) {
        tide_batch_unref(b);
        return TIDE_OK;
    }
    for (uint32_t c = 0; c < out->nchannels; c++) {
        bool last = c + 1 == out->nchannels;
        int rc = tide__channel_send(df, df->chans[out->channels[c]], last ? b : tide_batch_ref(b));
        if (rc < 0) { /* the send took its reference; ours for the last channel is left */
            if (!last) tide_batch_unref(b);
            return rc;
        }
    }
    return TIDE_OK;
}

int tide__arranged_announce(tide_op *op, uint32_t port, tide_time t, tide_trace_batch *tb)
{
    tide_batch *m = tide_batch_new(op->out[port].layout, TIDE_BATCH_UPDATES, 0);
    if (m == NULL) return tide_op_fail(op, TIDE_ENOMEM, "out of memory announcing a batch");
    m->time = t;
    m->ext = tide_trace_batch_ref(tb);
    m->ext_free = tb_free;
    return tide__arranged_give_ext(op, port, m);
}

tide_arranged *tide__arranged_new(tide_stream *stream, tide_trace *trace, tide_layout layout,
                                  uint32_t trace_depth)
{
    tide_dataflow *df = stream->scope->df;
    tide_arranged *a = tide_calloc(1, sizeof *a);
    if (tide__df_own(df, a) < 0) {
        tide__worker_fail(df->w, TIDE_ENOMEM, "out of memory building an arrangement");
        return NULL;
    }
    a->scope = stream->scope;
    a->stream = stream;
    a->trace = trace;
    a->layout = layout;
    a->trace_depth = trace_depth;
    return a;
}

int tide__arranged_reader(tide_arranged *a, tide_trace_reader **out)
{
    return tide_trace_reader_new(a->trace, out);
}

int tide__frontier_project(const tide_antichain *f, uint32_t depth, tide_antichain *out)
{
    tide_antichain_clear(out);
    for (uint32_t i = 0; i < f->len; i++) {
        tide_time t = f->elems[i];
        if (depth < 1) t.iter[0] = 0;
        if (depth < 2) t.iter[1] = 0;
        TIDE_TRY(tide_antichain_insert(out, t));
    }
    return TIDE_OK;
}

int tide__reader_advance(tide_trace_reader *r, const tide_antichain *logical,
                         const tide_antichain *physical)
{
    if (logical && !tide_antichain_eq(tide_trace_reader_logical(r), logical) &&
        tide__frontier_le(tide_trace_reader_logical(r), logical))
        TIDE_TRY(tide_trace_reader_set_logical(r, logical));
    if (physical && !tide_antichain_eq(tide_trace_reader_physical(r), physical) &&
        tide__frontier_le(tide_trace_reader_physical(r), physical))
        TIDE_TRY(tide_trace_reader_set_physical(r, physical));
    return TIDE_OK;
}

/* ======================================================================== */
/* Imports: subscribers of an arrange operator in other dataflows           */
/* ======================================================================== */

/* One sealed batch on its way to an importing dataflow. */
typedef struct sub_item {
    tide_trace_batch *tb; /* one reference */
} sub_item;

/* A subscription, shared by the arrange operator and the importing operator
 * (two references; whichever dataflow goes first marks it dead). */
typedef struct sub {
    uint32_t refs;
    tide_op *op;   /* the importing operator, NULL once its dataflow is gone */
    bool src_gone; /* the arrange operator is gone: no more batches */
    sub_item *q;   /* queued batches, oldest first */
    uint32_t head, len, cap;
    struct sub *next; /* in the source's list */
} sub;

struct tide__arr_src {
    sub *subs;                   /* live subscriptions */
    struct tide__arr_src **back; /* a publication's pointer to us, NULLed when freed */
};

void tide__arr_src_watch(struct tide__arr_src *src, struct tide__arr_src **back)
{
    src->back = back;
}

bool tide__arr_src_watched(const struct tide__arr_src *src)
{
    return src->back != NULL;
}

static void sub_unref(sub *s)
{
    if (--s->refs) return;
    for (uint32_t i = s->head; i < s->len; i++) tide_trace_batch_unref(s->q[i].tb);
    tide_free(s->q);
    tide_free(s);
}

static int sub_push(sub *s, tide_trace_batch *tb)
{
    if (s->head > 0 && s->len == s->cap) {
        memmove(s->q, s->q + s->head, (s->len - s->head) * sizeof *s->q);
        s->len -= s->head;
        s->head = 0;
    }
    if (s->len == s->cap) {
        uint32_t c = s->cap ? s->cap * 2 : 8;
        sub_item *q = tide_realloc(s->q, c * sizeof *q);
        if (q == NULL) return TIDE_ENOMEM;
        s->q = q;
        s->cap = c;
    }
    s->q[s->len++].tb = tide_trace_batch_ref(tb);
    if (s->op) tide_op_activate(s->op);
    return TIDE_OK;
}

/* ======================================================================== */
/* The arrange / consolidate operator                                       */
/* ======================================================================== */

typedef struct arr_state {
    tide_batcher *batcher;
    tide_trace *trace;       /* one reference; NULL when consolidating */
    tide_antichain held;     /* capabilities held, one each (an antichain after a seal) */
    tide_antichain frontier; /* scratch: the batcher's frontier */
    tide_antichain upper;    /* scratch: the upper of one seal */
    tide_time *caps;         /* scratch: held caps in tide_time_cmp order */
    uint32_t ncaps_cap;
    struct tide__arr_src src; /* imports */
} arr_state;

static void arr_state_free(void *p)
{
    arr_state *st = p;
    if (st == NULL) return;
    tide_batcher_free(st->batcher);
    tide_trace_unref(st->trace);
    tide_antichain_fini(&st->held);
    tide_antichain_fini(&st->frontier);
    tide_antichain_fini(&st->upper);
    tide_free(st->caps);
    if (st->src.back) *st->src.back = NULL;
    for (sub *s = st->src.subs, *n; s; s = n) {
        n = s->next;
        s->src_gone = true;
        if (s->op) tide_op_activate(s->op);
        sub_unref(s);
    }
    tide_free(st);
}

static int time_cmp_q(const void *a, const void *b)
{
    return tide_time_cmp(*(const tide_time *)a, *(const tide_time *)b);
}

/* Hold a capability for record time @t unless one at or before it is held. */
static int hold_time(tide_op *op, arr_state *st, tide_time t)
{
    if (tide_antichain_less_equal(&st->held, t)) return TIDE_OK;
    TIDE_TRY(tide_op_hold(op, t));
    /* Keep every held time listed (a dominated one stays until the next
     * seal recomputes): append rather than antichain-insert. */
    if (st->held.len == st->held.cap) {
        uint32_t c = st->held.cap ? st->held.cap * 2 : 4;
        tide_time *e = tide_realloc(st->held.elems, c * sizeof *e);
        if (e == NULL) return tide_op_fail(op, TIDE_ENOMEM, "out of memory holding a capability");
        st->held.elems = e;
        st->held.cap = c;
    }
    st->held.elems[st->held.len++] = t;
    return TIDE_OK;
}

/* Make the held capabilities exactly @want (an antichain of times each >=
 * some held one): hold the new ones first, then drop the old. */
static int set_caps(tide_op *op, arr_state *st, const tide_antichain *want)
{
    for (uint32_t i = 0; i < want->len; i++) {
        bool have = false;
        for (uint32_t j = 0; j < st->held.len && !have; j++)
            have = tide_time_eq(st->held.elems[j], want->elems[i]);
        if (!have) TIDE_TRY(tide_op_hold(op, want->elems[i]));
    }
    for (uint32_t j = 0; j < st->held.len; j++) {
        bool keep = false;
        for (uint32_t i = 0; i < want->len && !keep; i++)
            keep = tide_time_eq(st->held.elems[j], want->elems[i]);
        if (!keep) TIDE_TRY(tide_op_drop(op, st->held.elems[j]));
    }
    if (tide_antichain_copy(&st->held, want) < 0)
        return tide_op_fail(op, TIDE_ENOMEM, "out of memory tracking capabilities");
    return TIDE_OK;
}

/* Emit every update of @tb at capability @cap (consolidate). */
static int flatten(tide_op *op, uint32_t port, tide_time cap, const tide_trace_batch *tb)
{
    for (uint32_t k = 0; k < tb->nkeys; k++) {
        uint32_t kl;
        const uint8_t *key = tide_trace_batch_key(tb, k, &kl);
        for (uint32_t v = tb->key_vals[k]; v < tb->key_vals[k + 1]; v++) {
            uint32_t vl;
            const uint8_t *val = tide_trace_batch_val(tb, v, &vl);
            for (uint32_t u = tb->val_upds[v]; u < tb->val_upds[v + 1]; u++)
                TIDE_TRY(tide_out_push_update(op, port, cap, key, kl, val, vl, tb->upds[u].time,
                                              tb->upds[u].delta));
        }
    }
    return TIDE_OK;
}

/* Seal the batcher at @upper and hand the batch on at capability @cap (or,
 * @announce false, only into the trace). */
static int seal_one(tide_op *op, arr_state *st, const tide_antichain *upper, tide_time cap,
                    bool announce)
{
    tide_trace_batch *tb;
    int rc = tide_batcher_seal(st->batcher, upper, &tb);
    if (rc < 0) return tide_op_fail(op, rc, "sealing a batch: %s", tide__diff_strerror(rc));
    if (st->trace == NULL) {
        rc = flatten(op, 0, cap, tb);
        tide_trace_batch_unref(tb);
        return rc;
    }
    rc = tide_trace_insert(st->trace, tb);
    if (rc < 0) {
        tide_trace_batch_unref(tb);
        return tide_op_fail(op, rc, "inserting into the trace: %s", tide__diff_strerror(rc));
    }
    for (sub **pp = &st->src.subs; *pp && rc == TIDE_OK;) {
        sub *s = *pp;
        if (s->op == NULL) { /* its importing dataflow is gone: unlink */
            *pp = s->next;
            sub_unref(s);
            continue;
        }
        rc = sub_push(s, tb);
        pp = &s->next;
    }
    if (rc == TIDE_OK && announce) rc = tide__arranged_announce(op, 0, cap, tb);
    tide_trace_batch_unref(tb);
    if (rc < 0) return tide_op_fail(op, rc, "announcing a batch: %s", tide_strerror(rc));
    return TIDE_OK;
}

static int arr_seal(tide_op *op, arr_state *st, const tide_antichain *F, bool have_msg,
                    tide_time msg_time)
{
    /* Held capabilities as an antichain, in tide_time_cmp order. */
    TIDE_TRY(tide_batcher_frontier(st->batcher, &st->frontier) < 0
                 ? tide_op_fail(op, TIDE_ENOMEM, "out of memory")
                 : TIDE_OK);
    uint32_t n = st->frontier.len;
    if (n > st->ncaps_cap) {
        tide_time *c = tide_realloc(st->caps, n * sizeof *c);
        if (c == NULL) return tide_op_fail(op, TIDE_ENOMEM, "out of memory");
        st->caps = c;
        st->ncaps_cap = n;
    }
    if (n > 0) memcpy(st->caps, st->frontier.elems, n * sizeof *st->caps);
    if (n > 1) qsort(st->caps, n, sizeof *st->caps, time_cmp_q);
    bool sealed = false;
    for (uint32_t i = 0; i < n; i++) {
        if (tide_antichain_less_equal(F, st->caps[i])) continue; /* not complete yet */
        if (tide_antichain_copy(&st->upper, F) < 0)
            return tide_op_fail(op, TIDE_ENOMEM, "out of memory");
        for (uint32_t j = i + 1; j < n; j++)
            if (tide_antichain_insert(&st->upper, st->caps[j]) < 0)
                return tide_op_fail(op, TIDE_ENOMEM, "out of memory");
        TIDE_TRY(seal_one(op, st, &st->upper, st->caps[i], true));
        sealed = true;
    }
    if (!sealed) {
        /* No complete update: still advance the trace's upper, announcing the
         * empty batch when some time is ours to send at. */
        bool can = have_msg || n > 0;
        tide_time at = have_msg ? msg_time : (n > 0 ? st->caps[0] : TIDE_TIME_ZERO);
        TIDE_TRY(seal_one(op, st, F, at, can));
    }
    /* Capabilities now: the minimal times still buffered. */
    if (tide_batcher_frontier(st->batcher, &st->frontier) < 0)
        return tide_op_fail(op, TIDE_ENOMEM, "out of memory");
    return set_caps(op, st, &st->frontier);
}

static void arr_schedule(tide_op *op, void *state)
{
    arr_state *st = state;
    tide_batch *b;
    bool have_msg = false;
    tide_time msg_time = TIDE_TIME_ZERO;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        int rc = tide_batcher_push(st->batcher, b);
        if (rc < 0) {
            tide_batch_unref(b);
            tide_op_fail(op, rc, "buffering updates: %s", tide_strerror(rc));
            return;
        }
        if (!have_msg) msg_time = b->time, have_msg = true;
        tide_time last = b->time;
        bool any = false;
        for (uint32_t i = 0; i < b->len; i++) {
            if (b->diffs[i] == 0 || (any && tide_time_eq(b->times[i], last))) continue;
            last = b->times[i], any = true;
            if (hold_time(op, st, last) < 0) {
                tide_batch_unref(b);
                return;
            }
        }
        tide_batch_unref(b);
    }
    const tide_antichain *F = tide_op_frontier(op, 0);
    if (!tide_antichain_eq(F, tide_batcher_lower(st->batcher))) {
        if (arr_seal(op, st, F, have_msg, msg_time) < 0) return;
        if (st->trace && tide_trace_readers(st->trace) == 0 && F->len > 0) {
            /* Nobody reads history: compact to the input frontier. */
            tide_spine *sp = tide_trace_spine(st->trace);
            if (tide_spine_set_logical(sp, F) < 0 || tide_spine_set_physical(sp, F) < 0)
                tide_op_fail(op, TIDE_ENOMEM, "out of memory compacting");
        }
    }
}

/* ---- snapshots (tide/snapshot.h) ------------------------------------------ */

/* At a quiescent epoch nothing is buffered: the state is the trace. */
static int arr_save(tide_op *op, void *state, tide_snap *s)
{
    arr_state *st = state;
    if (tide_batcher_len(st->batcher) > 0)
        return tide_snap_fail(s, TIDE_ESTATE, "updates at or after the saved epoch are buffered");
    if (st->src.subs)
        return tide_snap_fail(s, TIDE_ENOTSUP, "the arrangement is imported by another dataflow");
    return st->trace ? tide_trace_save(st->trace, s) : TIDE_OK;
}

/* The trace gets the saved batch [0, R); the batcher's next batch starts at
 * R (the empty batch sealed here is dropped: the trace already covers it). */
static int arr_load(tide_op *op, void *state, tide_snap *s)
{
    arr_state *st = state;
    if (st->trace) TIDE_TRY(tide_trace_load(st->trace, s));
    tide_antichain r;
    tide_antichain_init(&r);
    tide_trace_batch *tb = NULL;
    int rc = tide_antichain_insert(&r, tide_time_epoch(tide_snap_epoch(s)));
    if (rc >= 0) rc = tide_batcher_seal(st->batcher, &r, &tb);
    tide_trace_batch_unref(tb);
    tide_antichain_fini(&r);
    return rc;
}

static tide_op *arr_build(tide_stream *c, const char *name, bool keep_trace, arr_state **out)
{
    tide_worker *w = c->scope->df->w;
    if (!(c->flags & TIDE_BATCH_UPDATES)) {
        tide__worker_fail(w, TIDE_EINVAL, "%s: the input is not a collection (no UPDATES flag)",
                          name);
        return NULL;
    }
    arr_state *st = tide_calloc(1, sizeof *st);
    if (st == NULL) goto nomem;
    tide_antichain_init(&st->held);
    tide_antichain_init(&st->frontier);
    tide_antichain_init(&st->upper);
    st->batcher = tide_batcher_new(c->layout);
    if (st->batcher == NULL) goto nomem;
    if (keep_trace && (st->trace = tide_trace_new(c->layout)) == NULL) goto nomem;
    tide_pact pact = TIDE_EXCHANGE;
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = name,
                      .ninputs = 1,
                      .inputs = &c,
                      .pacts = &pact,
                      .noutputs = 1,
                      .outputs = &c->layout,
                      .out_flags = &flags,
                      .schedule = arr_schedule,
                      .state = st,
                      .state_free = arr_state_free,
                      .save = arr_save,
                      .load = arr_load};
    tide_op *op = tide_op_build(c->scope, &d);
    if (op == NULL) {
        arr_state_free(st);
        return NULL;
    }
    *out = st;
    return op;
nomem:
    arr_state_free(st);
    tide__worker_fail(w, TIDE_ENOMEM, "out of memory building '%s'", name);
    return NULL;
}

tide_arranged *tide_arrange(tide_stream *c, const char *name)
{
    arr_state *st;
    tide_op *op = arr_build(c, name ? name : "arrange", true, &st);
    if (op == NULL) return NULL;
    tide_arranged *a =
        tide__arranged_new(tide_op_output(op, 0), st->trace, c->layout, c->scope->depth);
    if (a) a->src = &st->src;
    return a;
}

tide_stream *tide__consolidate_op(tide_stream *c, const char *name)
{
    arr_state *st;
    tide_op *op = arr_build(c, name ? name : "consolidate", false, &st);
    return op ? tide_op_output(op, 0) : NULL;
}

/* ======================================================================== */
/* Accessors, stream, enter                                                 */
/* ======================================================================== */

tide_scope *tide_arranged_scope(const tide_arranged *a)
{
    return a->scope;
}
tide_layout tide_arranged_layout(const tide_arranged *a)
{
    return a->layout;
}
tide_trace *tide_arranged_trace(tide_arranged *a)
{
    return a->trace;
}

static void stream_schedule(tide_op *op, void *state)
{
    tide_batch *m;
    while ((m = tide_op_pull(op, 0)) != NULL) {
        const tide_trace_batch *tb = tide__arranged_batch(m);
        int rc = tb ? flatten(op, 0, m->time, tb) : TIDE_OK;
        tide_batch_unref(m);
        if (rc < 0) return;
    }
}

tide_stream *tide_arranged_stream(tide_arranged *a)
{
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = "arranged_stream",
                      .ninputs = 1,
                      .inputs = &a->stream,
                      .noutputs = 1,
                      .outputs = &a->layout,
                      .out_flags = &flags,
                      .schedule = stream_schedule,
                      .stateless = true};
    tide_op *op = tide_op_build(a->scope, &d);
    return op ? tide_op_output(op, 0) : NULL;
}

/* Announcements pass unchanged (times keep coordinate 0 of the child). */
static void enter_schedule(tide_op *op, void *state)
{
    tide_batch *m;
    while ((m = tide_op_pull(op, 0)) != NULL)
        if (tide__arranged_give_ext(op, 0, m) < 0) return;
}

tide_arranged *tide_arranged_enter(tide_arranged *a, tide_scope *child)
{
    tide_worker *w = a->scope->df->w;
    if (child->parent != a->scope) {
        tide__worker_fail(w, TIDE_EINVAL, "arranged_enter: '%s' is not a child of the scope",
                          child->name ? child->name : "");
        return NULL;
    }
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = "arranged_enter",
                      .ninputs = 1,
                      .noutputs = 1,
                      .outputs = &a->layout,
                      .out_flags = &flags,
                      .schedule = enter_schedule};
    tide_op *op = tide_op_build(child, &d);
    if (op == NULL) return NULL;
    if (tide__op_connect_any(op, 0, a->stream, TIDE_PIPELINE) < 0) return NULL;
    tide_arranged *e =
        tide__arranged_new(tide_op_output(op, 0), a->trace, a->layout, a->trace_depth);
    if (e) e->src = a->src;
    return e;
}

/* ======================================================================== */
/* Import                                                                   */
/* ======================================================================== */

/*
 * The importing operator has no inputs. Its reader holds the trace from
 * build time until the replay (then the importing dataflow's own readers,
 * e.g. joins, take over); it holds capabilities at the upper of what it has
 * forwarded (the times later batches may carry), starting at ZERO. First
 * activation: one batch merging the whole trace (announced at ZERO), then
 * the subscription's batches as they come, each at its lower (root scope:
 * times are totally ordered, so a lower has at most one element).
 */
typedef struct imp_state {
    sub *s;                    /* one reference */
    tide_trace_reader *reader; /* holds the trace until the replay, then NULL */
    tide_antichain upper;      /* forwarded through; capabilities held here */
    bool replayed;
} imp_state;

static void imp_free(void *p)
{
    imp_state *st = p;
    if (st == NULL) return;
    if (st->s) {
        st->s->op = NULL;
        sub_unref(st->s);
    }
    tide_trace_reader_free(st->reader);
    tide_antichain_fini(&st->upper);
    tide_free(st);
}

/* Move capabilities from st->upper to @to. */
static int imp_advance(tide_op *op, imp_state *st, const tide_antichain *to)
{
    for (uint32_t i = 0; i < to->len; i++) TIDE_TRY(tide_op_hold(op, to->elems[i]));
    for (uint32_t i = 0; i < st->upper.len; i++) TIDE_TRY(tide_op_drop(op, st->upper.elems[i]));
    if (tide_antichain_copy(&st->upper, to) < 0)
        return tide_op_fail(op, TIDE_ENOMEM, "out of memory");
    return TIDE_OK;
}

static void imp_schedule(tide_op *op, void *state)
{
    imp_state *st = state;
    if (!st->replayed) {
        st->replayed = true;
        tide_spine *sp = tide_trace_spine(tide_trace_reader_trace(st->reader));
        /* Everything so far as one batch: merge copies of the spine's batches. */
        tide_trace_batch *acc = NULL;
        int rc = TIDE_OK;
        for (uint32_t i = 0; i < tide_spine_batches(sp) && rc == TIDE_OK; i++) {
            tide_trace_batch *b = tide_spine_batch(sp, i);
            if (acc == NULL) {
                acc = tide_trace_batch_ref(b);
                continue;
            }
            tide_trace_batch *m;
            rc = tide__batch_merge(acc, b, tide_spine_logical(sp), &m);
            if (rc == TIDE_OK) {
                tide_trace_batch_unref(acc);
                acc = m;
            }
        }
        if (rc == TIDE_OK && acc == NULL)
            rc = tide_trace_batch_empty(tide_spine_layout(sp), tide_spine_upper(sp),
                                        tide_spine_upper(sp), NULL, &acc);
        if (rc < 0) {
            tide_trace_batch_unref(acc);
            tide_op_fail(op, rc, "replaying the trace: %s", tide__diff_strerror(rc));
            return;
        }
        /* Batches queued before this replay are part of it: skip them. */
        for (uint32_t i = st->s->head; i < st->s->len; i++) tide_trace_batch_unref(st->s->q[i].tb);
        st->s->head = st->s->len = 0;
        rc = tide__arranged_announce(op, 0, TIDE_TIME_ZERO, acc);
        if (rc == TIDE_OK) rc = imp_advance(op, st, &acc->upper);
        tide_trace_batch_unref(acc);
        /* From here on the importing dataflow's own readers hold the trace. */
        tide_trace_reader_free(st->reader);
        st->reader = NULL;
        if (rc < 0) return;
    }
    sub *s = st->s;
    while (s->head < s->len) {
        tide_trace_batch *tb = s->q[s->head].tb;
        s->head++;
        int rc = TIDE_OK;
        if (tb->nupds > 0 || !tide_antichain_eq(&tb->upper, &st->upper)) {
            tide_time at = st->upper.len ? st->upper.elems[0] : TIDE_TIME_ZERO;
            if (st->upper.len) rc = tide__arranged_announce(op, 0, at, tb);
            if (rc == TIDE_OK) rc = imp_advance(op, st, &tb->upper);
        }
        tide_trace_batch_unref(tb);
        if (rc < 0) return;
    }
    if (s->head == s->len) s->head = s->len = 0;
    if (s->src_gone && st->upper.len > 0) {
        /* The source dataflow is gone: nothing more will come. */
        tide_antichain none;
        tide_antichain_init(&none);
        imp_advance(op, st, &none);
        tide_antichain_fini(&none);
    }
}

tide_arranged *tide_arranged_import(tide_arranged *a, tide_scope *s)
{
    if (s->depth != 0 || a->src == NULL || a->trace_depth != 0) {
        tide__worker_fail(s->df->w, TIDE_EINVAL,
                          "arranged_import: needs an arrangement made by tide_arrange in a root "
                          "scope, imported into a root scope");
        return NULL;
    }
    return tide__arranged_import_trace(a->trace, a->layout, a->src, s);
}

tide_arranged *tide__arranged_import_trace(tide_trace *trace, tide_layout layout,
                                           struct tide__arr_src *src, tide_scope *s)
{
    tide_worker *w = s->df->w;
    if (s->depth != 0) {
        tide__worker_fail(w, TIDE_EINVAL, "arranged_import: import into a root scope");
        return NULL;
    }
    imp_state *st = tide_calloc(1, sizeof *st);
    sub *sb = tide_calloc(1, sizeof *sb);
    if (st == NULL || sb == NULL) {
        tide_free(st);
        tide_free(sb);
        tide__worker_fail(w, TIDE_ENOMEM, "out of memory importing an arrangement");
        return NULL;
    }
    tide_antichain_init(&st->upper);
    if (tide__frontier_zero(&st->upper) < 0 || tide_trace_reader_new(trace, &st->reader) < 0) {
        imp_free(st);
        tide_free(sb);
        tide__worker_fail(w, TIDE_ENOMEM, "out of memory importing an arrangement");
        return NULL;
    }
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = "arranged_import",
                      .noutputs = 1,
                      .outputs = &layout,
                      .out_flags = &flags,
                      .schedule = imp_schedule,
                      .state = st,
                      .state_free = imp_free,
                      .initial_capability = true};
    tide_op *op = tide_op_build(s, &d);
    if (op == NULL) {
        imp_free(st);
        tide_free(sb);
        return NULL;
    }
    sb->op = op;
    if (src) {
        sb->refs = 2;
        sb->next = src->subs;
        src->subs = sb;
    } else {
        sb->refs = 1; /* the source is gone: replay, then close */
        sb->src_gone = true;
    }
    st->s = sb;
    return tide__arranged_new(tide_op_output(op, 0), trace, layout, 0);
}
