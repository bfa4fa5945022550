/*
 * threshold.c - tide_threshold and tide_distinct: each (key, val) record
 * with multiplicity fn(m) where m is its accumulated multiplicity.
 *
 * Built on tide_reduce over a pair key: each record (key, val) first becomes
 * (pair, empty), the arrangement groups equal pairs, the reduction maps the
 * one multiplicity, and the pairs are split back into (key, val). The pair
 * encoding only has to be injective (order among pairs does not matter):
 *   fixed key:             key ++ val          split after key_width bytes
 *   variable key, fixed val: key ++ val        split val_width from the end
 *   both variable:         key ++ val ++ u32 big-endian key length
 * Negative multiplicities reach fn as they are; distinct keeps a record
 * (once) only while its multiplicity is positive. In the root scope the
 * reduction is total.c's (totally ordered times).
 */
#include "reduce.h"

#include "arrange.h"
#include "diff.h"

#include <string.h>

#include "tide/alloc.h"
#include "worker.h"

typedef struct thr_ctx {
    tide_layout orig;     /* the input's layout */
    tide_threshold_fn fn; /* NULL: distinct */
    void *ctx;
} thr_ctx;

static uint32_t pair_width(tide_layout l)
{
    return l.key_width != TIDE_VAR && l.val_width != TIDE_VAR ? l.key_width + l.val_width
                                                              : TIDE_VAR;
}

static void to_pair(void *p, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    const thr_ctx *t = p;
    uint8_t small[256];
    bool both_var = t->orig.key_width == TIDE_VAR && t->orig.val_width == TIDE_VAR;
    size_t n = (size_t)kl + vl + (both_var ? 4 : 0);
    uint8_t *buf = n <= sizeof small ? small : tide_alloc(n);
    if (buf == NULL) {
        if (em->rc == 0) em->rc = TIDE_ENOMEM;
        return;
    }
    if (kl) memcpy(buf, k, kl);
    if (vl) memcpy(buf + kl, v, vl);
    if (both_var) {
        uint8_t *q = buf + kl + vl;
        q[0] = (uint8_t)(kl >> 24), q[1] = (uint8_t)(kl >> 16), q[2] = (uint8_t)(kl >> 8),
        q[3] = (uint8_t)kl;
    }
    tide_emit(em, buf, (uint32_t)n, NULL, 0);
    if (buf != small) tide_free(buf);
}

static void from_pair(void *p, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                      tide_emitter *em)
{
    const thr_ctx *t = p;
    uint32_t klen;
    if (t->orig.key_width != TIDE_VAR) {
        klen = t->orig.key_width;
        tide_emit(em, k, klen, k + klen, kl - klen);
    } else if (t->orig.val_width != TIDE_VAR) {
        klen = kl - t->orig.val_width;
        tide_emit(em, k, klen, k + klen, t->orig.val_width);
    } else {
        const uint8_t *q = k + kl - 4;
        klen = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        tide_emit(em, k, klen, k + klen, kl - 4 - klen);
    }
}

static void thr_fn(void *p, const uint8_t *key, uint32_t klen, const tide_val_diff *in, uint32_t n,
                   tide_reduce_out *out)
{
    const thr_ctx *t = p;
    tide__diff_sum s = {0, 0};
    for (uint32_t i = 0; i < n; i++) tide__diff_sum_add(&s, in[i].diff);
    if (!tide__diff_sum_ok(&s)) {
        tide__reduce_out_fail(out, TIDE_ERANGE);
        return;
    }
    int64_t m = s.v;
    int64_t r = t->fn ? t->fn(t->ctx, m) : (m > 0 ? 1 : 0);
    if (r != 0) tide_reduce_push(out, NULL, 0, r);
}

static tide_stream *build(tide_stream *c, const char *name, tide_threshold_fn fn, void *ctx)
{
    if (c == NULL) return NULL;
    tide_dataflow *df = tide_stream_scope(c)->df;
    thr_ctx *t = tide_alloc(sizeof *t);
    if (t == NULL || tide__df_own(df, t) < 0) {
        tide__worker_fail(df->w, TIDE_ENOMEM, "out of memory building %s", name);
        return NULL;
    }
    t->orig = tide_stream_layout(c);
    t->fn = fn;
    t->ctx = ctx;
    tide_layout pl = tide_layout_make(pair_width(t->orig), 0);
    tide_stream *pairs = tide_map(c, "to_pair", pl, to_pair, t);
    tide_arranged *a = pairs ? tide_arrange(pairs, name) : NULL;
    tide_stream *s;
    if (a && tide_scope_depth(a->scope) == 0) {
        s = tide__total_build(a, name, false, fn, ctx);
    } else {
        tide_arranged *r = a ? tide_reduce(a, name, 0, thr_fn, t) : NULL;
        s = r ? tide_arranged_stream(r) : NULL;
    }
    return s ? tide_map(s, "from_pair", t->orig, from_pair, t) : NULL;
}

tide_stream *tide_threshold(tide_stream *c, tide_threshold_fn fn, void *ctx)
{
    if (fn == NULL) return NULL;
    return build(c, "threshold", fn, ctx);
}

tide_stream *tide_distinct(tide_stream *c)
{
    return build(c, "distinct", NULL, NULL);
}
