/*
 * test_max_by.c - tide_max_by / tide_min_by against the reduce oracle: per
 * key, among values with positive multiplicity, the one with the greatest
 * (least) (ordering key, value). The ordering key (prefix(v) * 7919 % 13)
 * has many ties and disagrees with the byte order, so both the chosen
 * ordering and the tie break are exercised. naive_rrun: retractions,
 * random cuts, W = 1, 2, 4. Seeds are printed; TIDE_SEED=<n> replays.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_reduce.h"
#include "tide/tide.h"
#include "tide_test.h"

static uint64_t ord_of(const uint8_t *v, uint32_t vl)
{
    return tide_bytes_prefix(v, vl) * 7919 % 13;
}

static int order(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                 tide_rowbuf *ord)
{
    return tide_row_put_u64(ord, ord_of(v, vl));
}

/* (ord, bytes) comparison of two values. */
static int cmp(const tide_val_diff *a, const tide_val_diff *b)
{
    uint64_t x = ord_of(a->val, a->len), y = ord_of(b->val, b->len);
    if (x != y) return x < y ? -1 : 1;
    return tide_bytes_cmp(a->val, a->len, b->val, b->len);
}

static void oracle(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in,
                   uint32_t n, tide_reduce_out *out)
{
    bool max = *(const bool *)ctx;
    const tide_val_diff *best = NULL;
    for (uint32_t i = 0; i < n; i++)
        if (in[i].diff > 0 &&
            (best == NULL || (max ? cmp(&in[i], best) > 0 : cmp(&in[i], best) < 0)))
            best = &in[i];
    if (best) tide_reduce_push(out, best->val, best->len, 1);
}

static tide_stream *build(void *ctx, tide_stream *in)
{
    bool max = *(const bool *)ctx;
    return max ? tide_max_by(in, "max_by", order, NULL) : tide_min_by(in, "min_by", order, NULL);
}

static void run_case(bool max, tide_layout l, uint32_t workers, uint32_t churn, uint64_t salt)
{
    static naive_rrun r;
    memset(&r, 0, sizeof r);
    r.layout = l;
    r.seed = tide_test_seed(max ? "max_by" : "min_by", salt);
    r.keys = 6, r.vals = 30;
    r.per_step = 40;
    r.epochs = 12;
    r.churn = churn;
    r.build = build;
    r.build_ctx = &max;
    tide_error e = {0};
    cr_assert_eq(naive_rrun_exec(&r, workers, &e), TIDE_OK, "%s", e.msg);
    tide_time times[64];
    uint32_t nt = naive_rrun_times(&r, times, 64);
    cr_assert_gt(r.out.upd.len, 0, "no output (seed %llu)", (unsigned long long)r.seed);
    cr_assert(naive_consolidated(&r.out.upd));
    cr_assert(naive_reduce_check(&r.in.upd, &r.out.upd, oracle, &max, l.val_width, times, nt),
              "%s differs from the oracle (seed %llu, W=%u)", max ? "max_by" : "min_by",
              (unsigned long long)r.seed, workers);
    naive_collect_fini(&r.in);
    naive_collect_fini(&r.out);
}

static void run_all(uint32_t workers)
{
    for (int max = 0; max < 2; max++)
        for (uint32_t churn = 0; churn <= 40; churn += 40) {
            uint64_t salt = 100 * workers + 10 * max + churn;
            run_case(max, tide_layout_make(8, 8), workers, churn, salt);
            run_case(max, tide_layout_make(TIDE_VAR, TIDE_VAR), workers, churn, salt + 1);
        }
}

Test(max_by, oracle_w1)
{
    run_all(1);
}
Test(max_by, oracle_w2)
{
    run_all(2);
}
Test(max_by, oracle_w4)
{
    run_all(4);
}
