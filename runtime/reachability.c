/*
 * reachability.c - path summaries between ports and incremental progress
 * tracking over them.
 *
 * Locations are numbered densely: targets (input ports) first, node by node,
 * then sources (output ports). tbase[n] / sbase[n] give node n's first one.
 *
 *   location:  0 ........ ntargets-1 | ntargets ........ ntargets+nsources-1
 *              t(0,0) t(0,1) t(1,0)  | s(0,0) s(1,0) s(1,1) ...
 *
 * Build (tide__tracker_new). For each target T, a backward worklist fixed
 * point computes S(L, T) for every location L: seed S(T, T) = {identity};
 * a summary s in S(target (n,i), T) gives s to every source with an edge into
 * (n,i); a summary s in S(source (n,o), T) gives then(x, s) to target (n,i)
 * for every x in internal(i, o). Sets are antichains, so a summary is only
 * propagated when it is not dominated, and the search ends: a second trip
 * around a cycle yields a summary >= the first one's (adds only grow, and a
 * reset repeated is the same reset). The results are then regrouped by L:
 *
 *   path_off[L] .. path_off[L+1]  ->  paths[] = { target T, S(L, T) } ...
 *                                                   |
 *                                        elems point into one shared pool
 *
 * Run. Each location keeps its pointstamp counts as a mutable antichain;
 * updates are queued per location (a queued flag and a list of queued
 * locations, so propagate touches only what changed). propagate:
 *   1. per queued location L: apply the queued counts, take the (time, +-1)
 *      changes of L's frontier, and for every (T, S(L, T)) and s in S add
 *      (s(time), +-1) to T's queued implication changes (overflow: dropped);
 *   2. per queued target T: apply those to T's implications (a mutable
 *      antichain whose counts are, per time, how many (L, frontier element,
 *      summary) triples map there) and record T's frontier changes.
 * Only frontiers are pushed along paths, which is enough: every positive
 * pointstamp is >= a frontier element and summaries are monotone. All
 * buffers keep their capacity, so a warm tracker does not allocate.
 */
#include <stdio.h>
#include <string.h>

#include "reachability.h"
#include "tide/alloc.h"

/* ======================== Builder ======================== */

void tide__reach_builder_init(tide__reach_builder *b)
{
    memset(b, 0, sizeof *b);
}

void tide__reach_builder_fini(tide__reach_builder *b)
{
    for (uint32_t n = 0; n < b->nnodes; n++) {
        tide__reach_node *node = &b->nodes[n];
        for (uint64_t k = 0; k < (uint64_t)node->ninputs * node->noutputs; k++)
            tide_summary_set_fini(&node->internal[k]);
        tide_free(node->internal);
    }
    tide_free(b->nodes);
    tide_free(b->edges);
    memset(b, 0, sizeof *b);
}

int tide__reach_add_node(tide__reach_builder *b, uint32_t node, uint32_t ninputs, uint32_t noutputs)
{
    if (node != b->nnodes) return TIDE_EINVAL;
    uint64_t pairs = (uint64_t)ninputs * noutputs;
    if (pairs > UINT32_MAX) return TIDE_EINVAL;
    if (b->nnodes == b->node_cap) {
        uint32_t cap = b->node_cap ? b->node_cap * 2 : 8;
        tide__reach_node *p = tide_realloc(b->nodes, (size_t)cap * sizeof *p);
        if (p == NULL) return TIDE_ENOMEM;
        b->nodes = p;
        b->node_cap = cap;
    }
    tide_summary_set *internal = NULL;
    if (pairs) {
        internal = tide_calloc(pairs, sizeof *internal);
        if (internal == NULL) return TIDE_ENOMEM;
        for (uint64_t k = 0; k < pairs; k++) tide_summary_set_init(&internal[k]);
    }
    b->nodes[b->nnodes++] = (tide__reach_node){ninputs, noutputs, internal};
    return TIDE_OK;
}

int tide__reach_add_summary(tide__reach_builder *b, uint32_t node, uint32_t in, uint32_t out,
                            tide_summary s)
{
    if (node >= b->nnodes) return TIDE_EINVAL;
    tide__reach_node *n = &b->nodes[node];
    if (in >= n->ninputs || out >= n->noutputs) return TIDE_EINVAL;
    int rc = tide_summary_set_insert(&n->internal[(size_t)in * n->noutputs + out], s);
    return rc < 0 ? rc : TIDE_OK;
}

int tide__reach_add_edge(tide__reach_builder *b, uint32_t src, uint32_t src_port, uint32_t dst,
                         uint32_t dst_port)
{
    /* Ports are checked by tide__tracker_new: nodes may be added later. */
    if (b->nedges == b->edge_cap) {
        uint32_t cap = b->edge_cap ? b->edge_cap * 2 : 8;
        tide__reach_edge *p = tide_realloc(b->edges, (size_t)cap * sizeof *p);
        if (p == NULL) return TIDE_ENOMEM;
        b->edges = p;
        b->edge_cap = cap;
    }
    b->edges[b->nedges++] = (tide__reach_edge){src, src_port, dst, dst_port};
    return TIDE_OK;
}

/* ======================== Tracker state ======================== */

typedef struct path {
    uint32_t target;      /* dense target index */
    tide_summary_set set; /* S(L, target); elems borrowed from the pool */
} path;

typedef struct loc_state {
    tide_mutable_antichain pts; /* pointstamp counts and their frontier */
    tide_change_batch pending;  /* queued count changes */
    uint8_t queued;             /* on loc_queue */
} loc_state;

typedef struct target_state {
    tide_mutable_antichain impl; /* implications: what may still arrive here */
    tide_change_batch pending;   /* queued implication changes */
    uint32_t node, port;         /* for reporting */
    uint8_t queued;              /* on tgt_queue */
} target_state;

struct tide__tracker {
    uint32_t nnodes, ntargets, nsources, nlocs;
    uint32_t *tbase;             /* nnodes + 1: first target of each node */
    uint32_t *sbase;             /* nnodes + 1: first source (0-based) of each node */
    uint32_t *snode, *sport;     /* per source: its node and port */
    uint32_t *path_off;          /* nlocs + 1 */
    path *paths;                 /* grouped by location */
    tide_summary *pool;          /* every S(L, T)'s elements */
    loc_state *locs;             /* nlocs */
    target_state *tgts;          /* ntargets */
    uint32_t *loc_queue, nloc_q; /* queued locations (capacity nlocs) */
    uint32_t *tgt_queue, ntgt_q; /* queued targets (capacity ntargets) */
    tide_change_batch scratch;   /* one location's frontier changes */
    tide__frontier_change *changes;
    uint32_t nchanges, changes_cap;
    uint32_t active; /* locations with a non-empty frontier */
};

/* ======================== Building ======================== */

typedef struct work_item {
    uint32_t loc;
    tide_summary s;
} work_item;

typedef struct record {
    uint32_t loc, target, off, len;
} record;

/* A growable array of fixed-size items, for build-time scratch only. */
typedef struct vec {
    void *p;
    size_t len, cap;
} vec;

static int vec_push(vec *v, const void *item, size_t size)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        void *p = tide_realloc(v->p, cap * size);
        if (p == NULL) return TIDE_ENOMEM;
        v->p = p;
        v->cap = cap;
    }
    memcpy((char *)v->p + v->len * size, item, size);
    v->len++;
    return TIDE_OK;
}

static bool set_contains(const tide_summary_set *set, tide_summary s)
{
    for (uint32_t i = 0; i < set->len; i++)
        if (tide_summary_eq(set->elems[i], s)) return true;
    return false;
}

/* Insert @s into S(loc, current target) and queue it if it was new. */
static int offer(tide_summary_set *sets, uint8_t *touched, vec *touch_list, vec *work, uint32_t loc,
                 tide_summary s)
{
    int rc = tide_summary_set_insert(&sets[loc], s);
    if (rc <= 0) return rc;
    if (!touched[loc]) {
        touched[loc] = 1;
        TIDE_TRY(vec_push(touch_list, &loc, sizeof loc));
    }
    work_item w = {loc, s};
    return vec_push(work, &w, sizeof w);
}

/*
 * Compute S(L, T) for all L, T into t->path_off / paths / pool.
 * @in_off / @in_src: for each target, the sources with an edge into it.
 */
static int compute_paths(tide__tracker *t, const tide__reach_builder *b, const uint32_t *in_off,
                         const uint32_t *in_src)
{
    int rc = TIDE_ENOMEM;
    const uint32_t nl = t->nlocs, nt = t->ntargets;
    tide_summary_set *sets = tide_calloc(nl ? nl : 1, sizeof *sets);
    uint8_t *touched = tide_calloc(nl ? nl : 1, 1);
    vec touch_list = {0}, work = {0}, recs = {0}, pool = {0};
    if (sets == NULL || touched == NULL) goto out;

    for (uint32_t T = 0; T < nt; T++) {
        rc = offer(sets, touched, &touch_list, &work, T, TIDE_SUMMARY_IDENTITY);
        if (rc < 0) goto out;
        while (work.len) {
            work_item w = ((work_item *)work.p)[--work.len];
            /* Skip summaries evicted since they were queued: whatever
             * they would produce is dominated by their evictor's. */
            if (!set_contains(&sets[w.loc], w.s)) continue;
            if (w.loc < nt) {
                for (uint32_t k = in_off[w.loc]; k < in_off[w.loc + 1]; k++) {
                    rc = offer(sets, touched, &touch_list, &work, nt + in_src[k], w.s);
                    if (rc < 0) goto out;
                }
            } else {
                uint32_t si = w.loc - nt, n = t->snode[si], o = t->sport[si];
                const tide__reach_node *node = &b->nodes[n];
                for (uint32_t i = 0; i < node->ninputs; i++) {
                    const tide_summary_set *x = &node->internal[(size_t)i * node->noutputs + o];
                    for (uint32_t j = 0; j < x->len; j++) {
                        tide_summary c = tide_summary_then(x->elems[j], w.s);
                        rc = offer(sets, touched, &touch_list, &work, t->tbase[n] + i, c);
                        if (rc < 0) goto out;
                    }
                }
            }
        }
        /* Harvest S(., T) and reset the scratch sets for the next target. */
        for (size_t k = 0; k < touch_list.len; k++) {
            uint32_t L = ((uint32_t *)touch_list.p)[k];
            tide_summary_set *set = &sets[L];
            if (set->len) {
                record r = {L, T, (uint32_t)pool.len, set->len};
                rc = vec_push(&recs, &r, sizeof r);
                for (uint32_t j = 0; rc == TIDE_OK && j < set->len; j++)
                    rc = vec_push(&pool, &set->elems[j], sizeof set->elems[j]);
                if (rc < 0) goto out;
            }
            set->len = 0;
            touched[L] = 0;
        }
        touch_list.len = 0;
    }

    /* Regroup by location (counting sort); the pool no longer moves. */
    rc = TIDE_ENOMEM;
    t->path_off = tide_calloc((size_t)nl + 1, sizeof *t->path_off);
    t->paths = tide_calloc(recs.len ? recs.len : 1, sizeof *t->paths);
    if (t->path_off == NULL || t->paths == NULL) goto out;
    const record *rv = recs.p;
    for (size_t k = 0; k < recs.len; k++) t->path_off[rv[k].loc + 1]++;
    for (uint32_t L = 0; L < nl; L++) t->path_off[L + 1] += t->path_off[L];
    t->pool = pool.p;
    pool.p = NULL;
    for (size_t k = 0; k < recs.len; k++) {
        /* path_off[L] is used as L's insertion cursor and restored below. */
        path *p = &t->paths[t->path_off[rv[k].loc]++];
        p->target = rv[k].target;
        p->set.elems = t->pool + rv[k].off;
        p->set.len = p->set.cap = rv[k].len;
    }
    for (uint32_t L = nl; L > 0; L--) t->path_off[L] = t->path_off[L - 1];
    t->path_off[0] = 0;
    rc = TIDE_OK;

out:
    if (sets)
        for (uint32_t L = 0; L < nl; L++) tide_summary_set_fini(&sets[L]);
    tide_free(sets);
    tide_free(touched);
    tide_free(touch_list.p);
    tide_free(work.p);
    tide_free(recs.p);
    tide_free(pool.p);
    return rc;
}

tide__tracker *tide__tracker_new(const tide__reach_builder *b, tide_error *e)
{
    uint32_t *in_off = NULL, *in_src = NULL;
    tide__tracker *t = tide_calloc(1, sizeof *t);
    if (t == NULL) goto oom;
    tide_change_batch_init(&t->scratch);
    t->nnodes = b->nnodes;
    t->tbase = tide_calloc((size_t)b->nnodes + 1, sizeof *t->tbase);
    t->sbase = tide_calloc((size_t)b->nnodes + 1, sizeof *t->sbase);
    if (t->tbase == NULL || t->sbase == NULL) goto oom;
    uint64_t nt = 0, ns = 0;
    for (uint32_t n = 0; n < b->nnodes; n++) {
        t->tbase[n] = (uint32_t)nt;
        t->sbase[n] = (uint32_t)ns;
        nt += b->nodes[n].ninputs;
        ns += b->nodes[n].noutputs;
        if (nt + ns >= UINT32_MAX) {
            tide_err_set(e, TIDE_EINVAL, "reachability: too many ports (node %u)", n);
            tide__tracker_free(t);
            return NULL;
        }
    }
    t->tbase[b->nnodes] = (uint32_t)nt;
    t->sbase[b->nnodes] = (uint32_t)ns;
    t->ntargets = (uint32_t)nt;
    t->nsources = (uint32_t)ns;
    t->nlocs = (uint32_t)(nt + ns);

    for (uint32_t k = 0; k < b->nedges; k++) {
        const tide__reach_edge *ed = &b->edges[k];
        if (ed->src_node >= b->nnodes || ed->src_port >= b->nodes[ed->src_node].noutputs ||
            ed->dst_node >= b->nnodes || ed->dst_port >= b->nodes[ed->dst_node].ninputs) {
            tide_err_set(e, TIDE_EINVAL,
                         "reachability: edge %u from node %u output %u to node %u input %u "
                         "names a missing port",
                         k, ed->src_node, ed->src_port, ed->dst_node, ed->dst_port);
            tide__tracker_free(t);
            return NULL;
        }
    }

    size_t nl1 = (size_t)t->nlocs + 1;
    t->snode = tide_calloc(ns ? ns : 1, sizeof *t->snode);
    t->sport = tide_calloc(ns ? ns : 1, sizeof *t->sport);
    t->locs = tide_calloc(nl1, sizeof *t->locs);
    t->tgts = tide_calloc(nt ? nt : 1, sizeof *t->tgts);
    t->loc_queue = tide_calloc(nl1, sizeof *t->loc_queue);
    t->tgt_queue = tide_calloc(nt ? nt : 1, sizeof *t->tgt_queue);
    in_off = tide_calloc((size_t)nt + 1, sizeof *in_off);
    in_src = tide_calloc(b->nedges ? b->nedges : 1, sizeof *in_src);
    if (!t->snode || !t->sport || !t->locs || !t->tgts || !t->loc_queue || !t->tgt_queue ||
        !in_off || !in_src)
        goto oom;
    for (uint32_t n = 0; n < b->nnodes; n++) {
        for (uint32_t o = 0; o < b->nodes[n].noutputs; o++) {
            t->snode[t->sbase[n] + o] = n;
            t->sport[t->sbase[n] + o] = o;
        }
        for (uint32_t i = 0; i < b->nodes[n].ninputs; i++) {
            t->tgts[t->tbase[n] + i].node = n;
            t->tgts[t->tbase[n] + i].port = i;
        }
    }
    for (uint32_t L = 0; L < t->nlocs; L++) {
        tide_mutable_antichain_init(&t->locs[L].pts);
        tide_change_batch_init(&t->locs[L].pending);
    }
    for (uint32_t T = 0; T < t->ntargets; T++) {
        tide_mutable_antichain_init(&t->tgts[T].impl);
        tide_change_batch_init(&t->tgts[T].pending);
    }

    /* In-edges per target, as a CSR array of source indices. */
    for (uint32_t k = 0; k < b->nedges; k++) {
        const tide__reach_edge *ed = &b->edges[k];
        in_off[t->tbase[ed->dst_node] + ed->dst_port + 1]++;
    }
    for (uint32_t T = 0; T < nt; T++) in_off[T + 1] += in_off[T];
    for (uint32_t k = 0; k < b->nedges; k++) {
        const tide__reach_edge *ed = &b->edges[k];
        uint32_t T = t->tbase[ed->dst_node] + ed->dst_port;
        in_src[in_off[T]++] = t->sbase[ed->src_node] + ed->src_port;
    }
    for (uint32_t T = (uint32_t)nt; T > 0; T--) in_off[T] = in_off[T - 1];
    in_off[0] = 0;

    if (compute_paths(t, b, in_off, in_src) < 0) goto oom;
    tide_free(in_off);
    tide_free(in_src);
    return t;

oom:
    tide_free(in_off);
    tide_free(in_src);
    tide__tracker_free(t);
    tide_err_set(e, TIDE_ENOMEM, "reachability: out of memory building the tracker (%u nodes)",
                 b->nnodes);
    return NULL;
}

void tide__tracker_free(tide__tracker *t)
{
    if (t == NULL) return;
    if (t->locs)
        for (uint32_t L = 0; L < t->nlocs; L++) {
            tide_mutable_antichain_fini(&t->locs[L].pts);
            tide_change_batch_fini(&t->locs[L].pending);
        }
    if (t->tgts)
        for (uint32_t T = 0; T < t->ntargets; T++) {
            tide_mutable_antichain_fini(&t->tgts[T].impl);
            tide_change_batch_fini(&t->tgts[T].pending);
        }
    tide_change_batch_fini(&t->scratch);
    tide_free(t->tbase);
    tide_free(t->sbase);
    tide_free(t->snode);
    tide_free(t->sport);
    tide_free(t->path_off);
    tide_free(t->paths);
    tide_free(t->pool);
    tide_free(t->locs);
    tide_free(t->tgts);
    tide_free(t->loc_queue);
    tide_free(t->tgt_queue);
    tide_free(t->changes);
    tide_free(t);
}

/* ======================== Running ======================== */

static int queue_update(tide__tracker *t, uint32_t L, tide_time time, int64_t delta)
{
    if (delta == 0) return TIDE_OK;
    loc_state *ls = &t->locs[L];
    TIDE_TRY(tide_change_batch_push(&ls->pending, time, delta));
    if (!ls->queued) {
        ls->queued = 1;
        t->loc_queue[t->nloc_q++] = L;
    }
    return TIDE_OK;
}

int tide__tracker_update_source(tide__tracker *t, uint32_t node, uint32_t port, tide_time time,
                                int64_t delta)
{
    if (node >= t->nnodes || port >= t->sbase[node + 1] - t->sbase[node]) return TIDE_EINVAL;
    return queue_update(t, t->ntargets + t->sbase[node] + port, time, delta);
}

int tide__tracker_update_target(tide__tracker *t, uint32_t node, uint32_t port, tide_time time,
                                int64_t delta)
{
    if (node >= t->nnodes || port >= t->tbase[node + 1] - t->tbase[node]) return TIDE_EINVAL;
    return queue_update(t, t->tbase[node] + port, time, delta);
}

static int push_change(tide__tracker *t, const target_state *ts, tide_time time, int64_t delta)
{
    if (t->nchanges == t->changes_cap) {
        uint32_t cap = t->changes_cap ? t->changes_cap * 2 : 16;
        tide__frontier_change *p = tide_realloc(t->changes, (size_t)cap * sizeof *p);
        if (p == NULL) return TIDE_ENOMEM;
        t->changes = p;
        t->changes_cap = cap;
    }
    t->changes[t->nchanges++] = (tide__frontier_change){ts->node, ts->port, time, delta};
    return TIDE_OK;
}

/* Push one frontier change of location @L along every S(L, T). */
static int push_along_paths(tide__tracker *t, uint32_t L, tide_time time, int64_t delta)
{
    for (uint32_t k = t->path_off[L]; k < t->path_off[L + 1]; k++) {
        const path *p = &t->paths[k];
        target_state *ts = &t->tgts[p->target];
        for (uint32_t j = 0; j < p->set.len; j++) {
            tide_time out;
            if (!tide_summary_apply(p->set.elems[j], time, &out)) continue;
            TIDE_TRY(tide_change_batch_push(&ts->pending, out, delta));
            if (!ts->queued) {
                ts->queued = 1;
                t->tgt_queue[t->ntgt_q++] = p->target;
            }
        }
    }
    return TIDE_OK;
}

int tide__tracker_propagate(tide__tracker *t)
{
    t->nchanges = 0;

    for (uint32_t q = 0; q < t->nloc_q; q++) {
        uint32_t L = t->loc_queue[q];
        loc_state *ls = &t->locs[L];
        bool was_active = ls->pts.frontier.len != 0;
        ls->queued = 0;
        tide_change_batch_clear(&t->scratch);
        int rc = tide_mutable_antichain_update_iter(&ls->pts, ls->pending.updates, ls->pending.len,
                                                    &t->scratch);
        tide_change_batch_clear(&ls->pending);
        if (rc < 0) return rc;
        bool is_active = ls->pts.frontier.len != 0;
        if (was_active != is_active) t->active += is_active ? 1 : (uint32_t)-1;
        for (uint32_t k = 0; k < t->scratch.len; k++) {
            const tide_time_delta *u = &t->scratch.updates[k];
            TIDE_TRY(push_along_paths(t, L, u->time, u->delta));
        }
    }
    t->nloc_q = 0;

    for (uint32_t q = 0; q < t->ntgt_q; q++) {
        target_state *ts = &t->tgts[t->tgt_queue[q]];
        ts->queued = 0;
        tide_change_batch_clear(&t->scratch);
        int rc = tide_mutable_antichain_update_iter(&ts->impl, ts->pending.updates, ts->pending.len,
                                                    &t->scratch);
        tide_change_batch_clear(&ts->pending);
        if (rc < 0) return rc;
        for (uint32_t k = 0; k < t->scratch.len; k++)
            TIDE_TRY(push_change(t, ts, t->scratch.updates[k].time, t->scratch.updates[k].delta));
    }
    t->ntgt_q = 0;
    return TIDE_OK;
}

const tide__frontier_change *tide__tracker_changes(const tide__tracker *t, uint32_t *n)
{
    *n = t->nchanges;
    return t->changes;
}

const tide_antichain *tide__tracker_frontier(const tide__tracker *t, uint32_t node, uint32_t port)
{
    static const tide_antichain empty;
    if (node >= t->nnodes || port >= t->tbase[node + 1] - t->tbase[node]) return &empty;
    return &t->tgts[t->tbase[node] + port].impl.frontier;
}

const tide_summary_set *tide__tracker_summaries(const tide__tracker *t, uint32_t src,
                                                uint32_t src_port, uint32_t dst, uint32_t dst_port)
{
    static const tide_summary_set empty;
    if (src >= t->nnodes || src_port >= t->sbase[src + 1] - t->sbase[src]) return &empty;
    if (dst >= t->nnodes || dst_port >= t->tbase[dst + 1] - t->tbase[dst]) return &empty;
    uint32_t L = t->ntargets + t->sbase[src] + src_port, T = t->tbase[dst] + dst_port;
    for (uint32_t k = t->path_off[L]; k < t->path_off[L + 1]; k++)
        if (t->paths[k].target == T) return &t->paths[k].set;
    return &empty;
}

int tide__tracker_is_idle(const tide__tracker *t)
{
    return t->active == 0 && t->nloc_q == 0;
}

void tide__tracker_dump(const tide__tracker *t)
{
    char buf[64];
    for (uint32_t L = 0; L < t->nlocs; L++) {
        const tide_change_batch *c = &t->locs[L].pts.counts;
        bool src = L >= t->ntargets;
        uint32_t node = src ? t->snode[L - t->ntargets] : t->tgts[L].node;
        uint32_t port = src ? t->sport[L - t->ntargets] : t->tgts[L].port;
        for (uint32_t k = 0; k < c->len; k++) {
            if (c->updates[k].delta == 0) continue;
            fprintf(stderr, "%s node %u port %u: %s x %lld\n", src ? "source" : "target", node,
                    port, tide_time_fmt(c->updates[k].time, buf, sizeof buf),
                    (long long)c->updates[k].delta);
        }
    }
}

const tide_antichain *tide__tracker_pointstamps(const tide__tracker *t, uint32_t node,
                                                uint32_t port, int is_source)
{
    static const tide_antichain empty;
    if (node >= t->nnodes) return &empty;
    if (is_source) {
        if (port >= t->sbase[node + 1] - t->sbase[node]) return &empty;
        return &t->locs[t->ntargets + t->sbase[node] + port].pts.frontier;
    }
    if (port >= t->tbase[node + 1] - t->tbase[node]) return &empty;
    return &t->locs[t->tbase[node] + port].pts.frontier;
}
