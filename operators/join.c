/*
 * join.c - equi-join of two arrangements (differential's join_core), and
 * semijoin / antijoin on top of it.
 *
 * Each input delivers announcements of sealed trace batches (arrange.h). A
 * new batch of input 0 is joined with input 1's trace cut at the upper of
 * the input-1 batches received so far ("acknowledged"), and a new batch of
 * input 1 with input 0's trace cut at its acknowledged upper, which by then
 * includes every input-0 batch received before. So each pair of batches
 * meets exactly once: when the later of the two (in this operator's order
 * of processing) arrives. Output updates get time join(t0, t1) and diff
 * d0 * d1 (checked: a product past int64 is TIDE_ERANGE), and are sent at
 * the announcing message's time (<= t0, t1), within
 * the activation that received it: no capability is ever held.
 *
 * Compaction (why the readers' frontiers are set as they are):
 *  - logical: input 1's trace is only ever read to join it with input-0
 *    batches that have not arrived yet, whose update times are all beyond
 *    the frontier F0 of input 0 (announcement times are <= their updates and
 *    beyond F0). For t0 beyond F0, join(t0, advance_by(t1, F0)) equals
 *    join(t0, t1), so input 1's trace may be advanced to F0 without changing
 *    any output; symmetrically input 0's to F1. When F0 is empty no batch of
 *    input 0 will come, and input 1's reader is released altogether.
 *  - physical: we cut input 1's trace only at its acknowledged upper, so the
 *    reader lets the spine merge up to that cut and no further.
 *  An entered arrangement (tide_arranged_enter) holds times of the parent
 *  scope: frontiers are projected (child coordinate reset to 0) first.
 *
 * Work: all output of a batch is produced in the activation that receives
 * it. Differential spreads large joins over activations with "fuel"; that
 * would bound step latency here too and is the natural next step.
 */
#include <stdlib.h>
#include <string.h>

#include "arrange.h"
#include "diff.h"
#include "trace/trace_int.h"
#include "tide/alloc.h"
#include "tide/snapshot.h"

/* One val of the other side's current key in one of its batches, with its
 * updates (borrowed from the batch). The same val may appear once per
 * batch: its updates are not summed across batches, which changes the
 * output's updates but not the collection they add up to. */
typedef struct oval {
    const uint8_t *v;
    uint32_t vl;
    uint32_t n; /* updates u[0 .. n) */
    const tide_time_delta *u;
} oval;

typedef struct join_state {
    tide_arranged *in[2];
    tide_trace_reader *reader[2]; /* reader of in[i]'s trace; NULL once released */
    tide_antichain ack[2];        /* upper of the batches received from input i */
    tide_antichain proj;          /* scratch: a projected frontier */
    tide_join_fn fn;
    void *ctx;
    oval *ovals; /* scratch: the other side's vals for one key */
    uint32_t novals, ovals_cap;
    tide_trace_batch **cut; /* scratch: the other trace's batches through its ack */
    uint32_t *cki;          /* per cut batch: first key not yet passed */
    uint32_t ncut, cut_cap;
} join_state;

static void join_state_free(void *p)
{
    join_state *st = p;
    if (st == NULL) return;
    for (int i = 0; i < 2; i++) {
        tide_trace_reader_free(st->reader[i]);
        tide_antichain_fini(&st->ack[i]);
    }
    tide_antichain_fini(&st->proj);
    tide_free(st->ovals);
    tide_free(st->cut);
    tide_free(st->cki);
    tide_free(st);
}

/* cut_take - the non-empty batches of @r's trace whose upper is <= @upper
 * (the spine cut there; one reference each), searches at their start.
 * TIDE_EINVAL when no batch boundary is @upper (as the cursor's cut). */
static int cut_take(join_state *st, tide_trace_reader *r, const tide_antichain *upper)
{
    tide_spine *sp = tide_trace_spine(tide_trace_reader_trace(r));
    uint32_t n = tide_spine_batches(sp);
    while (n > 0 && !tide_antichain_eq(&tide_spine_batch(sp, n - 1)->upper, upper)) n--;
    if (n == 0 && tide_spine_batches(sp) > 0 &&
        !tide_antichain_eq(&tide_spine_batch(sp, 0)->lower, upper))
        return TIDE_EINVAL;
    if (n > st->cut_cap) {
        tide_trace_batch **b = tide_realloc(st->cut, (size_t)n * sizeof *b);
        if (b == NULL) return TIDE_ENOMEM;
        st->cut = b;
        uint32_t *ki = tide_realloc(st->cki, (size_t)n * sizeof *ki);
        if (ki == NULL) return TIDE_ENOMEM;
        st->cki = ki;
        st->cut_cap = n;
    }
    st->ncut = 0;
    for (uint32_t i = 0; i < n; i++) {
        tide_trace_batch *b = tide_spine_batch(sp, i);
        if (b->nkeys == 0) continue;
        st->cut[st->ncut] = tide_trace_batch_ref(b);
        st->cki[st->ncut++] = 0;
    }
    return TIDE_OK;
}

static void cut_drop(join_state *st)
{
    for (uint32_t i = 0; i < st->ncut; i++) tide_trace_batch_unref(st->cut[i]);
    st->ncut = 0;
}

/* gather - the vals of @key in the cut batches into st->ovals (each batch
 * searched forward from the previous key's position). */
static int gather(join_state *st, const uint8_t *key, uint32_t kl)
{
    st->novals = 0;
    for (uint32_t i = 0; i < st->ncut; i++) {
        const tide_trace_batch *b = st->cut[i];
        uint32_t ki = st->cki[i] = tide__batch_seek_key(b, st->cki[i], key, kl);
        if (ki >= b->nkeys || tide__col_cmp(&b->keys, ki, key, kl) != 0) continue;
        uint32_t v0 = tide__key_vals(b, ki), v1 = tide__key_vals(b, ki + 1);
        if (st->novals + (v1 - v0) > st->ovals_cap) {
            uint32_t n = st->ovals_cap ? st->ovals_cap : 16;
            while (n < st->novals + (v1 - v0)) n *= 2;
            oval *o = tide_realloc(st->ovals, (size_t)n * sizeof *o);
            if (o == NULL) return TIDE_ENOMEM;
            st->ovals = o;
            st->ovals_cap = n;
        }
        for (uint32_t v = v0; v < v1; v++) {
            oval *o = &st->ovals[st->novals++];
            o->v = tide_trace_batch_val(b, v, &o->vl);
            o->n = tide__val_upds(b, v + 1) - tide__val_upds(b, v);
            o->u = b->upds + tide__val_upds(b, v);
        }
    }
    return TIDE_OK;
}

/* Join trace batch @tb, of input @side, with the other input's trace cut
 * at its acknowledged upper; output at capability @cap. */
static int join_batch(tide_op *op, join_state *st, int side, tide_time cap,
                      const tide_trace_batch *tb)
{
    int other = 1 - side;
    if (tb->nupds == 0 || st->reader[other] == NULL) return TIDE_OK;
    int rc = cut_take(st, st->reader[other], &st->ack[other]);
    if (rc < 0) {
        cut_drop(st);
        return tide_op_fail(op, rc, "cutting input %d's trace at its acknowledged upper: %s", other,
                            tide_strerror(rc));
    }
    tide_emitter em = {.op = op, .port = 0, .cap = cap, .updates = true};
    for (uint32_t k = 0; k < tb->nkeys && st->ncut > 0 && em.rc == 0; k++) {
        uint32_t kl;
        const uint8_t *key = tide_trace_batch_key(tb, k, &kl);
        if ((rc = gather(st, key, kl)) < 0) break;
        for (uint32_t v = tb->key_vals[k]; v < tb->key_vals[k + 1] && em.rc == 0; v++) {
            uint32_t vl;
            const uint8_t *val = tide_trace_batch_val(tb, v, &vl);
            for (uint32_t o = 0; o < st->novals && em.rc == 0; o++) {
                const oval *ov = &st->ovals[o];
                for (uint32_t u = tb->val_upds[v]; u < tb->val_upds[v + 1]; u++) {
                    for (uint32_t x = 0; x < ov->n; x++) {
                        em.time = tide_time_join(tb->upds[u].time, ov->u[x].time);
                        if (!tide__diff_mul(tb->upds[u].delta, ov->u[x].delta, &em.diff)) {
                            cut_drop(st);
                            return tide__diff_overflow(op, key, kl, em.time,
                                                       "the product of two diffs");
                        }
                        if (side == 0)
                            st->fn(st->ctx, key, kl, val, vl, ov->v, ov->vl, &em);
                        else
                            st->fn(st->ctx, key, kl, ov->v, ov->vl, val, vl, &em);
                    }
                }
            }
        }
    }
    cut_drop(st);
    if (rc < 0) return tide_op_fail(op, rc, "out of memory joining");
    return em.rc;
}

static int compact(tide_op *op, join_state *st)
{
    for (int i = 0; i < 2; i++) {
        int other = 1 - i;
        if (st->reader[i] == NULL) continue;
        const tide_antichain *f = tide_op_frontier(op, (uint32_t)other);
        if (f->len == 0 && op->in[other].len == 0) {
            /* No more batches of the other input: nothing will read trace i. */
            tide_trace_reader_free(st->reader[i]);
            st->reader[i] = NULL;
            continue;
        }
        if (tide__frontier_project(f, st->in[i]->trace_depth, &st->proj) < 0 ||
            tide__reader_advance(st->reader[i], &st->proj, &st->ack[i]) < 0)
            return tide_op_fail(op, TIDE_ENOMEM, "out of memory compacting");
    }
    return TIDE_OK;
}

static void join_schedule(tide_op *op, void *state)
{
    join_state *st = state;
    for (int side = 0; side < 2; side++) {
        tide_batch *m;
        while ((m = tide_op_pull(op, (uint32_t)side)) != NULL) {
            const tide_trace_batch *tb = tide__arranged_batch(m);
            int rc = TIDE_OK;
            if (tb) {
                rc = join_batch(op, st, side, m->time, tb);
                if (rc == TIDE_OK && tide_antichain_copy(&st->ack[side], &tb->upper) < 0)
                    rc = tide_op_fail(op, TIDE_ENOMEM, "out of memory");
            }
            tide_batch_unref(m);
            if (rc < 0) return;
        }
    }
    compact(op, st);
}

/* ---- snapshots (tide/snapshot.h) ------------------------------------------ */

/* The traces are their arrange operators'; a join keeps which readers it
 * has released (a complete input) and its acknowledged uppers, which after
 * a load are the restored traces' upper R. */
static int join_save(tide_op *op, void *state, tide_snap *s)
{
    join_state *st = state;
    if (tide_scope_depth(tide_op_scope(op)) > 0)
        return tide_snap_fail(s, TIDE_ENOTSUP, "a join in a nested scope");
    uint8_t gone[2] = {st->reader[0] == NULL, st->reader[1] == NULL};
    return tide_snap_put(s, gone, sizeof gone);
}

static int join_load(tide_op *op, void *state, tide_snap *s)
{
    join_state *st = state;
    uint8_t gone[2];
    TIDE_TRY(tide_snap_get(s, gone, sizeof gone));
    for (int i = 0; i < 2; i++) {
        if (gone[i]) {
            tide_trace_reader_free(st->reader[i]);
            st->reader[i] = NULL;
        }
        tide_antichain_clear(&st->ack[i]);
        TIDE_TRY(tide_antichain_insert(&st->ack[i], tide_time_epoch(tide_snap_epoch(s))));
    }
    return TIDE_OK;
}

tide_stream *tide_join(tide_arranged *a, tide_arranged *b, const char *name, tide_layout out,
                       tide_join_fn fn, void *ctx)
{
    if (a == NULL || b == NULL) return NULL;
    tide_worker *w = a->scope->df->w;
    name = name ? name : "join";
    if (a->scope != b->scope) {
        tide__worker_fail(w, TIDE_EINVAL, "%s: the arrangements live in different scopes", name);
        return NULL;
    }
    if (a->layout.key_width != b->layout.key_width) {
        tide__worker_fail(w, TIDE_EINVAL, "%s: key widths differ (%u and %u)", name,
                          a->layout.key_width, b->layout.key_width);
        return NULL;
    }
    join_state *st = tide_calloc(1, sizeof *st);
    if (st == NULL) goto nomem;
    st->in[0] = a;
    st->in[1] = b;
    st->fn = fn;
    st->ctx = ctx;
    tide_antichain_init(&st->proj);
    for (int i = 0; i < 2; i++) {
        tide_antichain_init(&st->ack[i]);
        if (tide_antichain_insert(&st->ack[i], TIDE_TIME_ZERO) < 0) goto nomem;
        if (tide__arranged_reader(st->in[i], &st->reader[i]) < 0) goto nomem;
    }
    tide_stream *ins[2] = {a->stream, b->stream};
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = name,
                      .ninputs = 2,
                      .inputs = ins,
                      .noutputs = 1,
                      .outputs = &out,
                      .out_flags = &flags,
                      .schedule = join_schedule,
                      .state = st,
                      .state_free = join_state_free,
                      .save = join_save,
                      .load = join_load};
    tide_op *op = tide_op_build(a->scope, &d);
    if (op == NULL) {
        join_state_free(st);
        return NULL;
    }
    return tide_op_output(op, 0);
nomem:
    join_state_free(st);
    tide__worker_fail(w, TIDE_ENOMEM, "out of memory building '%s'", name);
    return NULL;
}

/* ---- semijoin / antijoin -------------------------------------------------------- */

static void semi_fn(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *v1, uint32_t l1,
                    const uint8_t *v2, uint32_t l2, tide_emitter *em)
{
    tide_emit(em, key, klen, v1, l1);
}

tide_stream *tide_semijoin(tide_stream *c, tide_arranged *keys)
{
    if (c == NULL || keys == NULL) return NULL;
    tide_arranged *a = tide_arrange(c, "semijoin_arrange");
    if (a == NULL) return NULL;
    return tide_join(a, keys, "semijoin", c->layout, semi_fn, NULL);
}

tide_stream *tide_antijoin(tide_stream *c, tide_arranged *keys)
{
    tide_stream *s = tide_negate(tide_semijoin(c, keys));
    if (s == NULL) return NULL;
    tide_stream *parts[2] = {c, s};
    return tide_concat(parts, 2);
}
