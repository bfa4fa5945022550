/*
 * tide/ops.h - inputs, probes, loops and the built-in timely operators.
 *
 * Built on the operator API of tide/dataflow.h. User functions receive one
 * record as (key, val) byte strings (see tide/record.h) and emit through a
 * tide_emitter, which appends to the operator's output without allocating
 * per record.
 */
#ifndef TIDE_OPS_H
#define TIDE_OPS_H

#include <string.h>

#include "tide/dataflow.h"

/* ------------------------------------------------------------------------ */
/* Inputs and probes                                                        */
/* ------------------------------------------------------------------------ */

typedef struct tide_input tide_input;

/*
 * Inputs and workers. Every worker builds the same dataflow, so every worker
 * has its own handle of each input, and each handle is a capability of its
 * own: the input's epoch e is complete only when EVERY worker's handle has
 * advanced past e (or closed). So:
 *   - any worker may send into its handle, any records: they enter the
 *     dataflow on that worker and operators exchange them by key as needed
 *     (a common pattern is "worker 0 sends everything", or each worker
 *     sends its share);
 *   - every worker must advance (tide_input_advance_to) and finally close
 *     (tide_input_close) its OWN handle, even if it never sends anything;
 *     a handle left open holds every downstream frontier back forever
 *     (tide_worker_step_until then reports it, see below). For data that
 *     never changes, tide_collection_from (tide/collection.h) needs no handle.
 * A handle belongs to its worker's thread: never pass it to another worker.
 *
 * Errors: sending after close (TIDE_ECLOSED), advancing backwards or an
 * update on a plain input (TIDE_EINVAL) change nothing: they are returned,
 * described in tide_worker_error, and NOT sticky (the worker goes on; see
 * "Errors" in tide/dataflow.h). Out of memory is sticky.
 */

/*
 * tide_input_new - an input in the root scope @s producing records of
 * @layout (@flags: TIDE_BATCH_UPDATES for a differential input). It starts
 * at epoch 0 and holds a capability for its current epoch.
 * @out gets the stream (borrowed). Lives with the dataflow. Named "input"
 * until tide_input_set_name.
 */
tide_input *tide_input_new(tide_scope *s, tide_layout layout, uint32_t flags, tide_stream **out);

/* tide_input_set_name - the name stall reports and errors use for @in
 * (copied). @return TIDE_OK or TIDE_ENOMEM (the old name stays). */
int tide_input_set_name(tide_input *in, const char *name);

/* Send a record at the current epoch. */
int tide_input_send(tide_input *in, const void *key, uint32_t klen, const void *val, uint32_t vlen);

/* The first fields of every tide_input: what the inline send path needs.
 * Internal: read only by tide_input_send_fixed. */
typedef struct tide__input_fast {
    tide_batch **slot; /* the output's staged batch (NULL when none) */
    uint32_t kw, vw;   /* fixed widths; kw == 0: no fast path */
    uint32_t room_u64; /* TIDE_BATCH_RECORDS for a (u64 key, no value) input, else 0 */
} tide__input_fast;

/*
 * tide_input_send_fixed - tide_input_send for a fixed-width plain input,
 * inlined: while the staged batch has room a record costs two stores.
 * @key and @val hold exactly the layout's widths (@val unused for width 0).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnonnull" /* val may be NULL when vw == 0 */
static inline int tide_input_send_fixed(tide_input *in, const void *key, const void *val)
{
    const tide__input_fast *f = (const tide__input_fast *)in;
    tide_batch *b = *f->slot;
    if (__builtin_expect(b != NULL && f->kw != 0 && b->len < TIDE_BATCH_RECORDS, 1)) {
        uint32_t i = b->len;
        if (f->kw == 8)
            memcpy(b->key.bytes + (size_t)i * 8, key, 8);
        else
            memcpy(b->key.bytes + (size_t)i * f->kw, key, f->kw);
        if (f->vw == 8)
            memcpy(b->val.bytes + (size_t)i * 8, val, 8);
        else if (f->vw)
            memcpy(b->val.bytes + (size_t)i * f->vw, val, f->vw);
        b->len = i + 1;
        return 0;
    }
    return tide_input_send(in, key, f->kw ? f->kw : 0, val, f->vw);
}
#pragma GCC diagnostic pop

/*
 * tide_input_send_u64 - send the record with key @key (tide_u64_store'd)
 * and no value, on an input of layout (8, 0): the integer fast path, a
 * handful of instructions per record.
 */
static inline int tide_input_send_u64(tide_input *in, uint64_t key)
{
    const tide__input_fast *f = (const tide__input_fast *)in;
    tide_batch *b = *f->slot;
    if (__builtin_expect(b != NULL && b->len < f->room_u64, 1)) {
        /* A typed store (columns are malloc'd, so 8-aligned): unlike a byte
         * copy it cannot alias b->len, which then stays in a register
         * across a caller's loop instead of round-tripping through memory. */
        ((uint64_t *)(void *)b->key.bytes)[b->len] = __builtin_bswap64(key);
        b->len++;
        return 0;
    }
    uint8_t k[8];
    tide_u64_store(k, key);
    return tide_input_send(in, k, 8, NULL, f->vw);
}
/* Send an update at the current epoch (UPDATES inputs). */
int tide_input_update(tide_input *in, const void *key, uint32_t klen, const void *val,
                      uint32_t vlen, int64_t diff);
/* Send a whole batch (taken); its time is set to the current epoch. */
int tide_input_give(tide_input *in, tide_batch *b);
/* Move to a later epoch: no more records at earlier ones. TIDE_EINVAL if
 * @epoch is earlier than the current one. */
int tide_input_advance_to(tide_input *in, uint64_t epoch);
/* No more records at all. Further sends return TIDE_ECLOSED. */
int tide_input_close(tide_input *in);
uint64_t tide_input_epoch(const tide_input *in);

typedef struct tide_probe tide_probe;

/* tide_probe_new - watch the frontier of @s (records are discarded). */
tide_probe *tide_probe_new(tide_stream *s);
/* Records at some time < @t may still arrive at the probe. */
bool tide_probe_less_than(const tide_probe *p, tide_time t);
/* Records at some time <= @t may still arrive at the probe. */
bool tide_probe_less_equal(const tide_probe *p, tide_time t);
/* The frontier at the probe (borrowed). */
const tide_antichain *tide_probe_frontier(const tide_probe *p);

/*
 * tide_worker_step_until - step @w until no record at time <= @t can reach
 * @p: the frontier at @p has passed @t.
 *
 * A stuck dataflow does not spin forever: when the worker has done nothing
 * (no message, no operator run, no progress) for the configured stall time
 * (tide_config.stall_timeout_ms, --stall-timeout, default 10 s, 0 = never),
 * the call gives up with TIDE_ETIMEDOUT and says what holds @p's frontier
 * back: on stderr every cause, and in tide_worker_error the first, e.g.
 *   input 'roots' (operator 1) was neither advanced past epoch 0 nor
 *   closed, on worker 1
 * naming the input never advanced or closed, or the operator holding a
 * capability and at which time, the worker(s) holding it, and a peer
 * process that has sent no progress for as long. A worker that waits for
 * another one's slow work (e.g. a peer process loading data) for longer
 * than the stall time is reported too: raise the stall time for such jobs.
 * The error is not sticky: the caller may fix the cause (advance, close)
 * and wait again.
 * @return TIDE_OK; TIDE_ETIMEDOUT as above; or the worker's sticky error.
 * Thread-safety: worker thread only.
 */
int tide_worker_step_until(tide_worker *w, const tide_probe *p, tide_time t);

/* tide_worker_step_until_timeout - tide_worker_step_until with a deadline:
 * give up with TIDE_ETIMEDOUT (and the same report) after @timeout_ms
 * milliseconds in all, progress or not (-1: no deadline; the stall time
 * still applies). */
int tide_worker_step_until_timeout(tide_worker *w, const tide_probe *p, tide_time t,
                                   int64_t timeout_ms);

/* ------------------------------------------------------------------------ */
/* Record-at-a-time operators                                               */
/* ------------------------------------------------------------------------ */

/* Where a user function emits records. */
typedef struct tide_emitter {
    tide_op *op;
    uint32_t port;
    tide_time cap;  /* capability time of the record being processed */
    tide_time time; /* UPDATES streams: the record's time */
    int64_t diff;   /* UPDATES streams: the record's diff */
    bool updates;   /* the output is an UPDATES stream */
    int rc;         /* first error while emitting */
} tide_emitter;

/* Emit (key, val) at the current record's time (and diff, for updates). */
int tide_emit(tide_emitter *em, const void *key, uint32_t klen, const void *val, uint32_t vlen);
/* UPDATES streams: emit with an explicit diff multiplier (e.g. negate). */
int tide_emit_diff(tide_emitter *em, const void *key, uint32_t klen, const void *val, uint32_t vlen,
                   int64_t diff);

/* A record function: called once per input record; emits 0..n records. */
typedef void (*tide_record_fn)(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *val,
                               uint32_t vlen, tide_emitter *em);
/* A predicate on one record. */
typedef bool (*tide_pred_fn)(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *val,
                             uint32_t vlen);

/* Map each record to at most one (flat_map: any number of) records of
 * @out_layout. Times and diffs pass through. @ctx is borrowed and must
 * outlive the dataflow. Output: the records @fn emits, in the layout it
 * was given, read with the loads matching what @fn stored. */
tide_stream *tide_flat_map(tide_stream *s, const char *name, tide_layout out_layout,
                           tide_record_fn fn, void *ctx);
#define tide_map tide_flat_map
/* Keep the records for which @fn is true (no copy: batches are filtered
 * into new batches only when some record is dropped). Output: the input
 * records unchanged (same layout, time, diff). */
tide_stream *tide_filter(tide_stream *s, const char *name, tide_pred_fn fn, void *ctx);
/* Merge @n streams of one layout and scope. Output: the input records
 * unchanged. */
tide_stream *tide_concat(tide_stream *const *streams, uint32_t n);
/* Move records to the worker owning the hash of their key. Output: the
 * input records unchanged, on another worker. */
tide_stream *tide_exchange(tide_stream *s);
/*
 * Call @fn on every batch that passes (the batch is borrowed). The batch
 * keeps @s's layout; its records are read with tide_batch_key/_val and
 * the typed loads of tide/record.h.
 *
 * Thread-safety of callbacks: every worker runs its own copy of the
 * operator, so @fn runs on EVERY worker thread, concurrently, each seeing
 * the batches of its worker (with PIPELINE, those the worker produced).
 * @ctx is shared by all of them: guard what @fn writes (a mutex, atomics,
 * or one slot per tide_worker_index). The same holds for tide_sink,
 * tide_inspect_updates and every user function (map, filter, join, reduce
 * functions): they are called from all workers at once.
 */
typedef void (*tide_inspect_fn)(void *ctx, const tide_batch *b);
tide_stream *tide_inspect(tide_stream *s, tide_inspect_fn fn, void *ctx);
/* A sink that calls @fn on every batch and drops it; @pact decides where
 * the batches are seen (EXCHANGE: on the worker owning each key;
 * BROADCAST: every batch on every worker). Concurrent as tide_inspect. */
void tide_sink(tide_stream *s, tide_pact pact, tide_inspect_fn fn, void *ctx);

/* ------------------------------------------------------------------------ */
/* Loops and scopes                                                         */
/* ------------------------------------------------------------------------ */

typedef struct tide_feedback tide_feedback;

/*
 * tide_feedback_new - a loop edge in scope @s: what is connected to it
 * re-enters the scope with the scope's coordinate advanced by @step (>= 1).
 * @out gets the stream that carries the fed-back records: those connected,
 * unchanged, of @layout and @flags.
 */
tide_feedback *tide_feedback_new(tide_scope *s, tide_layout layout, uint32_t flags, uint32_t step,
                                 tide_stream **out);
/* Close the loop: @s (same scope) flows into the feedback edge. */
int tide_feedback_connect(tide_feedback *fb, tide_stream *s);

/* Bring @s from the parent scope into @child (times unchanged). Output:
 * the records of @s unchanged. */
tide_stream *tide_enter(tide_stream *s, tide_scope *child);
/* Bring @s out of its scope into the parent: the scope's coordinate is
 * reset to 0, in the batch time and in every record time. Output: the
 * records of @s unchanged (only times change). */
tide_stream *tide_leave(tide_stream *s);

/* ------------------------------------------------------------------------ */
/* Notificator                                                              */
/* ------------------------------------------------------------------------ */

/*
 * A notificator holds a capability for each requested time and hands the
 * times back, in time order, once the operator's input frontier has passed
 * them (timely's notificator). Caller-owned: _init/_fini.
 */
typedef struct tide_notificator {
    tide_change_batch pending; /* requested times (count = requests) */
    tide_time current;         /* handed out by the last next(), cap still held */
    bool has_current;
} tide_notificator;

void tide_notificator_init(tide_notificator *n);
void tide_notificator_fini(tide_notificator *n);
/* Ask to be told when the frontier passes @t (holds a capability at @t). */
int tide_notificator_notify_at(tide_notificator *n, tide_op *op, tide_time t);
/*
 * Next time not beyond @frontier, in time order: returns true and sets *t.
 * The capability for *t stays held until the next call (send output at *t
 * meanwhile), then is dropped.
 */
bool tide_notificator_next(tide_notificator *n, tide_op *op, const tide_antichain *frontier,
                           tide_time *t);

#endif /* TIDE_OPS_H */
