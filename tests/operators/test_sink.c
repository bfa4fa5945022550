/*
 * test_sink.c - tide_sink_updates: every update of a random collection
 * (naive_rrun: retractions, random cuts, W = 1, 2, 4) arrives at worker 0
 * only, once, consolidated, time by time in time order, each time before
 * the frontier passes it; the delivered changes equal the input's
 * consolidated per time. Seeds are printed; TIDE_SEED=<n> replays.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_reduce.h"
#include "tide/tide.h"
#include "tide_test.h"

typedef struct got {
    uint32_t index; /* the worker that built this sink */
    long calls;     /* callbacks received */
    naive_trace upd;
    tide_time last; /* last delivered time */
    bool any;
    tide_antichain frontier;
    int errors; /* order / consolidation violations */
} got;

static got GOT[4];
static bool AT_LAST; /* deliver on the last worker */

static int on_updates(void *ctx, tide_time t, const tide_batch *b, tide_error *e)
{
    got *g = ctx;
    g->calls++;
    if (g->any && tide_time_cmp(t, g->last) <= 0) g->errors++;
    if (!tide_antichain_less_equal(&g->frontier, t)) g->errors++; /* already passed */
    g->last = t, g->any = true;
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(b, i, &kl), *v = tide_batch_val(b, i, &vl);
        if (b->diffs[i] == 0 || !tide_time_eq(b->times[i], t)) g->errors++;
        if (i > 0 && tide_batch_cmp(b, i - 1, b, i) >= 0) g->errors++;
        naive_push(&g->upd, k, kl, v, vl, t, b->diffs[i]);
    }
    return TIDE_OK;
}

static int on_frontier(void *ctx, const tide_antichain *f, tide_error *e)
{
    got *g = ctx;
    g->calls++;
    return tide_antichain_copy(&g->frontier, f);
}

static tide_stream *build(void *ctx, tide_stream *in)
{
    uint32_t i = tide_worker_index(tide_scope_worker(tide_stream_scope(in)));
    tide_sink_fns fns = {on_updates, on_frontier};
    GOT[i].index = i;
    /* Odd seeds deliver on the last worker instead of worker 0. */
    uint32_t at = (AT_LAST && tide_worker_peers(tide_scope_worker(tide_stream_scope(in))) > 1)
                      ? tide_worker_peers(tide_scope_worker(tide_stream_scope(in))) - 1
                      : 0;
    cr_assert_eq(tide_sink_updates_on(in, "sink", &fns, &GOT[i], at), TIDE_OK);
    return in;
}

static void run(uint32_t workers, uint64_t salt)
{
    static naive_rrun r;
    memset(&r, 0, sizeof r);
    memset(GOT, 0, sizeof GOT);
    for (int i = 0; i < 4; i++) {
        naive_init(&GOT[i].upd);
        tide_antichain_init(&GOT[i].frontier);
        tide_antichain_insert(&GOT[i].frontier, TIDE_TIME_ZERO);
    }
    r.layout = salt % 2 ? tide_layout_make(TIDE_VAR, TIDE_VAR) : tide_layout_make(8, 8);
    r.seed = tide_test_seed("sink", salt);
    r.keys = 8, r.vals = 8, r.per_step = 50, r.epochs = 15;
    r.build = build;
    AT_LAST = salt % 2 == 0;
    uint32_t at = AT_LAST ? workers - 1 : 0;
    tide_error e = {0};
    cr_assert_eq(naive_rrun_exec(&r, workers, &e), TIDE_OK, "%s", e.msg);
    for (uint32_t i = 0; i < workers; i++)
        if (i != at) cr_assert_eq(GOT[i].calls, 0, "worker %u got calls", i);
    got *g = &GOT[at]; /* the delivering worker's record */
    cr_assert_eq(g->errors, 0, "order/consolidation violations (seed %llu)",
                 (unsigned long long)r.seed);
    cr_assert_eq(g->frontier.len, 0, "the final frontier is not empty");
    naive_trace want;
    naive_init(&want);
    for (uint32_t i = 0; i < r.in.upd.len; i++) {
        const naive_upd *u = &r.in.upd.u[i];
        naive_push(&want, u->k, u->kl, u->v, u->vl, u->t, u->d);
    }
    naive_consolidate(&want);
    naive_consolidate(&g->upd);
    cr_assert_gt(want.len, 0);
    cr_assert_eq(want.len, g->upd.len, "delivered %u changes, want %u (seed %llu)", g->upd.len,
                 want.len, (unsigned long long)r.seed);
    for (uint32_t i = 0; i < want.len; i++) {
        const naive_upd *a = &want.u[i], *b = &g->upd.u[i];
        cr_assert(naive_kv_cmp(a, b) == 0 && tide_time_eq(a->t, b->t) && a->d == b->d,
                  "change %u differs (seed %llu)", i, (unsigned long long)r.seed);
    }
    naive_fini(&want);
    for (int i = 0; i < 4; i++) {
        naive_fini(&GOT[i].upd);
        tide_antichain_fini(&GOT[i].frontier);
    }
    naive_collect_fini(&r.in);
    naive_collect_fini(&r.out);
}

Test(sink, oracle_w1)
{
    run(1, 1), run(1, 2);
}
Test(sink, oracle_w2)
{
    run(2, 3), run(2, 4);
}
Test(sink, oracle_w4)
{
    run(4, 5), run(4, 6);
}
