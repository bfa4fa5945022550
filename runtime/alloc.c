/*
 * alloc.c - malloc with a fault-injection countdown for tests, and a count
 * of the bytes live through it.
 *
 * The countdown is one relaxed atomic: zero cost when disabled beyond a load.
 * Live bytes (malloc_usable_size of every block) are counted per thread, in
 * a slot of its own (a cache line, written by that thread only, with relaxed
 * stores), so that workers allocating at once never share a counter; a
 * reader sums the slots. A thread that exits folds its slot into a shared
 * total and frees the slot; threads beyond SLOTS use the shared total
 * directly (an atomic add). Blocks may be freed by another thread than the
 * one that allocated them: slots may go negative, the sum stays right.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
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

/* ---- live bytes ------------------------------------------------------------ */

#define SLOTS 128

typedef struct slot {
    long long live; /* written by its thread only */
    char pad[64 - sizeof(long long)];
} slot;

static slot slots[SLOTS] __attribute__((aligned(64)));
static uint32_t slot_taken[SLOTS]; /* atomic */
static long long shared_live;      /* atomic: exited threads and overflow */
static __thread int my_slot;       /* 0: not yet, -1: shared, else index + 1 */
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

static void slot_release(void *p)
{
    int i = (int)(intptr_t)p - 1;
    long long v = __atomic_exchange_n(&slots[i].live, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&shared_live, v, __ATOMIC_RELAXED);
    __atomic_store_n(&slot_taken[i], 0, __ATOMIC_RELEASE);
    my_slot = -1; /* frees in later destructors of this thread go shared */
}

static void slot_init(void)
{
    if (pthread_key_create(&slot_key, slot_release) != 0) slot_key = (pthread_key_t)-1;
}

static int slot_take(void)
{
    pthread_once(&slot_once, slot_init);
    if (slot_key != (pthread_key_t)-1)
        for (int i = 0; i < SLOTS; i++)
            if (!__atomic_load_n(&slot_taken[i], __ATOMIC_RELAXED) &&
                !__atomic_exchange_n(&slot_taken[i], 1, __ATOMIC_ACQUIRE)) {
                if (pthread_setspecific(slot_key, (void *)(intptr_t)(i + 1)) != 0) {
                    __atomic_store_n(&slot_taken[i], 0, __ATOMIC_RELEASE);
                    break;
                }
                return i + 1;
            }
    return -1;
}

static inline void account(long long delta)
{
    if (my_slot == 0) my_slot = slot_take();
    if (my_slot < 0) {
        __atomic_add_fetch(&shared_live, delta, __ATOMIC_RELAXED);
        return;
    }
    slot *s = &slots[my_slot - 1];
    __atomic_store_n(&s->live, __atomic_load_n(&s->live, __ATOMIC_RELAXED) + delta,
                     __ATOMIC_RELAXED);
}

long long tide_alloc_live_bytes(void)
{
    long long sum = __atomic_load_n(&shared_live, __ATOMIC_RELAXED);
    for (int i = 0; i < SLOTS; i++) sum += __atomic_load_n(&slots[i].live, __ATOMIC_RELAXED);
    return sum;
}

/* ---- the allocator ---------------------------------------------------------- */

void *tide_alloc(size_t n)
{
    if (should_fail()) return NULL;
    void *p = malloc(n ? n : 1);
    if (p) account((long long)malloc_usable_size(p));
    return p;
}

void *tide_calloc(size_t n, size_t size)
{
    if (should_fail()) return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p) account((long long)malloc_usable_size(p));
    return p;
}

void *tide_realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    long long old = p ? (long long)malloc_usable_size(p) : 0;
    void *q = realloc(p, n ? n : 1);
    if (q) account((long long)malloc_usable_size(q) - old);
    return q;
}

void tide_free(void *p)
{
    if (p == NULL) return;
    account(-(long long)malloc_usable_size(p));
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
