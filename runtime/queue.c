/*
 * queue.c - unbounded SPSC queue of messages between two threads.
 * See queue.h for the layout and the memory-ordering argument.
 */
#include "queue.h"

#include "tide/alloc.h"
#include "tide/error.h"

static tide__qchunk *chunk_new(void)
{
    tide__qchunk *c = tide_alloc(sizeof *c);
    if (c == NULL) return NULL;
    c->written = 0;
    c->next = NULL;
    return c;
}

int tide__queue_init(tide__queue *q)
{
    tide__qchunk *c = chunk_new();
    if (c == NULL) return TIDE_ENOMEM;
    q->head = q->tail = c;
    q->read = 0;
    return TIDE_OK;
}

static void msg_release(tide__msg *m)
{
    if (m->kind == TIDE__MSG_DATA)
        tide_batch_unref(m->batch);
    else if (m->kind == TIDE__MSG_PROGRESS)
        tide__progress_unref(m->progress);
}

void tide__queue_fini(tide__queue *q)
{
    tide__msg m;
    if (q->head == NULL) return;
    while (tide__queue_pop(q, &m)) msg_release(&m);
    tide_free(q->head);
    q->head = q->tail = NULL;
}

int tide__queue_push(tide__queue *q, const tide__msg *m)
{
    tide__qchunk *t = q->tail;
    uint32_t w = t->written; /* only the producer writes it */
    if (w == TIDE__QUEUE_CHUNK) {
        tide__qchunk *n = chunk_new();
        if (n == NULL) return TIDE_ENOMEM;
        n->slots[0] = *m;
        n->written = 1;
        __atomic_store_n(&t->next, n, __ATOMIC_RELEASE);
        q->tail = n;
        return TIDE_OK;
    }
    t->slots[w] = *m;
    __atomic_store_n(&t->written, w + 1, __ATOMIC_RELEASE);
    return TIDE_OK;
}

bool tide__queue_pop(tide__queue *q, tide__msg *m)
{
    tide__qchunk *h = q->head;
    if (q->read == TIDE__QUEUE_CHUNK) {
        tide__qchunk *n = __atomic_load_n(&h->next, __ATOMIC_ACQUIRE);
        if (n == NULL) return false;
        /* The producer has moved on to n and never touches h again. */
        tide_free(h);
        q->head = h = n;
        q->read = 0;
    }
    if (q->read >= __atomic_load_n(&h->written, __ATOMIC_ACQUIRE)) return false;
    *m = h->slots[q->read++];
    return true;
}

bool tide__queue_peek(tide__queue *q)
{
    tide__qchunk *h = q->head;
    if (q->read == TIDE__QUEUE_CHUNK) return __atomic_load_n(&h->next, __ATOMIC_ACQUIRE) != NULL;
    return q->read < __atomic_load_n(&h->written, __ATOMIC_ACQUIRE);
}
