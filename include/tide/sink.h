/*
 * tide/sink.h - a collection's consolidated changes, time by time, on one
 * thread: the input of a writer to a database, a file or a screen.
 *
 * tide_sink_updates routes every update of a collection to global worker 0
 * (process 0, thread 0), buffers them per time, and once that worker's
 * input frontier has passed a time, calls @updates once with the time's
 * consolidated changes (sorted by key, value; diffs summed, zeros dropped),
 * then @frontier with the new frontier. A writer applies the changes of a
 * time as one transaction when @frontier says the time is complete: the
 * changes of every time before it have all been delivered. Times with no
 * change produce no @updates call, but the frontier still moves, so a
 * writer can commit input positions (offsets) for them.
 *
 * This is differential's `inspect` + `consolidate` + timely's "probe and
 * step" folded into one operator, as a user would otherwise write it (one
 * mutex-protected collector per worker and a merge per time).
 *
 * Thread-safety: the callbacks run only on global worker 0's thread, inside
 * its tide_worker_step; on every other worker the operator only forwards.
 */
#ifndef TIDE_SINK_H
#define TIDE_SINK_H

#include "tide/dataflow.h"

typedef struct tide_sink_fns {
    /* The changes at time @t: an UPDATES batch of the collection's layout
     * (borrowed for the call), consolidated, every record time == @t. May
     * be NULL. Return TIDE_OK, or a negative code to stop the computation:
     * tide_worker_step then returns it, with @e's message (e is the
     * operator's, cleared before each call). */
    int (*updates)(void *ctx, tide_time t, const tide_batch *b, tide_error *e);
    /* The input frontier moved to @f (borrowed; empty: the input is
     * complete). Every change at a time not beyond @f has been delivered.
     * May be NULL. Errors as for @updates. */
    int (*frontier)(void *ctx, const tide_antichain *f, tide_error *e);
} tide_sink_fns;

/*
 * tide_sink_updates - add the sink to the scope of collection @c (an
 * UPDATES stream). @fns is copied; @ctx is borrowed and must outlive the
 * dataflow (only worker 0 ever uses it, but every worker must pass one).
 * @return TIDE_OK, TIDE_EINVAL (@c not UPDATES), TIDE_ENOMEM; detail on the
 * worker.
 */
int tide_sink_updates(tide_stream *c, const char *name, const tide_sink_fns *fns, void *ctx);

/* tide_sink_updates_on - the same, delivered on global worker @worker
 * (< peers) instead of 0: e.g. the last worker of process 0, so that the
 * writer and an input reader on worker 0 run on different threads.
 * TIDE_EINVAL when @worker is out of range. */
int tide_sink_updates_on(tide_stream *c, const char *name, const tide_sink_fns *fns, void *ctx,
                         uint32_t worker);

#endif /* TIDE_SINK_H */
