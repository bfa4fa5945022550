/*
 * test_extremum_fault.c - every allocation of a small root-scope run of
 * max, top_k and count (the total-order paths: extremum.c and total.c,
 * behind their arrangements) fails in turn: the run must end with TIDE_OK
 * or a clean TIDE_ENOMEM naming what ran out, never crash or hang, and
 * (under ASan) leak nothing. The fault-free run's output is checked against
 * the values it must settle to.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "fault_run.h"
#include "tide/collection.h"
#include "tide/tide.h"
#include "tide_test.h"

typedef struct sums {
    int64_t max, top, count; /* sum of val * diff (count: of the count) */
} sums;

static void sum_max(void *ctx, const tide_batch *b)
{
    for (uint32_t i = 0; i < b->len; i++)
        ((sums *)ctx)->max += (int64_t)tide_batch_val_u64(b, i) * b->diffs[i];
}

static void sum_top(void *ctx, const tide_batch *b)
{
    for (uint32_t i = 0; i < b->len; i++)
        ((sums *)ctx)->top += (int64_t)tide_batch_val_u64(b, i) * b->diffs[i];
}

static void sum_count(void *ctx, const tide_batch *b)
{
    for (uint32_t i = 0; i < b->len; i++)
        ((sums *)ctx)->count += tide_i64_load(b->val.bytes + 8 * (size_t)i) * b->diffs[i];
}

static int fault_main(tide_worker *w, void *arg)
{
    sums *s = arg;
    tide_layout l = tide_layout_make(8, 8);
    tide_dataflow *df = tide_dataflow_new(w, "extremum_fault");
    if (df == NULL) return tide_worker_error(w)->code;
    tide_stream *src;
    tide_input *in = tide_input_new(tide_dataflow_root(df), l, TIDE_BATCH_UPDATES, &src);
    if (in == NULL) return tide_worker_error(w)->code;
    tide_stream *mx = tide_max(src), *top = mx ? tide_top_k(src, 2) : NULL;
    tide_stream *cnt = top ? tide_count(src) : NULL;
    if (cnt == NULL) return tide_worker_error(w)->code;
    /* A sink that cannot be built fails the worker: the seal reports it. */
    tide_sink(mx, TIDE_PIPELINE, sum_max, s);
    tide_sink(top, TIDE_PIPELINE, sum_top, s);
    tide_sink(cnt, TIDE_PIPELINE, sum_count, s);
    TIDE_TRY(tide_dataflow_seal(df));
    /* Keys 0..9, values 0..19; epoch 2 retracts what epoch 0 inserted with
     * an even value, epoch 3 inserts ahead of nothing and retracts ahead. */
    for (uint64_t e = 0; e < 4; e++) {
        for (uint64_t i = 0; i < 60; i++) {
            uint8_t k[8], v[8];
            uint64_t key = i % 10, val = (i * 7) % 20;
            int64_t d = e == 2 ? (val % 2 == 0 ? -1 : 0) : e == 3 && i % 3 == 0 ? -1 : 1;
            if (d == 0) continue;
            tide_u64_store(k, key);
            tide_u64_store(v, val + (e == 3 ? 20 : 0));
            TIDE_TRY(tide_input_update(in, k, 8, v, 8, d));
        }
        TIDE_TRY(tide_input_advance_to(in, e + 1));
        TIDE_TRY(tide_worker_step(w));
    }
    return tide_input_close(in);
}

/* The settled outputs, computed by hand from the same inputs. */
static sums expected(void)
{
    int64_t acc[10][40] = {{0}};
    for (uint64_t e = 0; e < 4; e++)
        for (uint64_t i = 0; i < 60; i++) {
            uint64_t key = i % 10, val = (i * 7) % 20;
            int64_t d = e == 2 ? (val % 2 == 0 ? -1 : 0) : e == 3 && i % 3 == 0 ? -1 : 1;
            acc[key][val + (e == 3 ? 20 : 0)] += d;
        }
    sums s = {0};
    for (int k = 0; k < 10; k++) {
        int taken = 0;
        int64_t total = 0;
        for (int v = 0; v < 40; v++) {
            total += acc[k][v];
            if (acc[k][v] > 0 && taken < 2) s.top += v * acc[k][v], taken++;
        }
        for (int v = 39; v >= 0; v--)
            if (acc[k][v] > 0) {
                s.max += v;
                break;
            }
        s.count += total;
    }
    return s;
}

static void sums_reset(void *arg)
{
    memset(arg, 0, sizeof(sums));
}

static bool sums_check(void *arg)
{
    const sums *got = arg, want = expected();
    if (got->max == want.max && got->top == want.top && got->count == want.count) return true;
    fprintf(stderr, "max %lld (want %lld), top_k %lld (%lld), count %lld (%lld)\n",
            (long long)got->max, (long long)want.max, (long long)got->top, (long long)want.top,
            (long long)got->count, (long long)want.count);
    return false;
}

Test(extremum_fault, every_allocation_failure_is_clean)
{
    sums got;
    fault_job j = {fault_main, &got, sums_reset, sums_check, 20000};
    long nallocs = 0;
    char why[512];
    cr_assert(fault_run_each(&j, &nallocs, why, sizeof why), "%s", why);
    cr_assert_gt(nallocs, 20, "the run allocates more than this");
    fprintf(stderr, "extremum_fault: each of %ld allocations failed in turn\n", nallocs);
}
