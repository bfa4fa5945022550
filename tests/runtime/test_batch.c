/*
 * test_batch.c - columnar batches: building, refcounts, exchange
 * partitioning and consolidation.
 *
 * Partition is checked record by record against tide_hash_owner, and
 * consolidation against a naive oracle (sort everything with qsort, sum
 * equal triples, drop zeros) on random updates full of duplicates and
 * cancellations, for fixed (narrow and wide) and variable layouts. The
 * allocation-failure tests fail allocation N = 1, 2, ... in turn and expect
 * NULL or TIDE_ENOMEM with the batch unchanged and nothing leaked.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tide/alloc.h"
#include "tide/batch.h"
#include "tide/error.h"
#include "tide_test.h"

/* ======================== Random records =========================== */

#define MAXF 40 /* longest generated field */

typedef struct rec {
    uint8_t k[MAXF], v[MAXF];
    uint32_t kl, vl;
    tide_time t;
    int64_t d;
} rec;

/* A field for column width @w: fixed widths get a big-endian number below
 * @dom in their last bytes (so many duplicates and long common prefixes);
 * variable ones a short string over a small alphabet. */
static void rand_bytes(tide_rng *r, uint32_t w, uint64_t dom, uint8_t *out, uint32_t *len)
{
    if (w != TIDE_VAR) {
        *len = w;
        memset(out, 0, w);
        uint64_t x = tide_rng_below(r, dom);
        for (uint32_t i = 0; i < w && i < 8; i++) out[w - 1 - i] = (uint8_t)(x >> (8 * i));
        if (w > 8 && tide_rng_below(r, 4) == 0) out[0] = (uint8_t)tide_rng_below(r, 3);
        return;
    }
    static const uint8_t alpha[] = {0x00, 0x01, 'a', 'b', 0xFF};
    uint32_t n = (uint32_t)tide_rng_below(r, 7);
    if (tide_rng_below(r, 16) == 0) n = 20 + (uint32_t)tide_rng_below(r, MAXF - 20);
    for (uint32_t i = 0; i < n; i++) out[i] = alpha[tide_rng_below(r, dom < 5 ? dom : 5)];
    *len = n;
}

static tide_time rand_time(tide_rng *r, int spread)
{
    if (!spread) return tide_time_epoch(7);
    return (tide_time){tide_rng_below(r, 4),
                       {(uint32_t)tide_rng_below(r, 3), (uint32_t)tide_rng_below(r, 2)}};
}

static void rand_rec(tide_rng *r, tide_layout l, uint64_t dom, int spread, rec *x)
{
    rand_bytes(r, l.key_width, dom, x->k, &x->kl);
    rand_bytes(r, l.val_width, dom, x->v, &x->vl);
    x->t = rand_time(r, spread);
    x->d = (int64_t)tide_rng_below(r, 5) - 2;
}

static void get_rec(const tide_batch *b, uint32_t i, rec *x)
{
    uint32_t kl, vl;
    const uint8_t *k = tide_batch_key(b, i, &kl), *v = tide_batch_val(b, i, &vl);
    memset(x, 0, sizeof *x);
    cr_assert(kl <= MAXF && vl <= MAXF);
    memcpy(x->k, k, kl);
    memcpy(x->v, v, vl);
    x->kl = kl;
    x->vl = vl;
    if (b->flags & TIDE_BATCH_UPDATES) {
        x->t = b->times[i];
        x->d = b->diffs[i];
    }
}

static int rec_cmp_data(const rec *a, const rec *b)
{
    int c = tide_bytes_cmp(a->k, a->kl, b->k, b->kl);
    if (c) return c;
    c = tide_bytes_cmp(a->v, a->vl, b->v, b->vl);
    if (c) return c;
    return tide_time_cmp(a->t, b->t);
}

static int rec_qsort_cmp(const void *a, const void *b)
{
    return rec_cmp_data(a, b);
}

static void assert_rec_eq(const tide_batch *b, uint32_t i, const rec *want, int upd)
{
    rec got;
    get_rec(b, i, &got);
    cr_assert_eq(got.kl, want->kl, "record %u key length", i);
    cr_assert_eq(got.vl, want->vl, "record %u value length", i);
    cr_assert(!memcmp(got.k, want->k, want->kl), "record %u key bytes", i);
    cr_assert(!memcmp(got.v, want->v, want->vl), "record %u value bytes", i);
    if (upd) {
        cr_assert(tide_time_eq(got.t, want->t), "record %u time", i);
        cr_assert_eq(got.d, want->d, "record %u diff", i);
    }
}

static const tide_layout layouts[] = {
    {8, 0},
    {8, 8},
    {16, 0},
    {4, 4},
    {3, 5},
    {0, 0},
    {16, 16},
    {12, 0},
    {8, 16},
    {TIDE_VAR, 0},
    {TIDE_VAR, 8},
    {8, TIDE_VAR},
    {TIDE_VAR, TIDE_VAR},
    {16, 8},
    {TIDE_VAR, 0},
    {4, 0},
    {0, TIDE_VAR},
};
#define NLAYOUTS (sizeof layouts / sizeof layouts[0])

/* ======================== Building ================================= */

Test(batch, push_get_all_layouts_with_growth)
{
    tide_rng r = {tide_test_seed("batch/push_get_all_layouts_with_growth", 1)};
    enum { N = 5000 };
    rec *want = malloc(N * sizeof *want);
    for (size_t li = 0; li < NLAYOUTS; li++) {
        for (int upd = 0; upd < 2; upd++) {
            tide_layout l = layouts[li];
            tide_batch *b = tide_batch_new(l, upd ? TIDE_BATCH_UPDATES : 0, 3);
            cr_assert(b);
            b->time = tide_time_epoch(5);
            for (uint32_t i = 0; i < N; i++) {
                rand_rec(&r, l, 1000000, 1, &want[i]);
                int rc = upd ? tide_batch_push_update(b, want[i].k, want[i].kl, want[i].v,
                                                      want[i].vl, want[i].t, want[i].d)
                             : tide_batch_push(b, want[i].k, want[i].kl, want[i].v, want[i].vl);
                cr_assert_eq(rc, TIDE_OK);
            }
            cr_assert_eq(b->len, N);
            cr_assert_geq(b->cap, N);
            for (uint32_t i = 0; i < N; i++) assert_rec_eq(b, i, &want[i], upd);
            if (l.key_width == 8)
                for (uint32_t i = 0; i < N; i++)
                    cr_assert_eq(tide_batch_key_u64(b, i), tide_u64_load(want[i].k));
            if (l.val_width == 8)
                for (uint32_t i = 0; i < N; i++)
                    cr_assert_eq(tide_batch_val_u64(b, i), tide_u64_load(want[i].v));
            /* clear keeps capacity and starts over */
            uint32_t cap = b->cap;
            tide_batch_clear(b);
            cr_assert_eq(b->len, 0);
            cr_assert_eq(b->cap, cap);
            cr_assert_eq(tide_batch_push(b, want[0].k, want[0].kl, want[0].v, want[0].vl), TIDE_OK);
            assert_rec_eq(b, 0, &want[0], 0);
            if (upd) {
                cr_assert(tide_time_eq(b->times[0], tide_time_epoch(5)));
                cr_assert_eq(b->diffs[0], 1);
            }
            tide_batch_unref(b);
        }
    }
    free(want);
}

Test(batch, push_rejects_wrong_widths_and_kinds)
{
    tide_batch *b = tide_batch_new(tide_layout_make(8, 4), 0, 0);
    uint8_t k[8] = {0}, v[4] = {0};
    cr_assert_eq(tide_batch_push(b, k, 7, v, 4), TIDE_EINVAL);
    cr_assert_eq(tide_batch_push(b, k, 8, v, 5), TIDE_EINVAL);
    cr_assert_eq(tide_batch_push_update(b, k, 8, v, 4, TIDE_TIME_ZERO, 1), TIDE_EINVAL);
    cr_assert_eq(tide_batch_consolidate(b), TIDE_EINVAL);
    cr_assert_eq(b->len, 0);
    cr_assert_eq(tide_batch_push(b, k, 8, v, 4), TIDE_OK);
    cr_assert_eq(tide_batch_push_from(b, b, 1), TIDE_EINVAL);
    tide_batch *o = tide_batch_new(tide_layout_make(8, 8), 0, 0);
    cr_assert_eq(tide_batch_push_from(o, b, 0), TIDE_EINVAL);
    tide_batch_unref(o);
    tide_batch_unref(b);
}

Test(batch, refcounts)
{
    tide_batch *b = tide_batch_new(tide_layout_make(TIDE_VAR, 8), TIDE_BATCH_UPDATES, 4);
    uint8_t v[8] = {1};
    cr_assert_eq(b->refs, 1);
    cr_assert(!tide_batch_is_shared(b));
    cr_assert_eq(tide_batch_push_update(b, "abc", 3, v, 8, TIDE_TIME_ZERO, 1), TIDE_OK);
    cr_assert_eq(tide_batch_ref(b), b);
    cr_assert(tide_batch_is_shared(b));
    tide_batch_ref(b);
    cr_assert_eq(b->refs, 3);
    tide_batch_unref(b);
    tide_batch_unref(b);
    cr_assert(!tide_batch_is_shared(b));
    tide_batch_unref(b); /* frees: ASan reports a leak otherwise */
    tide_batch_unref(NULL);
}

Test(batch, push_from_copies_and_converts)
{
    tide_rng r = {tide_test_seed("batch/push_from_copies_and_converts", 2)};
    tide_layout l = tide_layout_make(TIDE_VAR, TIDE_VAR);
    tide_batch *src = tide_batch_new(l, TIDE_BATCH_UPDATES, 2);
    tide_batch *plain = tide_batch_new(l, 0, 2);
    plain->time = tide_time_epoch(9);
    rec x[100];
    for (int i = 0; i < 100; i++) {
        rand_rec(&r, l, 5, 1, &x[i]);
        cr_assert_eq(tide_batch_push_update(src, x[i].k, x[i].kl, x[i].v, x[i].vl, x[i].t, x[i].d),
                     TIDE_OK);
        cr_assert_eq(tide_batch_push(plain, x[i].k, x[i].kl, x[i].v, x[i].vl), TIDE_OK);
    }
    tide_batch *u = tide_batch_new(l, TIDE_BATCH_UPDATES, 0), *p = tide_batch_new(l, 0, 0);
    for (uint32_t i = 0; i < 100; i++) {
        cr_assert_eq(tide_batch_push_from(u, src, 99 - i), TIDE_OK);
        cr_assert_eq(tide_batch_push_from(p, src, i), TIDE_OK);
    }
    for (uint32_t i = 0; i < 100; i++) {
        assert_rec_eq(u, i, &x[99 - i], 1);
        assert_rec_eq(p, i, &x[i], 0);
    }
    /* plain -> updates: the source's time, diff +1 */
    tide_batch_clear(u);
    cr_assert_eq(tide_batch_push_from(u, plain, 3), TIDE_OK);
    cr_assert(tide_time_eq(u->times[0], tide_time_epoch(9)));
    cr_assert_eq(u->diffs[0], 1);
    /* a batch into itself, through many heap regrowths */
    for (uint32_t i = 0; i < 1000; i++) cr_assert_eq(tide_batch_push_from(src, src, i), TIDE_OK);
    for (uint32_t i = 0; i < 1100; i++) assert_rec_eq(src, i, &x[i % 100], 1);
    tide_batch_unref(u);
    tide_batch_unref(p);
    tide_batch_unref(plain);
    tide_batch_unref(src);
}

Test(batch, full_and_reserve)
{
    tide_batch *b = tide_batch_new(tide_layout_make(8, 0), 0, 16);
    uint8_t k[8] = {0};
    for (uint32_t i = 0; i < TIDE_BATCH_RECORDS - 1; i++) tide_batch_push(b, k, 8, NULL, 0);
    cr_assert(!tide_batch_full(b));
    tide_batch_push(b, k, 8, NULL, 0);
    cr_assert(tide_batch_full(b));
    tide_batch_unref(b);

    b = tide_batch_new(tide_layout_make(TIDE_VAR, 0), 0, 16);
    cr_assert_eq(tide_batch_reserve(b, 100, 5000), TIDE_OK);
    cr_assert_geq(b->cap, 100);
    cr_assert_geq(b->key.heap_cap, 5000);
    static char s[1000];
    memset(s, 'q', sizeof s);
    while (b->key.heap_len + 1000 < TIDE_BATCH_BYTES) {
        cr_assert(!tide_batch_full(b));
        cr_assert_eq(tide_batch_push(b, s, 1000, NULL, 0), TIDE_OK);
    }
    cr_assert_eq(tide_batch_push(b, s, 1000, NULL, 0), TIDE_OK);
    cr_assert(tide_batch_full(b));
    cr_assert(b->len < TIDE_BATCH_RECORDS);
    tide_batch_unref(b);
}

Test(batch, cmp_orders_key_then_val)
{
    tide_batch *b = tide_batch_new(tide_layout_make(TIDE_VAR, TIDE_VAR), 0, 0);
    tide_batch_push(b, "a", 1, "z", 1);
    tide_batch_push(b, "ab", 2, "a", 1);
    tide_batch_push(b, "a", 1, "zz", 2);
    tide_batch_push(b, "a", 1, "z", 1);
    cr_assert_eq(tide_batch_cmp(b, 0, b, 1), -1);
    cr_assert_eq(tide_batch_cmp(b, 1, b, 0), 1);
    cr_assert_eq(tide_batch_cmp(b, 0, b, 2), -1);
    cr_assert_eq(tide_batch_cmp(b, 0, b, 3), 0);
    tide_batch_unref(b);
}

/* ======================== Partition ================================ */

Test(batch, partition_every_record_to_its_owner_in_order)
{
    tide_rng r = {tide_test_seed("batch/partition_every_record_to_its_owner_in_order", 3)};
    static const uint32_t peer_counts[] = {1, 2, 3, 4, 70};
    for (size_t li = 0; li < NLAYOUTS; li++) {
        for (int upd = 0; upd < 2; upd++) {
            for (size_t pi = 0; pi < 5; pi++) {
                tide_layout l = layouts[li];
                uint32_t flags = upd ? TIDE_BATCH_UPDATES : 0, peers = peer_counts[pi];
                uint32_t n = (uint32_t)tide_rng_below(&r, 3000);
                tide_batch *src = tide_batch_new(l, flags, n);
                rec *x = malloc((n + 1) * sizeof *x);
                for (uint32_t i = 0; i < n; i++) {
                    rand_rec(&r, l, 1000, 1, &x[i]);
                    tide_batch_push_update(src, x[i].k, x[i].kl, x[i].v, x[i].vl, x[i].t, x[i].d);
                    if (!upd) tide_batch_push(src, x[i].k, x[i].kl, x[i].v, x[i].vl);
                }
                cr_assert_eq(src->len, n);
                /* Outputs: some missing, some already holding a record. */
                tide_batch *outs[70];
                uint32_t pre[70];
                rec first;
                rand_rec(&r, l, 1000, 1, &first);
                for (uint32_t w = 0; w < peers; w++) {
                    outs[w] = (peers > 1 && tide_rng_below(&r, 5) == 0)
                                  ? NULL
                                  : tide_batch_new(l, flags, (uint32_t)tide_rng_below(&r, 64));
                    pre[w] = outs[w] ? (uint32_t)tide_rng_below(&r, 2) : 0;
                    if (pre[w])
                        cr_assert_eq(tide_batch_push(outs[w], first.k, first.kl, first.v, first.vl),
                                     TIDE_OK);
                }
                cr_assert_eq(tide_batch_partition(src, outs, peers), TIDE_OK);
                uint32_t *seen = calloc(peers, sizeof *seen);
                uint64_t total = 0, expected = 0;
                for (uint32_t i = 0; i < n; i++) {
                    uint32_t w = tide_hash_owner(tide_hash(x[i].k, x[i].kl), peers);
                    if (!outs[w]) continue;
                    expected++;
                    assert_rec_eq(outs[w], pre[w] + seen[w]++, &x[i], upd);
                }
                for (uint32_t w = 0; w < peers; w++) {
                    if (!outs[w]) continue;
                    cr_assert_eq(outs[w]->len, pre[w] + seen[w], "peer %u of %u", w, peers);
                    if (pre[w]) assert_rec_eq(outs[w], 0, &first, 0);
                    total += seen[w];
                    tide_batch_unref(outs[w]);
                }
                cr_assert_eq(total, expected);
                free(seen);
                free(x);
                tide_batch_unref(src);
            }
        }
    }
}

Test(batch, partition_rejects_mismatched_outputs)
{
    tide_batch *src = tide_batch_new(tide_layout_make(8, 0), 0, 0);
    tide_batch *a = tide_batch_new(tide_layout_make(8, 0), 0, 0);
    tide_batch *b = tide_batch_new(tide_layout_make(8, 8), 0, 0);
    tide_batch *c = tide_batch_new(tide_layout_make(8, 0), TIDE_BATCH_UPDATES, 0);
    tide_batch *o1[2] = {a, b}, *o2[2] = {c, a};
    cr_assert_eq(tide_batch_partition(src, o1, 2), TIDE_EINVAL);
    cr_assert_eq(tide_batch_partition(src, o2, 2), TIDE_EINVAL);
    cr_assert_eq(tide_batch_partition(src, o1, 0), TIDE_EINVAL);
    tide_batch_unref(a);
    tide_batch_unref(b);
    tide_batch_unref(c);
    tide_batch_unref(src);
}

/* ======================== Consolidate ============================== */

/* The oracle: sort all updates, sum equal (key, val, time), drop zeros. */
static uint32_t oracle(rec *x, uint32_t n)
{
    qsort(x, n, sizeof *x, rec_qsort_cmp);
    uint32_t j = 0;
    for (uint32_t i = 0; i < n;) {
        rec acc = x[i];
        uint32_t k = i + 1;
        while (k < n && !rec_cmp_data(&x[i], &x[k])) acc.d += x[k++].d;
        if (acc.d) x[j++] = acc;
        i = k;
    }
    return j;
}

static void check_consolidate(tide_rng *r, tide_layout l, uint32_t n, uint64_t dom, int spread)
{
    tide_batch *b = tide_batch_new(l, TIDE_BATCH_UPDATES, 8);
    rec *x = malloc((n + 1) * sizeof *x);
    uint32_t m = 0;
    while (m < n) {
        rand_rec(r, l, dom, spread, &x[m]);
        if (x[m].d == 0) x[m].d = 1;
        m++;
        /* A retraction of an earlier update, to make cancellations. */
        if (m < n && tide_rng_below(r, 3) == 0) {
            x[m] = x[tide_rng_below(r, m)];
            x[m].d = -x[m].d;
            m++;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(tide_batch_push_update(b, x[i].k, x[i].kl, x[i].v, x[i].vl, x[i].t, x[i].d),
                     TIDE_OK);
    cr_assert_eq(tide_batch_consolidate(b), TIDE_OK);
    uint32_t want = oracle(x, n);
    cr_assert_eq(b->len, want, "layout %u/%u n=%u: %u records, oracle %u", l.key_width, l.val_width,
                 n, b->len, want);
    for (uint32_t i = 0; i < b->len; i++) {
        assert_rec_eq(b, i, &x[i], 1);
        cr_assert_neq(b->diffs[i], 0);
        if (i) {
            rec p, q;
            get_rec(b, i - 1, &p);
            get_rec(b, i, &q);
            cr_assert_lt(rec_cmp_data(&p, &q), 0, "not sorted or duplicate at %u", i);
        }
    }
    /* Consolidating again changes nothing; the batch still takes pushes. */
    uint32_t len = b->len;
    cr_assert_eq(tide_batch_consolidate(b), TIDE_OK);
    cr_assert_eq(b->len, len);
    if (n) {
        cr_assert_eq(tide_batch_push_update(b, x[0].k, x[0].kl, x[0].v, x[0].vl, x[0].t, 1),
                     TIDE_OK);
        cr_assert_eq(b->len, len + 1);
    }
    free(x);
    tide_batch_unref(b);
}

Test(batch, consolidate_matches_oracle)
{
    tide_rng r = {tide_test_seed("batch/consolidate_matches_oracle", 4)};
    static const uint32_t sizes[] = {0, 1, 2, 3, 25, 200, 3000};
    for (size_t li = 0; li < NLAYOUTS; li++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (int spread = 0; spread < 2; spread++) {
                check_consolidate(&r, layouts[li], sizes[si], 50, spread);
                check_consolidate(&r, layouts[li], sizes[si], UINT64_MAX, spread);
            }
}

/* Large enough for several radix levels, with skewed and random keys. */
Test(batch, consolidate_large_narrow)
{
    tide_rng r = {tide_test_seed("batch/consolidate_large_narrow", 5)};
    static const tide_layout ls[] = {{8, 8}, {16, 0}, {8, 0}};
    for (size_t li = 0; li < 3; li++) {
        check_consolidate(&r, ls[li], 60000, 3000, 1);
        check_consolidate(&r, ls[li], 60000, UINT64_MAX, 1);
        check_consolidate(&r, ls[li], 60000, 1u << 20, 0);
    }
    /* Past the size where the first radix digit is 16 bits wide. */
    check_consolidate(&r, tide_layout_make(8, 8), 140000, UINT64_MAX, 0);
    check_consolidate(&r, tide_layout_make(8, 0), 140000, 70000, 1);
    check_consolidate(&r, tide_layout_make(TIDE_VAR, 8), 30000, 5, 1);
}

Test(batch, consolidate_single_and_all_cancelling)
{
    tide_batch *b = tide_batch_new(tide_layout_make(TIDE_VAR, 0), TIDE_BATCH_UPDATES, 0);
    tide_batch_push_update(b, "x", 1, NULL, 0, TIDE_TIME_ZERO, 0);
    cr_assert_eq(tide_batch_consolidate(b), TIDE_OK);
    cr_assert_eq(b->len, 0);
    for (int i = 0; i < 100; i++)
        tide_batch_push_update(b, "abc", 3, NULL, 0, tide_time_epoch(1), i % 2 ? -1 : 1);
    cr_assert_eq(tide_batch_consolidate(b), TIDE_OK);
    cr_assert_eq(b->len, 0);
    cr_assert_eq(b->key.heap_len, 0);
    tide_batch_unref(b);
}

/* Sums are exact: a total past int64 is TIDE_ERANGE in every layout path
 * (narrow radix and general), a total that comes back into range is not,
 * whatever the order of its terms. */
Test(batch, consolidate_overflow_is_erange)
{
    static const tide_layout ls[] = {{8, 0}, {8, 8}, {TIDE_VAR, 0}, {TIDE_VAR, TIDE_VAR}};
    for (size_t li = 0; li < sizeof ls / sizeof ls[0]; li++) {
        uint8_t k[8] = {0, 0, 0, 0, 0, 0, 0, 5}, v[8] = {0};
        uint32_t vl = ls[li].val_width == TIDE_VAR ? 1 : ls[li].val_width;
        for (int c = 0; c < 4; c++) {
            tide_batch *b = tide_batch_new(ls[li], TIDE_BATCH_UPDATES, 0);
            /* c = 0: MAX + 2; 1: MIN - 1; 2: MAX + 2 - 5; 3: -5 + MAX + 2 */
            static const int64_t terms[4][3] = {
                {INT64_MAX, 2, 0}, {INT64_MIN, -1, 0}, {INT64_MAX, 2, -5}, {-5, INT64_MAX, 2}};
            /* A second key keeps the batch above the single-record path. */
            cr_assert_eq(tide_batch_push_update(b, "\0\0\0\0\0\0\0\1", 8, v, vl, TIDE_TIME_ZERO, 1),
                         TIDE_OK);
            for (int i = 0; i < 3; i++)
                if (terms[c][i])
                    cr_assert_eq(
                        tide_batch_push_update(b, k, 8, v, vl, TIDE_TIME_ZERO, terms[c][i]),
                        TIDE_OK);
            int rc = tide_batch_consolidate(b);
            if (c < 2) {
                cr_assert_eq(rc, TIDE_ERANGE, "layout %zu case %d: rc %d", li, c, rc);
            } else {
                cr_assert_eq(rc, TIDE_OK, "layout %zu case %d: rc %d", li, c, rc);
                cr_assert_eq(b->len, 2);
                cr_assert_eq(b->diffs[1], INT64_MAX - 3, "layout %zu case %d", li, c);
            }
            tide_batch_unref(b);
        }
    }
}

/* ======================== Allocation failure ======================= */

/* Build, grow and consolidate a batch with allocation @nth failing;
 * @return 1 if an allocation failed (and was handled cleanly). */
static int fault_run(tide_layout l, long nth)
{
    tide_rng r = {42};
    long before = tide_alloc_failures();
    tide_alloc_fail_after(nth);
    tide_batch *b = tide_batch_new(l, TIDE_BATCH_UPDATES, 2);
    if (!b) {
        tide_alloc_fail_after(0);
        cr_assert_eq(tide_alloc_failures(), before + 1);
        return 1;
    }
    int failed = 0;
    for (int i = 0; i < 300; i++) {
        rec x;
        rand_rec(&r, l, 20, 1, &x);
        uint32_t len = b->len;
        int rc = tide_batch_push_update(b, x.k, x.kl, x.v, x.vl, x.t, x.d);
        if (rc == TIDE_ENOMEM) {
            cr_assert_eq(b->len, len, "a failed push changed the batch");
            failed = 1;
            i--; /* retry: later allocations succeed */
            continue;
        }
        cr_assert_eq(rc, TIDE_OK);
        assert_rec_eq(b, len, &x, 1);
    }
    /* Snapshot, then consolidate (maybe failing: must leave it unchanged). */
    uint32_t n = b->len;
    rec *snap = malloc(n * sizeof *snap);
    for (uint32_t i = 0; i < n; i++) get_rec(b, i, &snap[i]);
    int rc = tide_batch_consolidate(b);
    if (rc == TIDE_ENOMEM) {
        failed = 1;
        cr_assert_eq(b->len, n);
        for (uint32_t i = 0; i < n; i++) assert_rec_eq(b, i, &snap[i], 1);
        rc = tide_batch_consolidate(b);
    }
    cr_assert_eq(rc, TIDE_OK);
    cr_assert_eq(b->len, oracle(snap, n));
    free(snap);

    /* Partition into fresh outputs (a failure leaves a prefix behind). */
    tide_batch *outs[3] = {tide_batch_new(l, TIDE_BATCH_UPDATES, 0),
                           tide_batch_new(l, TIDE_BATCH_UPDATES, 0),
                           tide_batch_new(l, TIDE_BATCH_UPDATES, 0)};
    if (outs[0] && outs[1] && outs[2]) {
        rc = tide_batch_partition(b, outs, 3);
        if (rc == TIDE_ENOMEM)
            failed = 1;
        else
            cr_assert_eq(rc, TIDE_OK);
    } else {
        failed = 1;
    }
    for (int w = 0; w < 3; w++) tide_batch_unref(outs[w]);
    tide_batch_unref(b);
    tide_alloc_fail_after(0);
    cr_assert_eq(tide_alloc_failures() - before, failed);
    return failed;
}

Test(batch, alloc_failure_every_allocation)
{
    static const tide_layout ls[] = {{8, 8}, {TIDE_VAR, TIDE_VAR}, {16, 16}, {TIDE_VAR, 0}};
    for (size_t li = 0; li < 4; li++) {
        long nth = 1;
        while (fault_run(ls[li], nth)) nth++;
        cr_assert_gt(nth, 3, "layout %zu: too few allocations exercised", li);
    }
}
