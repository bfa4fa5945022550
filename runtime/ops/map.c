/*
 * map.c - flat_map (and map): a user function per record, emitting records.
 * Times and diffs pass through the emitter; the capability is the batch's.
 */
#include "tide/alloc.h"
#include "worker.h"

int tide_emit_diff(tide_emitter *em, const void *key, uint32_t klen, const void *val, uint32_t vlen,
                   int64_t diff)
{
    int rc = em->updates ? tide_out_push_update(em->op, em->port, em->cap, key, klen, val, vlen,
                                                em->time, diff)
                         : tide_out_push(em->op, em->port, em->cap, key, klen, val, vlen);
    if (rc < 0 && em->rc == 0) em->rc = rc;
    return rc;
}

int tide_emit(tide_emitter *em, const void *key, uint32_t klen, const void *val, uint32_t vlen)
{
    return tide_emit_diff(em, key, klen, val, vlen, em->diff);
}

/* Run @fn over every record of @b, emitting on output 0 of @op. */
int tide__map_batch(tide_op *op, const tide_batch *b, tide_record_fn fn, void *ctx)
{
    tide_emitter em = {.op = op, .port = 0, .cap = b->time, .diff = 1};
    em.updates = (b->flags & TIDE_BATCH_UPDATES) != 0;
    for (uint32_t i = 0; i < b->len && em.rc == 0; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        const uint8_t *v = tide_batch_val(b, i, &vl);
        if (em.updates) {
            em.time = b->times[i];
            em.diff = b->diffs[i];
        }
        fn(ctx, k, kl, v, vl, &em);
    }
    return em.rc;
}

static void map_schedule(tide_op *op, void *state)
{
    tide__fn_state *st = state;
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        int rc = tide__map_batch(op, b, st->fn.record, st->ctx);
        tide_batch_unref(b);
        if (rc < 0) return;
    }
}

tide_stream *tide_flat_map(tide_stream *s, const char *name, tide_layout out_layout,
                           tide_record_fn fn, void *ctx)
{
    tide__fn_state fs = {.fn.record = fn, .ctx = ctx};
    return tide__fn_op(s, name ? name : "flat_map", out_layout, map_schedule, fs);
}
