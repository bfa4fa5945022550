/*
 * views.h - exporter views: each a table (a tide_row schema plus its SQL
 * column types), a version, and the dataflow that computes its rows from
 * the events. A changed view definition must bump its version: the writer
 * then drops and rebuilds the table (db.h).
 */
#ifndef FX_VIEWS_H
#define FX_VIEWS_H

#include "event.h"
#include "tide/views.h"

/* The views' types are the plugin ABI's (tide/views.h). */
typedef tide_view fx_view;
typedef tide_views fx_views;

/* Load a views plugin (tide/views.h): dlopen @path, call its entry, check
 * its ABI and views; *@handle is its dlopen handle (dlclose it once the
 * views are no longer used, or leave it to the process's exit). NULL with
 * @e (TIDE_EINVAL) on any failure. */
const fx_views *fx_views_load(const char *path, void **handle, tide_error *e);

/* Why the views @v cannot be used (ABI, counts, table and column names,
 * keys), or NULL when they can. fx_views_load checks every plugin so. */
const char *fx_views_check(const tide_views *v);

/* The factory views of the Actyx article: dashboard, usage, bookings. */
extern const fx_views FX_FACTORY_VIEWS;

#endif /* FX_VIEWS_H */
