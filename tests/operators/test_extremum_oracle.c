/*
 * test_extremum_oracle.c - min, max and top_k in the root scope (the
 * total-order path of extremum.c) against the reduce oracle with the
 * general reductions (tide__min_fn, tide__max_fn, tide__top_k_fn).
 *
 * Random epoch inputs from the shared driver (naive_rrun): retractions,
 * retractions ahead of insertions (values going negative), random batch
 * cuts, batches spanning several epochs, W = 1, 2, 4, fixed and variable
 * widths. With churn, most insertions are later retracted exactly, so keys
 * empty out and come back; the churn runs assert that they did. The output
 * must be consolidated and accumulate, at every epoch, to the oracle's:
 * with totally ordered times that is the one minimal diff. Seeds are
 * printed; TIDE_SEED=<n> replays.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_reduce.h"
#include "reduce.h"
#include "tide/tide.h"
#include "tide_test.h"

typedef struct xcase {
    const char *name;
    uint32_t k; /* top_k's k; min and max: unused */
    tide_reduce_fn ref;
} xcase;

static tide_stream *op_x(void *ctx, tide_stream *in)
{
    const xcase *x = ctx;
    if (x->ref == tide__min_fn) return tide_min(in);
    if (x->ref == tide__max_fn) return tide_max(in);
    return tide_top_k(in, x->k);
}

static const xcase XCASES[] = {
    {"min", 0, tide__min_fn},     {"max", 0, tide__max_fn},     {"top_1", 1, tide__top_k_fn},
    {"top_3", 3, tide__top_k_fn}, {"top_0", 0, tide__top_k_fn},
};

/* Keys whose positive values all disappear from one epoch to the next. */
static uint32_t keys_emptied(const naive_trace *in, const tide_time *times, uint32_t nt)
{
    naive_trace keys;
    naive_init(&keys);
    for (uint32_t i = 0; i < in->len; i++)
        naive_push(&keys, in->u[i].k, in->u[i].kl, NULL, 0, TIDE_TIME_ZERO, 1);
    naive_consolidate(&keys);
    uint32_t n = 0;
    for (uint32_t ki = 0; ki < keys.len; ki++) {
        bool was = false;
        for (uint32_t ti = 0; ti < nt; ti++) {
            bool is = false;
            for (uint32_t i = 0; i < in->len && !is; i++)
                if (in->u[i].kl == keys.u[ki].kl &&
                    memcmp(in->u[i].k, keys.u[ki].k, in->u[i].kl) == 0)
                    is = naive_accum(in, in->u[i].k, in->u[i].kl, in->u[i].v, in->u[i].vl,
                                     times[ti]) > 0;
            n += was && !is;
            was = is;
        }
    }
    naive_fini(&keys);
    return n;
}

/* Run one case; returns how many times a key emptied in its input. */
static uint32_t run_case(const xcase *xc, tide_layout l, uint32_t keys, uint32_t vals,
                         uint32_t churn, uint32_t workers, uint64_t salt)
{
    static naive_rrun r;
    memset(&r, 0, sizeof r);
    r.layout = l;
    r.seed = tide_test_seed(xc->name, salt);
    r.keys = keys, r.vals = vals;
    r.per_step = 40;
    r.epochs = 12;
    r.churn = churn;
    r.build = op_x;
    r.build_ctx = (void *)xc;
    tide_error e = {0};
    cr_assert_eq(naive_rrun_exec(&r, workers, &e), TIDE_OK, "%s: %s", xc->name, e.msg);
    tide_time times[64];
    uint32_t nt = naive_rrun_times(&r, times, 64);
    uint32_t k = xc->k;
    if (xc->k > 0 || xc->ref != tide__top_k_fn)
        cr_assert_gt(r.out.upd.len, 0, "%s: no output at all (seed %llu)", xc->name,
                     (unsigned long long)r.seed);
    uint32_t emptied = keys_emptied(&r.in.upd, times, nt);
    if (getenv("TIDE_VERBOSE"))
        fprintf(stderr, "%s churn %u: in=%u out=%u emptied=%u\n", xc->name, churn, r.in.upd.len,
                r.out.upd.len, emptied);
    cr_assert(naive_consolidated(&r.out.upd), "%s: output not consolidated (seed %llu)", xc->name,
              (unsigned long long)r.seed);
    cr_assert(naive_reduce_check(&r.in.upd, &r.out.upd, xc->ref, &k, l.val_width, times, nt),
              "%s: output differs from the oracle (seed %llu, W=%u, churn %u)", xc->name,
              (unsigned long long)r.seed, workers, churn);
    naive_collect_fini(&r.in);
    naive_collect_fini(&r.out);
    return emptied;
}

static void run_all(uint32_t churn, uint32_t workers)
{
    uint32_t emptied = 0;
    for (uint32_t c = 0; c < sizeof XCASES / sizeof *XCASES; c++) {
        uint64_t salt = 1000 * churn + 10 * workers + c;
        emptied += run_case(&XCASES[c], tide_layout_make(8, 8), 5, 8, churn, workers, salt);
        emptied += run_case(&XCASES[c], tide_layout_make(TIDE_VAR, TIDE_VAR), 12, 14, churn,
                            workers, salt + 100);
        emptied +=
            run_case(&XCASES[c], tide_layout_make(8, TIDE_VAR), 6, 12, churn, workers, salt + 200);
    }
    /* The churn runs are there to empty keys: make sure they did. */
    if (churn) cr_assert_gt(emptied, 10, "only %u keys emptied with churn %u", emptied, churn);
}

Test(extremum_oracle, epochs_w1)
{
    run_all(0, 1);
}
Test(extremum_oracle, epochs_w2)
{
    run_all(0, 2);
}
Test(extremum_oracle, epochs_w4)
{
    run_all(0, 4);
}
Test(extremum_oracle, churn_w1)
{
    run_all(45, 1);
}
Test(extremum_oracle, churn_w2)
{
    run_all(45, 2);
}
Test(extremum_oracle, churn_w4)
{
    run_all(45, 4);
}
