/*
 * filter.c - keep the records a predicate accepts. A batch whose records all
 * pass goes on as it is (no copy); otherwise the survivors are copied.
 */
#include "tide/alloc.h"
#include "worker.h"

static tide_batch *filter_batch(tide_op *op, tide__fn_state *st, tide_batch *b)
{
    tide_batch *out = NULL;
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        const uint8_t *v = tide_batch_val(b, i, &vl);
        bool keep = st->fn.pred(st->ctx, k, kl, v, vl);
        if (keep && out == NULL) continue;
        if (!keep && out == NULL) {
            /* First drop: copy the survivors so far. */
            out = tide_batch_new(b->layout, b->flags, b->len);
            if (out == NULL) goto nomem;
            out->time = b->time;
            for (uint32_t j = 0; j < i; j++)
                if (tide_batch_push_from(out, b, j) < 0) goto nomem;
            continue;
        }
        if (keep && tide_batch_push_from(out, b, i) < 0) goto nomem;
    }
    if (out == NULL) return tide_batch_ref(b);
    return out;
nomem:
    tide_batch_unref(out);
    tide_op_fail(op, TIDE_ENOMEM, "out of memory");
    return NULL;
}

static void filter_schedule(tide_op *op, void *state)
{
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        tide_batch *out = filter_batch(op, state, b);
        tide_batch_unref(b);
        if (out == NULL || tide_out_give(op, 0, out) < 0) return;
    }
}

tide_stream *tide_filter(tide_stream *s, const char *name, tide_pred_fn fn, void *ctx)
{
    tide__fn_state fs = {.fn.pred = fn, .ctx = ctx};
    return tide__fn_op(s, name ? name : "filter", s->layout, filter_schedule, fs);
}
