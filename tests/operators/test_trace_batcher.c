/*
 * test_trace_batcher.c - the batcher's sort paths against the oracle, on
 * seals large enough to reach them: fixed layouts packed into one or two
 * words (bucketed by a top digit, then radix-sorted), fixed layouts too wide
 * to pack, variable layouts; times that vary within a seal (partially
 * ordered, some kept back and merged with the next seal's pushes), diffs
 * that cancel to zero, zero diffs, and a seal of one repeated update.
 *
 * Each sealed batch must hold exactly the consolidated updates the oracle
 * holds for times not beyond the seal's upper, in (key, val, time) order.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_trace.h"
#include "tide/error.h"
#include "tide/trace.h"
#include "tide_test.h"

/* How one test draws its updates. */
typedef struct spec {
    tide_layout lay;
    uint64_t kspan, vspan; /* ids below these; 0: every byte random */
    bool vary_time;        /* times from a partially ordered set, else one time */
    int64_t dspan;         /* diffs in [-dspan, dspan] (0: always +1) */
    uint32_t n;            /* updates pushed per round */
    bool skew;             /* 99% of keys 0 with vals below 4: one huge top bucket */
} spec;

static void encode(tide_rng *r, uint32_t width, uint64_t span, uint8_t *out, uint32_t *len)
{
    if (width != TIDE_VAR && span == 0) {
        for (uint32_t i = 0; i < width; i++) out[i] = (uint8_t)tide_rng_next(r);
        *len = width;
        return;
    }
    naive_encode(width, tide_rng_below(r, span ? span : UINT64_MAX), out, len);
}

/* A time beyond @lower: one of a few partially ordered ones, joined with an
 * element of @lower. */
static tide_time draw_time(tide_rng *r, const spec *sp, const tide_antichain *lower)
{
    static const tide_time times[] = {{0, {0, 0}}, {0, {1, 0}}, {0, {2, 1}}, {1, {0, 0}},
                                      {1, {3, 0}}, {2, {0, 2}}, {0, {0, 7}}};
    tide_time t = sp->vary_time ? times[tide_rng_below(r, 7)] : TIDE_TIME_ZERO;
    return tide_time_join(t, lower->elems[tide_rng_below(r, lower->len)]);
}

/* Push @sp->n updates in batches of random sizes, recording them in @pending. */
static void push_round(tide_rng *r, const spec *sp, tide_batcher *bt, naive_trace *pending)
{
    uint32_t start = pending->len;
    for (uint32_t done = 0; done < sp->n;) {
        uint32_t len = 1 + (uint32_t)tide_rng_below(r, 4096);
        if (len > sp->n - done) len = sp->n - done;
        tide_batch *b = tide_batch_new(sp->lay, TIDE_BATCH_UPDATES, len);
        cr_assert(b);
        for (uint32_t i = 0; i < len; i++) {
            uint8_t kb[NAIVE_MAX_BYTES], vb[NAIVE_MAX_BYTES];
            uint32_t kl, vl;
            tide_time t;
            int64_t d;
            uint32_t seen = pending->len - start;
            if (seen && tide_rng_below(r, 8) == 0) {
                /* Retract an update of this round: that triple may cancel. */
                const naive_upd *u = &pending->u[start + tide_rng_below(r, seen)];
                memcpy(kb, u->k, kl = u->kl);
                memcpy(vb, u->v, vl = u->vl);
                t = u->t;
                d = -u->d;
            } else {
                bool common = sp->skew && tide_rng_below(r, 100) != 0;
                encode(r, sp->lay.key_width, common ? 1 : sp->kspan, kb, &kl);
                encode(r, sp->lay.val_width, common ? 4 : sp->vspan, vb, &vl);
                t = draw_time(r, sp, tide_batcher_lower(bt));
                d = sp->dspan ? (int64_t)tide_rng_below(r, 2 * (uint64_t)sp->dspan + 1) - sp->dspan
                              : 1;
                if (tide_rng_below(r, 50) == 0) d = 0;
            }
            cr_assert_eq(tide_batch_push_update(b, kb, kl, vb, vl, t, d), TIDE_OK);
            naive_push(pending, kb, kl, vb, vl, t, d);
        }
        cr_assert_eq(tide_batcher_push(bt, b), TIDE_OK);
        tide_batch_unref(b);
        done += len;
    }
}

/* Seal at @upper and check the batch against the oracle's share of
 * @pending, which keeps only what stays behind. */
static void seal_and_check(tide_batcher *bt, const tide_antichain *upper, naive_trace *pending)
{
    naive_trace want, got;
    naive_init(&want);
    naive_init(&got);
    uint32_t w = 0;
    for (uint32_t i = 0; i < pending->len; i++) {
        const naive_upd *u = &pending->u[i];
        if (tide_antichain_less_equal(upper, u->t))
            pending->u[w++] = *u;
        else
            naive_push(&want, u->k, u->kl, u->v, u->vl, u->t, u->d);
    }
    pending->len = w;
    naive_consolidate(&want);

    tide_trace_batch *tb;
    cr_assert_eq(tide_batcher_seal(bt, upper, &tb), TIDE_OK);
    cr_assert(naive_check_batch(tb));
    tide_cursor *c;
    cr_assert_eq(tide_trace_batch_cursor(tb, &c), TIDE_OK);
    naive_from_cursor(&got, c);
    tide_cursor_free(c);
    cr_assert_eq(got.len, want.len, "sealed %u updates, the oracle %u", got.len, want.len);
    for (uint32_t i = 0; i < got.len; i++) {
        const naive_upd *a = &got.u[i], *b = &want.u[i];
        cr_assert(naive_kv_cmp(a, b) == 0 && tide_time_eq(a->t, b->t) && a->d == b->d,
                  "update %u: got diff %lld at (%llu,%u,%u), want %lld at (%llu,%u,%u)", i,
                  (long long)a->d, (unsigned long long)a->t.epoch, a->t.iter[0], a->t.iter[1],
                  (long long)b->d, (unsigned long long)b->t.epoch, b->t.iter[0], b->t.iter[1]);
    }
    tide_trace_batch_unref(tb);
    naive_fini(&want);
    naive_fini(&got);
}

/*
 * Three rounds: push, then seal at {(1,0,0), (0,2,0)} (the times beyond it
 * stay behind), push more, seal at {(2,0,0), (1,3,0)}, then push more and
 * seal everything at {(100,0,0)}.
 */
static void run(spec s, uint64_t salt)
{
    const spec *sp = &s;
    static const tide_time uppers[3][2] = {
        {{1, {0, 0}}, {0, {2, 0}}}, {{2, {0, 0}}, {1, {3, 0}}}, {{100, {0, 0}}, {100, {0, 0}}}};
    tide_rng r = {tide_test_seed("trace_batcher", salt)};
    tide_batcher *bt = tide_batcher_new(sp->lay);
    cr_assert(bt);
    naive_trace pending;
    naive_init(&pending);
    tide_antichain upper;
    tide_antichain_init(&upper);
    for (int round = 0; round < 3; round++) {
        push_round(&r, sp, bt, &pending);
        tide_antichain_clear(&upper);
        for (int i = 0; i < 2; i++)
            cr_assert_geq(tide_antichain_insert(&upper, uppers[round][i]), 0);
        seal_and_check(bt, &upper, &pending);
    }
    cr_assert_eq(pending.len, 0);
    cr_assert_eq(tide_batcher_len(bt), 0);
    tide_antichain_fini(&upper);
    naive_fini(&pending);
    tide_batcher_free(bt);
}

/* Columns of each spec below: layout, kspan, vspan, vary_time, dspan, n, skew. */

/* Integer edges at one time: 8/8 packed into one word, bucketed. */
Test(trace_batcher, u64_edges_one_time)
{
    run((spec){tide_layout_make(8, 8), 6000, 6000, false, 0, 30000, false}, 1);
}

/* Few keys and vals, diffs of both signs: most triples cancel or merge. */
Test(trace_batcher, u64_duplicates_cancel)
{
    run((spec){tide_layout_make(8, 8), 300, 4, true, 1, 30000, false}, 2);
}

/* Times and diffs vary within each seal; some times are kept back. */
Test(trace_batcher, u64_varying_times)
{
    run((spec){tide_layout_make(8, 8), 100000, 50, true, 3, 40000, false}, 3);
}

/* Random 64-bit keys: more than one word of varying bits. */
Test(trace_batcher, u64_two_word_packing)
{
    run((spec){tide_layout_make(8, 8), 0, 1000, true, 2, 20000, false}, 4);
}

/* Random keys and vals, varying times: too wide to pack in two words. */
Test(trace_batcher, u64_too_wide_to_pack)
{
    run((spec){tide_layout_make(8, 8), 0, 0, true, 2, 20000, false}, 5);
}

/* Widths other than 8/8 that still pack. */
Test(trace_batcher, odd_fixed_widths)
{
    spec specs[] = {
        {tide_layout_make(8, 0), 50000, 1, true, 1, 20000, false},
        {tide_layout_make(4, 4), 70000, 300, true, 2, 20000, false},
        {tide_layout_make(3, 5), 0, 0, false, 1, 20000, false},
        {tide_layout_make(16, 0), 1ull << 40, 1, false, 1, 20000, false},
        {tide_layout_make(1, 2), 200, 0, true, 5, 20000, false},
    };
    for (uint64_t i = 0; i < sizeof specs / sizeof *specs; i++) run(specs[i], 10 + i);
}

/* The top digit taken from the val (one key), or spanning several fields
 * (two keys; one key and val, times varying). */
Test(trace_batcher, top_digit_sources)
{
    spec specs[] = {
        {tide_layout_make(8, 8), 1, 1u << 30, false, 1, 20000, false},
        {tide_layout_make(8, 8), 2, 5000, true, 1, 20000, false},
        {tide_layout_make(8, 8), 1, 1, true, 3, 20000, false},
    };
    for (uint64_t i = 0; i < sizeof specs / sizeof *specs; i++) run(specs[i], 40 + i);
}

/* Fixed layouts too wide for the packed path, and variable ones. */
Test(trace_batcher, wide_and_variable_widths)
{
    spec specs[] = {
        {tide_layout_make(16, 0), 0, 1, true, 1, 20000, false},
        {tide_layout_make(16, 8), 5000, 0, true, 2, 20000, false},
        {tide_layout_make(TIDE_VAR, TIDE_VAR), 5000, 300, true, 2, 20000, false},
        {tide_layout_make(8, TIDE_VAR), 5000, 300, false, 1, 20000, false},
    };
    for (uint64_t i = 0; i < sizeof specs / sizeof *specs; i++) run(specs[i], 20 + i);
}

/* Most updates land in one top bucket, which is then sorted with wide
 * digits (it has more than 64K entries). */
Test(trace_batcher, skewed_top_bucket)
{
    run((spec){tide_layout_make(8, 8), 1ull << 40, 1u << 20, false, 1, 150000, true}, 30);
}

/* Every update the same (key, val, time, diff): nothing varies at all. */
Test(trace_batcher, one_repeated_update)
{
    tide_batcher *bt = tide_batcher_new(tide_layout_make(8, 8));
    uint8_t k[8], v[8];
    tide_u64_store(k, 42);
    tide_u64_store(v, 7);
    for (int i = 0; i < 5; i++) {
        tide_batch *b = tide_batch_new(tide_layout_make(8, 8), TIDE_BATCH_UPDATES, 3000);
        for (int j = 0; j < 3000; j++)
            cr_assert_eq(tide_batch_push_update(b, k, 8, v, 8, TIDE_TIME_ZERO, 3), TIDE_OK);
        cr_assert_eq(tide_batcher_push(bt, b), TIDE_OK);
        tide_batch_unref(b);
    }
    tide_antichain upper;
    tide_antichain_init(&upper);
    cr_assert_geq(tide_antichain_insert(&upper, tide_time_epoch(1)), 0);
    tide_trace_batch *tb;
    cr_assert_eq(tide_batcher_seal(bt, &upper, &tb), TIDE_OK);
    cr_assert_eq(tb->nkeys, 1);
    cr_assert_eq(tb->nupds, 1);
    cr_assert_eq(tb->upds[0].delta, 45000);
    tide_trace_batch_unref(tb);
    tide_antichain_fini(&upper);
    tide_batcher_free(bt);
}
