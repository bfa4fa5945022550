/*
 * naive_reduce.c - the reduce oracle, an update collector and a naive
 * arrangement for tests (see naive_reduce.h).
 */
#include "naive_reduce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reduce.h"
#include "tide/alloc.h"

/* ======================================================================== */
/* Collector                                                                */
/* ======================================================================== */

void naive_collect_init(naive_collect *c)
{
    pthread_mutex_init(&c->lock, NULL);
    naive_init(&c->upd);
}

void naive_collect_fini(naive_collect *c)
{
    naive_fini(&c->upd);
    pthread_mutex_destroy(&c->lock);
}

void naive_collect_push(naive_collect *c, const void *k, uint32_t kl, const void *v, uint32_t vl,
                        tide_time t, int64_t d)
{
    pthread_mutex_lock(&c->lock);
    naive_push(&c->upd, k, kl, v, vl, t, d);
    pthread_mutex_unlock(&c->lock);
}

static void sink_fn(void *ctx, const tide_batch *b)
{
    naive_collect *c = ctx;
    const tide_trace_batch *tb = b->ext;
    pthread_mutex_lock(&c->lock);
    if (tb) {
        for (uint32_t k = 0; k < tb->nkeys; k++) {
            uint32_t kl;
            const uint8_t *key = tide_trace_batch_key(tb, k, &kl);
            for (uint32_t v = tb->key_vals[k]; v < tb->key_vals[k + 1]; v++) {
                uint32_t vl;
                const uint8_t *val = tide_trace_batch_val(tb, v, &vl);
                for (uint32_t u = tb->val_upds[v]; u < tb->val_upds[v + 1]; u++)
                    naive_push(&c->upd, key, kl, val, vl, tb->upds[u].time, tb->upds[u].delta);
            }
        }
    }
    for (uint32_t i = 0; i < b->len && (b->flags & TIDE_BATCH_UPDATES); i++) {
        uint32_t kl, vl;
        const uint8_t *key = tide_batch_key(b, i, &kl);
        const uint8_t *val = tide_batch_val(b, i, &vl);
        naive_push(&c->upd, key, kl, val, vl, b->times[i], b->diffs[i]);
    }
    pthread_mutex_unlock(&c->lock);
}

void naive_collect_sink(tide_stream *s, naive_collect *c)
{
    tide_sink(s, TIDE_PIPELINE, sink_fn, c);
}

/* ======================================================================== */
/* Naive arrangement                                                        */
/* ======================================================================== */

typedef struct narr {
    tide_trace *trace;   /* owner reference */
    tide_batch *held;    /* updates not yet sealed (UPDATES, unsorted) */
    tide_antichain done; /* frontier sealed through */
    tide_antichain caps; /* capabilities held: min of held times */
} narr;

static void narr_free(void *p)
{
    narr *a = p;
    tide_trace_unref(a->trace);
    tide_batch_unref(a->held);
    tide_antichain_fini(&a->done);
    tide_antichain_fini(&a->caps);
    free(a);
}

static void narr_schedule(tide_op *op, void *state)
{
    narr *a = state;
    tide_batch *m;
    int rc = 0;
    while ((m = tide_op_pull(op, 0)) != NULL) {
        for (uint32_t i = 0; i < m->len && rc == 0; i++) rc = tide_batch_push_from(a->held, m, i);
        tide_batch_unref(m);
    }
    const tide_antichain *f = tide_op_frontier(op, 0);
    if (rc == 0 && !tide_antichain_eq(f, &a->done)) {
        tide_batch *out = tide_batch_new(a->held->layout, TIDE_BATCH_UPDATES, 64);
        tide_batch *keep = tide_batch_new(a->held->layout, TIDE_BATCH_UPDATES, 64);
        for (uint32_t i = 0; i < a->held->len && rc == 0; i++)
            rc = tide_batch_push_from(tide_antichain_less_equal(f, a->held->times[i]) ? keep : out,
                                      a->held, i);
        tide_batch_unref(a->held);
        a->held = keep;
        if (rc == 0 && out->len) rc = tide_batch_consolidate(out);
        if (rc == 0)
            rc = tide__reduce_emit(op, 0, a->trace, &a->caps, f, out);
        else
            tide_batch_unref(out);
        if (rc == 0) rc = tide_antichain_copy(&a->done, f);
    }
    /* Hold exactly the minimal times of what is kept. */
    tide_antichain want;
    tide_antichain_init(&want);
    for (uint32_t i = 0; i < a->held->len && rc == 0; i++)
        if (tide_antichain_insert(&want, a->held->times[i]) < 0) rc = TIDE_ENOMEM;
    for (uint32_t i = 0; i < want.len && rc == 0; i++) {
        bool have = false;
        for (uint32_t j = 0; j < a->caps.len; j++)
            have |= tide_time_eq(want.elems[i], a->caps.elems[j]);
        if (!have) rc = tide_op_hold(op, want.elems[i]);
    }
    for (uint32_t j = 0; j < a->caps.len && rc == 0; j++) {
        bool keep = false;
        for (uint32_t i = 0; i < want.len; i++)
            keep |= tide_time_eq(want.elems[i], a->caps.elems[j]);
        if (!keep) rc = tide_op_drop(op, a->caps.elems[j]);
    }
    if (rc == 0) rc = tide_antichain_copy(&a->caps, &want);
    tide_antichain_fini(&want);
    if (rc < 0) tide_op_fail(op, rc, "naive_arrange failed");
}

tide_stream *naive_arrange(tide_stream *c, tide_trace **trace)
{
    narr *a = calloc(1, sizeof *a);
    tide_layout l = tide_stream_layout(c);
    a->trace = tide_trace_new(l);
    a->held = tide_batch_new(l, TIDE_BATCH_UPDATES, 64);
    tide_antichain_init(&a->done);
    tide_antichain_init(&a->caps);
    tide_antichain_insert(&a->done, TIDE_TIME_ZERO);
    tide_stream *in[1] = {c};
    tide_pact pact = TIDE_EXCHANGE;
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = "naive_arrange",
                      .ninputs = 1,
                      .inputs = in,
                      .pacts = &pact,
                      .noutputs = 1,
                      .outputs = &l,
                      .out_flags = &flags,
                      .schedule = narr_schedule,
                      .state = a,
                      .state_free = narr_free};
    tide_op *op = tide_op_build(tide_stream_scope(c), &d);
    if (op == NULL) {
        narr_free(a);
        return NULL;
    }
    *trace = a->trace;
    return tide_op_output(op, 0);
}

/* ======================================================================== */
/* Oracle                                                                   */
/* ======================================================================== */

/* naive_consolidate, but fine with an empty list (qsort gets no NULL). */
static void consolidate(naive_trace *n)
{
    if (n->len) naive_consolidate(n);
}

/* The (key, val) accumulations of @n at @t, consolidated, into @acc. */
static void accum_at(const naive_trace *n, tide_time t, naive_trace *acc)
{
    naive_clear(acc);
    for (uint32_t i = 0; i < n->len; i++)
        if (tide_time_le(n->u[i].t, t))
            naive_push(acc, n->u[i].k, n->u[i].kl, n->u[i].v, n->u[i].vl, TIDE_TIME_ZERO,
                       n->u[i].d);
    consolidate(acc);
}

bool naive_reduce_check(const naive_trace *in, const naive_trace *out, tide_reduce_fn fn, void *ctx,
                        uint32_t val_width, const tide_time *times, uint32_t ntimes)
{
    naive_trace ia, oa, want;
    naive_init(&ia);
    naive_init(&oa);
    naive_init(&want);
    tide_reduce_out *ro = tide__reduce_out_new(val_width);
    tide_val_diff *vd = NULL;
    uint32_t bad = 0;
    for (uint32_t ti = 0; ti < ntimes && bad < 10; ti++) {
        tide_time t = times[ti];
        accum_at(in, t, &ia);
        accum_at(out, t, &oa);
        naive_clear(&want);
        vd = realloc(vd, (ia.len + 1) * sizeof *vd);
        for (uint32_t a = 0; a < ia.len;) {
            uint32_t b = a, n = 0;
            for (; b < ia.len && tide_bytes_cmp(ia.u[b].k, ia.u[b].kl, ia.u[a].k, ia.u[a].kl) == 0;
                 b++)
                vd[n++] = (tide_val_diff){ia.u[b].v, ia.u[b].vl, ia.u[b].d};
            tide__reduce_out_clear(ro);
            fn(ctx, ia.u[a].k, ia.u[a].kl, vd, n, ro);
            for (uint32_t i = 0; i < tide__reduce_out_len(ro); i++) {
                uint32_t len;
                int64_t d;
                const uint8_t *v = tide__reduce_out_get(ro, i, &len, &d);
                naive_push(&want, ia.u[a].k, ia.u[a].kl, v, len, TIDE_TIME_ZERO, d);
            }
            a = b;
        }
        consolidate(&want);
        /* Merge-compare want and oa. */
        uint32_t i = 0, j = 0;
        while ((i < want.len || j < oa.len) && bad < 10) {
            int c = i == want.len ? 1 : j == oa.len ? -1 : naive_kv_cmp(&want.u[i], &oa.u[j]);
            const naive_upd *u = c <= 0 ? &want.u[i] : &oa.u[j];
            int64_t w = c <= 0 ? want.u[i].d : 0, g = c >= 0 ? oa.u[j].d : 0;
            if (c <= 0) i++;
            if (c >= 0) j++;
            if (w == g) continue;
            char tb[64];
            fprintf(stderr, "reduce mismatch at %s: key ", tide_time_fmt(t, tb, sizeof tb));
            for (uint32_t x = 0; x < u->kl; x++) fprintf(stderr, "%02x", u->k[x]);
            fprintf(stderr, " val ");
            for (uint32_t x = 0; x < u->vl; x++) fprintf(stderr, "%02x", u->v[x]);
            fprintf(stderr, ": oracle %lld, operator %lld\n", (long long)w, (long long)g);
            bad++;
        }
    }
    free(vd);
    tide__reduce_out_free(ro);
    naive_fini(&ia);
    naive_fini(&oa);
    naive_fini(&want);
    return bad == 0;
}

static int utc(const void *x, const void *y)
{
    const naive_upd *a = x, *b = y;
    int c = naive_kv_cmp(a, b);
    return c ? c : tide_time_cmp(a->t, b->t);
}

bool naive_consolidated(const naive_trace *out)
{
    naive_upd *u = malloc((out->len + 1) * sizeof *u);
    if (out->len) {
        memcpy(u, out->u, out->len * sizeof *u);
        qsort(u, out->len, sizeof *u, utc);
    }
    bool ok = true;
    for (uint32_t i = 0; i < out->len && ok; i++) {
        char tb[64];
        if (u[i].d == 0) {
            fprintf(stderr, "output update with diff 0 at %s\n", tide_time_fmt(u[i].t, tb, 64));
            ok = false;
        } else if (i > 0 && utc(&u[i - 1], &u[i]) == 0) {
            fprintf(stderr, "duplicate output (key, val, %s)\n", tide_time_fmt(u[i].t, tb, 64));
            ok = false;
        }
    }
    free(u);
    return ok;
}

/* ======================================================================== */
/* Driver                                                                   */
/* ======================================================================== */

static void encode(uint32_t width, uint64_t id, uint8_t *out, uint32_t *len)
{
    if (width == 8) {
        tide_u64_store(out, id);
        *len = 8;
    } else {
        naive_encode(width, id, out, len);
    }
}

/* One random update of @r into the buffers; returns its diff. */
static int64_t random_update(naive_rrun *r, tide_rng *rng, uint8_t *kb, uint32_t *kl, uint8_t *vb,
                             uint32_t *vl)
{
    encode(r->layout.key_width, tide_rng_below(rng, r->keys), kb, kl);
    encode(r->layout.val_width, tide_rng_below(rng, r->vals), vb, vl);
    uint64_t x = tide_rng_below(rng, 10);
    return x < 6 ? 1 : x < 9 ? -1 : 2;
}

/* A worker's recent insertions (encoded), for churn to retract. */
typedef struct churn_hist {
    struct {
        uint8_t k[NAIVE_MAX_BYTES], v[NAIVE_MAX_BYTES];
        uint32_t kl, vl;
        int64_t d;
    } e[64];
    uint32_t n;
} churn_hist;

/* random_update, or with @r->churn percent an exact retraction of a recent
 * insertion (taken out of @h); insertions are remembered while @h has room. */
static int64_t churn_update(naive_rrun *r, churn_hist *h, tide_rng *rng, uint8_t *kb, uint32_t *kl,
                            uint8_t *vb, uint32_t *vl)
{
    if (h->n > 0 && tide_rng_below(rng, 100) < r->churn) {
        uint32_t j = (uint32_t)tide_rng_below(rng, h->n);
        memcpy(kb, h->e[j].k, *kl = h->e[j].kl);
        memcpy(vb, h->e[j].v, *vl = h->e[j].vl);
        int64_t d = -h->e[j].d;
        h->e[j] = h->e[--h->n];
        return d;
    }
    int64_t d = random_update(r, rng, kb, kl, vb, vl);
    if (r->churn && d > 0 && h->n < 64) {
        memcpy(h->e[h->n].k, kb, h->e[h->n].kl = *kl);
        memcpy(h->e[h->n].v, vb, h->e[h->n].vl = *vl);
        h->e[h->n++].d = d;
    }
    return d;
}

/* A source in a loop scope: it holds a random antichain of capabilities,
 * emits updates at random times beyond them, and advances one capability
 * per activation (sometimes splitting it into two incomparable ones). */
typedef struct psrc {
    tide_rng rng;
    naive_rrun *r;
    tide_antichain caps;
} psrc;

static void psrc_free(void *p)
{
    psrc *s = p;
    tide_antichain_fini(&s->caps);
    free(s);
}

static void psrc_schedule(tide_op *op, void *state)
{
    psrc *s = state;
    naive_rrun *r = s->r;
    if (s->caps.len == 0) return;
    uint32_t n = (uint32_t)tide_rng_below(&s->rng, r->per_step + 1);
    for (uint32_t i = 0; i < n; i++) {
        tide_time c = s->caps.elems[tide_rng_below(&s->rng, s->caps.len)];
        tide_time t = c;
        if (tide_rng_below(&s->rng, 2))
            t.epoch += tide_rng_below(&s->rng, NAIVE_MAXE + 1 - c.epoch);
        if (tide_rng_below(&s->rng, 2))
            t.iter[0] += (uint32_t)tide_rng_below(&s->rng, NAIVE_MAXI + 1 - c.iter[0]);
        uint8_t kb[NAIVE_MAX_BYTES], vb[NAIVE_MAX_BYTES];
        uint32_t kl, vl;
        int64_t d = random_update(r, &s->rng, kb, &kl, vb, &vl);
        if (tide_out_push_update(op, 0, c, kb, kl, vb, vl, t, d) < 0) return;
        naive_collect_push(&r->in, kb, kl, vb, vl, t, d);
    }
    tide_out_flush(op);
    uint32_t j = (uint32_t)tide_rng_below(&s->rng, s->caps.len);
    tide_time c = s->caps.elems[j];
    tide_antichain next;
    tide_antichain_init(&next);
    for (uint32_t i = 0; i < s->caps.len; i++)
        if (i != j) tide_antichain_insert(&next, s->caps.elems[i]);
    uint64_t how = tide_rng_below(&s->rng, 3);
    tide_time a = c, b = c;
    a.epoch++;
    b.iter[0]++;
    if (how != 1 && a.epoch <= NAIVE_MAXE) tide_antichain_insert(&next, a);
    if (how != 0 && b.iter[0] <= NAIVE_MAXI) tide_antichain_insert(&next, b);
    for (uint32_t i = 0; i < next.len; i++) {
        bool had = false;
        for (uint32_t k = 0; k < s->caps.len; k++)
            had |= tide_time_eq(next.elems[i], s->caps.elems[k]);
        if (!had && tide_op_hold(op, next.elems[i]) < 0) goto out;
    }
    for (uint32_t k = 0; k < s->caps.len; k++) {
        bool keep = false;
        for (uint32_t i = 0; i < next.len; i++)
            keep |= tide_time_eq(next.elems[i], s->caps.elems[k]);
        if (!keep && tide_op_drop(op, s->caps.elems[k]) < 0) goto out;
    }
    tide_antichain_copy(&s->caps, &next);
    if (s->caps.len) tide_op_activate(op);
out:
    tide_antichain_fini(&next);
}

static int rrun_main(tide_worker *w, void *arg)
{
    naive_rrun *r = arg;
    tide_dataflow *df = tide_dataflow_new(w, "naive_rrun");
    tide_scope *root = tide_dataflow_root(df);
    tide_rng rng = {r->seed ^ (0x9e3779b97f4a7c15ULL * (tide_worker_index(w) + 1))};
    tide_stream *src;
    tide_input *in = NULL;
    if (r->porder) {
        tide_scope *loop = tide_scope_child(root, "loop");
        psrc *s = calloc(1, sizeof *s);
        s->rng = rng;
        s->r = r;
        tide_antichain_init(&s->caps);
        tide_antichain_insert(&s->caps, TIDE_TIME_ZERO);
        uint32_t flags = TIDE_BATCH_UPDATES;
        tide_op_desc d = {.name = "porder_source",
                          .noutputs = 1,
                          .outputs = &r->layout,
                          .out_flags = &flags,
                          .schedule = psrc_schedule,
                          .state = s,
                          .state_free = psrc_free,
                          .initial_capability = true};
        tide_op *op = tide_op_build(loop, &d);
        if (op == NULL) return tide_worker_error(w)->code;
        src = tide_op_output(op, 0);
    } else {
        in = tide_input_new(root, r->layout, TIDE_BATCH_UPDATES, &src);
    }
    tide_stream *out = r->build(r->build_ctx, src);
    if (out == NULL) return tide_worker_error(w)->code ? tide_worker_error(w)->code : TIDE_EINVAL;
    naive_collect_sink(out, &r->out);
    tide_probe *probe = tide_probe_new(out);
    TIDE_TRY(tide_dataflow_seal(df));
    if (in == NULL) return TIDE_OK;
    churn_hist h = {0};
    uint64_t e = 0;
    while (e < r->epochs) {
        uint32_t n = (uint32_t)tide_rng_below(&rng, r->per_step + 1);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t kb[NAIVE_MAX_BYTES], vb[NAIVE_MAX_BYTES];
            uint32_t kl, vl;
            int64_t d = churn_update(r, &h, &rng, kb, &kl, vb, &vl);
            TIDE_TRY(tide_input_update(in, kb, kl, vb, vl, d));
            naive_collect_push(&r->in, kb, kl, vb, vl, tide_time_epoch(e), d);
            if (tide_rng_below(&rng, 16) == 0) TIDE_TRY(tide_worker_step(w)); /* batch cuts */
        }
        e += 1 + (tide_rng_below(&rng, 4) == 0); /* sometimes skip an epoch */
        TIDE_TRY(tide_input_advance_to(in, e));
        uint32_t steps = (uint32_t)tide_rng_below(&rng, 4);
        for (uint32_t s = 0; s < steps; s++) TIDE_TRY(tide_worker_step(w));
        if (tide_rng_below(&rng, 3) == 0)
            TIDE_TRY(tide_worker_step_until(w, probe, tide_time_epoch(e - 1)));
    }
    return tide_input_close(in);
}

int naive_rrun_exec(naive_rrun *r, uint32_t workers, tide_error *e)
{
    naive_collect_init(&r->in);
    naive_collect_init(&r->out);
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = workers;
    cfg.pin = 0;
    return tide_execute(&cfg, rrun_main, r, e);
}

uint32_t naive_rrun_times(const naive_rrun *r, tide_time *out, uint32_t cap)
{
    uint32_t n = 0;
    if (r->porder) {
        for (uint32_t a = 0; a <= NAIVE_MAXE; a++)
            for (uint32_t b = 0; b <= NAIVE_MAXI && n < cap; b++) out[n++] = (tide_time){a, {b, 0}};
    } else {
        for (uint32_t a = 0; a <= r->epochs + 1 && n < cap; a++) out[n++] = tide_time_epoch(a);
    }
    return n;
}
