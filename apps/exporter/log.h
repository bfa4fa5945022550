/*
 * log.h - reading event logs: files, directories (their files in name
 * order) or stdin ("-"), each JSON Lines or MessagePack, detected from its
 * first byte (a MessagePack map header: MessagePack; anything else: JSON). Events are checked
 * (event.h) and each stream's offsets must count up from 0 by one, across all sources.
 *
 * A batch is all-or-nothing: the first bad event fails the call with
 * "FILE:LINE: FIELD: what" (MessagePack: LINE is the record number) unless
 * skip_bad, which logs it to stderr, counts it and goes on. With skip_bad
 * a repeated or backward offset is dropped; a forward skip is counted and
 * logged, and the event kept (the stream continues from it).
 *
 * follow: at the end of every source, wait for more (tail -f); a call then
 * returns the events available now (maybe none).
 */
#ifndef FX_LOG_H
#define FX_LOG_H

#include "event.h"
#include "smap.h"

typedef struct fx_log fx_log;

/* Up to N events as rows: row i is rows.data[ends[i-1] .. ends[i]). */
typedef struct fx_batch {
    tide_rowbuf rows;
    uint32_t *ends;
    uint32_t n, cap;
} fx_batch;

void fx_batch_init(fx_batch *b);
void fx_batch_fini(fx_batch *b);
static inline const uint8_t *fx_batch_row(const fx_batch *b, uint32_t i, uint32_t *len)
{
    uint32_t s = i ? b->ends[i - 1] : 0;
    *len = b->ends[i] - s;
    return b->rows.data + s;
}

/* Open the sources (@paths copied). NULL with @e on error. */
fx_log *fx_log_open(char *const *paths, int npaths, bool follow, bool skip_bad, tide_error *e);
void fx_log_free(fx_log *l);

/*
 * fx_log_next - replace @b's contents with the next up to @max good events.
 * @return their number (0: the end; with follow: nothing new now), or
 * TIDE_EPARSE / TIDE_EIO / TIDE_ENOMEM with @e ("FILE:LINE: FIELD: what").
 */
int fx_log_next(fx_log *l, uint32_t max, fx_batch *b, tide_error *e);

/* Events skipped as bad so far (skip_bad). */
uint64_t fx_log_skipped(const fx_log *l);
/* True when every source has ended (never with follow). */
bool fx_log_done(const fx_log *l);

/* Where a source stands, for snapshots: the byte offset of its next unread
 * record, the records consumed (for error messages), whether it ended. */
typedef struct fx_log_pos {
    uint64_t byte, recno;
    bool done;
} fx_log_pos;

int fx_log_nsources(const fx_log *l);
/* The path of source @i (< fx_log_nsources; directories expanded). */
const char *fx_log_source(const fx_log *l, int i);
/* Fill @pos (fx_log_nsources entries) with every source's position; the
 * source being read (>= 0), or TIDE_EINVAL when one cannot seek (stdin). */
int fx_log_tell(const fx_log *l, fx_log_pos *pos);
/* Go back to positions told by fx_log_tell of the same sources, with
 * stream -> last offset @last (checked against the next events). TIDE_OK,
 * TIDE_EIO or TIDE_ENOMEM with @e. */
int fx_log_seek(fx_log *l, const fx_log_pos *pos, int cur, const fx_smap *last, tide_error *e);

/* Stream -> last offset read so far (the offsets a snapshot holds). */
const fx_smap *fx_log_last(const fx_log *l);

#endif /* FX_LOG_H */
