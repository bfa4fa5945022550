/*
 * trace_int.h - internals shared by the files of operators/trace: the trie builder,
 * time advancement, and the spine's fields (which cursors read).
 *
 * The builder fills a tide_trace_batch whose arrays were sized up front for
 * the worst case, so every push is infallible and an allocation failure can
 * only happen in tide__builder_init (nothing to undo) - the property that
 * keeps seal, merge and insert all-or-nothing under TIDE_ENOMEM.
 */
#ifndef TIDE_TRACE_INT_H
#define TIDE_TRACE_INT_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tide/record.h"
#include "tide/trace.h"

/* ------------------------------------------------------------------------ */
/* Time advancement                                                         */
/* ------------------------------------------------------------------------ */

/*
 * tide__advance_by - advance @t by frontier @f: the meet over f in F of
 * join(t, f), the least time that is beyond F and behaves like t at every
 * time beyond F. The empty frontier leaves @t unchanged.
 */
static inline tide_time tide__advance_by(tide_time t, const tide_antichain *f)
{
    if (f->len == 0) return t;
    tide_time r = tide_time_join(t, f->elems[0]);
    for (uint32_t i = 1; i < f->len; i++) r = tide_time_meet(r, tide_time_join(t, f->elems[i]));
    return r;
}

/* tide__frontier_is_zero - @f is {TIDE_TIME_ZERO}: advancing is the identity. */
static inline bool tide__frontier_is_zero(const tide_antichain *f)
{
    return f->len == 1 && tide_time_eq(f->elems[0], TIDE_TIME_ZERO);
}

/* tide__frontier_le - frontier @a <= frontier @b: every element of @b is
 * beyond @a (the empty frontier is the greatest). */
bool tide__frontier_le(const tide_antichain *a, const tide_antichain *b);

/* tide__frontier_zero - set @a to {TIDE_TIME_ZERO}. TIDE_OK / TIDE_ENOMEM. */
int tide__frontier_zero(tide_antichain *a);

/* tide__upds_consolidate - sort @n updates by time, sum equal times, drop
 * zeros; returns the new count. Sums are exact (diff.h): *@ovf is set when
 * a time's total leaves int64 (its diff is then wrong), else untouched. */
uint32_t tide__upds_consolidate(tide_time_delta *u, uint32_t n, bool *ovf);

/* ------------------------------------------------------------------------ */
/* Searching a batch                                                        */
/* ------------------------------------------------------------------------ */

static inline int tide__col_cmp(const tide_trace_col *c, uint32_t i, const uint8_t *p, uint32_t len)
{
    uint32_t l;
    const uint8_t *q = tide_trace_col_get(c, i, &l);
    return tide_bytes_cmp(q, l, p, len);
}

/*
 * tide__key_vals, tide__val_upds - key_vals[k] and val_upds[v], without the
 * load (a cache miss in a large batch) when the level is the identity: no
 * key is without vals and no val without updates, so as many vals as keys
 * means one val per key, and likewise for updates. Common for traces
 * without history (a first batch, one value per key).
 */
static inline uint32_t tide__key_vals(const tide_trace_batch *b, uint32_t k)
{
    return b->nvals == b->nkeys ? k : b->key_vals[k];
}

static inline uint32_t tide__val_upds(const tide_trace_batch *b, uint32_t v)
{
    return b->nupds == b->nvals ? v : b->val_upds[v];
}

/* Batches of at least TIDE__FENCE_MIN keys get a fence every
 * TIDE__FENCE_STRIDE keys (1/32 of an 8-byte key column: cheap, and small
 * enough to stay in L2 while a round seeks through a million keys). */
#define TIDE__FENCE_STRIDE 32u
#define TIDE__FENCE_MIN    4096u

/* tide__fence_build - give @b its fence index if it is large enough. An
 * allocation failure only leaves it without one (searches still work). */
void tide__fence_build(tide_trace_batch *b);

/*
 * tide__fence_skip - a start for a seek of (@p, @len) from @lo that is still
 * <= the answer: the last fence whose prefix is below p's, when beyond @lo.
 * Every key up to that fence is < p, so the seek may start there.
 */
static inline uint32_t tide__fence_skip(const tide_trace_batch *b, uint32_t lo, const uint8_t *p,
                                        uint32_t len)
{
    uint64_t pre = tide_bytes_prefix(p, len);
    uint32_t l = lo / TIDE__FENCE_STRIDE + 1, h = b->nfence; /* first fence >= pre in [l, h) */
    /* Gallop over the fences too: a near target (dense reads) costs a probe
     * or two, not a search of the whole index. */
    if (l < h && b->fence[l] < pre) {
        uint32_t step = 1;
        while (l + step < h && b->fence[l + step] < pre) {
            l += step;
            step <<= 1;
        }
        h = l + step < h ? l + step : h; /* fence[l] < pre <= fence[h] (or h == end) */
        l++;
    } else {
        h = l;
    }
    while (l < h) {
        uint32_t mid = l + (h - l) / 2;
        if (b->fence[mid] < pre)
            l = mid + 1;
        else
            h = mid;
    }
    uint32_t s = (l - 1) * TIDE__FENCE_STRIDE; /* fence l - 1 is < p, or is lo's own */
    return s > lo ? s : lo;
}

/*
 * tide__col_gallop - the first index in [@lo, @hi) of column @c whose
 * record is >= (@p, @len), or @hi: an exponential probe from @lo, then a
 * binary search, so O(log d) comparisons for a distance d.
 */
static inline uint32_t tide__col_gallop(const tide_trace_col *c, uint32_t lo, uint32_t hi,
                                        const uint8_t *p, uint32_t len)
{
    if (lo >= hi || tide__col_cmp(c, lo, p, len) >= 0) return lo;
    uint32_t step = 1;
    while (lo + step < hi && tide__col_cmp(c, lo + step, p, len) < 0) {
        lo += step;
        step <<= 1;
    }
    uint32_t h = lo + step < hi ? lo + step : hi; /* c[lo] < p <= c[h] (or h == hi) */
    lo++;
    while (lo < h) {
        uint32_t mid = lo + (h - lo) / 2;
        if (tide__col_cmp(c, mid, p, len) < 0)
            lo = mid + 1;
        else
            h = mid;
    }
    return lo;
}

/*
 * tide__batch_seek_key - the first key index in [@lo, b->nkeys) whose key
 * is >= (@p, @len): a gallop from @lo, after a skip by the fence index when
 * the batch has one. For readers that visit keys in increasing order and
 * keep one position per batch (reduce, join, cursors).
 */
static inline uint32_t tide__batch_seek_key(const tide_trace_batch *b, uint32_t lo,
                                            const uint8_t *p, uint32_t len)
{
    if (b->fence && lo < b->nkeys && b->nkeys - lo > 2 * TIDE__FENCE_STRIDE)
        lo = tide__fence_skip(b, lo, p, len);
    return tide__col_gallop(&b->keys, lo, b->nkeys, p, len);
}

/* ------------------------------------------------------------------------ */
/* Trie builder                                                             */
/* ------------------------------------------------------------------------ */

/*
 * Usage: init with upper bounds; then for each key in order: key(), then for
 * each val in order: val(), upd()..., end_val(); end_key(). A val whose
 * updates consolidate to nothing is dropped, and so is a key left without
 * vals. push() does the same for a flat sorted stream of updates.
 */
typedef struct tide__builder {
    tide_trace_batch *b; /* being filled; NULL after finish/abort */
    bool key_open;       /* a key has been written at index b->nkeys */
    bool val_open;       /* a val has been written at index b->nvals */
    uint32_t kheap_cap;  /* variable keys: heap capacity (asserts) */
    uint32_t vheap_cap;  /* variable vals: heap capacity (asserts) */
    bool overflow;       /* a consolidation's total left int64: abort, TIDE_ERANGE */
} tide__builder;

/*
 * tide__builder_init - allocate a batch able to hold @nkeys keys, @nvals
 * vals, @nupds updates, @kheap / @vheap bytes of variable keys / vals, with
 * description [@lower, @upper) since @since (NULL: {ZERO}).
 * @return TIDE_OK or TIDE_ENOMEM (nothing left allocated).
 */
int tide__builder_init(tide__builder *bl, tide_layout layout, uint32_t nkeys, uint32_t nvals,
                       uint32_t nupds, uint64_t kheap, uint64_t vheap, const tide_antichain *lower,
                       const tide_antichain *upper, const tide_antichain *since);

void tide__builder_key(tide__builder *bl, const uint8_t *key, uint32_t klen);
void tide__builder_val(tide__builder *bl, const uint8_t *val, uint32_t vlen);
static inline void tide__builder_upd(tide__builder *bl, tide_time t, int64_t d)
{
    tide_trace_batch *b = bl->b;
    b->upds[b->nupds].time = t;
    b->upds[b->nupds].delta = d;
    b->nupds++;
}
/* Record @i of a fixed-width column: a constant-size copy for 8 bytes. */
static inline void tide__col_put_fixed(tide_trace_col *c, uint32_t i, const uint8_t *p)
{
    if (c->width == 8)
        memcpy(c->bytes + (size_t)i * 8, p, 8);
    else if (c->width)
        memcpy(c->bytes + (size_t)i * c->width, p, c->width);
}

/*
 * tide__builder_fixed_key / tide__builder_fixed_val - for fixed-width
 * columns and a caller that already knows where keys and vals change (a
 * sorted stream of distinct triples, every val given at least one upd()):
 * open key @key with its first val @val, closing the open val and key; or
 * open val @val under the open key, closing the open val. Inline, and with
 * nothing to compare or to drop.
 */
static inline void tide__builder_fixed_key(tide__builder *bl, const uint8_t *key,
                                           const uint8_t *val)
{
    tide_trace_batch *b = bl->b;
    if (bl->key_open) {
        assert(bl->val_open && b->nupds > b->val_upds[b->nvals]);
        b->val_upds[++b->nvals] = b->nupds;
        b->key_vals[++b->nkeys] = b->nvals;
    }
    tide__col_put_fixed(&b->keys, b->nkeys, key);
    tide__col_put_fixed(&b->vals, b->nvals, val);
    bl->key_open = bl->val_open = true;
}

static inline void tide__builder_fixed_val(tide__builder *bl, const uint8_t *val)
{
    tide_trace_batch *b = bl->b;
    assert(bl->key_open && bl->val_open && b->nupds > b->val_upds[b->nvals]);
    b->val_upds[++b->nvals] = b->nupds;
    tide__col_put_fixed(&b->vals, b->nvals, val);
}

/* Close the open val. @consolidate: its updates may be unsorted, repeated or
 * zero (after advancing times) and must be consolidated first. */
void tide__builder_end_val(tide__builder *bl, bool consolidate);
void tide__builder_end_key(tide__builder *bl);

/* tide__builder_push - append one update of a stream sorted by (key, val,
 * time) with distinct triples; opens and closes keys and vals as needed. */
void tide__builder_push(tide__builder *bl, const uint8_t *key, uint32_t klen, const uint8_t *val,
                        uint32_t vlen, tide_time t, int64_t d);

/* tide__builder_finish - close what is open, trim slack, return the batch
 * (one reference). Infallible. */
tide_trace_batch *tide__builder_finish(tide__builder *bl);

/* tide__builder_abort - free the partial batch. */
void tide__builder_abort(tide__builder *bl);

/* tide__key_heap / tide__val_heap - bytes of variable keys / vals in @b (0
 * when fixed). */
uint64_t tide__key_heap(const tide_trace_batch *b);
uint64_t tide__val_heap(const tide_trace_batch *b);

/*
 * tide__batch_merge - merge adjacent batches @a then @b (a->upper == b->lower)
 * into a new batch [a->lower, b->upper) whose times are advanced by @since.
 * @return TIDE_OK, TIDE_ENOMEM, or TIDE_ERANGE (the diffs of some (key,
 *         val, time) sum past int64, with @since applied; nothing is built).
 */
int tide__batch_merge(const tide_trace_batch *a, const tide_trace_batch *b,
                      const tide_antichain *since, tide_trace_batch **out);

/* ------------------------------------------------------------------------ */
/* Spine fields                                                             */
/* ------------------------------------------------------------------------ */

struct tide_spine {
    tide_layout layout;
    tide_trace_batch **batches; /* len batches, oldest first, contiguous */
    uint32_t len, cap;
    tide_antichain lower;    /* lower of batches[0] ({ZERO}) */
    tide_antichain upper;    /* upper of the newest batch, or lower when none */
    tide_antichain logical;  /* since: merges advance times by it */
    tide_antichain physical; /* batches with upper not <= it never merge */
    uint64_t nupds;          /* sum of batch sizes */
};

/* tide__cursor_new - a cursor over @n batches (takes a reference on each). */
int tide__cursor_new(tide_trace_batch *const *batches, uint32_t n, tide_cursor **out);

#endif /* TIDE_TRACE_INT_H */
