/*
 * test_fold.c - tide_fold against the reduce oracle: the fold rerun from
 * scratch over each key's accumulated values at every epoch (naive_rrun:
 * random updates with retractions, random batch cuts, W = 1, 2, 4, fixed
 * and variable widths). Plus a count of fold steps: appends in value order
 * refold nothing before them. Seeds are printed; TIDE_SEED=<n> replays.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "fold.h"
#include "naive_reduce.h"
#include "tide/tide.h"
#include "tide_test.h"

/* Fold 1, "running": state = i64 sum of prefix(v) % 97 * mult; every value
 * whose prefix is odd outputs the running sum. Any earlier change moves
 * every later output. */
static void running(void *ctx, const uint8_t *k, uint32_t kl, tide_rowbuf *st, const uint8_t *v,
                    uint32_t vl, int64_t m, tide_fold_out *o)
{
    int64_t sum = 0;
    if (st->len == 8) sum = tide_i64_load(st->data);
    uint64_t x = tide_bytes_prefix(v, vl);
    sum += (int64_t)(x % 97) * m;
    tide_rowbuf_clear(st);
    tide_row_put_i64(st, sum);
    if (x & 1) {
        uint8_t out[8];
        tide_i64_store(out, sum);
        tide_fold_emit(o, out, 8, 1);
    }
}

/* Fold 2, "pairs" (the usage view's shape): a value with prefix % 3 == 0
 * opens slot prefix % 4 (replacing an open one), % 3 == 1 closes slot
 * prefix % 4 and outputs (opening prefix, closing prefix); state = the
 * open slots as (u64 slot, u64 opener) pairs. */
static void pairs(void *ctx, const uint8_t *k, uint32_t kl, tide_rowbuf *st, const uint8_t *v,
                  uint32_t vl, int64_t m, tide_fold_out *o)
{
    uint64_t x = tide_bytes_prefix(v, vl), slot = x % 4;
    uint32_t n = st->len / 16, at = n;
    for (uint32_t i = 0; i < n; i++)
        if (tide_u64_load(st->data + 16 * i) == slot) at = i;
    if (x % 3 == 0) {
        if (at == n) {
            tide_row_put_u64(st, slot);
            tide_row_put_u64(st, x);
        } else {
            tide_u64_store(st->data + 16 * at + 8, x);
        }
    } else if (x % 3 == 1 && at < n) {
        uint8_t out[16];
        memcpy(out, st->data + 16 * at + 8, 8);
        tide_u64_store(out + 8, x);
        tide_fold_emit(o, out, 16, m);
        memmove(st->data + 16 * at, st->data + 16 * (at + 1), 16 * (n - at - 1));
        st->len -= 16;
    }
}

typedef struct fcase {
    const char *name;
    tide_fold_fn fn;
    uint32_t width;
} fcase;

/* The oracle: fold from scratch over the values as a reduce function. */
static void from_scratch(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in,
                         uint32_t n, tide_reduce_out *out)
{
    const fcase *fc = ctx;
    tide_rowbuf st, outs;
    tide_rowbuf_init(&st);
    tide_rowbuf_init(&outs);
    for (uint32_t i = 0; i < n; i++) {
        tide_fold_out fo = {&outs, fc->width, 0};
        fc->fn(NULL, key, klen, &st, in[i].val, in[i].len, in[i].diff, &fo);
    }
    for (uint32_t p = 0; p < outs.len;) {
        uint32_t len;
        int64_t d;
        memcpy(&len, outs.data + p, 4);
        memcpy(&d, outs.data + p + 4 + len, 8);
        tide_reduce_push(out, outs.data + p + 4, len, d);
        p += 12 + len;
    }
    tide_rowbuf_fini(&st);
    tide_rowbuf_fini(&outs);
}

static tide_stream *build(void *ctx, tide_stream *in)
{
    const fcase *fc = ctx;
    return tide_fold(in, fc->name, fc->width, fc->fn, NULL);
}

static void run_case(const fcase *fc, tide_layout l, uint32_t workers, uint64_t salt)
{
    static naive_rrun r;
    memset(&r, 0, sizeof r);
    r.layout = l;
    r.seed = tide_test_seed(fc->name, salt);
    r.keys = 5, r.vals = 40;
    r.per_step = 30;
    r.epochs = 14;
    r.churn = salt % 2 ? 40 : 0;
    r.build = build;
    r.build_ctx = (void *)fc;
    tide_error e = {0};
    cr_assert_eq(naive_rrun_exec(&r, workers, &e), TIDE_OK, "%s: %s", fc->name, e.msg);
    tide_time times[64];
    uint32_t nt = naive_rrun_times(&r, times, 64);
    cr_assert_gt(r.out.upd.len, 0, "%s: no output (seed %llu)", fc->name,
                 (unsigned long long)r.seed);
    cr_assert(naive_consolidated(&r.out.upd), "%s: output not consolidated", fc->name);
    cr_assert(
        naive_reduce_check(&r.in.upd, &r.out.upd, from_scratch, (void *)fc, fc->width, times, nt),
        "%s: differs from the from-scratch fold (seed %llu, W=%u)", fc->name,
        (unsigned long long)r.seed, workers);
    naive_collect_fini(&r.in);
    naive_collect_fini(&r.out);
}

static const fcase FCASES[] = {{"running", running, 8}, {"pairs", pairs, 16}};

static void run_all(uint32_t workers)
{
    for (uint32_t c = 0; c < 2; c++)
        for (uint64_t s = 0; s < 2; s++) {
            run_case(&FCASES[c], tide_layout_make(8, 8), workers, 10 * workers + c * 3 + s);
            run_case(&FCASES[c], tide_layout_make(TIDE_VAR, TIDE_VAR), workers,
                     100 + 10 * workers + c * 3 + s);
        }
}

Test(fold, oracle_w1)
{
    run_all(1);
}
Test(fold, oracle_w2)
{
    run_all(2);
}
Test(fold, oracle_w4)
{
    run_all(4);
}

/* ---- appends refold nothing before them ---- */

typedef struct count_ctx {
    long steps; /* fold steps, all workers */
    uint32_t keys, per_key;
} count_ctx;

static void counting(void *ctx, const uint8_t *k, uint32_t kl, tide_rowbuf *st, const uint8_t *v,
                     uint32_t vl, int64_t m, tide_fold_out *o)
{
    __atomic_fetch_add(&((count_ctx *)ctx)->steps, 1, __ATOMIC_RELAXED);
    running(NULL, k, kl, st, v, vl, m, o);
}

static int append_main(tide_worker *w, void *arg)
{
    count_ctx *cc = arg;
    tide_dataflow *df = tide_dataflow_new(w, "append");
    tide_stream *s;
    tide_input *in =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s);
    tide_stream *f = tide_fold(s, "count", 8, counting, cc);
    cr_assert_not_null(f);
    tide_probe *p = tide_probe_new(f);
    TIDE_TRY(tide_dataflow_seal(df));
    uint8_t k[8], v[8];
    /* Epoch e appends value e of every key (values ascend): one step each. */
    for (uint32_t e = 0; e < cc->per_key; e++) {
        if (tide_worker_index(w) == 0)
            for (uint32_t key = 0; key < cc->keys; key++) {
                tide_u64_store(k, key);
                tide_u64_store(v, e);
                TIDE_TRY(tide_input_update(in, k, 8, v, 8, 1));
            }
        TIDE_TRY(tide_input_advance_to(in, e + 1));
        TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(e)));
    }
    return tide_input_close(in);
}

Test(fold, appends_cost_only_the_new_values)
{
    for (uint32_t workers = 1; workers <= 2; workers++) {
        count_ctx cc = {0, 7, 300};
        TIDE_TEST_EXECUTE(workers, append_main, &cc);
        cr_assert_eq(cc.steps, (long)cc.keys * cc.per_key, "W=%u: %ld fold steps for %u appends",
                     workers, cc.steps, cc.keys * cc.per_key);
    }
}

/* A change in the middle refolds exactly the positions from it on. */
static int middle_main(tide_worker *w, void *arg)
{
    count_ctx *cc = arg;
    tide_dataflow *df = tide_dataflow_new(w, "middle");
    tide_stream *s;
    tide_input *in =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s);
    tide_probe *p = tide_probe_new(tide_fold(s, "count", 8, counting, cc));
    TIDE_TRY(tide_dataflow_seal(df));
    uint8_t k[8] = {0}, v[8];
    if (tide_worker_index(w) == 0)
        for (uint32_t i = 0; i < 100; i++) {
            tide_u64_store(v, 2 * i);
            TIDE_TRY(tide_input_update(in, k, 8, v, 8, 1));
        }
    TIDE_TRY(tide_input_advance_to(in, 1));
    TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(0)));
    if (tide_worker_index(w) == 0) {
        tide_u64_store(v, 141); /* between 140 and 142: position 71 */
        TIDE_TRY(tide_input_update(in, k, 8, v, 8, 1));
    }
    return tide_input_close(in);
}

Test(fold, change_refolds_from_its_position)
{
    count_ctx cc = {0, 1, 0};
    TIDE_TEST_EXECUTE(2, middle_main, &cc);
    cr_assert_eq(cc.steps, 100 + (101 - 71), "%ld steps", cc.steps);
}
