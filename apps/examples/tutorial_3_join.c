/*
 * tutorial_3_join.c - docs/tutorial.md, step 3: arrange and join.
 *
 *   tutorial_3_join [-w W] [N]      (default N = 12 nodes)
 *
 * A graph whose edges change over epochs 0..2 (see graph_epoch). Per node
 * a, the number of two-hop paths a -> b -> c: the edges arranged by
 * destination (b, a) joined with the edges arranged by source (b, c) on b
 * give (a, c) for every path; tide_count counts them per a. Prints every
 * change as "epoch E: key A count C +|-".
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

/* The edge changes of epoch @e (0..2) on @n nodes: a ring at 0; at 1 the
 * ring edges out of s % 4 == 2 go and chords s -> 3s + 1 (s % 2 == 0)
 * come; at 2 edges s -> s + 5 (s % 5 == 2) come and the chords out of
 * s % 6 == 0 go. (tutorial_4_bfs uses the same graph.) */
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

/* (b, a) and (b, c) meet on b: emit (a, c). */
static void path(void *ctx, const uint8_t *b, uint32_t bl, const uint8_t *a, uint32_t al,
                 const uint8_t *c, uint32_t cl, tide_emitter *em)
{
    tide_emit(em, a, 8, c, 8);
}

static void reverse(void *ctx, const uint8_t *s, uint32_t sl, const uint8_t *d, uint32_t dl,
                    tide_emitter *em)
{
    tide_emit(em, d, 8, s, 8);
}

static void show(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *val, uint32_t vlen,
                 tide_time t, int64_t diff)
{
    pthread_mutex_lock(&print_lock);
    printf("epoch %llu: key %llu count %lld %c\n", (unsigned long long)t.epoch,
           (unsigned long long)tide_u64_load(key), (long long)tide_count_load(val),
           diff > 0 ? '+' : '-');
    pthread_mutex_unlock(&print_lock);
}

static int worker_main(tide_worker *w, void *arg)
{
    uint64_t n = *(const uint64_t *)arg;
    tide_dataflow *df = tide_dataflow_new(w, "two_hop");
    tide_stream *edges;
    tide_input *in =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &edges);
    tide_arranged *by_src = tide_arrange(edges, "by_src");
    tide_arranged *by_dst =
        tide_arrange(tide_map(edges, "reverse", tide_layout_make(8, 8), reverse, NULL), "by_dst");
    tide_stream *paths = tide_join(by_dst, by_src, "paths", tide_layout_make(8, 8), path, NULL);
    tide_inspect_updates(tide_count(paths), show, NULL);
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint64_t e = 0; e <= 2; e++) {
        TIDE_TRY(tide_input_advance_to(in, e));
        if (tide_worker_index(w) == 0) TIDE_TRY(graph_epoch(in, n, e));
    }
    return tide_input_close(in);
}

int main(int argc, char **argv)
{
    example_std_flags(argc, argv, "tutorial_3_join",
                      "usage: tutorial_3_join [cluster flags] [N]\n"
                      "docs/tutorial.md step 3: two-hop paths per node of a changing N-node "
                      "graph\n(default 12), by arrange and join.\n");
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "tutorial_3_join: %s\n", e.msg);
        return 2;
    }
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 12;
    if (n == 0 || tide_execute(&cfg, worker_main, &n, &e) < 0) {
        fprintf(stderr, "tutorial_3_join: %s\n", n ? e.msg : "N must be at least 1");
        return 1;
    }
    return 0;
}
