/*
 * test_antichain.c - antichains and mutable (counted) antichains.
 *
 * Plain antichains are checked on hand-picked cases and against the minimal
 * elements of a random set. Mutable antichains are driven with random batches
 * of count changes on a small grid of times (so times collide and compare
 * often), including counts that go and stay negative; after every batch the
 * frontier must equal a from-scratch recomputation over the counts, and the
 * reported changes, accumulated, must reproduce it.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tide/alloc.h"
#include "tide/error.h"
#include "tide/time.h"
#include "tide_test.h"

static tide_time tm(uint64_t e, uint32_t i, uint32_t j)
{
    return (tide_time){e, {i, j}};
}

static bool has(const tide_antichain *a, tide_time t)
{
    for (uint32_t i = 0; i < a->len; i++)
        if (tide_time_eq(a->elems[i], t)) return true;
    return false;
}

Test(antichain, insert_evicts_greater)
{
    tide_antichain a;
    tide_antichain_init(&a);
    cr_assert_eq(tide_antichain_insert(&a, tm(2, 2, 0)), 1);
    cr_assert_eq(tide_antichain_insert(&a, tm(3, 0, 0)), 1, "incomparable");
    cr_assert_eq(a.len, 2);
    cr_assert_eq(tide_antichain_insert(&a, tm(1, 1, 0)), 1);
    cr_assert_eq(a.len, 2, "(1,1,0) evicts (2,2,0) but not (3,0,0)");
    cr_assert(has(&a, tm(1, 1, 0)) && has(&a, tm(3, 0, 0)));
    cr_assert_eq(tide_antichain_insert(&a, tm(0, 0, 0)), 1);
    cr_assert_eq(a.len, 1);
    tide_antichain_fini(&a);
}

Test(antichain, insert_rejects_dominated_and_duplicates)
{
    tide_antichain a;
    tide_antichain_init(&a);
    tide_antichain_insert(&a, tm(1, 0, 0));
    tide_antichain_insert(&a, tm(0, 5, 0));
    cr_assert_eq(tide_antichain_insert(&a, tm(1, 0, 0)), 0);
    cr_assert_eq(tide_antichain_insert(&a, tm(4, 0, 3)), 0);
    cr_assert_eq(tide_antichain_insert(&a, tm(0, 6, 0)), 0);
    cr_assert_eq(a.len, 2);
    tide_antichain_clear(&a);
    cr_assert_eq(a.len, 0);
    cr_assert_eq(tide_antichain_insert(&a, tm(9, 9, 9)), 1);
    tide_antichain_fini(&a);
}

Test(antichain, less_equal_and_less_than)
{
    tide_antichain a;
    tide_antichain_init(&a);
    cr_assert_not(tide_antichain_less_equal(&a, tm(0, 0, 0)), "empty: nothing is beyond");
    tide_antichain_insert(&a, tm(1, 2, 0));
    tide_antichain_insert(&a, tm(2, 0, 0));
    cr_assert(tide_antichain_less_equal(&a, tm(1, 2, 0)));
    cr_assert_not(tide_antichain_less_than(&a, tm(1, 2, 0)));
    cr_assert(tide_antichain_less_than(&a, tm(1, 2, 1)));
    cr_assert(tide_antichain_less_than(&a, tm(2, 1, 0)));
    cr_assert_not(tide_antichain_less_equal(&a, tm(1, 1, 9)));
    cr_assert_not(tide_antichain_less_equal(&a, tm(0, 9, 9)));
    tide_antichain_fini(&a);
}

Test(antichain, eq_ignores_order_and_copy_copies)
{
    tide_antichain a, b;
    tide_antichain_init(&a);
    tide_antichain_init(&b);
    tide_antichain_insert(&a, tm(1, 0, 0));
    tide_antichain_insert(&a, tm(0, 1, 0));
    tide_antichain_insert(&b, tm(0, 1, 0));
    cr_assert_not(tide_antichain_eq(&a, &b));
    tide_antichain_insert(&b, tm(1, 0, 0));
    cr_assert(tide_antichain_eq(&a, &b));
    tide_antichain_insert(&b, tm(0, 0, 1));
    cr_assert_not(tide_antichain_eq(&a, &b));
    cr_assert_eq(tide_antichain_copy(&b, &a), TIDE_OK);
    cr_assert(tide_antichain_eq(&a, &b));
    cr_assert_neq(a.elems, b.elems);
    tide_antichain_fini(&a);
    tide_antichain_fini(&b);
}

Test(antichain, dominates)
{
    tide_antichain a, b, empty;
    tide_antichain_init(&a);
    tide_antichain_init(&b);
    tide_antichain_init(&empty);
    tide_antichain_insert(&a, tm(1, 0, 0));
    tide_antichain_insert(&a, tm(0, 2, 0));
    tide_antichain_insert(&b, tm(1, 1, 0));
    tide_antichain_insert(&b, tm(0, 3, 0));
    cr_assert(tide_antichain_dominates(&a, &b));
    cr_assert_not(tide_antichain_dominates(&b, &a));
    cr_assert(tide_antichain_dominates(&a, &a));
    cr_assert(tide_antichain_dominates(&a, &empty), "complete is ahead of everything");
    cr_assert_not(tide_antichain_dominates(&empty, &a));
    tide_antichain_insert(&b, tm(0, 0, 1));
    cr_assert_not(tide_antichain_dominates(&a, &b));
    tide_antichain_fini(&a);
    tide_antichain_fini(&b);
}

Test(antichain, insert_matches_minimal_elements)
{
    tide_rng r = {tide_test_seed("antichain/insert_matches_minimal_elements", 11)};
    for (int round = 0; round < 500; round++) {
        tide_time set[40];
        int n = 1 + (int)tide_rng_below(&r, 40);
        tide_antichain a;
        tide_antichain_init(&a);
        for (int i = 0; i < n; i++) {
            set[i] = tm(tide_rng_below(&r, 4), (uint32_t)tide_rng_below(&r, 4),
                        (uint32_t)tide_rng_below(&r, 4));
            cr_assert_geq(tide_antichain_insert(&a, set[i]), 0);
        }
        uint32_t minimal = 0;
        for (int i = 0; i < n; i++) {
            bool is_min = true, dup = false;
            for (int j = 0; j < n; j++) is_min &= !tide_time_lt(set[j], set[i]);
            for (int j = 0; j < i; j++) dup |= tide_time_eq(set[j], set[i]);
            if (is_min && !dup) {
                minimal++;
                cr_assert(has(&a, set[i]), "round %d", round);
            }
            cr_assert(tide_antichain_less_equal(&a, set[i]));
        }
        cr_assert_eq(a.len, minimal, "round %d", round);
        tide_antichain_fini(&a);
    }
}

Test(antichain, insert_oom_leaves_antichain_intact)
{
    tide_antichain a;
    tide_antichain_init(&a);
    for (uint32_t i = 0; i < 4; i++) tide_antichain_insert(&a, tm(4 - i, i, 0));
    cr_assert_eq(a.len, 4);
    uint32_t cap = a.cap;
    for (uint32_t i = a.len; i < cap; i++) tide_antichain_insert(&a, tm(10 - i, i, 0));
    cr_assert_eq(a.len, cap);
    tide_alloc_fail_after(1);
    /* (0,0,0) would evict everything, but growth comes first and fails. */
    cr_assert_eq(tide_antichain_insert(&a, tm(0, 0, 0)), TIDE_ENOMEM);
    tide_alloc_fail_after(0);
    cr_assert_eq(a.len, cap);
    tide_antichain_fini(&a);
}

/* ======================== Mutable antichains ======================== */

#define GE   3 /* grid: epoch 0..GE-1, iter0 0..GI-1, iter1 0..GJ-1 */
#define GI   3
#define GJ   2
#define GRID (GE * GI * GJ)

static tide_time grid_time(int k)
{
    return tm(k / (GI * GJ), (k / GJ) % GI, k % GJ);
}

/* Minimal elements of the positive counts, by brute force. */
static void naive_frontier(const int64_t *count, tide_antichain *out)
{
    tide_antichain_clear(out);
    for (int k = 0; k < GRID; k++) {
        if (count[k] <= 0) continue;
        bool minimal = true;
        for (int j = 0; j < GRID; j++)
            if (count[j] > 0 && tide_time_lt(grid_time(j), grid_time(k))) minimal = false;
        if (minimal) {
            out->elems[out->len++] = grid_time(k);
        }
    }
}

Test(mutable_antichain, frontier_tracks_positive_minimal_counts)
{
    tide_mutable_antichain m;
    tide_mutable_antichain_init(&m);
    tide_change_batch ch;
    tide_change_batch_init(&ch);
    tide_time_delta u[] = {{tm(1, 0, 0), 2}, {tm(0, 3, 0), 1}, {tm(2, 0, 0), 1}};
    cr_assert_eq(tide_mutable_antichain_update_iter(&m, u, 3, &ch), TIDE_OK);
    cr_assert_eq(m.frontier.len, 2);
    tide_change_batch_compact(&ch);
    cr_assert_eq(ch.len, 2);
    tide_change_batch_clear(&ch);

    /* Retract one of two copies of (1,0,0): nothing moves. */
    tide_time_delta r1 = {tm(1, 0, 0), -1};
    tide_mutable_antichain_update_iter(&m, &r1, 1, &ch);
    cr_assert_eq(ch.len, 0);
    cr_assert_eq(tide_mutable_antichain_count(&m, tm(1, 0, 0)), 1);
    /* Retract the other: (2,0,0) surfaces. */
    tide_mutable_antichain_update_iter(&m, &r1, 1, &ch);
    tide_change_batch_compact(&ch);
    cr_assert_eq(ch.len, 2);
    cr_assert(tide_time_eq(ch.updates[0].time, tm(1, 0, 0)) && ch.updates[0].delta == -1);
    cr_assert(tide_time_eq(ch.updates[1].time, tm(2, 0, 0)) && ch.updates[1].delta == 1);
    cr_assert(tide_antichain_less_equal(&m.frontier, tm(2, 0, 0)));
    cr_assert_not(tide_antichain_less_equal(&m.frontier, tm(1, 0, 0)));
    tide_change_batch_clear(&ch);

    /* A negative count hides nothing and shows nothing. */
    tide_time_delta neg = {tm(0, 0, 0), -1};
    tide_mutable_antichain_update_iter(&m, &neg, 1, &ch);
    cr_assert_eq(ch.len, 0);
    cr_assert_eq(m.frontier.len, 2);
    tide_time_delta pos = {tm(0, 0, 0), 1};
    tide_mutable_antichain_update_iter(&m, &pos, 1, &ch);
    cr_assert_eq(ch.len, 0, "back to zero: still not in the frontier");
    tide_mutable_antichain_update_iter(&m, &pos, 1, &ch);
    cr_assert_eq(m.frontier.len, 1);
    cr_assert(tide_time_eq(m.frontier.elems[0], tm(0, 0, 0)));
    tide_change_batch_fini(&ch);
    tide_mutable_antichain_fini(&m);
}

Test(mutable_antichain, null_changes_is_allowed)
{
    tide_mutable_antichain m;
    tide_mutable_antichain_init(&m);
    tide_time_delta u = {tm(1, 1, 1), 1};
    cr_assert_eq(tide_mutable_antichain_update_iter(&m, &u, 1, NULL), TIDE_OK);
    cr_assert_eq(m.frontier.len, 1);
    tide_mutable_antichain_fini(&m);
}

Test(mutable_antichain, matches_recomputation_with_negative_counts)
{
    tide_rng r = {tide_test_seed("mutable_antichain/matches_recomputation", 12)};
    tide_antichain expect;
    tide_antichain_init(&expect);
    expect.elems = tide_alloc(GRID * sizeof(tide_time));
    expect.cap = GRID;
    for (int run = 0; run < 200; run++) {
        int64_t count[GRID] = {0}, seen[GRID] = {0};
        tide_mutable_antichain m;
        tide_mutable_antichain_init(&m);
        tide_change_batch ch;
        tide_change_batch_init(&ch);
        for (int step = 0; step < 60; step++) {
            tide_time_delta u[8];
            uint32_t n = 1 + (uint32_t)tide_rng_below(&r, 8);
            for (uint32_t i = 0; i < n; i++) {
                int k = (int)tide_rng_below(&r, GRID);
                /* Biased upwards a little so frontiers are usually busy. */
                int64_t d = (int64_t)tide_rng_below(&r, 5) - 2;
                if (d == 0) d = 1;
                u[i] = (tide_time_delta){grid_time(k), d};
                count[k] += d;
            }
            tide_change_batch_clear(&ch);
            cr_assert_eq(tide_mutable_antichain_update_iter(&m, u, n, &ch), TIDE_OK);
            naive_frontier(count, &expect);
            cr_assert(tide_antichain_eq(&m.frontier, &expect), "run %d step %d", run, step);
            for (uint32_t i = 0; i < ch.len; i++) {
                tide_time t = ch.updates[i].time;
                int k = (int)(t.epoch * GI * GJ + t.iter[0] * GJ + t.iter[1]);
                seen[k] += ch.updates[i].delta;
            }
            for (int k = 0; k < GRID; k++) {
                cr_assert(seen[k] == 0 || seen[k] == 1, "run %d step %d", run, step);
                cr_assert_eq(seen[k] == 1, has(&expect, grid_time(k)), "run %d step %d", run, step);
                if (tide_rng_below(&r, 4) == 0)
                    cr_assert_eq(tide_mutable_antichain_count(&m, grid_time(k)), count[k]);
            }
        }
        tide_change_batch_fini(&ch);
        tide_mutable_antichain_fini(&m);
    }
    tide_antichain_fini(&expect);
}

Test(mutable_antichain, updates_beyond_the_frontier_do_not_rebuild)
{
    /* Not a hard contract, but the cost model: many counts strictly beyond a
     * frontier element are absorbed without reporting anything. */
    tide_mutable_antichain m;
    tide_mutable_antichain_init(&m);
    tide_change_batch ch;
    tide_change_batch_init(&ch);
    tide_time_delta base = {tm(0, 0, 0), 1};
    tide_mutable_antichain_update_iter(&m, &base, 1, &ch);
    tide_change_batch_clear(&ch);
    for (uint32_t i = 1; i < 1000; i++) {
        tide_time_delta u = {tm(i % 7, i % 5, i % 3), (i & 1) ? 1 : -1};
        if (tide_time_eq(u.time, tm(0, 0, 0))) continue;
        tide_mutable_antichain_update_iter(&m, &u, 1, &ch);
    }
    cr_assert_eq(ch.len, 0);
    cr_assert_lt(m.counts.len, 200, "counts compact as they go");
    tide_change_batch_fini(&ch);
    tide_mutable_antichain_fini(&m);
}
