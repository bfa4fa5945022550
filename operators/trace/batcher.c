/*
 * batcher.c - cuts a stream of unsorted update batches into trace batches by
 * frontier.
 *
 * push() takes a reference to the caller's batch and, while the batch is
 * still in cache, notes which bits of its updates vary (pend_stats). seal(upper)
 * sorts everything pushed since the last seal once, consolidates it, then
 * walks it in a two-way merge with the kept-back remainder, which is itself a
 * sorted trie (a tide_trace_batch). Each merged update goes to the sealed
 * batch (time not beyond upper) or to the new remainder. Both builders are
 * sized by a counting pass first, so after the allocations nothing can fail:
 * seal is all-or-nothing.
 *
 * Fixed layouts whose key and val fit in 16 bytes (the integer workloads)
 * never sort bytes. An update's order words (key||val as two big-endian
 * words, epoch, loop counters) are cut to the bits that vary over the seal
 * and concatenated with diff - min into one word, or two when more varies:
 *
 *   2M edges (src, dst) between 1M nodes, at one time, diffs +1:
 *     key 00 00 00 00 00 0f 42 3f   val 00 00 00 00 00 03 d0 90
 *                       |20 bits|                     |20 bits|
 *     packed u64: [ 24 zero bits | src: 20 | dst: 20 ]   time, diff: 0 bits
 *
 * Sorting those words: one pass over the pending batches counts a top digit
 * (about n / 1024 buckets) from the key column alone, a second packs every
 * update straight into its bucket, and each bucket, in cache, is finished by
 * 8-bit MSD radix and insertion sort. The walk consolidates runs equal above
 * the diff field and sees key and val changes by comparing words. Memory: 8
 * or 16 bytes per update plus the largest bucket as scratch. Other layouts,
 * or more than 128 varying bits, sort 64-byte entries with 8-byte prefixes.
 *
 * Diffs of equal (key, val, time) are summed exactly (diff.h): a total past
 * int64 makes seal fail with TIDE_ERANGE, the batcher unchanged. Packed runs
 * are summed in wrapping u64 and checked only when the seal's diffs could
 * overflow at all (n * max |d| past int64), which ordinary workloads never
 * reach; general entries record the rare overflowing total on the side.
 */
#include <assert.h>
#include <string.h>

#include "diff.h"
#include "tide/alloc.h"
#include "tide/error.h"
#include "trace/trace_int.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

typedef unsigned __int128 u128;

/*
 * What varies among the pushed updates with a non-zero diff, gathered by
 * push while each batch is still in cache. An update's order words are
 * key||val read big-endian into two words (packable layouts only, else 0),
 * its epoch, and iter[0] << 32 | iter[1]: word by word, their unsigned
 * order is the (key, val, time) order.
 */
typedef struct pend_stats {
    uint64_t nz;        /* pushed updates with a non-zero diff */
    uint64_t ref[4];    /* order words of the first of them */
    uint64_t vary[4];   /* OR over all of them of (order words ^ ref) */
    int64_t dmin, dmax; /* range of their diffs */
} pend_stats;

struct tide_batcher {
    tide_layout layout;
    bool packable;          /* fixed key and val of <= 16 bytes together */
    tide_batch **pending;   /* pushed since the last seal, one reference each */
    uint32_t npending;      /* batches in pending */
    uint32_t cap;           /* capacity of pending */
    uint64_t pending_len;   /* records in pending batches */
    pend_stats st;          /* of the pending updates */
    tide_trace_batch *kept; /* sorted, consolidated remainder; NULL when none */
    tide_antichain lower;   /* lower of the next sealed batch */
};

/* ======================================================================== */
/* Lifetime                                                                 */
/* ======================================================================== */

tide_batcher *tide_batcher_new(tide_layout layout)
{
    tide_batcher *b = tide_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->layout = layout;
    b->packable = layout.key_width != TIDE_VAR && layout.val_width != TIDE_VAR &&
                  (uint64_t)layout.key_width + layout.val_width <= 16;
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
    memset(&b->st, 0, sizeof b->st);
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

/* ======================================================================== */
/* Order words                                                              */
/* ======================================================================== */

static inline uint64_t iter_word(tide_time t)
{
    return (uint64_t)t.iter[0] << 32 | t.iter[1];
}

/* The time of order words @w. */
static inline tide_time words_time(const uint64_t w[4])
{
    return (tide_time){w[2], {(uint32_t)(w[3] >> 32), (uint32_t)w[3]}};
}

/* The two data words of record @r of fixed columns @kb / @vb: key||val,
 * big-endian, zero padded. Constant @kw / @vw make the common widths single
 * loads. */
static ALWAYS_INLINE void data_words(const uint8_t *kb, const uint8_t *vb, uint32_t r,
                                     const uint32_t kw, const uint32_t vw, uint64_t w[2])
{
    if (kw == 8 && (vw == 8 || vw == 0)) {
        w[0] = tide_u64_load(kb + (size_t)r * 8);
        w[1] = vw ? tide_u64_load(vb + (size_t)r * 8) : 0;
        return;
    }
    uint8_t buf[16] = {0};
    memcpy(buf, kb + (size_t)r * kw, kw);
    if (vw) memcpy(buf + kw, vb + (size_t)r * vw, vw);
    w[0] = tide_u64_load(buf);
    w[1] = tide_u64_load(buf + 8);
}

/* The order words of record @r of @s (data words only when @data). */
static ALWAYS_INLINE void order_words(const tide_batch *s, uint32_t r, const bool data,
                                      const uint32_t kw, const uint32_t vw, uint64_t w[4])
{
    w[0] = w[1] = 0;
    if (data) data_words(s->key.bytes, s->val.bytes, r, kw, vw, w);
    w[2] = s->times[r].epoch;
    w[3] = iter_word(s->times[r]);
}

/* Fold the updates of @s into @st; @data: also the data words (packable
 * layouts of widths @kw / @vw). */
static ALWAYS_INLINE void stats_body(pend_stats *st, const tide_batch *s, const bool data,
                                     const uint32_t kw, const uint32_t vw)
{
    uint32_t r = 0, len = s->len;
    const int64_t *diffs = s->diffs;
    if (st->nz == 0) {
        while (r < len && diffs[r] == 0) r++;
        if (r == len) return;
        order_words(s, r, data, kw, vw, st->ref);
        st->dmin = st->dmax = diffs[r];
    }
    uint64_t ref[4], vary[4] = {0}, nz = 0;
    int64_t dmin = st->dmin, dmax = st->dmax;
    memcpy(ref, st->ref, sizeof ref);
    for (; r < len; r++) {
        int64_t d = diffs[r];
        if (d == 0) continue;
        uint64_t w[4];
        order_words(s, r, data, kw, vw, w);
        vary[0] |= w[0] ^ ref[0], vary[1] |= w[1] ^ ref[1];
        vary[2] |= w[2] ^ ref[2], vary[3] |= w[3] ^ ref[3];
        dmin = d < dmin ? d : dmin;
        dmax = d > dmax ? d : dmax;
        nz++;
    }
    for (int k = 0; k < 4; k++) st->vary[k] |= vary[k];
    st->dmin = dmin;
    st->dmax = dmax;
    st->nz += nz;
}

static void stats_add(tide_batcher *b, const tide_batch *s)
{
    uint32_t kw = b->layout.key_width, vw = b->layout.val_width;
    if (!b->packable)
        stats_body(&b->st, s, false, 0, 0);
    else if (kw == 8 && vw == 8)
        stats_body(&b->st, s, true, 8, 8);
    else if (kw == 8 && vw == 0)
        stats_body(&b->st, s, true, 8, 0);
    else
        stats_body(&b->st, s, true, kw, vw);
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
    stats_add(b, batch);
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
    const pend_stats *st = &b->st;
    if (st->nz && !st->vary[2] && !st->vary[3]) {
        /* Every pending update has the same time. */
        TIDE_TRY(tide_antichain_insert(out, words_time(st->ref)));
    } else if (st->nz) {
        tide_time last = TIDE_TIME_ZERO;
        bool any = false;
        for (uint32_t i = 0; i < b->npending; i++) {
            const tide_batch *p = b->pending[i];
            for (uint32_t r = 0; r < p->len; r++) {
                if (p->diffs[r] == 0 || (any && tide_time_eq(p->times[r], last))) continue;
                last = p->times[r], any = true;
                TIDE_TRY(tide_antichain_insert(out, last));
            }
        }
    }
    if (b->kept)
        for (uint32_t u = 0; u < b->kept->nupds; u++)
            TIDE_TRY(tide_antichain_insert(out, b->kept->upds[u].time));
    return TIDE_OK;
}

/* ======================================================================== */
/* Sorted updates                                                           */
/* ======================================================================== */

/* Whether a time is beyond the seal's upper (kept back), remembering the
 * last answer: the times of one seal are mostly one or a few. */
typedef struct router {
    const tide_antichain *upper;
    tide_time last;
    bool have, beyond;
} router;

static inline bool route(router *ro, tide_time t)
{
    if (!ro->have || !tide_time_eq(t, ro->last)) {
        ro->beyond = tide_antichain_less_equal(ro->upper, t);
        ro->last = t;
        ro->have = true;
    }
    return ro->beyond;
}

/* One consolidated update of the sorted pushed ones, as the walk reads it. */
typedef struct rec {
    const uint8_t *k, *v; /* the bytes: into buf, or inside a pending batch */
    uint32_t kl, vl;
    tide_time t;
    tide__diff_sum d; /* exact: may be out of range until the kept remainder adds in */
    uint8_t buf[16];  /* key and val rebuilt from sort words */
} rec;

/*
 * How packed updates are laid out. Of each order word only the span of bits
 * that varies over the seal is kept, [lo, lo + width); the spans of words
 * 0..3 and then the diff minus its minimum are concatenated, most
 * significant first, into one (W = 1) or two (W = 2) words. Every bit
 * outside a span is the same in all updates (base), so unpacking is exact,
 * and the packed words order like (key, val, time, diff): equal (key, val,
 * time) triples are neighbours after sorting and differ only below bit
 * dbits.
 */
typedef struct pack_plan {
    uint64_t mask[4]; /* span of word k shifted down to bit 0; 0 when constant */
    uint8_t lo[4];    /* lowest bit of the span in word k */
    uint8_t pos[4];   /* lowest bit of the span in the packed key */
    uint64_t base[4]; /* order words with their spans cleared */
    int64_t dmin;     /* the diff field holds d - dmin */
    bool checked;     /* a run's sum may leave int64: count its wraps */
    unsigned bits;    /* width of the packed key */
    unsigned dbits;   /* width of the diff field (bits 0..dbits) */
    uint32_t kw, vw;  /* layout */
} pack_plan;

/* A consolidated general entry whose exact sum left int64 (rare). */
typedef struct ent_wrap {
    size_t i;      /* its index among the consolidated entries */
    int64_t wraps; /* see tide__diff_sum */
} ent_wrap;

/* The sorted pushed updates: packed words, or general entries. */
typedef struct sorted {
    bool packed;
    unsigned W;        /* packed: words per update */
    const uint64_t *e; /* packed: n * W words, sorted */
    struct ent *ents;  /* general: n entries, sorted and consolidated */
    size_t n, r;       /* count, read position */
    ent_wrap *wr;      /* general: the out-of-range sums, by index (tide_alloc'd) */
    size_t nwr, wi;    /* their count, and the next to meet while reading */
    pack_plan pl;
} sorted;

/* ------------------------------------------------------------------------ */
/* Packed updates                                                           */
/* ------------------------------------------------------------------------ */

static inline unsigned span_width(uint64_t vary, unsigned *lo)
{
    if (!vary) return *lo = 0, 0;
    *lo = (unsigned)__builtin_ctzll(vary);
    return 64 - (unsigned)__builtin_clzll(vary) - *lo;
}

/* The plan for @st; false when the varying bits exceed two words. */
static bool plan_make(const pend_stats *st, tide_layout lay, pack_plan *pl)
{
    memset(pl, 0, sizeof *pl);
    pl->kw = lay.key_width;
    pl->vw = lay.val_width;
    pl->dmin = st->dmin;
    /* No run of nz diffs can sum past int64 when nz * max |d| fits. */
    uint64_t amin = st->dmin < 0 ? -(uint64_t)st->dmin : (uint64_t)st->dmin;
    uint64_t amax = st->dmax < 0 ? -(uint64_t)st->dmax : (uint64_t)st->dmax;
    pl->checked = (u128)st->nz * (amin > amax ? amin : amax) > (u128)INT64_MAX;
    uint64_t range = (uint64_t)st->dmax - (uint64_t)st->dmin;
    unsigned width[4], lo[4], bits = pl->dbits = range ? 64 - (unsigned)__builtin_clzll(range) : 0;
    for (int k = 0; k < 4; k++) bits += width[k] = span_width(st->vary[k], &lo[k]);
    if (bits > 128) return false;
    pl->bits = bits;
    for (int k = 0; k < 4; k++) {
        uint64_t m = width[k] == 64 ? ~0ULL : (1ULL << width[k]) - 1;
        pl->base[k] = st->ref[k] & ~(m << lo[k]);
        if (!width[k]) continue;
        bits -= width[k];
        pl->mask[k] = m;
        pl->lo[k] = (uint8_t)lo[k];
        pl->pos[k] = (uint8_t)bits;
    }
    return true;
}

/* The packed key of entry @i. */
static ALWAYS_INLINE u128 pk_key(const uint64_t *e, size_t i, const unsigned W)
{
    if (W == 1) return e[i];
    return (u128)e[2 * i + 1] << 64 | e[2 * i];
}

/* Digit of entry @i: @m bits from bit @s. */
static ALWAYS_INLINE uint32_t pk_digit(const uint64_t *e, size_t i, unsigned s, uint64_t m,
                                       const unsigned W)
{
    if (W == 1) return (uint32_t)((e[i] >> s) & m);
    return (uint32_t)((uint64_t)(pk_key(e, i, 2) >> s) & m);
}

/*
 * One pass over the non-zero updates of @s: count their top digits (the
 * packed key's bits from @shift up) in @pos, or, with @e, store each packed
 * key at e[pos[digit]++]. The plan is copied into locals so that the stores
 * cannot alias it.
 */
static ALWAYS_INLINE void pack_pass(const pack_plan *pl, const tide_batch *s, unsigned shift,
                                    uint64_t *e, uint32_t *pos, const uint32_t kw,
                                    const uint32_t vw, const unsigned W)
{
    uint64_t mask[4], lo[4], at[4], dmin = (uint64_t)pl->dmin;
    for (int k = 0; k < 4; k++) mask[k] = pl->mask[k], lo[k] = pl->lo[k], at[k] = pl->pos[k];
    const uint8_t *kb = s->key.bytes, *vb = s->val.bytes;
    const tide_time *times = s->times;
    const int64_t *diffs = s->diffs;
    bool tv = mask[2] | mask[3]; /* times vary: rare within a seal */
    for (uint32_t r = 0, len = s->len; r < len; r++) {
        int64_t d = diffs[r];
        if (d == 0) continue;
        uint64_t w[4];
        data_words(kb, vb, r, kw, vw, w);
        w[2] = times[r].epoch;
        w[3] = iter_word(times[r]);
        uint64_t x[2];
        uint32_t dg;
        /* Explicit fields: a loop here stays a loop, with the plan in memory. */
#define FIELD(T, k) ((T)((w[k] >> lo[k]) & mask[k]) << at[k])
        if (W == 1) {
            x[0] = ((uint64_t)d - dmin) | FIELD(uint64_t, 0) | FIELD(uint64_t, 1);
            if (tv) x[0] |= FIELD(uint64_t, 2) | FIELD(uint64_t, 3);
            dg = (uint32_t)(shift < 64 ? x[0] >> shift : 0);
        } else {
            u128 y = ((uint64_t)d - dmin) | FIELD(u128, 0) | FIELD(u128, 1);
            if (tv) y |= FIELD(u128, 2) | FIELD(u128, 3);
#undef FIELD
            x[0] = (uint64_t)y;
            x[1] = (uint64_t)(y >> 64);
            dg = (uint32_t)(shift < 128 ? (uint64_t)(y >> shift) : 0);
        }
        if (e)
            memcpy(e + (size_t)pos[dg]++ * W, x, W * 8);
        else
            pos[dg]++;
    }
}

#define PACK_DEFINE(name, KW, VW, W)                                                               \
    static void name(const pack_plan *pl, const tide_batch *s, unsigned shift, uint64_t *e,        \
                     uint32_t *pos)                                                                \
    {                                                                                              \
        pack_pass(pl, s, shift, e, pos, KW, VW, W);                                                \
    }
PACK_DEFINE(pack_8_8_w1, 8, 8, 1)
PACK_DEFINE(pack_8_0_w1, 8, 0, 1)
PACK_DEFINE(pack_any_w1, pl->kw, pl->vw, 1)
PACK_DEFINE(pack_8_8_w2, 8, 8, 2)
PACK_DEFINE(pack_8_0_w2, 8, 0, 2)
PACK_DEFINE(pack_any_w2, pl->kw, pl->vw, 2)

/* Count in @pos the digits (word @k >> @sh) & @m of the non-zero updates of
 * @s: the top digits when they lie in one order word. */
static void count_top(const tide_batch *s, unsigned k, unsigned sh, uint32_t m, uint32_t *pos)
{
    uint32_t kw = s->key.width, vw = s->val.width;
    const int64_t *diffs = s->diffs;
    for (uint32_t r = 0, len = s->len; r < len; r++) {
        if (diffs[r] == 0) continue;
        uint64_t x, w[2];
        if (k == 0 && kw >= 8) {
            x = tide_u64_load(s->key.bytes + (size_t)r * kw);
        } else if (k == 1 && kw == 8 && vw >= 8) {
            x = tide_u64_load(s->val.bytes + (size_t)r * vw);
        } else if (k < 2) {
            data_words(s->key.bytes, s->val.bytes, r, kw, vw, w);
            x = w[k];
        } else {
            x = k == 2 ? s->times[r].epoch : iter_word(s->times[r]);
        }
        pos[(x >> sh) & m]++;
    }
}

typedef void pack_fn(const pack_plan *, const tide_batch *, unsigned, uint64_t *, uint32_t *);

static pack_fn *pack_pick(const pack_plan *pl, unsigned W)
{
    if (pl->kw == 8 && pl->vw == 8) return W == 1 ? pack_8_8_w1 : pack_8_8_w2;
    if (pl->kw == 8 && pl->vw == 0) return W == 1 ? pack_8_0_w1 : pack_8_0_w2;
    return W == 1 ? pack_any_w1 : pack_any_w2;
}

#define SORT_SMALL 32 /* insertion sort up to here */
#define TOP_MAX    12 /* bits of the distributing top digit */
#define TOP_BUCKET 10 /* log2 of the entries a top bucket aims at */

static ALWAYS_INLINE void insertion(uint64_t *a, size_t n, const unsigned W)
{
    for (size_t i = 1; i < n; i++) {
        u128 x = pk_key(a, i, W);
        size_t j = i;
        for (; j > 0 && pk_key(a, j - 1, W) > x; j--) memcpy(a + j * W, a + (j - 1) * W, W * 8);
        memcpy(a + j * W, &x, W * 8); /* little-endian: lo word first */
    }
}

/*
 * Sort the @n packed entries of W words at @a, equal above their low @bits,
 * with scratch @t of the same size: MSD radix on 8-bit digits, recursing
 * into each bucket until it is small enough for insertion sort. A digit on
 * which all entries agree costs only its count; entries equal to the last
 * bit are sorted. Each bucket of a seal's top digit is a few thousand
 * entries, so this all happens in cache.
 */
static ALWAYS_INLINE void msd_body(uint64_t *a, uint64_t *t, size_t n, unsigned bits,
                                   const unsigned W,
                                   void (*self)(uint64_t *, uint64_t *, size_t, unsigned))
{
    while (n > SORT_SMALL && bits > 0) {
        unsigned dw = bits < 8 ? bits : 8;
        bits -= dw;
        uint32_t cnt[256] = {0};
        for (size_t i = 0; i < n; i++) cnt[pk_digit(a, i, bits, 0xFF, W)]++;
        if (cnt[pk_digit(a, 0, bits, 0xFF, W)] == n) continue;
        uint32_t end[256], sum = 0;
        for (int k = 0; k < 256; k++) end[k] = sum += cnt[k];
        for (size_t i = n; i-- > 0;) /* backwards, so that end[] ends as starts */
            memcpy(t + (size_t)--end[pk_digit(a, i, bits, 0xFF, W)] * W, a + i * W, W * 8);
        memcpy(a, t, n * W * 8);
        for (int k = 0; k < 256; k++)
            if (cnt[k] > 1) self(a + (size_t)end[k] * W, t, cnt[k], bits);
        return;
    }
    if (bits > 0) insertion(a, n, W);
}

static void msd1(uint64_t *a, uint64_t *t, size_t n, unsigned bits)
{
    msd_body(a, t, n, bits, 1, msd1);
}

static void msd2(uint64_t *a, uint64_t *t, size_t n, unsigned bits)
{
    msd_body(a, t, n, bits, 2, msd2);
}

/*
 * Pack and sort the pending updates of @b into @s. @mem gets the one
 * allocation. TIDE_OK, TIDE_ENOMEM, or 1 when the varying bits do not fit
 * two words (use the general path).
 *
 * A first pass over the pending batches counts the top digit (about
 * n / 1024 buckets), a second packs every update straight into its bucket,
 * and msd_body sorts each bucket in place with a scratch array of the
 * largest bucket's size. Memory: 8 or 16 bytes per update, plus that
 * scratch: no second array of n entries.
 */
static int sort_packed(const tide_batcher *b, sorted *s, void **mem)
{
    pack_plan *pl = &s->pl;
    if (!plan_make(&b->st, b->layout, pl)) return 1;
    unsigned W = pl->bits <= 64 ? 1 : 2;
    size_t n = b->st.nz;
    if (n > UINT32_MAX) return TIDE_ENOMEM; /* bucket positions are u32, like trace batches */
    unsigned lg = 64 - (unsigned)__builtin_clzll(n), top = lg > TOP_BUCKET ? lg - TOP_BUCKET : 0;
    if (top > TOP_MAX) top = TOP_MAX;
    if (top > pl->bits) top = pl->bits;
    size_t nb = (size_t)1 << top;
    unsigned shift = pl->bits - top; /* of the top digit (64 or more: digit 0) */
    uint32_t pos[((size_t)1 << TOP_MAX) + 1];
    pack_fn *pass = pack_pick(pl, W);

    memset(pos, 0, nb * sizeof *pos);
    unsigned k0 = 0;
    while (k0 < 4 && !pl->mask[k0]) k0++;
    if (top == 0) {
        pos[0] = (uint32_t)n;
    } else if (k0 < 4 && top <= pl->bits - pl->pos[k0]) {
        /* The top digit lies in word k0's span: count it from that word. */
        unsigned sh = pl->lo[k0] + (pl->bits - pl->pos[k0]) - top;
        for (uint32_t p = 0; p < b->npending; p++)
            count_top(b->pending[p], k0, sh, (uint32_t)nb - 1, pos);
    } else {
        for (uint32_t p = 0; p < b->npending; p++) pass(pl, b->pending[p], shift, NULL, pos);
    }
    size_t maxb = 0;
    uint32_t sum = 0;
    for (size_t k = 0; k < nb; k++) {
        uint32_t c = pos[k];
        pos[k] = sum;
        sum += c;
        maxb = c > maxb ? c : maxb;
    }
    assert(sum == n);
    size_t scratch = maxb > SORT_SMALL ? maxb * W : 0;
    uint64_t *e = tide_alloc((n * W + scratch) * sizeof *e);
    if (!e) return TIDE_ENOMEM;
    *mem = e;
    for (uint32_t p = 0; p < b->npending; p++) pass(pl, b->pending[p], shift, e, pos);
    /* pos[k] is now the end of bucket k. */
    for (size_t k = 0, lo = 0; k < nb; lo = pos[k++]) {
        if (pos[k] - lo < 2) continue;
        if (W == 1)
            msd1(e + lo, e + n, pos[k] - lo, shift);
        else
            msd2(e + 2 * lo, e + 2 * n, pos[k] - lo, shift);
    }
    s->packed = true;
    s->W = W;
    s->e = e;
    s->n = n;
    return TIDE_OK;
}

/* The order words of packed entry @i of @e. */
static ALWAYS_INLINE void unpack(const pack_plan *pl, const uint64_t *e, size_t i, const unsigned W,
                                 uint64_t w[4])
{
#define WORD(x, k) (pl->base[k] | ((uint64_t)((x) >> pl->pos[k]) & pl->mask[k]) << pl->lo[k])
    bool times = pl->mask[2] | pl->mask[3]; /* mostly constant over a seal */
    if (W == 1) {
        uint64_t x = e[i]; /* 64-bit shifts: every pos is below 64 */
        w[0] = WORD(x, 0), w[1] = WORD(x, 1);
        w[2] = times ? WORD(x, 2) : pl->base[2], w[3] = times ? WORD(x, 3) : pl->base[3];
    } else {
        u128 x = pk_key(e, i, 2);
        w[0] = WORD(x, 0), w[1] = WORD(x, 1);
        w[2] = times ? WORD(x, 2) : pl->base[2], w[3] = times ? WORD(x, 3) : pl->base[3];
    }
#undef WORD
}

/* The diff of packed entry @i. */
static ALWAYS_INLINE int64_t pk_diff(const pack_plan *pl, const uint64_t *e, size_t i,
                                     const unsigned W)
{
    uint64_t dmask = pl->dbits == 64 ? ~0ULL : (1ULL << pl->dbits) - 1;
    uint64_t lo = W == 1 ? e[i] : e[2 * i]; /* the diff field is in the low word */
    return (int64_t)((uint64_t)pl->dmin + (lo & dmask));
}

/* The wraps of the exact sum of the diffs of entries [@r0, @r1). */
static int64_t pk_wraps(const pack_plan *pl, const uint64_t *e, size_t r0, size_t r1,
                        const unsigned W)
{
    tide__diff_sum s = {0, 0};
    for (size_t i = r0; i < r1; i++) tide__diff_sum_add(&s, pk_diff(pl, e, i, W));
    return s.wraps;
}

/* The end of the run of entries of @e (@n in all) from @r that differ from
 * it only in the diff field, and the exact sum of their diffs in @sum: in
 * unsigned arithmetic (wrapping, never undefined), with the wraps counted
 * only when @chk (the plan says a sum could leave int64; a constant, so the
 * common unchecked walk carries no trace of it). */
static ALWAYS_INLINE size_t pk_run(const pack_plan *pl, const uint64_t *e, size_t n, size_t r,
                                   tide__diff_sum *sum, const unsigned W, const bool chk)
{
    uint64_t dmin = (uint64_t)pl->dmin, acc;
    size_t r0 = r;
    if (W == 1) {
        uint64_t dmask = pl->dbits == 64 ? ~0ULL : (1ULL << pl->dbits) - 1, x = e[r];
        for (acc = dmin + (x & dmask); ++r < n && (x ^ e[r]) <= dmask;)
            acc += dmin + (e[r] & dmask);
    } else {
        u128 dmask = ((u128)1 << pl->dbits) - 1, x = pk_key(e, r, 2);
        for (acc = dmin + (uint64_t)(x & dmask); ++r < n && (x ^ pk_key(e, r, 2)) <= dmask;)
            acc += dmin + (uint64_t)(pk_key(e, r, 2) & dmask);
    }
    sum->v = (int64_t)acc;
    sum->wraps = chk && r - r0 > 1 ? pk_wraps(pl, e, r0, r, W) : 0;
    return r;
}

/* The next consolidated packed update (runs summing to zero skipped). */
static ALWAYS_INLINE bool pk_next(sorted *s, rec *u, const unsigned W, const bool chk)
{
    const pack_plan *pl = &s->pl;
    while (s->r < s->n) {
        size_t r = s->r;
        uint64_t w[4];
        tide__diff_sum sum;
        s->r = pk_run(pl, s->e, s->n, r, &sum, W, chk);
        if (sum.v == 0 && sum.wraps == 0) continue;
        unpack(pl, s->e, r, W, w);
        tide_u64_store(u->buf, w[0]);
        tide_u64_store(u->buf + 8, w[1]);
        u->k = u->buf;
        u->kl = pl->kw;
        u->v = u->buf + pl->kw;
        u->vl = pl->vw;
        u->t = words_time(w);
        u->d = sum;
        return true;
    }
    return false;
}

/* One output of the packed walk: a builder and what it last received. */
typedef struct pk_side {
    tide__builder *bl;
    uint64_t w0, w1; /* data words of the open val, if any */
} pk_side;

/*
 * Build the two batches from the sorted packed updates alone (no kept-back
 * remainder to merge): keys and vals open and close by comparing data words
 * under the key's mask, with no byte comparisons. @sides[1] takes the
 * updates beyond the upper.
 */
static ALWAYS_INLINE void pk_build(const sorted *s, pk_side sides[2], router *ro, const unsigned W,
                                   const bool chk)
{
    /* Copies that the builders' stores cannot alias. */
    const pack_plan plan = s->pl, *pl = &plan;
    const uint64_t *e = s->e;
    size_t n = s->n;
    uint32_t kw = pl->kw;
    uint64_t km0 = kw >= 8 ? ~0ULL : kw ? ~0ULL << (64 - 8 * kw) : 0;
    uint64_t km1 = kw >= 16 ? ~0ULL : kw > 8 ? ~0ULL << (128 - 8 * kw) : 0;
    for (size_t r = 0; r < n;) {
        size_t r0 = r;
        uint64_t w[4];
        tide__diff_sum sum;
        r = pk_run(pl, e, n, r, &sum, W, chk);
        if (sum.v == 0 && sum.wraps == 0) continue;
        unpack(pl, e, r0, W, w);
        tide_time t = words_time(w);
        pk_side *sd = &sides[route(ro, t)];
        if (TIDE__UNLIKELY(sum.wraps != 0)) sd->bl->overflow = true;
        uint8_t buf[16];
        tide_u64_store(buf, w[0]);
        tide_u64_store(buf + 8, w[1]);
        if (!sd->bl->key_open || ((w[0] ^ sd->w0) & km0) || ((w[1] ^ sd->w1) & km1))
            tide__builder_fixed_key(sd->bl, buf, buf + kw);
        else if (w[0] != sd->w0 || w[1] != sd->w1)
            tide__builder_fixed_val(sd->bl, buf + kw);
        tide__builder_upd(sd->bl, t, sum.v);
        sd->w0 = w[0];
        sd->w1 = w[1];
    }
}

static void pk_build1(const sorted *s, pk_side sides[2], router *ro)
{
    if (TIDE__UNLIKELY(s->pl.checked))
        pk_build(s, sides, ro, 1, true);
    else
        pk_build(s, sides, ro, 1, false);
}

static void pk_build2(const sorted *s, pk_side sides[2], router *ro)
{
    if (TIDE__UNLIKELY(s->pl.checked))
        pk_build(s, sides, ro, 2, true);
    else
        pk_build(s, sides, ro, 2, false);
}

/* ------------------------------------------------------------------------ */
/* General entries                                                          */
/* ------------------------------------------------------------------------ */

/* One pushed update, with prefixes that decide most comparisons. */
typedef struct ent {
    uint64_t kpre, vpre;  /* first 8 bytes of key / val, big-endian, zero-padded */
    const uint8_t *k, *v; /* the bytes, inside a pending batch */
    uint32_t kl, vl;      /* lengths */
    tide_time t;
    int64_t d;
} ent;

/* Compare two byte strings whose 8-byte prefixes are equal. */
static inline int rest_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl)
{
    if (al < 8 || bl < 8) return al < bl ? -1 : al > bl;
    return tide_bytes_cmp(a + 8, al - 8, b + 8, bl - 8);
}

/* (key, val, time) order. */
static inline int ent_cmp(const ent *a, const ent *b)
{
    if (a->kpre != b->kpre) return a->kpre < b->kpre ? -1 : 1;
    int c = rest_cmp(a->k, a->kl, b->k, b->kl);
    if (c) return c;
    if (a->vpre != b->vpre) return a->vpre < b->vpre ? -1 : 1;
    c = rest_cmp(a->v, a->vl, b->v, b->vl);
    if (c) return c;
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
        if (ent_cmp(&a[m], &a[0]) < 0) ent_swap(&a[m], &a[0]);
        if (ent_cmp(&a[n - 1], &a[m]) < 0) {
            ent_swap(&a[n - 1], &a[m]);
            if (ent_cmp(&a[m], &a[0]) < 0) ent_swap(&a[m], &a[0]);
        }
        ent pivot = a[m];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (ent_cmp(&a[i], &pivot) < 0) i++;
            while (ent_cmp(&pivot, &a[j]) < 0) j--;
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
        while (j > 0 && ent_cmp(&a[j - 1], &x) > 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* Gather, sort and consolidate the pending updates of @b into @s; @mem
 * gets the entries. TIDE_OK or TIDE_ENOMEM. */
static int sort_general(const tide_batcher *b, sorted *s, void **mem)
{
    ent *ents = tide_alloc(b->st.nz * sizeof *ents);
    if (!ents) return TIDE_ENOMEM;
    *mem = ents;
    size_t n = 0;
    for (uint32_t p = 0; p < b->npending; p++) {
        const tide_batch *src = b->pending[p];
        for (uint32_t r = 0; r < src->len; r++) {
            if (src->diffs[r] == 0) continue;
            ent *e = &ents[n++];
            e->k = tide_batch_key(src, r, &e->kl);
            e->v = tide_batch_val(src, r, &e->vl);
            e->kpre = tide_bytes_prefix(e->k, e->kl);
            e->vpre = tide_bytes_prefix(e->v, e->vl);
            e->t = src->times[r];
            e->d = src->diffs[r];
        }
    }
    sort_ents(ents, n);
    size_t m = 0, wcap = 0;
    for (size_t r = 0; r < n;) {
        ent acc = ents[r++];
        tide__diff_sum d = {acc.d, 0};
        while (r < n && ent_cmp(&ents[r], &acc) == 0) tide__diff_sum_add(&d, ents[r++].d);
        if (d.v == 0 && d.wraps == 0) continue;
        if (TIDE__UNLIKELY(d.wraps != 0)) {
            if (s->nwr == wcap) {
                wcap = wcap ? 2 * wcap : 4;
                ent_wrap *w = tide_realloc(s->wr, wcap * sizeof *w);
                if (!w) return TIDE_ENOMEM;
                s->wr = w;
            }
            s->wr[s->nwr++] = (ent_wrap){m, d.wraps};
        }
        acc.d = d.v;
        ents[m++] = acc;
    }
    s->ents = ents;
    s->n = m;
    return TIDE_OK;
}

/* The next general entry. Strings of <= 8 bytes are rebuilt from the
 * prefixes, so that the sorted walk does not touch the pushed batches at
 * random (two cache misses per update otherwise). */
static inline bool ent_next(sorted *s, rec *u)
{
    if (s->r == s->n) return false;
    size_t i = s->r++;
    const ent *e = &s->ents[i];
    u->k = e->k, u->kl = e->kl;
    u->v = e->v, u->vl = e->vl;
    if (e->kl <= 8) tide_u64_store(u->buf, e->kpre), u->k = u->buf;
    if (e->vl <= 8) tide_u64_store(u->buf + 8, e->vpre), u->v = u->buf + 8;
    u->t = e->t;
    u->d = (tide__diff_sum){e->d, 0};
    if (TIDE__UNLIKELY(s->wi < s->nwr) && s->wr[s->wi].i == i) u->d.wraps = s->wr[s->wi++].wraps;
    return true;
}

static inline bool sorted_next(sorted *s, rec *u)
{
    if (!s->packed) return ent_next(s, u);
    if (TIDE__UNLIKELY(s->pl.checked))
        return s->W == 1 ? pk_next(s, u, 1, true) : pk_next(s, u, 2, true);
    return s->W == 1 ? pk_next(s, u, 1, false) : pk_next(s, u, 2, false);
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

/* Compare @u with the iterator's current update by (key, val, time). */
static inline int rec_it_cmp(const rec *u, const trie_it *it)
{
    uint32_t kl, vl;
    const uint8_t *k = tide_trace_batch_key(it->b, it->k, &kl);
    int c = tide_bytes_cmp(u->k, u->kl, k, kl);
    if (c) return c;
    const uint8_t *v = tide_trace_batch_val(it->b, it->v, &vl);
    c = tide_bytes_cmp(u->v, u->vl, v, vl);
    if (c) return c;
    return tide_time_cmp(u->t, it->b->upds[it->u].time);
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

/* Merge the sorted updates @s (from their start) with the trie @kept (may be
 * NULL) into @ob (not beyond the upper) and @nb (beyond). */
static void merge_kept(sorted *s, const tide_trace_batch *kept, router *ro, tide__builder *ob,
                       tide__builder *nb)
{
    trie_it it = {kept, 0, 0, 0};
    rec u;
    s->r = s->wi = 0;
    bool have = sorted_next(s, &u);
    while (have || it_valid(&it)) {
        int c = !have ? 1 : !it_valid(&it) ? -1 : rec_it_cmp(&u, &it);
        const uint8_t *k, *v;
        uint32_t kl, vl;
        tide_time t;
        tide__diff_sum d;
        if (c <= 0) {
            k = u.k, v = u.v, kl = u.kl, vl = u.vl, t = u.t, d = u.d;
            if (c == 0) {
                tide__diff_sum_add(&d, it.b->upds[it.u].delta);
                it_step(&it);
            }
        } else {
            k = tide_trace_batch_key(it.b, it.k, &kl);
            v = tide_trace_batch_val(it.b, it.v, &vl);
            t = it.b->upds[it.u].time, d = (tide__diff_sum){it.b->upds[it.u].delta, 0};
            it_step(&it);
        }
        if (TIDE__UNLIKELY(d.wraps != 0)) ob->overflow = true;
        if (d.v != 0) tide__builder_push(route(ro, t) ? nb : ob, k, kl, v, vl, t, d.v);
        if (c <= 0) have = sorted_next(s, &u); /* u's bytes were pushed: now replace them */
    }
}

int tide_batcher_seal(tide_batcher *b, const tide_antichain *upper, tide_trace_batch **out)
{
    *out = NULL;
    int rc = TIDE_ENOMEM;
    void *mem = NULL;
    sorted s = {0};
    tide__builder ob = {0}, nb = {0};
    router ro = {.upper = upper};
    tide_antichain new_lower;
    tide_antichain_init(&new_lower);
    if (tide_antichain_copy(&new_lower, upper) < 0) goto fail;

    /* 1. Sort and consolidate the pushed updates. */
    if (b->st.nz) {
        int r = b->packable ? sort_packed(b, &s, &mem) : 1;
        if (r == 1) r = sort_general(b, &s, &mem);
        if (r < 0) goto fail;
    }

    /* 2. Count each side: upper bounds that size the builders. */
    side_count so = {0}, sn = {0};
    bool fast = s.packed && !b->kept;
    rec u;
    if (fast && !b->st.vary[2] && !b->st.vary[3]) {
        /* One time: every update goes to the same side. */
        (route(&ro, words_time(b->st.ref)) ? &sn : &so)->upds = (uint32_t)s.n;
    } else if (fast) {
        for (size_t r = 0; r < s.n; r++) {
            uint64_t w[4];
            if (s.W == 1)
                unpack(&s.pl, s.e, r, 1, w);
            else
                unpack(&s.pl, s.e, r, 2, w);
            (route(&ro, words_time(w)) ? &sn : &so)->upds++;
        }
    } else {
        while (sorted_next(&s, &u)) count(route(&ro, u.t) ? &sn : &so, u.kl, u.vl);
    }
    trie_it it = {b->kept, 0, 0, 0};
    for (; it_valid(&it); it_step(&it)) {
        uint32_t kl, vl;
        tide_trace_batch_key(it.b, it.k, &kl);
        tide_trace_batch_val(it.b, it.v, &vl);
        count(route(&ro, it.b->upds[it.u].time) ? &sn : &so, kl, vl);
    }
    if (tide__builder_init(&ob, b->layout, so.upds, so.upds, so.upds, so.kheap, so.vheap, &b->lower,
                           upper, NULL) < 0)
        goto fail;
    if (tide__builder_init(&nb, b->layout, sn.upds, sn.upds, sn.upds, sn.kheap, sn.vheap, upper,
                           upper, NULL) < 0)
        goto fail;

    /* 3. Merge the sorted updates with the remainder; route each by its
     * time. From here on nothing can fail. */
    if (fast && s.W == 1)
        pk_build1(&s, (pk_side[2]){{.bl = &ob}, {.bl = &nb}}, &ro);
    else if (fast)
        pk_build2(&s, (pk_side[2]){{.bl = &ob}, {.bl = &nb}}, &ro);
    else
        merge_kept(&s, b->kept, &ro, &ob, &nb);
    if (TIDE__UNLIKELY(ob.overflow || nb.overflow)) {
        rc = TIDE_ERANGE;
        goto fail;
    }
    tide_trace_batch *sealed = tide__builder_finish(&ob);
    tide_trace_batch *kept = tide__builder_finish(&nb);

    /* 4. Commit. */
    tide_free(mem);
    tide_free(s.wr);
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
    tide_free(mem);
    tide_free(s.wr);
    tide_antichain_fini(&new_lower);
    return rc;
}
