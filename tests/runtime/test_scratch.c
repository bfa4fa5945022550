/*
 * test_scratch.c - per-thread scratch buffers: contents survive growth and
 * calls, threads never share a buffer, bad slots are refused.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "tide/tide.h"

static void *fill_and_check(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (int round = 0; round < 200; round++) {
        size_t n = 16 + (size_t)round * 97;
        uint8_t *p = tide_scratch(1, n);
        if (p == NULL) return (void *)1;
        if (round > 0 && p[0] != (uint8_t)id) return (void *)2; /* kept, and ours */
        memset(p, (int)id, n);
        tide_rowbuf *rb = tide_scratch_rowbuf(0);
        if (rb == NULL || rb->len != 0) return (void *)3;
        tide_row_put_u64(rb, id);
    }
    return NULL;
}

Test(scratch, per_thread_and_kept)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++) pthread_create(&t[i], NULL, fill_and_check, (void *)(i + 1));
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        cr_assert_null(rc, "thread %d: check %p failed", i, rc);
    }
    cr_assert_null(tide_scratch(TIDE_SCRATCH_SLOTS, 8));
    cr_assert_null(tide_scratch_rowbuf(TIDE_SCRATCH_SLOTS));
    tide_scratch_release();
}
