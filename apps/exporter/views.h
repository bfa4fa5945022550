/*
 * views.h - exporter views: each a table (a tide_row schema plus its SQL
 * column types), a version, and the dataflow that computes its rows from
 * the events. A changed view definition must bump its version: the writer
 * then drops and rebuilds the table (db.h).
 */
#ifndef FX_VIEWS_H
#define FX_VIEWS_H

#include "event.h"

typedef struct fx_view {
    const char *table;
    int version;
    const tide_schema *schema;    /* the row, one field per column */
    const char *const *sql_types; /* per column, e.g. "TEXT NOT NULL" */
    int primary_key;              /* column index, or -1 (rows may repeat) */
    int index_columns;            /* the first N columns are indexed (row deletes) */
} fx_view;

/* A set of views and the function that builds them. */
typedef struct fx_views {
    const fx_view *views;
    int n;
    /*
     * Build every view on @events (a collection of (event row, empty),
     * FX_EVENT) and return one collection of (u8 view index | row, empty):
     * the rows of all tables, tagged. NULL on error (detail on the worker).
     */
    tide_stream *(*build)(tide_stream *events);
} fx_views;

/* The factory views of the Actyx article: dashboard, usage, bookings. */
extern const fx_views FX_FACTORY_VIEWS;

#endif /* FX_VIEWS_H */
