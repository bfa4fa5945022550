/*
 * test_trace_fault.c - allocation failure N = 1, 2, ... in push, seal,
 * insert (with the merges it triggers), merge_all, cursors and readers:
 * every call returns TIDE_OK or TIDE_ENOMEM, leaks nothing (ASan), and
 * leaves its structure as it was, so that retrying gives the fault-free
 * result.
 */
#include <criterion/criterion.h>

#include "naive_trace.h"
#include "tide/alloc.h"
#include "tide/error.h"
#include "tide/trace.h"
#include "tide_test.h"

static const tide_layout LAY = {TIDE_VAR, 8};

/* Updates of layout @lay (key of any width, 8-byte val) at epochs e..e+2. */
static tide_batch *random_batch_of(tide_layout lay, tide_rng *r, uint64_t e, uint32_t n)
{
    tide_batch *b = tide_batch_new(lay, TIDE_BATCH_UPDATES, n);
    cr_assert(b);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t kb[32], vb[8];
        uint32_t kl;
        naive_encode(lay.key_width, tide_rng_below(r, 40), kb, &kl);
        tide_u64_store(vb, tide_rng_below(r, 3));
        tide_time t = tide_time_epoch(e + tide_rng_below(r, 3));
        cr_assert_eq(tide_batch_push_update(b, kb, kl, vb, 8, t, tide_rng_below(r, 3) ? 1 : -1),
                     TIDE_OK);
    }
    return b;
}

static tide_batch *random_batch(tide_rng *r, uint64_t e, uint32_t n)
{
    return random_batch_of(LAY, r, e, n);
}

static void frontier(tide_antichain *f, uint64_t e)
{
    tide_antichain_clear(f);
    tide_antichain_insert(f, tide_time_epoch(e));
}

static void dump_cursor(tide_cursor *c, naive_trace *out)
{
    naive_clear(out);
    naive_from_cursor(out, c);
    naive_consolidate(out);
}

static void dump_spine(tide_spine *s, naive_trace *out)
{
    tide_cursor *c;
    cr_assert_eq(tide_spine_cursor(s, &c), TIDE_OK);
    dump_cursor(c, out);
    tide_cursor_free(c);
}

static void assert_same(const naive_trace *a, const naive_trace *b)
{
    cr_assert_eq(a->len, b->len);
    for (uint32_t i = 0; i < a->len; i++) {
        cr_assert_eq(naive_kv_cmp(&a->u[i], &b->u[i]), 0);
        cr_assert(tide_time_eq(a->u[i].t, b->u[i].t));
        cr_assert_eq(a->u[i].d, b->u[i].d);
    }
}

/* A batcher of @lay with a kept-back remainder and @n fresh pushes,
 * deterministic. */
static tide_batcher *setup_batcher(tide_layout lay, uint32_t n)
{
    tide_rng r = {42};
    tide_batcher *bt = tide_batcher_new(lay);
    tide_antichain f;
    tide_antichain_init(&f);
    for (uint64_t e = 0; e < 3; e++) {
        tide_batch *b = random_batch_of(lay, &r, e, 50);
        cr_assert_eq(tide_batcher_push(bt, b), TIDE_OK);
        tide_batch_unref(b);
        frontier(&f, e + 1);
        tide_trace_batch *tb;
        cr_assert_eq(tide_batcher_seal(bt, &f, &tb), TIDE_OK);
        tide_trace_batch_unref(tb);
    }
    for (uint32_t done = 0; done < n; done += 1000) {
        tide_batch *b = random_batch_of(lay, &r, 3, n - done < 1000 ? n - done : 1000);
        cr_assert_eq(tide_batcher_push(bt, b), TIDE_OK);
        tide_batch_unref(b);
    }
    tide_antichain_fini(&f);
    return bt;
}

/* Seal at {100}, which drains the remainder, and dump what comes out. */
static void drain_and_dump(tide_batcher *bt, naive_trace *rest)
{
    tide_antichain f;
    tide_antichain_init(&f);
    frontier(&f, 100);
    tide_trace_batch *tb;
    cr_assert_eq(tide_batcher_seal(bt, &f, &tb), TIDE_OK);
    tide_cursor *c;
    cr_assert_eq(tide_trace_batch_cursor(tb, &c), TIDE_OK);
    dump_cursor(c, rest);
    tide_cursor_free(c);
    tide_trace_batch_unref(tb);
    tide_antichain_fini(&f);
}

/* Seal a batcher of @lay with @fresh new updates, failing allocation 1, 2, ... */
static void fault_seal(tide_layout lay, uint32_t fresh)
{
    naive_trace want_sealed, want_rest, got_sealed, got_rest;
    naive_init(&want_sealed);
    naive_init(&want_rest);
    naive_init(&got_sealed);
    naive_init(&got_rest);
    tide_antichain f;
    tide_antichain_init(&f);
    frontier(&f, 5);

    tide_batcher *ref = setup_batcher(lay, fresh);
    tide_trace_batch *tb;
    cr_assert_eq(tide_batcher_seal(ref, &f, &tb), TIDE_OK);
    tide_cursor *c;
    cr_assert_eq(tide_trace_batch_cursor(tb, &c), TIDE_OK);
    dump_cursor(c, &want_sealed);
    tide_cursor_free(c);
    tide_trace_batch_unref(tb);
    drain_and_dump(ref, &want_rest);
    tide_batcher_free(ref);

    int failures = 0;
    for (long n = 1;; n++) {
        tide_batcher *bt = setup_batcher(lay, fresh);
        uint64_t len0 = tide_batcher_len(bt);
        long before = tide_alloc_failures();
        tide_alloc_fail_after(n);
        int rc = tide_batcher_seal(bt, &f, &tb);
        tide_alloc_fail_after(0);
        bool failed = tide_alloc_failures() != before;
        cr_assert(rc == TIDE_OK || rc == TIDE_ENOMEM, "n=%ld rc=%d", n, rc);
        if (rc == TIDE_ENOMEM) {
            failures++;
            cr_assert_null(tb);
            cr_assert_eq(tide_batcher_len(bt), len0, "a failed seal must not lose updates");
            cr_assert_eq(tide_batcher_seal(bt, &f, &tb), TIDE_OK);
        }
        cr_assert(naive_check_batch(tb));
        cr_assert_eq(tide_trace_batch_cursor(tb, &c), TIDE_OK);
        dump_cursor(c, &got_sealed);
        tide_cursor_free(c);
        tide_trace_batch_unref(tb);
        assert_same(&want_sealed, &got_sealed);
        drain_and_dump(bt, &got_rest);
        assert_same(&want_rest, &got_rest);
        tide_batcher_free(bt);
        if (!failed) break;
    }
    cr_assert_gt(failures, 3);
    tide_antichain_fini(&f);
    naive_fini(&want_sealed);
    naive_fini(&want_rest);
    naive_fini(&got_sealed);
    naive_fini(&got_rest);
}

Test(trace_fault, seal)
{
    fault_seal(LAY, 80);
}

/* Fixed 8/8: the packed sort, bucketed by a top digit. */
Test(trace_fault, seal_fixed)
{
    fault_seal(tide_layout_make(8, 8), 5000);
}

Test(trace_fault, push)
{
    tide_rng r = {7};
    tide_batcher *bt = tide_batcher_new(LAY);
    int failures = 0;
    for (int i = 0; i < 100; i++) {
        tide_batch *b = random_batch(&r, 0, 3);
        uint64_t len0 = tide_batcher_len(bt);
        tide_alloc_fail_after(1);
        int rc = tide_batcher_push(bt, b);
        tide_alloc_fail_after(0);
        if (rc == TIDE_ENOMEM) {
            failures++;
            cr_assert_eq(tide_batcher_len(bt), len0);
            cr_assert_eq(tide_batcher_push(bt, b), TIDE_OK);
        }
        cr_assert_eq(tide_batcher_len(bt), len0 + 3);
        tide_batch_unref(b);
    }
    cr_assert_gt(failures, 0);
    tide_batcher_free(bt);
}

/* A spine of several unmerged batches (physical held at zero) plus the next
 * batch to insert; then the physical frontier is released so that the
 * insert triggers a cascade of merges with compaction. */
static tide_spine *setup_spine(tide_trace_batch **next)
{
    tide_rng r = {99};
    tide_spine *sp = tide_spine_new(LAY);
    tide_batcher *bt = tide_batcher_new(LAY);
    tide_antichain f;
    tide_antichain_init(&f);
    for (uint64_t e = 0; e < 9; e++) {
        tide_batch *b = random_batch(&r, e, 30);
        cr_assert_eq(tide_batcher_push(bt, b), TIDE_OK);
        tide_batch_unref(b);
        frontier(&f, e + 1);
        tide_trace_batch *tb;
        cr_assert_eq(tide_batcher_seal(bt, &f, &tb), TIDE_OK);
        if (e == 8) {
            *next = tb;
            break;
        }
        cr_assert_eq(tide_spine_insert(sp, tb), TIDE_OK);
        tide_trace_batch_unref(tb);
    }
    frontier(&f, 6);
    cr_assert_eq(tide_spine_set_logical(sp, &f), TIDE_OK);
    tide_antichain_clear(&f); /* empty: no physical holds */
    cr_assert_eq(tide_spine_set_physical(sp, &f), TIDE_OK);
    tide_antichain_fini(&f);
    tide_batcher_free(bt);
    return sp;
}

static void fault_spine_op(int which)
{
    naive_trace want, got, before;
    naive_init(&want);
    naive_init(&got);
    naive_init(&before);
    tide_trace_batch *next;
    tide_spine *ref = setup_spine(&next);
    if (which == 0)
        cr_assert_eq(tide_spine_insert(ref, next), TIDE_OK);
    else
        cr_assert_eq(tide_spine_merge_all(ref), TIDE_OK);
    uint32_t want_batches = tide_spine_batches(ref);
    dump_spine(ref, &want);
    tide_trace_batch_unref(next);
    tide_spine_free(ref);

    int failures = 0;
    for (long n = 1;; n++) {
        tide_spine *sp = setup_spine(&next);
        uint32_t nb0 = tide_spine_batches(sp);
        uint64_t len0 = tide_spine_len(sp);
        dump_spine(sp, &before);
        long fails0 = tide_alloc_failures();
        tide_alloc_fail_after(n);
        int rc = which == 0 ? tide_spine_insert(sp, next) : tide_spine_merge_all(sp);
        tide_alloc_fail_after(0);
        bool failed = tide_alloc_failures() != fails0;
        cr_assert(rc == TIDE_OK || rc == TIDE_ENOMEM, "n=%ld rc=%d", n, rc);
        if (rc == TIDE_ENOMEM) {
            failures++;
            cr_assert_eq(tide_spine_batches(sp), nb0);
            cr_assert_eq(tide_spine_len(sp), len0);
            dump_spine(sp, &got);
            assert_same(&before, &got);
            rc = which == 0 ? tide_spine_insert(sp, next) : tide_spine_merge_all(sp);
            cr_assert_eq(rc, TIDE_OK);
        }
        cr_assert_eq(tide_spine_batches(sp), want_batches);
        for (uint32_t i = 0; i < tide_spine_batches(sp); i++)
            cr_assert(naive_check_batch(tide_spine_batch(sp, i)));
        dump_spine(sp, &got);
        assert_same(&want, &got);
        tide_trace_batch_unref(next);
        tide_spine_free(sp);
        if (!failed) break;
    }
    cr_assert_gt(failures, 3);
    naive_fini(&want);
    naive_fini(&got);
    naive_fini(&before);
}

Test(trace_fault, insert_with_merges)
{
    fault_spine_op(0);
}
Test(trace_fault, merge_all)
{
    fault_spine_op(1);
}

Test(trace_fault, readers_and_cursors)
{
    tide_trace_batch *next;
    tide_spine *sp = setup_spine(&next);
    tide_trace_batch_unref(next);
    for (long n = 1; n < 50; n++) {
        tide_cursor *c = NULL;
        tide_alloc_fail_after(n);
        int rc = tide_spine_cursor(sp, &c);
        tide_alloc_fail_after(0);
        cr_assert(rc == TIDE_OK || (rc == TIDE_ENOMEM && c == NULL));
        tide_cursor_free(c);
    }
    tide_spine_free(sp);

    for (long n = 1;; n++) {
        tide_trace *t = NULL;
        tide_trace_reader *a = NULL, *b = NULL;
        tide_antichain f;
        tide_antichain_init(&f);
        frontier(&f, 3);
        long fails0 = tide_alloc_failures();
        tide_alloc_fail_after(n);
        int rc = TIDE_ENOMEM;
        t = tide_trace_new(LAY);
        if (t) rc = tide_trace_reader_new(t, &a);
        if (rc == TIDE_OK) rc = tide_trace_reader_new(t, &b);
        if (rc == TIDE_OK) rc = tide_trace_reader_set_logical(a, &f);
        if (rc == TIDE_OK) {
            cr_assert(tide_antichain_eq(tide_trace_reader_logical(a), &f));
            rc = tide_trace_reader_set_logical(b, &f);
        }
        tide_alloc_fail_after(0);
        bool failed = tide_alloc_failures() != fails0;
        cr_assert(rc == TIDE_OK || rc == TIDE_ENOMEM);
        if (rc == TIDE_OK && t) {
            cr_assert(tide_antichain_eq(tide_spine_logical(tide_trace_spine(t)), &f));
        } else if (b) {
            /* b's set failed: b still at zero, so the trace must be too. */
            cr_assert(!tide_antichain_eq(tide_spine_logical(tide_trace_spine(t)), &f));
        }
        tide_trace_reader_free(a);
        tide_trace_reader_free(b);
        tide_trace_unref(t);
        tide_antichain_fini(&f);
        if (!failed) break;
    }
}
