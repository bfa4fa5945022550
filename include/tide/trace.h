/*
 * tide/trace.h - traces: the indexed, compacted storage of differential dataflow.
 *
 * A trace holds a collection's history as (key, val, time, diff) updates,
 * indexed by key then val, so that join, reduce and friends can find every
 * update of a key in O(log n) and read its accumulation at any time.
 *
 *   tide_batch (UPDATES) --push--> tide_batcher --seal(upper)--> tide_trace_batch
 *                                                                      |
 *                                     tide_spine <--------insert-------+
 *                                     (merges batches, compacts times)
 *                                         |
 *                 tide_trace  = spine + readers, each reader holding back
 *                 compaction to its own frontiers; tide_cursor reads a
 *                 snapshot of the spine (or one batch) in key/val order.
 *
 * Depends on tide/time.h (times, antichains) and tide/batch.h (layouts and
 * UPDATES batches). Thread-safety: every object here belongs to one worker;
 * nothing is locked. Trace batches are immutable once built and refcounted
 * (non-atomically), so several spines, cursors and readers of one worker may
 * share them.
 *
 * Ownership words used below: *borrowed* (the callee keeps nothing, or the
 * returned pointer is valid until the next mutating call on that object),
 * *takes a reference* (the callee adds its own reference; the caller keeps
 * its own), *new reference* (the caller owns the result and must unref/free).
 */
#ifndef TIDE_TRACE_H
#define TIDE_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/batch.h"
#include "tide/time.h"

/* ======================================================================== */
/* Trace batches                                                            */
/* ======================================================================== */

/*
 * A column of a trace batch: @n distinct records, fixed-width (a dense array
 * of n * width bytes, no offsets) or variable (n + 1 u32 offsets into bytes).
 */
typedef struct tide_trace_col {
    uint8_t *bytes; /* fixed: n * width bytes; variable: the heap */
    uint32_t *offs; /* variable only: n + 1 offsets into bytes; NULL when fixed */
    uint32_t width; /* bytes per record, or TIDE_VAR */
} tide_trace_col;

/*
 * A trace batch: an immutable, sorted, consolidated set of updates with a
 * description. It is a three-level trie (as differential's ord_neu):
 *
 *   keys      k0          k1                      nkeys distinct, sorted
 *   key_vals  0           2                  3    nkeys + 1: vals of key i
 *   vals      v0    v1    v0'                     nvals, sorted within a key
 *   val_upds  0     1     3     4                 nvals + 1: updates of val j
 *   upds      (t,d) (t,d)(t,d) (t,d)              nupds, sorted by tide_time_cmp
 *                                                 within a val, distinct, d != 0
 *
 * Description: every update time t satisfies lower <= t (t beyond @lower) and
 * t not beyond @upper, *before* times were advanced by @since; after
 * advancing, a time may lie anywhere beyond @since. lower == upper (as
 * frontiers) is a legal empty range; an empty batch with lower < upper is the
 * common way to advance a trace's upper.
 *
 * All fields are read-only for users. Use the accessors below.
 */
typedef struct tide_trace_batch {
    uint32_t refs;                /* non-atomic refcount (one worker) */
    tide_layout layout;           /* key and val widths */
    tide_antichain lower, upper;  /* the time range the updates came from */
    tide_antichain since;         /* times have been advanced by this frontier */
    uint32_t nkeys, nvals, nupds; /* sizes of the three levels */
    tide_trace_col keys;          /* nkeys distinct keys, sorted by tide_bytes_cmp */
    uint32_t *key_vals;           /* nkeys + 1: vals of key i are [key_vals[i], [i+1]) */
    tide_trace_col vals;          /* nvals vals, sorted within each key */
    uint32_t *val_upds;           /* nvals + 1: updates of val j are [val_upds[j], [j+1]) */
    tide_time_delta *upds;        /* nupds (time, diff), sorted by time within a val */
    /* Optional search index of a large batch (NULL when small, or when its
     * allocation failed): fence[j] = tide_bytes_prefix(key j * stride). A
     * seek binary-searches these few cache-resident words before touching
     * the keys, so a far seek costs ~2 misses, not ~2 log(distance). */
    uint64_t *fence;
    uint32_t nfence;
} tide_trace_batch;

/* tide_trace_col_get - record @i of column @c (borrowed bytes; *len gets its size). */
static inline const uint8_t *tide_trace_col_get(const tide_trace_col *c, uint32_t i, uint32_t *len)
{
    if (c->width != TIDE_VAR) {
        *len = c->width;
        return c->bytes + (size_t)i * c->width;
    }
    *len = c->offs[i + 1] - c->offs[i];
    return c->bytes + c->offs[i];
}

/*
 * tide_trace_batch_from_updates - build a trace batch from a consolidated
 * UPDATES batch in one pass.
 * @src: borrowed; sorted by (key, val, time) with distinct triples and
 *       non-zero diffs, as tide_batch_consolidate leaves it. Unsorted input
 *       is a caller bug (checked by assert only).
 * @lower, @upper, @since: borrowed; copied into the description. @since may
 *       be NULL for {TIDE_TIME_ZERO} (no advancement).
 * @out: receives a new reference.
 * @return TIDE_OK, TIDE_EINVAL (@src is not an UPDATES batch), TIDE_ENOMEM
 *         (nothing allocated remains).
 */
int tide_trace_batch_from_updates(const tide_batch *src, const tide_antichain *lower,
                                  const tide_antichain *upper, const tide_antichain *since,
                                  tide_trace_batch **out);

/*
 * tide_trace_batch_empty - an empty batch of @layout with description
 * [@lower, @upper), since @since (NULL: {TIDE_TIME_ZERO}).
 * @out: receives a new reference. @return TIDE_OK or TIDE_ENOMEM.
 */
int tide_trace_batch_empty(tide_layout layout, const tide_antichain *lower,
                           const tide_antichain *upper, const tide_antichain *since,
                           tide_trace_batch **out);

/* tide_trace_batch_ref - take another reference; returns @b. */
tide_trace_batch *tide_trace_batch_ref(tide_trace_batch *b);

/* tide_trace_batch_unref - drop a reference; the last one frees. NULL is fine. */
void tide_trace_batch_unref(tide_trace_batch *b);

/* Number of (time, diff) updates in @b. */
static inline uint32_t tide_trace_batch_len(const tide_trace_batch *b)
{
    return b->nupds;
}

/* Key @i / val @j of @b (borrowed, valid while @b lives). */
static inline const uint8_t *tide_trace_batch_key(const tide_trace_batch *b, uint32_t i,
                                                  uint32_t *len)
{
    return tide_trace_col_get(&b->keys, i, len);
}
static inline const uint8_t *tide_trace_batch_val(const tide_trace_batch *b, uint32_t j,
                                                  uint32_t *len)
{
    return tide_trace_col_get(&b->vals, j, len);
}

/* ======================================================================== */
/* Batcher                                                                  */
/* ======================================================================== */

/*
 * A batcher collects updates not yet in a trace and cuts them into trace
 * batches by frontier. push() takes a reference and reads the batch once
 * (noting which bits of its updates vary, for seal's radix sort); seal()
 * sorts everything pushed since the last seal once, merges it with the
 * kept-back remainder (kept sorted and consolidated, as a trie), and splits
 * the result into the new trace batch and the new remainder.
 */
typedef struct tide_batcher tide_batcher;

/* tide_batcher_new - an empty batcher for @layout whose first batch will
 * have lower {TIDE_TIME_ZERO}. @return a new batcher or NULL (out of memory). */
tide_batcher *tide_batcher_new(tide_layout layout);

/* tide_batcher_free - release the batcher and every update it still holds.
 * NULL is fine. */
void tide_batcher_free(tide_batcher *b);

/*
 * tide_batcher_push - add the updates of @batch (not yet sorted or
 * consolidated; zero diffs are ignored).
 * @batch: takes a reference; the batch must not be mutated afterwards (it is
 *         shared from now on). Its layout must equal the batcher's.
 * @return TIDE_OK, TIDE_EINVAL (layout or flags mismatch), TIDE_ENOMEM
 *         (nothing changed).
 */
int tide_batcher_push(tide_batcher *b, tide_batch *batch);

/*
 * tide_batcher_seal - extract every held update whose time is not beyond
 * @upper into a new trace batch with description [previous upper, @upper),
 * since {TIDE_TIME_ZERO}; keep the rest.
 * @upper: borrowed; must be >= the previous upper (not checked beyond assert).
 * @out: receives a new reference (possibly an empty batch).
 * @return TIDE_OK, TIDE_ENOMEM or TIDE_ERANGE (the diffs of some (key, val,
 *         time) sum past int64); on error the batcher is unchanged: nothing
 *         sealed, nothing lost.
 * Cost: O(p log p + r) for p updates pushed since the last seal and r kept back;
 * O(p + r) for fixed layouts of <= 16 bytes whose varying bits fit 128.
 */
int tide_batcher_seal(tide_batcher *b, const tide_antichain *upper, tide_trace_batch **out);

/* tide_batcher_lower - the lower frontier of the next sealed batch (borrowed). */
const tide_antichain *tide_batcher_lower(const tide_batcher *b);

/* tide_batcher_len - updates held: kept back plus pushed (before consolidation). */
uint64_t tide_batcher_len(const tide_batcher *b);

/*
 * tide_batcher_frontier - the antichain of minimal times among held updates
 * (what an arrange operator must keep capabilities for) into @out.
 * @return TIDE_OK or TIDE_ENOMEM.
 */
int tide_batcher_frontier(const tide_batcher *b, tide_antichain *out);

/* ======================================================================== */
/* Spine                                                                    */
/* ======================================================================== */

/*
 * A spine is a trace: a list of trace batches, oldest first, contiguous in
 * time (each lower equals the previous upper), merged geometrically and
 * compacted logically while merging. See operators/trace/spine.c for the
 * design. Two frontiers steer it:
 *   logical (since): times are advanced by it when batches merge. The
 *      accumulation of every (key, val) at every time beyond it is preserved.
 *   physical: batches whose upper is not <= it are never merged, so that a
 *      cursor can still be cut at any frontier from it on. It starts at
 *      {TIDE_TIME_ZERO}: a spine merges nothing until it is advanced (set it
 *      to the empty antichain to allow every merge).
 */
typedef struct tide_spine tide_spine;

/* tide_spine_new - an empty spine for @layout, upper {TIDE_TIME_ZERO}.
 * @return a new spine or NULL (out of memory). */
tide_spine *tide_spine_new(tide_layout layout);

/* tide_spine_free - drop the spine's batch references. NULL is fine.
 * Cursors keep their own references and stay valid. */
void tide_spine_free(tide_spine *s);

/*
 * tide_spine_insert - append @batch, then merge as the policy allows.
 * @batch: takes a reference. Its lower must equal tide_spine_upper() and its
 *         layout the spine's.
 * @return TIDE_OK, TIDE_EINVAL (not contiguous / wrong layout), TIDE_ENOMEM,
 *         TIDE_ERANGE (a merge's diffs of some (key, val, time) sum past
 *         int64, times advanced by since): then the spine is unchanged (the
 *         batch is not inserted).
 */
int tide_spine_insert(tide_spine *s, tide_trace_batch *batch);

/*
 * tide_spine_set_logical - set the logical compaction frontier (since).
 * It should only advance; it takes effect at the next merges.
 * @frontier: borrowed, copied. @return TIDE_OK or TIDE_ENOMEM (unchanged).
 */
int tide_spine_set_logical(tide_spine *s, const tide_antichain *frontier);

/*
 * tide_spine_set_physical - set the physical compaction frontier. The merges
 * it newly allows happen at the next insert or merge_all.
 * @frontier: borrowed, copied. @return TIDE_OK or TIDE_ENOMEM (unchanged).
 */
int tide_spine_set_physical(tide_spine *s, const tide_antichain *frontier);

/*
 * tide_spine_merge_all - merge every batch the physical frontier allows into
 * one, compacting by since (tests, and quiescent shrinking).
 * @return TIDE_OK, TIDE_ENOMEM or TIDE_ERANGE (as insert; the spine is
 *         unchanged).
 */
int tide_spine_merge_all(tide_spine *s);

/* Frontiers (borrowed, valid until the next mutating call). */
const tide_antichain *tide_spine_upper(const tide_spine *s);
const tide_antichain *tide_spine_logical(const tide_spine *s);
const tide_antichain *tide_spine_physical(const tide_spine *s);

/* tide_spine_len - total (time, diff) updates over all batches. */
uint64_t tide_spine_len(const tide_spine *s);

/* tide_spine_batches - number of batches; tide_spine_batch - batch @i
 * (0 = oldest), borrowed. */
uint32_t tide_spine_batches(const tide_spine *s);
tide_trace_batch *tide_spine_batch(const tide_spine *s, uint32_t i);

tide_layout tide_spine_layout(const tide_spine *s);

/* ======================================================================== */
/* Cursors                                                                  */
/* ======================================================================== */

/*
 * A cursor reads a snapshot: it holds references to the batches it reads, so
 * later inserts and merges do not disturb it. It presents the union of its
 * batches as one sorted trie: keys in order, the vals of the current key in
 * order, and the (time, diff) updates of the current (key, val) from every
 * batch. Times are as stored (advanced by each batch's since); equal times
 * from different batches are not summed.
 *
 * Navigation is forward-only except for rewinds. Pointers returned by key()
 * and val() are borrowed: valid while the cursor lives.
 */
typedef struct tide_cursor tide_cursor;

/* Called once per update of the current (key, val). */
typedef void (*tide_time_fn)(void *ctx, tide_time t, int64_t diff);

/*
 * tide_spine_cursor - a cursor over every batch of @s.
 * @out: receives a new cursor (free with tide_cursor_free).
 * @return TIDE_OK or TIDE_ENOMEM.
 */
int tide_spine_cursor(tide_spine *s, tide_cursor **out);

/*
 * tide_spine_cursor_through - a cursor over exactly the batches whose upper
 * is <= @upper (the updates at times not beyond @upper, if the spine has
 * been cut there).
 * @return TIDE_OK, TIDE_EINVAL (no batch boundary equals @upper, and @upper is
 *         not the spine's lower: the cut was merged away or lies ahead of the
 *         spine), TIDE_ENOMEM.
 */
int tide_spine_cursor_through(tide_spine *s, const tide_antichain *upper, tide_cursor **out);

/*
 * tide_trace_batch_cursor - a cursor over the single batch @b (it takes a
 * reference). @return TIDE_OK or TIDE_ENOMEM.
 */
int tide_trace_batch_cursor(tide_trace_batch *b, tide_cursor **out);

/* tide_cursor_free - drop the cursor and its batch references. NULL is fine. */
void tide_cursor_free(tide_cursor *c);

/* Keys. seek_key moves forward to the first key >= @key (galloping search
 * in every batch); it never moves backwards. rewind_keys restarts. */
bool tide_cursor_key_valid(const tide_cursor *c);
const uint8_t *tide_cursor_key(const tide_cursor *c, uint32_t *len);
void tide_cursor_step_key(tide_cursor *c);
void tide_cursor_seek_key(tide_cursor *c, const void *key, uint32_t len);
void tide_cursor_rewind_keys(tide_cursor *c);

/* Vals of the current key (invalid when the key is). seek_val moves forward
 * to the first val >= @val; rewind_vals restarts the current key's vals. */
bool tide_cursor_val_valid(const tide_cursor *c);
const uint8_t *tide_cursor_val(const tide_cursor *c, uint32_t *len);
void tide_cursor_step_val(tide_cursor *c);
void tide_cursor_seek_val(tide_cursor *c, const void *val, uint32_t len);
void tide_cursor_rewind_vals(tide_cursor *c);

/* tide_cursor_map_times - call @fn for every (time, diff) of the current
 * (key, val), batch by batch (oldest first), each batch's in time order. */
void tide_cursor_map_times(const tide_cursor *c, tide_time_fn fn, void *ctx);

/* ======================================================================== */
/* Shared traces and their readers                                          */
/* ======================================================================== */

/*
 * A tide_trace is a spine shared, without copying, by an owner (the arrange
 * operator, which inserts) and any number of readers (join, reduce, ...).
 * Each reader has a logical frontier (the times it still needs to tell
 * apart) and a physical frontier (through which it may still ask for a
 * cursor). The spine compacts only to the meet of the live readers'
 * frontiers: the antichain that is <= every reader's. A new reader starts at
 * the trace's current frontiers. Readers must advance both frontiers as they
 * go, or the trace never compacts or merges. When the last reader goes, the
 * trace reports it (tide_trace_readers() == 0) and its frontiers become the
 * empty antichain (no holds).
 *
 * The trace is refcounted: the owner's handle and each reader hold one
 * reference, so the trace lives while any of them does.
 */
typedef struct tide_trace tide_trace;
typedef struct tide_trace_reader tide_trace_reader;

/* tide_trace_new - an empty trace for @layout, with one reference (the
 * owner's) and no readers. @return the trace or NULL (out of memory). */
tide_trace *tide_trace_new(tide_layout layout);

/* tide_trace_ref / _unref - references; the last unref frees. NULL is fine. */
tide_trace *tide_trace_ref(tide_trace *t);
void tide_trace_unref(tide_trace *t);

/* tide_trace_spine - the shared spine (borrowed, lives as long as @t). Use
 * it to read sizes and frontiers; insert through tide_trace_insert. */
tide_spine *tide_trace_spine(tide_trace *t);

/* tide_trace_insert - tide_spine_insert on the shared spine (same codes). */
int tide_trace_insert(tide_trace *t, tide_trace_batch *batch);

/* tide_trace_readers - how many readers are live. */
uint32_t tide_trace_readers(const tide_trace *t);

/*
 * tide_trace_reader_new - a new reader of @t at the trace's current logical
 * and physical frontiers, or at its upper where a frontier is empty because
 * no reader held @t (the last one was freed): a reader must be able to cut
 * at the uppers of batches still to come. It takes a reference on @t.
 * @out: receives the reader (free with tide_trace_reader_free).
 * @return TIDE_OK or TIDE_ENOMEM.
 */
int tide_trace_reader_new(tide_trace *t, tide_trace_reader **out);

/* tide_trace_reader_free - release the reader's holds (the spine may then
 * compact further) and its trace reference. NULL is fine. */
void tide_trace_reader_free(tide_trace_reader *r);

/*
 * tide_trace_reader_set_logical / _set_physical - advance this reader's
 * frontier to @frontier (borrowed, copied) and recompute the trace's.
 * @return TIDE_OK, TIDE_EINVAL (@frontier is not >= the reader's current
 *         one), TIDE_ENOMEM (the reader's frontier is unchanged).
 */
int tide_trace_reader_set_logical(tide_trace_reader *r, const tide_antichain *frontier);
int tide_trace_reader_set_physical(tide_trace_reader *r, const tide_antichain *frontier);

/* The reader's frontiers and trace (borrowed). */
const tide_antichain *tide_trace_reader_logical(const tide_trace_reader *r);
const tide_antichain *tide_trace_reader_physical(const tide_trace_reader *r);
tide_trace *tide_trace_reader_trace(const tide_trace_reader *r);

/* tide_trace_reader_cursor / _cursor_through - tide_spine_cursor(_through)
 * on the reader's trace; same ownership and codes. */
int tide_trace_reader_cursor(tide_trace_reader *r, tide_cursor **out);
int tide_trace_reader_cursor_through(tide_trace_reader *r, const tide_antichain *upper,
                                     tide_cursor **out);

#endif /* TIDE_TRACE_H */
