/*
 * tutorial_4_bfs.c - docs/tutorial.md, step 4: iterate, with a constant root.
 *
 *   tutorial_4_bfs [-w W] [-n N -p I] [NODES]      (default 12 nodes)
 *
 * Hop distances from node 0 in tutorial_3_join's changing graph. The root
 * is a constant collection (tide_collection_from): no input handle, nothing
 * to advance or close. The edges are an input, arranged once and shared
 * with the loop. The loop body: every (node, d) reached so far offers
 * (dst, d + 1) along each edge; per node the least distance wins (tide_min);
 * tide_iterate repeats until nothing changes. Prints every change as
 * "epoch E: node V distance D +|-".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "tide/tide.h"
#include "std_flags.h"

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static int edge(tide_input *in, uint64_t s, uint64_t d, int64_t diff)
{
    uint8_t k[8], v[8];
    tide_u64_store(k, s);
    tide_u64_store(v, d);
    return tide_input_update(in, k, 8, v, 8, diff);
}

/* The same graph as tutorial_3_join: a ring, then chords come and go. */
static int graph_epoch(tide_input *in, uint64_t n, uint64_t e)
{
    for (uint64_t s = 0; s < n; s++) {
        if (e == 0) TIDE_TRY(edge(in, s, (s + 1) % n, +1));
        if (e == 1 && s % 4 == 2) TIDE_TRY(edge(in, s, (s + 1) % n, -1));
        if (e == 1 && s % 2 == 0) TIDE_TRY(edge(in, s, (3 * s + 1) % n, +1));
        if (e == 2 && s % 5 == 2) TIDE_TRY(edge(in, s, (s + 5) % n, +1));
        if (e == 2 && s % 6 == 0) TIDE_TRY(edge(in, s, (3 * s + 1) % n, -1));
    }
    return TIDE_OK;
}

typedef struct loop_ctx {
    tide_arranged *edges; /* (src, dst), arranged by src */
    tide_stream *root;    /* (0, 0): node 0 at distance 0 */
} loop_ctx;

/* (src, d) meets (src, dst): offer (dst, d + 1). */
static void hop(void *ctx, const uint8_t *src, uint32_t sl, const uint8_t *d, uint32_t dl,
                const uint8_t *dst, uint32_t tl, tide_emitter *em)
{
    uint8_t next[8];
    tide_u64_store(next, tide_u64_load(d) + 1);
    tide_emit(em, dst, 8, next, 8);
}

static tide_stream *body(void *ctx, tide_scope *inner, tide_stream *dist)
{
    loop_ctx *l = ctx;
    tide_stream *offers =
        tide_join(tide_arrange(dist, "dist"), tide_arranged_enter(l->edges, inner), "hop",
                  tide_layout_make(8, 8), hop, NULL);
    tide_stream *parts[2] = {tide_enter(l->root, inner), offers};
    return tide_min(tide_concat(parts, 2));
}

static void show(void *ctx, const uint8_t *node, uint32_t nl, const uint8_t *d, uint32_t dl,
                 tide_time t, int64_t diff)
{
    pthread_mutex_lock(&print_lock);
    printf("epoch %llu: node %llu distance %llu %c\n", (unsigned long long)t.epoch,
           (unsigned long long)tide_u64_load(node), (unsigned long long)tide_u64_load(d),
           diff > 0 ? '+' : '-');
    pthread_mutex_unlock(&print_lock);
}

static int worker_main(tide_worker *w, void *arg)
{
    uint64_t n = *(const uint64_t *)arg;
    tide_dataflow *df = tide_dataflow_new(w, "bfs");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *edges;
    tide_input *in = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &edges);
    uint8_t zero[8];
    tide_u64_store(zero, 0);
    tide_record_init start = {.key = zero, .klen = 8, .val = zero, .vlen = 8};
    loop_ctx l = {tide_arrange(edges, "edges"),
                  tide_collection_from(root, tide_layout_make(8, 8), &start, 1)};
    tide_inspect_updates(tide_iterate(l.root, body, &l), show, NULL);
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint64_t e = 0; e <= 2; e++) {
        TIDE_TRY(tide_input_advance_to(in, e));
        if (tide_worker_index(w) == 0) TIDE_TRY(graph_epoch(in, n, e));
    }
    return tide_input_close(in);
}

int main(int argc, char **argv)
{
    example_std_flags(argc, argv, "tutorial_4_bfs",
                      "usage: tutorial_4_bfs [cluster flags] [NODES]\n"
                      "docs/tutorial.md step 4: hop distances from node 0 in a changing graph of "
                      "NODES\nnodes (default 12), by iterate.\n");
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "tutorial_4_bfs: %s\n", e.msg);
        return 2;
    }
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 12;
    if (n == 0 || tide_execute(&cfg, worker_main, &n, &e) < 0) {
        fprintf(stderr, "tutorial_4_bfs: %s\n", n ? e.msg : "NODES must be at least 1");
        return 1;
    }
    return 0;
}
