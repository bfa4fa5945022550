/*
 * test_join_oracle.c - join, semijoin and antijoin against the naive oracle.
 *
 * Random inputs with retractions over few keys (many-to-many matches), random
 * epochs and batch cuts, on 1, 2 and 4 workers; at every epoch the output
 * accumulated there must equal the naive join of the inputs accumulated
 * there. Also: a self-join (one arrangement read twice), and a join whose
 * inputs progress at very different rates (one input changes only early).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_coll.h"
#include "tide/collection.h"

static void pair_fn(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *v1, uint32_t l1,
                    const uint8_t *v2, uint32_t l2, tide_emitter *em)
{
    uint8_t v[8];
    tide_u64_store(v, tide_u64_load(v1) << 32 | tide_u64_load(v2));
    tide_emit(em, key, klen, v, 8);
}

static uint64_t pair_naive(uint64_t k, uint64_t v1, uint64_t v2)
{
    return v1 << 32 | v2;
}
static uint64_t first_naive(uint64_t k, uint64_t v1, uint64_t v2)
{
    return v1;
}

static tide_stream *build_join(void *ctx, tide_scope *root, tide_stream **ins)
{
    tide_arranged *a = tide_arrange(ins[0], "A");
    tide_arranged *b = tide_arrange(ins[1], "B");
    return tide_join(a, b, "join", tide_layout_make(8, 8), pair_fn, NULL);
}

static void oracle_join(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    naive_join(in[0], in[1], pair_naive, out);
}

static void nop(void *ctx, const tide_batch *b) {}

static tide_stream *build_self2(void *ctx, tide_scope *root, tide_stream **ins)
{
    tide_arranged *a = tide_arrange(ins[0], "A");
    tide_sink(tide_arranged_stream(a), TIDE_PIPELINE, nop, NULL);
    return tide_join(a, a, "self", tide_layout_make(8, 8), pair_fn, NULL);
}

static void oracle_self(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    naive_join(in[0], in[0], pair_naive, out);
}

static tide_stream *build_semi(void *ctx, tide_scope *root, tide_stream **ins)
{
    return tide_semijoin(ins[0], tide_arrange(ins[1], "keys"));
}

static tide_stream *build_anti(void *ctx, tide_scope *root, tide_stream **ins)
{
    return tide_antijoin(ins[0], tide_arrange(ins[1], "keys"));
}

/* semijoin scales by the key's multiplicity (keys are usually distinct). */
static void oracle_semi(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    naive_join(in[0], in[1], first_naive, out);
}

static void oracle_anti(void *ctx, const naive_coll *const *in, naive_coll *out)
{
    naive_join(in[0], in[1], first_naive, out);
    for (size_t i = 0; i < out->len; i++) out->u[i].d = -out->u[i].d;
    for (size_t i = 0; i < in[0]->len; i++)
        naive_coll_add(out, in[0]->u[i].k, in[0]->u[i].v, TIDE_TIME_ZERO, in[0]->u[i].d);
    naive_coll_consolidate(out);
}

static void run(const char *name, uint64_t salt, uint32_t nin, naive_gen g0, naive_gen g1,
                uint32_t vw1, naive_build_fn build, naive_oracle_fn oracle)
{
    char why[1400];
    cr_assert(naive_run_checked(name, salt, nin, g0, g1, vw1, build, oracle, why, sizeof why), "%s",
              why);
}

static const naive_gen small = {
    .updates = 800, .epochs = 8, .keys = 40, .vals = 6, .groups = 3, .retract = 35};

Test(join_oracle, many_to_many_with_retractions)
{
    run("join", 11, 2, small, small, 8, build_join, oracle_join);
}

Test(join_oracle, skewed_rates)
{
    /* Input B changes only in its first few epochs, A throughout. */
    naive_gen gb = small;
    gb.updates = 300;
    gb.epochs = 2;
    run("join_skewed", 12, 2, small, gb, 8, build_join, oracle_join);
}

Test(join_oracle, self_join)
{
    run("self_join", 13, 1, small, small, 8, build_self2, oracle_self);
}

Test(join_oracle, semijoin)
{
    naive_gen gk = small;
    gk.vals = 0;
    run("semijoin", 14, 2, small, gk, 0, build_semi, oracle_semi);
}

Test(join_oracle, antijoin)
{
    naive_gen gk = small;
    gk.vals = 0;
    run("antijoin", 15, 2, small, gk, 0, build_anti, oracle_anti);
}
