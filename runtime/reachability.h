/*
 * reachability.h - progress tracking over one dataflow graph (internal).
 *
 * The graph is flat: every operator of every nested scope is a node, and the
 * nesting shows only in path summaries (enter = identity, leave = reset of
 * the scope's coordinate, feedback = +k on it). A location is an operator
 * port: a *source* is an output port (where capabilities live), a *target*
 * is an input port (where messages wait).
 *
 * The tracker keeps pointstamp counts per location and, for every target,
 * its "implications": the frontier of times that may still arrive there,
 *
 *   implications(T) = min { s(t) : (L, t) has positive count, s in S(L, T) }
 *
 * where S(L, T) is the antichain of path summaries from L to T (identity for
 * L == T), computed once when the tracker is built. Updates are incremental:
 * only changes of a location's own frontier are pushed along S(L, .).
 *
 * Ownership: the builder is caller-owned (_init/_fini); the tracker is a heap
 * object (_new/_free). Not thread-safe: one tracker per worker per dataflow.
 */
#ifndef TIDE_REACHABILITY_H
#define TIDE_REACHABILITY_H

#include <stdint.h>

#include "tide/error.h"
#include "tide/time.h"

typedef struct tide__reach_node {
    uint32_t ninputs, noutputs;
    tide_summary_set *internal; /* ninputs * noutputs, [i * noutputs + o] */
} tide__reach_node;

typedef struct tide__reach_edge {
    uint32_t src_node, src_port; /* an output port */
    uint32_t dst_node, dst_port; /* an input port */
} tide__reach_edge;

/* Builder: nodes are numbered densely from 0 in the order they are added. */
typedef struct tide__reach_builder {
    tide__reach_node *nodes;
    uint32_t nnodes, node_cap;
    tide__reach_edge *edges;
    uint32_t nedges, edge_cap;
} tide__reach_builder;

void tide__reach_builder_init(tide__reach_builder *b);
void tide__reach_builder_fini(tide__reach_builder *b);

/* Add node @node (must equal the number of nodes so far) with no internal
 * connections. @return TIDE_OK, TIDE_EINVAL, TIDE_ENOMEM. */
int tide__reach_add_node(tide__reach_builder *b, uint32_t node, uint32_t ninputs,
                         uint32_t noutputs);

/* Declare that input @in of @node can produce output at @out transformed by
 * @s (several calls build an antichain). */
int tide__reach_add_summary(tide__reach_builder *b, uint32_t node, uint32_t in, uint32_t out,
                            tide_summary s);

/* Connect output @src_port of @src to input @dst_port of @dst. */
int tide__reach_add_edge(tide__reach_builder *b, uint32_t src, uint32_t src_port, uint32_t dst,
                         uint32_t dst_port);

/* A change of a target's implications frontier. */
typedef struct tide__frontier_change {
    uint32_t node, port; /* the target (input port) */
    tide_time time;
    int64_t delta; /* +1: time entered the frontier, -1: left it */
} tide__frontier_change;

typedef struct tide__tracker tide__tracker;

/*
 * tide__tracker_new - compute all-pairs summaries of @b and an empty tracker.
 * The builder may be finalised afterwards. @e gets the detail on failure
 * (TIDE_EINVAL for an edge to a missing port; TIDE_ENOMEM).
 * @return a new tracker, or NULL.
 */
tide__tracker *tide__tracker_new(const tide__reach_builder *b, tide_error *e);
void tide__tracker_free(tide__tracker *t);

/* Queue a count change at a source (output port) or target (input port).
 * Nothing propagates until tide__tracker_propagate. */
int tide__tracker_update_source(tide__tracker *t, uint32_t node, uint32_t port, tide_time time,
                                int64_t delta);
int tide__tracker_update_target(tide__tracker *t, uint32_t node, uint32_t port, tide_time time,
                                int64_t delta);

/*
 * tide__tracker_propagate - apply queued updates and recompute implications.
 * The frontier changes of all targets since the last call are then readable
 * with tide__tracker_changes until the next propagate. A warm tracker (one
 * whose buffers have grown to the working set) does not allocate here.
 * @return TIDE_OK or TIDE_ENOMEM; after TIDE_ENOMEM the tracker's state is
 * unspecified and it should only be freed.
 */
int tide__tracker_propagate(tide__tracker *t);

/* Frontier changes produced by the last propagate (borrowed). */
const tide__frontier_change *tide__tracker_changes(const tide__tracker *t, uint32_t *n);

/* Current implications of target (@node, input @port) (borrowed). */
const tide_antichain *tide__tracker_frontier(const tide__tracker *t, uint32_t node, uint32_t port);

/* The antichain of path summaries from output @src_port of @src to input
 * @dst_port of @dst (borrowed; empty if unreachable). */
const tide_summary_set *tide__tracker_summaries(const tide__tracker *t, uint32_t src,
                                                uint32_t src_port, uint32_t dst, uint32_t dst_port);

/* True when no location holds a positive count: the dataflow is complete.
 * Queued updates not yet propagated count as activity (conservatively). */
int tide__tracker_is_idle(const tide__tracker *t);

/* The frontier of the pointstamps counted at a location: a source (output
 * @port of @node: capabilities) or a target (input @port: messages not yet
 * consumed). Borrowed; empty for a bad location. For stall diagnosis. */
const tide_antichain *tide__tracker_pointstamps(const tide__tracker *t, uint32_t node,
                                                uint32_t port, int is_source);

/* Debug: print every non-zero pointstamp to stderr. */
void tide__tracker_dump(const tide__tracker *t);

#endif /* TIDE_REACHABILITY_H */
