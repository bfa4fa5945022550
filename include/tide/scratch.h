/*
 * tide/scratch.h - per-worker scratch space for user functions.
 *
 * A reduce, fold or map function is called many times per batch and often
 * needs a temporary array (open intervals, a small map, a decoded string).
 * Allocating it per call costs more than the function; a buffer in @ctx
 * would be shared by every worker thread. tide_scratch hands out buffers
 * owned by the calling thread (every worker is one thread), kept and grown
 * across calls, so a function can use them without locks or allocation.
 *
 * Thread-safety: each thread has its own buffers; never pass one to another
 * thread. They are freed when the thread exits, or by tide_scratch_release.
 */
#ifndef TIDE_SCRATCH_H
#define TIDE_SCRATCH_H

#include <stddef.h>

#include "tide/record.h"

/* Independent buffers per thread: slots 0 .. TIDE_SCRATCH_SLOTS-1. Slots
 * 0-3 are the user's; 4-7 belong to tide's own operators. */
#define TIDE_SCRATCH_SLOTS 8

/*
 * tide_scratch - this thread's buffer @slot, at least @n bytes. Its
 * contents are kept when it grows (like realloc) and between calls.
 * @return the buffer (borrowed: valid until the next tide_scratch of the
 * same slot on this thread), or NULL when out of memory or @slot is out of
 * range (the old buffer then stays as it was).
 */
void *tide_scratch(unsigned slot, size_t n);

/* tide_scratch_rowbuf - this thread's row buffer @slot (a separate set of
 * TIDE_SCRATCH_SLOTS buffers), cleared; NULL if @slot is out of range. */
tide_rowbuf *tide_scratch_rowbuf(unsigned slot);

/* tide_scratch_release - free this thread's buffers now (e.g. before a
 * leak check on the main thread); later calls allocate afresh. */
void tide_scratch_release(void);

#endif /* TIDE_SCRATCH_H */
