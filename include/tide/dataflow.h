/*
 * tide/dataflow.h - workers, dataflows, scopes, streams and operators.
 *
 * A program runs tide_execute(), which starts the configured worker threads
 * and calls the user's main once per worker. Each worker builds the SAME
 * dataflows in the SAME order (their parts are matched by index across
 * workers), then steps them: tide_worker_step() moves messages, propagates
 * progress and runs the operators that have work.
 *
 * A dataflow is a graph of operators in nested scopes. The root scope's time
 * is an epoch; a child scope adds a loop coordinate (two levels at most).
 * Operators are connected by streams; each input states how records travel
 * (a "pact"): PIPELINE keeps them on this worker, EXCHANGE sends each record
 * to the worker owning the hash of its key, BROADCAST to every worker.
 *
 * Thread-safety: every object here belongs to one worker thread and is used
 * only from it, unless said otherwise. The user's main and every callback
 * of every operator (map functions, inspect and sink callbacks, join and
 * reduce functions, ...) run on all worker threads at once, one copy per
 * worker: a context pointer given to an operator is shared by all of them.
 *
 * Errors. A worker has one error slot (tide_worker_error) and two kinds of
 * error:
 *   - sticky: a failure inside a step or an operator (out of memory, a
 *     protocol error, an operator's tide_op_fail), a failed constructor
 *     while building (it returns NULL; tide_dataflow_seal then fails), or a
 *     peer lost. Every later step returns it, the other workers are
 *     stopped, and tide_execute returns it;
 *   - handled: a call from the worker's own code refused for its arguments
 *     or the object's state, which changed nothing (tide_input_advance_to
 *     backwards, a send after tide_input_close, the TIDE_ETIMEDOUT of
 *     tide_worker_step_until). It is returned, described in
 *     tide_worker_error until the next error, and forgotten: the worker goes
 *     on, and tide_execute fails only if main returns it (then with its
 *     description).
 */
#ifndef TIDE_DATAFLOW_H
#define TIDE_DATAFLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/batch.h"
#include "tide/config.h"
#include "tide/error.h"
#include "tide/time.h"

typedef struct tide_worker tide_worker;
typedef struct tide_dataflow tide_dataflow;
typedef struct tide_scope tide_scope;
typedef struct tide_stream tide_stream;
typedef struct tide_op tide_op;
typedef struct tide_snap tide_snap; /* tide/snapshot.h */

/* ------------------------------------------------------------------------ */
/* Execution                                                                */
/* ------------------------------------------------------------------------ */

/* The per-worker entry point; returns TIDE_OK or a negative code. */
typedef int (*tide_worker_main)(tide_worker *w, void *arg);

/*
 * tide_execute - run @main on every worker thread of this process as laid
 * out by @cfg (NULL: one worker), then step each worker until all of its
 * dataflows are complete, and join the threads. @main runs once per
 * worker, concurrently; @arg is shared by all of them.
 * @return TIDE_OK, or the first error (from a worker's main, a step, or the
 * cluster) with its detail in @e.
 */
int tide_execute(const tide_config *cfg, tide_worker_main main, void *arg, tide_error *e);

/* This worker's global index, 0 .. peers-1. */
uint32_t tide_worker_index(const tide_worker *w);
/* The number of workers in the whole computation. */
uint32_t tide_worker_peers(const tide_worker *w);
/* The configuration the computation runs with (borrowed). */
const tide_config *tide_worker_config(const tide_worker *w);

/*
 * tide_worker_step - one round of work: deliver arrived messages, apply
 * progress, run the operators that have work, broadcast progress. Never
 * blocks.
 * @return 1 while some dataflow is incomplete, 0 when all are complete, or
 * a negative code (detail: tide_worker_error).
 */
int tide_worker_step(tide_worker *w);

/* tide_worker_step_or_park - as tide_worker_step, but when there was nothing
 * to do, wait up to @timeout_us for a message (-1: no limit). */
int tide_worker_step_or_park(tide_worker *w, int64_t timeout_us);

/* The worker's last error (borrowed): the sticky one if any, else the last
 * handled one (see "Errors" above). */
const tide_error *tide_worker_error(const tide_worker *w);

/* ------------------------------------------------------------------------ */
/* Dataflows and scopes                                                     */
/* ------------------------------------------------------------------------ */

/* tide_dataflow_new - start building a dataflow on @w. NULL on ENOMEM. */
tide_dataflow *tide_dataflow_new(tide_worker *w, const char *name);

/*
 * tide_dataflow_seal - finish building: check every input is connected,
 * compute reachability, start running. No operator may be added afterwards.
 * @return TIDE_OK, TIDE_EINVAL (message names the operator), TIDE_ENOMEM.
 */
int tide_dataflow_seal(tide_dataflow *df);

/*
 * tide_dataflow_drop - remove @df from its worker and free it: its
 * operators, channels, probes, inputs and everything it owns. Every worker
 * must drop the same dataflow (each drops its own copy; the others'
 * progress for it is then meaningless), from its own code between steps
 * (tide_execute's main, a job's code), never from inside an operator.
 * Messages still in flight for @df, or arriving later from workers that
 * have not dropped it yet, are discarded on arrival. Arrangements of @df
 * imported by another dataflow (tide_arranged_import) stay alive until
 * their last reader is gone; the importers see no further change (as if
 * the source had closed). Pointers into @df (its tide_probe, tide_input,
 * streams, arranged handles) are invalid afterwards. Dataflow ids are never
 * reused, so later dataflows are unaffected. Works under tide_execute and
 * in jobs (host mode); the idea is timely dataflow's drop_dataflow.
 * @return TIDE_OK; TIDE_EINVAL for a NULL @df; TIDE_ESTATE (handled, the
 * dataflow is kept) when called from inside a step.
 * Thread-safety: only on @df's worker thread.
 */
int tide_dataflow_drop(tide_dataflow *df);

/* True when nothing can happen in @df any more (all inputs closed, all
 * messages consumed, no capabilities held anywhere in the cluster). */
bool tide_dataflow_complete(const tide_dataflow *df);

/* The root scope of @df (epoch-timed, depth 0). Borrowed. */
tide_scope *tide_dataflow_root(tide_dataflow *df);

/* tide_scope_child - a nested (iterative) scope inside @parent; its time
 * adds one loop coordinate. NULL when nested deeper than 2 or on ENOMEM. */
tide_scope *tide_scope_child(tide_scope *parent, const char *name);

/* Depth of @s: 0 for the root, 1, 2 for nested scopes. */
uint32_t tide_scope_depth(const tide_scope *s);
tide_scope *tide_stream_scope(const tide_stream *s);
tide_layout tide_stream_layout(const tide_stream *s);
tide_worker *tide_scope_worker(const tide_scope *s);

/* ------------------------------------------------------------------------ */
/* Operators                                                                */
/* ------------------------------------------------------------------------ */

typedef enum tide_pact {
    TIDE_PIPELINE = 0, /* records stay on this worker */
    TIDE_EXCHANGE = 1, /* each record goes to tide_hash_owner(tide_hash(key)) */
    TIDE_BROADCAST = 2 /* every record goes to every worker */
} tide_pact;

/* Called when the operator has input, its input frontier changed, or it was
 * activated. Errors are reported with tide_op_fail. */
typedef void (*tide_op_fn)(tide_op *op, void *state);

typedef struct tide_op_desc {
    const char *name;
    uint32_t ninputs;
    tide_stream *const *inputs; /* may contain NULL: connect later (loops) */
    const tide_pact *pacts;     /* NULL: all PIPELINE */
    uint32_t noutputs;
    const tide_layout *outputs; /* layout of each output stream */
    const uint32_t *out_flags;  /* TIDE_BATCH_* per output; NULL: all 0 */
    tide_op_fn schedule;
    void *state;                     /* passed to schedule; taken */
    void (*state_free)(void *state); /* called when the dataflow is freed */
    /* Path summary from every input to every output: NULL is identity. An
     * operator that never produces output from input sets @disconnected. */
    const tide_summary *summary;
    bool disconnected;
    /* Start holding one capability at the scope's least time (sources).
     * Must be the same on every worker: sealing counts it once per worker
     * on every worker (docs/progress.md, "why this is safe"). */
    bool initial_capability;
    /* Snapshots (tide/snapshot.h): @stateless says the operator keeps
     * nothing between activations that a snapshot must carry; otherwise
     * @save writes its state at a quiescent epoch and @load restores it
     * (before sealing). With neither, tide_dataflow_save fails with
     * TIDE_ENOTSUP naming the operator. */
    bool stateless;
    int (*save)(tide_op *op, void *state, tide_snap *s);
    int (*load)(tide_op *op, void *state, tide_snap *s);
} tide_op_desc;

/* tide_op_build - add an operator to @s; it takes d->state (freed with
 * the dataflow by d->state_free). On error: NULL, the detail on the
 * worker, and the caller still owns d->state. */
tide_op *tide_op_build(tide_scope *s, const tide_op_desc *d);

/* Connect a stream to input @port that was NULL at build time. */
int tide_op_connect(tide_op *op, uint32_t port, tide_stream *s, tide_pact pact);

/* The stream of output @port (borrowed, lives with the dataflow). */
tide_stream *tide_op_output(tide_op *op, uint32_t port);

tide_scope *tide_op_scope(const tide_op *op);
tide_worker *tide_op_worker(const tide_op *op);

/*
 * tide_op_pull - the next message on input @port, or NULL. Returns a
 * reference the caller owns (unref it, or keep it). Consuming a message at
 * time t lets the operator send output at times >= t during this call of
 * its schedule function without holding a capability.
 */
tide_batch *tide_op_pull(tide_op *op, uint32_t port);

/* The frontier of input @port: times that may still arrive (borrowed,
 * changes between schedule calls). */
const tide_antichain *tide_op_frontier(const tide_op *op, uint32_t port);

/* Capabilities: the right to send output at times >= t later. All outputs
 * share them. TIDE_EINVAL when dropping one that is not held.
 * tide_op_hold(t) is only valid at a time t >= one the operator already
 * holds, or >= the time of a message it is consuming in this activation
 * (timely's rule for minting capabilities; the progress proof of
 * docs/progress-model.md relies on it); it is not checked. */
int tide_op_hold(tide_op *op, tide_time t);
int tide_op_drop(tide_op *op, tide_time t);
int tide_op_downgrade(tide_op *op, tide_time from, tide_time to);

/* Schedule @op again at the next step even without input. */
void tide_op_activate(tide_op *op);

/* Report an error: the worker's next step returns it. Returns @code. */
int tide_op_fail(tide_op *op, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * tide_out_give - send batch @b (taken) on output @port. b->time must be a
 * time the operator may send at. An empty batch is dropped, unless it
 * carries an attachment (ext), e.g. an arrangement's announcement.
 */
int tide_out_give(tide_op *op, uint32_t port, tide_batch *b);

/* Append one record to output @port's staged batch at capability time @t
 * (a staged batch of another time is sent first). */
int tide_out_push(tide_op *op, uint32_t port, tide_time t, const void *key, uint32_t klen,
                  const void *val, uint32_t vlen);

/* As tide_out_push for an UPDATES output: the record has its own time @rt
 * (>= @t) and @diff. */
int tide_out_push_update(tide_op *op, uint32_t port, tide_time t, const void *key, uint32_t klen,
                         const void *val, uint32_t vlen, tide_time rt, int64_t diff);

/* Send every staged batch of @op now (done anyway when schedule returns). */
int tide_out_flush(tide_op *op);

#endif /* TIDE_DATAFLOW_H */
