/*
 * message.h - what travels between workers (internal).
 *
 * Two kinds of message share one FIFO per (sender, receiver) pair, so a
 * progress update can never overtake the data it accounts for:
 *   DATA      a batch for input channel @channel of dataflow @dataflow;
 *   PROGRESS  a batch of pointstamp count changes of @dataflow.
 * Worker indices are global: process p, thread i -> p * threads + i.
 * The payloads are refcounted and immutable once sent (progress batches are
 * broadcast, the same object to every local peer).
 */
#ifndef TIDE_MESSAGE_H
#define TIDE_MESSAGE_H

#include <stdint.h>

#include "tide/batch.h"
#include "tide/time.h"

enum { TIDE__MSG_DATA = 1, TIDE__MSG_PROGRESS = 2 };

/* One pointstamp count change at a location of a dataflow graph. */
typedef struct tide__pointstamp {
    uint32_t node;     /* operator index within the dataflow */
    uint16_t port;     /* port index */
    uint8_t is_source; /* 1: output port (capability), 0: input port (message) */
    uint8_t pad;
    tide_time time;
    int64_t delta;
} tide__pointstamp;

typedef struct tide__progress {
    uint32_t refs; /* atomic */
    uint32_t len;
    tide__pointstamp updates[]; /* len entries */
} tide__progress;

typedef struct tide__msg {
    uint16_t kind; /* TIDE__MSG_* */
    uint16_t pad;
    uint32_t dataflow; /* dataflow index, identical on every worker */
    uint32_t channel;  /* DATA: channel index within the dataflow */
    uint32_t from;     /* global index of the sending worker */
    union {
        tide_batch *batch;        /* DATA: one reference, owned by the message */
        tide__progress *progress; /* PROGRESS: one reference */
    };
} tide__msg;

tide__progress *tide__progress_new(uint32_t len);
tide__progress *tide__progress_ref(tide__progress *p);
void tide__progress_unref(tide__progress *p);

#endif /* TIDE_MESSAGE_H */
