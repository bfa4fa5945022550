/*
 * test_collection_oracle.c - consolidate, negate and inspect_updates against
 * the naive oracle: random updates with retractions, random epochs and batch
 * cuts, on 1, 2 and 4 workers. At every epoch the accumulated output must
 * equal the oracle's answer for the accumulated input; consolidate must also
 * emit each (key, val, time) at most once and never a zero diff.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_coll.h"
#include "tide/collection.h"

static tide_stream *build_consolidate(void *ctx, tide_scope *root, tide_stream **ins)
{
    return tide_consolidate(ins[0]);
}

static tide_stream *build_negate(void *ctx, tide_scope *root, tide_stream **ins)
{
    return tide_negate(ins[0]);
}

typedef struct insp_count {
    int64_t sum; /* atomic: diffs seen */
} insp_count;

static void count_diffs(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *val,
                        uint32_t vlen, tide_time t, int64_t diff)
{
    insp_count *c = ctx;
    __atomic_add_fetch(&c->sum, diff, __ATOMIC_RELAXED);
}

static tide_stream *build_inspect(void *ctx, tide_scope *root, tide_stream **ins)
{
    return tide_inspect_updates(ins[0], count_diffs, ctx);
}

static void oracle_identity(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    naive_coll_clear(out);
    for (size_t i = 0; i < in[0]->len; i++)
        naive_coll_add(out, in[0]->u[i].k, in[0]->u[i].v, TIDE_TIME_ZERO, in[0]->u[i].d);
}

static void oracle_negate(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    oracle_identity(ctx, in, out);
    for (size_t i = 0; i < out->len; i++) out->u[i].d = -out->u[i].d;
}

static int upd_cmp(const void *a, const void *b)
{
    const naive_upd *x = a, *y = b;
    if (x->k != y->k) return x->k < y->k ? -1 : 1;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return tide_time_cmp(x->t, y->t);
}

static void run(const char *name, uint64_t salt, naive_build_fn build, naive_oracle_fn oracle,
                bool check_consolidated, void *ctx)
{
    tide_rng r = {tide_test_seed(name, salt)};
    for (uint32_t workers = 1; workers <= 4; workers *= 2) {
        naive_coll s;
        naive_coll_init(&s);
        naive_gen g = {
            .updates = 3000, .epochs = 8, .keys = 60, .vals = 5, .groups = 4, .retract = 35};
        naive_gen_schedule(&r, &g, &s);
        const naive_coll *sched[1] = {&s};
        uint32_t vw[1] = {8};
        naive_sink sink;
        naive_sink_init(&sink);
        char err[256];
        cr_assert_eq(naive_run(workers, 1, sched, vw, build, ctx, &sink, err, sizeof err), 0, "%s",
                     err);
        cr_assert_gt(sink.got.len, 0, "%s W=%u: no output at all", name, workers);
        char why[1024];
        cr_assert(naive_check(&sink.got, 1, sched, oracle, NULL, why, sizeof why), "%s W=%u: %s",
                  name, workers, why);
        if (check_consolidated) {
            naive_coll *o = &sink.got;
            qsort(o->u, o->len, sizeof *o->u, upd_cmp);
            for (size_t i = 0; i < o->len; i++) {
                cr_assert_neq(o->u[i].d, 0, "%s W=%u: zero diff emitted", name, workers);
                if (i > 0)
                    cr_assert_neq(upd_cmp(&o->u[i - 1], &o->u[i]), 0,
                                  "%s W=%u: (%llu,%llu) at epoch %llu emitted twice", name, workers,
                                  (unsigned long long)o->u[i].k, (unsigned long long)o->u[i].v,
                                  (unsigned long long)o->u[i].t.epoch);
            }
        }
        naive_sink_fini(&sink);
        naive_coll_fini(&s);
    }
}

Test(collection_oracle, consolidate)
{
    run("consolidate", 1, build_consolidate, oracle_identity, true, NULL);
}
Test(collection_oracle, negate)
{
    run("negate", 2, build_negate, oracle_negate, false, NULL);
}

Test(collection_oracle, inspect_updates_sees_every_update)
{
    static insp_count c;
    c.sum = 0;
    run("inspect_updates", 3, build_inspect, oracle_identity, false, &c);
    /* Retractions only remove present records: the final sum is the number
     * of records present at the end, >= 0, and the same in every run. */
    cr_assert_geq(c.sum, 0);
}
