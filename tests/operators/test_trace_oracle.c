/*
 * test_trace_oracle.c - batcher + spine + cursor against the naive oracle.
 *
 * Random updates (fixed and variable widths, duplicates, retractions, partially
 * ordered times) are pushed, sealed at random frontiers, inserted, compacted
 * at random frontiers and merged; after every step the spine's accumulations
 * at every time beyond its compaction frontier must equal the oracle's.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "naive_trace.h"
#include "tide/alloc.h"
#include "tide/error.h"
#include "tide/trace.h"
#include "tide_test.h"
#include "trace/trace_int.h"

/* The frontier at position (e, i): {(e,0,0)} when i == 0, else the
 * partially ordered {(e,i,0), (e+1,0,0)}. Positions only move forward. */
static void frontier_at(tide_antichain *f, uint64_t e, uint32_t i)
{
    tide_antichain_clear(f);
    tide_time a = {e, {i, 0}};
    cr_assert_geq(tide_antichain_insert(f, a), 0);
    if (i) cr_assert_geq(tide_antichain_insert(f, tide_time_epoch(e + 1)), 0);
}

static void pos_advance(tide_rng *r, uint64_t *e, uint32_t *i)
{
    if (*i < 3 && tide_rng_below(r, 2)) {
        (*i)++;
    } else {
        (*e)++;
        *i = 0;
    }
}

static bool pos_le(uint64_t e1, uint32_t i1, uint64_t e2, uint32_t i2)
{
    return e1 < e2 || (e1 == e2 && i1 <= i2);
}

static void check_spine(tide_spine *s, const naive_trace *oracle)
{
    for (uint32_t b = 0; b < tide_spine_batches(s); b++)
        cr_assert(naive_check_batch(tide_spine_batch(s, b)), "batch %u broken", b);
    tide_cursor *c;
    cr_assert_eq(tide_spine_cursor(s, &c), TIDE_OK);
    naive_trace got;
    naive_init(&got);
    naive_from_cursor(&got, c);
    tide_cursor_free(c);
    cr_assert(naive_equiv(oracle, &got, tide_spine_logical(s)), "accumulations differ");
    naive_fini(&got);
}

/* Seek checks: seek_key / seek_val against the sorted distinct oracle. */
static void check_seeks(tide_spine *s, const naive_trace *oracle, tide_layout lay, tide_rng *r,
                        uint32_t nk, uint32_t nv)
{
    naive_trace all;
    naive_init(&all);
    tide_cursor *c;
    cr_assert_eq(tide_spine_cursor(s, &c), TIDE_OK);
    naive_from_cursor(&all, c);
    naive_consolidate(&all); /* sorted by (key, val, time) */
    tide_cursor_rewind_keys(c);
    for (int round = 0; round < 200; round++) {
        uint8_t kb[32], vb[32];
        uint32_t kl, vl;
        naive_encode(lay.key_width, tide_rng_below(r, nk + 2), kb, &kl);
        if (round % 20 == 0) tide_cursor_rewind_keys(c);
        /* Expected: the first key >= max(probe, current). */
        naive_upd probe = {0};
        memcpy(probe.k, kb, kl);
        probe.kl = kl;
        if (tide_cursor_key_valid(c)) {
            uint32_t cl;
            const uint8_t *ck = tide_cursor_key(c, &cl);
            if (tide_bytes_cmp(ck, cl, kb, kl) > 0) memcpy(probe.k, ck, cl), probe.kl = cl;
        } else {
            continue;
        }
        uint32_t x = 0;
        while (x < all.len && tide_bytes_cmp(all.u[x].k, all.u[x].kl, probe.k, probe.kl) < 0) x++;
        tide_cursor_seek_key(c, kb, kl);
        if (x == all.len) {
            cr_assert(!tide_cursor_key_valid(c), "seek past the end should invalidate");
            continue;
        }
        cr_assert(tide_cursor_key_valid(c));
        uint32_t cl;
        const uint8_t *ck = tide_cursor_key(c, &cl);
        cr_assert_eq(tide_bytes_cmp(ck, cl, all.u[x].k, all.u[x].kl), 0, "seek_key landed wrong");
        /* seek_val within this key. */
        naive_encode(lay.val_width, tide_rng_below(r, nv + 2), vb, &vl);
        uint32_t y = x;
        while (y < all.len && tide_bytes_cmp(all.u[y].k, all.u[y].kl, ck, cl) == 0 &&
               tide_bytes_cmp(all.u[y].v, all.u[y].vl, vb, vl) < 0)
            y++;
        tide_cursor_seek_val(c, vb, vl);
        if (y == all.len || tide_bytes_cmp(all.u[y].k, all.u[y].kl, ck, cl) != 0) {
            cr_assert(!tide_cursor_val_valid(c));
        } else {
            cr_assert(tide_cursor_val_valid(c));
            uint32_t cvl;
            const uint8_t *cv = tide_cursor_val(c, &cvl);
            cr_assert_eq(tide_bytes_cmp(cv, cvl, all.u[y].v, all.u[y].vl), 0, "seek_val wrong");
        }
        tide_cursor_rewind_vals(c);
        cr_assert(tide_cursor_val_valid(c));
        uint32_t cvl;
        const uint8_t *cv = tide_cursor_val(c, &cvl);
        cr_assert_eq(tide_bytes_cmp(cv, cvl, all.u[x].v, all.u[x].vl), 0, "rewind_vals wrong");
    }
    tide_cursor_free(c);
    naive_fini(&all);
    (void)oracle;
}

static void run_pipeline(tide_layout lay, uint64_t salt, int steps, uint32_t nk, uint32_t nv)
{
    tide_rng r = {tide_test_seed("trace_oracle", salt)};
    tide_batcher *bt = tide_batcher_new(lay);
    tide_spine *sp = tide_spine_new(lay);
    cr_assert(bt && sp);
    naive_trace pending, sealed;
    naive_init(&pending);
    naive_init(&sealed);
    tide_antichain upper, logical, physical;
    tide_antichain_init(&upper);
    tide_antichain_init(&logical);
    tide_antichain_init(&physical);
    uint64_t ue = 0, le = 0;
    uint32_t ui = 0, li = 0;

    for (int step = 0; step < steps; step++) {
        /* Push a few random batches. */
        int nbatches = (int)tide_rng_below(&r, 3);
        for (int nb = 0; nb < nbatches; nb++) {
            uint32_t n = (uint32_t)tide_rng_below(&r, 40);
            tide_batch *b = tide_batch_new(lay, TIDE_BATCH_UPDATES, n);
            cr_assert(b);
            const tide_antichain *lo = tide_batcher_lower(bt);
            for (uint32_t u = 0; u < n; u++) {
                uint8_t kb[32], vb[32];
                uint32_t kl, vl;
                naive_encode(lay.key_width, tide_rng_below(&r, nk), kb, &kl);
                naive_encode(lay.val_width, tide_rng_below(&r, nv), vb, &vl);
                tide_time t = {ue + tide_rng_below(&r, 3),
                               {(uint32_t)tide_rng_below(&r, 5), (uint32_t)tide_rng_below(&r, 2)}};
                t = tide_time_join(t, lo->elems[tide_rng_below(&r, lo->len)]);
                int64_t d = tide_rng_below(&r, 4) == 0 ? -1 : tide_rng_below(&r, 4) == 0 ? 2 : 1;
                if (tide_rng_below(&r, 50) == 0) d = 0;
                cr_assert_eq(tide_batch_push_update(b, kb, kl, vb, vl, t, d), TIDE_OK);
                naive_push(&pending, kb, kl, vb, vl, t, d);
            }
            cr_assert_eq(tide_batcher_push(bt, b), TIDE_OK);
            tide_batch_unref(b);
        }
        /* Seal at the next position (sometimes the same one: an empty range). */
        if (tide_rng_below(&r, 5)) pos_advance(&r, &ue, &ui);
        frontier_at(&upper, ue, ui);
        tide_trace_batch *tb;
        cr_assert_eq(tide_batcher_seal(bt, &upper, &tb), TIDE_OK);
        cr_assert(naive_check_batch(tb));
        cr_assert(tide_antichain_eq(&tb->upper, &upper));
        uint32_t w = 0;
        for (uint32_t u = 0; u < pending.len; u++) {
            if (tide_antichain_less_equal(&upper, pending.u[u].t))
                pending.u[w++] = pending.u[u];
            else
                naive_push(&sealed, pending.u[u].k, pending.u[u].kl, pending.u[u].v,
                           pending.u[u].vl, pending.u[u].t, pending.u[u].d);
        }
        pending.len = w;
        cr_assert_eq(tide_spine_insert(sp, tb), TIDE_OK);
        tide_trace_batch_unref(tb);
        cr_assert(tide_antichain_eq(tide_spine_upper(sp), &upper));

        /* Compaction frontiers. */
        if (tide_rng_below(&r, 3) == 0) {
            uint64_t ne = le;
            uint32_t ni = li;
            pos_advance(&r, &ne, &ni);
            if (pos_le(ne, ni, ue, ui)) le = ne, li = ni;
            frontier_at(&logical, le, li);
            cr_assert_eq(tide_spine_set_logical(sp, &logical), TIDE_OK);
        }
        if (tide_rng_below(&r, 4)) cr_assert_eq(tide_spine_set_physical(sp, &upper), TIDE_OK);
        if (tide_rng_below(&r, 10) == 0) cr_assert_eq(tide_spine_merge_all(sp), TIDE_OK);
        check_spine(sp, &sealed);
    }
    cr_assert_eq(tide_spine_set_physical(sp, &upper), TIDE_OK);
    cr_assert_eq(tide_spine_merge_all(sp), TIDE_OK);
    cr_assert_leq(tide_spine_batches(sp), 1);
    check_spine(sp, &sealed);
    check_seeks(sp, &sealed, lay, &r, nk, nv);

    tide_antichain_fini(&upper);
    tide_antichain_fini(&logical);
    tide_antichain_fini(&physical);
    naive_fini(&pending);
    naive_fini(&sealed);
    tide_batcher_free(bt);
    tide_spine_free(sp);
}

Test(trace_oracle, fixed_u64_keys_and_vals)
{
    run_pipeline(tide_layout_make(8, 8), 1, 150, 30, 6);
}
Test(trace_oracle, variable_keys_and_vals)
{
    run_pipeline(tide_layout_make(TIDE_VAR, TIDE_VAR), 2, 150, 60, 30);
}
Test(trace_oracle, wide_keys_empty_vals)
{
    run_pipeline(tide_layout_make(16, 0), 3, 150, 40, 1);
}
Test(trace_oracle, narrow_keys_variable_vals)
{
    run_pipeline(tide_layout_make(4, TIDE_VAR), 4, 150, 20, 40);
}
Test(trace_oracle, few_keys_many_duplicates)
{
    run_pipeline(tide_layout_make(8, 8), 5, 200, 3, 2);
}

/* The trace batch of the UPDATES batch @b (consolidated here), covering
 * [ZERO, @upper_epoch). */
static tide_trace_batch *sealed_batch(tide_batch *b, uint64_t upper_epoch)
{
    cr_assert_eq(tide_batch_consolidate(b), TIDE_OK);
    tide_antichain lo, up;
    tide_antichain_init(&lo);
    tide_antichain_init(&up);
    tide_antichain_insert(&lo, TIDE_TIME_ZERO);
    tide_antichain_insert(&up, tide_time_epoch(upper_epoch));
    tide_trace_batch *tb;
    cr_assert_eq(tide_trace_batch_from_updates(b, &lo, &up, NULL, &tb), TIDE_OK);
    tide_antichain_fini(&lo);
    tide_antichain_fini(&up);
    return tb;
}

/* A batch built from a consolidated UPDATES batch reads back exactly. */
Test(trace_batch, from_updates_roundtrip)
{
    tide_rng r = {tide_test_seed("trace_batch_roundtrip", 6)};
    tide_layout lays[] = {tide_layout_make(8, 8), tide_layout_make(TIDE_VAR, TIDE_VAR),
                          tide_layout_make(8, 0)};
    for (int li = 0; li < 3; li++) {
        tide_layout lay = lays[li];
        tide_batch *b = tide_batch_new(lay, TIDE_BATCH_UPDATES, 16);
        naive_trace want, got;
        naive_init(&want);
        naive_init(&got);
        for (int i = 0; i < 2000; i++) {
            uint8_t kb[32], vb[32];
            uint32_t kl, vl;
            naive_encode(lay.key_width, tide_rng_below(&r, 100), kb, &kl);
            naive_encode(lay.val_width, tide_rng_below(&r, 10), vb, &vl);
            tide_time t = {tide_rng_below(&r, 5), {(uint32_t)tide_rng_below(&r, 3), 0}};
            int64_t d = tide_rng_below(&r, 2) ? 1 : -1;
            cr_assert_eq(tide_batch_push_update(b, kb, kl, vb, vl, t, d), TIDE_OK);
            naive_push(&want, kb, kl, vb, vl, t, d);
        }
        tide_trace_batch *tb = sealed_batch(b, 5);
        cr_assert(naive_check_batch(tb));
        cr_assert_eq(tb->keys.offs == NULL, lay.key_width != TIDE_VAR,
                     "fixed keys carry no offsets");
        tide_cursor *c;
        cr_assert_eq(tide_trace_batch_cursor(tb, &c), TIDE_OK);
        tide_trace_batch_unref(tb); /* the cursor keeps it alive */
        naive_from_cursor(&got, c);
        tide_cursor_free(c);
        naive_consolidate(&want);
        cr_assert_eq(got.len, want.len);
        for (uint32_t i = 0; i < got.len; i++) {
            cr_assert_eq(naive_kv_cmp(&got.u[i], &want.u[i]), 0);
            cr_assert(tide_time_eq(got.u[i].t, want.u[i].t));
            cr_assert_eq(got.u[i].d, want.u[i].d);
        }
        naive_fini(&want);
        naive_fini(&got);
        tide_batch_unref(b);
    }
}

Test(trace_spine, rejects_non_contiguous_batch)
{
    tide_layout lay = tide_layout_make(8, 8);
    tide_spine *s = tide_spine_new(lay);
    tide_antichain a, b;
    tide_antichain_init(&a);
    tide_antichain_init(&b);
    tide_antichain_insert(&a, tide_time_epoch(1));
    tide_antichain_insert(&b, tide_time_epoch(2));
    tide_trace_batch *tb;
    cr_assert_eq(tide_trace_batch_empty(lay, &a, &b, NULL, &tb), TIDE_OK);
    cr_assert_eq(tide_spine_insert(s, tb), TIDE_EINVAL);
    cr_assert_eq(tide_spine_batches(s), 0);
    tide_trace_batch_unref(tb);
    tide_antichain_fini(&a);
    tide_antichain_fini(&b);
    tide_spine_free(s);
}

Test(trace_spine, empty_batches_do_not_pile_up)
{
    tide_layout lay = tide_layout_make(8, 8);
    tide_spine *s = tide_spine_new(lay);
    tide_antichain lo, up, none;
    tide_antichain_init(&lo);
    tide_antichain_init(&up);
    tide_antichain_init(&none); /* empty frontier: every merge allowed */
    cr_assert_eq(tide_spine_set_physical(s, &none), TIDE_OK);
    tide_antichain_insert(&lo, TIDE_TIME_ZERO);
    for (uint64_t e = 1; e <= 1000; e++) {
        tide_antichain_clear(&up);
        tide_antichain_insert(&up, tide_time_epoch(e));
        tide_trace_batch *tb;
        cr_assert_eq(tide_trace_batch_empty(lay, &lo, &up, NULL, &tb), TIDE_OK);
        cr_assert_eq(tide_spine_insert(s, tb), TIDE_OK);
        tide_trace_batch_unref(tb);
        cr_assert_leq(tide_spine_batches(s), 1);
        tide_antichain_copy(&lo, &up);
    }
    tide_antichain_fini(&lo);
    tide_antichain_fini(&up);
    tide_antichain_fini(&none);
    tide_spine_free(s);
}

/* Key i of the fence test: fixed u64, or a string whose first 8+ bytes are
 * shared by runs of keys (so fences tie and the seek must fall back to full
 * compares), with some keys shorter than 8 bytes. */
static void fence_key(bool var, uint32_t i, uint8_t *kb, uint32_t *kl)
{
    if (!var) {
        tide_u64_store(kb, (uint64_t)i * 7);
        *kl = 8;
    } else if (i % 97 == 0) {
        *kl = (uint32_t)snprintf((char *)kb, 32, "%c", 'a' + (char)(i / 97 % 20));
    } else {
        *kl = (uint32_t)snprintf((char *)kb, 32, "station-%02u/%06u", i / 4096, i);
    }
}

/* Seeks in a batch large enough for a fence index give the same answer as
 * a plain binary search, from every start, for present and absent keys. */
Test(trace_batch, fence_seek_matches_binary_search)
{
    tide_rng r = {tide_test_seed("trace_batch_fence", 7)};
    for (int var = 0; var < 2; var++) {
        tide_layout lay = tide_layout_make(var ? TIDE_VAR : 8, 8);
        tide_batch *b = tide_batch_new(lay, TIDE_BATCH_UPDATES, 16);
        uint32_t n = 3 * TIDE__FENCE_MIN + 17;
        for (uint32_t i = 0; i < n; i++) {
            uint8_t kb[32], vb[8];
            uint32_t kl;
            fence_key(var, i, kb, &kl);
            tide_u64_store(vb, i);
            cr_assert_eq(tide_batch_push_update(b, kb, kl, vb, 8, TIDE_TIME_ZERO, 1), TIDE_OK);
        }
        tide_trace_batch *tb = sealed_batch(b, 1);
        cr_assert_not_null(tb->fence, "a batch of %u keys has fences", tb->nkeys);
        for (int q = 0; q < 4000; q++) {
            uint8_t kb[40];
            uint32_t kl;
            fence_key(var, (uint32_t)tide_rng_below(&r, n + 50), kb, &kl);
            if (tide_rng_below(&r, 3) == 0) kb[kl++] = 'x'; /* absent: just after a key */
            uint32_t start = (uint32_t)tide_rng_below(&r, tb->nkeys + 1);
            uint32_t l = 0, h = tb->nkeys; /* reference: first key >= probe */
            while (l < h) {
                uint32_t m = l + (h - l) / 2, ml;
                const uint8_t *mk = tide_trace_col_get(&tb->keys, m, &ml);
                if (tide_bytes_cmp(mk, ml, kb, kl) < 0)
                    l = m + 1;
                else
                    h = m;
            }
            uint32_t want = l > start ? l : start;
            cr_assert_eq(tide__batch_seek_key(tb, start, kb, kl), want, "var=%d probe %d from %u",
                         var, q, start);
        }
        tide_trace_batch_unref(tb);
        tide_batch_unref(b);
    }
}
