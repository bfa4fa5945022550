/*
 * window.h - the exporter's --since window: the events whose timestamp lies
 * within a span of the newest timestamp seen so far (the Actyx article's
 * new_limited, made to slide; see docs/exporter.md).
 *
 * The reader feeds every event's timestamp to fx_window_see; an event
 * inside the window is sent and kept here (a copy of its row, in a min-heap
 * by timestamp); as the newest timestamp advances, fx_window_expired hands
 * back the kept events that fell out, for the reader to retract. So after
 * every batch the dataflow's input is exactly
 *     { e in the log prefix : e.timestamp >= newest(prefix) - span },
 * a function of the prefix alone, whatever the batch boundaries. The heap
 * holds the window's events only: memory stays bounded by the window.
 *
 * With span 0 the window is infinite: it keeps every event, which is what a
 * snapshot (snapshot.h) of a run without --since must hold.
 *
 * Not thread-safe: one reader owns a window.
 */
#ifndef FX_WINDOW_H
#define FX_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

typedef struct fx_wev {
    int64_t ts;
    uint32_t len;
    uint8_t *row; /* owned copy */
} fx_wev;

typedef struct fx_window {
    int64_t span;   /* µs; 0: infinite (every event kept: the snapshots' store) */
    int64_t newest; /* the newest timestamp seen (INT64_MIN: none) */
    fx_wev *h;      /* min-heap by ts */
    uint32_t n, cap;
} fx_window;

void fx_window_init(fx_window *w, int64_t span_us);
void fx_window_fini(fx_window *w);

/* Note an event's timestamp (the newest only advances). */
static inline void fx_window_see(fx_window *w, int64_t ts)
{
    if (ts > w->newest) w->newest = ts;
}

/* True when @ts lies inside the window ending at the newest timestamp:
 * ts >= newest - span (a timestamp after the newest is inside). */
static inline bool fx_window_inside(const fx_window *w, int64_t ts)
{
    return w->span <= 0 || w->newest == INT64_MIN || ts >= w->newest - w->span;
}

/* Keep a copy of event row @row (@len bytes, timestamp @ts). TIDE_OK or
 * TIDE_ENOMEM. */
int fx_window_add(fx_window *w, const uint8_t *row, uint32_t len, int64_t ts);

/* Take the kept event with the oldest timestamp if it is now outside the
 * window: true with its row in @out (the caller frees out->row), false when
 * every kept event is inside. */
bool fx_window_expired(fx_window *w, fx_wev *out);

/* Parse a duration "N[s|m|h|d]" (no unit: seconds) into µs. TIDE_OK, or
 * TIDE_EINVAL for anything else (zero, negative, overflow, unknown unit). */
int fx_parse_duration(const char *s, int64_t *us);

#endif /* FX_WINDOW_H */
