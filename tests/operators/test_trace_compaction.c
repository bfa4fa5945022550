/*
 * test_trace_compaction.c - logical compaction keeps a trace proportional to
 * its live data, not its history.
 *
 * 10^6 updates cycle over 10^3 keys: each epoch gives a few keys a new value
 * and retracts their old one. Every epoch is sealed and inserted, and the
 * compaction frontiers follow the upper. The spine must stay near 10^3
 * updates throughout, and a full merge must leave exactly the live records.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "naive_trace.h"
#include "tide/error.h"
#include "tide/trace.h"
#include "tide_test.h"

#define KEYS           1000
#define TOTAL          1000000
#define KEYS_PER_EPOCH 4 /* distinct keys touched per epoch */

Test(trace_compaction, bounded_by_live_records)
{
    tide_layout lay = tide_layout_make(8, 8);
    tide_batcher *bt = tide_batcher_new(lay);
    tide_spine *sp = tide_spine_new(lay);
    uint64_t *cur = calloc(KEYS, sizeof *cur); /* current val + 1, 0 = none */
    tide_antichain upper;
    tide_antichain_init(&upper);
    uint64_t updates = 0, max_len = 0, key = 0;
    uint32_t max_batches = 0;
    uint64_t e = 0;
    tide_batch *b = NULL;
    while (updates < TOTAL) {
        b = tide_batch_new(lay, TIDE_BATCH_UPDATES, 2 * KEYS_PER_EPOCH);
        cr_assert(b);
        for (int j = 0; j < KEYS_PER_EPOCH; j++, key = (key + 1) % KEYS) {
            uint8_t kb[8], vb[8];
            tide_u64_store(kb, key);
            if (cur[key]) {
                tide_u64_store(vb, cur[key] - 1);
                cr_assert_eq(tide_batch_push_update(b, kb, 8, vb, 8, tide_time_epoch(e), -1),
                             TIDE_OK);
                updates++;
            }
            tide_u64_store(vb, e);
            cr_assert_eq(tide_batch_push_update(b, kb, 8, vb, 8, tide_time_epoch(e), 1), TIDE_OK);
            updates++;
            cur[key] = e + 1;
        }
        cr_assert_eq(tide_batcher_push(bt, b), TIDE_OK);
        tide_batch_unref(b);
        e++;
        tide_antichain_clear(&upper);
        tide_antichain_insert(&upper, tide_time_epoch(e));
        tide_trace_batch *tb;
        cr_assert_eq(tide_batcher_seal(bt, &upper, &tb), TIDE_OK);
        cr_assert_eq(tide_spine_set_logical(sp, &upper), TIDE_OK);
        cr_assert_eq(tide_spine_set_physical(sp, &upper), TIDE_OK);
        cr_assert_eq(tide_spine_insert(sp, tb), TIDE_OK);
        tide_trace_batch_unref(tb);
        uint64_t len = tide_spine_len(sp);
        if (len > max_len) max_len = len;
        if (tide_spine_batches(sp) > max_batches) max_batches = tide_spine_batches(sp);
        cr_assert_leq(len, 4 * KEYS, "epoch %llu: spine holds %llu updates", (unsigned long long)e,
                      (unsigned long long)len);
    }
    cr_assert_eq(tide_spine_merge_all(sp), TIDE_OK);
    cr_assert_eq(tide_spine_len(sp), KEYS, "after a full merge: %llu",
                 (unsigned long long)tide_spine_len(sp));
    fprintf(stderr,
            "trace_compaction: %llu updates, %llu epochs, max spine len %llu, max batches %u\n",
            (unsigned long long)updates, (unsigned long long)e, (unsigned long long)max_len,
            max_batches);

    /* Each key holds exactly its current value, with diff +1. */
    tide_cursor *c;
    cr_assert_eq(tide_spine_cursor(sp, &c), TIDE_OK);
    uint64_t k = 0;
    for (; tide_cursor_key_valid(c); tide_cursor_step_key(c), k++) {
        uint32_t l;
        cr_assert_eq(tide_u64_load(tide_cursor_key(c, &l)), k);
        cr_assert(tide_cursor_val_valid(c));
        cr_assert_eq(tide_u64_load(tide_cursor_val(c, &l)), cur[k] - 1);
        tide_cursor_step_val(c);
        cr_assert(!tide_cursor_val_valid(c));
    }
    cr_assert_eq(k, KEYS);
    tide_cursor_free(c);
    tide_antichain_fini(&upper);
    free(cur);
    tide_batcher_free(bt);
    tide_spine_free(sp);
}
