/*
 * hash.h - the record hash, inlined for hot loops (internal).
 *
 * tide__hash is XXH3-64 with the default secret and seed 0, compiled inline
 * (XXH_INLINE_ALL) so that a call with a constant length, as in the exchange
 * partition loop, folds down to the few multiplies of that length class.
 * Invariant: tide__hash(p, n) == tide_hash(p, n) for every input; tide_hash
 * in record.c is this function, out of line.
 */
#ifndef TIDE_HASH_H
#define TIDE_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

/* tide__hash - XXH3-64 of @n bytes at @p (seed 0). */
static inline uint64_t tide__hash(const void *p, size_t n)
{
    return (uint64_t)XXH3_64bits(p, n);
}

#endif /* TIDE_HASH_H */
