/*
 * snapshot.h - the exporter's snapshots: the dataflow's operator state at a
 * committed epoch (every worker's tide_dataflow_save, tide/snapshot.h),
 * the offsets it covers, where the log's sources stood and, with --since,
 * the window's events (the reader retracts them later), so that a restart
 * loads the state and reads only the events after it.
 *
 * The file is written whole to PATH.tmp and fsynced by the reader; the
 * writer renames it over PATH once the epoch has committed (rename is
 * atomic), so PATH always holds a snapshot at or below the database's
 * offsets, or none.
 *
 * File (native byte order; a snapshot is read on the machine that wrote it):
 *   "TIDESNP2"  u64 head (the bytes up to the workers' states)
 *   str signature (views' names and versions, window)
 *   i64 since  i64 newest timestamp
 *   u32 sources, i32 current; per source: str path, u64 byte, u64 recno, u8 done
 *   u32 streams; per stream: str name, i64 last offset
 *   u64 events; per event: u32 length, its FX_EVENT row (the window's; none
 *       without --since)
 *   u32 workers (all processes), u32 processes, u64 epoch (the state covers
 *       the epochs before it)
 *   per worker: u64 length of its state
 *   per worker: its tide_dataflow_save bytes
 *   u64 XXH64 of every byte before it
 * where str is a u32 length and its bytes.
 */
#ifndef FX_SNAPSHOT_H
#define FX_SNAPSHOT_H

#include <stdio.h>
#include <sys/types.h>

#include "log.h"
#include "window.h"

typedef struct fx_snapshot {
    char *signature; /* owned */
    int64_t since, newest;
    int nsrc, cur;
    char **paths;    /* owned, nsrc */
    fx_log_pos *pos; /* owned, nsrc */
    fx_smap offsets; /* stream -> last offset covered */
    fx_batch events; /* the window's events (--since) */
    uint32_t workers, processes;
    uint64_t epoch;      /* the state covers the epochs before it */
    uint64_t *state_off; /* per worker: where its saved state lies in the file */
    uint64_t *state_len; /* per worker */
    uint64_t end;        /* where the states end (the checksum follows) */
    dev_t dev;           /* the file checked (fx_snapshot_open opens the same) */
    ino_t ino;
} fx_snapshot;

void fx_snapshot_init(fx_snapshot *s);
void fx_snapshot_fini(fx_snapshot *s);

/* What a snapshot holds besides the log's state: the dataflow's. */
typedef struct fx_snap_state {
    uint32_t workers, processes;
    uint64_t epoch;
    char *const *state;      /* per worker: tide_dataflow_save's bytes (borrowed) */
    const size_t *state_len; /* per worker */
} fx_snap_state;

/*
 * Write a snapshot to @path.tmp (whole, fsynced): the @sig and window of
 * the run, the sources @paths (@nsrc) at @pos / @cur, @offsets, the events
 * kept in @store (their timestamps and the newest) and the workers' state
 * @ds. Its size in bytes goes to *@bytes. TIDE_OK, or TIDE_EIO /
 * TIDE_ENOMEM with @e.
 */
int fx_snapshot_write(const char *path, const char *sig, char *const *paths, int nsrc,
                      const fx_log_pos *pos, int cur, const fx_smap *offsets,
                      const fx_window *store, const fx_snap_state *ds, uint64_t *bytes,
                      tide_error *e);

/* Read and check (magic, lengths, checksum) a snapshot into @s (initialised
 * by the caller): everything but the workers' states, whose place in the
 * file it notes. TIDE_OK, TIDE_EIO (missing, unreadable), TIDE_EPARSE
 * (corrupt) or TIDE_ENOMEM, with @e. */
int fx_snapshot_read(const char *path, fx_snapshot *s, tide_error *e);

/* The file of the snapshot @s read from @path, positioned at @worker's
 * state (for tide_dataflow_load), or NULL with @e when it is not the file
 * that was checked any more. The caller closes it. */
FILE *fx_snapshot_open(const char *path, const fx_snapshot *s, uint32_t worker, tide_error *e);

/* Rename @path.tmp over @path and flush the directory. TIDE_OK or TIDE_EIO. */
int fx_snapshot_publish(const char *path, tide_error *e);

#endif /* FX_SNAPSHOT_H */
