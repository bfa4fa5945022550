/*
 * max_by.c - tide_max_by, tide_min_by (tide/max_by.h): wrap each value with
 * its ordering key in front, take the byte-order extreme, unwrap.
 *
 * Wrapped value: ord | str(val) | u32 big-endian length of ord, where
 * str() is record.h's string encoding. Both ord and str(val) are
 * self-delimiting and order-preserving, so comparing wrapped values
 * compares ord first, then val (a val that is a prefix of another still
 * sorts first); the trailing length only follows equal (ord, val).
 */
#include "tide/max_by.h"

#include <string.h>

#include "tide/alloc.h"
#include "tide/scratch.h"
#include "worker.h"

typedef struct wrap_state {
    tide_order_fn fn;
    void *ctx;
    tide_layout out;
} wrap_state;

static int wrap_batch(tide_op *op, wrap_state *st, const tide_batch *b)
{
    tide_rowbuf *rb = tide_scratch_rowbuf(5);
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        const uint8_t *v = tide_batch_val(b, i, &vl);
        tide_rowbuf_clear(rb);
        int rc = st->fn(st->ctx, k, kl, v, vl, rb);
        if (rc < 0) return tide_op_fail(op, rc, "max_by: the ordering function failed");
        uint32_t ol = rb->len;
        uint8_t n[4] = {(uint8_t)(ol >> 24), (uint8_t)(ol >> 16), (uint8_t)(ol >> 8), (uint8_t)ol};
        if (tide_row_put_str(rb, (const char *)v, vl) < 0 || tide_row_put_raw(rb, n, 4) < 0)
            return tide_op_fail(op, TIDE_ENOMEM, "max_by: out of memory");
        TIDE_TRY(tide_out_push_update(op, 0, b->time, k, kl, rb->data, rb->len, b->times[i],
                                      b->diffs[i]));
    }
    return TIDE_OK;
}

static void wrap_schedule(tide_op *op, void *state)
{
    tide_batch *b;
    int rc = TIDE_OK;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        if (rc == TIDE_OK) rc = wrap_batch(op, state, b);
        tide_batch_unref(b);
    }
}

static void unwrap(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                   tide_emitter *em)
{
    if (vl < 4) return; /* cannot happen: wrap wrote at least the length */
    uint32_t ol = (uint32_t)v[vl - 4] << 24 | (uint32_t)v[vl - 3] << 16 | (uint32_t)v[vl - 2] << 8 |
                  v[vl - 1];
    tide_row_reader r;
    tide_row_reader_init(&r, v + ol, vl - 4 - ol);
    tide_rowbuf *val = tide_scratch_rowbuf(5);
    if (tide_row_get_str(&r, val) < 0) {
        if (em->rc == 0) em->rc = TIDE_ENOMEM;
        return;
    }
    tide_emit(em, k, kl, val->data, val->len);
}

static tide_stream *by(tide_stream *c, const char *name, tide_order_fn fn, void *ctx, bool max)
{
    tide_worker *w = tide_scope_worker(tide_stream_scope(c));
    if (!(c->flags & TIDE_BATCH_UPDATES)) {
        tide__worker_fail(w, TIDE_EINVAL, "%s: input is not a collection", name);
        return NULL;
    }
    wrap_state *st = tide_alloc(sizeof *st);
    if (st == NULL) {
        tide__worker_fail(w, TIDE_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    tide_layout in = tide_stream_layout(c);
    *st = (wrap_state){fn, ctx, tide_layout_make(in.key_width, TIDE_VAR)};
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = name,
                      .ninputs = 1,
                      .inputs = &c,
                      .noutputs = 1,
                      .outputs = &st->out,
                      .out_flags = &flags,
                      .schedule = wrap_schedule,
                      .state = st,
                      .state_free = tide_free,
                      .stateless = true};
    tide_op *op = tide_op_build(tide_stream_scope(c), &d);
    if (op == NULL) {
        tide_free(st);
        return NULL;
    }
    tide_stream *x = max ? tide_max(tide_op_output(op, 0)) : tide_min(tide_op_output(op, 0));
    return x ? tide_flat_map(x, name, in, unwrap, NULL) : NULL;
}

tide_stream *tide_max_by(tide_stream *c, const char *name, tide_order_fn fn, void *ctx)
{
    return by(c, name ? name : "max_by", fn, ctx, true);
}

tide_stream *tide_min_by(tide_stream *c, const char *name, tide_order_fn fn, void *ctx)
{
    return by(c, name ? name : "min_by", fn, ctx, false);
}
