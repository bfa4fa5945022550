/*
 * event.h - the factory event: its row in the dataflow, its two log formats
 * (JSON Lines, MessagePack), and the checks a logged event must pass.
 *
 * An event (one JSON line or one MessagePack map):
 *   {"stream":"Drill1","offset":0,"lamport":17,"timestamp":1700000000000000,
 *    "tags":["machineFish"],"payload":{"type":"started","order":"4711"}}
 * offset counts from 0 per stream; lamport is the causal clock; timestamp is
 * wall-clock microseconds (skewed between devices). payload.type is
 * required; payload.order/step/machine (strings) and payload.count (an
 * integer) are optional. Tags are joined with ',' in the row (a tag may not
 * contain ',').
 *
 * In the dataflow an event is one row of FX_EVENT (tide/row.h), the key of
 * a (TIDE_VAR, 0) record.
 */
#ifndef FX_EVENT_H
#define FX_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

#include "tide/tide.h"

enum {
    EV_STREAM,
    EV_OFFSET,
    EV_LAMPORT,
    EV_TIMESTAMP,
    EV_TAGS,
    EV_TYPE,
    EV_ORDER,
    EV_STEP,
    EV_MACHINE,
    EV_COUNT,
    EV_NFIELDS
};
extern const tide_schema FX_EVENT;

#define FX_MAX_TAGS 8

/* An event as plain C values (strings NUL-terminated, borrowed). */
typedef struct fx_ev {
    const char *stream;
    uint64_t offset, lamport;
    int64_t timestamp;
    const char *tags[FX_MAX_TAGS];
    int ntags;
    const char *type, *order, *step, *machine; /* order/step/machine may be NULL */
    bool has_count;
    int64_t count;
} fx_ev;

/* Why an event was refused: the field (e.g. "offset", "payload.type",
 * "(line)") and what is wrong with it. */
typedef struct fx_bad {
    char field[32];
    char msg[160];
} fx_bad;

/* Append the row of @ev to @rb. TIDE_OK, TIDE_ENOMEM, or TIDE_EPARSE (a tag
 * with ',' or too many tags; @bad says which). */
int fx_event_row(const fx_ev *ev, tide_rowbuf *rb, fx_bad *bad);

/* Parse one JSON line (@len bytes) into a row appended to @rb: TIDE_OK,
 * TIDE_EPARSE (@bad filled; @rb as it was), TIDE_ENOMEM. */
int fx_event_parse_json(const char *line, size_t len, tide_rowbuf *rb, fx_bad *bad);
/* The same for one unpacked MessagePack object. */
int fx_event_parse_msgpack(const msgpack_object *o, tide_rowbuf *rb, fx_bad *bad);

/* Decode an event row into @ev; strings go into @buf (>= the row's length
 * plus 16 bytes per field) and stay valid while it does. TIDE_EPARSE. */
int fx_event_from_row(const uint8_t *row, uint32_t len, fx_ev *ev, char *buf, size_t cap);

/* Write @ev as one JSON line / one MessagePack map. TIDE_OK or TIDE_EIO. */
int fx_event_write_json(FILE *f, const fx_ev *ev);
int fx_event_write_msgpack(msgpack_packer *pk, const fx_ev *ev);

/* True when the row's tags contain @tag. */
bool fx_row_has_tag(const tide_row *r, const char *tag);

#endif /* FX_EVENT_H */
