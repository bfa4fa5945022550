/*
 * test_reduce_oracle.c - the reduce core against a from-scratch oracle.
 *
 * Random inputs with retractions, random epochs and batch cuts, W = 1, 2, 4:
 * at every epoch the accumulated output equals fn of the accumulated input
 * (naive_reduce_check) and the output is consolidated. Partially ordered
 * times: a source inside a loop scope emits updates at random (epoch,
 * iteration) times beyond a randomly advancing antichain of capabilities;
 * the output is checked at every time of the box the updates live in. Edge
 * cases: all values cancel, negative multiplicities, changes that leave the
 * output alone. Seeds are printed; TIDE_SEED=<n> replays.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_reduce.h"
#include "reduce.h"
#include "tide/tide.h"
#include "tide_test.h"

/* ---- reductions under test ---------------------------------------------------- */

/* Output = input, negative multiplicities included. */
static void fn_identity(void *ctx, const uint8_t *k, uint32_t kl, const tide_val_diff *in,
                        uint32_t n, tide_reduce_out *out)
{
    for (uint32_t i = 0; i < n; i++) tide_reduce_push(out, in[i].val, in[i].len, in[i].diff);
}

/* One i64: sum of (val % 5) * multiplicity. Many input changes keep it. */
static void fn_sum(void *ctx, const uint8_t *k, uint32_t kl, const tide_val_diff *in, uint32_t n,
                   tide_reduce_out *out)
{
    int64_t s = 0;
    for (uint32_t i = 0; i < n; i++) s += (int64_t)(tide_u64_load(in[i].val) % 5) * in[i].diff;
    uint8_t v[8];
    tide_i64_store(v, s);
    tide_reduce_push(out, v, 8, 1);
}

/* Each value < 3 with positive multiplicity, once. */
static void fn_small(void *ctx, const uint8_t *k, uint32_t kl, const tide_val_diff *in, uint32_t n,
                     tide_reduce_out *out)
{
    for (uint32_t i = 0; i < n; i++)
        if (tide_u64_load(in[i].val) < 3 && in[i].diff > 0)
            tide_reduce_push(out, in[i].val, in[i].len, 1);
}

/* Variable-width output: a string of (distinct values % 4) bytes, twice. */
static void fn_var(void *ctx, const uint8_t *k, uint32_t kl, const tide_val_diff *in, uint32_t n,
                   tide_reduce_out *out)
{
    static const uint8_t s[4] = {'a', 0, 'b', 'c'};
    tide_reduce_push(out, s, n % 4, 2);
}

typedef struct fn_case {
    const char *name;
    tide_reduce_fn fn;
    uint32_t width;
} fn_case;

static const fn_case CASES[] = {
    {"identity", fn_identity, 8},
    {"sum", fn_sum, 8},
    {"small", fn_small, 8},
    {"var", fn_var, TIDE_VAR},
};

/* ---- epoch-timed inputs -------------------------------------------------------- */

typedef struct run {
    fn_case fc;
    uint64_t seed;
    uint32_t epochs, keys, vals, per_epoch;
    naive_collect in, out;
} run;

static int epoch_main(tide_worker *w, void *arg)
{
    run *r = arg;
    tide_layout l = tide_layout_make(8, 8);
    tide_dataflow *df = tide_dataflow_new(w, "reduce_epochs");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *src, *out;
    tide_trace *trace, *otrace;
    tide_input *in = tide_input_new(root, l, TIDE_BATCH_UPDATES, &src);
    tide_stream *ann = naive_arrange(src, &trace);
    cr_assert_not_null(ann);
    TIDE_TRY(
        tide__reduce_build(ann, trace, 0, l, "reduce", r->fc.width, r->fc.fn, NULL, &out, &otrace));
    naive_collect_sink(out, &r->out);
    tide_probe *probe = tide_probe_new(out);
    TIDE_TRY(tide_dataflow_seal(df));
    tide_rng rng = {r->seed ^ (0x1234567ULL * (tide_worker_index(w) + 1))};
    /* Recent insertions, to retract some of them later. */
    uint64_t hist[64][2];
    uint32_t nhist = 0;
    uint64_t e = 0;
    while (e < r->epochs) {
        uint32_t n = (uint32_t)tide_rng_below(&rng, r->per_epoch + 1);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t k, v;
            int64_t d;
            if (nhist > 0 && tide_rng_below(&rng, 3) == 0) {
                uint32_t j = (uint32_t)tide_rng_below(&rng, nhist);
                k = hist[j][0], v = hist[j][1], d = -1;
                hist[j][0] = hist[nhist - 1][0], hist[j][1] = hist[nhist - 1][1];
                nhist--;
            } else {
                k = tide_rng_below(&rng, r->keys), v = tide_rng_below(&rng, r->vals);
                d = tide_rng_below(&rng, 8) == 0 ? -1 : 1; /* some negative multiplicities */
                if (d > 0 && nhist < 64) hist[nhist][0] = k, hist[nhist][1] = v, nhist++;
            }
            uint8_t kb[8], vb[8];
            tide_u64_store(kb, k);
            tide_u64_store(vb, v);
            TIDE_TRY(tide_input_update(in, kb, 8, vb, 8, d));
            naive_collect_push(&r->in, kb, 8, vb, 8, tide_time_epoch(e), d);
            if (tide_rng_below(&rng, 16) == 0) TIDE_TRY(tide_worker_step(w)); /* batch cuts */
        }
        e += 1 + (tide_rng_below(&rng, 4) == 0); /* sometimes skip an epoch */
        TIDE_TRY(tide_input_advance_to(in, e));
        uint32_t steps = (uint32_t)tide_rng_below(&rng, 4);
        for (uint32_t s = 0; s < steps; s++) TIDE_TRY(tide_worker_step(w));
        if (tide_rng_below(&rng, 3) == 0)
            TIDE_TRY(tide_worker_step_until(w, probe, tide_time_epoch(e - 1)));
    }
    return tide_input_close(in);
}

static void run_epochs(const fn_case *fc, uint32_t workers, uint64_t salt, uint32_t keys)
{
    static run r;
    memset(&r, 0, sizeof r);
    r.fc = *fc;
    r.seed = tide_test_seed(fc->name, salt);
    r.epochs = 12, r.keys = keys, r.vals = 8, r.per_epoch = 60;
    naive_collect_init(&r.in);
    naive_collect_init(&r.out);
    TIDE_TEST_EXECUTE(workers, epoch_main, &r);
    tide_time times[16];
    for (uint32_t i = 0; i < 16; i++) times[i] = tide_time_epoch(i);
    if (getenv("TIDE_VERBOSE")) fprintf(stderr, "in=%u out=%u\n", r.in.upd.len, r.out.upd.len);
    cr_assert(naive_consolidated(&r.out.upd), "output not consolidated (seed %llu)",
              (unsigned long long)r.seed);
    cr_assert(naive_reduce_check(&r.in.upd, &r.out.upd, fc->fn, NULL, fc->width, times, 16),
              "%s: output differs from the oracle (seed %llu, W=%u)", fc->name,
              (unsigned long long)r.seed, workers);
    naive_collect_fini(&r.in);
    naive_collect_fini(&r.out);
}

static void run_all_epochs(uint32_t workers)
{
    for (uint32_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        run_epochs(&CASES[c], workers, 100 * workers + c, 5);
        run_epochs(&CASES[c], workers, 1000 * workers + c, 40);
    }
}

Test(reduce_oracle, epochs_w1)
{
    run_all_epochs(1);
}
Test(reduce_oracle, epochs_w2)
{
    run_all_epochs(2);
}
Test(reduce_oracle, epochs_w4)
{
    run_all_epochs(4);
}

/* ---- partially ordered times ----------------------------------------------------- */

/* The reduce core alone (on the independent naive arrangement) behind the
 * shared driver's loop-scope source of partially ordered times. */
static tide_stream *op_reduce_core(void *ctx, tide_stream *in)
{
    const fn_case *fc = ctx;
    tide_trace *trace, *otrace;
    tide_stream *ann = naive_arrange(in, &trace), *out;
    if (ann == NULL || tide__reduce_build(ann, trace, 1, tide_stream_layout(in), "reduce",
                                          fc->width, fc->fn, NULL, &out, &otrace) < 0)
        return NULL;
    return out;
}

static void run_porder(const fn_case *fc, uint32_t workers, uint64_t salt, uint32_t keys)
{
    static naive_rrun r;
    memset(&r, 0, sizeof r);
    r.layout = tide_layout_make(8, 8);
    r.seed = tide_test_seed(fc->name, salt);
    r.keys = keys, r.vals = 6, r.per_step = 8;
    r.porder = true;
    r.build = op_reduce_core;
    r.build_ctx = (void *)fc;
    tide_error e = {0};
    cr_assert_eq(naive_rrun_exec(&r, workers, &e), TIDE_OK, "%s", e.msg);
    tide_time times[(NAIVE_MAXE + 1) * (NAIVE_MAXI + 1)];
    uint32_t nt = naive_rrun_times(&r, times, sizeof times / sizeof *times);
    if (getenv("TIDE_VERBOSE")) fprintf(stderr, "in=%u out=%u\n", r.in.upd.len, r.out.upd.len);
    cr_assert(naive_consolidated(&r.out.upd), "output not consolidated (seed %llu)",
              (unsigned long long)r.seed);
    cr_assert(naive_reduce_check(&r.in.upd, &r.out.upd, fc->fn, NULL, fc->width, times, nt),
              "%s: partially ordered output differs from the oracle (seed %llu, W=%u)", fc->name,
              (unsigned long long)r.seed, workers);
    naive_collect_fini(&r.in);
    naive_collect_fini(&r.out);
}

static void run_all_porder(uint32_t workers, uint32_t reps)
{
    for (uint32_t rep = 0; rep < reps; rep++)
        for (uint32_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
            run_porder(&CASES[c], workers, 7000 + 100 * rep + 10 * workers + c, 3);
            run_porder(&CASES[c], workers, 9000 + 100 * rep + 10 * workers + c, 20);
        }
}

Test(reduce_oracle, partial_order_w1)
{
    run_all_porder(1, 4);
}
Test(reduce_oracle, partial_order_w2)
{
    run_all_porder(2, 2);
}
Test(reduce_oracle, partial_order_w4)
{
    run_all_porder(4, 1);
}

/* ---- edge cases --------------------------------------------------------------------- */

typedef struct step {
    uint64_t k, v;
    int64_t d;
} step;

typedef struct edge_run {
    const step *const *epochs; /* nepochs arrays of lens[e] updates */
    const uint32_t *lens;
    uint32_t nepochs;
    tide_reduce_fn fn;
    naive_collect out;
} edge_run;

static int edge_main(tide_worker *w, void *arg)
{
    edge_run *er = arg;
    tide_layout l = tide_layout_make(8, 8);
    tide_dataflow *df = tide_dataflow_new(w, "reduce_edges");
    tide_stream *src, *out;
    tide_trace *trace, *otrace;
    tide_input *in = tide_input_new(tide_dataflow_root(df), l, TIDE_BATCH_UPDATES, &src);
    tide_stream *ann = naive_arrange(src, &trace);
    TIDE_TRY(tide__reduce_build(ann, trace, 0, l, "reduce", 8, er->fn, NULL, &out, &otrace));
    naive_collect_sink(out, &er->out);
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint32_t e = 0; e < er->nepochs; e++) {
        TIDE_TRY(tide_input_advance_to(in, e));
        for (uint32_t i = 0; i < er->lens[e]; i++) {
            uint8_t kb[8], vb[8];
            tide_u64_store(kb, er->epochs[e][i].k);
            tide_u64_store(vb, er->epochs[e][i].v);
            TIDE_TRY(tide_input_update(in, kb, 8, vb, 8, er->epochs[e][i].d));
        }
    }
    return tide_input_close(in);
}

/* Run the edge scenario and return its output consolidated, sorted. */
static void edge(edge_run *er)
{
    naive_collect_init(&er->out);
    TIDE_TEST_EXECUTE(1, edge_main, er);
    naive_consolidate(&er->out.upd);
}

static void expect(const naive_trace *o, uint32_t i, uint64_t k, int64_t v, uint64_t epoch,
                   int64_t d)
{
    cr_assert_lt(i, o->len, "missing output update %u", i);
    const naive_upd *u = &o->u[i];
    cr_assert_eq(tide_u64_load(u->k), k, "update %u: key", i);
    cr_assert_eq(tide_i64_load(u->v), v, "update %u: val", i);
    cr_assert_eq(u->t.epoch, epoch, "update %u: time", i);
    cr_assert_eq(u->d, d, "update %u: diff", i);
}

Test(reduce_edges, unchanged_output_then_all_cancel)
{
    /* fn_sum: vals 10 and 15 both count 0, so adding 15 changes nothing;
     * retracting both empties the key: the output is retracted. */
    static const step e0[] = {{1, 10, 1}, {2, 3, 1}};
    static const step e1[] = {{1, 15, 1}};
    static const step e2[] = {{1, 10, -1}, {1, 15, -1}, {2, 3, -1}, {2, 3, 1}};
    static const step *const ep[] = {e0, e1, e2};
    static const uint32_t lens[] = {2, 1, 4};
    edge_run er = {.epochs = ep, .lens = lens, .nepochs = 3, .fn = fn_sum};
    edge(&er);
    const naive_trace *o = &er.out.upd;
    cr_assert_eq(o->len, 3, "got %u output updates", o->len);
    expect(o, 0, 1, 0, 0, 1);
    expect(o, 1, 1, 0, 2, -1);
    expect(o, 2, 2, 3, 0, 1);
    naive_collect_fini(&er.out);
}

Test(reduce_edges, negative_multiplicities_reach_the_function)
{
    /* Identity: a value with multiplicity -2 is output with -2. */
    static const step e0[] = {{7, 1, -2}};
    static const step e1[] = {{7, 1, 2}};
    static const step *const ep[] = {e0, e1};
    static const uint32_t lens[] = {1, 1};
    edge_run er = {.epochs = ep, .lens = lens, .nepochs = 2, .fn = fn_identity};
    edge(&er);
    const naive_trace *o = &er.out.upd;
    cr_assert_eq(o->len, 2);
    cr_assert_eq(tide_u64_load(o->u[0].v), 1);
    cr_assert_eq(o->u[0].d, -2);
    cr_assert_eq(o->u[0].t.epoch, 0);
    cr_assert_eq(o->u[1].d, 2);
    cr_assert_eq(o->u[1].t.epoch, 1);
    naive_collect_fini(&er.out);
}

/* ---- through the public API: tide_arrange + tide_reduce --------------------------- */

static tide_stream *op_reduce(void *ctx, tide_stream *in)
{
    const fn_case *fc = ctx;
    tide_arranged *a = tide_arrange(in, "arrange");
    tide_arranged *r = a ? tide_reduce(a, fc->name, fc->width, fc->fn, NULL) : NULL;
    return r ? tide_arranged_stream(r) : NULL;
}

static void run_public(bool porder, uint32_t workers)
{
    for (uint32_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        static naive_rrun r;
        memset(&r, 0, sizeof r);
        r.layout = tide_layout_make(8, 8);
        r.seed = tide_test_seed(CASES[c].name, 500 + 10 * workers + c + porder);
        r.keys = 12, r.vals = 8, r.per_step = porder ? 10 : 60, r.epochs = 10;
        r.porder = porder;
        r.build = op_reduce;
        r.build_ctx = (void *)&CASES[c];
        tide_error e = {0};
        cr_assert_eq(naive_rrun_exec(&r, workers, &e), TIDE_OK, "%s", e.msg);
        tide_time times[64];
        uint32_t nt = naive_rrun_times(&r, times, 64);
        cr_assert(naive_consolidated(&r.out.upd));
        cr_assert(
            naive_reduce_check(&r.in.upd, &r.out.upd, CASES[c].fn, NULL, CASES[c].width, times, nt),
            "%s via tide_reduce differs from the oracle (seed %llu, W=%u)", CASES[c].name,
            (unsigned long long)r.seed, workers);
        naive_collect_fini(&r.in);
        naive_collect_fini(&r.out);
    }
}

Test(reduce_public, epochs_w1)
{
    run_public(false, 1);
}
Test(reduce_public, epochs_w4)
{
    run_public(false, 4);
}
Test(reduce_public, partial_order_w1)
{
    run_public(true, 1);
}
Test(reduce_public, partial_order_w2)
{
    run_public(true, 2);
}
