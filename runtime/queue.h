/*
 * queue.h - the unbounded single-producer single-consumer message queue
 * that connects two worker threads (internal).
 *
 * A linked list of fixed-size chunks. The producer writes a slot, then
 * publishes it with a release store of its write index; the consumer reads
 * the index with acquire and never touches slots past it. A chunk is freed
 * by the consumer once drained. No locks; one allocation per
 * TIDE__QUEUE_CHUNK messages.
 *
 *   head chunk (consumer)             tail chunk (producer)
 *   [m m m . . . . .] --next--> ... [m m . . . . . .]
 *         ^read                          ^write
 */
#ifndef TIDE_QUEUE_H
#define TIDE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "message.h"

#define TIDE__QUEUE_CHUNK 256

typedef struct tide__qchunk {
    tide__msg slots[TIDE__QUEUE_CHUNK];
    uint32_t written;          /* slots published, atomic (release/acquire) */
    struct tide__qchunk *next; /* atomic; set once by the producer */
} tide__qchunk;

typedef struct tide__queue {
    /* consumer side */
    tide__qchunk *head __attribute__((aligned(64)));
    uint32_t read;
    /* producer side */
    tide__qchunk *tail __attribute__((aligned(64)));
} tide__queue;

int tide__queue_init(tide__queue *q);
/* Drop every queued message (their payloads are unreferenced) and free. */
void tide__queue_fini(tide__queue *q);
/* Producer: append @m. TIDE_OK or TIDE_ENOMEM. */
int tide__queue_push(tide__queue *q, const tide__msg *m);
/* Consumer: take the oldest message into @m; false when empty. */
bool tide__queue_pop(tide__queue *q, tide__msg *m);
/* Consumer (or anyone, racy hint): is there probably something to pop? */
bool tide__queue_peek(tide__queue *q);

#endif /* TIDE_QUEUE_H */
