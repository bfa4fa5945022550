/*
 * diff.h - checked arithmetic on diffs (int64 multiplicities), shared by the
 * collection operators (operators/), the trace layer (operators/trace/) and
 * the record-at-a-time built-ins (runtime/ops/).
 *
 * The rule (tide/collection.h): diffs are int64; every sum and product of
 * diffs is checked, and one that does not fit fails the run with
 * TIDE_ERANGE naming the operator. Products and single differences are
 * checked as they are computed. A sum of many diffs (a consolidation, an
 * accumulation at a time) is checked on its exact total, not on the partial
 * sums of whatever order the terms came in: tide__diff_sum counts how often
 * the int64 sum wrapped, so MAX + 2 - 5 is fine and MAX + 2 is not, in any
 * order and at any worker count.
 *
 * Every check is one add/mul plus a jump on the overflow flag, marked
 * unlikely, so hot loops keep their shape.
 */
#ifndef TIDE_DIFF_H
#define TIDE_DIFF_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/dataflow.h"
#include "tide/time.h"

#define TIDE__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* tide__diff_add - *@r = @a + @b; false when that overflows int64. */
static inline bool tide__diff_add(int64_t a, int64_t b, int64_t *r)
{
    return !TIDE__UNLIKELY(__builtin_add_overflow(a, b, r));
}

/* tide__diff_sub - *@r = @a - @b; false when that overflows int64. */
static inline bool tide__diff_sub(int64_t a, int64_t b, int64_t *r)
{
    return !TIDE__UNLIKELY(__builtin_sub_overflow(a, b, r));
}

/* tide__diff_mul - *@r = @a * @b; false when that overflows int64. */
static inline bool tide__diff_mul(int64_t a, int64_t b, int64_t *r)
{
    return !TIDE__UNLIKELY(__builtin_mul_overflow(a, b, r));
}

/*
 * An exact sum of diffs: the int64 sum modulo 2^64 in @v, and in @wraps how
 * many times 2^64 it is short of the true total. The total fits int64 iff
 * wraps == 0, and is then @v (the wrapped sum of in-range terms is exact
 * whenever the true total is in range).
 */
typedef struct tide__diff_sum {
    int64_t v;     /* the sum, modulo 2^64 */
    int64_t wraps; /* true total = v + wraps * 2^64 */
} tide__diff_sum;

/* tide__diff_sum_add - add @d to @s. */
static inline void tide__diff_sum_add(tide__diff_sum *s, int64_t d)
{
    if (TIDE__UNLIKELY(__builtin_add_overflow(s->v, d, &s->v))) s->wraps += d < 0 ? -1 : 1;
}

/* tide__diff_sum_ok - the total fits int64 (it is then s->v). */
static inline bool tide__diff_sum_ok(const tide__diff_sum *s)
{
    return s->wraps == 0;
}

/*
 * tide__diff_key_fmt - key bytes (@key, @klen) for an error message, into
 * @buf (@size bytes, >= 48): an 8-byte key as the u64 it stores
 * (tide_u64_store), others as hex (the first 16 bytes, then "..").
 * Returns @buf.
 */
char *tide__diff_key_fmt(const uint8_t *key, uint32_t klen, char *buf, unsigned long size);

/*
 * tide__diff_overflow - fail @op with TIDE_ERANGE: "diff overflow at key K,
 * time T: @what" (tide_op_fail prefixes the operator's name). @key may be
 * NULL (no key known). Returns TIDE_ERANGE.
 */
int tide__diff_overflow(tide_op *op, const uint8_t *key, uint32_t klen, tide_time t,
                        const char *what);

/*
 * tide__diff_strerror - tide_strerror(@rc), but for TIDE_ERANGE from the
 * trace layer (a seal or merge whose sums leave int64) a message that says
 * so, for operators that fail with the code a trace call returned.
 */
const char *tide__diff_strerror(int rc);

#endif /* TIDE_DIFF_H */
