/*
 * common.h - what every benchmark shares: clocks, medians, the key=value
 * output line, machine facts, and the generated inputs (text, graphs).
 *
 * Conventions (../shared/STYLE.md): progress to stderr; stdout gets one
 * line per measurement, "bench=NAME key=value ...", ratios beside the
 * absolute figures; a warm-up run, then the median of >= 5 runs.
 */
#ifndef TIDE_BENCH_COMMON_H
#define TIDE_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/* Median (and percentiles) of @n samples; sorts @v in place. */
double bench_median(double *v, size_t n);
double bench_percentile(double *v, size_t n, double p);

/* "cores=2 cpu=\"...\"" for the output line (static buffer). */
const char *bench_machine(void);

/* Seed from BENCH_SEED or @dflt. */
uint64_t bench_seed(uint64_t dflt);

static inline uint64_t bench_rng(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ---- text for word counting ---------------------------------------------------- */

/*
 * bench_text - @nwords words of a Zipf-like vocabulary of @vocab words,
 * lowercase letters, separated by single spaces, a newline every 12 words.
 * Deterministic for a seed. Returns a malloc'd NUL-terminated buffer.
 */
char *bench_text(uint64_t nwords, uint32_t vocab, uint64_t seed, size_t *len);

/* ---- a string -> count table (used by tide's counter and the baseline) ---------- */

typedef struct bench_wordtab {
    uint64_t *hashes; /* 0 = empty slot */
    uint32_t *offs;   /* word start in arena */
    uint32_t *lens;
    uint64_t *counts;
    uint32_t cap, len;
    char *arena;
    size_t arena_len, arena_cap;
} bench_wordtab;

void bench_wordtab_init(bench_wordtab *t);
void bench_wordtab_fini(bench_wordtab *t);
/* Add @n to the count of word @w (@wl bytes) with hash @h. */
void bench_wordtab_add(bench_wordtab *t, const char *w, uint32_t wl, uint64_t h, uint64_t n);
uint64_t bench_wordtab_total(const bench_wordtab *t);

/* ---- ports for multi-process runs ---------------------------------------------- */

/*
 * bench_free_ports - base of @n consecutive loopback TCP ports that bind right
 * now (as tests/support's tide_test_free_ports: a random base in 20000..31999,
 * below the ephemeral range, probed with bind on 127.0.0.1). 0 if 200 tries
 * found none. A port can still be taken between the probe and its use.
 */
uint16_t bench_free_ports(uint32_t n);

#endif /* TIDE_BENCH_COMMON_H */
