/*
 * export.h - the exporter: event log -> views -> database, exactly once.
 *
 * Global worker 0 reads the log in batches of N events; batch k enters the
 * dataflow at epoch k; the views' changes reach worker 0's sink, which
 * writes each completed epoch's changes and the offsets reached in one
 * transaction. Restart: the stored offsets are read first; every event at
 * or below them is replayed at epoch 0 (rebuilding the dataflow state
 * without writing: those rows are in the tables already), then the rest
 * continues at epochs 1, 2, ... See docs/exporter.md.
 */
#ifndef FX_EXPORT_H
#define FX_EXPORT_H

#include "views.h"

typedef struct fx_export_opts {
    char **events; /* sources (files, directories, "-") */
    int nevents;
    const char *db;        /* sqlite:FILE or postgresql://... */
    const fx_views *views; /* NULL: the factory views */
    uint32_t batch;        /* events per batch / transaction (default 50000) */
    uint32_t inflight;     /* batches in the dataflow at once (0: ~64K events, >= 4) */
    bool follow, skip_bad;
    tide_config cfg;      /* cluster layout */
    uint64_t max_batches; /* stop cleanly after this many new batches (0: all) */
    long crash_at_commit; /* test hook: SIGKILL inside commit number N (0: never) */
} fx_export_opts;

typedef struct fx_export_stats {
    uint64_t events;   /* new events exported */
    uint64_t replayed; /* events replayed to rebuild state (not written) */
    uint64_t batches, commits, rows, skipped;
} fx_export_stats;

void fx_export_opts_init(fx_export_opts *o);

/* Run the export. TIDE_OK, or a code with @e ("FILE:LINE: FIELD: what",
 * "sqlite:FILE: ...", ...). Batches before a bad one are committed. */
int fx_export(const fx_export_opts *o, fx_export_stats *st, tide_error *e);

#endif /* FX_EXPORT_H */
