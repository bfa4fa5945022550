/*
 * test_constant.c - tide_collection_from: a constant-root bfs with one
 * changing input (edges) and no second input handle, against a naive
 * multi-source BFS per epoch. Random graph and changes (additions and
 * removals), random epochs, every worker sending its share of the edges;
 * W = 1, 2, 4. Seeds are printed; TIDE_SEED=<n> replays.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "tide/tide.h"
#include "tide_test.h"

#define NODES  24
#define EPOCHS 6
#define MAXUPD 4096
#define NOHOP  UINT64_MAX

typedef struct change {
    uint32_t epoch, src, dst;
    int64_t diff;
} change;

typedef struct bfs_run {
    change changes[512]; /* the edge changes, by epoch */
    uint32_t nchanges;
    uint64_t roots[2];
    /* Output updates, from every worker (guarded by lock). */
    pthread_mutex_t lock;
    uint64_t node[MAXUPD], dist[MAXUPD], epoch[MAXUPD];
    int64_t diff[MAXUPD];
    uint32_t nout;
} bfs_run;

typedef struct body_ctx {
    tide_arranged *edges;
    tide_stream *start;
} body_ctx;

static void hop(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *dist, uint32_t l1,
                const uint8_t *dst, uint32_t l2, tide_emitter *em)
{
    uint8_t d[8];
    tide_u64_store(d, tide_u64_load(dist) + 1);
    tide_emit(em, dst, 8, d, 8);
}

static tide_stream *body(void *ctx, tide_scope *inner, tide_stream *dist)
{
    body_ctx *b = ctx;
    tide_stream *next = tide_join(tide_arrange(dist, "dist"), tide_arranged_enter(b->edges, inner),
                                  "hop", tide_layout_make(8, 8), hop, NULL);
    tide_stream *parts[2] = {tide_enter(b->start, inner), next};
    return tide_min(tide_concat(parts, 2));
}

static void record(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                   tide_time t, int64_t diff)
{
    bfs_run *r = ctx; /* called on every worker thread at once */
    pthread_mutex_lock(&r->lock);
    if (r->nout < MAXUPD) {
        r->node[r->nout] = tide_u64_load(k);
        r->dist[r->nout] = tide_u64_load(v);
        r->epoch[r->nout] = t.epoch;
        r->diff[r->nout] = diff;
    }
    r->nout++;
    pthread_mutex_unlock(&r->lock);
}

static int bfs_main(tide_worker *w, void *arg)
{
    bfs_run *r = arg;
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    tide_dataflow *df = tide_dataflow_new(w, "constant_bfs");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *edges;
    tide_input *ein = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &edges);
    uint8_t rk[2][8], zero[8];
    tide_u64_store(zero, 0);
    tide_record_init roots[2];
    for (int i = 0; i < 2; i++) {
        tide_u64_store(rk[i], r->roots[i]);
        roots[i] = (tide_record_init){rk[i], 8, zero, 8};
    }
    body_ctx b = {tide_arrange(edges, "edges"),
                  tide_collection_from(root, tide_layout_make(8, 8), roots, 2)};
    tide_inspect_updates(tide_iterate(b.start, body, &b), record, r);
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint32_t i = 0; i < r->nchanges; i++) {
        const change *c = &r->changes[i];
        if (c->epoch > tide_input_epoch(ein)) TIDE_TRY(tide_input_advance_to(ein, c->epoch));
        if (i % peers != me) continue;
        uint8_t k[8], v[8];
        tide_u64_store(k, c->src);
        tide_u64_store(v, c->dst);
        TIDE_TRY(tide_input_update(ein, k, 8, v, 8, c->diff));
    }
    return tide_input_close(ein);
}

/* Naive multi-source BFS over the edge set @adj. */
static void naive_bfs(const int adj[NODES][NODES], const uint64_t *roots, uint64_t *dist)
{
    uint32_t queue[NODES], head = 0, tail = 0;
    for (int i = 0; i < NODES; i++) dist[i] = NOHOP;
    for (int i = 0; i < 2; i++)
        if (dist[roots[i]] == NOHOP) {
            dist[roots[i]] = 0;
            queue[tail++] = (uint32_t)roots[i];
        }
    while (head < tail) {
        uint32_t u = queue[head++];
        for (uint32_t v = 0; v < NODES; v++)
            if (adj[u][v] > 0 && dist[v] == NOHOP) {
                dist[v] = dist[u] + 1;
                queue[tail++] = v;
            }
    }
}

static void generate(bfs_run *r, tide_rng *rng)
{
    int adj[NODES][NODES] = {{0}};
    r->nchanges = 0;
    for (uint32_t e = 0; e < EPOCHS; e++) {
        uint32_t n = e == 0 ? 40 : (uint32_t)tide_rng_below(rng, 12);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t s = (uint32_t)tide_rng_below(rng, NODES),
                     d = (uint32_t)tide_rng_below(rng, NODES);
            int64_t diff = adj[s][d] ? -1 : 1;
            adj[s][d] += (int)diff;
            r->changes[r->nchanges++] = (change){e, s, d, diff};
        }
    }
    r->roots[0] = tide_rng_below(rng, NODES);
    r->roots[1] = tide_rng_below(rng, NODES);
}

static void check(uint32_t workers, uint64_t salt)
{
    tide_rng rng = {tide_test_seed("constant/bfs", salt)};
    static bfs_run r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.lock, NULL);
    generate(&r, &rng);
    TIDE_TEST_EXECUTE(workers, bfs_main, &r);
    cr_assert_lt(r.nout, MAXUPD);
    int adj[NODES][NODES] = {{0}};
    uint32_t next = 0;
    for (uint32_t e = 0; e < EPOCHS; e++) {
        while (next < r.nchanges && r.changes[next].epoch == e) {
            adj[r.changes[next].src][r.changes[next].dst] += (int)r.changes[next].diff;
            next++;
        }
        uint64_t want[NODES];
        naive_bfs(adj, r.roots, want);
        /* The accumulated output at epoch e: (node, dist) with multiplicity. */
        for (uint32_t v = 0; v < NODES; v++) {
            int64_t got_any = 0;
            for (uint32_t i = 0; i < r.nout; i++) {
                if (r.node[i] != v || r.epoch[i] > e) continue;
                got_any += r.diff[i];
                if (want[v] == r.dist[i]) continue;
                /* a wrong distance must have cancelled out by epoch e */
                int64_t m = 0;
                for (uint32_t j = 0; j < r.nout; j++)
                    if (r.node[j] == v && r.dist[j] == r.dist[i] && r.epoch[j] <= e) m += r.diff[j];
                cr_assert_eq(m, 0, "W=%u epoch %u node %u: distance %llu has multiplicity %lld",
                             workers, e, v, (unsigned long long)r.dist[i], (long long)m);
            }
            int64_t m = 0;
            for (uint32_t i = 0; i < r.nout; i++)
                if (r.node[i] == v && r.epoch[i] <= e && r.dist[i] == want[v]) m += r.diff[i];
            cr_assert_eq(m, want[v] == NOHOP ? 0 : 1,
                         "W=%u epoch %u node %u: want distance %lld, multiplicity %lld", workers, e,
                         v, want[v] == NOHOP ? -1LL : (long long)want[v], (long long)m);
            cr_assert_eq(got_any, want[v] == NOHOP ? 0 : 1, "W=%u epoch %u node %u", workers, e, v);
        }
    }
    pthread_mutex_destroy(&r.lock);
}

Test(constant, root_bfs_w1)
{
    check(1, 1);
}
Test(constant, root_bfs_w2)
{
    check(2, 2);
}
Test(constant, root_bfs_w4)
{
    check(4, 4);
}

/* Every record exactly once over the workers, at time 0, diff +1; the
 * operator's frontier empties by itself (the run completes with no input). */
typedef struct once_run {
    pthread_mutex_t lock;
    int64_t seen[64];
    uint32_t bad;
} once_run;

static void once_seen(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                      tide_time t, int64_t diff)
{
    once_run *o = ctx;
    pthread_mutex_lock(&o->lock);
    uint64_t key = tide_u64_load(k);
    if (key >= 64 || !tide_time_eq(t, TIDE_TIME_ZERO) || vl != 0)
        o->bad++;
    else
        o->seen[key] += diff;
    pthread_mutex_unlock(&o->lock);
}

static int once_main(tide_worker *w, void *arg)
{
    uint64_t keys[40];
    for (uint64_t i = 0; i < 40; i++) keys[i] = i % 20; /* each key twice */
    tide_dataflow *df = tide_dataflow_new(w, "once");
    tide_stream *c = tide_collection_from_u64(tide_dataflow_root(df), keys, 40);
    tide_probe *p = tide_probe_new(tide_inspect_updates(c, once_seen, arg));
    TIDE_TRY(tide_dataflow_seal(df));
    return tide_worker_step_until(w, p, TIDE_TIME_ZERO);
}

Test(constant, every_record_once_and_no_handle)
{
    for (uint32_t workers = 1; workers <= 4; workers *= 2) {
        once_run o = {.lock = PTHREAD_MUTEX_INITIALIZER};
        TIDE_TEST_EXECUTE(workers, once_main, &o);
        cr_assert_eq(o.bad, 0);
        for (uint32_t k = 0; k < 64; k++)
            cr_assert_eq(o.seen[k], k < 20 ? 2 : 0, "W=%u key %u: %lld", workers, k,
                         (long long)o.seen[k]);
    }
}

static int bad_width_main(tide_worker *w, void *arg)
{
    tide_dataflow *df = tide_dataflow_new(w, "bad");
    uint8_t k[4] = {0};
    tide_record_init r = {k, 4, NULL, 0};
    tide_stream *c = tide_collection_from(tide_dataflow_root(df), tide_layout_make(8, 0), &r, 1);
    if (c != NULL) return TIDE_OK;
    return tide_dataflow_seal(df);
}

Test(constant, wrong_width_is_einval)
{
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.pin = 0;
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, bad_width_main, NULL, &e), TIDE_EINVAL);
    cr_assert(strstr(e.msg, "tide_collection_from"), "%s", e.msg);
}
