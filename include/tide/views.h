/*
 * tide/views.h - the exporter's views plugin ABI: a user's own SQL views of
 * an event log, computed by tide and kept in sync by tide-export
 * (docs/exporter.md), in a shared object given as `--views PLUGIN.so`.
 *
 * A plugin defines its tables and the dataflow that computes their rows
 * from the events, and exports one function:
 *
 *   const tide_views *tide_views_entry(void);
 *
 * returning a tide_views that lives as long as the process (a static).
 * tide-export dlopens the plugin, calls the entry once, checks .abi ==
 * TIDE_VIEWS_ABI, creates or rebuilds every table (a changed .version drops
 * and rebuilds that table, as for the factory views), and calls .build on
 * every worker while it builds its dataflow. Everything else is the same as
 * for the built-in views: exactly-once transactions with the offsets,
 * restart, --since, snapshots.
 *
 * Linking: build the plugin as a module that does not link libtide itself
 * (CMake: add_library(name MODULE ...), include directory include/): its
 * tide_* calls resolve against the tide-export that loads it, so there is
 * one runtime. apps/views/example.c is a complete plugin (built as
 * views/example.so). Outside the tree, with tide installed:
 *
 *   cc -shared -fPIC $(pkg-config --cflags tide) my_views.c -o my_views.so
 *
 * (only --cflags: the plugin must not link libtide).
 *
 * The events: a collection of (event row, empty) records, layout
 * (TIDE_VAR, 0). An event row is a tide/row.h row of the schema
 * tide_views_event_schema(), fields indexed by TIDE_EV_*:
 *   stream (str), offset (u64), lamport (u64), timestamp (i64, µs since
 *   the epoch), tags (str, joined with ','), type (str), order, step,
 *   machine (str, nullable), count (i64, nullable).
 *
 * The output of .build: one collection of (view index as one byte | the
 * table row, empty) records, layout (TIDE_VAR, 0), where the table row is
 * a tide/row.h row of that view's .schema (one field per column, in column
 * order). Each (row, +1) is an inserted SQL row, (row, -1) a deleted one;
 * a table without a key may hold the same row several times.
 *
 * A key (.primary_key, or the first .key_columns columns) says the view
 * holds at most one row per key, as a grouped aggregate does (a sum per
 * order and step). tide-export then writes a key's changes once per
 * transaction: a row replaced by another with the same key (its -1 and
 * its +1) is one UPDATE of the other columns, not a DELETE and an INSERT
 * (half the b-tree writes, and none in the key's index). A view output
 * that breaks its key (two rows for one key in a transaction) fails the
 * run with the table's name.
 *
 * Threads: .build runs on every worker thread (each builds its own copy of
 * the dataflow) and must use only its arguments and constant data; the
 * functions it hands to operators run on worker threads as documented in
 * tide/ops.h.
 */
#ifndef TIDE_VIEWS_H
#define TIDE_VIEWS_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/tide.h"

/* The ABI version; a plugin built against another one is refused. */
#define TIDE_VIEWS_ABI 2
/* The name of the entry function a plugin exports. */
#define TIDE_VIEWS_ENTRY "tide_views_entry"

/* The fields of an event row (tide_views_event_schema()). */
enum {
    TIDE_EV_STREAM,
    TIDE_EV_OFFSET,
    TIDE_EV_LAMPORT,
    TIDE_EV_TIMESTAMP,
    TIDE_EV_TAGS,
    TIDE_EV_TYPE,
    TIDE_EV_ORDER,
    TIDE_EV_STEP,
    TIDE_EV_MACHINE,
    TIDE_EV_COUNT,
    TIDE_EV_NFIELDS
};

/* One view: an SQL table. */
typedef struct tide_view {
    const char *table;            /* SQL name: letters, digits, '_' */
    int version;                  /* bump when the definition changes */
    const tide_schema *schema;    /* the row, one field per column */
    const char *const *sql_types; /* per column, e.g. "TEXT NOT NULL" */
    /* Column index, or -1. Its SQL type may say PRIMARY KEY (as
     * apps/views/example.c does); if it does not, tide-export adds a
     * UNIQUE index on it. */
    int primary_key;
    int index_columns; /* the first N columns are indexed (row deletes) */
    /* Without a primary key: the first N columns are a unique key (a
     * UNIQUE index on them; index_columns is then ignored), or 0: none,
     * rows may repeat. A plugin with both a primary key and key_columns
     * is refused. ABI 2. */
    int key_columns;
} tide_view;

/* A set of views (at most 255) and the function that builds them. */
typedef struct tide_views {
    const tide_view *views;
    int n;
    /*
     * Build every view on @events (see above) inside @events' dataflow and
     * return the tagged rows of all tables; NULL on error (the detail on
     * the worker, tide_worker_error).
     */
    tide_stream *(*build)(tide_stream *events);
    uint32_t abi; /* TIDE_VIEWS_ABI */
} tide_views;

/* The schema of an event row (provided by tide-export). */
const tide_schema *tide_views_event_schema(void);

/* True when event row @r's tags contain @tag (NUL-terminated). */
bool tide_views_has_tag(const tide_row *r, const char *tag);

#endif /* TIDE_VIEWS_H */
