/*
 * test_datalog_drop.c - unregister-query drops the query's dataflow on
 * every worker (tide_dataflow_drop): re-registering the same name gives the
 * answer of the data at that time (checked against a naive transitive
 * closure computed here), tide's live memory comes back to its level before
 * the registrations, and a query read by another one stays until its last
 * reader is unregistered. W=1 and W=2, in process (the engine is linked in).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/datalog/engine.h"
#include "../../apps/datalog/val.h"
#include "tide/alloc.h"
#include "tide/tide.h"
#include "tide_test.h"

#define NODES 8
#define EDGES 14

typedef struct dcase {
    uint64_t seed;
    int src[EDGES + 1], dst[EDGES + 1];
    bool gone[EDGES + 1];   /* retracted before the re-registration (the last: added later) */
    long long grew, leaked; /* worker 0: bytes of one registration, left after 8 cycles */
    bool ok;
    pthread_barrier_t quiet; /* all workers between steps while worker 0 measures */
} dcase;

static edn *parse(const char *s)
{
    char err[256];
    edn *x = edn_parse_one(s, strlen(s), err, sizeof err);
    cr_assert(x, "%s: %s", s, err);
    return x;
}

/* The naive closure of the live edges: reach[x][y]. */
static void closure(const dcase *c, const bool *gone, bool reach[NODES][NODES])
{
    memset(reach, 0, sizeof(bool) * NODES * NODES);
    for (int i = 0; i <= EDGES; i++)
        if (!gone[i]) reach[c->src[i]][c->dst[i]] = true;
    for (int k = 0; k < NODES; k++)
        for (int x = 0; x < NODES; x++)
            for (int y = 0; y < NODES; y++)
                if (reach[x][k] && reach[k][y]) reach[x][y] = true;
}

/* Worker 0 keeps each query's current answer (g->keep_state): compare it
 * with the closure, tuple by tuple. */
static bool same_answer(const dl_query *q, const dcase *c, const bool *gone)
{
    bool want[NODES][NODES], got[NODES][NODES] = {{false}};
    closure(c, gone, want);
    size_t nwant = 0;
    for (int x = 0; x < NODES; x++)
        for (int y = 0; y < NODES; y++) nwant += want[x][y];
    if (q->state.n != nwant) {
        fprintf(stderr, "%s: %zu tuples, want %zu\n", q->name, q->state.n, nwant);
        return false;
    }
    for (size_t i = 0; i < q->state.n; i++) {
        const uint8_t *t = q->state.d[i].tuple;
        if (q->state.d[i].len != 18 || t[0] != VT_INT || t[9] != VT_INT || q->state.d[i].diff != 1)
            return false;
        int64_t x = tide_i64_load(t + 1), y = tide_i64_load(t + 10);
        if (x < 0 || x >= NODES || y < 0 || y >= NODES || !want[x][y] || got[x][y]) return false;
        got[x][y] = true;
    }
    return true;
}

static const char *QUERY = "[:find ?x ?y :where (r ?x ?y)]";
static const char *RULES = "[[(r ?x ?y) [?x :g/edge ?y]] [(r ?x ?z) (r ?x ?y) [?y :g/edge ?z]]]";

static dl_query *named(dl_engine *g, const char *name)
{
    for (int i = g->nqueries - 1; i >= 0; i--)
        if (!strcmp(g->queries[i]->name, name)) return g->queries[i];
    return NULL;
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "worker %u: line %d: %s failed (%s)\n", tide_worker_index(w),          \
                    __LINE__, #cond, err);                                                         \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* tide's live bytes with every worker stopped between steps. */
static long long live_bytes(dcase *c)
{
    pthread_barrier_wait(&c->quiet);
    long long b = tide_alloc_live_bytes();
    pthread_barrier_wait(&c->quiet);
    return b;
}

static int drop_main(tide_worker *w, void *arg)
{
    dcase *c = arg;
    bool lead = tide_worker_index(w) == 0;
    dl_engine g;
    char err[512] = "";
    int rc = TIDE_EINVAL;
    edn *schema = parse("{:g/edge {:db/valueType :Eid}}");
    edn *q = parse(QUERY), *rules = parse(RULES);
    edn *q2 = parse("[:find ?x :where (reach ?x 0)]");
    if (dl_engine_init(&g, w) < 0) return TIDE_ENOMEM;
    g.keep_state = true;
    g.out = NULL;
    CHECK(dl_engine_create(&g, schema, err, sizeof err) == 0);
    int64_t e[EDGES], v[EDGES];
    int d[EDGES];
    for (int i = 0; i < EDGES; i++) e[i] = c->src[i], v[i] = c->dst[i], d[i] = 1;
    CHECK(dl_engine_transact_ints(&g, 0, e, v, d, EDGES) == 0);

    /* 1. register, unregister, re-register after a change */
    CHECK(dl_engine_register(&g, "reach", q, rules, err, sizeof err) == 0);
    bool none[EDGES + 1] = {false};
    none[EDGES] = true;
    if (lead) CHECK(same_answer(named(&g, "reach"), c, none));
    CHECK(dl_engine_unregister(&g, "reach", err, sizeof err) == 0);
    CHECK(named(&g, "reach")->df == NULL && !named(&g, "reach")->active);
    int ngone = 0;
    for (int i = 0; i < EDGES; i++)
        if (c->gone[i]) e[ngone] = c->src[i], v[ngone] = c->dst[i], d[ngone++] = -1;
    CHECK(dl_engine_transact_ints(&g, 0, e, v, d, (size_t)ngone) == 0);
    CHECK(dl_engine_register(&g, "reach", q, rules, err, sizeof err) == 0);
    if (lead) CHECK(same_answer(named(&g, "reach"), c, c->gone));
    CHECK(dl_engine_unregister(&g, "reach", err, sizeof err) == 0);

    /* 2. memory: one registration's footprint, then 8 cycles */
    long long m0 = live_bytes(c);
    CHECK(dl_engine_register(&g, "reach", q, rules, err, sizeof err) == 0);
    long long m1 = live_bytes(c);
    CHECK(dl_engine_unregister(&g, "reach", err, sizeof err) == 0);
    for (int k = 0; k < 7; k++) {
        CHECK(dl_engine_register(&g, "reach", q, rules, err, sizeof err) == 0);
        CHECK(dl_engine_unregister(&g, "reach", err, sizeof err) == 0);
    }
    long long m2 = live_bytes(c);
    if (lead) c->grew = m1 - m0, c->leaked = m2 - m0;

    /* 3. a query read by another stays until its last reader goes */
    CHECK(dl_engine_register(&g, "reach", q, rules, err, sizeof err) == 0);
    CHECK(dl_engine_register(&g, "to0", q2, NULL, err, sizeof err) == 0);
    CHECK(dl_engine_unregister(&g, "reach", err, sizeof err) == 0);
    CHECK(named(&g, "reach")->df != NULL);                                  /* kept for to0 */
    CHECK(dl_engine_unregister(&g, "reach", err, sizeof err) == DL_REJECT); /* no longer a name */
    int z = 0;
    for (int i = 0; i < EDGES; i++)
        if (!c->gone[i] && c->dst[i] == 0) z = c->src[i];
    e[0] = NODES - 1, v[0] = z, d[0] = 1; /* NODES-1 now reaches 0 (if anything does) */
    CHECK(dl_engine_transact_ints(&g, 0, e, v, d, 1) == 0);
    if (lead) {
        /* to0's answer: the nodes that reach 0, naively */
        c->src[EDGES] = NODES - 1, c->dst[EDGES] = z; /* nobody else reads them */
        bool now[EDGES + 1], want[NODES][NODES];
        memcpy(now, c->gone, sizeof now);
        now[EDGES] = false;
        closure(c, now, want);
        const dl_query *t = named(&g, "to0");
        size_t n = 0;
        for (int x = 0; x < NODES; x++) n += want[x][0];
        CHECK(t->state.n == n);
        for (size_t i = 0; i < t->state.n; i++)
            CHECK(want[tide_i64_load(t->state.d[i].tuple + 1)][0]);
    }
    CHECK(dl_engine_unregister(&g, "to0", err, sizeof err) == 0);
    CHECK(named(&g, "reach")->df == NULL && named(&g, "to0")->df == NULL);
    CHECK(dl_engine_close(&g) == 0);
    if (lead) c->ok = true;
    rc = 0;
out:
    dl_engine_fini(&g);
    edn_free(schema);
    edn_free(q);
    edn_free(rules);
    edn_free(q2);
    return rc;
}

static void drop_case(int workers)
{
    dcase c = {.seed = tide_test_seed("datalog_drop", (uint64_t)workers)};
    tide_rng r = {c.seed};
    for (int i = 0; i < EDGES; i++) {
        c.src[i] = (int)tide_rng_below(&r, NODES);
        c.dst[i] = (int)tide_rng_below(&r, NODES);
        c.gone[i] = tide_rng_below(&r, 4) == 0;
    }
    c.gone[EDGES] = true;
    pthread_barrier_init(&c.quiet, NULL, (unsigned)workers);
    TIDE_TEST_EXECUTE(workers, drop_main, &c);
    pthread_barrier_destroy(&c.quiet);
    dl_keep_free();
    cr_assert(c.ok);
    fprintf(stderr, "datalog_drop w=%d: registration_bytes=%lld after_8_cycles_bytes=%lld\n",
            workers, c.grew, c.leaked);
    /* a registration costs tide memory; eight cycles leave less than an eighth of one */
    cr_assert_gt(c.grew, 20000, "one registration took only %lld bytes", c.grew);
    cr_assert_lt(c.leaked, c.grew / 8, "8 register/unregister cycles left %lld bytes (one: %lld)",
                 c.leaked, c.grew);
}

Test(datalog_drop, w1)
{
    drop_case(1);
}

Test(datalog_drop, w2)
{
    drop_case(2);
}
