/*
 * topk.c - tide_min, tide_max, tide_top_k: per key, extreme values in the
 * record order (memcmp of the value bytes), built on tide_reduce.
 *
 * Only values with a positive accumulated multiplicity count; values with a
 * negative one (a retraction ahead of its insertion) are ignored, as if
 * absent. min and max output their value with multiplicity 1; top_k outputs
 * each of the k least such values with its own multiplicity. In the root
 * scope (totally ordered times) extremum.c computes the same without
 * reading every value of a changed key.
 */
#include "reduce.h"

#include "arrange.h"

#include "tide/alloc.h"
#include "worker.h"

void tide__min_fn(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in, uint32_t n,
                  tide_reduce_out *out)
{
    for (uint32_t i = 0; i < n; i++)
        if (in[i].diff > 0) {
            tide_reduce_push(out, in[i].val, in[i].len, 1);
            return;
        }
}

void tide__max_fn(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in, uint32_t n,
                  tide_reduce_out *out)
{
    for (uint32_t i = n; i-- > 0;)
        if (in[i].diff > 0) {
            tide_reduce_push(out, in[i].val, in[i].len, 1);
            return;
        }
}

void tide__top_k_fn(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in,
                    uint32_t n, tide_reduce_out *out)
{
    uint32_t k = *(const uint32_t *)ctx, taken = 0;
    for (uint32_t i = 0; i < n && taken < k; i++)
        if (in[i].diff > 0) {
            tide_reduce_push(out, in[i].val, in[i].len, in[i].diff);
            taken++;
        }
}

/* @desc, @k, @mult: the same reduction as extremum.c states it. */
static tide_stream *by_key(tide_stream *c, const char *name, tide_reduce_fn fn, void *ctx,
                           bool desc, uint32_t k, bool mult)
{
    if (c == NULL) return NULL;
    tide_arranged *a = tide_arrange(c, name);
    if (a && tide_scope_depth(a->scope) == 0) return tide__extremum_build(a, name, desc, k, mult);
    tide_arranged *r = a ? tide_reduce(a, name, tide_stream_layout(c).val_width, fn, ctx) : NULL;
    return r ? tide_arranged_stream(r) : NULL;
}

tide_stream *tide_min(tide_stream *c)
{
    return by_key(c, "min", tide__min_fn, NULL, false, 1, false);
}

tide_stream *tide_max(tide_stream *c)
{
    return by_key(c, "max", tide__max_fn, NULL, true, 1, false);
}

tide_stream *tide_top_k(tide_stream *c, uint32_t k)
{
    if (c == NULL) return NULL;
    tide_dataflow *df = tide_stream_scope(c)->df;
    uint32_t *kp = tide_alloc(sizeof *kp);
    if (kp == NULL || tide__df_own(df, kp) < 0) {
        tide__worker_fail(df->w, TIDE_ENOMEM, "out of memory building top_k");
        return NULL;
    }
    *kp = k;
    return by_key(c, "top_k", tide__top_k_fn, kp, false, k, true);
}
