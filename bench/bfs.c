/*
 * bfs.c - incremental breadth-first search (differential's examples/bfs.rs)
 * against a from-scratch single-threaded BFS (bench/baseline_bfs.c).
 *
 *   bench_bfs [-w W] NODES EDGES BATCH [ROUNDS]       (ROUNDS default 20)
 *
 * A seeded random graph (EDGES edges, endpoints uniform over NODES); the
 * root is the source of the first edge, so it has out-edges. Dataflow:
 *   dist = iterate(start: min per node of (start + {(dst, d + 1) :
 *                  (src, d) in dist, src -> dst}))
 * with the edges arranged once outside the loop and entered. Phases timed
 * separately: the initial fixed point, then ROUNDS rounds each adding BATCH
 * random edges and removing BATCH present ones at a new epoch (p50/p99).
 * The baseline recomputes BFS over the current edge set each round.
 * Every worker derives the same edge changes from the seed and sends its
 * share (edge i goes from worker i % W). Output: one key=value line.
 *
 * Under N processes each process sees only the distances its own workers
 * own; the reached count is gathered at the end (every process's share
 * broadcast to every worker), so each process compares the whole graph's
 * count with the baseline's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "baselines.h"
#include "common.h"
#include "tide/collection.h"
#include "tide/tide.h"

typedef struct job {
    uint64_t nodes, nedges, batch;
    uint32_t rounds;
    uint64_t seed;
    uint64_t root;
    uint64_t *src, *dst;     /* initial edges */
    uint64_t *add_s, *add_d; /* rounds * batch added edges */
    uint64_t *del;           /* rounds * batch: indices into the edge list at that round */
    int64_t reached;         /* nodes with a distance here (atomic: sum of output diffs) */
    int64_t reached_all;     /* the same over every process (atomic: gathered at the end) */
    double init_ms;          /* worker 0's view */
    double *round_ms;
    int64_t counts[2]; /* updates out of the join / out of min, all phases */
} job;

typedef struct body_ctx {
    tide_arranged *edges;
    tide_stream *start;
    int64_t *counts; /* [0] join output, [1] min output updates (atomic) */
} body_ctx;

static void count_upd(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                      tide_time t, int64_t diff)
{
    __atomic_add_fetch((int64_t *)ctx, 1, __ATOMIC_RELAXED);
}

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
    next = tide_inspect_updates(next, count_upd, &b->counts[0]);
    tide_stream *parts[2] = {tide_enter(b->start, inner), next};
    return tide_inspect_updates(tide_min(tide_concat(parts, 2)), count_upd, &b->counts[1]);
}

static void count_reached(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                          tide_time t, int64_t diff)
{
    __atomic_add_fetch((int64_t *)ctx, diff, __ATOMIC_RELAXED);
}

static int send_edge(tide_input *in, uint64_t s, uint64_t d, int64_t diff)
{
    uint8_t k[8], v[8];
    tide_u64_store(k, s);
    tide_u64_store(v, d);
    return tide_input_update(in, k, 8, v, 8, diff);
}

/* Step until @p passes @t. Spins rather than parks: with one worker
 * there is always work until then, and parking costs latency. */
static int step_until(tide_worker *w, tide_probe *p, tide_time t)
{
    while (tide_probe_less_equal(p, t)) {
        int rc = tide_worker_step(w);
        if (rc <= 0) return rc;
    }
    return TIDE_OK;
}

/* Sum of every process's share, seen by the first worker of each process. */
static void add_share(void *ctx, const tide_batch *b)
{
    job *j = ctx;
    for (uint32_t i = 0; i < b->len; i++)
        __atomic_add_fetch(&j->reached_all, (int64_t)tide_batch_val_u64(b, i), __ATOMIC_RELAXED);
}

static void ignore(void *ctx, const tide_batch *b) {}

/*
 * Once the BFS is over everywhere (its probe's frontier is empty, so every
 * worker's count_reached has run for good), the first worker of each
 * process broadcasts its process's count; the first worker of each
 * process adds up what it receives.
 */
static int gather_reached(tide_worker *w, job *j, tide_probe *p)
{
    TIDE_TRY(step_until(w, p, (tide_time){UINT64_MAX, {UINT32_MAX, UINT32_MAX}}));
    uint32_t local = tide_worker_index(w) % tide_worker_config(w)->workers;
    tide_dataflow *df = tide_dataflow_new(w, "reached");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), 0, &s);
    if (in == NULL) return tide_worker_error(w)->code;
    tide_sink(s, TIDE_BROADCAST, local == 0 ? add_share : ignore, j);
    TIDE_TRY(tide_dataflow_seal(df));
    if (local == 0) {
        uint8_t k[8], v[8];
        tide_u64_store(k, tide_worker_config(w)->process);
        tide_u64_store(v, (uint64_t)__atomic_load_n(&j->reached, __ATOMIC_RELAXED));
        TIDE_TRY(tide_input_send(in, k, 8, v, 8));
    }
    return tide_input_close(in);
}

static int worker_main(tide_worker *w, void *arg)
{
    job *j = arg;
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    tide_dataflow *df = tide_dataflow_new(w, "bfs");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *edges, *start;
    tide_input *ein = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &edges);
    tide_input *sin = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &start);
    body_ctx b = {tide_arrange(edges, "edges"), start, j->counts};
    tide_stream *dist = tide_iterate(start, body, &b);
    if (dist == NULL) return tide_worker_error(w)->code;
    tide_probe *p = tide_probe_new(tide_inspect_updates(dist, count_reached, &j->reached));
    TIDE_TRY(tide_dataflow_seal(df));

    uint64_t t0 = bench_now_ns();
    for (uint64_t i = me; i < j->nedges; i += peers)
        TIDE_TRY(send_edge(ein, j->src[i], j->dst[i], 1));
    if (me == 0) TIDE_TRY(send_edge(sin, j->root, 0, 1));
    TIDE_TRY(tide_input_advance_to(ein, 1));
    TIDE_TRY(tide_input_advance_to(sin, 1));
    TIDE_TRY(step_until(w, p, tide_time_epoch(0)));
    if (me == 0) {
        j->init_ms = (double)(bench_now_ns() - t0) / 1e6;
        fprintf(stderr, "init: %.1f ms, join output %lld updates, min output %lld\n", j->init_ms,
                (long long)j->counts[0], (long long)j->counts[1]);
    }

    /* The edge list as it evolves, identical on every worker. */
    uint64_t n = j->nedges, cap = j->nedges + (uint64_t)j->rounds * j->batch;
    uint64_t *s = malloc(cap * sizeof *s), *d = malloc(cap * sizeof *d);
    memcpy(s, j->src, n * sizeof *s);
    memcpy(d, j->dst, n * sizeof *d);
    uint64_t c = 0; /* changes sent so far, for the i % W share */
    for (uint32_t r = 0; r < j->rounds; r++) {
        uint64_t t1 = bench_now_ns();
        for (uint64_t i = 0; i < j->batch; i++) {
            uint64_t x = r * j->batch + i;
            if (c++ % peers == me) TIDE_TRY(send_edge(ein, j->add_s[x], j->add_d[x], 1));
            uint64_t k = j->del[x] % n;
            if (c++ % peers == me) TIDE_TRY(send_edge(ein, s[k], d[k], -1));
            s[k] = j->add_s[x], d[k] = j->add_d[x];
        }
        TIDE_TRY(tide_input_advance_to(ein, r + 2));
        TIDE_TRY(tide_input_advance_to(sin, r + 2));
        TIDE_TRY(step_until(w, p, tide_time_epoch(r + 1)));
        if (me == 0) {
            j->round_ms[r] = (double)(bench_now_ns() - t1) / 1e6;
            fprintf(stderr,
                    "round %u: %.1f ms, join output %lld updates, min output %lld (cumulative)\n",
                    r, j->round_ms[r], (long long)j->counts[0], (long long)j->counts[1]);
        }
    }
    free(s);
    free(d);
    TIDE_TRY(tide_input_close(ein));
    TIDE_TRY(tide_input_close(sin));
    return gather_reached(w, j, p);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_bfs [-w W] NODES EDGES BATCH [ROUNDS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "bench_bfs: %s\n", e.msg);
        return 2;
    }
    if (argc < 4) usage();
    job j = {.nodes = strtoull(argv[1], NULL, 0),
             .nedges = strtoull(argv[2], NULL, 0),
             .batch = strtoull(argv[3], NULL, 0),
             .rounds = argc > 4 ? atoi(argv[4]) : 20};
    if (j.nodes == 0 || j.nedges == 0) usage();
    j.seed = bench_seed(0x5eed);
    uint64_t rng = j.seed;
    j.src = malloc(j.nedges * sizeof *j.src);
    j.dst = malloc(j.nedges * sizeof *j.dst);
    for (uint64_t i = 0; i < j.nedges; i++) {
        j.src[i] = bench_rng(&rng) % j.nodes;
        j.dst[i] = bench_rng(&rng) % j.nodes;
    }
    j.root = j.src[0];
    uint64_t nch = (uint64_t)j.rounds * j.batch;
    j.add_s = malloc((nch + 1) * sizeof *j.add_s);
    j.add_d = malloc((nch + 1) * sizeof *j.add_d);
    j.del = malloc((nch + 1) * sizeof *j.del);
    for (uint64_t i = 0; i < nch; i++) {
        j.add_s[i] = bench_rng(&rng) % j.nodes;
        j.add_d[i] = bench_rng(&rng) % j.nodes;
        j.del[i] = bench_rng(&rng);
    }
    j.round_ms = calloc(j.rounds + 1, sizeof *j.round_ms);
    uint32_t workers = cfg.workers * cfg.processes;
    fprintf(stderr, "bench_bfs: nodes=%llu edges=%llu batch=%llu rounds=%u workers=%u %s\n",
            (unsigned long long)j.nodes, (unsigned long long)j.nedges, (unsigned long long)j.batch,
            j.rounds, workers, bench_machine());

    if (tide_execute(&cfg, worker_main, &j, &e) < 0) {
        fprintf(stderr, "bench_bfs: %s\n", e.msg);
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long tide_rss_mb = ru.ru_maxrss / 1024;
    fprintf(stderr, "tide: init %.1f ms, reached %lld here, %lld in all\n", j.init_ms,
            (long long)j.reached, (long long)j.reached_all);

    /* Baseline: the same edge lists, BFS from scratch each time. */
    uint64_t n = j.nedges;
    uint64_t *s = malloc((n + 1) * sizeof *s), *d = malloc((n + 1) * sizeof *d);
    memcpy(s, j.src, n * sizeof *s);
    memcpy(d, j.dst, n * sizeof *d);
    uint32_t *dist = malloc(j.nodes * sizeof *dist);
    double *base = calloc(j.rounds + 1, sizeof *base);
    uint64_t t0 = bench_now_ns();
    uint64_t reached0 = baseline_bfs(j.nodes, s, d, n, j.root, dist);
    base[0] = (double)(bench_now_ns() - t0) / 1e6;
    uint64_t reached = reached0;
    for (uint32_t r = 0; r < j.rounds; r++) {
        for (uint64_t i = 0; i < j.batch; i++) {
            uint64_t x = r * j.batch + i, k = j.del[x] % n;
            s[k] = j.add_s[x], d[k] = j.add_d[x];
        }
        t0 = bench_now_ns();
        reached = baseline_bfs(j.nodes, s, d, n, j.root, dist);
        base[r + 1] = (double)(bench_now_ns() - t0) / 1e6;
    }
    if ((int64_t)reached != j.reached_all)
        fprintf(stderr, "bench_bfs: MISMATCH tide reached %lld, baseline %llu\n",
                (long long)j.reached_all, (unsigned long long)reached);
    double base_ms = bench_median(base, j.rounds + 1);
    double p50 = j.rounds ? bench_percentile(j.round_ms, j.rounds, 0.5) : 0;
    double p99 = j.rounds ? bench_percentile(j.round_ms, j.rounds, 0.99) : 0;
    printf("bench=bfs nodes=%llu edges=%llu batch=%llu workers=%u init_ms=%.1f p50_ms=%.2f "
           "p99_ms=%.2f baseline_ms=%.2f init_ratio=%.2f round_speedup=%.2f reached=%lld "
           "baseline_reached=%llu rss_mb=%ld seed=%llu %s\n",
           (unsigned long long)j.nodes, (unsigned long long)j.nedges, (unsigned long long)j.batch,
           workers, j.init_ms, p50, p99, base_ms, j.init_ms / base_ms, p50 > 0 ? base_ms / p50 : 0,
           (long long)j.reached_all, (unsigned long long)reached, tide_rss_mb,
           (unsigned long long)j.seed, bench_machine());
    free(s), free(d), free(dist), free(base);
    free(j.src), free(j.dst), free(j.add_s), free(j.add_d), free(j.del), free(j.round_ms);
    return (int64_t)reached == j.reached_all ? 0 : 1;
}
