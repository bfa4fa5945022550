/*
 * test_count_oracle.c - count, distinct, threshold, min, max and top_k (the
 * public operators: arrange + reduce + back to a collection) against the
 * reduce oracle with per-key reference functions.
 *
 * Random inputs with retractions and negative multiplicities, random epochs
 * and batch cuts, W = 1, 2, 4; random partially ordered times in a loop
 * scope; fixed and variable widths (which exercise distinct's pair
 * encoding). Semantics checked: count sums every multiplicity and drops
 * keys at 0; distinct keeps a record once while its multiplicity is
 * positive; threshold maps each record's multiplicity (negatives included);
 * min/max/top_k consider only values with positive multiplicity; sum adds
 * value x multiplicity per key (values id - 3: negatives and zeros too)
 * and drops keys whose sum is 0.
 * Seeds are printed; TIDE_SEED=<n> replays.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_reduce.h"
#include "reduce.h"
#include "tide/tide.h"
#include "tide_test.h"

/* ---- reference functions (per key, over the accumulated values) ------------- */

static int64_t thr(void *ctx, int64_t m)
{
    return m >= 2 ? m - 1 : m < 0 ? 1 : 0;
}

static void ref_distinct(void *ctx, const uint8_t *k, uint32_t kl, const tide_val_diff *in,
                         uint32_t n, tide_reduce_out *out)
{
    for (uint32_t i = 0; i < n; i++)
        if (in[i].diff > 0) tide_reduce_push(out, in[i].val, in[i].len, 1);
}

static void ref_threshold(void *ctx, const uint8_t *k, uint32_t kl, const tide_val_diff *in,
                          uint32_t n, tide_reduce_out *out)
{
    for (uint32_t i = 0; i < n; i++)
        tide_reduce_push(out, in[i].val, in[i].len, thr(NULL, in[i].diff));
}

/* The value tide_sum gets for value id @v (u64-stored): id - 3. */
static int64_t sum_val(const uint8_t *v)
{
    return (int64_t)tide_u64_load(v) - 3;
}

static void ref_sum(void *ctx, const uint8_t *k, uint32_t kl, const tide_val_diff *in, uint32_t n,
                    tide_reduce_out *out)
{
    int64_t s = 0;
    for (uint32_t i = 0; i < n; i++) s += sum_val(in[i].val) * in[i].diff;
    uint8_t v[8];
    tide_i64_store(v, s);
    if (s != 0) tide_reduce_push(out, v, 8, 1);
}

/* ---- operators under test ------------------------------------------------------ */

static void to_sum_val(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                       tide_emitter *em)
{
    uint8_t x[8];
    tide_i64_store(x, sum_val(v));
    tide_emit(em, k, kl, x, 8);
}

static tide_stream *op_sum(void *c, tide_stream *in)
{
    tide_layout l = tide_stream_layout(in);
    return tide_sum(tide_map(in, "to i64", tide_layout_make(l.key_width, 8), to_sum_val, NULL),
                    NULL);
}

static tide_stream *op_count(void *c, tide_stream *in)
{
    return tide_count(in);
}
static tide_stream *op_distinct(void *c, tide_stream *in)
{
    return tide_distinct(in);
}
static tide_stream *op_threshold(void *c, tide_stream *in)
{
    return tide_threshold(in, thr, NULL);
}
static tide_stream *op_min(void *c, tide_stream *in)
{
    return tide_min(in);
}
static tide_stream *op_max(void *c, tide_stream *in)
{
    return tide_max(in);
}
static tide_stream *op_top2(void *c, tide_stream *in)
{
    return tide_top_k(in, 2);
}

static uint32_t two = 2;

typedef struct ocase {
    const char *name;
    naive_build_fn build;
    tide_reduce_fn ref;
    void *ref_ctx;
    bool count; /* output values are i64 counts (width 8), else the input's */
} ocase;

static const ocase OCASES[] = {
    {"count", op_count, tide__count_fn, NULL, true},
    {"distinct", op_distinct, ref_distinct, NULL, false},
    {"threshold", op_threshold, ref_threshold, NULL, false},
    {"min", op_min, tide__min_fn, NULL, false},
    {"max", op_max, tide__max_fn, NULL, false},
    {"top_k", op_top2, tide__top_k_fn, &two, false},
    {"sum", op_sum, ref_sum, NULL, true}, /* value width 8 only */
};

static void run_case(const ocase *oc, tide_layout l, bool porder, uint32_t workers, uint64_t salt,
                     uint32_t keys)
{
    static naive_rrun r;
    memset(&r, 0, sizeof r);
    r.layout = l;
    r.seed = tide_test_seed(oc->name, salt);
    r.keys = keys, r.vals = 7;
    r.per_step = porder ? 8 : 50;
    r.epochs = 10;
    r.porder = porder;
    r.build = oc->build;
    tide_error e = {0};
    cr_assert_eq(naive_rrun_exec(&r, workers, &e), TIDE_OK, "%s: %s", oc->name, e.msg);
    tide_time times[64];
    uint32_t nt = naive_rrun_times(&r, times, 64);
    cr_assert_gt(r.out.upd.len, 0, "%s: no output at all (seed %llu)", oc->name,
                 (unsigned long long)r.seed);
    cr_assert(naive_consolidated(&r.out.upd), "%s: output not consolidated (seed %llu)", oc->name,
              (unsigned long long)r.seed);
    cr_assert(naive_reduce_check(&r.in.upd, &r.out.upd, oc->ref, oc->ref_ctx,
                                 oc->count ? 8 : l.val_width, times, nt),
              "%s: output differs from the oracle (seed %llu, W=%u, %s)", oc->name,
              (unsigned long long)r.seed, workers, porder ? "partial order" : "epochs");
    naive_collect_fini(&r.in);
    naive_collect_fini(&r.out);
}

static void run_all(bool porder, uint32_t workers)
{
    for (uint32_t c = 0; c < sizeof OCASES / sizeof *OCASES; c++) {
        bool sum = strcmp(OCASES[c].name, "sum") == 0;
        run_case(&OCASES[c], tide_layout_make(8, 8), porder, workers, 31 * workers + c, 6);
        if (!sum)
            run_case(&OCASES[c], tide_layout_make(TIDE_VAR, TIDE_VAR), porder, workers,
                     37 * workers + c, 30);
        run_case(&OCASES[c], tide_layout_make(TIDE_VAR, 8), porder, workers, 41 * workers + c, 10);
    }
}

Test(count_oracle, epochs_w1)
{
    run_all(false, 1);
}
Test(count_oracle, epochs_w2)
{
    run_all(false, 2);
}
Test(count_oracle, epochs_w4)
{
    run_all(false, 4);
}
Test(count_oracle, partial_order_w1)
{
    run_all(true, 1);
}
Test(count_oracle, partial_order_w2)
{
    run_all(true, 2);
}
