/*
 * test_overflow.c - diffs are int64 and never wrap: every sum and product of
 * diffs past int64 fails the run with TIDE_ERANGE naming the operator, and
 * values right at the edge (sums to exactly INT64_MAX / INT64_MIN, sums
 * whose partial order of addition passes the edge but whose total does not)
 * never fail.
 *
 * Per operator family, on 1 and 2 workers: join (product), semijoin,
 * antijoin (negation), count / sum / distinct / threshold / min / top_k / reduce
 * (accumulated multiplicities, output changes) in the root scope and in a
 * loop scope, consolidate, the trace batcher and the spine's merges (driven
 * directly and through an arrangement), and iterate's feedback. The
 * schedules are fixed (the values are the point); update i goes to worker
 * i % W, and the exchange by key brings them together in varying order.
 * Expected accumulations are computed here in 128-bit arithmetic.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_coll.h"
#include "tide/collection.h"
#include "tide/record.h"
#include "tide/trace.h"

#define MAX INT64_MAX
#define MIN INT64_MIN

/* ---- schedules and runs ------------------------------------------------------------ */

/* One scheduled update: (k, v) at epoch e, send group g, diff d. */
typedef struct up {
    uint64_t k, v, e;
    uint32_t g;
    int64_t d;
} up;

#define N(a) (sizeof(a) / sizeof *(a))

static void sched_of(naive_coll *s, const up *u, size_t n)
{
    naive_coll_init(s);
    for (size_t i = 0; i < n; i++) {
        naive_coll_add(s, u[i].k, u[i].v, tide_time_epoch(u[i].e), u[i].d);
        s->u[s->len - 1].group = u[i].g;
    }
}

typedef struct result {
    int rc;
    char err[256];
    naive_sink sink; /* the output's updates (fini by the caller) */
} result;

/* Run @build on @W workers over the schedules @a (val width 8) and @b (val
 * width @vwb; none when @nb is 0). */
static void run(result *r, uint32_t W, const up *a, size_t na, const up *b, size_t nb, uint32_t vwb,
                naive_build_fn build, void *ctx)
{
    naive_coll s[2];
    sched_of(&s[0], a, na);
    sched_of(&s[1], b, nb);
    const naive_coll *sched[2] = {&s[0], &s[1]};
    uint32_t vw[2] = {8, vwb};
    naive_sink_init(&r->sink);
    r->rc = naive_run(W, nb ? 2 : 1, sched, vw, build, ctx, &r->sink, r->err, sizeof r->err);
    naive_coll_fini(&s[0]);
    naive_coll_fini(&s[1]);
}

/* The run failed with TIDE_ERANGE, and the message names operator @op. */
static void expect_erange(const char *what, uint32_t W, const up *a, size_t na, const up *b,
                          size_t nb, uint32_t vwb, naive_build_fn build, void *ctx, const char *op)
{
    result r;
    run(&r, W, a, na, b, nb, vwb, build, ctx);
    fprintf(stderr, "%s W=%u: rc=%d %s\n", what, W, r.rc, r.err);
    cr_assert_eq(r.rc, TIDE_ERANGE, "%s W=%u: expected TIDE_ERANGE, got %d (%s)", what, W, r.rc,
                 r.err);
    cr_assert(strstr(r.err, "diff overflow") != NULL, "%s W=%u: message '%s'", what, W, r.err);
    char pre[64];
    snprintf(pre, sizeof pre, "%s:", op);
    cr_assert(strstr(r.err, pre) != NULL, "%s W=%u: message '%s' does not name '%s'", what, W,
              r.err, op);
    naive_sink_fini(&r.sink);
}

/* The exact accumulation of (k, v) in @got at epoch @e. */
static __int128 acc(const naive_coll *got, uint64_t k, uint64_t v, uint64_t e)
{
    __int128 s = 0;
    for (size_t i = 0; i < got->len; i++)
        if (got->u[i].k == k && got->u[i].v == v && got->u[i].t.epoch <= e) s += got->u[i].d;
    return s;
}

/* Key @k's only value with a non-zero accumulation at epoch @e (that
 * accumulation must be @mult), or fail. */
static uint64_t only_val(const char *what, const naive_coll *got, uint64_t k, uint64_t e,
                         int64_t mult)
{
    uint64_t found = 0;
    int n = 0;
    for (size_t i = 0; i < got->len; i++) {
        if (got->u[i].k != k) continue;
        __int128 a = acc(got, k, got->u[i].v, e);
        if (a == 0 || (n > 0 && got->u[i].v == found)) continue;
        cr_assert_eq(n, 0, "%s: key %llu has several values at epoch %llu", what,
                     (unsigned long long)k, (unsigned long long)e);
        cr_assert(a == mult, "%s: key %llu value %llu has multiplicity %lld, not %lld", what,
                  (unsigned long long)k, (unsigned long long)got->u[i].v, (long long)a,
                  (long long)mult);
        found = got->u[i].v, n = 1;
    }
    cr_assert_eq(n, 1, "%s: key %llu has no value at epoch %llu", what, (unsigned long long)k,
                 (unsigned long long)e);
    return found;
}

/* A count value as the sink reads it (tide_i64_store, loaded as u64). */
static int64_t count_val(uint64_t v)
{
    return (int64_t)(v ^ (1ULL << 63));
}

/* The run succeeded. */
static void expect_ok(result *r, const char *what, uint32_t W)
{
    cr_assert_eq(r->rc, TIDE_OK, "%s W=%u: %s", what, W, r->err);
}

/* ---- dataflows --------------------------------------------------------------------- */

/* In a loop scope when ctx is non-NULL: enter, apply, leave. */
typedef tide_stream *(*unary_fn)(tide_stream *c);

typedef struct unary {
    unary_fn fn;
    bool loop;
} unary;

static tide_stream *build_unary(void *ctx, tide_scope *root, tide_stream **ins)
{
    const unary *u = ctx;
    if (!u->loop) return u->fn(ins[0]);
    tide_scope *loop = tide_scope_child(root, "loop");
    tide_stream *s = loop ? u->fn(tide_enter(ins[0], loop)) : NULL;
    return s ? tide_leave(s) : NULL;
}

static tide_stream *op_count(tide_stream *c)
{
    return tide_count(c);
}
static tide_stream *op_distinct(tide_stream *c)
{
    return tide_distinct(c);
}
static int64_t thr_edge(void *ctx, int64_t m)
{
    return m > 0 ? MAX : m < 0 ? MIN : 0;
}
static tide_stream *op_threshold(tide_stream *c)
{
    return tide_threshold(c, thr_edge, NULL);
}
static tide_stream *op_min(tide_stream *c)
{
    return tide_min(c);
}
static tide_stream *op_top_k(tide_stream *c)
{
    return tide_top_k(c, 2);
}
static tide_stream *op_consolidate(tide_stream *c)
{
    return tide_consolidate(c);
}
static tide_stream *op_negate(tide_stream *c)
{
    return tide_negate(c);
}
static tide_stream *op_arrange(tide_stream *c)
{
    return tide_arranged_stream(tide_arrange(c, "arr"));
}

/* A reduction that pushes its first value twice with its multiplicity. */
static void push_twice(void *ctx, const uint8_t *k, uint32_t kl, const tide_val_diff *in,
                       uint32_t n, tide_reduce_out *out)
{
    tide_reduce_push(out, in[0].val, in[0].len, in[0].diff);
    tide_reduce_push(out, in[0].val, in[0].len, in[0].diff);
}
/* The identity reduction. */
static void identity(void *ctx, const uint8_t *k, uint32_t kl, const tide_val_diff *in, uint32_t n,
                     tide_reduce_out *out)
{
    for (uint32_t i = 0; i < n; i++) tide_reduce_push(out, in[i].val, in[i].len, in[i].diff);
}
static tide_stream *op_twice(tide_stream *c)
{
    tide_arranged *a = tide_arrange(c, "twice_in");
    tide_arranged *r = a ? tide_reduce(a, "twice", 8, push_twice, NULL) : NULL;
    return r ? tide_arranged_stream(r) : NULL;
}
static tide_stream *op_identity(tide_stream *c)
{
    tide_arranged *a = tide_arrange(c, "ident_in");
    tide_arranged *r = a ? tide_reduce(a, "ident", 8, identity, NULL) : NULL;
    return r ? tide_arranged_stream(r) : NULL;
}

static void join_fn(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *v1, uint32_t l1,
                    const uint8_t *v2, uint32_t l2, tide_emitter *em)
{
    uint8_t v[8];
    tide_u64_store(v, tide_u64_load(v1) + tide_u64_load(v2));
    tide_emit(em, key, klen, v, 8);
}

static tide_stream *build_join(void *ctx, tide_scope *root, tide_stream **ins)
{
    tide_arranged *a = tide_arrange(ins[0], "ja");
    tide_arranged *b = tide_arrange(ins[1], "jb");
    return a && b ? tide_join(a, b, "join", tide_layout_make(8, 8), join_fn, NULL) : NULL;
}

static tide_stream *build_semijoin(void *ctx, tide_scope *root, tide_stream **ins)
{
    tide_arranged *keys = tide_arrange(ins[1], "keys");
    return keys ? (ctx ? tide_antijoin : tide_semijoin)(ins[0], keys) : NULL;
}

/* Loop bodies. */
static tide_stream *body_double(void *ctx, tide_scope *inner, tide_stream *x)
{
    tide_stream *parts[2] = {x, x};
    return tide_concat(parts, 2);
}
static tide_stream *body_same(void *ctx, tide_scope *inner, tide_stream *x)
{
    return x;
}

static tide_stream *build_iterate(void *ctx, tide_scope *root, tide_stream **ins)
{
    return tide_iterate(ins[0], ctx ? body_double : body_same, NULL);
}

/* ---- the issue's example and count --------------------------------------------------- */

/* (5, 0) with diff INT64_MAX at epoch 0 and +2 at epoch 1. */
static const up ISSUE[] = {{5, 0, 0, 0, MAX}, {5, 0, 1, 0, 2}};

/* Counts right at the edge, and a sum whose additions pass the edge in
 * some order but whose total does not. */
static const up COUNT_EDGE[] = {
    {5, 0, 0, 0, MAX - 1}, {6, 0, 0, 0, MIN + 1}, {7, 0, 0, 0, MAX}, {7, 1, 0, 1, 2},
    {7, 2, 0, 2, -5},      {5, 1, 1, 0, 1},       {6, 1, 1, 0, -1},  {8, 0, 1, 0, MIN},
    {8, 1, 1, 1, -3},      {8, 2, 1, 2, 3},
};

Test(overflow, count_issue_example_fails_with_erange)
{
    for (uint32_t W = 1; W <= 2; W++) {
        unary root = {op_count, false}, loop = {op_count, true};
        expect_erange("count (root)", W, ISSUE, N(ISSUE), NULL, 0, 0, build_unary, &root, "count");
        expect_erange("count (loop)", W, ISSUE, N(ISSUE), NULL, 0, 0, build_unary, &loop, "count");
    }
}

Test(overflow, count_at_the_edge_does_not_fail)
{
    for (uint32_t W = 1; W <= 2; W++)
        for (int l = 0; l < 2; l++) {
            unary u = {op_count, l == 1};
            result r;
            run(&r, W, COUNT_EDGE, N(COUNT_EDGE), NULL, 0, 0, build_unary, &u);
            expect_ok(&r, l ? "count edge (loop)" : "count edge (root)", W);
            const naive_coll *g = &r.sink.got;
            cr_assert_eq(count_val(only_val("count", g, 5, 0, 1)), MAX - 1);
            cr_assert_eq(count_val(only_val("count", g, 5, 1, 1)), MAX);
            cr_assert_eq(count_val(only_val("count", g, 6, 1, 1)), MIN);
            cr_assert_eq(count_val(only_val("count", g, 7, 1, 1)), MAX - 3);
            cr_assert_eq(count_val(only_val("count", g, 8, 1, 1)), MIN);
            naive_sink_fini(&r.sink);
        }
}

/* ---- sum ------------------------------------------------------------------------------ */

static tide_stream *op_sum(tide_stream *c)
{
    return tide_sum(c, "sum");
}

/* The value id whose 8 bytes tide_sum reads as @x (tide_i64_store's
 * encoding: the sign bit flipped). */
#define SV(x) ((uint64_t)(x) ^ (1ULL << 63))

Test(overflow, sum_fails_with_erange)
{
    /* 2^62 x 2 leaves int64 in the value's diff; 2^62 + 2^62 in the total. */
    static const up PROD[] = {{1, SV(1LL << 62), 0, 0, 2}};
    static const up TOTAL[] = {{1, SV(1LL << 62), 0, 0, 1}, {1, SV((1LL << 62) + 1), 1, 0, 1}};
    for (uint32_t W = 1; W <= 2; W++)
        for (int l = 0; l < 2; l++) {
            unary u = {op_sum, l};
            expect_erange("sum product", W, PROD, N(PROD), NULL, 0, 0, build_unary, &u, "sum");
            expect_erange("sum total", W, TOTAL, N(TOTAL), NULL, 0, 0, build_unary, &u, "sum");
        }
}

Test(overflow, sum_at_the_edge_does_not_fail)
{
    /* MAX - 1 then + 1: MAX exactly; MIN + 1 and -1 x 1; a total passing
     * the edge only on the way (MAX, +2, -5). */
    static const up EDGE[] = {{1, SV(MAX - 1), 0, 0, 1}, {2, SV(MIN + 1), 0, 0, 1},
                              {3, SV(MAX), 0, 0, 1},     {3, SV(2), 0, 1, 1},
                              {3, SV(-5), 0, 2, 1},      {1, SV(1), 1, 0, 1},
                              {2, SV(-1), 1, 0, 1}};
    for (uint32_t W = 1; W <= 2; W++)
        for (int l = 0; l < 2; l++) {
            unary u = {op_sum, l};
            result r;
            run(&r, W, EDGE, N(EDGE), NULL, 0, 0, build_unary, &u);
            expect_ok(&r, l ? "sum edge (loop)" : "sum edge (root)", W);
            const naive_coll *g = &r.sink.got;
            cr_assert_eq(count_val(only_val("sum", g, 1, 1, 1)), MAX);
            cr_assert_eq(count_val(only_val("sum", g, 2, 1, 1)), MIN);
            cr_assert_eq(count_val(only_val("sum", g, 3, 0, 1)), MAX - 3);
            naive_sink_fini(&r.sink);
        }
}

/* ---- reduce family -------------------------------------------------------------------- */

Test(overflow, distinct_threshold_min_top_k_accumulations_fail)
{
    /* (1, 1) at -1 then +2: threshold's output goes from MIN to MAX. */
    static const up THR[] = {{1, 1, 0, 0, -1}, {1, 1, 1, 0, 2}};
    for (uint32_t W = 1; W <= 2; W++)
        for (int l = 0; l < 2; l++) {
            unary d = {op_distinct, l}, t = {op_threshold, l}, m = {op_min, l}, k = {op_top_k, l};
            expect_erange("distinct", W, ISSUE, N(ISSUE), NULL, 0, 0, build_unary, &d, "distinct");
            expect_erange("threshold", W, THR, N(THR), NULL, 0, 0, build_unary, &t, "threshold");
            expect_erange("min", W, ISSUE, N(ISSUE), NULL, 0, 0, build_unary, &m, "min");
            expect_erange("top_k", W, ISSUE, N(ISSUE), NULL, 0, 0, build_unary, &k, "top_k");
        }
}

Test(overflow, reduce_output_sums_fail)
{
    /* push_twice outputs 2 * (2^62): past MAX; an input at MAX + 2 too. */
    static const up BIG[] = {{1, 1, 0, 0, 1LL << 62}};
    for (uint32_t W = 1; W <= 2; W++)
        for (int l = 0; l < 2; l++) {
            unary t = {op_twice, l}, i = {op_identity, l};
            expect_erange("reduce output", W, BIG, N(BIG), NULL, 0, 0, build_unary, &t, "twice");
            expect_erange("reduce input", W, ISSUE, N(ISSUE), NULL, 0, 0, build_unary, &i, "ident");
        }
}

Test(overflow, reduce_family_at_the_edge_does_not_fail)
{
    /* Multiplicities at exactly MAX and MIN, and one brought back. */
    static const up EDGE[] = {
        {1, 1, 0, 0, MAX - 1}, {2, 1, 0, 0, MIN + 1}, {3, 1, 0, 0, MAX}, {3, 1, 0, 1, 2},
        {3, 1, 0, 2, -5},      {1, 1, 1, 0, 1},       {2, 1, 1, 0, -1},
    };
    static const up HALF[] = {{1, 1, 0, 0, (1LL << 62) - 1}, {2, 1, 0, 0, -(1LL << 62)}};
    for (uint32_t W = 1; W <= 2; W++)
        for (int l = 0; l < 2; l++) {
            result r;
            unary i = {op_identity, l}, d = {op_distinct, l}, m = {op_min, l}, t = {op_twice, l};
            run(&r, W, EDGE, N(EDGE), NULL, 0, 0, build_unary, &i);
            expect_ok(&r, "identity reduce edge", W);
            cr_assert(acc(&r.sink.got, 1, 1, 1) == MAX);
            cr_assert(acc(&r.sink.got, 2, 1, 1) == MIN);
            cr_assert(acc(&r.sink.got, 3, 1, 1) == MAX - 3);
            naive_sink_fini(&r.sink);
            run(&r, W, EDGE, N(EDGE), NULL, 0, 0, build_unary, &d);
            expect_ok(&r, "distinct edge", W);
            cr_assert(acc(&r.sink.got, 1, 1, 1) == 1 && acc(&r.sink.got, 3, 1, 1) == 1);
            cr_assert(acc(&r.sink.got, 2, 1, 1) == 0);
            naive_sink_fini(&r.sink);
            run(&r, W, EDGE, N(EDGE), NULL, 0, 0, build_unary, &m);
            expect_ok(&r, "min edge", W);
            cr_assert(acc(&r.sink.got, 1, 1, 1) == 1 && acc(&r.sink.got, 3, 1, 1) == 1);
            naive_sink_fini(&r.sink);
            run(&r, W, HALF, N(HALF), NULL, 0, 0, build_unary, &t);
            expect_ok(&r, "push twice edge", W);
            cr_assert(acc(&r.sink.got, 1, 1, 0) == MAX - 1);
            cr_assert(acc(&r.sink.got, 2, 1, 0) == MIN);
            naive_sink_fini(&r.sink);
        }
}

/* ---- join, semijoin, antijoin ------------------------------------------------------------ */

Test(overflow, join_product_fails)
{
    static const up A[] = {{1, 10, 0, 0, 1LL << 32}}, B[] = {{1, 20, 0, 0, 1LL << 31}};
    static const up C[] = {{1, 7, 0, 0, 1LL << 40}}, K[] = {{1, 0, 1, 0, 1LL << 30}};
    static const up M[] = {{1, 7, 0, 0, MIN}}, K1[] = {{1, 0, 0, 0, 1}};
    for (uint32_t W = 1; W <= 2; W++) {
        expect_erange("join", W, A, N(A), B, N(B), 8, build_join, NULL, "join");
        expect_erange("semijoin", W, C, N(C), K, N(K), 0, build_semijoin, NULL, "semijoin");
        /* antijoin = c - semijoin(c): negating MIN does not fit. */
        expect_erange("antijoin", W, M, N(M), K1, N(K1), 0, build_semijoin, "anti", "negate");
    }
}

Test(overflow, join_product_at_the_edge_does_not_fail)
{
    static const up A[] = {{1, 10, 0, 0, -(1LL << 31)}, {2, 10, 0, 0, MAX}, {3, 10, 0, 0, MIN}};
    static const up B[] = {{1, 20, 0, 0, 1LL << 32}, {2, 20, 1, 0, -1}, {3, 20, 1, 0, 1}};
    for (uint32_t W = 1; W <= 2; W++) {
        result r;
        run(&r, W, A, N(A), B, N(B), 8, build_join, NULL);
        expect_ok(&r, "join edge", W);
        cr_assert(acc(&r.sink.got, 1, 30, 0) == MIN);
        cr_assert(acc(&r.sink.got, 2, 30, 1) == -MAX);
        cr_assert(acc(&r.sink.got, 3, 30, 1) == MIN);
        naive_sink_fini(&r.sink);
    }
}

/* ---- consolidate, arrange (trace merges), iterate ------------------------------------- */

Test(overflow, consolidate_sum_fails)
{
    static const up S[] = {{1, 1, 1, 0, MAX}, {1, 1, 1, 1, 2}};
    static const up NEG[] = {{1, 1, 0, 0, MIN}};
    for (uint32_t W = 1; W <= 2; W++) {
        unary c = {op_consolidate, false}, cl = {op_consolidate, true}, n = {op_negate, false};
        expect_erange("consolidate", W, S, N(S), NULL, 0, 0, build_unary, &c, "consolidate");
        expect_erange("consolidate (loop)", W, S, N(S), NULL, 0, 0, build_unary, &cl,
                      "consolidate");
        expect_erange("negate", W, NEG, N(NEG), NULL, 0, 0, build_unary, &n, "negate");
    }
}

Test(overflow, consolidate_at_the_edge_does_not_fail)
{
    /* (Sorted by epoch and send group, as naive_feed needs.) */
    static const up S[] = {
        {1, 1, 0, 0, MAX}, {2, 1, 0, 0, MIN + 1}, {3, 3, 0, 0, MIN},
        {1, 1, 0, 1, 2},   {2, 1, 0, 1, -1},      {1, 1, 0, 2, -5},
    };
    for (uint32_t W = 1; W <= 2; W++)
        for (int l = 0; l < 2; l++) {
            unary c = {op_consolidate, l};
            result r;
            run(&r, W, S, N(S), NULL, 0, 0, build_unary, &c);
            expect_ok(&r, "consolidate edge", W);
            /* Consolidated: each one update with the exact total. */
            cr_assert_eq(r.sink.got.len, 3, "W=%u: %zu updates", W, r.sink.got.len);
            cr_assert(acc(&r.sink.got, 1, 1, 0) == MAX - 3);
            cr_assert(acc(&r.sink.got, 2, 1, 0) == MIN);
            cr_assert(acc(&r.sink.got, 3, 3, 0) == MIN);
            naive_sink_fini(&r.sink);
        }
}

Test(overflow, arrangement_trace_merge_fails)
{
    /* With no reader the trace compacts to the input frontier. Updates of
     * (5, 0) in every later epoch (+1, -1, ...) keep its worker's batches
     * non-empty, so the spine's geometric merging soon merges the batch
     * holding epochs 0 and 1 with a later one, advancing both to one time:
     * MAX + 2 (+ 0 or 1) does not fit. (One seal taking both epochs keeps
     * them apart: only sums are checked, and there is none until a merge.) */
    up s[2 + 12] = {{5, 0, 0, 0, MAX}, {5, 0, 1, 0, 2}};
    for (uint64_t e = 2; e < N(s); e++) s[e] = (up){5, 0, e, 0, e % 2 ? -1 : 1};
    unary a = {op_arrange, false};
    for (uint32_t W = 1; W <= 2; W++)
        expect_erange("arrange", W, s, N(s), NULL, 0, 0, build_unary, &a, "arr");
}

Test(overflow, iterate_feedback_fails)
{
    /* Doubling every iteration: the feedback's sum passes int64 at 2^63. */
    static const up S[] = {{1, 1, 0, 0, 1}};
    for (uint32_t W = 1; W <= 2; W++)
        expect_erange("iterate", W, S, N(S), NULL, 0, 0, build_iterate, "double",
                      "variable_feedback");
}

Test(overflow, iterate_at_the_edge_does_not_fail)
{
    /* (Not MIN: iterate negates its initial collection, and -MIN does
     * not exist.) */
    static const up S[] = {{1, 1, 0, 0, MAX},
                           {2, 1, 0, 0, MIN + 1},
                           {3, 1, 0, 0, MAX},
                           {3, 1, 0, 1, 2},
                           {3, 1, 0, 2, -5}};
    for (uint32_t W = 1; W <= 2; W++) {
        result r;
        run(&r, W, S, N(S), NULL, 0, 0, build_iterate, NULL);
        expect_ok(&r, "iterate edge", W);
        cr_assert(acc(&r.sink.got, 1, 1, 0) == MAX);
        cr_assert(acc(&r.sink.got, 2, 1, 0) == MIN + 1);
        cr_assert(acc(&r.sink.got, 3, 1, 0) == MAX - 3);
        naive_sink_fini(&r.sink);
    }
}

/* ---- the trace layer, driven directly --------------------------------------------------- */

static tide_antichain frontier(uint64_t e)
{
    tide_antichain a;
    tide_antichain_init(&a);
    cr_assert_eq(tide_antichain_insert(&a, tide_time_epoch(e)), 1);
    return a;
}

/* An UPDATES batch of @layout: (k, 1) at epoch ts[i] with diff ds[i]. */
static tide_batch *upd_batch(tide_layout l, uint64_t k, const uint64_t *ts, const int64_t *ds,
                             uint32_t n)
{
    tide_batch *b = tide_batch_new(l, TIDE_BATCH_UPDATES, n);
    cr_assert_not_null(b);
    uint8_t kb[8], vb[8];
    tide_u64_store(kb, k);
    tide_u64_store(vb, 1);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(tide_batch_push_update(b, kb, 8, vb, l.val_width == 0 ? 0 : 8,
                                            tide_time_epoch(ts[i]), ds[i]),
                     TIDE_OK);
    return b;
}

/* A trace batch [lo, hi) of those updates. */
static tide_trace_batch *trace_batch(tide_layout l, uint64_t lo, uint64_t hi, const uint64_t *ts,
                                     const int64_t *ds, uint32_t n)
{
    tide_batch *b = upd_batch(l, 1, ts, ds, n);
    tide_antichain a = frontier(lo), z = frontier(hi);
    tide_trace_batch *tb;
    cr_assert_eq(tide_trace_batch_from_updates(b, &a, &z, NULL, &tb), TIDE_OK);
    tide_batch_unref(b);
    tide_antichain_fini(&a);
    tide_antichain_fini(&z);
    return tb;
}

static const tide_layout LAYOUTS[] = {{8, 8}, {8, 0}, {TIDE_VAR, TIDE_VAR}};

/* Two batches merged with compaction to epoch @since by merge_all; returns
 * its code and, on success, the one update's diff in *d. */
static int spine_merge(tide_layout l, const uint64_t *t1, const int64_t *d1, uint32_t n1,
                       const uint64_t *t2, const int64_t *d2, uint32_t n2, uint64_t since,
                       int64_t *d)
{
    tide_spine *s = tide_spine_new(l);
    cr_assert_not_null(s);
    tide_trace_batch *a = trace_batch(l, 0, 2, t1, d1, n1), *b = trace_batch(l, 2, 4, t2, d2, n2);
    cr_assert_eq(tide_spine_insert(s, a), TIDE_OK);
    cr_assert_eq(tide_spine_insert(s, b), TIDE_OK);
    tide_antichain f = frontier(since), empty;
    tide_antichain_init(&empty);
    cr_assert_eq(tide_spine_set_logical(s, &f), TIDE_OK);
    cr_assert_eq(tide_spine_set_physical(s, &empty), TIDE_OK);
    uint64_t len = tide_spine_len(s);
    int rc = tide_spine_merge_all(s);
    if (rc == TIDE_OK) {
        cr_assert_eq(tide_spine_batches(s), 1);
        cr_assert_eq(tide_spine_len(s), 1);
        *d = tide_spine_batch(s, 0)->upds[0].delta;
        cr_assert_eq(tide_spine_batch(s, 0)->upds[0].time.epoch, since);
    } else {
        /* Nothing changed. */
        cr_assert_eq(tide_spine_batches(s), 2);
        cr_assert_eq(tide_spine_len(s), len);
    }
    tide_trace_batch_unref(a);
    tide_trace_batch_unref(b);
    tide_antichain_fini(&f);
    tide_spine_free(s);
    return rc;
}

Test(overflow, spine_merge_of_two_batches)
{
    for (size_t li = 0; li < N(LAYOUTS); li++) {
        tide_layout l = LAYOUTS[li];
        uint64_t t0[] = {0}, t01[] = {0, 1}, t2[] = {2}, t23[] = {2, 3};
        int64_t max[] = {MAX}, two[] = {2}, max2[] = {MAX, 2}, m5[] = {-5}, d;
        int64_t maxm1[] = {MAX - 1}, one[] = {1}, minp1[] = {MIN + 1}, neg1[] = {-1};
        int64_t min_[] = {MIN}, m2p5[] = {-2, 5};
        /* Past the edge: MAX + 2, MIN - 1 - 1. */
        cr_assert_eq(spine_merge(l, t0, max, 1, t2, two, 1, 4, &d), TIDE_ERANGE);
        cr_assert_eq(spine_merge(l, t0, min_, 1, t23, (int64_t[]){-1, -1}, 2, 4, &d), TIDE_ERANGE);
        /* At the edge. */
        cr_assert_eq(spine_merge(l, t0, maxm1, 1, t2, one, 1, 4, &d), TIDE_OK);
        cr_assert_eq(d, MAX);
        cr_assert_eq(spine_merge(l, t0, minp1, 1, t2, neg1, 1, 4, &d), TIDE_OK);
        cr_assert_eq(d, MIN);
        /* MAX + 2 - 5: the first two pass the edge, the total does not. */
        cr_assert_eq(spine_merge(l, t01, max2, 2, t2, m5, 1, 4, &d), TIDE_OK);
        cr_assert_eq(d, MAX - 3);
        cr_assert_eq(spine_merge(l, t0, min_, 1, t23, m2p5, 2, 4, &d), TIDE_OK);
        cr_assert_eq(d, MIN + 3);
        /* Without compaction nothing is summed: both stay. */
        tide_spine *s = tide_spine_new(l);
        tide_trace_batch *a = trace_batch(l, 0, 2, t0, max, 1),
                         *b = trace_batch(l, 2, 4, t2, two, 1);
        tide_antichain empty;
        tide_antichain_init(&empty);
        cr_assert_eq(tide_spine_insert(s, a), TIDE_OK);
        cr_assert_eq(tide_spine_insert(s, b), TIDE_OK);
        cr_assert_eq(tide_spine_set_physical(s, &empty), TIDE_OK);
        cr_assert_eq(tide_spine_merge_all(s), TIDE_OK);
        cr_assert_eq(tide_spine_len(s), 2);
        tide_trace_batch_unref(a);
        tide_trace_batch_unref(b);
        tide_spine_free(s);
    }
}

/* Push each diff of @ds at epoch 5 as its own batch, seal at 6. */
static int batcher_seal(tide_batcher *bt, tide_layout l, const int64_t *ds, uint32_t n,
                        uint64_t upper, tide_trace_batch **out)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t t = 5;
        tide_batch *b = upd_batch(l, 1, &t, &ds[i], 1);
        cr_assert_eq(tide_batcher_push(bt, b), TIDE_OK);
        tide_batch_unref(b);
    }
    tide_antichain f = frontier(upper);
    int rc = tide_batcher_seal(bt, &f, out);
    tide_antichain_fini(&f);
    return rc;
}

Test(overflow, batcher_consolidation)
{
    for (size_t li = 0; li < N(LAYOUTS); li++) {
        tide_layout l = LAYOUTS[li];
        int64_t past[] = {MAX, 2}, edge[] = {MAX, 2, -5}, min_[] = {MIN + 1, -1},
                minus[] = {-2, MIN};
        tide_trace_batch *tb;
        /* Pushed updates alone. */
        tide_batcher *bt = tide_batcher_new(l);
        cr_assert_eq(batcher_seal(bt, l, past, 2, 6, &tb), TIDE_ERANGE);
        cr_assert_eq(tide_batcher_len(bt), 2, "the batcher is unchanged");
        cr_assert_eq(batcher_seal(bt, l, (int64_t[]){-5}, 1, 6, &tb), TIDE_OK);
        cr_assert_eq(tb->nupds, 1);
        cr_assert_eq(tb->upds[0].delta, MAX - 3);
        tide_trace_batch_unref(tb);
        tide_batcher_free(bt);
        bt = tide_batcher_new(l);
        cr_assert_eq(batcher_seal(bt, l, edge, 3, 6, &tb), TIDE_OK);
        cr_assert_eq(tb->upds[0].delta, MAX - 3);
        tide_trace_batch_unref(tb);
        cr_assert_eq(batcher_seal(bt, l, min_, 2, 6, &tb), TIDE_OK);
        cr_assert_eq(tb->upds[0].delta, MIN);
        tide_trace_batch_unref(tb);
        cr_assert_eq(batcher_seal(bt, l, minus, 2, 6, &tb), TIDE_ERANGE);
        tide_batcher_free(bt);
        /* With a kept-back remainder at the same time: MAX kept, then +2
         * and -5 pushed (fine), or +2 alone (past the edge). */
        bt = tide_batcher_new(l);
        cr_assert_eq(batcher_seal(bt, l, (int64_t[]){MAX}, 1, 3, &tb), TIDE_OK);
        cr_assert_eq(tb->nupds, 0);
        tide_trace_batch_unref(tb);
        cr_assert_eq(batcher_seal(bt, l, (int64_t[]){2}, 1, 4, &tb), TIDE_ERANGE);
        cr_assert_eq(batcher_seal(bt, l, (int64_t[]){-5}, 1, 6, &tb), TIDE_OK);
        cr_assert_eq(tb->nupds, 1);
        cr_assert_eq(tb->upds[0].delta, MAX - 3);
        tide_trace_batch_unref(tb);
        tide_batcher_free(bt);
    }
}
