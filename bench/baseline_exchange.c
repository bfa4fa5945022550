/*
 * baseline_exchange.c - the single-threaded floor for moving records to
 * their owners: hash each u64 record with XXH3 and append it to one of
 * @peers destination arrays. Returns the seconds taken.
 */
#include <stdlib.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "baselines.h"

double baseline_exchange(uint64_t n, uint32_t peers)
{
    uint64_t **dst = malloc(peers * sizeof *dst);
    uint64_t *len = calloc(peers, sizeof *len);
    uint64_t chunk = 1 << 16;
    for (uint32_t p = 0; p < peers; p++) dst[p] = malloc(chunk * sizeof(uint64_t));
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t be = __builtin_bswap64(i);
        uint64_t h = XXH3_64bits(&be, 8);
        uint32_t p = (uint32_t)(((unsigned __int128)h * peers) >> 64);
        dst[p][len[p]++ & (chunk - 1)] = be; /* recycle: a consumer would drain it */
    }
    uint64_t t1 = bench_now_ns();
    uint64_t sink = 0;
    for (uint32_t p = 0; p < peers; p++) {
        sink += dst[p][0] + len[p];
        free(dst[p]);
    }
    free(dst);
    free(len);
    if (sink == 42) abort(); /* keep the loop alive */
    return (t1 - t0) / 1e9;
}
