/*
 * sum.c - tide_sum (tide/collection.h): per key, the sum of its int64
 * values weighted by their multiplicities, at a cost per batch that does
 * not grow with the keys' histories.
 *
 * A general reduce (or a count over (key, value) records) reads every value
 * a key ever had at each change of the key, so summing a growing group
 * costs its whole history per batch. Here each record's value goes into the
 * diff instead (differential's idiom of a sum as a count: a record (k, v)
 * with multiplicity d counts as v * d copies of k), so every key is ONE
 * record in count's arrangement, whose accumulation count_total reads with
 * one seek:
 *
 *   (k, v) @ d  --explode-->  (k, ()) @ v*d  --arrange, count_total-->  (k, sum)
 *
 * Like count, a key whose sum is 0 has no output. (Keeping it would need a
 * second, presence count and a reduce to pair the two: measured on the
 * exporter's bookings, that costs twice the general reduce it replaces.)
 */
#include <stdio.h>
#include <string.h>

#include "diff.h"
#include "reduce.h"
#include "tide/collection.h"
#include "tide/ops.h"

static void explode(void *ctx, const uint8_t *key, uint32_t kl, const uint8_t *val, uint32_t vl,
                    tide_emitter *em)
{
    (void)ctx;
    if (vl != 8) {
        em->rc = tide_op_fail(em->op, TIDE_EINVAL, "sum: a value of %u bytes (expected 8)", vl);
        return;
    }
    int64_t d;
    if (!tide__diff_mul(tide_i64_load(val), em->diff, &d)) {
        em->rc = tide__diff_overflow(em->op, key, kl, em->time, "value times multiplicity");
        return;
    }
    if (d != 0) tide_emit_diff(em, key, kl, NULL, 0, d);
}

tide_stream *tide_sum(tide_stream *c, const char *name)
{
    if (c == NULL) return NULL;
    /* count's own steps, under this operator's name (so a profile or an
     * overflow names the sum): the values are already dropped. */
    const char *n = name ? name : "sum";
    char an[256];
    snprintf(an, sizeof an, "%s: arrange", n);
    tide_layout in = tide_stream_layout(c);
    tide_stream *x = tide_map(c, n, tide_layout_make(in.key_width, 0), explode, NULL);
    return tide__count_arranged(x ? tide_arrange(x, an) : NULL, n);
}
