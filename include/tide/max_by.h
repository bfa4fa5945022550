/*
 * tide/max_by.h - per key, the value with the greatest (least) ordering key
 * chosen by the user: differential's `group_by(..).max_by(..)` as in the
 * Actyx exporter article (the latest status of each machine by causal time).
 *
 * tide_max and tide_min (tide/collection.h) order values by their bytes; a
 * dashboard row is ordered by a clock that is not its first field, or not
 * in it at all. Here @fn writes, for each (key, value), an ordering key:
 * an encoded row (tide/record.h or tide/row.h) of self-delimiting fields,
 * e.g. (lamport u64, offset u64). Values are ranked by (ordering key,
 * value bytes), so ties are broken deterministically.
 *
 * How: each value is carried as (ordering key | value as an escaped string |
 * u32 length of the
 * ordering key) through tide_max / tide_min (root scope: extremum.c reads
 * only the extreme end of a changed key), then unwrapped. The output is a
 * collection of (key, value) with multiplicity 1 for each key with a
 * positively counted value, of the input's layout.
 */
#ifndef TIDE_MAX_BY_H
#define TIDE_MAX_BY_H

#include "tide/collection.h"

/* Append the ordering key of (@key, @val) to @ord (cleared before the
 * call); return TIDE_OK or a negative code (the operator then fails with
 * it). Must be a pure function of its arguments; runs on every worker. */
typedef int (*tide_order_fn)(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *val,
                             uint32_t vlen, tide_rowbuf *ord);

/*
 * tide_max_by - per key of collection @c, the value whose ordering key is
 * greatest; tide_min_by - least. @ctx is borrowed (must outlive the
 * dataflow). Works in any scope (the root scope takes the fast path).
 * @return the collection, or NULL (detail on the worker).
 */
tide_stream *tide_max_by(tide_stream *c, const char *name, tide_order_fn fn, void *ctx);
tide_stream *tide_min_by(tide_stream *c, const char *name, tide_order_fn fn, void *ctx);

#endif /* TIDE_MAX_BY_H */
