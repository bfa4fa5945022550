/*
 * example.c - a views plugin for tide-export (tide/views.h), built as
 * views/example.so:
 *
 *   tide-export --events f.jsonl --db sqlite:f.db --views build-plain/views/example.so
 *
 * Two tables: how many events of each type the log holds, and how many
 * events each machine (a stream tagged machineFish) logged. One dataflow:
 * events -> flat_map to (view | name) keys -> count -> map to table rows.
 */
#include <string.h>

#include "tide/views.h"

enum { V_TYPES, V_MACHINES };

static const uint8_t COUNT_T[] = {TIDE_FIELD_STR, TIDE_FIELD_I64};
static const char *const TYPES_N[] = {"type", "events"};
static const char *const MACHINES_N[] = {"machine", "events"};
static const char *const COUNT_SQL[] = {"TEXT PRIMARY KEY", "INTEGER NOT NULL"};
static const tide_schema TYPES = {2, COUNT_T, TYPES_N};
static const tide_schema MACHINES = {2, COUNT_T, MACHINES_N};

static const tide_view VIEWS[] = {
    {"event_types", 1, &TYPES, COUNT_SQL, 0, 1, 0},
    {"machine_events", 1, &MACHINES, COUNT_SQL, 0, 1, 0},
};

/* Emit (view | name) for string field @f of event @ev. */
static void emit_key(const tide_row *ev, uint32_t f, uint8_t view, tide_emitter *em)
{
    tide_rowbuf *rb = tide_scratch_rowbuf(0);
    tide_rowbuf scratch;
    tide_rowbuf_init(&scratch);
    uint32_t n;
    const char *s = tide_row_str(ev, f, &n, &scratch);
    if (rb && s && tide_row_put_raw(rb, &view, 1) == TIDE_OK &&
        tide_row_put_raw(rb, s, n) == TIDE_OK)
        tide_emit(em, rb->data, rb->len, NULL, 0);
    tide_rowbuf_fini(&scratch);
}

static void to_keys(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    tide_emitter *em)
{
    tide_row ev;
    if (tide_row_open(&ev, tide_views_event_schema(), k, kl) < 0) return;
    emit_key(&ev, TIDE_EV_TYPE, V_TYPES, em);
    if (tide_views_has_tag(&ev, "machineFish")) emit_key(&ev, TIDE_EV_STREAM, V_MACHINES, em);
}

/* (view | name, count) -> (view | row(name, count)). */
static void to_row(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                   tide_emitter *em)
{
    uint8_t view = k[0];
    tide_rowbuf *rb = tide_scratch_rowbuf(1);
    if (rb == NULL || tide_row_put_raw(rb, &view, 1) < 0) return;
    tide_row_builder b;
    tide_row_begin(&b, VIEWS[view].schema, rb);
    tide_row_add_str(&b, (const char *)k + 1, kl - 1);
    tide_row_add_i64(&b, tide_count_load(v));
    if (tide_row_end(&b) == TIDE_OK) tide_emit(em, rb->data, rb->len, NULL, 0);
}

static tide_stream *build(tide_stream *events)
{
    tide_layout key = tide_layout_make(TIDE_VAR, 0);
    tide_stream *keys = tide_flat_map(events, "keys", key, to_keys, NULL);
    return tide_map(tide_count(keys), "rows", key, to_row, NULL);
}

static const tide_views EXAMPLE = {VIEWS, 2, build, TIDE_VIEWS_ABI};

const tide_views *tide_views_entry(void)
{
    return &EXAMPLE;
}
