/*
 * test_timestamp.c - product times and the path-summary algebra.
 *
 * Hand-picked values pin down apply / then / le, including overflow at each
 * coordinate's width; randomised checks hold then to "apply a, then b" and to
 * associativity, and le to its meaning (a <= b means a(t) <= b(t) for all t).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tide/error.h"
#include "tide/time.h"
#include "tide_test.h"

static tide_summary sum(uint8_t reset, uint64_t a0, uint64_t a1, uint64_t a2)
{
    return (tide_summary){{a0, a1, a2}, reset};
}

static tide_time tm(uint64_t e, uint32_t i, uint32_t j)
{
    return (tide_time){e, {i, j}};
}

static tide_time rand_time(tide_rng *r)
{
    /* Mostly small coordinates, sometimes near the top of their range. */
    tide_time t =
        tm(tide_rng_below(r, 6), (uint32_t)tide_rng_below(r, 6), (uint32_t)tide_rng_below(r, 6));
    if (tide_rng_below(r, 8) == 0) t.epoch = UINT64_MAX - tide_rng_below(r, 4);
    if (tide_rng_below(r, 8) == 0) t.iter[0] = UINT32_MAX - (uint32_t)tide_rng_below(r, 4);
    if (tide_rng_below(r, 8) == 0) t.iter[1] = UINT32_MAX - (uint32_t)tide_rng_below(r, 4);
    return t;
}

static tide_summary rand_summary(tide_rng *r)
{
    tide_summary s = sum((uint8_t)tide_rng_below(r, 8), tide_rng_below(r, 4), tide_rng_below(r, 4),
                         tide_rng_below(r, 4));
    if (tide_rng_below(r, 16) == 0) s.add[tide_rng_below(r, 3)] = UINT64_MAX - tide_rng_below(r, 2);
    return s;
}

Test(time, fmt_prints_all_coordinates)
{
    char buf[64];
    cr_assert_str_eq(tide_time_fmt(tm(7, 1, 2), buf, sizeof buf), "(7,1,2)");
    cr_assert_str_eq(tide_time_fmt(tm(UINT64_MAX, UINT32_MAX, 0), buf, sizeof buf),
                     "(18446744073709551615,4294967295,0)");
    char small[4];
    tide_time_fmt(tm(123, 4, 5), small, sizeof small);
    cr_assert_str_eq(small, "(12", "truncated, still terminated");
}

Test(time, cmp_extends_product_order)
{
    tide_rng r = {tide_test_seed("time/cmp_extends_product_order", 1)};
    for (int k = 0; k < 5000; k++) {
        tide_time a = rand_time(&r), b = rand_time(&r);
        if (tide_time_le(a, b)) cr_assert_leq(tide_time_cmp(a, b), 0);
        cr_assert_eq(tide_time_cmp(a, b), -tide_time_cmp(b, a));
        cr_assert_eq(tide_time_cmp(a, b) == 0, tide_time_eq(a, b));
    }
}

Test(summary, apply_resets_then_adds)
{
    tide_time out;
    cr_assert(tide_summary_apply(TIDE_SUMMARY_IDENTITY, tm(3, 4, 5), &out));
    cr_assert(tide_time_eq(out, tm(3, 4, 5)));
    cr_assert(tide_summary_apply(sum(0, 0, 1, 0), tm(3, 4, 5), &out)); /* feedback */
    cr_assert(tide_time_eq(out, tm(3, 5, 5)));
    cr_assert(tide_summary_apply(sum(1u << 1, 0, 0, 0), tm(3, 4, 5), &out)); /* leave */
    cr_assert(tide_time_eq(out, tm(3, 0, 5)));
    cr_assert(tide_summary_apply(sum(1u << 2 | 1u, 2, 0, 7), tm(3, 4, 5), &out));
    cr_assert(tide_time_eq(out, tm(2, 4, 7)));
}

Test(summary, apply_fails_on_overflow_per_coordinate_width)
{
    tide_time out = tm(9, 9, 9);
    cr_assert(tide_summary_apply(sum(0, 1, 0, 0), tm(UINT64_MAX - 1, 0, 0), &out));
    cr_assert_eq(out.epoch, UINT64_MAX);
    cr_assert_not(tide_summary_apply(sum(0, 1, 0, 0), tm(UINT64_MAX, 0, 0), &out));
    /* Coordinates 1 and 2 are u32: 2^32 - 1 + 1 does not fit. */
    cr_assert(tide_summary_apply(sum(0, 0, 1, 0), tm(0, UINT32_MAX - 1, 0), &out));
    cr_assert_eq(out.iter[0], UINT32_MAX);
    cr_assert_not(tide_summary_apply(sum(0, 0, 1, 0), tm(0, UINT32_MAX, 0), &out));
    cr_assert_not(tide_summary_apply(sum(0, 0, 0, 1), tm(0, 0, UINT32_MAX), &out));
    cr_assert_not(tide_summary_apply(sum(1u << 1, 0, 1ull << 32, 0), tm(0, 0, 0), &out));
    cr_assert_not(tide_summary_apply(sum(0, 0, UINT64_MAX, 0), tm(0, 1, 0), &out));
    /* A reset rescues a coordinate that would otherwise overflow. */
    cr_assert(tide_summary_apply(sum(1u << 2, 0, 0, 1), tm(0, 0, UINT32_MAX), &out));
    cr_assert(tide_time_eq(out, tm(0, 0, 1)));
}

Test(summary, then_composes_resets_and_adds)
{
    tide_summary fb = sum(0, 0, 1, 0), leave = sum(1u << 1, 0, 0, 0);
    tide_summary r = tide_summary_then(fb, leave);
    cr_assert(tide_summary_eq(r, leave), "leaving forgets the loop counter");
    r = tide_summary_then(leave, fb);
    cr_assert(tide_summary_eq(r, sum(1u << 1, 0, 1, 0)));
    r = tide_summary_then(fb, fb);
    cr_assert(tide_summary_eq(r, sum(0, 0, 2, 0)));
    r = tide_summary_then(sum(0, UINT64_MAX - 1, 0, 0), sum(0, 5, 0, 0));
    cr_assert_eq(r.add[0], UINT64_MAX, "adds saturate");
    cr_assert(tide_summary_eq(tide_summary_then(TIDE_SUMMARY_IDENTITY, fb), fb));
    cr_assert(tide_summary_eq(tide_summary_then(fb, TIDE_SUMMARY_IDENTITY), fb));
}

Test(summary, then_is_associative)
{
    tide_rng r = {tide_test_seed("summary/then_is_associative", 2)};
    for (int k = 0; k < 20000; k++) {
        tide_summary a = rand_summary(&r), b = rand_summary(&r), c = rand_summary(&r);
        tide_summary x = tide_summary_then(tide_summary_then(a, b), c);
        tide_summary y = tide_summary_then(a, tide_summary_then(b, c));
        cr_assert(tide_summary_eq(x, y), "iteration %d", k);
    }
}

Test(summary, then_agrees_with_applying_in_turn)
{
    tide_rng r = {tide_test_seed("summary/then_agrees_with_applying_in_turn", 3)};
    for (int k = 0; k < 20000; k++) {
        tide_summary a = rand_summary(&r), b = rand_summary(&r);
        tide_time t = rand_time(&r), mid = TIDE_TIME_ZERO, seq = mid, comp = mid;
        bool ok_seq = tide_summary_apply(a, t, &mid) && tide_summary_apply(b, mid, &seq);
        bool ok_comp = tide_summary_apply(tide_summary_then(a, b), t, &comp);
        if (ok_seq) {
            cr_assert(ok_comp, "iteration %d: composed fails where the steps succeed", k);
            cr_assert(tide_time_eq(seq, comp), "iteration %d", k);
        }
        /* The converse may fail, conservatively (the composition claims a
         * time the steps cannot produce), in two ways only: b resets a
         * coordinate that a overflowed, which then() cannot remember; or the
         * epoch adds saturate at UINT64_MAX, which is still a valid add. */
        if (!ok_seq && ok_comp) {
            bool a_ok = tide_summary_apply(a, t, &mid);
            bool saturated = tide_summary_then(a, b).add[0] == UINT64_MAX;
            cr_assert(!a_ok || saturated, "iteration %d: unexpected forgotten overflow", k);
        }
    }
}

Test(summary, le_examples)
{
    tide_summary id = TIDE_SUMMARY_IDENTITY, fb = sum(0, 0, 1, 0), leave = sum(1u << 1, 0, 0, 0);
    cr_assert(tide_summary_le(id, fb));
    cr_assert_not(tide_summary_le(fb, id));
    cr_assert(tide_summary_le(leave, id), "reset to 0 is below keeping");
    cr_assert_not(tide_summary_le(id, leave), "keeping is not below a constant");
    cr_assert(tide_summary_le(sum(1u << 1, 0, 3, 0), sum(0, 0, 3, 0)));
    cr_assert_not(tide_summary_le(sum(1u << 1, 0, 4, 0), sum(0, 0, 3, 0)));
    cr_assert(tide_summary_le(leave, leave));
    cr_assert(tide_summary_le(sum(1u << 1, 0, 1, 0), sum(1u << 1, 0, 2, 0)));
}

Test(summary, le_is_sound_on_random_times)
{
    tide_rng r = {tide_test_seed("summary/le_is_sound_on_random_times", 4)};
    int related = 0;
    for (int k = 0; k < 20000; k++) {
        tide_summary a = rand_summary(&r), b = rand_summary(&r);
        if (!tide_summary_le(a, b)) continue;
        related++;
        for (int j = 0; j < 20; j++) {
            tide_time t = rand_time(&r), ta = TIDE_TIME_ZERO, tb = TIDE_TIME_ZERO;
            bool oka = tide_summary_apply(a, t, &ta), okb = tide_summary_apply(b, t, &tb);
            /* The smaller summary cannot overflow where the larger does not. */
            if (okb) {
                cr_assert(oka, "iteration %d", k);
                cr_assert(tide_time_le(ta, tb), "iteration %d", k);
            }
        }
    }
    cr_assert_gt(related, 1000, "the generator must produce comparable pairs");
}

Test(summary, le_is_complete_on_small_times)
{
    /* If le says no, some time must witness it (within small coordinates,
     * since a kept-vs-reset failure shows up once t exceeds the adds). */
    tide_rng r = {tide_test_seed("summary/le_is_complete_on_small_times", 5)};
    for (int k = 0; k < 5000; k++) {
        tide_summary a = sum((uint8_t)tide_rng_below(&r, 8), tide_rng_below(&r, 3),
                             tide_rng_below(&r, 3), tide_rng_below(&r, 3));
        tide_summary b = sum((uint8_t)tide_rng_below(&r, 8), tide_rng_below(&r, 3),
                             tide_rng_below(&r, 3), tide_rng_below(&r, 3));
        bool all = true;
        for (uint32_t t0 = 0; t0 < 5 && all; t0++)
            for (uint32_t t1 = 0; t1 < 5 && all; t1++)
                for (uint32_t t2 = 0; t2 < 5 && all; t2++) {
                    tide_time ta, tb;
                    tide_summary_apply(a, tm(t0, t1, t2), &ta);
                    tide_summary_apply(b, tm(t0, t1, t2), &tb);
                    all = tide_time_le(ta, tb);
                }
        cr_assert_eq(tide_summary_le(a, b), all, "iteration %d", k);
    }
}

Test(summary_set, insert_keeps_minimal_summaries)
{
    tide_summary_set s;
    tide_summary_set_init(&s);
    cr_assert_eq(tide_summary_set_insert(&s, sum(0, 0, 2, 0)), 1);
    cr_assert_eq(tide_summary_set_insert(&s, sum(0, 0, 3, 0)), 0, "dominated");
    cr_assert_eq(tide_summary_set_insert(&s, sum(0, 0, 2, 0)), 0, "duplicate");
    cr_assert_eq(tide_summary_set_insert(&s, sum(1u << 2, 0, 2, 5)), 1, "incomparable");
    cr_assert_eq(s.len, 2);
    cr_assert_eq(tide_summary_set_insert(&s, sum(0, 0, 1, 0)), 1, "evicts (0,2,0)");
    cr_assert_eq(s.len, 2);
    cr_assert_eq(tide_summary_set_insert(&s, TIDE_SUMMARY_IDENTITY), 1);
    cr_assert_eq(s.len, 2, "identity evicts +1 but not the reset summary");
    for (uint32_t i = 0; i < s.len; i++)
        for (uint32_t j = 0; j < s.len; j++)
            if (i != j) cr_assert_not(tide_summary_le(s.elems[i], s.elems[j]));
    tide_summary_set_fini(&s);
    tide_summary_set_fini(&s); /* idempotent */
}
