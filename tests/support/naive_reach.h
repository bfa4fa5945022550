/*
 * naive_reach.h - brute-force oracle for progress tracking.
 *
 * Given the same builder the tracker is built from and a list of pointstamps,
 * it explores (location, time) states explicitly, one edge or one internal
 * summary at a time, instead of composing path summaries. The frontier of a
 * target is the set of minimal times found there. It shares no code with
 * runtime/reachability.c and does not use tide_summary_apply/then or the
 * antichain code, so a bug there cannot hide itself.
 */
#ifndef NAIVE_REACH_H
#define NAIVE_REACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reachability.h"
#include "tide_test.h"

typedef struct naive_pointstamp {
    uint32_t node, port;
    bool source; /* output port (true) or input port (false) */
    tide_time time;
    int64_t count; /* only positive counts matter */
} naive_pointstamp;

/* Targets numbered node by node, input by input (as the tracker does). */
uint32_t naive_reach_ntargets(const tide__reach_builder *b);
uint32_t naive_reach_target_index(const tide__reach_builder *b, uint32_t node, uint32_t port);

/* naive_apply - one summary on one time, exactly; false on overflow. */
bool naive_apply(tide_summary s, tide_time t, tide_time *out);

/*
 * naive_reach_frontiers - for every target T, into out[T] (caller-initialised
 * antichains, cleared here), the minimal times that can arrive at T from the
 * positive pointstamps of @ps. @return 0, or -1 if the search exceeded its
 * state budget (a graph with a non-increasing cycle).
 */
int naive_reach_frontiers(const tide__reach_builder *b, const naive_pointstamp *ps, size_t n,
                          tide_antichain *out);

/*
 * naive_reach_step - one random move from (*node, *port, *source, *time):
 * along an edge from a source, or through an internal summary from a target.
 * @return false (state unchanged) when there is no move.
 */
bool naive_reach_step(const tide__reach_builder *b, tide_rng *rng, uint32_t *node, uint32_t *port,
                      bool *source, tide_time *time);

#endif /* NAIVE_REACH_H */
