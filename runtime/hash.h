/*
 * hash.h - the record hash, inlined for hot loops (internal).
 *
 * tide__hash is XXH3-64 with the default secret and seed 0, compiled inline
 * (XXH_INLINE_ALL) so that a call with a constant length, as in the exchange
 * partition loop, folds down to the few multiplies of that length class.
 * Exactly 8-byte keys (the integer fast path: node ids, u64 keys) take
 * murmur3's 64-bit finalizer instead, a bijective avalanche mix of half
 * XXH3's instructions; those keys are already uniformly spread bits, so
 * mixing is all they need.
 * Invariant: tide__hash(p, n) == tide_hash(p, n) for every input; tide_hash
 * in record.c is this function, out of line.
 */
#ifndef TIDE_HASH_H
#define TIDE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

/* tide__hash - the record hash of @n bytes at @p (see above). */
static inline uint64_t tide__hash(const void *p, size_t n)
{
    if (n == 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ULL;
        x ^= x >> 33;
        return x;
    }
    return (uint64_t)XXH3_64bits(p, n);
}

#endif /* TIDE_HASH_H */
