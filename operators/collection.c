/*
 * collection.c - record-at-a-time collection operators: negate,
 * inspect_updates and consolidate (the last is the arrange operator of
 * arrange.c without a trace).
 *
 * negate flips diffs in place when it owns the batch, else in a copy; it
 * keeps the capability time, so it is free of progress concerns. A diff of
 * -2^63 has no negation in int64: TIDE_ERANGE (diff.h).
 */
#include "arrange.h"
#include "diff.h"
#include "tide/alloc.h"

static void negate_schedule(tide_op *op, void *state)
{
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        tide_batch *c = b;
        if (tide_batch_is_shared(b) || b->ext) {
            c = tide_batch_new(b->layout, b->flags, b->len);
            int rc = c ? TIDE_OK : TIDE_ENOMEM;
            if (c) c->time = b->time;
            for (uint32_t i = 0; i < b->len && rc == TIDE_OK; i++)
                rc = tide_batch_push_from(c, b, i);
            tide_batch_unref(b);
            if (rc < 0) {
                tide_batch_unref(c);
                tide_op_fail(op, rc, "out of memory negating");
                return;
            }
        }
        /* -INT64_MIN does not exist: it wraps to itself, which finds it. */
        bool ok = true;
        for (uint32_t i = 0; i < c->len; i++) ok &= tide__diff_sub(0, c->diffs[i], &c->diffs[i]);
        if (TIDE__UNLIKELY(!ok)) {
            uint32_t i = 0, kl;
            while (c->diffs[i] != INT64_MIN) i++;
            const uint8_t *k = tide_batch_key(c, i, &kl);
            tide__diff_overflow(op, k, kl, c->times[i], "negating -2^63");
            tide_batch_unref(c);
            return;
        }
        if (tide_out_give(op, 0, c) < 0) return;
    }
}

static tide_stream *check_updates(tide_stream *c, const char *what)
{
    if (c == NULL) return NULL;
    if (!(c->flags & TIDE_BATCH_UPDATES)) {
        tide__worker_fail(c->scope->df->w, TIDE_EINVAL,
                          "%s: the input is not a collection (no UPDATES flag)", what);
        return NULL;
    }
    return c;
}

tide_stream *tide_negate(tide_stream *c)
{
    if (check_updates(c, "negate") == NULL) return NULL;
    tide_op_desc d = {.name = "negate",
                      .ninputs = 1,
                      .inputs = &c,
                      .noutputs = 1,
                      .outputs = &c->layout,
                      .out_flags = &c->flags,
                      .schedule = negate_schedule,
                      .stateless = true};
    tide_op *op = tide_op_build(c->scope, &d);
    return op ? tide_op_output(op, 0) : NULL;
}

typedef struct insp_state {
    tide_update_fn fn;
    void *ctx;
} insp_state;

static void insp_schedule(tide_op *op, void *state)
{
    insp_state *st = state;
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        for (uint32_t i = 0; i < b->len; i++) {
            uint32_t kl, vl;
            const uint8_t *k = tide_batch_key(b, i, &kl);
            const uint8_t *v = tide_batch_val(b, i, &vl);
            st->fn(st->ctx, k, kl, v, vl, b->times[i], b->diffs[i]);
        }
        if (tide_out_give(op, 0, b) < 0) return;
    }
}

tide_stream *tide_inspect_updates(tide_stream *c, tide_update_fn fn, void *ctx)
{
    if (check_updates(c, "inspect_updates") == NULL) return NULL;
    insp_state *st = tide_alloc(sizeof *st);
    if (st == NULL) {
        tide__worker_fail(c->scope->df->w, TIDE_ENOMEM, "out of memory building inspect_updates");
        return NULL;
    }
    st->fn = fn;
    st->ctx = ctx;
    tide_op_desc d = {.name = "inspect_updates",
                      .ninputs = 1,
                      .inputs = &c,
                      .noutputs = 1,
                      .outputs = &c->layout,
                      .out_flags = &c->flags,
                      .schedule = insp_schedule,
                      .state = st,
                      .state_free = tide_free,
                      .stateless = true};
    tide_op *op = tide_op_build(c->scope, &d);
    if (op == NULL) tide_free(st);
    return op ? tide_op_output(op, 0) : NULL;
}

tide_stream *tide_consolidate(tide_stream *c)
{
    if (check_updates(c, "consolidate") == NULL) return NULL;
    return tide__consolidate_op(c, "consolidate");
}
