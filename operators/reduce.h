/*
 * reduce.h - internals of the reduce family (reduce.c, count.c,
 * threshold.c, topk.c, and their total-order paths total.c, extremum.c).
 *
 * The reduce core reads an arrangement as announcements (0-record UPDATES
 * batches whose ext is a sealed tide_trace_batch, see arrange.h) plus the
 * shared input trace, and maintains its output as a trace of its own that
 * it announces the same way. It never relies on the announcements' uppers:
 * the input frontier alone tells which times are complete, because an
 * update at time t is announced at a time <= t, so the frontier cannot pass
 * t before its announcement has been consumed.
 */
#ifndef TIDE_REDUCE_H
#define TIDE_REDUCE_H

#include "tide/alloc.h"
#include "tide/collection.h"

/*
 * tide__reduce_build - add a reduce operator to the scope of @ann.
 * @ann: announcements of the input arrangement (PIPELINE).
 * @in_trace: the input trace (borrowed; the operator keeps a reader, which
 *            holds a reference).
 * @trace_depth: depth of the scope whose times @in_trace holds (reader
 *            frontiers are projected to it); the scope depth of @ann when
 *            the arrangement was not entered.
 * @in_layout: the arranged updates' layout (its key is the group key).
 * @val_width: width of the output values (or TIDE_VAR).
 * @fn, @ctx: the reduction (@ctx borrowed, must outlive the dataflow).
 * @out: gets the output announcements (borrowed, live with the dataflow).
 * @out_trace: gets the output trace (borrowed: the operator holds the owner
 *            reference for the dataflow's lifetime; take a reference to keep
 *            it longer).
 * @return TIDE_OK or a negative code (detail on the worker).
 */
int tide__reduce_build(tide_stream *ann, tide_trace *in_trace, uint32_t trace_depth,
                       tide_layout in_layout, const char *name, uint32_t val_width,
                       tide_reduce_fn fn, void *ctx, tide_stream **out, tide_trace **out_trace);

/*
 * tide__reduce_emit - seal consolidated updates @upd (taken; sorted by key,
 * val, time, all times not beyond @upper) into @trace as one or more trace
 * batches covering [upper of @trace, @upper), and announce each on output
 * @port of @op at the held capability it lies beyond.
 * @caps: @op's held capabilities (borrowed). Each update's time must be >=
 * one of them. A capability set of several incomparable times needs several
 * batches: batch i holds the updates whose last capability (in @caps'
 * order) below them is caps[i]; its upper is the antichain of @upper and the
 * capabilities after i, so consecutive batches are contiguous.
 * @return TIDE_OK, TIDE_ENOMEM, TIDE_ESTATE (an update below every
 *         capability: a bug), with the detail on the worker.
 */
int tide__reduce_emit(tide_op *op, uint32_t port, tide_trace *trace, const tide_antichain *caps,
                      const tide_antichain *upper, tide_batch *upd);

/*
 * tide__grow - make room for @need elements of @elem bytes in the array
 * *@pp of capacity *@cap (doubling, from 16). TIDE_OK or TIDE_ENOMEM (the
 * array untouched).
 */
static inline int tide__grow(void *pp, uint32_t *cap, size_t elem, size_t need)
{
    if (need <= *cap) return TIDE_OK;
    if (need > UINT32_MAX) return TIDE_ENOMEM;
    size_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    if (n > UINT32_MAX) n = UINT32_MAX;
    void *q = tide_realloc(*(void **)pp, n * elem);
    if (q == NULL) return TIDE_ENOMEM;
    *(void **)pp = q;
    *cap = (uint32_t)n;
    return TIDE_OK;
}

/*
 * The operator skeleton of the reductions for totally ordered times (a root
 * scope; total.c): it reads arrangement @in's announcements and, for each
 * non-empty batch, calls @batch in the same activation to emit that batch's
 * output changes at the announcement's time @cap (so it holds no
 * capability and keeps no output trace). @batch may read the trace before
 * the batch (cut at tb->lower) through @reader. The skeleton keeps the
 * reader's frontiers: logical at the input frontier, physical at the upper
 * of the last batch processed. A reduction embeds this struct as its
 * state's first member.
 */
typedef struct tide__total tide__total;
/* Emit the output changes of batch @tb (nupds > 0). TIDE_OK, or a negative
 * code after tide_op_fail. */
typedef int (*tide__total_batch_fn)(tide_op *op, tide__total *t, tide_time cap,
                                    const tide_trace_batch *tb);
struct tide__total {
    tide_arranged *in;         /* the arrangement read */
    tide_trace_reader *reader; /* NULL once the input is complete */
    tide_antichain ack;        /* upper of the last processed batch */
    tide_antichain proj;       /* scratch: the projected input frontier */
    tide__total_batch_fn batch;
    void (*fini)(tide__total *t); /* free what the embedding state owns */
};

/*
 * tide__total_op - add the operator for state @t (allocated with tide_alloc,
 * zeroed but for the embedding state's own fields; taken: freed with the
 * dataflow or on error, after @fini; NULL reports out of memory) on
 * arrangement @a, whose output updates have layout @out.
 * NULL on error (worker error set).
 */
tide_stream *tide__total_op(tide_arranged *a, const char *name, tide_layout out, tide__total *t,
                            tide__total_batch_fn batch, void (*fini)(tide__total *t));

/*
 * tide__total_build - count (@count true) or threshold (@fn; NULL: distinct)
 * of arrangement @a for totally ordered times (a root scope), without an
 * output trace (total.c). Output: (key, i64 count) or (key, empty) with the
 * output multiplicity, a plain collection. NULL on error (worker error set).
 */
tide_stream *tide__total_build(tide_arranged *a, const char *name, bool count, tide_threshold_fn fn,
                               void *ctx);

/*
 * tide__extremum_build - per key of arrangement @a (a root scope), the @k
 * least values (@descending: greatest) among those with a positive
 * accumulated multiplicity, each output with its own multiplicity (@mult)
 * or with 1 (extremum.c). min is (false, 1, false), max (true, 1, false),
 * top_k (false, k, true): the semantics of tide__min_fn, tide__max_fn and
 * tide__top_k_fn, without reading every value of a changed key. Output:
 * (key, val), a plain collection. NULL on error (worker error set).
 */
tide_stream *tide__extremum_build(tide_arranged *a, const char *name, bool descending, uint32_t k,
                                  bool mult);

/* A stand-alone reduction output, so that oracles can call a tide_reduce_fn
 * the way the operator does: _new (NULL on ENOMEM), _clear, _len, _get
 * (borrowed value, valid until the next push or clear), _rc (first push
 * error since the last clear), _free (NULL is fine). */
tide_reduce_out *tide__reduce_out_new(uint32_t val_width);
void tide__reduce_out_free(tide_reduce_out *o);
void tide__reduce_out_clear(tide_reduce_out *o);
uint32_t tide__reduce_out_len(const tide_reduce_out *o);
const uint8_t *tide__reduce_out_get(const tide_reduce_out *o, uint32_t i, uint32_t *len,
                                    int64_t *diff);
int tide__reduce_out_rc(const tide_reduce_out *o);
/* tide__reduce_out_fail - record error @code (e.g. TIDE_ERANGE: a sum of
 * multiplicities left int64) as the output's first error; the reduce
 * operator then fails naming the key and time. */
void tide__reduce_out_fail(tide_reduce_out *o, int code);

/* tide__count_arranged - count over the keys of @a (empty values: one
 * record per key), its operators named @name: count_total at the root
 * scope, else reduce with tide__count_fn. NULL @a: NULL. For tide_count
 * and tide_sum (which arranges its own value-weighted keys). */
tide_stream *tide__count_arranged(tide_arranged *a, const char *name);

/* The reductions behind count, distinct, threshold, min, max and top_k,
 * for tests that drive the core directly. */
void tide__count_fn(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in,
                    uint32_t n, tide_reduce_out *out);
void tide__min_fn(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in, uint32_t n,
                  tide_reduce_out *out);
void tide__max_fn(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in, uint32_t n,
                  tide_reduce_out *out);
/* @ctx points to a uint32_t k. */
void tide__top_k_fn(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in,
                    uint32_t n, tide_reduce_out *out);

#endif /* TIDE_REDUCE_H */
