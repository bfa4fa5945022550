/*
 * test_iterate_oracle.c - variables and tide_iterate against the naive
 * oracle, with outer epochs, retractions and random batch cuts, on 1, 2 and
 * 4 workers.
 *
 *  - halves: x -> x/2 (x > 0) from a random multiset: the fixed point is the
 *    multiset closure count(y) = init(y) + sum of count(x) over x > 0 with
 *    x / 2 == y. Terminates only if the loop's zero-sum changes stop
 *    circulating; retractions shrink it.
 *  - mutual: two variables in one loop scope, A' = initA + (B - 1),
 *    B' = initB + A / 2 (positive elements only), checked against naive
 *    Kleene iteration of the same system.
 *  - graphs (with tide_distinct / tide_min of the reduce family): reachability
 *    from roots, connected components by label propagation, bfs distances;
 *    edges and roots change with retractions, so fixed points also shrink.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_coll.h"
#include "tide/collection.h"

#define VMAX 512

/* ---- halves --------------------------------------------------------------------- */

static void half(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                 tide_emitter *em)
{
    uint64_t x = tide_u64_load(k);
    if (x == 0) return;
    uint8_t nk[8];
    tide_u64_store(nk, x / 2);
    tide_emit(em, nk, 8, v, vl);
}

static void dec(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                tide_emitter *em)
{
    uint64_t x = tide_u64_load(k);
    if (x == 0) return;
    uint8_t nk[8];
    tide_u64_store(nk, x - 1);
    tide_emit(em, nk, 8, v, vl);
}

typedef struct halves_ctx {
    tide_stream *outer; /* the input, to enter again inside the body */
} halves_ctx;

static tide_stream *halves_body(void *ctx, tide_scope *inner, tide_stream *x)
{
    halves_ctx *hc = ctx;
    tide_stream *parts[2] = {tide_enter(hc->outer, inner),
                             tide_map(x, "half", tide_layout_make(8, 8), half, NULL)};
    return tide_concat(parts, 2);
}

static tide_stream *build_halves(void *ctx, tide_scope *root, tide_stream **ins)
{
    halves_ctx hc = {ins[0]}; /* read only while tide_iterate builds the body */
    return tide_iterate(ins[0], halves_body, &hc);
}

static void closure(const naive_coll *init, int64_t *cnt)
{
    memset(cnt, 0, VMAX * sizeof *cnt);
    for (size_t i = 0; i < init->len; i++) cnt[init->u[i].k] += init->u[i].d;
    for (uint64_t x = VMAX - 1; x > 0; x--) cnt[x / 2] += cnt[x];
}

static void oracle_halves(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    naive_coll_clear(out);
    /* Per val (vals travel unchanged), closure over keys. */
    for (uint64_t v = 0; v < 4; v++) {
        naive_coll sub;
        naive_coll_init(&sub);
        for (size_t i = 0; i < in[0]->len; i++)
            if (in[0]->u[i].v == v)
                naive_coll_add(&sub, in[0]->u[i].k, v, TIDE_TIME_ZERO, in[0]->u[i].d);
        int64_t cnt[VMAX];
        closure(&sub, cnt);
        for (uint64_t x = 0; x < VMAX; x++)
            if (cnt[x]) naive_coll_add(out, x, v, TIDE_TIME_ZERO, cnt[x]);
        naive_coll_fini(&sub);
    }
    naive_coll_consolidate(out);
}

/* ---- mutual recursion ------------------------------------------------------------- */

static void tag(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                tide_emitter *em)
{
    uint8_t t[8];
    tide_u64_store(t, (uint64_t)(uintptr_t)ctx);
    tide_emit(em, k, kl, t, 8);
}

static tide_stream *build_mutual(void *ctx, tide_scope *root, tide_stream **ins)
{
    tide_layout l = tide_layout_make(8, 8);
    tide_scope *inner = tide_scope_child(root, "mutual");
    tide_stream *ia = tide_enter(ins[0], inner), *ib = tide_enter(ins[1], inner);
    tide_variable *va = tide_variable_new(inner, ia);
    tide_variable *vb = tide_variable_new(inner, ib);
    tide_stream *pa[2] = {ia, tide_map(tide_variable_stream(vb), "dec", l, dec, NULL)};
    tide_stream *pb[2] = {ib, tide_map(tide_variable_stream(va), "half", l, half, NULL)};
    tide_stream *na = tide_concat(pa, 2), *nb = tide_concat(pb, 2);
    if (tide_variable_set(va, na) < 0 || tide_variable_set(vb, nb) < 0) return NULL;
    tide_stream *outs[2] = {tide_leave(tide_map(na, "tagA", l, tag, (void *)0)),
                            tide_leave(tide_map(nb, "tagB", l, tag, (void *)1))};
    return tide_consolidate(tide_concat(outs, 2));
}

static void oracle_mutual(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    /* Kleene iteration over counts; vals of the inputs are dropped by tag. */
    static int64_t a[VMAX], b[VMAX], ia[VMAX], ib[VMAX], na[VMAX], nb[VMAX];
    memset(ia, 0, sizeof ia);
    memset(ib, 0, sizeof ib);
    for (size_t i = 0; i < in[0]->len; i++) ia[in[0]->u[i].k] += in[0]->u[i].d;
    for (size_t i = 0; i < in[1]->len; i++) ib[in[1]->u[i].k] += in[1]->u[i].d;
    memcpy(a, ia, sizeof a);
    memcpy(b, ib, sizeof b);
    for (int round = 0; round < 4 * VMAX; round++) {
        memcpy(na, ia, sizeof na);
        memcpy(nb, ib, sizeof nb);
        for (uint64_t x = 1; x < VMAX; x++) {
            na[x - 1] += b[x];
            nb[x / 2] += a[x];
        }
        bool same = memcmp(na, a, sizeof a) == 0 && memcmp(nb, b, sizeof b) == 0;
        memcpy(a, na, sizeof a);
        memcpy(b, nb, sizeof b);
        if (same) break;
    }
    naive_coll_clear(out);
    for (uint64_t x = 0; x < VMAX; x++) {
        if (a[x]) naive_coll_add(out, x, 0, TIDE_TIME_ZERO, a[x]);
        if (b[x]) naive_coll_add(out, x, 1, TIDE_TIME_ZERO, b[x]);
    }
    naive_coll_consolidate(out);
}

/* ---- graphs ---------------------------------------------------------------------------- */

typedef struct graph_ctx {
    tide_arranged *edges; /* arranged outside the loop */
    tide_stream *init;    /* the loop's initial collection, outside */
} graph_ctx;

/* (src, dst) x (src, v) -> (dst, v): a step along an edge carrying v. */
static void step_carry(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *v1, uint32_t l1,
                       const uint8_t *v2, uint32_t l2, tide_emitter *em)
{
    tide_emit(em, v2, 8, v1, l1);
}

/* As step_carry, adding 1 to a u64 distance. */
static void step_dist(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *v1, uint32_t l1,
                      const uint8_t *v2, uint32_t l2, tide_emitter *em)
{
    uint8_t d[8];
    tide_u64_store(d, tide_u64_load(v1) + 1);
    tide_emit(em, v2, 8, d, 8);
}

static tide_stream *step(tide_scope *inner, graph_ctx *g, tide_stream *x, tide_join_fn fn)
{
    tide_arranged *e = tide_arranged_enter(g->edges, inner);
    tide_stream *moved =
        tide_join(tide_arrange(x, "frontier"), e, "step", tide_stream_layout(x), fn, NULL);
    tide_stream *parts[2] = {tide_enter(g->init, inner), moved};
    return tide_concat(parts, 2);
}

static tide_stream *reach_body(void *ctx, tide_scope *inner, tide_stream *x)
{
    return tide_distinct(step(inner, ctx, x, step_carry));
}

static tide_stream *build_reach(void *ctx, tide_scope *root, tide_stream **ins)
{
    graph_ctx g = {tide_arrange(ins[0], "edges"), ins[1]}; /* read while building only */
    return tide_iterate(ins[1], reach_body, &g);
}

static void oracle_reach(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    naive_reach(in[0], in[1], out);
}

static tide_stream *label_body(void *ctx, tide_scope *inner, tide_stream *x)
{
    return tide_min(step(inner, ctx, x, step_carry));
}

static void self_label(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                       tide_emitter *em)
{
    tide_emit(em, k, 8, k, 8);
    tide_emit(em, v, 8, v, 8);
}

static void reverse(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    tide_emit(em, v, 8, k, 8);
}

static tide_stream *build_cc(void *ctx, tide_scope *root, tide_stream **ins)
{
    tide_layout l = tide_layout_make(8, 8);
    tide_stream *both[2] = {ins[0], tide_map(ins[0], "reverse", l, reverse, NULL)};
    graph_ctx g = {tide_arrange(tide_concat(both, 2), "undirected"),
                   tide_distinct(tide_map(ins[0], "self_label", l, self_label, NULL))};
    return tide_iterate(g.init, label_body, &g);
}

static void oracle_cc(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    naive_cc(in[0], out);
}

static void zero_dist(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                      tide_emitter *em)
{
    uint8_t d[8] = {0};
    tide_emit(em, k, 8, d, 8);
}

static tide_stream *bfs_body(void *ctx, tide_scope *inner, tide_stream *x)
{
    return tide_min(step(inner, ctx, x, step_dist));
}

static tide_stream *build_bfs(void *ctx, tide_scope *root, tide_stream **ins)
{
    graph_ctx g = {tide_arrange(ins[0], "edges"),
                   tide_map(ins[1], "zero", tide_layout_make(8, 8), zero_dist, NULL)};
    return tide_iterate(g.init, bfs_body, &g);
}

static void oracle_bfs(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    naive_bfs(in[0], in[1], out);
}

static void run2(const char *name, uint64_t salt, uint32_t nin, naive_gen g, naive_gen g1,
                 uint32_t vw1, naive_build_fn build, naive_oracle_fn oracle)
{
    char why[1400];
    cr_assert(naive_run_checked(name, salt, nin, g, g1, vw1, build, oracle, why, sizeof why), "%s",
              why);
}

static void run(const char *name, uint64_t salt, uint32_t nin, naive_gen g, naive_build_fn build,
                naive_oracle_fn oracle)
{
    run2(name, salt, nin, g, g, 8, build, oracle);
}

Test(iterate_oracle, halves_fixed_point_with_retractions)
{
    naive_gen g = {
        .updates = 600, .epochs = 8, .keys = VMAX, .vals = 3, .groups = 3, .retract = 40};
    run("halves", 21, 1, g, build_halves, oracle_halves);
}

Test(iterate_oracle, mutual_recursion_two_variables)
{
    naive_gen g = {.updates = 300, .epochs = 6, .keys = 200, .vals = 1, .groups = 2, .retract = 40};
    run("mutual", 22, 2, g, build_mutual, oracle_mutual);
}

/* Sparse random graphs over 60 nodes; edges and roots come and go. */
static const naive_gen graph_edges = {
    .updates = 500, .epochs = 8, .keys = 60, .vals = 60, .groups = 3, .retract = 40};
static const naive_gen graph_roots = {
    .updates = 20, .epochs = 8, .keys = 60, .vals = 0, .groups = 1, .retract = 30};

Test(iterate_oracle, reachability_grows_and_shrinks)
{
    run2("reach", 23, 2, graph_edges, graph_roots, 0, build_reach, oracle_reach);
}

Test(iterate_oracle, connected_components_label_propagation)
{
    run2("cc", 24, 1, graph_edges, graph_edges, 8, build_cc, oracle_cc);
}

Test(iterate_oracle, bfs_distances)
{
    run2("bfs", 25, 2, graph_edges, graph_roots, 0, build_bfs, oracle_bfs);
}
