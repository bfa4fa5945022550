/*
 * common.h - what the test job plugins share: the random sequence that both
 * a job and its test's oracle generate from a seed (xorshift64*, as
 * tests/support/tide_test.h), and a printer of (key, val, diff) updates.
 */
#ifndef TIDE_TEST_JOBS_COMMON_H
#define TIDE_TEST_JOBS_COMMON_H

#include <stdint.h>

#include "tide/job.h"
#include "tide/tide.h"

static inline uint64_t job_rng(uint64_t *s)
{
    uint64_t x = *s ? *s : 1;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Update i of the sequence of @seed: key in [0, keys), val in [0, 8), diff
 * +1 or (one in four) -1. The caller walks i = 0, 1, ... with one state. */
static inline void job_update(uint64_t *s, uint64_t keys, uint64_t *key, uint64_t *val,
                              int64_t *diff)
{
    *key = job_rng(s) % keys;
    *val = job_rng(s) % 8;
    *diff = job_rng(s) % 4 == 0 ? -1 : 1;
}

/* Print every update of a (u64 key, i64 count) collection as "K C D". */
static inline void job_print_counts(void *ctx, const tide_batch *b)
{
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        const uint8_t *v = tide_batch_val(b, i, &vl);
        tide_job_printf(ctx, "%llu %lld %lld\n", (unsigned long long)tide_u64_load(k),
                        (long long)tide_i64_load(v), (long long)b->diffs[i]);
    }
}

#endif
