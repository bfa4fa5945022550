/*
 * tide/collection.h - differential dataflow: collections, arrangements,
 * join, reduce, iterate.
 *
 * A collection is a stream of UPDATES batches: (key, val, time, diff)
 * triples whose accumulation at a time t (the sum of diffs of updates at
 * times <= t) is the collection's contents at t. Operators turn changes of
 * their inputs into exactly the changes of their outputs.
 *
 * Collections are tide_stream pointers whose flags include
 * TIDE_BATCH_UPDATES; the record-at-a-time operators of tide/ops.h
 * (tide_map, tide_flat_map, tide_filter, tide_concat, tide_exchange,
 * tide_inspect, tide_enter, tide_leave) work on them unchanged: times and
 * diffs pass through, tide_emit keeps them, tide_emit_diff sets them
 * (e.g. to -em->diff).
 * Inputs: tide_input_new(scope, layout, TIDE_BATCH_UPDATES, &c) and
 * tide_input_update().
 *
 * Arrangements: tide_arrange exchanges a collection by key hash and
 * maintains it as a trace (tide/trace.h) per worker: each worker holds the
 * keys it owns. An arrangement is shared: join, reduce and later dataflows
 * read the same trace without copying; each reader holds compaction back
 * only as far as it needs.
 *
 * Diffs are int64 and never wrap. Every sum and product of diffs an
 * operator computes (join's products, accumulations in reduce, count,
 * distinct, threshold, min/max/top_k, consolidation in consolidate,
 * arrange and iterate's feedback, trace merges, negation) is checked; one
 * that does not fit fails the run with TIDE_ERANGE, naming the operator
 * (and the key and time where known). Sums are checked on their exact
 * total, so updates that pass the edge in some order but cancel back into
 * range never fail. A diff of exactly INT64_MIN cannot be negated:
 * negate, antijoin and iterate (which negates its initial collection) fail
 * on it.
 *
 * Every function returns NULL on error, with the detail on the worker
 * (tide_worker_error). Objects live as long as their dataflow.
 *
 * Reading outputs. Every operator below states its output: the record
 * layout (key width, value width; TIDE_VAR for variable) and what each
 * field holds. A field is read with the load matching how it was stored
 * (tide/record.h): tide_u64_load for what tide_u64_store wrote, and so on.
 * "Same as the input" means the bytes are passed through untouched. An
 * update's time and diff come with each record (tide_inspect_updates gives
 * them; in a tide_batch, b->times[i] and b->diffs[i]). User functions (join,
 * reduce, map, inspect callbacks) run on every worker thread at once
 * (tide/dataflow.h).
 */
#ifndef TIDE_COLLECTION_H
#define TIDE_COLLECTION_H

#include <stddef.h>

#include "tide/dataflow.h"
#include "tide/ops.h"
#include "tide/record.h"
#include "tide/trace.h"

/* ---- constant collections ----------------------------------------------------- */

/* One record of a constant collection: borrowed byte strings of the
 * collection's layout widths (@val may be NULL when vlen is 0). */
typedef struct tide_record_init {
    const void *key;
    uint32_t klen;
    const void *val;
    uint32_t vlen;
} tide_record_init;

/*
 * tide_collection_from - a collection that never changes: @records appear
 * at the scope's least time (epoch 0) with diff +1 each (list a record
 * twice for multiplicity 2), and nothing else ever happens. No input handle
 * to advance or close: the operator sends its records on its first step
 * and drops its capability itself, so its frontier is empty from then on.
 * For a root node, a parameter, a small lookup table.
 *
 * Every worker calls this with the SAME records (as it builds the same
 * dataflow); each worker emits only the records whose key it owns
 * (tide_hash_owner(tide_hash(key), peers), as TIDE_EXCHANGE places them), so
 * every record appears once in all and a following arrange moves nothing.
 * @records and the bytes they point to are copied (borrowed for the call).
 * @s may be any scope. Output: UPDATES records of @layout, the given bytes.
 * @return the collection, or NULL (TIDE_EINVAL for a record whose widths
 * do not match @layout, TIDE_ENOMEM; detail on the worker).
 */
tide_stream *tide_collection_from(tide_scope *s, tide_layout layout,
                                  const tide_record_init *records, size_t n);

/* tide_collection_from_u64 - a constant collection of (u64 key, no value)
 * records, layout (8, 0): the keys tide_u64_store'd. */
tide_stream *tide_collection_from_u64(tide_scope *s, const uint64_t *keys, size_t n);

/* ---- collection operators --------------------------------------------------- */

/* Multiply every diff by -1. Output: same records as @c. */
tide_stream *tide_negate(tide_stream *c);

/* Exchange by key, then sum the diffs of equal (key, val, time) and drop
 * zeros, emitting each time's updates once its time is complete (the
 * operator holds capabilities for the times it still buffers). Each
 * (key, val, time) leaves at most once, never with diff 0. Output: same
 * layout and bytes as @c. */
tide_stream *tide_consolidate(tide_stream *c);

/* Call @fn for each update (time and diff included) at each worker; the
 * updates pass through unchanged. @fn runs on every worker thread at once
 * (each for the updates on its worker): guard what it writes. @ctx is
 * borrowed (must outlive the dataflow). */
typedef void (*tide_update_fn)(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *val,
                               uint32_t vlen, tide_time t, int64_t diff);
tide_stream *tide_inspect_updates(tide_stream *c, tide_update_fn fn, void *ctx);

/* ---- arrangements ---------------------------------------------------------------- */

typedef struct tide_arranged tide_arranged;

/* Arrange @c by its key: records move to the worker owning their key, and
 * are kept as sorted, compacted batches in a shared trace. Each time the
 * input frontier advances, the completed updates are sealed into a trace
 * batch, inserted, and announced downstream (see operators/arrange.h: an
 * announcement is a 0-record message carrying the trace batch, for joins,
 * reductions and tide_arranged_stream; it is not a collection by itself).
 * The trace compacts as far as its readers allow; with no reader it
 * compacts to the input frontier (its size stays that of the collection). */
tide_arranged *tide_arrange(tide_stream *c, const char *name);

/* The arranged updates as a collection again (each sealed batch,
 * flattened). Output: same layout and bytes as the arranged collection,
 * consolidated per time. */
tide_stream *tide_arranged_stream(tide_arranged *a);

/* The scope the arrangement lives in. */
tide_scope *tide_arranged_scope(const tide_arranged *a);
tide_layout tide_arranged_layout(const tide_arranged *a);

/* The shared trace (borrowed): for tests and for readers outside dataflows. */
tide_trace *tide_arranged_trace(tide_arranged *a);

/* Use @a inside the child scope @child (e.g. a loop body): times enter
 * unchanged (child coordinate 0); the trace is shared, not copied, and
 * readers in @child state their frontiers with that coordinate reset. */
tide_arranged *tide_arranged_enter(tide_arranged *a, tide_scope *child);

/* Use @a, built by another dataflow of the same worker, in scope @s (a root
 * scope): a new reader of the same trace. The first message replays the
 * trace's contents as one batch (at time 0; times are as compacted, so
 * accumulations are exact from the source's frontier at import on), then
 * every batch the source seals follows. @a must come from tide_arrange in
 * a root scope. */
tide_arranged *tide_arranged_import(tide_arranged *a, tide_scope *s);

/* ---- join --------------------------------------------------------------------------- */

/* Called for each pair of values with equal keys; emit output records with
 * tide_emit (their time is the join of the two times, their diff the
 * product of the two diffs, both set in @em). */
typedef void (*tide_join_fn)(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *v1,
                             uint32_t l1, const uint8_t *v2, uint32_t l2, tide_emitter *em);

/* Equi-join of two arrangements of the same scope by key, incremental in
 * both; output records of @out layout. Each pair of input updates meets
 * once: output time = tide_time_join of the two, diff = product. All output
 * for an announced batch is produced in the activation that receives it.
 * @ctx is borrowed (must outlive the dataflow). Output: whatever @fn
 * emits, layout @out, read as @fn stored it; @fn runs on every worker
 * thread (for the keys that worker owns). */
tide_stream *tide_join(tide_arranged *a, tide_arranged *b, const char *name, tide_layout out,
                       tide_join_fn fn, void *ctx);

/* The updates of @c whose key is present (semijoin) / absent (antijoin) in
 * @keys (an arrangement of keys with empty values, e.g. tide_distinct).
 * Diffs are multiplied by the key's multiplicity in @keys, so @keys should
 * be distinct (multiplicity 1) for set semantics. antijoin = c - semijoin.
 * @keys' values are ignored. Output: same layout and bytes as @c. */
tide_stream *tide_semijoin(tide_stream *c, tide_arranged *keys);
tide_stream *tide_antijoin(tide_stream *c, tide_arranged *keys);

/* ---- reduce ---------------------------------------------------------------------------- */

/* One value of a group with its accumulated multiplicity (never 0). */
typedef struct tide_val_diff {
    const uint8_t *val;
    uint32_t len;
    int64_t diff;
} tide_val_diff;

/* Where a reduction writes its output values. */
typedef struct tide_reduce_out tide_reduce_out;
int tide_reduce_push(tide_reduce_out *out, const void *val, uint32_t len, int64_t diff);

/* Given a key and its input values (sorted by value, each with its
 * accumulated multiplicity at the time being computed), push the output
 * values. Must be a pure function of its arguments. */
typedef void (*tide_reduce_fn)(void *ctx, const uint8_t *key, uint32_t klen,
                               const tide_val_diff *in, uint32_t n, tide_reduce_out *out);

/* Group-wise reduction of an arrangement: the output collection (key,
 * output value) changes by exactly the difference between @fn applied to
 * the new and the old input, at every time (partially ordered times
 * included). Output values have width @val_width. Result is arranged
 * (tide_arranged_stream for the collection). Output: layout (key width of
 * @a, @val_width): the key as in @a, the value as @fn pushed it, with the
 * diff @fn gave; @fn runs on every worker thread (for its keys). */
tide_arranged *tide_reduce(tide_arranged *a, const char *name, uint32_t val_width,
                           tide_reduce_fn fn, void *ctx);

/*
 * tide_sum - per key of @c, the sum of its values (int64, 8 bytes, stored
 * with tide_i64_store) weighted by their multiplicities, for the keys where
 * that sum is not 0 (as tide_count: a key whose values cancel has no row).
 * @name names its operator (NULL: "sum").
 * Output: layout (key width of @c, 8): the key as in @c, the sum as
 * tide_i64_store wrote it (read with tide_i64_load); each (key, sum) holds
 * with diff +1 (a change is -1 on the old sum, +1 on the new).
 * Cost: at the root scope a batch costs its changed keys, not their
 * histories, unlike tide_reduce with a summing function, which reads every
 * value a key ever had at each change. Each value is folded into its diff
 * (a record (k, v) with multiplicity d counts as v * d copies of k, the
 * way differential sums with count), so each key is one record of a count.
 * Errors: a value that is not 8 bytes (TIDE_EINVAL), value x multiplicity
 * or a sum leaving int64 (TIDE_ERANGE, naming the key and time): the run
 * fails with the operator's name.
 */
tide_stream *tide_sum(tide_stream *c, const char *name);

/*
 * tide_count - per key of @c, the sum of the multiplicities of all its
 * records, for the keys where that sum is not 0. @c's values are ignored
 * (records differing only in value count for the same key).
 * Output: layout (key width of @c, 8); key: as in @c; value: the count, an
 * int64 stored with tide_i64_store, whose encoding flips the sign bit so
 * that byte order is numeric order. Read it with tide_count_load (or
 * tide_i64_load), NOT tide_u64_load (which gives 2^63 + count). Each
 * (key, count) has diff +1 while it holds (a change of count is -1 on the
 * old value, +1 on the new).
 */
tide_stream *tide_count(tide_stream *c);

/* tide_count_load - the count in a tide_count output value @val (8 bytes). */
static inline int64_t tide_count_load(const uint8_t *val)
{
    return tide_i64_load(val);
}

/* Each (key, val) once (diff +1) while its multiplicity is positive.
 * Output: same layout and bytes as @c. */
tide_stream *tide_distinct(tide_stream *c);
/* Each (key, val) with multiplicity fn(multiplicity) (dropped when 0).
 * Output: same layout and bytes as @c, the diff being fn's result. @fn
 * runs on every worker thread at once. */
typedef int64_t (*tide_threshold_fn)(void *ctx, int64_t m);
tide_stream *tide_threshold(tide_stream *c, tide_threshold_fn fn, void *ctx);
/* Per key, the least / greatest value (memcmp order of the value bytes,
 * i.e. numeric order for tide/record.h encodings) among those with a
 * positive multiplicity. Output: same layout and bytes as @c, diff +1: one
 * (key, value) per key. */
tide_stream *tide_min(tide_stream *c);
tide_stream *tide_max(tide_stream *c);
/* Per key, the @k least values (record order) with positive multiplicity.
 * Output: same layout and bytes as @c, each value with its multiplicity as
 * the diff. */
tide_stream *tide_top_k(tide_stream *c, uint32_t k);

/* ---- iterate ------------------------------------------------------------------------------ */

/* A recursively defined collection inside a loop scope. */
typedef struct tide_variable tide_variable;

/* A variable in loop scope @inner (a child scope) starting from @initial
 * (a collection of @inner, usually tide_enter'ed); its stream is its
 * contents at each iteration: initial at iteration 0, next(i) at i + 1.
 * Several variables may share one loop scope (mutual recursion). Output:
 * same layout as @initial. */
tide_variable *tide_variable_new(tide_scope *inner, tide_stream *initial);
tide_stream *tide_variable_stream(tide_variable *v);
/* Define the variable's next iteration as @next (exactly once; same scope
 * and layout). The changes fed back (next - initial, one iteration later)
 * are consolidated, so a loop stops once next(i) stops changing, whatever
 * the body. TIDE_EINVAL / TIDE_ESTATE on misuse. */
int tide_variable_set(tide_variable *v, tide_stream *next);

/* Builds the loop body: given the loop scope and the variable's stream,
 * return the next iteration. */
typedef tide_stream *(*tide_iterate_fn)(void *ctx, tide_scope *inner, tide_stream *x);

/* Iterate @fn from @c to a fixed point, per outer time; returns the fixed
 * point, left back in @c's scope and consolidated per outer time (the
 * changes of every iteration sum up at the outer time). @fn is called once
 * per worker, while building; @ctx is only read then. Output: the layout
 * @fn's result has (usually @c's), read as the body produced it. */
tide_stream *tide_iterate(tide_stream *c, tide_iterate_fn fn, void *ctx);

#endif /* TIDE_COLLECTION_H */
