/*
 * naive_reach.c - the progress-tracking oracle: explicit state search.
 *
 * States are (location, time). From a target (n, i) at t we may move to the
 * source (n, o) at x(t) for every internal summary x of (i, o) that does not
 * overflow; from a source we may move along any edge, time unchanged. Each
 * location keeps the minimal times found so far, and a state is dropped when
 * its time is >= one of them: everything it leads to is >= what that one
 * leads to. Each location's kept times only ever receive times not above any
 * earlier one, and such sequences are finite (Dickson's lemma), so the search
 * ends; a budget guards against surprises.
 */
#include <stdlib.h>
#include <string.h>

#include "naive_reach.h"
#include "tide/alloc.h"

#define STATE_BUDGET 2000000

uint32_t naive_reach_ntargets(const tide__reach_builder *b)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < b->nnodes; k++) n += b->nodes[k].ninputs;
    return n;
}

uint32_t naive_reach_target_index(const tide__reach_builder *b, uint32_t node, uint32_t port)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < node; k++) n += b->nodes[k].ninputs;
    return n + port;
}

static uint32_t source_index(const tide__reach_builder *b, uint32_t node, uint32_t port)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < node; k++) n += b->nodes[k].noutputs;
    return n + port;
}

bool naive_apply(tide_summary s, tide_time t, tide_time *out)
{
    uint64_t c[3] = {t.epoch, t.iter[0], t.iter[1]};
    const uint64_t max[3] = {UINT64_MAX, UINT32_MAX, UINT32_MAX};
    for (int d = 0; d < 3; d++) {
        if (s.reset >> d & 1) c[d] = 0;
        if (s.add[d] > max[d] || c[d] > max[d] - s.add[d]) return false;
        c[d] += s.add[d];
    }
    out->epoch = c[0];
    out->iter[0] = (uint32_t)c[1];
    out->iter[1] = (uint32_t)c[2];
    return true;
}

static bool le(tide_time a, tide_time b)
{
    return a.epoch <= b.epoch && a.iter[0] <= b.iter[0] && a.iter[1] <= b.iter[1];
}

/* Minimal times found at one location: a plain array, kept minimal. */
typedef struct found {
    tide_time *t;
    size_t len, cap;
} found;

/* @return true if @x was not dominated and is now recorded. */
static bool found_add(found *f, tide_time x)
{
    for (size_t i = 0; i < f->len; i++)
        if (le(f->t[i], x)) return false;
    size_t w = 0;
    for (size_t i = 0; i < f->len; i++)
        if (!le(x, f->t[i])) f->t[w++] = f->t[i];
    f->len = w;
    if (f->len == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4;
        f->t = realloc(f->t, f->cap * sizeof *f->t);
        if (f->t == NULL) abort();
    }
    f->t[f->len++] = x;
    return true;
}

typedef struct state {
    uint32_t loc; /* < ntargets: target; else source ntargets + index */
    tide_time t;
} state;

int naive_reach_frontiers(const tide__reach_builder *b, const naive_pointstamp *ps, size_t n,
                          tide_antichain *out)
{
    uint32_t nt = naive_reach_ntargets(b), ns = 0;
    for (uint32_t k = 0; k < b->nnodes; k++) ns += b->nodes[k].noutputs;
    uint32_t nl = nt + ns;
    found *fs = calloc(nl + 1, sizeof *fs);
    uint32_t *lnode = calloc(nl + 1, sizeof *lnode), *lport = calloc(nl + 1, sizeof *lport);
    if (!fs || !lnode || !lport) abort();
    for (uint32_t k = 0, T = 0, S = nt; k < b->nnodes; k++) {
        for (uint32_t i = 0; i < b->nodes[k].ninputs; i++, T++) lnode[T] = k, lport[T] = i;
        for (uint32_t o = 0; o < b->nodes[k].noutputs; o++, S++) lnode[S] = k, lport[S] = o;
    }

    size_t qcap = 64, qlen = 0;
    state *q = malloc(qcap * sizeof *q);
    if (q == NULL) abort();
#define PUSH(L, T)                                                                                 \
    do {                                                                                           \
        if (found_add(&fs[L], T)) {                                                                \
            if (qlen == qcap) {                                                                    \
                qcap *= 2;                                                                         \
                q = realloc(q, qcap * sizeof *q);                                                  \
                if (q == NULL) abort();                                                            \
            }                                                                                      \
            q[qlen++] = (state){L, T};                                                             \
        }                                                                                          \
    } while (0)

    for (size_t k = 0; k < n; k++) {
        if (ps[k].count <= 0) continue;
        uint32_t L = ps[k].source ? nt + source_index(b, ps[k].node, ps[k].port)
                                  : naive_reach_target_index(b, ps[k].node, ps[k].port);
        PUSH(L, ps[k].time);
    }
    long budget = STATE_BUDGET;
    int rc = 0;
    while (qlen) {
        if (--budget == 0) {
            rc = -1;
            break;
        }
        state s = q[--qlen];
        uint32_t node = lnode[s.loc], port = lport[s.loc];
        if (s.loc < nt) {
            const tide__reach_node *nd = &b->nodes[node];
            for (uint32_t o = 0; o < nd->noutputs; o++) {
                const tide_summary_set *x = &nd->internal[(size_t)port * nd->noutputs + o];
                for (uint32_t j = 0; j < x->len; j++) {
                    tide_time r;
                    if (naive_apply(x->elems[j], s.t, &r)) PUSH(nt + source_index(b, node, o), r);
                }
            }
        } else {
            for (uint32_t e = 0; e < b->nedges; e++) {
                const tide__reach_edge *ed = &b->edges[e];
                if (ed->src_node == node && ed->src_port == port)
                    PUSH(naive_reach_target_index(b, ed->dst_node, ed->dst_port), s.t);
            }
        }
    }
#undef PUSH

    for (uint32_t T = 0; T < nt; T++) {
        tide_antichain_clear(&out[T]);
        for (size_t i = 0; i < fs[T].len; i++) {
            /* Grow by hand: the oracle avoids the antichain logic it checks. */
            if (out[T].len == out[T].cap) {
                uint32_t cap = out[T].cap ? out[T].cap * 2 : 4;
                tide_time *p = tide_realloc(out[T].elems, cap * sizeof *p);
                if (p == NULL) abort();
                out[T].elems = p;
                out[T].cap = cap;
            }
            out[T].elems[out[T].len++] = fs[T].t[i];
        }
    }
    for (uint32_t L = 0; L < nl; L++) free(fs[L].t);
    free(fs);
    free(lnode);
    free(lport);
    free(q);
    return rc;
}

bool naive_reach_step(const tide__reach_builder *b, tide_rng *rng, uint32_t *node, uint32_t *port,
                      bool *source, tide_time *time)
{
    /* Count the moves, then pick one uniformly. */
    uint32_t moves = 0;
    if (*source) {
        for (uint32_t e = 0; e < b->nedges; e++)
            if (b->edges[e].src_node == *node && b->edges[e].src_port == *port) moves++;
        if (moves == 0) return false;
        uint64_t pick = tide_rng_below(rng, moves);
        for (uint32_t e = 0; e < b->nedges; e++) {
            const tide__reach_edge *ed = &b->edges[e];
            if (ed->src_node != *node || ed->src_port != *port || pick-- != 0) continue;
            *node = ed->dst_node;
            *port = ed->dst_port;
            *source = false;
            return true;
        }
        return false;
    }
    const tide__reach_node *nd = &b->nodes[*node];
    for (uint32_t o = 0; o < nd->noutputs; o++) {
        const tide_summary_set *x = &nd->internal[(size_t)*port * nd->noutputs + o];
        for (uint32_t j = 0; j < x->len; j++) {
            tide_time r;
            if (naive_apply(x->elems[j], *time, &r)) moves++;
        }
    }
    if (moves == 0) return false;
    uint64_t pick = tide_rng_below(rng, moves);
    for (uint32_t o = 0; o < nd->noutputs; o++) {
        const tide_summary_set *x = &nd->internal[(size_t)*port * nd->noutputs + o];
        for (uint32_t j = 0; j < x->len; j++) {
            tide_time r;
            if (!naive_apply(x->elems[j], *time, &r) || pick-- != 0) continue;
            *port = o;
            *source = true;
            *time = r;
            return true;
        }
    }
    return false;
}
