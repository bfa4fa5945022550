/*
 * tide/fold.h - a reduction over each key's values in order, as a left fold
 * that redoes only what follows the first changed value.
 *
 * The Actyx exporter's usage view pairs each machine's events in causal
 * order: `group_by(machine).reduce(|inputs, outputs| for ev in inputs ..)`.
 * A general reduce (tide/collection.h) reruns such a function over the
 * whole group whenever one value changes, so a batch's cost grows with each
 * key's history. An event log mostly grows at its end (causal order): here
 * the fold's state is checkpointed after every value, and a change at
 * position p restores the state before p and refolds only positions p..n.
 * An append costs the new values, whatever the history.
 *
 *   values   v0    v1    v2    v3   | v4 (new)
 *   state  s0 -> s1 -> s2 -> s3 -> s4 -> s5     kept per position
 *   outputs  o0    o1    o2    o3   | o4         kept per position
 *                                   ^ first changed position: refold from here
 *
 * Per key the operator keeps the values (as consolidated multiplicities),
 * a copy of the state after each value and the outputs each value produced;
 * output changes at a time are the new outputs of positions >= p minus the
 * old ones, consolidated (unchanged outputs cancel). Memory: the values plus
 * one state snapshot per value, so keep the state small (e.g. the open
 * intervals of a machine, not its history).
 *
 * Times must be totally ordered: the fold works in the root scope only.
 */
#ifndef TIDE_FOLD_H
#define TIDE_FOLD_H

#include "tide/collection.h"

/* Where a fold function writes its outputs for the current value. */
typedef struct tide_fold_out tide_fold_out;

/* tide_fold_emit - output (key, @val) with multiplicity @diff (usually 1)
 * for the current value. TIDE_OK or TIDE_ENOMEM (sticky: the operator
 * fails after the call). */
int tide_fold_emit(tide_fold_out *o, const void *val, uint32_t len, int64_t diff);

/*
 * A fold step: the next value @val (values come in ascending record order,
 * each once, with its accumulated multiplicity @mult, never 0) of group
 * @key. @state holds the bytes the previous step left (empty before the
 * first value); change it in place (tide_rowbuf_clear, tide_row_put_*). Emit
 * outputs with tide_fold_emit. Must be a pure function of (key, state, val,
 * mult): it is rerun from a checkpoint when earlier values change.
 */
typedef void (*tide_fold_fn)(void *ctx, const uint8_t *key, uint32_t klen, tide_rowbuf *state,
                             const uint8_t *val, uint32_t vlen, int64_t mult, tide_fold_out *out);

/*
 * tide_fold - the collection of (key, output) that @fn's fold over each
 * key's values produces, kept up to date incrementally. Exchanges @c by key.
 * @out_width: width of the output values (TIDE_VAR for variable). @ctx is
 * borrowed (must outlive the dataflow). Output changes at time t are
 * emitted when the input frontier passes t, consolidated.
 * @return the output collection, or NULL (detail on the worker: TIDE_EINVAL
 * outside the root scope or for a non-collection, TIDE_ENOMEM).
 */
tide_stream *tide_fold(tide_stream *c, const char *name, uint32_t out_width, tide_fold_fn fn,
                       void *ctx);

#endif /* TIDE_FOLD_H */
