/*
 * tide_test.h - shared test support: seeded randomness and two-sided asserts.
 *
 * Every randomized test takes its seed from tide_test_seed(), which prints it
 * (so a failure can be replayed) and honours TIDE_SEED=<n> from the
 * environment. The generator is xorshift64*: small, fast, reproducible.
 */
#ifndef TIDE_TEST_H
#define TIDE_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* tide_test_seed - TIDE_SEED if set, else a fixed per-test default mixed
 * with @salt; printed to stderr as "seed=<n> (<name>)". */
static inline uint64_t tide_test_seed(const char *name, uint64_t salt)
{
    const char *env = getenv("TIDE_SEED");
    uint64_t s =
        env ? strtoull(env, NULL, 0) : 0x9e3779b97f4a7c15ULL ^ (salt * 0xff51afd7ed558ccdULL);
    if (s == 0) s = 1;
    fprintf(stderr, "seed=%llu (%s) replay with TIDE_SEED=%llu\n", (unsigned long long)s, name,
            (unsigned long long)s);
    return s;
}

typedef struct tide_rng {
    uint64_t s;
} tide_rng;

static inline uint64_t tide_rng_next(tide_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n). */
static inline uint64_t tide_rng_below(tide_rng *r, uint64_t n)
{
    return n ? tide_rng_next(r) % n : 0;
}

/*
 * TIDE_TEST_EXECUTE - run @fn(worker, @arg) on @nworkers unpinned threads of
 * one process and assert that the run succeeded, naming its error if not.
 * A macro so that the assertion (Criterion's, or the TSan shim's) belongs to
 * the calling test; the caller includes tide/tide.h and criterion.
 */
#define TIDE_TEST_EXECUTE(nworkers, fn, arg)                                                       \
    do {                                                                                           \
        tide_config cfg_;                                                                          \
        tide_config_init(&cfg_);                                                                   \
        cfg_.workers = (nworkers);                                                                 \
        cfg_.pin = 0;                                                                              \
        tide_error e_ = {0};                                                                       \
        cr_assert_eq(tide_execute(&cfg_, (fn), (arg), &e_), TIDE_OK, "%s", e_.msg);                \
    } while (0)

#endif /* TIDE_TEST_H */
