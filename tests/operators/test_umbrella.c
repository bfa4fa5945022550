/*
 * test_umbrella.c - the one include: this file includes tide/tide.h and no
 * other tide header, and builds a program using arrange, join, reduce,
 * count, iterate and a constant collection (out-degree, two-hop counts and
 * reachability of a random graph), checked against naive computations.
 * W = 2. Seeds are printed; TIDE_SEED=<n> replays.
 */
#include "tide/tide.h" /* the only tide include: nothing else may be needed */

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "tide_test.h" /* seeds and TIDE_TEST_EXECUTE (no tide header) */

#define N 20

typedef struct umbrella_run {
    int adj[N][N];
    pthread_mutex_t lock;
    int64_t degree[N][N + 1]; /* [node][degree]: accumulated output multiplicity */
    int64_t twohop[N];        /* [node]: accumulated count output, by value */
    int64_t reach[N];
    uint32_t bad;
} umbrella_run;

static void out_degree(void *ctx, const uint8_t *k, uint32_t kl, const tide_val_diff *in,
                       uint32_t n, tide_reduce_out *out)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) sum += in[i].diff;
    uint8_t v[8];
    tide_u64_store(v, (uint64_t)sum);
    tide_reduce_push(out, v, 8, 1);
}

static void degree_seen(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                        tide_time t, int64_t diff)
{
    umbrella_run *r = ctx;
    uint64_t node = tide_u64_load(k), d = tide_u64_load(v);
    pthread_mutex_lock(&r->lock);
    if (node < N && d <= N)
        r->degree[node][d] += diff;
    else
        r->bad++;
    pthread_mutex_unlock(&r->lock);
}

/* (a, b) join (b, c) on b: emit (a, c) keyed by a. The first arrangement is
 * of reversed edges (b, a). */
static void two_hop(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *a, uint32_t l1,
                    const uint8_t *c, uint32_t l2, tide_emitter *em)
{
    tide_emit(em, a, 8, c, 8);
}

static void reverse(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    tide_emit(em, v, 8, k, 8);
}

static void twohop_seen(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                        tide_time t, int64_t diff)
{
    umbrella_run *r = ctx;
    uint64_t node = tide_u64_load(k);
    pthread_mutex_lock(&r->lock);
    if (node < N && diff == 1)
        r->twohop[node] += tide_count_load(v);
    else if (node < N && diff == -1)
        r->twohop[node] -= tide_count_load(v);
    else
        r->bad++;
    pthread_mutex_unlock(&r->lock);
}

static void step(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *src, uint32_t l1,
                 const uint8_t *dst, uint32_t l2, tide_emitter *em)
{
    tide_emit(em, dst, 8, NULL, 0);
}

static tide_stream *reach_body(void *ctx, tide_scope *inner, tide_stream *x)
{
    tide_arranged **edges = ctx;
    tide_stream *next = tide_join(tide_arrange(x, "reached"), tide_arranged_enter(edges[0], inner),
                                  "step", tide_layout_make(8, 0), step, NULL);
    tide_stream *parts[2] = {x, next};
    return tide_distinct(tide_concat(parts, 2));
}

static void reach_seen(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                       tide_time t, int64_t diff)
{
    umbrella_run *r = ctx;
    uint64_t node = tide_u64_load(k);
    pthread_mutex_lock(&r->lock);
    if (node < N)
        r->reach[node] += diff;
    else
        r->bad++;
    pthread_mutex_unlock(&r->lock);
}

static int umbrella_main(tide_worker *w, void *arg)
{
    umbrella_run *r = arg;
    tide_dataflow *df = tide_dataflow_new(w, "umbrella");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *edges;
    tide_input *in = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &edges);
    tide_arranged *by_src = tide_arrange(edges, "by_src");
    tide_inspect_updates(
        tide_arranged_stream(tide_reduce(by_src, "out_degree", 8, out_degree, NULL)), degree_seen,
        r);
    tide_arranged *by_dst =
        tide_arrange(tide_map(edges, "reverse", tide_layout_make(8, 8), reverse, NULL), "by_dst");
    tide_inspect_updates(
        tide_count(tide_join(by_dst, by_src, "two_hop", tide_layout_make(8, 8), two_hop, NULL)),
        twohop_seen, r);
    uint64_t zero = 0;
    tide_arranged *arr[1] = {by_src};
    tide_inspect_updates(tide_iterate(tide_collection_from_u64(root, &zero, 1), reach_body, arr),
                         reach_seen, r);
    TIDE_TRY(tide_dataflow_seal(df));
    if (tide_worker_index(w) == 0)
        for (uint64_t s = 0; s < N; s++)
            for (uint64_t d = 0; d < N; d++) {
                if (!r->adj[s][d]) continue;
                uint8_t k[8], v[8];
                tide_u64_store(k, s);
                tide_u64_store(v, d);
                TIDE_TRY(tide_input_update(in, k, 8, v, 8, 1));
            }
    return tide_input_close(in);
}

Test(umbrella, join_reduce_iterate_with_one_include)
{
    static umbrella_run r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.lock, NULL);
    tide_rng rng = {tide_test_seed("umbrella", 16)};
    for (int i = 0; i < 2 * N; i++) r.adj[tide_rng_below(&rng, N)][tide_rng_below(&rng, N)] = 1;
    TIDE_TEST_EXECUTE(2, umbrella_main, &r);
    cr_assert_eq(r.bad, 0);
    /* naive: degrees, two-hop path counts, reachability from 0 */
    int reach[N] = {1};
    for (int round = 0; round < N; round++)
        for (int s = 0; s < N; s++)
            for (int d = 0; d < N; d++)
                if (reach[s] && r.adj[s][d]) reach[d] = 1;
    for (int a = 0; a < N; a++) {
        int deg = 0;
        int64_t paths = 0;
        for (int b = 0; b < N; b++) {
            deg += r.adj[a][b];
            for (int c = 0; c < N; c++) paths += r.adj[a][b] * r.adj[b][c];
        }
        for (int d = 0; d <= N; d++)
            cr_assert_eq(r.degree[a][d], deg > 0 && d == deg ? 1 : 0, "node %d degree %d", a, d);
        cr_assert_eq(r.twohop[a], paths, "node %d: two-hop %lld, want %lld", a,
                     (long long)r.twohop[a], (long long)paths);
        cr_assert_eq(r.reach[a], reach[a], "node %d reachable: %lld", a, (long long)r.reach[a]);
    }
    pthread_mutex_destroy(&r.lock);
}
