/*
 * test_trace_reader.c - shared traces: readers hold back compaction to the
 * meet of their frontiers; dropping a reader releases its hold.
 */
#include <criterion/criterion.h>

#include "naive_trace.h"
#include "tide/error.h"
#include "tide/trace.h"
#include "tide_test.h"

static void epoch_frontier(tide_antichain *f, uint64_t e)
{
    tide_antichain_clear(f);
    tide_antichain_insert(f, tide_time_epoch(e));
}

/* Push random updates at epoch e - 1, seal at {e}, insert. */
static void run_epoch(tide_rng *r, tide_batcher *bt, tide_trace *t, naive_trace *oracle, uint64_t e)
{
    tide_layout lay = tide_layout_make(8, 8);
    tide_batch *b = tide_batch_new(lay, TIDE_BATCH_UPDATES, 16);
    for (int i = 0; i < 30; i++) {
        uint8_t kb[8], vb[8];
        tide_u64_store(kb, tide_rng_below(r, 20));
        tide_u64_store(vb, tide_rng_below(r, 5));
        int64_t d = tide_rng_below(r, 3) ? 1 : -1;
        cr_assert_eq(tide_batch_push_update(b, kb, 8, vb, 8, tide_time_epoch(e - 1), d), TIDE_OK);
        naive_push(oracle, kb, 8, vb, 8, tide_time_epoch(e - 1), d);
    }
    cr_assert_eq(tide_batcher_push(bt, b), TIDE_OK);
    tide_batch_unref(b);
    tide_antichain up;
    tide_antichain_init(&up);
    epoch_frontier(&up, e);
    tide_trace_batch *tb;
    cr_assert_eq(tide_batcher_seal(bt, &up, &tb), TIDE_OK);
    cr_assert_eq(tide_trace_insert(t, tb), TIDE_OK);
    tide_trace_batch_unref(tb);
    tide_antichain_fini(&up);
}

static void check(tide_cursor *c, const naive_trace *oracle, const tide_antichain *at)
{
    naive_trace got;
    naive_init(&got);
    naive_from_cursor(&got, c);
    cr_assert(naive_equiv(oracle, &got, at));
    naive_fini(&got);
}

Test(trace_reader, lagging_reader_holds_compaction)
{
    tide_rng r = {tide_test_seed("trace_reader", 11)};
    tide_layout lay = tide_layout_make(8, 8);
    tide_trace *t = tide_trace_new(lay);
    tide_batcher *bt = tide_batcher_new(lay);
    tide_trace_reader *fast, *slow;
    cr_assert_eq(tide_trace_reader_new(t, &fast), TIDE_OK);
    cr_assert_eq(tide_trace_reader_new(t, &slow), TIDE_OK);
    cr_assert_eq(tide_trace_readers(t), 2);
    naive_trace oracle;
    naive_init(&oracle);
    tide_antichain f, hold;
    tide_antichain_init(&f);
    tide_antichain_init(&hold);
    epoch_frontier(&hold, 5);

    for (uint64_t e = 1; e <= 40; e++) {
        run_epoch(&r, bt, t, &oracle, e);
        epoch_frontier(&f, e);
        cr_assert_eq(tide_trace_reader_set_logical(fast, &f), TIDE_OK);
        cr_assert_eq(tide_trace_reader_set_physical(fast, &f), TIDE_OK);
        if (e <= 5) {
            cr_assert_eq(tide_trace_reader_set_logical(slow, &f), TIDE_OK);
            cr_assert_eq(tide_trace_reader_set_physical(slow, &f), TIDE_OK);
        }
        tide_spine *sp = tide_trace_spine(t);
        cr_assert(tide_antichain_eq(tide_spine_logical(sp), e <= 5 ? &f : &hold));
        /* Accumulations at every time beyond the slow reader's frontier. */
        tide_cursor *c;
        cr_assert_eq(tide_trace_reader_cursor(slow, &c), TIDE_OK);
        check(c, &oracle, tide_trace_reader_logical(slow));
        tide_cursor_free(c);
        /* The slow reader can still cut at its physical frontier. */
        cr_assert_eq(tide_trace_reader_cursor_through(slow, tide_trace_reader_physical(slow), &c),
                     TIDE_OK);
        naive_trace early;
        naive_init(&early);
        for (uint32_t i = 0; i < oracle.len; i++)
            if (oracle.u[i].t.epoch < 5 || e < 5)
                naive_push(&early, oracle.u[i].k, 8, oracle.u[i].v, 8, oracle.u[i].t,
                           oracle.u[i].d);
        check(c, &early, tide_trace_reader_logical(slow));
        naive_fini(&early);
        tide_cursor_free(c);
    }
    tide_spine *sp = tide_trace_spine(t);
    cr_assert_eq(tide_spine_merge_all(sp), TIDE_OK);
    uint64_t held = tide_spine_len(sp);
    tide_cursor *c;
    cr_assert_eq(tide_trace_reader_cursor(slow, &c), TIDE_OK);
    check(c, &oracle, &hold);
    tide_cursor_free(c);

    /* Drop the slow reader: compaction proceeds to the fast one's frontier. */
    tide_trace_reader_free(slow);
    cr_assert_eq(tide_trace_readers(t), 1);
    cr_assert(tide_antichain_eq(tide_spine_logical(sp), &f));
    cr_assert_eq(tide_spine_merge_all(sp), TIDE_OK);
    naive_trace live;
    naive_init(&live);
    for (uint32_t i = 0; i < oracle.len; i++)
        naive_push(&live, oracle.u[i].k, 8, oracle.u[i].v, 8, TIDE_TIME_ZERO, oracle.u[i].d);
    naive_consolidate(&live);
    cr_assert_eq(tide_spine_len(sp), live.len, "compacted to %llu, live %u",
                 (unsigned long long)tide_spine_len(sp), live.len);
    cr_assert_lt(tide_spine_len(sp), held);
    cr_assert_eq(tide_trace_reader_cursor(fast, &c), TIDE_OK);
    check(c, &oracle, &f);
    tide_cursor_free(c);
    naive_fini(&live);

    /* The fast reader's cut points before its physical frontier are gone. */
    cr_assert_eq(tide_trace_reader_cursor_through(fast, &hold, &c), TIDE_EINVAL);
    /* Frontiers do not move backwards. */
    cr_assert_eq(tide_trace_reader_set_logical(fast, &hold), TIDE_EINVAL);

    tide_trace_reader_free(fast);
    cr_assert_eq(tide_trace_readers(t), 0);
    cr_assert_eq(tide_spine_logical(sp)->len, 0, "no readers: no holds");
    naive_fini(&oracle);
    tide_antichain_fini(&f);
    tide_antichain_fini(&hold);
    tide_batcher_free(bt);
    tide_trace_unref(t);
}

Test(trace_reader, reader_keeps_trace_alive)
{
    tide_layout lay = tide_layout_make(8, 8);
    tide_trace *t = tide_trace_new(lay);
    tide_batcher *bt = tide_batcher_new(lay);
    tide_rng r = {tide_test_seed("trace_reader_alive", 12)};
    naive_trace oracle;
    naive_init(&oracle);
    tide_trace_reader *rd;
    cr_assert_eq(tide_trace_reader_new(t, &rd), TIDE_OK);
    for (uint64_t e = 1; e <= 5; e++) run_epoch(&r, bt, t, &oracle, e);
    tide_trace_unref(t); /* the owner goes first */
    tide_cursor *c;
    cr_assert_eq(tide_trace_reader_cursor(rd, &c), TIDE_OK);
    tide_trace_reader_free(rd); /* frees the trace; the cursor holds its batches */
    tide_antichain zero;
    tide_antichain_init(&zero);
    tide_antichain_insert(&zero, TIDE_TIME_ZERO);
    check(c, &oracle, &zero);
    tide_cursor_free(c);
    tide_antichain_fini(&zero);
    naive_fini(&oracle);
    tide_batcher_free(bt);
}
