/*
 * scratch.c - per-thread scratch buffers (tide/scratch.h).
 *
 * The buffers live in thread-local arrays; a pthread key whose destructor
 * frees them is set on a thread's first use, so worker threads leave
 * nothing behind when they exit. Allocation goes through tide_alloc.
 */
#include "tide/scratch.h"

#include <pthread.h>

#include "tide/alloc.h"

typedef struct scratch_set {
    void *buf[TIDE_SCRATCH_SLOTS];
    size_t cap[TIDE_SCRATCH_SLOTS];
    tide_rowbuf rows[TIDE_SCRATCH_SLOTS];
    int registered; /* the key's value is set, so the destructor runs */
} scratch_set;

static __thread scratch_set tls;
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void release(scratch_set *s)
{
    for (unsigned i = 0; i < TIDE_SCRATCH_SLOTS; i++) {
        tide_free(s->buf[i]);
        s->buf[i] = NULL;
        s->cap[i] = 0;
        tide_rowbuf_fini(&s->rows[i]);
    }
}

static void destroy(void *p)
{
    release(p);
}

static void make_key(void)
{
    (void)pthread_key_create(&key, destroy);
}

static void register_thread(void)
{
    if (tls.registered) return;
    pthread_once(&key_once, make_key);
    if (pthread_setspecific(key, &tls) == 0) tls.registered = 1;
}

void *tide_scratch(unsigned slot, size_t n)
{
    if (slot >= TIDE_SCRATCH_SLOTS) return NULL;
    register_thread();
    if (n <= tls.cap[slot]) return tls.buf[slot];
    size_t cap = tls.cap[slot] ? tls.cap[slot] : 256;
    while (cap < n) cap *= 2;
    void *p = tide_realloc(tls.buf[slot], cap);
    if (p == NULL) return NULL;
    tls.buf[slot] = p;
    tls.cap[slot] = cap;
    return p;
}

tide_rowbuf *tide_scratch_rowbuf(unsigned slot)
{
    if (slot >= TIDE_SCRATCH_SLOTS) return NULL;
    register_thread();
    tide_rowbuf_clear(&tls.rows[slot]);
    return &tls.rows[slot];
}

void tide_scratch_release(void)
{
    release(&tls);
}
