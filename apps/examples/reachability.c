/*
 * reachability.c - transitive closure from roots, maintained as edges change.
 *
 *   reachability [-w W]
 *
 * A chain 0 -> 1 -> ... -> 9 plus a shortcut 2 -> 7, root 0. Epoch 1 cuts
 * 3 -> 4 (nodes 4..6 become unreachable, 7..9 stay through the shortcut);
 * epoch 2 cuts the shortcut too. Prints every change of the reachable set.
 */
#include <stdio.h>

#include "tide/collection.h"
#include "tide/tide.h"
#include "std_flags.h"

typedef struct body_ctx {
    tide_arranged *edges;
    tide_stream *roots;
} body_ctx;

static void follow(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v1, uint32_t l1,
                   const uint8_t *dst, uint32_t l2, tide_emitter *em)
{
    tide_emit(em, dst, 8, NULL, 0);
}

/* reach = distinct(roots + {dst : src in reach, (src, dst) an edge}) */
static tide_stream *body(void *ctx, tide_scope *inner, tide_stream *reach)
{
    body_ctx *b = ctx;
    tide_stream *next =
        tide_join(tide_arrange(reach, "reach"), tide_arranged_enter(b->edges, inner), "follow",
                  tide_layout_make(8, 0), follow, NULL);
    tide_stream *parts[2] = {tide_enter(b->roots, inner), next};
    return tide_distinct(tide_concat(parts, 2));
}

static void show(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                 tide_time t, int64_t diff)
{
    printf("epoch %llu: node %llu %s\n", (unsigned long long)t.epoch,
           (unsigned long long)tide_u64_load(k), diff > 0 ? "reachable" : "unreachable");
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
    tide_dataflow *df = tide_dataflow_new(w, "reachability");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *edges, *roots;
    tide_input *ein = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &edges);
    tide_input *rin = tide_input_new(root, tide_layout_make(8, 0), TIDE_BATCH_UPDATES, &roots);
    body_ctx b = {tide_arrange(edges, "edges"), roots};
    tide_inspect_updates(tide_iterate(roots, body, &b), show, NULL);
    TIDE_TRY(tide_dataflow_seal(df));
    if (tide_worker_index(w) == 0) {
        for (uint64_t i = 0; i < 9; i++) TIDE_TRY(edge(ein, i, i + 1, 1));
        TIDE_TRY(edge(ein, 2, 7, 1));
        uint8_t r[8];
        tide_u64_store(r, 0);
        TIDE_TRY(tide_input_update(rin, r, 8, NULL, 0, 1));
    }
    TIDE_TRY(tide_input_advance_to(ein, 1));
    TIDE_TRY(tide_input_advance_to(rin, 1));
    if (tide_worker_index(w) == 0) TIDE_TRY(edge(ein, 3, 4, -1));
    TIDE_TRY(tide_input_advance_to(ein, 2));
    TIDE_TRY(tide_input_advance_to(rin, 2));
    if (tide_worker_index(w) == 0) TIDE_TRY(edge(ein, 2, 7, -1));
    TIDE_TRY(tide_input_close(ein));
    return tide_input_close(rin);
}

int main(int argc, char **argv)
{
    example_std_flags(argc, argv, "reachability",
                      "usage: reachability [cluster flags]\n"
                      "Nodes reachable from root 0 in a 10-node chain with a shortcut, maintained "
                      "as\nedges are cut; prints every change of the reachable set.\n");
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0 ||
        tide_execute(&cfg, worker_main, NULL, &e) < 0) {
        fprintf(stderr, "reachability: %s\n", e.msg);
        return 1;
    }
    return 0;
}
