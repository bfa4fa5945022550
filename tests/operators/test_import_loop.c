/*
 * test_import_loop.c - a join inside a loop on an arrangement imported from
 * another dataflow, against the naive oracle.
 *
 * Dataflow "source" arranges a changing edge set (several epochs, with
 * retractions). Once it has run a few epochs, a dataflow "stream-only"
 * imports the edges and only reads them as a stream: after its replay
 * nobody holds the trace (the import's own reader is gone), which used to
 * leave the trace at the empty "no holds" frontier. Right after it, in the
 * same epoch, dataflow "reach" imports the edges again, enters them into a
 * tide_iterate loop and joins them with the loop variable: reachability
 * from a changing root set. Its readers used to start at that empty
 * frontier, the trace then merged batches under the join's acknowledged
 * upper, and the join failed with "cutting input 1's trace at its
 * acknowledged upper" (about 1 run in 8 at W=2 in this test's loop; the
 * Datalog server hit it in recursive rules). Checked, at every epoch from
 * the import on: reach's output equals naive reachability over the edges
 * and roots at that epoch, and the stream-only import equals the edges.
 * W = 1, 2, 4; many seeds.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_coll.h"
#include "tide/collection.h"

typedef struct loop_ctx {
    const naive_coll *edges, *roots; /* schedules */
    uint64_t import_at;              /* epoch at which the importers are built */
    naive_sink reach, plain;         /* reach's output, the stream-only import */
} loop_ctx;

typedef struct body_ctx {
    tide_arranged *edges; /* imported, in the root scope of "reach" */
    tide_stream *roots;
} body_ctx;

/* (src, dst) x (src, 0) -> (dst, 0) */
static void step_fn(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *v1, uint32_t l1,
                    const uint8_t *v2, uint32_t l2, tide_emitter *em)
{
    tide_emit(em, v2, 8, v1, l1);
}

static tide_stream *reach_body(void *ctx, tide_scope *inner, tide_stream *x)
{
    body_ctx *b = ctx;
    tide_arranged *e = tide_arranged_enter(b->edges, inner);
    tide_stream *moved =
        tide_join(tide_arrange(x, "frontier"), e, "step", tide_stream_layout(x), step_fn, NULL);
    tide_stream *parts[2] = {tide_enter(b->roots, inner), moved};
    return tide_distinct(tide_concat(parts, 2));
}

/* Feed worker @w's share of the updates of @s at epochs <= @t, from *@i
 * on, into @in at its current epoch; step between send groups. */
static int feed(tide_worker *w, tide_input *in, const naive_coll *s, size_t *i, uint64_t t)
{
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    for (; *i < s->len && s->u[*i].t.epoch <= t; ++*i) {
        if (*i > 0 && s->u[*i].group != s->u[*i - 1].group) TIDE_TRY(tide_worker_step(w));
        if (*i % peers != me) continue;
        uint8_t k[8], v[8];
        tide_u64_store(k, s->u[*i].k);
        tide_u64_store(v, s->u[*i].v);
        TIDE_TRY(tide_input_update(in, k, 8, v, 8, s->u[*i].d));
    }
    return TIDE_OK;
}

/* Build "stream-only" and "reach" on top of @edges; roots into *@rin. */
static int build_importers(tide_worker *w, loop_ctx *lc, tide_arranged *edges, uint64_t t,
                           tide_input **rin)
{
    tide_dataflow *d0 = tide_dataflow_new(w, "stream-only");
    tide_arranged *i0 = tide_arranged_import(edges, tide_dataflow_root(d0));
    cr_assert_not_null(i0, "%s", tide_worker_error(w)->msg);
    tide_sink(tide_arranged_stream(i0), TIDE_PIPELINE, naive_sink_fn, &lc->plain);
    TIDE_TRY(tide_dataflow_seal(d0));
    /* Its replay, after which no reader holds the trace. */
    TIDE_TRY(tide_worker_step(w));
    TIDE_TRY(tide_worker_step(w));

    tide_dataflow *d1 = tide_dataflow_new(w, "reach");
    tide_scope *root = tide_dataflow_root(d1);
    tide_stream *rs;
    *rin = tide_input_new(root, tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &rs);
    body_ctx b = {tide_arranged_import(edges, root), rs}; /* read while building only */
    tide_stream *out = tide_iterate(rs, reach_body, &b);
    cr_assert_not_null(out, "%s", tide_worker_error(w)->msg);
    tide_sink(out, TIDE_PIPELINE, naive_sink_fn, &lc->reach);
    TIDE_TRY(tide_dataflow_seal(d1));
    return tide_input_advance_to(*rin, t);
}

static uint64_t last_epoch(const naive_coll *a, const naive_coll *b)
{
    uint64_t x = a->u[a->len - 1].t.epoch, y = b->u[b->len - 1].t.epoch;
    return x > y ? x : y;
}

static int loop_main(tide_worker *w, void *arg)
{
    loop_ctx *lc = arg;
    tide_dataflow *df = tide_dataflow_new(w, "source");
    tide_stream *es;
    tide_input *ein =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &es);
    tide_arranged *edges = tide_arrange(es, "edges");
    tide_probe *p = tide_probe_new(tide_arranged_stream(edges));
    TIDE_TRY(tide_dataflow_seal(df));
    tide_input *rin = NULL;
    size_t ei = 0, ri = 0;
    uint64_t last = last_epoch(lc->edges, lc->roots);
    for (uint64_t t = 0; t <= last; t++) {
        TIDE_TRY(tide_input_advance_to(ein, t));
        if (rin) TIDE_TRY(tide_input_advance_to(rin, t));
        if (rin == NULL && t == lc->import_at) {
            TIDE_TRY(tide_worker_step_until(w, p, tide_time_epoch(t - 1)));
            TIDE_TRY(build_importers(w, lc, edges, t, &rin));
        }
        TIDE_TRY(feed(w, ein, lc->edges, &ei, t));
        if (rin) TIDE_TRY(feed(w, rin, lc->roots, &ri, t)); /* earlier roots at the import */
        TIDE_TRY(tide_worker_step(w));
    }
    TIDE_TRY(tide_input_close(ein));
    TIDE_TRY(tide_input_close(rin));
    int rc;
    while ((rc = tide_worker_step_or_park(w, 1000)) > 0) {
    }
    return rc;
}

/* naive_coll_init, allocated: naive_coll_consolidate passes the array to
 * qsort even when it is empty (a NULL there is undefined, UBSan says). */
static void coll_init(naive_coll *c)
{
    naive_coll_init(c);
    naive_coll_add(c, 0, 0, TIDE_TIME_ZERO, 1);
    naive_coll_clear(c);
}

static void check_at(const naive_coll *got, const naive_coll *want, const char *what, uint32_t w,
                     uint64_t t)
{
    naive_coll have;
    coll_init(&have);
    naive_coll_at(got, tide_time_epoch(t), &have);
    char why[1024];
    cr_assert(naive_coll_eq(&have, want, why, sizeof why), "%s W=%u epoch %llu: %s", what, w,
              (unsigned long long)t, why);
    naive_coll_fini(&have);
}

Test(import_loop, join_on_entered_import_matches_reach, .timeout = 120)
{
    tide_rng r = {tide_test_seed("import_loop", 71)};
    for (uint32_t run = 0; run < 24; run++) {
        naive_coll edges, roots;
        naive_coll_init(&edges);
        naive_coll_init(&roots);
        naive_gen ge = {
            .updates = 240, .epochs = 10, .keys = 30, .vals = 30, .groups = 3, .retract = 30};
        naive_gen gr = {
            .updates = 12, .epochs = 6, .keys = 30, .vals = 1, .groups = 1, .retract = 30};
        naive_gen_schedule(&r, &ge, &edges);
        naive_gen_schedule(&r, &gr, &roots);
        uint64_t last = last_epoch(&edges, &roots);
        uint32_t workers = 1u << (run % 3);
        loop_ctx lc = {.edges = &edges,
                       .roots = &roots,
                       .import_at = 1 + tide_rng_below(&r, last > 1 ? last - 1 : 1)};
        naive_sink_init(&lc.reach);
        naive_sink_init(&lc.plain);
        TIDE_TEST_EXECUTE(workers, loop_main, &lc);
        naive_coll e_at, r_at, want;
        coll_init(&e_at);
        coll_init(&r_at);
        coll_init(&want);
        for (uint64_t t = lc.import_at; t <= last + 1; t++) {
            naive_coll_at(&edges, tide_time_epoch(t), &e_at);
            naive_coll_at(&roots, tide_time_epoch(t), &r_at);
            naive_reach(&e_at, &r_at, &want);
            check_at(&lc.reach.got, &want, "reach", workers, t);
            check_at(&lc.plain.got, &e_at, "stream-only import", workers, t);
        }
        naive_coll_fini(&e_at);
        naive_coll_fini(&r_at);
        naive_coll_fini(&want);
        naive_sink_fini(&lc.reach);
        naive_sink_fini(&lc.plain);
        naive_coll_fini(&edges);
        naive_coll_fini(&roots);
    }
}
