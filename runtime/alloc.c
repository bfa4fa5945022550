/*
 * alloc.c - malloc with a fault-injection countdown for tests.
 * The countdown is one relaxed atomic: zero cost when disabled beyond a load.
 */
#include <stdlib.h>

#include "tide/alloc.h"

static long fail_countdown; /* >0: fail when it reaches zero */
static long fail_count;

static int should_fail(void)
{
    if (__atomic_load_n(&fail_countdown, __ATOMIC_RELAXED) <= 0) return 0;
    if (__atomic_sub_fetch(&fail_countdown, 1, __ATOMIC_RELAXED) == 0) {
        __atomic_add_fetch(&fail_count, 1, __ATOMIC_RELAXED);
        return 1;
    }
    return 0;
}

void *tide_alloc(size_t n)
{
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *tide_calloc(size_t n, size_t size)
{
    if (should_fail()) return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *tide_realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void tide_free(void *p)
{
    free(p);
}

void tide_alloc_fail_after(long n)
{
    __atomic_store_n(&fail_countdown, n, __ATOMIC_RELAXED);
}

long tide_alloc_failures(void)
{
    return __atomic_load_n(&fail_count, __ATOMIC_RELAXED);
}
