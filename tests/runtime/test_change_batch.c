/*
 * test_change_batch.c - lazily consolidated (time, delta) batches.
 *
 * Checks consolidation on hand-built input, random update streams against a
 * per-time sum, the bounded-memory promise (the raw tail is compacted as it
 * outgrows the clean prefix) and extend.
 */
#include <criterion/criterion.h>

#include "tide/alloc.h"
#include "tide/error.h"
#include "tide/time.h"
#include "tide_test.h"

static tide_time tm(uint64_t e, uint32_t i, uint32_t j)
{
    return (tide_time){e, {i, j}};
}

static void assert_clean(const tide_change_batch *c)
{
    cr_assert_eq(c->clean, c->len);
    for (uint32_t i = 0; i < c->len; i++) {
        cr_assert_neq(c->updates[i].delta, 0);
        if (i) cr_assert_lt(tide_time_cmp(c->updates[i - 1].time, c->updates[i].time), 0);
    }
}

Test(change_batch, compact_sorts_sums_and_drops_zeros)
{
    tide_change_batch c;
    tide_change_batch_init(&c);
    tide_change_batch_update(&c, tm(2, 0, 0), 3);
    tide_change_batch_update(&c, tm(0, 1, 0), 1);
    tide_change_batch_update(&c, tm(2, 0, 0), -3);
    tide_change_batch_update(&c, tm(0, 0, 5), 2);
    tide_change_batch_update(&c, tm(0, 1, 0), 4);
    tide_change_batch_update(&c, tm(7, 7, 7), 0); /* ignored */
    cr_assert_eq(c.len, 5);
    tide_change_batch_compact(&c);
    assert_clean(&c);
    cr_assert_eq(c.len, 2);
    cr_assert(tide_time_eq(c.updates[0].time, tm(0, 0, 5)));
    cr_assert_eq(c.updates[0].delta, 2);
    cr_assert(tide_time_eq(c.updates[1].time, tm(0, 1, 0)));
    cr_assert_eq(c.updates[1].delta, 5);
    cr_assert_not(tide_change_batch_is_empty(&c));
    tide_change_batch_update(&c, tm(0, 0, 5), -2);
    tide_change_batch_update(&c, tm(0, 1, 0), -5);
    cr_assert(tide_change_batch_is_empty(&c));
    cr_assert_eq(c.len, 0);
    tide_change_batch_fini(&c);
    tide_change_batch_fini(&c);
}

Test(change_batch, clear_keeps_capacity)
{
    tide_change_batch c;
    tide_change_batch_init(&c);
    for (uint32_t i = 0; i < 20; i++) tide_change_batch_update(&c, tm(i, 0, 0), 1);
    uint32_t cap = c.cap;
    tide_time_delta *p = c.updates;
    tide_change_batch_clear(&c);
    cr_assert_eq(c.len, 0);
    cr_assert(tide_change_batch_is_empty(&c));
    for (uint32_t i = 0; i < 20; i++) tide_change_batch_update(&c, tm(i, 0, 0), 1);
    cr_assert_eq(c.cap, cap);
    cr_assert_eq(c.updates, p, "a warm batch does not reallocate");
    tide_change_batch_fini(&c);
}

Test(change_batch, random_updates_match_sums)
{
    tide_rng r = {tide_test_seed("change_batch/random_updates_match_sums", 21)};
    for (int run = 0; run < 100; run++) {
        int64_t sum[4][4][4] = {{{0}}};
        tide_change_batch c;
        tide_change_batch_init(&c);
        uint32_t n = (uint32_t)tide_rng_below(&r, 2000);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t e = (uint32_t)tide_rng_below(&r, 4), a = (uint32_t)tide_rng_below(&r, 4),
                     b = (uint32_t)tide_rng_below(&r, 4);
            int64_t d = (int64_t)tide_rng_below(&r, 7) - 3;
            cr_assert_eq(tide_change_batch_update(&c, tm(e, a, b), d), TIDE_OK);
            sum[e][a][b] += d;
            /* At most 64 distinct times, so the lazy tail keeps it small. */
            cr_assert_leq(c.len, 64 + 64 + 1, "run %d", run);
        }
        tide_change_batch_compact(&c);
        assert_clean(&c);
        uint32_t nonzero = 0;
        for (int e = 0; e < 4; e++)
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++) nonzero += sum[e][a][b] != 0;
        cr_assert_eq(c.len, nonzero, "run %d", run);
        for (uint32_t i = 0; i < c.len; i++) {
            tide_time t = c.updates[i].time;
            cr_assert_eq(c.updates[i].delta, sum[t.epoch][t.iter[0]][t.iter[1]]);
        }
        tide_change_batch_fini(&c);
    }
}

Test(change_batch, compacts_large_unsorted_input)
{
    /* Enough entries to take the qsort path as well as insertion sort. */
    tide_change_batch c;
    tide_change_batch_init(&c);
    for (uint32_t i = 0; i < 1000; i++) tide_change_batch_update(&c, tm(999 - i, i % 3, 0), 1);
    tide_change_batch_compact(&c);
    assert_clean(&c);
    cr_assert_eq(c.len, 1000);
    tide_change_batch_fini(&c);
}

Test(change_batch, extend_appends_without_touching_source)
{
    tide_change_batch a, b;
    tide_change_batch_init(&a);
    tide_change_batch_init(&b);
    tide_change_batch_update(&a, tm(1, 0, 0), 1);
    tide_change_batch_update(&b, tm(1, 0, 0), -1);
    tide_change_batch_update(&b, tm(2, 0, 0), 4);
    cr_assert_eq(tide_change_batch_extend(&a, &b), TIDE_OK);
    cr_assert_eq(b.len, 2);
    tide_change_batch_compact(&a);
    cr_assert_eq(a.len, 1);
    cr_assert(tide_time_eq(a.updates[0].time, tm(2, 0, 0)));
    cr_assert_eq(a.updates[0].delta, 4);
    cr_assert_eq(tide_change_batch_extend(&a, &a), TIDE_OK, "self-extend doubles");
    cr_assert_eq(a.updates[0].delta, 8);
    tide_change_batch_fini(&a);
    tide_change_batch_fini(&b);
}

Test(change_batch, update_reports_enomem)
{
    tide_change_batch c;
    tide_change_batch_init(&c);
    tide_alloc_fail_after(1);
    cr_assert_eq(tide_change_batch_update(&c, tm(1, 0, 0), 1), TIDE_ENOMEM);
    tide_alloc_fail_after(0);
    cr_assert_eq(c.len, 0);
    cr_assert_eq(tide_change_batch_update(&c, tm(1, 0, 0), 1), TIDE_OK);
    cr_assert_eq(c.len, 1);
    tide_change_batch_fini(&c);
}
