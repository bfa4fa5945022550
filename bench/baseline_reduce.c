/*
 * baseline_reduce.c - the hand-written baseline for bench_reduce: one
 * thread, a flat per-key table (keys are dense ids), per-epoch change lists.
 */
#include <stdlib.h>
#include <string.h>

#include "baselines.h"

volatile uint64_t baseline_reduce_sink;

uint64_t baseline_reduce(const uint64_t *keys, const uint64_t *vals, uint64_t n, uint32_t nkeys,
                         uint32_t epochs, int op, uint64_t *checksum)
{
    uint64_t *val = calloc(nkeys, sizeof *val);
    uint8_t *has = calloc(nkeys, 1);
    uint32_t *stamp = calloc(nkeys, sizeof *stamp); /* epoch + 1 of the last change */
    uint32_t *changed = malloc(((size_t)nkeys + 1) * sizeof *changed);
    /* The emitted (key, value) outputs, reused epoch to epoch. */
    uint64_t *out = malloc(((size_t)nkeys + 1) * 2 * sizeof *out);
    uint64_t emitted = 0, per = n / epochs + (n % epochs != 0);
    for (uint32_t e = 0; e < epochs; e++) {
        uint64_t lo = (uint64_t)e * per, hi = lo + per < n ? lo + per : n;
        uint32_t nch = 0;
        for (uint64_t i = lo; i < hi; i++) {
            uint64_t k = keys[i];
            uint64_t old = val[k];
            if (op == 0)
                val[k]++;
            else if (!has[k] || vals[i] > val[k])
                val[k] = vals[i];
            has[k] = 1;
            if (val[k] != old && stamp[k] != e + 1) {
                stamp[k] = e + 1;
                changed[nch++] = (uint32_t)k;
            }
        }
        for (uint32_t c = 0; c < nch; c++) {
            out[2 * c] = changed[c];
            out[2 * c + 1] = val[changed[c]];
        }
        emitted += nch;
        if (nch) baseline_reduce_sink += out[2 * nch - 1]; /* keep the outputs live */
    }
    uint64_t sum = 0;
    for (uint32_t k = 0; k < nkeys; k++) sum += val[k];
    *checksum = sum;
    free(val);
    free(has);
    free(stamp);
    free(changed);
    free(out);
    return emitted;
}
