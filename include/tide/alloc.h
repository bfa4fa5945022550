/*
 * tide/alloc.h - the one allocator every part of tide goes through.
 *
 * It is malloc underneath, plus a fault-injection hook so that tests can
 * fail the Nth allocation and check that every caller returns TIDE_ENOMEM
 * cleanly (SQLite's faultsim idea). tide_free(NULL) is a no-op.
 * Thread-safety: all functions may be called from any thread.
 */
#ifndef TIDE_ALLOC_H
#define TIDE_ALLOC_H

#include <stddef.h>

/* tide_alloc - @n bytes, uninitialised; NULL when out of memory. */
void *tide_alloc(size_t n);

/* tide_calloc - @n * @size zeroed bytes; NULL on overflow or out of memory. */
void *tide_calloc(size_t n, size_t size);

/* tide_realloc - resize @p to @n bytes; on failure NULL and @p is untouched. */
void *tide_realloc(void *p, size_t n);

/* tide_free - release @p; NULL is fine. */
void tide_free(void *p);

/*
 * tide_alloc_fail_after - test hook: the @n-th allocation from now fails
 * (1 = the next one), and every later one succeeds. 0 disables the hook.
 */
void tide_alloc_fail_after(long n);

/* tide_alloc_failures - how many allocations the hook has failed so far. */
long tide_alloc_failures(void);

/*
 * tide_alloc_live_bytes - bytes currently allocated through this allocator
 * by every thread (usable sizes, so a little above what was asked). Cheap
 * per allocation (a thread-local counter); the sum is exact when no other
 * thread allocates meanwhile. For tests and benchmarks of memory release.
 */
long long tide_alloc_live_bytes(void);

#endif /* TIDE_ALLOC_H */
