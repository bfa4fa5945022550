/*
 * export.h - the exporter: event log -> views -> database, exactly once.
 *
 * Global worker 0 reads the log in batches of N events; batch k enters the
 * dataflow at epoch k; the views' changes reach worker 0's sink, which
 * writes each completed epoch's changes and the offsets reached in one
 * transaction. Restart: the stored offsets are read first; the dataflow's
 * state is loaded from the snapshot when there is a good one (--snapshot-
 * every), then every event at or below the offsets and after the
 * snapshot's is replayed at epoch 0 (1 after a load), rebuilding state
 * without writing (those rows are in the tables already), then the rest
 * continues at the epochs after it. See docs/exporter.md.
 */
#ifndef FX_EXPORT_H
#define FX_EXPORT_H

#include "views.h"

typedef struct fx_export_opts {
    char **events; /* sources (files, directories, "-") */
    int nevents;
    const char *db;        /* sqlite:FILE or postgresql://... */
    const fx_views *views; /* NULL: the factory views */
    void *views_dl;        /* a plugin's dlopen handle (fx_views_load), or NULL */
    uint32_t batch;        /* events per batch / transaction (default 50000) */
    uint32_t inflight;     /* batches in the dataflow at once (0: ~64K events, >= 4) */
    bool follow, skip_bad;
    int64_t since_us;        /* --since: the window in µs (0: every event; window.h) */
    uint32_t snapshot_every; /* --snapshot-every N: a snapshot every N epochs (0: none) */
    const char *snapshot;    /* --snapshot PATH (NULL: FILE.snapshot beside sqlite:FILE) */
    tide_config cfg;         /* cluster layout */
    uint64_t max_batches;    /* stop cleanly after this many new batches (0: all) */
    long crash_at_commit;    /* test hook: SIGKILL inside commit number N (0: never) */
} fx_export_opts;

typedef struct fx_export_stats {
    uint64_t events;   /* new events exported */
    uint64_t replayed; /* events replayed to rebuild state (not written) */
    uint64_t batches, commits, rows, skipped;
    uint64_t snapshot_events;   /* window events loaded from a snapshot at start (--since) */
    uint64_t snapshots;         /* snapshots published */
    uint64_t restored;          /* 1: the dataflow's state was loaded from a snapshot */
    uint64_t fed;               /* events sent into the dataflow (replayed or new) */
    uint64_t snapshots_taken;   /* snapshots the workers saved (published or not) */
    uint64_t snapshot_us;       /* time the reader spent taking them (drain + write) */
    uint64_t snapshot_write_us; /* of which writing the files (and fsync) */
    uint64_t snapshot_bytes;    /* size of the last one written */
} fx_export_stats;

void fx_export_opts_init(fx_export_opts *o);

/*
 * Parse tide-export's arguments (after the cluster flags) into @o, whose
 * events array is allocated (free o->events; the paths are argv's).
 * TIDE_OK, 1 for --help, or TIDE_EINVAL / TIDE_ENOMEM with @e.
 */
int fx_export_args(int argc, char **argv, fx_export_opts *o, tide_error *e);

/* The one-line summary of a run ("N new event(s) in B batch(es): ..."), into @buf. */
void fx_export_summary(const fx_export_stats *st, char *buf, size_t cap);

/*
 * The run in three steps, for a host that runs the workers itself (the
 * cluster job): fx_export_begin prepares the run of this process (process
 * o->cfg.process: the database is opened on process 0; @o must outlive the
 * run), fx_export_worker is the body of every worker, fx_export_end ends
 * the run (after every worker of the process is done) and frees it.
 */
typedef struct ex fx_run;
int fx_export_begin(const fx_export_opts *o, fx_run **run, tide_error *e);
int fx_export_worker(tide_worker *w, fx_run *run);
int fx_export_end(fx_run *run, int rc, fx_export_stats *st, tide_error *e);

/* Run the export. TIDE_OK, or a code with @e ("FILE:LINE: FIELD: what",
 * "sqlite:FILE: ...", ...). Batches before a bad one are committed. */
int fx_export(const fx_export_opts *o, fx_export_stats *st, tide_error *e);

#endif /* FX_EXPORT_H */
