/*
 * naive_trace.c - the trace oracle (see naive_trace.h). Quadratic-ish and
 * obviously correct: sorts, groups by (key, val), and sums per probe time.
 */
#include "naive_trace.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void naive_init(naive_trace *n)
{
    memset(n, 0, sizeof *n);
}
void naive_fini(naive_trace *n)
{
    free(n->u);
    memset(n, 0, sizeof *n);
}
void naive_clear(naive_trace *n)
{
    n->len = 0;
}

void naive_push(naive_trace *n, const void *k, uint32_t kl, const void *v, uint32_t vl, tide_time t,
                int64_t d)
{
    assert(kl <= NAIVE_MAX_BYTES && vl <= NAIVE_MAX_BYTES);
    if (n->len == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 256;
        n->u = realloc(n->u, n->cap * sizeof *n->u);
        assert(n->u);
    }
    naive_upd *u = &n->u[n->len++];
    memset(u, 0, sizeof *u);
    if (kl) memcpy(u->k, k, kl);
    if (vl) memcpy(u->v, v, vl);
    u->kl = kl, u->vl = vl, u->t = t, u->d = d;
}

int naive_kv_cmp(const naive_upd *a, const naive_upd *b)
{
    int c = tide_bytes_cmp(a->k, a->kl, b->k, b->kl);
    return c ? c : tide_bytes_cmp(a->v, a->vl, b->v, b->vl);
}

static int upd_cmp(const void *x, const void *y)
{
    const naive_upd *a = x, *b = y;
    int c = naive_kv_cmp(a, b);
    return c ? c : tide_time_cmp(a->t, b->t);
}

int64_t naive_accum(const naive_trace *n, const void *k, uint32_t kl, const void *v, uint32_t vl,
                    tide_time t)
{
    int64_t s = 0;
    for (uint32_t i = 0; i < n->len; i++) {
        const naive_upd *u = &n->u[i];
        if (tide_bytes_cmp(u->k, u->kl, k, kl) == 0 && tide_bytes_cmp(u->v, u->vl, v, vl) == 0 &&
            tide_time_le(u->t, t))
            s += u->d;
    }
    return s;
}

typedef struct collect_ctx {
    naive_trace *n;
    const uint8_t *k, *v;
    uint32_t kl, vl;
} collect_ctx;

static void collect(void *ctx, tide_time t, int64_t d)
{
    collect_ctx *c = ctx;
    naive_push(c->n, c->k, c->kl, c->v, c->vl, t, d);
}

void naive_from_cursor(naive_trace *n, tide_cursor *c)
{
    for (; tide_cursor_key_valid(c); tide_cursor_step_key(c)) {
        collect_ctx cc = {n, NULL, NULL, 0, 0};
        cc.k = tide_cursor_key(c, &cc.kl);
        for (; tide_cursor_val_valid(c); tide_cursor_step_val(c)) {
            cc.v = tide_cursor_val(c, &cc.vl);
            tide_cursor_map_times(c, collect, &cc);
        }
    }
}

void naive_consolidate(naive_trace *n)
{
    qsort(n->u, n->len, sizeof *n->u, upd_cmp);
    uint32_t w = 0;
    for (uint32_t r = 0; r < n->len;) {
        naive_upd acc = n->u[r++];
        while (r < n->len && upd_cmp(&n->u[r], &acc) == 0) acc.d += n->u[r++].d;
        if (acc.d) n->u[w++] = acc;
    }
    n->len = w;
}

static int time_cmp_q(const void *x, const void *y)
{
    return tide_time_cmp(*(const tide_time *)x, *(const tide_time *)y);
}

/* Sum of group [i, e) of @n at times <= t. */
static int64_t group_accum(const naive_upd *u, uint32_t i, uint32_t e, tide_time t)
{
    int64_t s = 0;
    for (; i < e; i++)
        if (tide_time_le(u[i].t, t)) s += u[i].d;
    return s;
}

bool naive_equiv(const naive_trace *a, const naive_trace *b, const tide_antichain *since)
{
    /* Probe times: every stored time (and zero) joined with every element. */
    uint32_t nt = a->len + b->len + 1;
    tide_time *base = malloc(nt * sizeof *base);
    uint32_t nb = 0;
    base[nb++] = TIDE_TIME_ZERO;
    for (uint32_t i = 0; i < a->len; i++) base[nb++] = a->u[i].t;
    for (uint32_t i = 0; i < b->len; i++) base[nb++] = b->u[i].t;
    qsort(base, nb, sizeof *base, time_cmp_q);
    uint32_t w = 0;
    for (uint32_t i = 0; i < nb; i++)
        if (w == 0 || !tide_time_eq(base[w - 1], base[i])) base[w++] = base[i];
    nb = w;
    tide_time *probe = malloc((size_t)nb * (since->len ? since->len : 1) * sizeof *probe);
    uint32_t np = 0;
    for (uint32_t i = 0; i < nb; i++)
        for (uint32_t f = 0; f < since->len; f++)
            probe[np++] = tide_time_join(base[i], since->elems[f]);
    qsort(probe, np, sizeof *probe, time_cmp_q);
    w = 0;
    for (uint32_t i = 0; i < np; i++)
        if (w == 0 || !tide_time_eq(probe[w - 1], probe[i])) probe[w++] = probe[i];
    np = w;

    naive_trace sa, sb;
    naive_init(&sa);
    naive_init(&sb);
    for (uint32_t i = 0; i < a->len; i++)
        naive_push(&sa, a->u[i].k, a->u[i].kl, a->u[i].v, a->u[i].vl, a->u[i].t, a->u[i].d);
    for (uint32_t i = 0; i < b->len; i++)
        naive_push(&sb, b->u[i].k, b->u[i].kl, b->u[i].v, b->u[i].vl, b->u[i].t, b->u[i].d);
    if (sa.len) qsort(sa.u, sa.len, sizeof *sa.u, upd_cmp);
    if (sb.len) qsort(sb.u, sb.len, sizeof *sb.u, upd_cmp);

    bool ok = true;
    uint32_t i = 0, j = 0;
    while (ok && (i < sa.len || j < sb.len)) {
        int c = i >= sa.len ? 1 : j >= sb.len ? -1 : naive_kv_cmp(&sa.u[i], &sb.u[j]);
        const naive_upd *g = c <= 0 ? &sa.u[i] : &sb.u[j];
        uint32_t ie = i, je = j;
        while (ie < sa.len && naive_kv_cmp(&sa.u[ie], g) == 0) ie++;
        while (je < sb.len && naive_kv_cmp(&sb.u[je], g) == 0) je++;
        for (uint32_t p = 0; p < np && ok; p++) {
            int64_t x = group_accum(sa.u, i, ie, probe[p]);
            int64_t y = group_accum(sb.u, j, je, probe[p]);
            if (x != y) {
                char tb[64];
                fprintf(stderr, "naive_equiv: key ");
                for (uint32_t q = 0; q < g->kl; q++) fprintf(stderr, "%02x", g->k[q]);
                fprintf(stderr, " val ");
                for (uint32_t q = 0; q < g->vl; q++) fprintf(stderr, "%02x", g->v[q]);
                fprintf(stderr, " at %s: expected %" PRId64 ", trace has %" PRId64 "\n",
                        tide_time_fmt(probe[p], tb, sizeof tb), x, y);
                ok = false;
            }
        }
        i = ie, j = je;
    }
    naive_fini(&sa);
    naive_fini(&sb);
    free(base);
    free(probe);
    return ok;
}

void naive_encode(uint32_t width, uint64_t id, uint8_t *out, uint32_t *len)
{
    if (width != TIDE_VAR) {
        for (uint32_t i = 0; i < width; i++) {
            uint32_t shift = 8 * (width - 1 - i);
            out[i] = shift < 64 ? (uint8_t)(id >> shift) : 0;
        }
        *len = width;
        return;
    }
    uint32_t l = (uint32_t)(id % 11);
    for (uint32_t i = 0; i < l; i++) out[i] = (uint8_t)((id / 11 * 31 + i * 7) % 5);
    *len = l;
}

static bool fail(const char *what, uint32_t i)
{
    fprintf(stderr, "naive_check_batch: %s at %u\n", what, i);
    return false;
}

bool naive_check_batch(const tide_trace_batch *b)
{
    if (b->key_vals[0] != 0 || b->key_vals[b->nkeys] != b->nvals) return fail("key_vals ends", 0);
    if (b->val_upds[0] != 0 || b->val_upds[b->nvals] != b->nupds) return fail("val_upds ends", 0);
    for (uint32_t k = 0; k < b->nkeys; k++) {
        uint32_t l1, l2;
        if (k > 0) {
            const uint8_t *a = tide_trace_batch_key(b, k - 1, &l1),
                          *c = tide_trace_batch_key(b, k, &l2);
            if (tide_bytes_cmp(a, l1, c, l2) >= 0) return fail("keys not increasing", k);
        }
        if (b->key_vals[k + 1] <= b->key_vals[k]) return fail("key without vals", k);
        for (uint32_t v = b->key_vals[k]; v < b->key_vals[k + 1]; v++) {
            if (v > b->key_vals[k]) {
                const uint8_t *a = tide_trace_batch_val(b, v - 1, &l1),
                              *c = tide_trace_batch_val(b, v, &l2);
                if (tide_bytes_cmp(a, l1, c, l2) >= 0) return fail("vals not increasing", v);
            }
            if (b->val_upds[v + 1] <= b->val_upds[v]) return fail("val without updates", v);
            for (uint32_t u = b->val_upds[v]; u < b->val_upds[v + 1]; u++) {
                if (b->upds[u].delta == 0) return fail("zero diff", u);
                if (u > b->val_upds[v] && tide_time_cmp(b->upds[u - 1].time, b->upds[u].time) >= 0)
                    return fail("times not increasing", u);
            }
        }
    }
    return true;
}
