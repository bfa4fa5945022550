/*
 * notificator.c - deliver requested times once the input frontier passes
 * them, holding a capability for each until then (timely's notificator).
 */
#include "tide/alloc.h"
#include "worker.h"

void tide_notificator_init(tide_notificator *n)
{
    tide_change_batch_init(&n->pending);
    n->has_current = false;
}

void tide_notificator_fini(tide_notificator *n)
{
    tide_change_batch_fini(&n->pending);
}

int tide_notificator_notify_at(tide_notificator *n, tide_op *op, tide_time t)
{
    tide_change_batch_compact(&n->pending);
    for (uint32_t i = 0; i < n->pending.len; i++)
        if (tide_time_eq(n->pending.updates[i].time, t)) return TIDE_OK; /* held already */
    if (n->has_current && tide_time_eq(n->current, t)) return TIDE_OK;
    TIDE_TRY(tide_op_hold(op, t));
    if (tide_change_batch_update(&n->pending, t, 1) < 0)
        return tide_op_fail(op, TIDE_ENOMEM, "out of memory in notificator");
    return TIDE_OK;
}

bool tide_notificator_next(tide_notificator *n, tide_op *op, const tide_antichain *frontier,
                           tide_time *t)
{
    if (n->has_current) {
        n->has_current = false;
        tide_op_drop(op, n->current);
    }
    tide_change_batch_compact(&n->pending); /* sorted by tide_time_cmp */
    for (uint32_t i = 0; i < n->pending.len; i++) {
        tide_time c = n->pending.updates[i].time;
        if (tide_antichain_less_equal(frontier, c)) continue;
        /* Times earlier in the total order come first; a pending time < c
         * would sort before it, so c is minimal among the ready ones. */
        tide_change_batch_update(&n->pending, c, -n->pending.updates[i].delta);
        n->current = c;
        n->has_current = true;
        *t = c;
        return true;
    }
    return false;
}
