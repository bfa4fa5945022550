/*
 * snapshot.h - the exporter's snapshots: the dataflow's input at a
 * committed epoch (the events it holds: with --since the window, else every
 * event read), the offsets they cover and where the log's sources stood, so
 * that a restart loads them instead of reading the log up to there.
 *
 * The views are a deterministic function of their input collection, so
 * sending a snapshot's events at epoch 0 rebuilds exactly the state the
 * arrangements had at that epoch (each operator consolidates them again).
 * The file is written whole to PATH.tmp and fsynced by the reader; the
 * writer renames it over PATH once the epoch has committed (rename is
 * atomic), so PATH always holds a snapshot at or below the database's
 * offsets, or none.
 *
 * File (native byte order; a snapshot is read on the machine that wrote it):
 *   "TIDESNP1"  str signature (views' names and versions, window)
 *   i64 since  i64 newest timestamp
 *   u32 sources, i32 current; per source: str path, u64 byte, u64 recno, u8 done
 *   u32 streams; per stream: str name, i64 last offset
 *   u64 events; per event: u32 length, its FX_EVENT row
 *   u64 XXH64 of every byte before it
 * where str is a u32 length and its bytes.
 */
#ifndef FX_SNAPSHOT_H
#define FX_SNAPSHOT_H

#include "log.h"
#include "window.h"

typedef struct fx_snapshot {
    char *signature; /* owned */
    int64_t since, newest;
    int nsrc, cur;
    char **paths;    /* owned, nsrc */
    fx_log_pos *pos; /* owned, nsrc */
    fx_smap offsets; /* stream -> last offset covered */
    fx_batch events; /* the input collection's events */
} fx_snapshot;

void fx_snapshot_init(fx_snapshot *s);
void fx_snapshot_fini(fx_snapshot *s);

/*
 * Write a snapshot to @path (whole, fsynced): the @sig and window of the
 * run, the sources @paths (@nsrc) at @pos / @cur, @offsets and the events
 * kept in @store (their timestamps and the newest). TIDE_OK, or TIDE_EIO /
 * TIDE_ENOMEM with @e.
 */
int fx_snapshot_write(const char *path, const char *sig, char *const *paths, int nsrc,
                      const fx_log_pos *pos, int cur, const fx_smap *offsets,
                      const fx_window *store, tide_error *e);

/* Read and check (magic, lengths, checksum) a snapshot into @s (initialised
 * by the caller). TIDE_OK, TIDE_EIO (missing, unreadable), TIDE_EPARSE
 * (corrupt) or TIDE_ENOMEM, with @e. */
int fx_snapshot_read(const char *path, fx_snapshot *s, tide_error *e);

/* Rename @path.tmp over @path and flush the directory. TIDE_OK or TIDE_EIO. */
int fx_snapshot_publish(const char *path, tide_error *e);

#endif /* FX_SNAPSHOT_H */
