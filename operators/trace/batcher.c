/*
 * batcher.c - cuts a stream of unsorted update batches into trace batches by
 * frontier.
 *
 * push() only takes a reference to the caller's batch. seal(upper) builds one
 * 64-byte entry per pushed update (8-byte key and val prefixes, so fixed
 * keys of <= 8 bytes sort without touching their bytes), sorts the entries
 * once, consolidates them, then walks them in a two-way merge with the
 * kept-back remainder, which is itself a sorted trie (a tide_trace_batch).
 * Each merged update goes to the sealed batch (time not beyond upper) or to
 * the new remainder. Both builders are sized by a counting pass first, so
 * after the allocations nothing can fail: seal is all-or-nothing.
 */
#include <assert.h>
#include <string.h>

#include "tide/alloc.h"
#include "tide/error.h"
#include "trace/trace_int.h"

struct tide_batcher {
    tide_layout layout;
    tide_batch **pending;   /* pushed since the last seal, one reference each */
    uint32_t npending;      /* batches in pending */
    uint32_t cap;           /* capacity of pending */
    uint64_t pending_len;   /* records in pending batches */
    tide_trace_batch *kept; /* sorted, consolidated remainder; NULL when none */
    tide_antichain lower;   /* lower of the next sealed batch */
};

/* One pushed update, with prefixes that decide most comparisons. */
typedef struct ent {
    uint64_t kpre, vpre;  /* first 8 bytes of key / val, big-endian, zero-padded */
    const uint8_t *k, *v; /* the bytes, inside a pending batch */
    uint32_t kl, vl;      /* lengths */
    tide_time t;
    int64_t d;
} ent;

/* ======================================================================== */
/* Lifetime                                                                 */
/* ======================================================================== */

tide_batcher *tide_batcher_new(tide_layout layout)
{
    tide_batcher *b = tide_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->layout = layout;
    tide_antichain_init(&b->lower);
    if (tide__frontier_zero(&b->lower) < 0) {
        tide_antichain_fini(&b->lower);
        tide_free(b);
        return NULL;
    }
    return b;
}

static void drop_pending(tide_batcher *b)
{
    for (uint32_t i = 0; i < b->npending; i++) tide_batch_unref(b->pending[i]);
    b->npending = 0;
    b->pending_len = 0;
}

void tide_batcher_free(tide_batcher *b)
{
    if (!b) return;
    drop_pending(b);
    tide_free(b->pending);
    tide_trace_batch_unref(b->kept);
    tide_antichain_fini(&b->lower);
    tide_free(b);
}

int tide_batcher_push(tide_batcher *b, tide_batch *batch)
{
    if (!(batch->flags & TIDE_BATCH_UPDATES) || !tide_layout_eq(batch->layout, b->layout))
        return TIDE_EINVAL;
    if (batch->len == 0) return TIDE_OK;
    if (b->npending == b->cap) {
        uint32_t ncap = b->cap ? b->cap * 2 : 16;
        tide_batch **p = tide_realloc(b->pending, ncap * sizeof *p);
        if (!p) return TIDE_ENOMEM;
        b->pending = p;
        b->cap = ncap;
    }
    b->pending[b->npending++] = tide_batch_ref(batch);
    b->pending_len += batch->len;
    return TIDE_OK;
}

const tide_antichain *tide_batcher_lower(const tide_batcher *b)
{
    return &b->lower;
}

uint64_t tide_batcher_len(const tide_batcher *b)
{
    return b->pending_len + (b->kept ? b->kept->nupds : 0);
}

int tide_batcher_frontier(const tide_batcher *b, tide_antichain *out)
{
    tide_antichain_clear(out);
    for (uint32_t i = 0; i < b->npending; i++) {
        const tide_batch *p = b->pending[i];
        for (uint32_t r = 0; r < p->len; r++)
            if (p->diffs[r] != 0) TIDE_TRY(tide_antichain_insert(out, p->times[r]));
    }
    if (b->kept)
        for (uint32_t u = 0; u < b->kept->nupds; u++)
            TIDE_TRY(tide_antichain_insert(out, b->kept->upds[u].time));
    return TIDE_OK;
}

/* ======================================================================== */
/* Sorting entries                                                          */
/* ======================================================================== */

static inline uint64_t prefix8(const uint8_t *p, uint32_t len)
{
    if (len >= 8) return tide_u64_load(p);
    uint8_t buf[8] = {0};
    if (len) memcpy(buf, p, len);
    return tide_u64_load(buf);
}

/* Compare two byte strings whose 8-byte prefixes are equal. */
static inline int rest_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl)
{
    if (al < 8 || bl < 8) return al < bl ? -1 : al > bl;
    return tide_bytes_cmp(a + 8, al - 8, b + 8, bl - 8);
}

/* (key, val, time) order, without the time when @with_time is false. */
static inline int ent_cmp(const ent *a, const ent *b, bool with_time)
{
    if (a->kpre != b->kpre) return a->kpre < b->kpre ? -1 : 1;
    int c = rest_cmp(a->k, a->kl, b->k, b->kl);
    if (c) return c;
    if (a->vpre != b->vpre) return a->vpre < b->vpre ? -1 : 1;
    c = rest_cmp(a->v, a->vl, b->v, b->vl);
    if (c || !with_time) return c;
    return tide_time_cmp(a->t, b->t);
}

static void ent_swap(ent *a, ent *b)
{
    ent t = *a;
    *a = *b;
    *b = t;
}

/* Quicksort (median of three, Hoare partition, smaller side recursed) with
 * an insertion sort below 24 entries. Equal keys stop both scans, so runs of
 * duplicates split evenly instead of degrading. */
static void sort_ents(ent *a, size_t n)
{
    while (n > 24) {
        size_t m = n / 2;
        if (ent_cmp(&a[m], &a[0], true) < 0) ent_swap(&a[m], &a[0]);
        if (ent_cmp(&a[n - 1], &a[m], true) < 0) {
            ent_swap(&a[n - 1], &a[m]);
            if (ent_cmp(&a[m], &a[0], true) < 0) ent_swap(&a[m], &a[0]);
        }
        ent pivot = a[m];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (ent_cmp(&a[i], &pivot, true) < 0) i++;
            while (ent_cmp(&pivot, &a[j], true) < 0) j--;
            if (i >= j) break;
            ent_swap(&a[i], &a[j]);
            i++;
            j--;
        }
        /* [0, j] <= pivot <= [j + 1, n) */
        size_t left = j + 1;
        if (left < n - left) {
            sort_ents(a, left);
            a += left;
            n -= left;
        } else {
            sort_ents(a + left, n - left);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        ent x = a[i];
        size_t j = i;
        while (j > 0 && ent_cmp(&a[j - 1], &x, true) > 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* ======================================================================== */
/* Sealing                                                                  */
/* ======================================================================== */

/* A flat reader over the updates of a trie. */
typedef struct trie_it {
    const tide_trace_batch *b;
    uint32_t k, v, u; /* current key, val, update */
} trie_it;

static inline bool it_valid(const trie_it *it)
{
    return it->b && it->u < it->b->nupds;
}

static inline void it_step(trie_it *it)
{
    it->u++;
    if (it->u >= it->b->nupds) return;
    if (it->u == it->b->val_upds[it->v + 1]) {
        it->v++;
        if (it->v == it->b->key_vals[it->k + 1]) it->k++;
    }
}

/* Compare entry @e with the iterator's current update by (key, val, time). */
static inline int ent_it_cmp(const ent *e, const trie_it *it)
{
    uint32_t kl, vl;
    const uint8_t *k = tide_trace_batch_key(it->b, it->k, &kl);
    int c = tide_bytes_cmp(e->k, e->kl, k, kl);
    if (c) return c;
    const uint8_t *v = tide_trace_batch_val(it->b, it->v, &vl);
    c = tide_bytes_cmp(e->v, e->vl, v, vl);
    if (c) return c;
    return tide_time_cmp(e->t, it->b->upds[it->u].time);
}

/* Per-side upper bounds for the builders. */
typedef struct side_count {
    uint32_t upds;
    uint64_t kheap, vheap;
} side_count;

static inline void count(side_count *s, uint32_t kl, uint32_t vl)
{
    s->upds++;
    s->kheap += kl;
    s->vheap += vl;
}

int tide_batcher_seal(tide_batcher *b, const tide_antichain *upper, tide_trace_batch **out)
{
    *out = NULL;
    int rc = TIDE_ENOMEM;
    ent *ents = NULL;
    tide__builder ob = {0}, nb = {0};
    tide_antichain new_lower;
    tide_antichain_init(&new_lower);
    if (tide_antichain_copy(&new_lower, upper) < 0) goto fail;

    /* 1. Gather and sort the pushed updates. */
    size_t n = 0;
    if (b->pending_len) {
        ents = tide_alloc(b->pending_len * sizeof *ents);
        if (!ents) goto fail;
    }
    for (uint32_t p = 0; p < b->npending; p++) {
        const tide_batch *src = b->pending[p];
        for (uint32_t r = 0; r < src->len; r++) {
            if (src->diffs[r] == 0) continue;
            ent *e = &ents[n++];
            e->k = tide_batch_key(src, r, &e->kl);
            e->v = tide_batch_val(src, r, &e->vl);
            e->kpre = prefix8(e->k, e->kl);
            e->vpre = prefix8(e->v, e->vl);
            e->t = src->times[r];
            e->d = src->diffs[r];
        }
    }
    sort_ents(ents, n);
    size_t m = 0;
    for (size_t r = 0; r < n;) {
        ent acc = ents[r++];
        while (r < n && ent_cmp(&ents[r], &acc, true) == 0) acc.d += ents[r++].d;
        if (acc.d != 0) ents[m++] = acc;
    }

    /* 2. Count each side, to size the builders exactly enough. */
    side_count so = {0}, sn = {0};
    for (size_t r = 0; r < m; r++)
        count(tide_antichain_less_equal(upper, ents[r].t) ? &sn : &so, ents[r].kl, ents[r].vl);
    trie_it it = {b->kept, 0, 0, 0};
    for (; it_valid(&it); it_step(&it)) {
        uint32_t kl, vl;
        tide_trace_batch_key(it.b, it.k, &kl);
        tide_trace_batch_val(it.b, it.v, &vl);
        count(tide_antichain_less_equal(upper, it.b->upds[it.u].time) ? &sn : &so, kl, vl);
    }
    if (tide__builder_init(&ob, b->layout, so.upds, so.upds, so.upds, so.kheap, so.vheap, &b->lower,
                           upper, NULL) < 0)
        goto fail;
    if (tide__builder_init(&nb, b->layout, sn.upds, sn.upds, sn.upds, sn.kheap, sn.vheap, upper,
                           upper, NULL) < 0)
        goto fail;

    /* 3. Merge entries with the remainder; route each update by its time.
     * From here on nothing can fail. */
    it = (trie_it){b->kept, 0, 0, 0};
    size_t r = 0;
    while (r < m || it_valid(&it)) {
        int c = r >= m ? 1 : !it_valid(&it) ? -1 : ent_it_cmp(&ents[r], &it);
        const uint8_t *k, *v;
        uint32_t kl, vl;
        tide_time t;
        int64_t d;
        if (c <= 0) {
            k = ents[r].k, kl = ents[r].kl, v = ents[r].v, vl = ents[r].vl;
            t = ents[r].t, d = ents[r].d;
            if (c == 0) {
                d += it.b->upds[it.u].delta;
                it_step(&it);
            }
            r++;
        } else {
            k = tide_trace_batch_key(it.b, it.k, &kl);
            v = tide_trace_batch_val(it.b, it.v, &vl);
            t = it.b->upds[it.u].time, d = it.b->upds[it.u].delta;
            it_step(&it);
        }
        if (d == 0) continue;
        tide__builder_push(tide_antichain_less_equal(upper, t) ? &nb : &ob, k, kl, v, vl, t, d);
    }
    tide_trace_batch *sealed = tide__builder_finish(&ob);
    tide_trace_batch *kept = tide__builder_finish(&nb);

    /* 4. Commit. */
    tide_free(ents);
    drop_pending(b);
    tide_trace_batch_unref(b->kept);
    b->kept = kept;
    if (kept->nupds == 0) {
        tide_trace_batch_unref(kept);
        b->kept = NULL;
    }
    tide_antichain_fini(&b->lower);
    b->lower = new_lower;
    *out = sealed;
    return TIDE_OK;

fail:
    tide__builder_abort(&ob);
    tide__builder_abort(&nb);
    tide_free(ents);
    tide_antichain_fini(&new_lower);
    return rc;
}
