/*
 * reachability.c - job: the nodes reachable from a root over a graph.
 *
 *   tide submit jobs/reachability.so [--publish NAME] EDGES ROOT
 *   tide submit jobs/reachability.so --lookup NAME ROOT
 *
 * EDGES is a file of "SRC DST" lines (u64 node ids; the path must be
 * readable on every process; worker i of P reads lines i, i + P, ...).
 * Prints "reachable NODE" for every node reachable from ROOT (ROOT too).
 *
 * --publish NAME also publishes the edges' arrangement as NAME
 * (tide_arrangement_publish) and keeps the job running (its edge input
 * stays open at epoch 1) until it is cancelled, so that later jobs can read
 * it. --lookup NAME reads the edges from that published arrangement instead
 * of a file: the later job does not rebuild the index (Shared Arrangements,
 * VLDB 2020); it runs while the publisher does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/collection.h"
#include "tide/job.h"
#include "tide/tide.h"

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
    return next ? tide_distinct(tide_concat(parts, 2)) : NULL;
}

static void show(void *ctx, const tide_batch *b)
{
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        tide_job_printf(ctx, "%s %" PRIu64 "\n", b->diffs[i] > 0 ? "reachable" : "unreachable",
                        tide_u64_load(k));
    }
}

static int feed_edges(tide_worker *w, tide_job *job, tide_input *in, const char *path)
{
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return tide_job_fail(job, TIDE_EIO, "reachability: %s: %s", path, strerror(errno));
    char line[256];
    size_t k = 0;
    int rc = TIDE_OK;
    while (rc == TIDE_OK && fgets(line, sizeof line, f)) {
        k++;
        if ((k - 1) % peers != me) continue;
        unsigned long long s, d;
        if (sscanf(line, "%llu %llu", &s, &d) != 2) {
            rc = tide_job_fail(job, TIDE_EPARSE, "reachability: %s:%zu: expected 'SRC DST'", path,
                               k);
            break;
        }
        uint8_t kb[8], vb[8];
        tide_u64_store(kb, s);
        tide_u64_store(vb, d);
        rc = tide_input_update(in, kb, 8, vb, 8, 1);
    }
    fclose(f);
    return rc;
}

static int usage(tide_job *job)
{
    return tide_job_fail(job, TIDE_EINVAL,
                         "usage: reachability [--publish NAME] EDGES ROOT | --lookup NAME ROOT");
}

static int reach_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    const char *publish = NULL, *lookup = NULL;
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--publish") == 0) publish = argv[a + 1], a += 2;
    if (a + 1 < argc && strcmp(argv[a], "--lookup") == 0) lookup = argv[a + 1], a += 2;
    const char *edges_path = lookup ? NULL : (a < argc ? argv[a++] : NULL);
    if ((!lookup && edges_path == NULL) || a + 1 != argc) return usage(job);
    char *end;
    uint64_t root = strtoull(argv[a], &end, 10);
    if (*end) return usage(job);

    tide_dataflow *df = tide_dataflow_new(w, "reachability");
    tide_scope *s = tide_dataflow_root(df);
    tide_stream *edges = NULL, *roots;
    tide_input *ein = NULL;
    tide_arranged *arr;
    if (lookup) {
        arr = tide_arrangement_lookup(s, lookup);
        if (arr == NULL)
            return tide_job_fail(job, tide_worker_error(w)->code,
                                 "reachability: no published arrangement '%s' (%s)", lookup,
                                 tide_worker_error(w)->msg);
    } else {
        ein = tide_input_new(s, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &edges);
        arr = ein ? tide_arrange(edges, "edges") : NULL;
    }
    tide_input *rin = tide_input_new(s, tide_layout_make(8, 0), TIDE_BATCH_UPDATES, &roots);
    body_ctx b = {arr, roots};
    tide_stream *reach = arr && rin ? tide_iterate(roots, body, &b) : NULL;
    if (reach == NULL || tide_inspect(reach, show, job) == NULL)
        return tide_job_fail(job, tide_worker_error(w)->code, "reachability: %s",
                             tide_worker_error(w)->msg);
    if (publish && tide_arrangement_publish(w, publish, arr) < 0)
        return tide_job_fail(job, tide_worker_error(w)->code, "reachability: publish '%s': %s",
                             publish, tide_worker_error(w)->msg);
    TIDE_TRY(tide_dataflow_seal(df));
    if (tide_worker_index(w) == 0) {
        uint8_t r[8];
        tide_u64_store(r, root);
        TIDE_TRY(tide_input_update(rin, r, 8, NULL, 0, 1));
    }
    TIDE_TRY(tide_input_close(rin));
    if (ein) {
        TIDE_TRY(feed_edges(w, job, ein, edges_path));
        /* A publisher keeps its input open (at epoch 1, so that epoch 0 completes) and
         * runs until cancelled; readers see epoch 0's edges. */
        if (publish) return tide_input_advance_to(ein, 1);
        TIDE_TRY(tide_input_close(ein));
    }
    return TIDE_OK;
}
TIDE_JOB_DEFINE(reach_main)
