/*
 * feed.h - the forms read by global worker 0 (from a terminal or from
 * WebSocket clients) delivered, in order, to every other worker of every
 * process, so that every worker builds the same dataflows.
 *
 * The forms travel on tide's own data plane: a small command dataflow,
 * built first on every worker, whose input lives on worker 0 (one record
 * of EDN text per command, one epoch per command) and whose stream is
 * BROADCAST to every worker, where a sink keeps each command under its
 * epoch. A follower runs the commands in epoch order (one per epoch, so a
 * command present is complete). Worker 0 sends a command before it runs
 * it: running a transaction waits for every worker to have run it too.
 * The last command is an end marker, after which worker 0 closes the input.
 */
#ifndef DL_FEED_H
#define DL_FEED_H

#include "engine.h"

typedef struct dl_cmd {
    uint64_t epoch;
    char *text; /* "F<forms>" or "E" (the end) */
    size_t len;
} dl_cmd;

typedef struct dl_feed {
    tide_worker *w;
    uint32_t index;
    tide_input *in;
    uint64_t epoch; /* worker 0: the next command's epoch */
    dl_cmd *cmds;   /* followers: received, not yet run */
    size_t n, cap;
    edn **kept; /* every form run here: the engine borrows them */
    size_t nkept, capkept;
    bool oom;
} dl_feed;

/* Build the command dataflow on @w (every worker, before any other). */
int dl_feed_open(dl_feed *f, tide_worker *w);
/* After dl_engine_fini: free the kept forms and unrun commands. */
void dl_feed_fini(dl_feed *f);
/* Keep @x (taken) alive as long as the feed (the engine borrows it). */
int dl_feed_keep(dl_feed *f, edn *x);
/* Worker 0: send the EDN text of one or more forms as the next command. */
int dl_feed_push(dl_feed *f, const char *text, size_t len);
/* Worker 0: send the end marker and close the input. */
int dl_feed_close(dl_feed *f);
/* Followers: run the commands in order, stepping while none is there;
 * returns at the end marker, or on a runtime error. */
int dl_feed_follow(dl_feed *f, dl_engine *g);

#endif
