/*
 * naive_coll.c - brute-force oracle collections and the shared plumbing of
 * the differential operator tests (see naive_coll.h).
 */
#include "naive_coll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void naive_coll_init(naive_coll *c)
{
    memset(c, 0, sizeof *c);
}
void naive_coll_fini(naive_coll *c)
{
    free(c->u);
    memset(c, 0, sizeof *c);
}
void naive_coll_clear(naive_coll *c)
{
    c->len = 0;
}

void naive_coll_add(naive_coll *c, uint64_t k, uint64_t v, tide_time t, int64_t d)
{
    if (c->len == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->u = realloc(c->u, c->cap * sizeof *c->u);
    }
    c->u[c->len++] = (naive_upd){.k = k, .v = v, .t = t, .d = d};
}

static int kv_cmp(const void *a, const void *b)
{
    const naive_upd *x = a, *y = b;
    if (x->k != y->k) return x->k < y->k ? -1 : 1;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return 0;
}

void naive_coll_consolidate(naive_coll *c)
{
    if (c->len == 0) return; /* c->u may be NULL: qsort must not see it */
    qsort(c->u, c->len, sizeof *c->u, kv_cmp);
    size_t w = 0;
    for (size_t i = 0; i < c->len; i++) {
        if (w > 0 && kv_cmp(&c->u[w - 1], &c->u[i]) == 0) {
            c->u[w - 1].d += c->u[i].d;
            continue;
        }
        if (w > 0 && c->u[w - 1].d == 0) w--;
        c->u[w] = c->u[i];
        c->u[w].t = TIDE_TIME_ZERO;
        w++;
    }
    if (w > 0 && c->u[w - 1].d == 0) w--;
    c->len = w;
}

void naive_coll_at(const naive_coll *c, tide_time t, naive_coll *out)
{
    naive_coll_clear(out);
    for (size_t i = 0; i < c->len; i++)
        if (tide_time_le(c->u[i].t, t))
            naive_coll_add(out, c->u[i].k, c->u[i].v, TIDE_TIME_ZERO, c->u[i].d);
    naive_coll_consolidate(out);
}

int64_t naive_coll_count(const naive_coll *c, uint64_t k, uint64_t v)
{
    size_t lo = 0, hi = c->len;
    naive_upd key = {.k = k, .v = v};
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = kv_cmp(&c->u[mid], &key);
        if (r == 0) return c->u[mid].d;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

bool naive_coll_eq(const naive_coll *got, const naive_coll *want, char *why, size_t n)
{
    size_t i = 0, j = 0, off = 0;
    int shown = 0;
    why[0] = 0;
    while ((i < got->len || j < want->len) && shown < 6) {
        int r = i == got->len ? 1 : j == want->len ? -1 : kv_cmp(&got->u[i], &want->u[j]);
        if (r == 0 && got->u[i].d == want->u[j].d) {
            i++, j++;
            continue;
        }
        shown++;
        if (r < 0)
            off += snprintf(why + off, off < n ? n - off : 0, " (%llu,%llu): got %lld want 0;",
                            (unsigned long long)got->u[i].k, (unsigned long long)got->u[i].v,
                            (long long)got->u[i].d),
                i++;
        else if (r > 0)
            off += snprintf(why + off, off < n ? n - off : 0, " (%llu,%llu): got 0 want %lld;",
                            (unsigned long long)want->u[j].k, (unsigned long long)want->u[j].v,
                            (long long)want->u[j].d),
                j++;
        else
            off += snprintf(why + off, off < n ? n - off : 0, " (%llu,%llu): got %lld want %lld;",
                            (unsigned long long)got->u[i].k, (unsigned long long)got->u[i].v,
                            (long long)got->u[i].d, (long long)want->u[j].d),
                i++, j++;
    }
    if (shown && off < n)
        snprintf(why + off, n - off, " [got %zu records, want %zu]", got->len, want->len);
    return shown == 0;
}

/* ---- naive operators -------------------------------------------------------------- */

void naive_join(const naive_coll *a, const naive_coll *b, naive_join_fn f, naive_coll *out)
{
    naive_coll_clear(out);
    for (size_t i = 0; i < a->len; i++)
        for (size_t j = 0; j < b->len; j++)
            if (a->u[i].k == b->u[j].k)
                naive_coll_add(out, a->u[i].k, f(a->u[i].k, a->u[i].v, b->u[j].v), TIDE_TIME_ZERO,
                               a->u[i].d * b->u[j].d);
    naive_coll_consolidate(out);
}

void naive_semijoin(const naive_coll *a, const naive_coll *keys, naive_coll *out)
{
    naive_coll_clear(out);
    for (size_t i = 0; i < a->len; i++) {
        int64_t m = 0;
        for (size_t j = 0; j < keys->len; j++)
            if (keys->u[j].k == a->u[i].k) m += keys->u[j].d;
        if (m > 0) naive_coll_add(out, a->u[i].k, a->u[i].v, TIDE_TIME_ZERO, a->u[i].d);
    }
    naive_coll_consolidate(out);
}

/* Node ids are small in tests: dense arrays up to the largest id. */
static uint64_t max_node(const naive_coll *a, const naive_coll *b)
{
    uint64_t m = 0;
    for (size_t i = 0; a && i < a->len; i++) {
        if (a->u[i].k > m) m = a->u[i].k;
        if (a->u[i].v > m) m = a->u[i].v;
    }
    for (size_t i = 0; b && i < b->len; i++)
        if (b->u[i].k > m) m = b->u[i].k;
    return m + 1;
}

void naive_bfs(const naive_coll *edges, const naive_coll *roots, naive_coll *out)
{
    naive_coll_clear(out);
    uint64_t n = max_node(edges, roots);
    int64_t *dist = malloc(n * sizeof *dist);
    uint64_t *queue = malloc(n * sizeof *queue);
    for (uint64_t i = 0; i < n; i++) dist[i] = -1;
    size_t qh = 0, qt = 0;
    for (size_t i = 0; i < roots->len; i++)
        if (roots->u[i].d > 0 && dist[roots->u[i].k] < 0) {
            dist[roots->u[i].k] = 0;
            queue[qt++] = roots->u[i].k;
        }
    while (qh < qt) {
        uint64_t x = queue[qh++];
        for (size_t i = 0; i < edges->len; i++) /* edges sorted by k: fine for tests */
            if (edges->u[i].k == x && edges->u[i].d > 0 && dist[edges->u[i].v] < 0) {
                dist[edges->u[i].v] = dist[x] + 1;
                queue[qt++] = edges->u[i].v;
            }
    }
    for (uint64_t i = 0; i < n; i++)
        if (dist[i] >= 0) naive_coll_add(out, i, (uint64_t)dist[i], TIDE_TIME_ZERO, 1);
    free(dist);
    free(queue);
    naive_coll_consolidate(out);
}

void naive_reach(const naive_coll *edges, const naive_coll *roots, naive_coll *out)
{
    naive_bfs(edges, roots, out);
    for (size_t i = 0; i < out->len; i++) out->u[i].v = 0;
}

static uint64_t uf_find(uint64_t *p, uint64_t x)
{
    while (p[x] != x) x = p[x] = p[p[x]];
    return x;
}

void naive_cc(const naive_coll *edges, naive_coll *out)
{
    naive_coll_clear(out);
    uint64_t n = max_node(edges, NULL);
    uint64_t *p = malloc(n * sizeof *p);
    bool *present = calloc(n, 1);
    for (uint64_t i = 0; i < n; i++) p[i] = i;
    for (size_t i = 0; i < edges->len; i++) {
        if (edges->u[i].d <= 0) continue;
        uint64_t a = uf_find(p, edges->u[i].k), b = uf_find(p, edges->u[i].v);
        present[edges->u[i].k] = present[edges->u[i].v] = true;
        if (a < b)
            p[b] = a;
        else if (b < a)
            p[a] = b;
    }
    for (uint64_t i = 0; i < n; i++)
        if (present[i]) naive_coll_add(out, i, uf_find(p, i), TIDE_TIME_ZERO, 1);
    free(p);
    free(present);
    naive_coll_consolidate(out);
}

/* ---- schedules ---------------------------------------------------------------------- */

static int sched_cmp(const void *a, const void *b)
{
    const naive_upd *x = a, *y = b;
    if (x->t.epoch != y->t.epoch) return x->t.epoch < y->t.epoch ? -1 : 1;
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    return 0;
}

void naive_gen_schedule(tide_rng *r, const naive_gen *g, naive_coll *out)
{
    naive_coll present; /* records present now, one entry per unit of count */
    naive_coll_init(&present);
    uint64_t epoch = 0;
    size_t start = out->len;
    uint32_t per = g->updates / (g->epochs ? g->epochs : 1) + 1;
    for (uint32_t i = 0; i < g->updates; i++) {
        if (i > 0 && i % per == 0) epoch += 1 + tide_rng_below(r, 3);
        uint32_t group = (uint32_t)tide_rng_below(r, g->groups ? g->groups : 1);
        if (present.len > 0 && tide_rng_below(r, 100) < g->retract) {
            size_t j = tide_rng_below(r, present.len);
            naive_upd p = present.u[j];
            present.u[j] = present.u[--present.len];
            naive_coll_add(out, p.k, p.v, tide_time_epoch(epoch), -1);
        } else {
            uint64_t k = tide_rng_below(r, g->keys), v = g->vals ? tide_rng_below(r, g->vals) : 0;
            naive_coll_add(&present, k, v, TIDE_TIME_ZERO, 1);
            naive_coll_add(out, k, v, tide_time_epoch(epoch), 1);
        }
        out->u[out->len - 1].group = group;
    }
    qsort(out->u + start, out->len - start, sizeof *out->u, sched_cmp);
    naive_coll_fini(&present);
}

size_t naive_epochs(const naive_coll *s, uint64_t *ep)
{
    size_t n = 0;
    for (size_t i = 0; i < s->len; i++) {
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++) seen = ep[j] == s->u[i].t.epoch;
        if (!seen) ep[n++] = s->u[i].t.epoch;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && ep[j - 1] > ep[j]; j--) {
            uint64_t x = ep[j];
            ep[j] = ep[j - 1];
            ep[j - 1] = x;
        }
    return n;
}

int naive_feed(tide_worker *wk, tide_input **inputs, const naive_coll *const *sched,
               const uint32_t *vw, uint32_t nin, tide_probe *probe)
{
    uint32_t me = tide_worker_index(wk), peers = tide_worker_peers(wk);
    size_t pos[8] = {0};
    uint64_t cur = 0;
    for (;;) {
        /* The next epoch any schedule has. */
        bool any = false;
        uint64_t next = UINT64_MAX;
        for (uint32_t i = 0; i < nin; i++)
            if (pos[i] < sched[i]->len) {
                any = true;
                if (sched[i]->u[pos[i]].t.epoch < next) next = sched[i]->u[pos[i]].t.epoch;
            }
        if (!any) break;
        for (uint32_t i = 0; i < nin; i++) TIDE_TRY(tide_input_advance_to(inputs[i], next));
        /* Wait for the previous epoch now and then: varied interleavings. */
        if (probe && next > 0 && (next + me) % 3 == 0)
            TIDE_TRY(tide_worker_step_until(wk, probe, tide_time_epoch(cur)));
        cur = next;
        for (uint32_t g = 0;; g++) {
            bool more = false;
            for (uint32_t i = 0; i < nin; i++) {
                while (pos[i] < sched[i]->len && sched[i]->u[pos[i]].t.epoch == next &&
                       sched[i]->u[pos[i]].group == g) {
                    const naive_upd *u = &sched[i]->u[pos[i]];
                    if (pos[i] % peers == me) {
                        uint8_t k[8], v[8];
                        tide_u64_store(k, u->k);
                        tide_u64_store(v, u->v);
                        TIDE_TRY(tide_input_update(inputs[i], k, 8, v, vw[i], u->d));
                    }
                    pos[i]++;
                }
                if (pos[i] < sched[i]->len && sched[i]->u[pos[i]].t.epoch == next) more = true;
            }
            int rc = tide_worker_step(wk);
            if (rc < 0) return rc;
            if (!more) break;
        }
    }
    for (uint32_t i = 0; i < nin; i++) TIDE_TRY(tide_input_close(inputs[i]));
    return TIDE_OK;
}

void naive_sink_init(naive_sink *s)
{
    pthread_mutex_init(&s->lock, NULL);
    naive_coll_init(&s->got);
}

void naive_sink_fini(naive_sink *s)
{
    pthread_mutex_destroy(&s->lock);
    naive_coll_fini(&s->got);
}

void naive_sink_fn(void *ctx, const tide_batch *b)
{
    naive_sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        const uint8_t *v = tide_batch_val(b, i, &vl);
        naive_coll_add(&s->got, kl >= 8 ? tide_u64_load(k) : 0, vl >= 8 ? tide_u64_load(v) : 0,
                       b->times[i], b->diffs[i]);
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---- one run ------------------------------------------------------------------------ */

typedef struct run_ctx {
    uint32_t nin;
    const naive_coll *const *sched;
    const uint32_t *vw;
    naive_build_fn build;
    void *ctx;
    naive_sink *sink;
} run_ctx;

static int run_main(tide_worker *w, void *arg)
{
    run_ctx *rc = arg;
    tide_dataflow *df = tide_dataflow_new(w, "oracle");
    if (df == NULL) return tide_worker_error(w)->code;
    tide_scope *root = tide_dataflow_root(df);
    tide_input *in[8];
    tide_stream *s[8];
    for (uint32_t i = 0; i < rc->nin; i++) {
        in[i] = tide_input_new(root, tide_layout_make(8, rc->vw[i]), TIDE_BATCH_UPDATES, &s[i]);
        if (in[i] == NULL) return tide_worker_error(w)->code;
    }
    tide_stream *out = rc->build(rc->ctx, root, s);
    if (out == NULL) return tide_worker_error(w)->code;
    tide_sink(out, TIDE_PIPELINE, naive_sink_fn, rc->sink);
    tide_probe *p = tide_probe_new(out);
    if (p == NULL) return tide_worker_error(w)->code;
    TIDE_TRY(tide_dataflow_seal(df));
    return naive_feed(w, in, rc->sched, rc->vw, rc->nin, p);
}

int naive_run(uint32_t workers, uint32_t nin, const naive_coll *const *sched, const uint32_t *vw,
              naive_build_fn build, void *ctx, naive_sink *sink, char *err, size_t errlen)
{
    run_ctx rc = {.nin = nin, .sched = sched, .vw = vw, .build = build, .ctx = ctx, .sink = sink};
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = workers;
    cfg.pin = 0;
    tide_error e = {0};
    int r = tide_execute(&cfg, run_main, &rc, &e);
    if (err) snprintf(err, errlen, "%s", e.msg);
    return r;
}

bool naive_check(const naive_coll *got, uint32_t nin, const naive_coll *const *sched,
                 naive_oracle_fn oracle, void *ctx, char *why, size_t n)
{
    uint64_t last = 0;
    for (uint32_t i = 0; i < nin; i++)
        for (size_t j = 0; j < sched[i]->len; j++)
            if (sched[i]->u[j].t.epoch > last) last = sched[i]->u[j].t.epoch;
    naive_coll at[8], want, have;
    const naive_coll *atp[8];
    for (uint32_t i = 0; i < nin; i++) naive_coll_init(&at[i]), atp[i] = &at[i];
    naive_coll_init(&want);
    naive_coll_init(&have);
    bool ok = true;
    for (uint64_t e = 0; e <= last + 1 && ok; e++) {
        for (uint32_t i = 0; i < nin; i++) naive_coll_at(sched[i], tide_time_epoch(e), &at[i]);
        oracle(ctx, atp, &want);
        naive_coll_at(got, tide_time_epoch(e), &have);
        char buf[768];
        if (!naive_coll_eq(&have, &want, buf, sizeof buf)) {
            snprintf(why, n, "epoch %llu:%s", (unsigned long long)e, buf);
            ok = false;
        }
    }
    for (uint32_t i = 0; i < nin; i++) naive_coll_fini(&at[i]);
    naive_coll_fini(&want);
    naive_coll_fini(&have);
    return ok;
}

bool naive_run_checked(const char *name, uint64_t salt, uint32_t nin, naive_gen g0, naive_gen g1,
                       uint32_t vw1, naive_build_fn build, naive_oracle_fn oracle, char *why,
                       size_t n)
{
    tide_rng r = {tide_test_seed(name, salt)};
    bool ok = true;
    for (uint32_t workers = 1; ok && workers <= 4; workers *= 2) {
        naive_coll s[2];
        naive_coll_init(&s[0]);
        naive_coll_init(&s[1]);
        naive_gen_schedule(&r, &g0, &s[0]);
        if (nin > 1) naive_gen_schedule(&r, &g1, &s[1]);
        const naive_coll *sched[2] = {&s[0], &s[1]};
        uint32_t vw[2] = {8, vw1};
        naive_sink sink;
        naive_sink_init(&sink);
        char err[256], msg[1024];
        if (naive_run(workers, nin, sched, vw, build, NULL, &sink, err, sizeof err) != 0) {
            snprintf(why, n, "%s W=%u: %s", name, workers, err);
            ok = false;
        } else if (sink.got.len == 0) {
            snprintf(why, n, "%s W=%u: no output at all", name, workers);
            ok = false;
        } else if (!naive_check(&sink.got, nin, sched, oracle, NULL, msg, sizeof msg)) {
            snprintf(why, n, "%s W=%u: %s", name, workers, msg);
            ok = false;
        }
        naive_sink_fini(&sink);
        naive_coll_fini(&s[0]);
        naive_coll_fini(&s[1]);
    }
    return ok;
}
