/*
 * batch.c - columnar, refcounted record batches: building, exchange
 * partitioning and consolidation of updates.
 *
 * Memory: tide_batch_new makes one allocation, the header followed by the
 * fixed-size arrays (times, diffs, variable offsets, fixed-width columns).
 * Growing past @cap moves those arrays to a separate block (the header never
 * moves: callers hold pointers to it). Each variable column's byte heap is
 * its own block, allocated on first use and doubled as it fills.
 *
 *   [ header | times | diffs | key offs | val offs | key fixed | val fixed ]
 *   [ key heap ]  [ val heap ]                      (variable columns only)
 *
 * Invariants: len <= cap; a variable column has offs[0] == 0,
 * offs[len] == heap_len <= heap_cap; fixed columns and empty heaps still
 * have a non-NULL bytes pointer. A failed call leaves the records as they
 * were (capacities may have grown). Depends on: alloc.h, record.h, hash.h.
 */
#include <assert.h>
#include <string.h>

#include "tide/alloc.h"
#include "tide/batch.h"
#include "tide/error.h"

#include "hash.h"

#define VAR           TIDE_VAR
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* The public header plus what only this file needs. */
typedef struct batch_impl {
    tide_batch pub; /* first, so a tide_batch * is a batch_impl * */
    void *arrays;   /* separately allocated arrays, NULL while they are inline */
} batch_impl;

#define HDR_SIZE ((sizeof(batch_impl) + 15) & ~(size_t)15)

/* Heaps that hold nothing point here, so bytes is never NULL. Never written:
 * heap_cap stays 0 until a real heap replaces it. */
static uint8_t empty_heap[8];

static inline batch_impl *impl(tide_batch *b)
{
    return (batch_impl *)b;
}

/* ======================== Fixed arrays ============================ */

/* Bytes of fixed arrays for @cap records; TIDE_ENOMEM on overflow. */
static int arrays_size(tide_layout l, uint32_t flags, size_t cap, size_t *out)
{
    size_t sz = 0, t;
    if (flags & TIDE_BATCH_UPDATES) sz += cap * (sizeof(tide_time) + sizeof(int64_t));
    if (l.key_width == VAR) sz += (cap + 1) * sizeof(uint32_t);
    if (l.val_width == VAR) sz += (cap + 1) * sizeof(uint32_t);
    if (l.key_width != VAR) {
        if (__builtin_mul_overflow(cap, (size_t)l.key_width, &t)) return TIDE_ENOMEM;
        if (__builtin_add_overflow(sz, t, &sz)) return TIDE_ENOMEM;
    }
    if (l.val_width != VAR) {
        if (__builtin_mul_overflow(cap, (size_t)l.val_width, &t)) return TIDE_ENOMEM;
        if (__builtin_add_overflow(sz, t, &sz)) return TIDE_ENOMEM;
    }
    if (sz > PTRDIFF_MAX - HDR_SIZE) return TIDE_ENOMEM;
    *out = sz;
    return TIDE_OK;
}

/* Point @b's arrays into @base, laid out for @cap records (largest
 * alignment first). Only the pointers change; nothing is copied. */
static void arrays_place(tide_batch *b, uint8_t *base, size_t cap)
{
    uint8_t *p = base;
    if (b->flags & TIDE_BATCH_UPDATES) {
        b->times = (tide_time *)p;
        p += cap * sizeof(tide_time);
        b->diffs = (int64_t *)p;
        p += cap * sizeof(int64_t);
    }
    if (b->key.width == VAR) {
        b->key.offs = (uint32_t *)p;
        p += (cap + 1) * sizeof(uint32_t);
    }
    if (b->val.width == VAR) {
        b->val.offs = (uint32_t *)p;
        p += (cap + 1) * sizeof(uint32_t);
    }
    if (b->key.width != VAR) {
        b->key.bytes = p;
        p += cap * b->key.width;
    }
    if (b->val.width != VAR) {
        b->val.bytes = p;
        p += cap * b->val.width;
    }
}

/* Copy the first @len records' fixed arrays from @s into the arrays of @d
 * (same layout; d's pointers already placed). */
static void arrays_copy(tide_batch *d, const tide_batch *s, uint32_t len)
{
    if (s->flags & TIDE_BATCH_UPDATES) {
        memcpy(d->times, s->times, (size_t)len * sizeof(tide_time));
        memcpy(d->diffs, s->diffs, (size_t)len * sizeof(int64_t));
    }
    if (s->key.width == VAR)
        memcpy(d->key.offs, s->key.offs, ((size_t)len + 1) * sizeof(uint32_t));
    else
        memcpy(d->key.bytes, s->key.bytes, (size_t)len * s->key.width);
    if (s->val.width == VAR)
        memcpy(d->val.offs, s->val.offs, ((size_t)len + 1) * sizeof(uint32_t));
    else
        memcpy(d->val.bytes, s->val.bytes, (size_t)len * s->val.width);
}

/* Room for @n more records: capacity at least doubles. */
static int grow_records(tide_batch *b, uint32_t n)
{
    size_t need = (size_t)b->len + n;
    if (need <= b->cap) return TIDE_OK;
    if (need > UINT32_MAX) return TIDE_ENOMEM;
    size_t cap = (size_t)b->cap * 2, sz;
    if (cap < need) cap = need;
    if (cap < 16) cap = 16;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    TIDE_TRY(arrays_size(b->layout, b->flags, cap, &sz));
    uint8_t *blk = tide_alloc(sz);
    if (!blk) return TIDE_ENOMEM;
    tide_batch old = *b;
    arrays_place(b, blk, cap);
    arrays_copy(b, &old, b->len);
    tide_free(impl(b)->arrays);
    impl(b)->arrays = blk;
    b->cap = (uint32_t)cap;
    return TIDE_OK;
}

/* ======================== Variable heaps ========================== */

/* Room for @n more bytes in variable column @c of a batch of capacity
 * @cap records. The first heap is sized for about 16 bytes a record. */
static int grow_heap(tide_col *c, size_t n, uint32_t cap)
{
    size_t need = (size_t)c->heap_len + n;
    if (need <= c->heap_cap) return TIDE_OK;
    if (need > UINT32_MAX) return TIDE_ENOMEM;
    size_t hc = c->heap_cap ? (size_t)c->heap_cap * 2 : (size_t)cap * 16;
    if (!c->heap_cap && hc > TIDE_BATCH_BYTES) hc = TIDE_BATCH_BYTES;
    if (hc < 256) hc = 256;
    if (hc < need) hc = need;
    if (hc > UINT32_MAX) hc = UINT32_MAX;
    uint8_t *p = c->heap_cap ? tide_realloc(c->bytes, hc) : tide_alloc(hc);
    if (!p) return TIDE_ENOMEM;
    if (!c->heap_cap && c->heap_len) memcpy(p, c->bytes, c->heap_len);
    c->bytes = p;
    c->heap_cap = (uint32_t)hc;
    return TIDE_OK;
}

static int reserve(tide_batch *b, uint32_t n, size_t kheap, size_t vheap)
{
    TIDE_TRY(grow_records(b, n));
    if (b->key.width == VAR) TIDE_TRY(grow_heap(&b->key, kheap, b->cap));
    if (b->val.width == VAR) TIDE_TRY(grow_heap(&b->val, vheap, b->cap));
    return TIDE_OK;
}

/* Append @n bytes as record @j of column @c; room is already reserved. */
static inline void col_put(tide_col *c, uint32_t j, const void *p, uint32_t n)
{
    if (c->width != VAR) {
        if (n) memcpy(c->bytes + (size_t)j * n, p, n);
        return;
    }
    if (n) memcpy(c->bytes + c->heap_len, p, n);
    c->heap_len += n;
    c->offs[j + 1] = c->heap_len;
}

static void col_init(tide_col *c, uint32_t width)
{
    c->width = width;
    c->heap_len = 0;
    c->heap_cap = 0;
    c->offs = NULL;
    c->bytes = empty_heap;
}

static void col_free_heap(tide_col *c)
{
    if (c->width == VAR && c->heap_cap) tide_free(c->bytes);
}

/* ======================== Lifecycle =============================== */

/* ======================== Per-thread cache ======================= */

/*
 * Worker threads recycle the standard batches they free (fixed layouts,
 * channel-sized, arrays never moved out of the block): an exchange frees
 * on one worker what another allocated, record batch after record batch,
 * and going through malloc each time costs page faults as the heap is
 * trimmed and regrown. Only threads that enable the cache have one, and
 * they drain it before they end, so nothing is left behind.
 */
#define POOL_MAX 64

static __thread struct {
    batch_impl *b[POOL_MAX];
    uint32_t n;
    bool on;
} pool;

void tide__batch_pool_enable(void)
{
    pool.on = true;
}

void tide__batch_pool_drain(void)
{
    for (uint32_t i = 0; i < pool.n; i++) tide_free(pool.b[i]);
    pool.n = 0;
    pool.on = false;
}

static bool pool_put(batch_impl *bi)
{
    const tide_batch *b = &bi->pub;
    if (!pool.on || pool.n == POOL_MAX || bi->arrays != NULL || b->key.width == VAR ||
        b->val.width == VAR || b->cap < 1024)
        return false;
    pool.b[pool.n++] = bi;
    return true;
}

static tide_batch *pool_get(tide_layout layout, uint32_t flags, uint32_t cap)
{
    for (uint32_t i = pool.n; i-- > 0;) {
        tide_batch *b = &pool.b[i]->pub;
        if (b->cap != cap || b->flags != flags || !tide_layout_eq(b->layout, layout)) continue;
        pool.b[i] = pool.b[--pool.n];
        b->refs = 1;
        b->len = 0;
        b->time = TIDE_TIME_ZERO;
        b->ext = NULL;
        b->ext_free = NULL;
        return b;
    }
    return NULL;
}

tide_batch *tide_batch_new(tide_layout layout, uint32_t flags, uint32_t cap)
{
    if (pool.n) {
        tide_batch *b = pool_get(layout, flags, cap);
        if (b) return b;
    }
    size_t sz;
    if (arrays_size(layout, flags, cap, &sz) < 0) return NULL;
    batch_impl *bi = tide_alloc(HDR_SIZE + sz);
    if (!bi) return NULL;
    memset(bi, 0, sizeof *bi);
    tide_batch *b = &bi->pub;
    b->refs = 1;
    b->flags = flags;
    b->cap = cap;
    b->time = TIDE_TIME_ZERO;
    b->layout = layout;
    col_init(&b->key, layout.key_width);
    col_init(&b->val, layout.val_width);
    arrays_place(b, (uint8_t *)bi + HDR_SIZE, cap);
    if (b->key.width == VAR) b->key.offs[0] = 0;
    if (b->val.width == VAR) b->val.offs[0] = 0;
    return b;
}

tide_batch *tide_batch_ref(tide_batch *b)
{
    __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
    return b;
}

void tide_batch_unref(tide_batch *b)
{
    if (!b) return;
    if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (b->ext_free) b->ext_free(b->ext);
    if (pool_put(impl(b))) return;
    col_free_heap(&b->key);
    col_free_heap(&b->val);
    tide_free(impl(b)->arrays);
    tide_free(b);
}

void tide_batch_clear(tide_batch *b)
{
    b->len = 0;
    if (b->key.width == VAR) b->key.heap_len = b->key.offs[0] = 0;
    if (b->val.width == VAR) b->val.heap_len = b->val.offs[0] = 0;
}

int tide_batch_reserve(tide_batch *b, uint32_t n, uint32_t heap)
{
    return reserve(b, n, heap, heap);
}

bool tide_batch_full(const tide_batch *b)
{
    return b->len >= TIDE_BATCH_RECORDS ||
           (size_t)b->key.heap_len + b->val.heap_len >= TIDE_BATCH_BYTES;
}

/* ======================== Push ==================================== */

static int push(tide_batch *b, const void *key, uint32_t klen, const void *val, uint32_t vlen,
                tide_time t, int64_t diff)
{
    if ((b->key.width != VAR && klen != b->key.width) ||
        (b->val.width != VAR && vlen != b->val.width))
        return TIDE_EINVAL;
    if (b->len == b->cap || (b->key.width == VAR && b->key.heap_cap - b->key.heap_len < klen) ||
        (b->val.width == VAR && b->val.heap_cap - b->val.heap_len < vlen))
        TIDE_TRY(reserve(b, 1, klen, vlen));
    uint32_t j = b->len;
    col_put(&b->key, j, key, klen);
    col_put(&b->val, j, val, vlen);
    if (b->flags & TIDE_BATCH_UPDATES) {
        b->times[j] = t;
        b->diffs[j] = diff;
    }
    b->len = j + 1;
    return TIDE_OK;
}

/* A plain push into an UPDATES batch records (b->time, +1): an insertion
 * at the batch's capability time. */
int tide_batch_push(tide_batch *b, const void *key, uint32_t klen, const void *val, uint32_t vlen)
{
    return push(b, key, klen, val, vlen, b->time, 1);
}

int tide_batch_push_update(tide_batch *b, const void *key, uint32_t klen, const void *val,
                           uint32_t vlen, tide_time t, int64_t diff)
{
    if (!(b->flags & TIDE_BATCH_UPDATES)) return TIDE_EINVAL;
    return push(b, key, klen, val, vlen, t, diff);
}

/* Into an UPDATES batch from a plain one, the record gets (src->time, +1).
 * @b may be @src: room is made before the source bytes are located. */
int tide_batch_push_from(tide_batch *b, const tide_batch *src, uint32_t i)
{
    if (!tide_layout_eq(b->layout, src->layout) || i >= src->len) return TIDE_EINVAL;
    uint32_t kl, vl;
    kl = src->key.width == VAR ? src->key.offs[i + 1] - src->key.offs[i] : src->key.width;
    vl = src->val.width == VAR ? src->val.offs[i + 1] - src->val.offs[i] : src->val.width;
    TIDE_TRY(reserve(b, 1, kl, vl));
    const uint8_t *k = tide_batch_key(src, i, &kl), *v = tide_batch_val(src, i, &vl);
    tide_time t = src->time;
    int64_t d = 1;
    if (src->flags & TIDE_BATCH_UPDATES) {
        t = src->times[i];
        d = src->diffs[i];
    }
    return push(b, k, kl, v, vl, t, d);
}

/* ======================== Compare ================================= */

static inline int sign(int c)
{
    return (c > 0) - (c < 0);
}

int tide_batch_cmp(const tide_batch *a, uint32_t i, const tide_batch *b, uint32_t j)
{
    uint32_t al, bl;
    const uint8_t *ap = tide_batch_key(a, i, &al), *bp = tide_batch_key(b, j, &bl);
    int c = tide_bytes_cmp(ap, al, bp, bl);
    if (c) return sign(c);
    ap = tide_batch_val(a, i, &al);
    bp = tide_batch_val(b, j, &bl);
    return sign(tide_bytes_cmp(ap, al, bp, bl));
}

/* ======================== Partition =============================== */

/*
 * The exchange hot loop. Records are taken in chunks: pass 1 hashes each
 * key to its owner and counts records (and heap bytes) per destination,
 * then every destination is reserved for the whole chunk, and pass 2 only
 * copies, with no capacity checks. A failed reserve therefore leaves every
 * output holding exactly the records of the chunks before it. Pass 2 visits
 * records in source order, so each destination keeps their relative order.
 * The common fixed widths get their own instance of the loops, in which
 * the hash and the copies have constant lengths.
 */
#define PART_CHUNK       1024
#define PART_STACK_PEERS 64

typedef struct part_peer {
    uint32_t count; /* records of this chunk going here */
    uint32_t pos;   /* next record index in the output */
    uint64_t kheap; /* variable key bytes of this chunk going here */
    uint64_t vheap; /* variable value bytes */
} part_peer;

static int part_reserve(tide_batch **outs, part_peer *pp, uint32_t peers)
{
    for (uint32_t w = 0; w < peers; w++) {
        if (!pp[w].count || !outs[w]) continue;
        if (pp[w].kheap > UINT32_MAX || pp[w].vheap > UINT32_MAX) return TIDE_ENOMEM;
        TIDE_TRY(reserve(outs[w], pp[w].count, pp[w].kheap, pp[w].vheap));
        pp[w].pos = outs[w]->len;
    }
    return TIDE_OK;
}

static ALWAYS_INLINE int part_fixed(const tide_batch *src, tide_batch **outs, uint32_t peers,
                                    part_peer *pp, const uint32_t kw, const uint32_t vw,
                                    const bool upd)
{
    uint32_t own[PART_CHUNK];
    for (size_t c0 = 0; c0 < src->len; c0 += PART_CHUNK) {
        uint32_t m = (uint32_t)(src->len - c0 < PART_CHUNK ? src->len - c0 : PART_CHUNK);
        const uint8_t *sk = src->key.bytes + (size_t)c0 * kw;
        const uint8_t *sv = src->val.bytes + (size_t)c0 * vw;
        for (uint32_t w = 0; w < peers; w++) pp[w].count = 0;
        for (uint32_t i = 0; i < m; i++) {
            uint32_t w = tide_hash_owner(tide__hash(sk + (size_t)i * kw, kw), peers);
            own[i] = w;
            pp[w].count++;
        }
        TIDE_TRY(part_reserve(outs, pp, peers));
        for (uint32_t i = 0; i < m; i++) {
            uint32_t w = own[i];
            tide_batch *o = outs[w];
            if (!o) continue;
            uint32_t j = pp[w].pos++;
            memcpy(o->key.bytes + (size_t)j * kw, sk + (size_t)i * kw, kw);
            if (vw) memcpy(o->val.bytes + (size_t)j * vw, sv + (size_t)i * vw, vw);
            if (upd) {
                o->times[j] = src->times[c0 + i];
                o->diffs[j] = src->diffs[c0 + i];
            }
        }
        for (uint32_t w = 0; w < peers; w++)
            if (pp[w].count && outs[w]) outs[w]->len = pp[w].pos;
    }
    return TIDE_OK;
}

/* Any layout, variable columns included. */
static int part_any(const tide_batch *src, tide_batch **outs, uint32_t peers, part_peer *pp)
{
    uint32_t own[PART_CHUNK];
    bool upd = src->flags & TIDE_BATCH_UPDATES;
    for (size_t c0 = 0; c0 < src->len; c0 += PART_CHUNK) {
        uint32_t m = (uint32_t)(src->len - c0 < PART_CHUNK ? src->len - c0 : PART_CHUNK);
        for (uint32_t w = 0; w < peers; w++) pp[w].count = 0, pp[w].kheap = pp[w].vheap = 0;
        for (uint32_t i = 0; i < m; i++) {
            uint32_t kl, vl;
            const uint8_t *k = tide_batch_key(src, c0 + i, &kl);
            tide_batch_val(src, c0 + i, &vl);
            uint32_t w = tide_hash_owner(tide__hash(k, kl), peers);
            own[i] = w;
            pp[w].count++;
            pp[w].kheap += kl;
            pp[w].vheap += vl;
        }
        TIDE_TRY(part_reserve(outs, pp, peers));
        for (uint32_t i = 0; i < m; i++) {
            uint32_t w = own[i], kl, vl;
            tide_batch *o = outs[w];
            if (!o) continue;
            uint32_t j = pp[w].pos++;
            const uint8_t *k = tide_batch_key(src, c0 + i, &kl);
            const uint8_t *v = tide_batch_val(src, c0 + i, &vl);
            col_put(&o->key, j, k, kl);
            col_put(&o->val, j, v, vl);
            if (upd) {
                o->times[j] = src->times[c0 + i];
                o->diffs[j] = src->diffs[c0 + i];
            }
        }
        for (uint32_t w = 0; w < peers; w++)
            if (pp[w].count && outs[w]) outs[w]->len = pp[w].pos;
    }
    return TIDE_OK;
}

/* Append all of @src to @o (one destination: no hashing needed). */
static int append_all(tide_batch *o, const tide_batch *src)
{
    uint32_t n = src->len, base = o->len;
    TIDE_TRY(reserve(o, n, src->key.heap_len, src->val.heap_len));
    const tide_col *sc[2] = {&src->key, &src->val};
    tide_col *dc[2] = {&o->key, &o->val};
    for (int c = 0; c < 2; c++) {
        if (sc[c]->width != VAR) {
            memcpy(dc[c]->bytes + (size_t)base * sc[c]->width, sc[c]->bytes,
                   (size_t)n * sc[c]->width);
            continue;
        }
        uint32_t h = dc[c]->heap_len;
        memcpy(dc[c]->bytes + h, sc[c]->bytes, sc[c]->heap_len);
        for (uint32_t i = 1; i <= n; i++) dc[c]->offs[base + i] = h + sc[c]->offs[i];
        dc[c]->heap_len = h + sc[c]->heap_len;
    }
    if (src->flags & TIDE_BATCH_UPDATES) {
        memcpy(o->times + base, src->times, (size_t)n * sizeof(tide_time));
        memcpy(o->diffs + base, src->diffs, (size_t)n * sizeof(int64_t));
    }
    o->len = base + n;
    return TIDE_OK;
}

/*
 * One pass, no counting: when every output already has room for all of
 * @src (the exchange channel sizes its stages so), each record is hashed
 * and stored straight at its destination's end.
 */
static ALWAYS_INLINE void part_direct(const tide_batch *src, tide_batch **outs, uint32_t peers,
                                      const uint32_t kw, const uint32_t vw, const bool upd)
{
    uint32_t pos[PART_STACK_PEERS];
    for (uint32_t w = 0; w < peers; w++) pos[w] = outs[w]->len;
    const uint8_t *sk = src->key.bytes, *sv = src->val.bytes;
    for (uint32_t i = 0; i < src->len; i++) {
        const uint8_t *k = sk + (size_t)i * kw;
        uint32_t w = tide_hash_owner(tide__hash(k, kw), peers);
        tide_batch *o = outs[w];
        uint32_t j = pos[w]++;
        memcpy(o->key.bytes + (size_t)j * kw, k, kw);
        if (vw) memcpy(o->val.bytes + (size_t)j * vw, sv + (size_t)i * vw, vw);
        if (upd) {
            o->times[j] = src->times[i];
            o->diffs[j] = src->diffs[i];
        }
    }
    for (uint32_t w = 0; w < peers; w++) outs[w]->len = pos[w];
}

/* Can part_direct run: fixed widths, every output present with room. */
static bool direct_ok(const tide_batch *src, tide_batch **outs, uint32_t peers)
{
    if (peers > PART_STACK_PEERS || src->key.width == VAR || src->val.width == VAR) return false;
    for (uint32_t w = 0; w < peers; w++)
        if (!outs[w] || outs[w]->cap - outs[w]->len < src->len) return false;
    return true;
}

int tide_batch_partition(const tide_batch *src, tide_batch **outs, uint32_t peers)
{
    if (!peers) return TIDE_EINVAL;
    for (uint32_t w = 0; w < peers; w++) {
        if (!outs[w]) continue;
        if (!tide_layout_eq(outs[w]->layout, src->layout) || outs[w]->flags != src->flags)
            return TIDE_EINVAL;
    }
    if (!src->len) return TIDE_OK;
    if (peers == 1) return outs[0] ? append_all(outs[0], src) : TIDE_OK;
    if (direct_ok(src, outs, peers)) {
        uint32_t kw = src->key.width, vw = src->val.width;
        bool upd = src->flags & TIDE_BATCH_UPDATES;
        /* clang-format off */
        if      (kw == 8 && vw == 0 && !upd) part_direct(src, outs, peers, 8, 0, false);
        else if (kw == 8 && vw == 0)         part_direct(src, outs, peers, 8, 0, true);
        else if (kw == 8 && vw == 8 && !upd) part_direct(src, outs, peers, 8, 8, false);
        else if (kw == 8 && vw == 8)         part_direct(src, outs, peers, 8, 8, true);
        else                                 part_direct(src, outs, peers, kw, vw, upd);
        /* clang-format on */
        return TIDE_OK;
    }

    part_peer stack_pp[PART_STACK_PEERS], *pp = stack_pp;
    if (peers > PART_STACK_PEERS) {
        pp = tide_calloc(peers, sizeof *pp);
        if (!pp) return TIDE_ENOMEM;
    }
    for (uint32_t w = 0; w < peers; w++) pp[w].kheap = pp[w].vheap = 0;

    uint32_t kw = src->key.width, vw = src->val.width;
    bool upd = src->flags & TIDE_BATCH_UPDATES;
    int rc;
    /* clang-format off */
    if      (kw == 8  && vw == 0 && !upd) rc = part_fixed(src, outs, peers, pp, 8, 0, false);
    else if (kw == 8  && vw == 0)         rc = part_fixed(src, outs, peers, pp, 8, 0, true);
    else if (kw == 8  && vw == 8 && !upd) rc = part_fixed(src, outs, peers, pp, 8, 8, false);
    else if (kw == 8  && vw == 8)         rc = part_fixed(src, outs, peers, pp, 8, 8, true);
    else if (kw == 16 && vw == 0 && !upd) rc = part_fixed(src, outs, peers, pp, 16, 0, false);
    else if (kw == 16 && vw == 0)         rc = part_fixed(src, outs, peers, pp, 16, 0, true);
    else if (kw == 8  && vw == 16)        rc = part_fixed(src, outs, peers, pp, 8, 16, upd);
    else if (kw == 16 && vw == 8)         rc = part_fixed(src, outs, peers, pp, 16, 8, upd);
    else if (kw == 16 && vw == 16)        rc = part_fixed(src, outs, peers, pp, 16, 16, upd);
    else if (kw == 4  && vw == 0)         rc = part_fixed(src, outs, peers, pp, 4, 0, upd);
    else if (kw == 4  && vw == 4)         rc = part_fixed(src, outs, peers, pp, 4, 4, upd);
    else                                  rc = part_any(src, outs, peers, pp);
    /* clang-format on */
    if (pp != stack_pp) tide_free(pp);
    return rc;
}

/* ======================== Consolidate: narrow ===================== */

/*
 * Fixed layouts whose key and value together fit in 16 bytes (the integer
 * workloads: 8/0, 8/8, 16/0, ...). Each update is described by four words
 * whose unsigned order, word by word, is exactly the (key, val, time)
 * order: key||val read big-endian into two words (zero padded; all records
 * have the same length, so concatenation keeps the (key, val) order), then
 * the epoch, then iter[0] << 32 | iter[1]. Words equal in every record
 * (a constant time, an empty value, ...) are dropped, and the rest, plus
 * the diff, form an entry of K + 1 u64s, K in 0..4. Entries are sorted by
 * an MSD radix sort and, since they carry every field, written straight
 * back into the batch's own columns: the only allocation is the entry
 * buffer (and its scratch twin).
 */
#define NSORT_SMALL    32
#define NSORT_WIDE_MIN (1u << 17) /* top level: 16-bit digit from here */

static ALWAYS_INLINE int nent_cmp(const uint64_t *a, const uint64_t *b, unsigned from,
                                  const unsigned K)
{
    for (unsigned k = from; k < K; k++)
        if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
    return 0;
}

static ALWAYS_INLINE void nsort_insertion(uint64_t *a, size_t n, unsigned word, const unsigned K)
{
    const unsigned S = K + 1;
    for (size_t i = 1; i < n; i++) {
        if (nent_cmp(a + (i - 1) * S, a + i * S, word, K) <= 0) continue;
        uint64_t x[5];
        memcpy(x, a + i * S, S * 8);
        size_t j = i;
        do {
            memcpy(a + j * S, a + (j - 1) * S, S * 8);
            j--;
        } while (j > 0 && nent_cmp(a + (j - 1) * S, x, word, K) > 0);
        memcpy(a + j * S, x, S * 8);
    }
}

/*
 * Sort the @n entries at @a, whose key bytes before @d are all equal.
 * @t is scratch of the same size; the two swap roles at every level (a
 * distribution pass moves the entries from one to the other), and @flip
 * says the entries now sit in the scratch array, so a finished range is
 * copied back into @t (the caller's array). A byte on which the whole range
 * agrees costs a histogram pass, then an OR-of-XORs pass skips every
 * further agreeing byte of that word, so small integers and duplicates are
 * cheap. Depth <= 8K levels, each O(n): O(n) in all for fixed K; ranges of
 * <= NSORT_SMALL finish by insertion sort.
 */
static ALWAYS_INLINE void nsort_body(uint64_t *a, uint64_t *t, size_t n, unsigned d, int flip,
                                     uint32_t *big, const unsigned K,
                                     void (*self)(uint64_t *, uint64_t *, size_t, unsigned, int,
                                                  uint32_t *))
{
    const unsigned S = K + 1;
    while (n > NSORT_SMALL && d < 8 * K) {
        unsigned word = d / 8, shift;
        if (big) {
            /* First level of a large sort: skip the bytes every entry
             * agrees on, then distribute on one 16-bit digit. */
            uint64_t x0 = a[word], diff = 0;
            for (size_t i = 1; i < n; i++) diff |= a[i * S + word] ^ x0;
            diff &= ~0ULL >> (8 * (d % 8));
            if (!diff) {
                d = (word + 1) * 8;
                continue;
            }
            d = word * 8 + (unsigned)__builtin_clzll(diff) / 8;
        }
        shift = 56 - 8 * (d % 8);
        if (big && d % 8 < 7) {
            shift -= 8;
            memset(big, 0, 65536 * sizeof *big);
            for (size_t i = 0; i < n; i++) big[(a[i * S + word] >> shift) & 0xFFFF]++;
            uint32_t sum = 0;
            for (uint32_t k = 0; k < 65536; k++) {
                uint32_t c = big[k];
                big[k] = sum;
                sum += c;
            }
            for (size_t i = 0; i < n; i++)
                memcpy(t + (size_t)big[(a[i * S + word] >> shift) & 0xFFFF]++ * S, a + i * S,
                       S * 8);
            uint32_t start = 0;
            for (uint32_t k = 0; k < 65536; k++) {
                uint32_t cnt = big[k] - start;
                if (cnt)
                    self(t + (size_t)start * S, a + (size_t)start * S, cnt, d + 2, !flip, NULL);
                start = big[k];
            }
            return;
        }
        uint32_t pos[256] = {0};
        for (size_t i = 0; i < n; i++) pos[(a[i * S + word] >> shift) & 0xFF]++;
        if (pos[(a[word] >> shift) & 0xFF] == n) {
            /* The range agrees on byte d: skip it and the agreeing bytes after. */
            uint64_t x0 = a[word], diff = 0;
            for (size_t i = 1; i < n; i++) diff |= a[i * S + word] ^ x0;
            diff &= ~0ULL >> (8 * (d % 8));
            d = diff ? word * 8 + (unsigned)__builtin_clzll(diff) / 8 : (word + 1) * 8;
            continue;
        }
        uint32_t sum = 0;
        for (int k = 0; k < 256; k++) {
            uint32_t c = pos[k];
            pos[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            memcpy(t + (size_t)pos[(a[i * S + word] >> shift) & 0xFF]++ * S, a + i * S, S * 8);
        /* pos[k] is now the end of bucket k. */
        uint32_t start = 0;
        for (int k = 0; k < 256; k++) {
            uint32_t cnt = pos[k] - start;
            if (cnt) self(t + (size_t)start * S, a + (size_t)start * S, cnt, d + 1, !flip, NULL);
            start = pos[k];
        }
        return;
    }
    if (n > 1 && d < 8 * K) nsort_insertion(a, n, d / 8, K);
    if (flip) memcpy(t, a, n * S * 8);
}

#define NSORT_DEFINE(K)                                                                            \
    static void nsort##K(uint64_t *a, uint64_t *t, size_t n, unsigned d, int flip, uint32_t *big)  \
    {                                                                                              \
        nsort_body(a, t, n, d, flip, big, K, nsort##K);                                            \
    }
NSORT_DEFINE(1)
NSORT_DEFINE(2)
NSORT_DEFINE(3)
NSORT_DEFINE(4)

/* The four order words of record @i. */
static ALWAYS_INLINE void nwords(const tide_batch *b, size_t i, const uint32_t kw,
                                 const uint32_t vw, uint64_t w[4])
{
    uint8_t buf[16] = {0};
    memcpy(buf, b->key.bytes + i * kw, kw);
    if (vw) memcpy(buf + kw, b->val.bytes + i * vw, vw);
    w[0] = tide_u64_load(buf);
    w[1] = tide_u64_load(buf + 8);
    w[2] = b->times[i].epoch;
    w[3] = (uint64_t)b->times[i].iter[0] << 32 | b->times[i].iter[1];
}

static ALWAYS_INLINE void nemit(tide_batch *b, uint32_t j, const uint64_t w[4], const uint32_t kw,
                                const uint32_t vw, uint64_t diff)
{
    uint8_t buf[16];
    tide_u64_store(buf, w[0]);
    tide_u64_store(buf + 8, w[1]);
    memcpy(b->key.bytes + (size_t)j * kw, buf, kw);
    if (vw) memcpy(b->val.bytes + (size_t)j * vw, buf + kw, vw);
    b->times[j] = (tide_time){w[2], {(uint32_t)(w[3] >> 32), (uint32_t)w[3]}};
    b->diffs[j] = (int64_t)diff;
}

static ALWAYS_INLINE int cons_narrow(tide_batch *b, const uint32_t kw, const uint32_t vw)
{
    size_t n = b->len;
    uint64_t w0[4], w[4], vary[4] = {0};
    nwords(b, 0, kw, vw, w0);
    for (size_t i = 1; i < n; i++) {
        nwords(b, i, kw, vw, w);
        for (int k = 0; k < 4; k++) vary[k] |= w[k] ^ w0[k];
    }
    unsigned K = 0, which[4];
    for (unsigned k = 0; k < 4; k++)
        if (vary[k]) which[K++] = k;
    const unsigned S = K + 1;

    size_t words = 2 * n * S, bigsz = n >= NSORT_WIDE_MIN ? 65536 : 0;
    uint64_t *e = tide_alloc(words * 8 + bigsz * sizeof(uint32_t));
    if (!e) return TIDE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        nwords(b, i, kw, vw, w);
        for (unsigned k = 0; k < K; k++) e[i * S + k] = w[which[k]];
        e[i * S + K] = (uint64_t)b->diffs[i];
    }
    uint32_t *big = bigsz ? (uint32_t *)(e + words) : NULL;
    /* clang-format off */
    switch (K) {
    case 1: nsort1(e, e + n * S, n, 0, 0, big); break;
    case 2: nsort2(e, e + n * S, n, 0, 0, big); break;
    case 3: nsort3(e, e + n * S, n, 0, 0, big); break;
    case 4: nsort4(e, e + n * S, n, 0, 0, big); break;
    default: break; /* K == 0: every update is the same triple */
    }
    /* clang-format on */
    uint32_t j = 0;
    memcpy(w, w0, sizeof w);
    int rc = TIDE_OK;
    for (size_t i = 0; i < n;) {
        /* Exact sums: a total past int64 is an error, whatever the order
         * of its terms (MAX + 2 - 5 is fine, MAX + 2 is not). */
        __int128 sum = (int64_t)e[i * S + K];
        size_t k = i + 1;
        while (k < n && !nent_cmp(e + i * S, e + k * S, 0, K)) sum += (int64_t)e[k++ * S + K];
        if (__builtin_expect(sum > INT64_MAX || sum < INT64_MIN, 0)) {
            rc = TIDE_ERANGE;
            break;
        }
        if (sum) {
            for (unsigned q = 0; q < K; q++) w[which[q]] = e[i * S + q];
            nemit(b, j++, w, kw, vw, (uint64_t)(int64_t)sum);
        }
        i = k;
    }
    b->len = j;
    tide_free(e);
    return rc;
}

/* ======================== Consolidate: general ==================== */

/*
 * Any other layout (variable or wide columns): sort 16-byte entries of
 * (key prefix, index) by merge sort, comparing the 8-byte big-endian key
 * prefix first and the full records only on a tie; then gather the
 * surviving records into fresh columns. The prefix is zero padded, which
 * never contradicts the byte order (a key that ends early either ties on
 * the prefix or is a prefix of the other, hence smaller).
 */
typedef struct gent {
    uint64_t prefix; /* first 8 key bytes, big-endian, zero padded */
    uint32_t idx;    /* record index in the batch */
    uint32_t pad;
} gent;

static int gent_cmp(const tide_batch *b, const gent *x, const gent *y)
{
    if (x->prefix != y->prefix) return x->prefix < y->prefix ? -1 : 1;
    int c = tide_batch_cmp(b, x->idx, b, y->idx);
    if (c) return c;
    return tide_time_cmp(b->times[x->idx], b->times[y->idx]);
}

/* Stable merge sort of @a[0..n) using @tmp[0..n); small runs by insertion. */
static void gsort(const tide_batch *b, gent *a, gent *tmp, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            gent x = a[i];
            size_t j = i;
            while (j > 0 && gent_cmp(b, &a[j - 1], &x) > 0) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    gsort(b, a, tmp, h);
    gsort(b, a + h, tmp + h, n - h);
    if (gent_cmp(b, &a[h - 1], &a[h]) <= 0) return; /* already in order */
    memcpy(tmp, a, h * sizeof *a);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) a[k++] = gent_cmp(b, &a[j], &tmp[i]) < 0 ? a[j++] : tmp[i++];
    while (i < h) a[k++] = tmp[i++];
}

static int cons_general(tide_batch *b)
{
    size_t n = b->len, sz;
    tide_batch nb = *b; /* the new columns, installed only on success */
    uint8_t *blk = NULL, *kheap = NULL, *vheap = NULL;
    gent *ents = tide_alloc(2 * n * sizeof(gent));
    if (!ents) return TIDE_ENOMEM;
    if (arrays_size(b->layout, b->flags, b->cap, &sz) < 0) goto fail;
    if (!(blk = tide_alloc(sz))) goto fail;
    if (b->key.width == VAR && b->key.heap_len && !(kheap = tide_alloc(b->key.heap_len))) goto fail;
    if (b->val.width == VAR && b->val.heap_len && !(vheap = tide_alloc(b->val.heap_len))) goto fail;

    for (size_t i = 0; i < n; i++) {
        uint32_t kl;
        const uint8_t *k = tide_batch_key(b, (uint32_t)i, &kl);
        uint8_t buf[8] = {0};
        memcpy(buf, k, kl < 8 ? kl : 8);
        ents[i].prefix = tide_u64_load(buf);
        ents[i].idx = (uint32_t)i;
        ents[i].pad = 0;
    }
    gsort(b, ents, ents + n, n);

    arrays_place(&nb, blk, b->cap);
    if (kheap) nb.key.bytes = kheap, nb.key.heap_cap = b->key.heap_len;
    if (vheap) nb.val.bytes = vheap, nb.val.heap_cap = b->val.heap_len;
    if (nb.key.width == VAR) nb.key.heap_len = nb.key.offs[0] = 0;
    if (nb.val.width == VAR) nb.val.heap_len = nb.val.offs[0] = 0;
    if (!kheap && nb.key.width == VAR) nb.key.bytes = empty_heap, nb.key.heap_cap = 0;
    if (!vheap && nb.val.width == VAR) nb.val.bytes = empty_heap, nb.val.heap_cap = 0;

    uint32_t j = 0;
    int rc = TIDE_OK;
    for (size_t i = 0; i < n;) {
        __int128 sum = b->diffs[ents[i].idx]; /* exact, as in cons_narrow */
        size_t k = i + 1;
        while (k < n && !gent_cmp(b, &ents[i], &ents[k])) sum += b->diffs[ents[k++].idx];
        if (__builtin_expect(sum > INT64_MAX || sum < INT64_MIN, 0)) {
            rc = TIDE_ERANGE;
            break;
        }
        if (sum) {
            uint32_t r = ents[i].idx, kl, vl;
            const uint8_t *kp = tide_batch_key(b, r, &kl), *vp = tide_batch_val(b, r, &vl);
            col_put(&nb.key, j, kp, kl);
            col_put(&nb.val, j, vp, vl);
            nb.times[j] = b->times[r];
            nb.diffs[j] = (int64_t)sum;
            j++;
        }
        i = k;
    }
    nb.len = j;
    tide_free(ents);
    if (rc < 0) { /* the batch stays as it was */
        tide_free(vheap);
        tide_free(kheap);
        tide_free(blk);
        return rc;
    }

    col_free_heap(&b->key);
    col_free_heap(&b->val);
    tide_free(impl(b)->arrays);
    impl(b)->arrays = blk;
    b->len = nb.len;
    b->key = nb.key;
    b->val = nb.val;
    b->times = nb.times;
    b->diffs = nb.diffs;
    return TIDE_OK;

fail:
    tide_free(vheap);
    tide_free(kheap);
    tide_free(blk);
    tide_free(ents);
    return TIDE_ENOMEM;
}

int tide_batch_consolidate(tide_batch *b)
{
    if (!(b->flags & TIDE_BATCH_UPDATES)) return TIDE_EINVAL;
    if (b->len <= 1) {
        if (b->len == 1 && b->diffs[0] == 0) tide_batch_clear(b);
        return TIDE_OK;
    }
    uint32_t kw = b->key.width, vw = b->val.width;
    if (kw != VAR && vw != VAR && (uint64_t)kw + vw <= 16) {
        /* clang-format off */
        if (kw == 8 && vw == 0)  return cons_narrow(b, 8, 0);
        if (kw == 8 && vw == 8)  return cons_narrow(b, 8, 8);
        if (kw == 16 && vw == 0) return cons_narrow(b, 16, 0);
        if (kw == 4 && vw == 4)  return cons_narrow(b, 4, 4);
        if (kw == 4 && vw == 0)  return cons_narrow(b, 4, 0);
        return cons_narrow(b, kw, vw);
        /* clang-format on */
    }
    return cons_general(b);
}
