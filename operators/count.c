/*
 * count.c - tide_count: per key, the sum of the multiplicities of all its
 * records, as an i64 value (tide_i64_store), for keys where it is not 0.
 *
 * Built on tide_reduce: the value is dropped first (each record becomes
 * (key, empty)), so the arrangement holds one value per key and the
 * reduction reads one accumulated multiplicity instead of every value. In
 * the root scope (totally ordered times) the reduction is total.c's.
 */
#include "reduce.h"

#include "arrange.h"
#include "diff.h"

#include "tide/record.h"
#include "worker.h"

void tide__count_fn(void *ctx, const uint8_t *key, uint32_t klen, const tide_val_diff *in,
                    uint32_t n, tide_reduce_out *out)
{
    tide__diff_sum sum = {0, 0};
    for (uint32_t i = 0; i < n; i++) tide__diff_sum_add(&sum, in[i].diff);
    if (!tide__diff_sum_ok(&sum)) {
        tide__reduce_out_fail(out, TIDE_ERANGE);
        return;
    }
    if (sum.v == 0) return;
    uint8_t v[TIDE_I64_SIZE];
    tide_i64_store(v, sum.v);
    tide_reduce_push(out, v, sizeof v, 1);
}

static void drop_val(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                     tide_emitter *em)
{
    tide_emit(em, k, kl, NULL, 0);
}

tide_stream *tide__count_arranged(tide_arranged *a, const char *name)
{
    if (a && tide_scope_depth(a->scope) == 0) return tide__total_build(a, name, true, NULL, NULL);
    tide_arranged *r = a ? tide_reduce(a, name, TIDE_I64_SIZE, tide__count_fn, NULL) : NULL;
    return r ? tide_arranged_stream(r) : NULL;
}

tide_stream *tide_count(tide_stream *c)
{
    if (c == NULL) return NULL;
    tide_layout keys = tide_layout_make(tide_stream_layout(c).key_width, 0);
    tide_stream *k = tide_map(c, "count_keys", keys, drop_val, NULL);
    return tide__count_arranged(k ? tide_arrange(k, "count_arrange") : NULL, "count");
}
