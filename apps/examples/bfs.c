/*
 * bfs.c - hop distances from a root, maintained as edges change.
 *
 *   bfs [-w W]
 *
 * A ring 0 -> 1 -> ... -> 11 -> 0, root 0. Epoch 1 adds the chord 0 -> 6
 * (distances past 6 drop); epoch 2 removes 5 -> 6 (6 now only via the
 * chord, nothing else changes). Prints every change of (node, distance).
 */
#include <stdio.h>

#include "tide/collection.h"
#include "tide/tide.h"
#include "std_flags.h"

typedef struct body_ctx {
    tide_arranged *edges;
    tide_stream *start; /* (root, 0) */
} body_ctx;

static void hop(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *dist, uint32_t l1,
                const uint8_t *dst, uint32_t l2, tide_emitter *em)
{
    uint8_t d[8];
    tide_u64_store(d, tide_u64_load(dist) + 1);
    tide_emit(em, dst, 8, d, 8);
}

/* dist = min per node of (start + {(dst, d + 1) : (src, d) in dist, src -> dst}) */
static tide_stream *body(void *ctx, tide_scope *inner, tide_stream *dist)
{
    body_ctx *b = ctx;
    tide_stream *next = tide_join(tide_arrange(dist, "dist"), tide_arranged_enter(b->edges, inner),
                                  "hop", tide_layout_make(8, 8), hop, NULL);
    tide_stream *parts[2] = {tide_enter(b->start, inner), next};
    return tide_min(tide_concat(parts, 2));
}

static void show(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                 tide_time t, int64_t diff)
{
    printf("epoch %llu: node %llu distance %llu %s\n", (unsigned long long)t.epoch,
           (unsigned long long)tide_u64_load(k), (unsigned long long)tide_u64_load(v),
           diff > 0 ? "+" : "-");
}

static int edge(tide_input *in, uint64_t s, uint64_t d, int64_t diff)
{
    uint8_t k[8], v[8];
    tide_u64_store(k, s);
    tide_u64_store(v, d);
    return tide_input_update(in, k, 8, v, 8, diff);
}

static int worker_main(tide_worker *w, void *arg)
{
    tide_dataflow *df = tide_dataflow_new(w, "bfs");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *edges, *start;
    tide_input *ein = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &edges);
    tide_input *sin = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &start);
    body_ctx b = {tide_arrange(edges, "edges"), start};
    tide_inspect_updates(tide_iterate(start, body, &b), show, NULL);
    TIDE_TRY(tide_dataflow_seal(df));
    bool me = tide_worker_index(w) == 0;
    if (me) {
        for (uint64_t i = 0; i < 12; i++) TIDE_TRY(edge(ein, i, (i + 1) % 12, 1));
        TIDE_TRY(edge(sin, 0, 0, 1));
    }
    TIDE_TRY(tide_input_advance_to(ein, 1));
    if (me) TIDE_TRY(edge(ein, 0, 6, 1));
    TIDE_TRY(tide_input_advance_to(ein, 2));
    if (me) TIDE_TRY(edge(ein, 5, 6, -1));
    TIDE_TRY(tide_input_close(ein));
    return tide_input_close(sin);
}

int main(int argc, char **argv)
{
    example_std_flags(argc, argv, "bfs",
                      "usage: bfs [cluster flags]\n"
                      "Hop distances from root 0 in a 12-node ring, maintained as a chord is "
                      "added\nand an edge removed; prints every change of (node, distance).\n");
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0 ||
        tide_execute(&cfg, worker_main, NULL, &e) < 0) {
        fprintf(stderr, "bfs: %s\n", e.msg);
        return 1;
    }
    return 0;
}
