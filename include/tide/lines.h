/*
 * tide/lines.h - read a file or stream in batches of lines, and feed them
 * to an input one epoch per batch.
 *
 * A tide_lines reader returns up to N complete lines per call, each with its
 * 1-based line number, without copying them out of its buffer. With
 * @follow, reaching the end of a file is not the end: a partial last line is
 * held back until its newline arrives (tail -f), so a growing log is read
 * line by line exactly once. Without @follow, a last line lacking its
 * newline is returned as a line.
 *
 * tide_input_lines is the input side: one batch = one epoch, each line a
 * record (key: the line's bytes without the newline; value: its line
 * number, tide_u64_store'd) on an input of layout (TIDE_VAR, 8).
 *
 * Thread-safety: a reader belongs to one thread.
 */
#ifndef TIDE_LINES_H
#define TIDE_LINES_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/error.h"
#include "tide/ops.h"

typedef struct tide_line {
    const char *p;   /* borrowed: valid until the next call on the reader; not NUL-terminated */
    uint32_t len;    /* bytes, without the newline (and without a '\r' before it) */
    uint64_t lineno; /* 1-based */
} tide_line;

typedef struct tide_lines tide_lines;

/*
 * tide_lines_open - a reader of file @path ("-": standard input). @follow:
 * keep reading as the file grows (see above). @path is copied.
 * @return the reader, or NULL with the detail in @e (TIDE_EIO naming the
 * file, TIDE_ENOMEM).
 */
tide_lines *tide_lines_open(const char *path, bool follow, tide_error *e);

/* tide_lines_fdopen - a reader of descriptor @fd (taken: closed by
 * tide_lines_free unless it is 0), named @name in messages. */
tide_lines *tide_lines_fdopen(int fd, const char *name, bool follow, tide_error *e);

/*
 * tide_lines_next - up to @max complete lines into *@lines (an array owned
 * by the reader, borrowed until the next call), their count in *@n. Reads
 * only as much as it needs; never blocks on a regular file.
 * @return TIDE_OK with *n > 0; TIDE_OK with *n == 0 at the end of the
 * input (with @follow: no complete line yet, call again later);
 * TIDE_EIO (message names the file), TIDE_ENOMEM.
 */
int tide_lines_next(tide_lines *r, uint32_t max, const tide_line **lines, uint32_t *n,
                    tide_error *e);

/* True once the input has ended (never with @follow on a regular file). */
bool tide_lines_eof(const tide_lines *r);

/* The name given at open. Borrowed. */
const char *tide_lines_name(const tide_lines *r);

/* Close and free @r (NULL is fine). */
void tide_lines_free(tide_lines *r);

/*
 * tide_input_lines - send the next batch of up to @max lines of @r on @in
 * (layout (TIDE_VAR, 8), plain or UPDATES with diff +1) at its current
 * epoch, then advance @in to the next epoch if any line was sent.
 * @return the number of lines sent (0 at the end or while following), or
 * a negative code with the detail in @e.
 */
int tide_input_lines(tide_input *in, tide_lines *r, uint32_t max, bool updates, tide_error *e);

#endif /* TIDE_LINES_H */
