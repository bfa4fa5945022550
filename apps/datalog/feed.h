/*
 * feed.h - forms read by worker 0 (from a terminal or from WebSocket
 * clients) handed, in order, to the other workers of the process, so that
 * every worker builds the same dataflows. Single-process only.
 */
#ifndef DL_FEED_H
#define DL_FEED_H

#include <pthread.h>

#include "engine.h"

typedef struct dl_feed {
    pthread_mutex_t mu;
    edn **forms; /* owned: freed by dl_feed_fini */
    size_t n, cap;
    bool closed;
} dl_feed;

void dl_feed_init(dl_feed *f);
void dl_feed_fini(dl_feed *f);
/* Worker 0: append @x (taken). */
void dl_feed_push(dl_feed *f, edn *x);
void dl_feed_close(dl_feed *f);
/* Other workers: run forms from *next on, stepping while none is there;
 * returns when the feed is closed and drained, or on a runtime error. */
int dl_feed_follow(dl_feed *f, dl_engine *g);

#endif
