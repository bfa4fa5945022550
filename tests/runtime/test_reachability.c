/*
 * test_reachability.c - path summaries and progress tracking vs the oracle.
 *
 * The randomised tests build a few hundred random graphs (10-30 nodes,
 * random ports and edges, cycles that always pass through a "feedback" node
 * adding >= 1 to coordinate 0 or 1, resets of deeper coordinates, several
 * summaries per port pair), then move pointstamps around at random and after
 * every propagate compare each target's frontier with tests/support/
 * naive_reach.c, replay the reported changes, walk random paths to check
 * safety directly, and finally retract everything to check liveness.
 *
 * Why the generator keeps cycles sane: coordinate 0 is never reset, and
 * coordinate 1 is reset only by feedback nodes that add to coordinate 0.
 * Every cycle contains a back edge, back edges leave only feedback nodes, so
 * every cycle adds >= 1 to a coordinate nothing on it resets.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "naive_reach.h"
#include "reachability.h"
#include "tide/alloc.h"
#include "tide/error.h"
#include "tide/time.h"
#include "tide_test.h"

static tide_time tm(uint64_t e, uint32_t i, uint32_t j)
{
    return (tide_time){e, {i, j}};
}

static tide_summary sum(uint8_t reset, uint64_t a0, uint64_t a1, uint64_t a2)
{
    return (tide_summary){{a0, a1, a2}, reset};
}

static const char *fmt(tide_time t)
{
    static char buf[4][64];
    static int k;
    k = (k + 1) & 3;
    return tide_time_fmt(t, buf[k], sizeof buf[k]);
}

static bool has(const tide_antichain *a, tide_time t)
{
    for (uint32_t i = 0; i < a->len; i++)
        if (tide_time_eq(a->elems[i], t)) return true;
    return false;
}

static bool frontier_is(const tide_antichain *a, const tide_time *ts, uint32_t n)
{
    if (a->len != n) return false;
    for (uint32_t i = 0; i < n; i++)
        if (!has(a, ts[i])) return false;
    return true;
}

/* ======================== The hand-built loop ======================== */

/*
 * A loop, as a scope would build it (coordinate 1 is the loop counter):
 *
 *   input(0) --> enter(1) --> body(2) in0 --+--> leave(4) --> probe(5)
 *                             body(2) in1 <-+
 *                                  ^        |
 *                                  +-- feedback(3): +1 on coordinate 1
 *
 * enter is the identity, leave resets coordinate 1, the body passes both
 * inputs through unchanged. With a capability at (0,0,0) on the input, the
 * probe sees {(0,0,0)}. The input then downgrades to (1,0,0) while a
 * message at (0,3,0) waits at the body: the message may still leave the
 * loop as (0,0,0), so the probe keeps {(0,0,0)}, and the feedback edge into
 * the body may see (0,4,0) (from the message) or (1,1,0) (from epoch 1). Once the message is
 * consumed without output, only the capability at epoch 1 remains and the probe moves to {(1,0,0)}.
 */
enum { N_INPUT, N_ENTER, N_BODY, N_FEEDBACK, N_LEAVE, N_PROBE };

static tide__tracker *build_loop(tide__reach_builder *b)
{
    tide__reach_builder_init(b);
    cr_assert_eq(tide__reach_add_node(b, N_INPUT, 0, 1), TIDE_OK);
    cr_assert_eq(tide__reach_add_node(b, N_ENTER, 1, 1), TIDE_OK);
    cr_assert_eq(tide__reach_add_node(b, N_BODY, 2, 1), TIDE_OK);
    cr_assert_eq(tide__reach_add_node(b, N_FEEDBACK, 1, 1), TIDE_OK);
    cr_assert_eq(tide__reach_add_node(b, N_LEAVE, 1, 1), TIDE_OK);
    cr_assert_eq(tide__reach_add_node(b, N_PROBE, 1, 0), TIDE_OK);
    tide__reach_add_summary(b, N_ENTER, 0, 0, TIDE_SUMMARY_IDENTITY);
    tide__reach_add_summary(b, N_BODY, 0, 0, TIDE_SUMMARY_IDENTITY);
    tide__reach_add_summary(b, N_BODY, 1, 0, TIDE_SUMMARY_IDENTITY);
    tide__reach_add_summary(b, N_FEEDBACK, 0, 0, sum(0, 0, 1, 0));
    tide__reach_add_summary(b, N_LEAVE, 0, 0, sum(1u << 1, 0, 0, 0));
    tide__reach_add_edge(b, N_INPUT, 0, N_ENTER, 0);
    tide__reach_add_edge(b, N_ENTER, 0, N_BODY, 0);
    tide__reach_add_edge(b, N_BODY, 0, N_FEEDBACK, 0);
    tide__reach_add_edge(b, N_FEEDBACK, 0, N_BODY, 1);
    tide__reach_add_edge(b, N_BODY, 0, N_LEAVE, 0);
    tide__reach_add_edge(b, N_LEAVE, 0, N_PROBE, 0);
    tide_error e = {0};
    tide__tracker *t = tide__tracker_new(b, &e);
    cr_assert_not_null(t, "%s", e.msg);
    return t;
}

Test(tracker, loop_example)
{
    tide__reach_builder b;
    tide__tracker *t = build_loop(&b);
    const tide_antichain *probe = tide__tracker_frontier(t, N_PROBE, 0);
    cr_assert(tide__tracker_is_idle(t));

    tide__tracker_update_source(t, N_INPUT, 0, tm(0, 0, 0), 1);
    cr_assert_not(tide__tracker_is_idle(t), "queued work is not idle");
    cr_assert_eq(tide__tracker_propagate(t), TIDE_OK);
    cr_assert(frontier_is(probe, (tide_time[]){tm(0, 0, 0)}, 1));
    cr_assert(frontier_is(tide__tracker_frontier(t, N_BODY, 1), (tide_time[]){tm(0, 1, 0)}, 1));
    uint32_t n;
    tide__tracker_changes(t, &n);
    cr_assert_eq(n, 6, "one new frontier element per target");

    tide__tracker_update_source(t, N_INPUT, 0, tm(1, 0, 0), 1);
    tide__tracker_update_source(t, N_INPUT, 0, tm(0, 0, 0), -1);
    tide__tracker_update_target(t, N_BODY, 0, tm(0, 3, 0), 1);
    cr_assert_eq(tide__tracker_propagate(t), TIDE_OK);
    cr_assert(frontier_is(probe, (tide_time[]){tm(0, 0, 0)}, 1), "probe: %s",
              probe->len ? fmt(probe->elems[0]) : "{}");
    cr_assert(frontier_is(tide__tracker_frontier(t, N_BODY, 0),
                          (tide_time[]){tm(0, 3, 0), tm(1, 0, 0)}, 2));
    cr_assert(frontier_is(tide__tracker_frontier(t, N_BODY, 1),
                          (tide_time[]){tm(0, 4, 0), tm(1, 1, 0)}, 2));

    tide__tracker_update_target(t, N_BODY, 0, tm(0, 3, 0), -1);
    cr_assert_eq(tide__tracker_propagate(t), TIDE_OK);
    cr_assert(frontier_is(probe, (tide_time[]){tm(1, 0, 0)}, 1));
    const tide__frontier_change *ch = tide__tracker_changes(t, &n);
    bool saw_drop = false, saw_rise = false;
    for (uint32_t i = 0; i < n; i++) {
        if (ch[i].node != N_PROBE) continue;
        saw_drop |= tide_time_eq(ch[i].time, tm(0, 0, 0)) && ch[i].delta == -1;
        saw_rise |= tide_time_eq(ch[i].time, tm(1, 0, 0)) && ch[i].delta == 1;
    }
    cr_assert(saw_drop && saw_rise);

    tide__tracker_update_source(t, N_INPUT, 0, tm(1, 0, 0), -1);
    cr_assert_eq(tide__tracker_propagate(t), TIDE_OK);
    cr_assert_eq(probe->len, 0);
    cr_assert(tide__tracker_is_idle(t));
    tide__tracker_free(t);
    tide__reach_builder_fini(&b);
}

Test(tracker, loop_summaries)
{
    tide__reach_builder b;
    tide__tracker *t = build_loop(&b);
    const tide_summary_set *s = tide__tracker_summaries(t, N_BODY, 0, N_BODY, 1);
    cr_assert_eq(s->len, 1);
    cr_assert(tide_summary_eq(s->elems[0], sum(0, 0, 1, 0)));
    s = tide__tracker_summaries(t, N_INPUT, 0, N_PROBE, 0);
    cr_assert_eq(s->len, 1);
    cr_assert(tide_summary_eq(s->elems[0], sum(1u << 1, 0, 0, 0)));
    /* Around the loop to the body's first input: impossible. */
    cr_assert_eq(tide__tracker_summaries(t, N_BODY, 0, N_BODY, 0)->len, 0);
    cr_assert_eq(tide__tracker_summaries(t, N_PROBE, 0, N_BODY, 0)->len, 0, "no such port");
    cr_assert_eq(tide__tracker_summaries(t, 99, 0, N_BODY, 0)->len, 0, "no such node");
    tide__tracker_free(t);
    tide__reach_builder_fini(&b);
}

/* One worker step of the loop: the input advances an epoch while a message
 * circulates once around the body. */
static void loop_round(tide__tracker *t, uint64_t e)
{
    cr_assert_eq(tide__tracker_update_source(t, N_INPUT, 0, tm(e + 1, 0, 0), 1), TIDE_OK);
    cr_assert_eq(tide__tracker_update_source(t, N_INPUT, 0, tm(e, 0, 0), -1), TIDE_OK);
    cr_assert_eq(tide__tracker_update_target(t, N_BODY, 0, tm(e, 0, 0), 1), TIDE_OK);
    cr_assert_eq(tide__tracker_propagate(t), TIDE_OK);
    cr_assert_eq(tide__tracker_update_target(t, N_BODY, 0, tm(e, 0, 0), -1), TIDE_OK);
    cr_assert_eq(tide__tracker_update_target(t, N_BODY, 1, tm(e, 1, 0), 1), TIDE_OK);
    cr_assert_eq(tide__tracker_propagate(t), TIDE_OK);
    cr_assert_eq(tide__tracker_update_target(t, N_BODY, 1, tm(e, 1, 0), -1), TIDE_OK);
    cr_assert_eq(tide__tracker_propagate(t), TIDE_OK);
}

Test(tracker, warm_propagate_does_not_allocate)
{
    tide__reach_builder b;
    tide__tracker *t = build_loop(&b);
    tide__tracker_update_source(t, N_INPUT, 0, tm(0, 0, 0), 1);
    uint64_t e = 0;
    for (; e < 100; e++) loop_round(t, e);
    /* Any allocation from here on fails, and propagate would report it. */
    long before = tide_alloc_failures();
    tide_alloc_fail_after(1);
    for (; e < 2000; e++) loop_round(t, e);
    tide_alloc_fail_after(0);
    cr_assert_eq(tide_alloc_failures(), before);
    cr_assert(frontier_is(tide__tracker_frontier(t, N_PROBE, 0), (tide_time[]){tm(e, 0, 0)}, 1));
    tide__tracker_free(t);
    tide__reach_builder_fini(&b);
}

Test(tracker, rejects_bad_ports)
{
    tide__reach_builder b;
    tide__reach_builder_init(&b);
    cr_assert_eq(tide__reach_add_node(&b, 1, 1, 1), TIDE_EINVAL, "nodes are dense");
    cr_assert_eq(tide__reach_add_node(&b, 0, 1, 1), TIDE_OK);
    cr_assert_eq(tide__reach_add_summary(&b, 0, 1, 0, TIDE_SUMMARY_IDENTITY), TIDE_EINVAL);
    cr_assert_eq(tide__reach_add_summary(&b, 1, 0, 0, TIDE_SUMMARY_IDENTITY), TIDE_EINVAL);
    cr_assert_eq(tide__reach_add_edge(&b, 0, 0, 0, 3), TIDE_OK, "checked when building");
    tide_error e = {0};
    cr_assert_null(tide__tracker_new(&b, &e));
    cr_assert_eq(e.code, TIDE_EINVAL);
    cr_assert(strstr(e.msg, "edge 0") != NULL, "%s", e.msg);
    tide__reach_builder_fini(&b);

    tide__reach_builder_init(&b);
    tide__reach_add_node(&b, 0, 1, 1);
    tide__tracker *t = tide__tracker_new(&b, NULL);
    cr_assert_not_null(t);
    cr_assert_eq(tide__tracker_update_source(t, 0, 1, tm(0, 0, 0), 1), TIDE_EINVAL);
    cr_assert_eq(tide__tracker_update_target(t, 1, 0, tm(0, 0, 0), 1), TIDE_EINVAL);
    cr_assert_eq(tide__tracker_frontier(t, 0, 5)->len, 0);
    cr_assert(tide__tracker_is_idle(t));
    tide__tracker_free(t);
    tide__tracker_free(NULL);
    tide__reach_builder_fini(&b);
}

Test(tracker, empty_graph)
{
    tide__reach_builder b;
    tide__reach_builder_init(&b);
    tide__tracker *t = tide__tracker_new(&b, NULL);
    cr_assert_not_null(t);
    cr_assert_eq(tide__tracker_propagate(t), TIDE_OK);
    uint32_t n = 1;
    tide__tracker_changes(t, &n);
    cr_assert_eq(n, 0);
    cr_assert(tide__tracker_is_idle(t));
    tide__tracker_free(t);
    tide__reach_builder_fini(&b);
}

Test(tracker, new_fails_cleanly_on_every_allocation)
{
    tide__reach_builder b;
    tide__tracker *t = build_loop(&b);
    tide__tracker_free(t);
    long n;
    for (n = 1; n < 10000; n++) {
        tide_error e = {0};
        tide_alloc_fail_after(n);
        t = tide__tracker_new(&b, &e);
        tide_alloc_fail_after(0);
        if (t) break;
        cr_assert_eq(e.code, TIDE_ENOMEM, "allocation %ld", n);
    }
    cr_assert_not_null(t);
    cr_assert_gt(n, 5);
    tide__tracker_free(t);
    tide__reach_builder_fini(&b);
}

/* ======================== Random graphs ======================== */

static tide_summary gen_summary(tide_rng *r, bool feedback)
{
    tide_summary s = TIDE_SUMMARY_IDENTITY;
    if (feedback) {
        int k = (int)tide_rng_below(r, 2);
        s.add[k] = 1 + tide_rng_below(r, 2);
        if (tide_rng_below(r, 3) == 0) s.reset |= 1u << 2;
        if (k == 0 && tide_rng_below(r, 3) == 0) s.reset |= 1u << 1;
        if (tide_rng_below(r, 4) == 0) s.add[2] += tide_rng_below(r, 2);
        return s;
    }
    switch (tide_rng_below(r, 7)) {
    case 0:
    case 1:
    case 2:
        break;
    case 3:
        s.add[1 + tide_rng_below(r, 2)] = 1 + tide_rng_below(r, 2);
        break;
    case 4:
        s.reset = 1u << 2;
        break;
    case 5:
        s.reset = 1u << 2;
        s.add[2] = 1 + tide_rng_below(r, 2);
        break;
    default:
        s.add[0] = 1;
        break;
    }
    return s;
}

static void gen_graph(tide_rng *r, tide__reach_builder *b)
{
    tide__reach_builder_init(b);
    uint32_t nn = 10 + (uint32_t)tide_rng_below(r, 21);
    bool fb[32];
    for (uint32_t n = 0; n < nn; n++) {
        fb[n] = tide_rng_below(r, 4) == 0;
        uint32_t nin = (uint32_t)tide_rng_below(r, 4), nout = (uint32_t)tide_rng_below(r, 4);
        if (n == 0) nin = 0, nout = 1 + nout % 2; /* an input, like the runtime's */
        cr_assert_eq(tide__reach_add_node(b, n, nin, nout), TIDE_OK);
        for (uint32_t i = 0; i < nin; i++)
            for (uint32_t o = 0; o < nout; o++) {
                if (tide_rng_below(r, 10) >= 7) continue;
                uint32_t k = tide_rng_below(r, 3) ? 1 : 2 + (uint32_t)tide_rng_below(r, 2);
                for (uint32_t j = 0; j < k; j++)
                    cr_assert_eq(tide__reach_add_summary(b, n, i, o, gen_summary(r, fb[n])),
                                 TIDE_OK);
            }
    }
    for (uint32_t n = 0; n < nn; n++)
        for (uint32_t o = 0; o < b->nodes[n].noutputs; o++) {
            uint32_t m = (uint32_t)tide_rng_below(r, 3) + fb[n];
            for (uint32_t j = 0; j < m; j++) {
                /* Forward edges from anyone; back edges only from feedback. */
                uint32_t lo = fb[n] ? 0 : n + 1;
                if (lo >= nn) break;
                uint32_t dst = lo + (uint32_t)tide_rng_below(r, nn - lo);
                if (b->nodes[dst].ninputs == 0) continue;
                uint32_t port = (uint32_t)tide_rng_below(r, b->nodes[dst].ninputs);
                cr_assert_eq(tide__reach_add_edge(b, n, o, dst, port), TIDE_OK);
            }
        }
}

static tide_time gen_time(tide_rng *r)
{
    tide_time t =
        tm(tide_rng_below(r, 4), (uint32_t)tide_rng_below(r, 4), (uint32_t)tide_rng_below(r, 4));
    /* Near the top of the epoch range paths overflow and must be dropped.
     * (Only the epoch: nothing resets it, and summary composition forgets
     * an overflow that a later reset hides, conservatively.) */
    if (tide_rng_below(r, 25) == 0) t.epoch = UINT64_MAX - tide_rng_below(r, 3);
    return t;
}

/* The model: every pointstamp's count, as the oracle wants them. */
typedef struct model {
    naive_pointstamp *ps;
    size_t len, cap;
} model;

static void model_add(model *m, uint32_t node, uint32_t port, bool source, tide_time t, int64_t d)
{
    for (size_t i = 0; i < m->len; i++) {
        naive_pointstamp *p = &m->ps[i];
        if (p->node == node && p->port == port && p->source == source && tide_time_eq(p->time, t)) {
            p->count += d;
            return;
        }
    }
    if (m->len == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->ps = realloc(m->ps, m->cap * sizeof *m->ps);
        cr_assert_not_null(m->ps);
    }
    m->ps[m->len++] = (naive_pointstamp){node, port, source, t, d};
}

/* A random positive pointstamp, or NULL. */
static naive_pointstamp *model_pick(model *m, tide_rng *r)
{
    size_t npos = 0;
    for (size_t i = 0; i < m->len; i++) npos += m->ps[i].count > 0;
    if (npos == 0) return NULL;
    size_t k = tide_rng_below(r, npos);
    for (size_t i = 0; i < m->len; i++)
        if (m->ps[i].count > 0 && k-- == 0) return &m->ps[i];
    return NULL;
}

static void update(tide__tracker *t, model *m, uint32_t node, uint32_t port, bool source,
                   tide_time time, int64_t d, bool track)
{
    int rc = source ? tide__tracker_update_source(t, node, port, time, d)
                    : tide__tracker_update_target(t, node, port, time, d);
    cr_assert_eq(rc, TIDE_OK);
    if (track) model_add(m, node, port, source, time, d);
}

/* A random existing port: (node, port, source). */
static bool random_port(tide_rng *r, const tide__reach_builder *b, uint32_t *node, uint32_t *port,
                        bool *source)
{
    for (int tries = 0; tries < 100; tries++) {
        uint32_t n = (uint32_t)tide_rng_below(r, b->nnodes);
        bool s = tide_rng_below(r, 2);
        uint32_t np = s ? b->nodes[n].noutputs : b->nodes[n].ninputs;
        if (np == 0) continue;
        *node = n;
        *port = (uint32_t)tide_rng_below(r, np);
        *source = s;
        return true;
    }
    return false;
}

/* Per-target replay of the reported frontier changes. */
typedef struct replay {
    tide_time_delta *u;
    size_t len, cap;
} replay;

static void replay_add(replay *rp, tide_time t, int64_t d)
{
    for (size_t i = 0; i < rp->len; i++)
        if (tide_time_eq(rp->u[i].time, t)) {
            rp->u[i].delta += d;
            return;
        }
    if (rp->len == rp->cap) {
        rp->cap = rp->cap ? rp->cap * 2 : 8;
        rp->u = realloc(rp->u, rp->cap * sizeof *rp->u);
        cr_assert_not_null(rp->u);
    }
    rp->u[rp->len++] = (tide_time_delta){t, d};
}

typedef struct ctx {
    tide__reach_builder b;
    tide__tracker *t;
    model m;
    uint32_t nt;
    tide_antichain *expect; /* per target: the oracle's frontier */
    replay *rp;             /* per target */
    uint32_t *tnode, *tport;
    int graph, round;
} ctx;

static void check(ctx *c, tide_rng *r)
{
    uint32_t nch;
    const tide__frontier_change *ch = tide__tracker_changes(c->t, &nch);
    for (uint32_t i = 0; i < nch; i++) {
        cr_assert(ch[i].delta == 1 || ch[i].delta == -1);
        replay_add(&c->rp[naive_reach_target_index(&c->b, ch[i].node, ch[i].port)], ch[i].time,
                   ch[i].delta);
    }
    cr_assert_eq(naive_reach_frontiers(&c->b, c->m.ps, c->m.len, c->expect), 0);
    bool any_positive = false;
    for (size_t i = 0; i < c->m.len; i++) any_positive |= c->m.ps[i].count > 0;
    cr_assert_eq(tide__tracker_is_idle(c->t), !any_positive, "graph %d round %d", c->graph,
                 c->round);

    for (uint32_t T = 0; T < c->nt; T++) {
        const tide_antichain *f = tide__tracker_frontier(c->t, c->tnode[T], c->tport[T]);
        if (!tide_antichain_eq(f, &c->expect[T])) {
            fprintf(stderr, "graph %d round %d target (%u,%u): tracker {", c->graph, c->round,
                    c->tnode[T], c->tport[T]);
            for (uint32_t i = 0; i < f->len; i++) fprintf(stderr, " %s", fmt(f->elems[i]));
            fprintf(stderr, " } oracle {");
            for (uint32_t i = 0; i < c->expect[T].len; i++)
                fprintf(stderr, " %s", fmt(c->expect[T].elems[i]));
            fprintf(stderr, " }\n");
            tide__tracker_dump(c->t);
            cr_assert_fail("frontier differs from the oracle");
        }
        /* The accumulated changes are exactly the frontier. */
        uint32_t ones = 0;
        for (size_t i = 0; i < c->rp[T].len; i++) {
            int64_t d = c->rp[T].u[i].delta;
            cr_assert(d == 0 || d == 1, "graph %d round %d: replay count %lld", c->graph, c->round,
                      (long long)d);
            if (d == 1) {
                ones++;
                cr_assert(has(f, c->rp[T].u[i].time), "graph %d round %d", c->graph, c->round);
            }
        }
        cr_assert_eq(ones, f->len, "graph %d round %d", c->graph, c->round);
    }

    /* Safety, directly: anything that can still arrive somewhere is at or
     * beyond that target's frontier. Random walks from live pointstamps. */
    for (int w = 0; w < 6; w++) {
        naive_pointstamp *p = model_pick(&c->m, r);
        if (p == NULL) break;
        uint32_t node = p->node, port = p->port;
        bool source = p->source;
        tide_time time = p->time;
        for (int step = 0; step < 30; step++) {
            if (!source)
                cr_assert(tide_antichain_less_equal(tide__tracker_frontier(c->t, node, port), time),
                          "graph %d round %d: %s can reach (%u,%u) beyond its frontier", c->graph,
                          c->round, fmt(time), node, port);
            if (!naive_reach_step(&c->b, r, &node, &port, &source, &time)) break;
        }
    }
}

/* S(source, target) applied to t equals what the oracle finds from (source, t). */
static void check_summaries(ctx *c, tide_rng *r)
{
    tide_antichain got;
    tide_antichain_init(&got);
    for (int k = 0; k < 4; k++) {
        uint32_t node, port;
        bool source;
        if (!random_port(r, &c->b, &node, &port, &source) || !source) continue;
        naive_pointstamp p = {node, port, true, gen_time(r), 1};
        cr_assert_eq(naive_reach_frontiers(&c->b, &p, 1, c->expect), 0);
        for (uint32_t T = 0; T < c->nt; T++) {
            const tide_summary_set *s =
                tide__tracker_summaries(c->t, node, port, c->tnode[T], c->tport[T]);
            tide_antichain_clear(&got);
            for (uint32_t j = 0; j < s->len; j++) {
                tide_time out;
                if (tide_summary_apply(s->elems[j], p.time, &out))
                    cr_assert_geq(tide_antichain_insert(&got, out), 0);
            }
            cr_assert(tide_antichain_eq(&got, &c->expect[T]), "graph %d: S(%u.%u -> %u.%u)",
                      c->graph, node, port, c->tnode[T], c->tport[T]);
        }
    }
    tide_antichain_fini(&got);
}

static void run_graph(tide_rng *r, int graph)
{
    ctx c = {0};
    c.graph = graph;
    gen_graph(r, &c.b);
    tide_error e = {0};
    c.t = tide__tracker_new(&c.b, &e);
    cr_assert_not_null(c.t, "graph %d: %s", graph, e.msg);
    c.nt = naive_reach_ntargets(&c.b);
    c.expect = calloc(c.nt + 1, sizeof *c.expect);
    c.rp = calloc(c.nt + 1, sizeof *c.rp);
    c.tnode = calloc(c.nt + 1, sizeof *c.tnode);
    c.tport = calloc(c.nt + 1, sizeof *c.tport);
    for (uint32_t n = 0, T = 0; n < c.b.nnodes; n++)
        for (uint32_t i = 0; i < c.b.nodes[n].ninputs; i++, T++) c.tnode[T] = n, c.tport[T] = i;

    check_summaries(&c, r);

    uint32_t rounds = 6 + (uint32_t)tide_rng_below(r, 10);
    for (c.round = 0; c.round < (int)rounds; c.round++) {
        uint32_t nupd = 1 + (uint32_t)tide_rng_below(r, 6);
        struct {
            uint32_t node, port;
            bool source;
            tide_time t;
        } later[8];
        uint32_t nlater = 0;
        for (uint32_t u = 0; u < nupd; u++) {
            uint32_t kind = (uint32_t)tide_rng_below(r, 10), node, port;
            bool source;
            naive_pointstamp *p;
            if (kind <= 3 && random_port(r, &c.b, &node, &port, &source)) {
                update(c.t, &c.m, node, port, source, gen_time(r),
                       1 + (int64_t)tide_rng_below(r, 2), true);
            } else if (kind <= 6 && (p = model_pick(&c.m, r)) != NULL) {
                naive_pointstamp q = *p;
                int64_t d = -(1 + (int64_t)tide_rng_below(r, (uint64_t)q.count));
                update(c.t, &c.m, q.node, q.port, q.source, q.time, d, true);
            } else if (kind <= 8 && (p = model_pick(&c.m, r)) != NULL) {
                /* Downgrade: a later time at the same place, then retract. */
                naive_pointstamp q = *p;
                tide_time nt = q.time;
                int d = (int)tide_rng_below(r, 3);
                if (d == 0 && nt.epoch < UINT64_MAX) nt.epoch++;
                if (d == 1) nt.iter[0]++;
                if (d == 2) nt.iter[1]++;
                update(c.t, &c.m, q.node, q.port, q.source, nt, 1, true);
                update(c.t, &c.m, q.node, q.port, q.source, q.time, -1, true);
            } else if (nlater < 8 && random_port(r, &c.b, &node, &port, &source)) {
                /* Transiently negative within the round: -1 now, +1 later. */
                tide_time t = gen_time(r);
                update(c.t, &c.m, node, port, source, t, -1, false);
                later[nlater].node = node, later[nlater].port = port;
                later[nlater].source = source, later[nlater].t = t;
                nlater++;
            }
        }
        for (uint32_t k = 0; k < nlater; k++)
            update(c.t, &c.m, later[k].node, later[k].port, later[k].source, later[k].t, 1, false);
        cr_assert_eq(tide__tracker_propagate(c.t), TIDE_OK);
        check(&c, r);
        if (tide_rng_below(r, 8) == 0) {
            uint32_t n;
            cr_assert_eq(tide__tracker_propagate(c.t), TIDE_OK);
            tide__tracker_changes(c.t, &n);
            cr_assert_eq(n, 0, "an empty propagate reports nothing");
        }
    }

    /* Liveness: retract everything; every frontier empties. */
    for (size_t i = 0; i < c.m.len; i++) {
        naive_pointstamp *p = &c.m.ps[i];
        if (p->count > 0) update(c.t, &c.m, p->node, p->port, p->source, p->time, -p->count, true);
    }
    cr_assert_eq(tide__tracker_propagate(c.t), TIDE_OK);
    check(&c, r);
    cr_assert(tide__tracker_is_idle(c.t), "graph %d", graph);
    for (uint32_t T = 0; T < c.nt; T++) {
        cr_assert_eq(tide__tracker_frontier(c.t, c.tnode[T], c.tport[T])->len, 0);
        for (size_t i = 0; i < c.rp[T].len; i++) cr_assert_eq(c.rp[T].u[i].delta, 0);
    }

    for (uint32_t T = 0; T < c.nt; T++) {
        tide_antichain_fini(&c.expect[T]);
        free(c.rp[T].u);
    }
    free(c.expect);
    free(c.rp);
    free(c.tnode);
    free(c.tport);
    free(c.m.ps);
    tide__tracker_free(c.t);
    tide__reach_builder_fini(&c.b);
}

Test(tracker, random_graphs_match_oracle)
{
    tide_rng r = {tide_test_seed("tracker/random_graphs_match_oracle", 31)};
    for (int g = 0; g < 1000; g++) run_graph(&r, g);
}

Test(tracker, random_graphs_match_oracle_second_seed)
{
    tide_rng r = {tide_test_seed("tracker/random_graphs_match_oracle_second_seed", 32)};
    for (int g = 0; g < 1000; g++) run_graph(&r, g);
}
