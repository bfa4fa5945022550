/*
 * views_factory.c - the factory views of the Actyx article, written with
 * tide's public API only:
 *
 *   dashboard: filter -> map -> group by machine -> max_by causal time
 *   usage:     filter -> map -> group by machine -> fold in causal order
 *              (pair each 'started' with the next 'stopped' of its order)
 *   bookings:  worker intervals (the same fold per worker) + machine usage
 *              of the step's machines (a join), summed per (order, step,
 *              resource) (tide_sum; a zero total has no row), for steps
 *              reported 'finished' (semijoin)
 *
 * Events are FX_EVENT rows (event.h); view rows are tide_row rows of the
 * table schemas below, tagged with the view's index for the writer.
 */
#include <string.h>

#include "views.h"

enum { V_DASHBOARD, V_USAGE, V_BOOKINGS };

/* ---- tables ------------------------------------------------------------------ */

static const uint8_t DASH_T[] = {TIDE_FIELD_STR, TIDE_FIELD_STR,
                                 TIDE_FIELD_STR | TIDE_FIELD_NULLABLE, TIDE_FIELD_I64};
static const char *const DASH_N[] = {"machine", "state", "manufacturing_order", "since"};
static const char *const DASH_SQL[] = {"TEXT PRIMARY KEY", "TEXT NOT NULL", "TEXT",
                                       "INTEGER NOT NULL"};
static const tide_schema DASH = {4, DASH_T, DASH_N};

static const uint8_t USAGE_T[] = {TIDE_FIELD_STR, TIDE_FIELD_STR | TIDE_FIELD_NULLABLE,
                                  TIDE_FIELD_I64, TIDE_FIELD_I64};
static const char *const USAGE_N[] = {"machine", "manufacturing_order", "started",
                                      "duration_micros"};
static const char *const USAGE_SQL[] = {"TEXT NOT NULL", "TEXT", "INTEGER NOT NULL",
                                        "INTEGER NOT NULL"};
static const tide_schema USAGE = {4, USAGE_T, USAGE_N};

static const uint8_t BOOK_T[] = {TIDE_FIELD_STR, TIDE_FIELD_STR, TIDE_FIELD_STR, TIDE_FIELD_I64};
static const char *const BOOK_N[] = {"manufacturing_order", "step", "resource", "duration_micros"};
static const char *const BOOK_SQL[] = {"TEXT", "TEXT", "TEXT", "INTEGER"};
static const tide_schema BOOK = {4, BOOK_T, BOOK_N};

static const fx_view VIEWS[] = {
    {"dashboard", 1, &DASH, DASH_SQL, 0, 1, 0},
    {"usage", 1, &USAGE, USAGE_SQL, -1, 3, 0},
    /* One row per (order, step, resource) with a non-zero time: a sum
     * per group (version 2: that key, a unique index; no zero rows). */
    {"bookings", 2, &BOOK, BOOK_SQL, -1, 0, 3},
};

/* Intermediate records: an event excerpt, its causal position first. */
static const uint8_t EXC_T[] = {TIDE_FIELD_U64,
                                TIDE_FIELD_U64,
                                TIDE_FIELD_STR,
                                TIDE_FIELD_STR | TIDE_FIELD_NULLABLE,
                                TIDE_FIELD_STR | TIDE_FIELD_NULLABLE,
                                TIDE_FIELD_I64,
                                TIDE_FIELD_STR | TIDE_FIELD_NULLABLE};
static const char *const EXC_N[] = {"lamport", "offset",    "type",   "order",
                                    "step",    "timestamp", "machine"};
static const tide_schema EXCERPT = {7, EXC_T, EXC_N};
enum { X_LAMPORT, X_OFFSET, X_TYPE, X_ORDER, X_STEP, X_TS, X_MACHINE };

/* What an excerpt is for: its last byte, after the row (the article's
 * filters, decided once per event instead of once per view). */
enum { K_MACHINE = 1, K_WORKER = 2, K_FINISHED = 3 };

/* ---- helpers ------------------------------------------------------------------- */

static bool is(const tide_row *r, uint32_t f, const char *s)
{
    return tide_row_str_eq(r, f, s, strlen(s));
}

/* Emit (stream, excerpt of @ev | @kind). */
static void emit_excerpt(const tide_row *ev, uint8_t kind, tide_emitter *em)
{
    uint32_t sl, el;
    const uint8_t *stream = tide_row_fields(ev, EV_STREAM, EV_STREAM + 1, &sl);
    tide_rowbuf *rb = tide_scratch_rowbuf(0);
    tide_row_builder b;
    tide_row_begin(&b, &EXCERPT, rb);
    tide_row_add_u64(&b, tide_row_u64(ev, EV_LAMPORT));
    tide_row_add_u64(&b, tide_row_u64(ev, EV_OFFSET));
    const uint8_t *type = tide_row_fields(ev, EV_TYPE, EV_STEP + 1, &el);
    tide_row_put_raw(rb, type, el); /* type, order, step: same encodings */
    b.next += 3;
    tide_row_add_i64(&b, tide_row_i64(ev, EV_TIMESTAMP));
    const uint8_t *machine = tide_row_fields(ev, EV_MACHINE, EV_MACHINE + 1, &el);
    tide_row_put_raw(rb, machine, el);
    b.next++;
    if (tide_row_end(&b) == TIDE_OK && tide_row_put_raw(rb, &kind, 1) == TIDE_OK)
        tide_emit(em, stream, sl, rb->data, rb->len);
}

/* Emit view row @rb tagged with view @v, as (tag | row, empty). */
static void emit_row(tide_emitter *em, int v, const uint8_t *row, uint32_t len, int64_t diff)
{
    tide_rowbuf *rb = tide_scratch_rowbuf(1);
    uint8_t tag = (uint8_t)v;
    tide_row_put_raw(rb, &tag, 1);
    tide_row_put_raw(rb, row, len);
    tide_emit_diff(em, rb->data, rb->len, NULL, 0, diff);
}

static void str_field(const tide_row *r, uint32_t f, tide_row_builder *b)
{
    uint32_t n;
    tide_rowbuf scratch;
    tide_rowbuf_init(&scratch);
    const char *s = tide_row_str(r, f, &n, &scratch);
    tide_row_add_str(b, s, n);
    tide_rowbuf_fini(&scratch);
}

/* ======================================================================== */
/* dashboard                                                                */
/* ======================================================================== */

/* The excerpt of every event a view uses, classified once. */
static void to_excerpt(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                       tide_emitter *em)
{
    tide_row ev;
    if (tide_row_open(&ev, &FX_EVENT, k, kl) < 0) return;
    bool ss = is(&ev, EV_TYPE, "started") || is(&ev, EV_TYPE, "stopped");
    bool order_step = !tide_row_is_null(&ev, EV_ORDER) && !tide_row_is_null(&ev, EV_STEP);
    if (ss && fx_row_has_tag(&ev, "machineFish"))
        emit_excerpt(&ev, K_MACHINE, em);
    else if (order_step && fx_row_has_tag(&ev, "workerFish"))
        if (ss || is(&ev, EV_TYPE, "finished")) emit_excerpt(&ev, ss ? K_WORKER : K_FINISHED, em);
}

/* Excerpts of one kind (@ctx). */
static bool of_kind(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl)
{
    return vl > 0 && v[vl - 1] == (uint8_t)(uintptr_t)ctx;
}

static tide_stream *kind(tide_stream *excerpts, int k)
{
    return tide_filter(excerpts, "kind", of_kind, (void *)(uintptr_t)k);
}

/* Causal order: (lamport, offset), the excerpt's first two fields. */
static int causal(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                  tide_rowbuf *ord)
{
    return tide_row_put_raw(ord, v, 16);
}

static void to_dashboard_row(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v,
                             uint32_t vl, tide_emitter *em)
{
    tide_row x;
    if (tide_row_open(&x, &EXCERPT, v, vl) < 0) return;
    bool started = is(&x, X_TYPE, "started");
    tide_rowbuf *rb = tide_scratch_rowbuf(2);
    tide_row_builder b;
    tide_row_begin(&b, &DASH, rb);
    tide_row_put_raw(rb, k, kl); /* machine: the key, already a string field */
    b.next = 1;
    tide_row_add_str(&b, started ? "working" : "idle", started ? 7 : 4);
    if (started)
        str_field(&x, X_ORDER, &b);
    else
        tide_row_add_null(&b);
    tide_row_add_i64(&b, tide_row_i64(&x, X_TS));
    if (tide_row_end(&b) == TIDE_OK) emit_row(em, V_DASHBOARD, rb->data, rb->len, em->diff);
}

static tide_stream *dashboard(tide_stream *machines)
{
    tide_stream *latest = tide_max_by(machines, "latest", causal, NULL);
    return tide_map(latest, "dashboard", tide_layout_make(TIDE_VAR, 0), to_dashboard_row, NULL);
}

/* ======================================================================== */
/* usage: pair started/stopped per machine in causal order                  */
/* ======================================================================== */

/* The fold state: the open starts, rows (order, started timestamp). */
static const uint8_t OPEN_T[] = {TIDE_FIELD_STR | TIDE_FIELD_NULLABLE, TIDE_FIELD_I64};
static const char *const OPEN_N[] = {"order", "started"};
static const tide_schema OPEN = {2, OPEN_T, OPEN_N};
/* A worker's: (order, step, started). */
static const uint8_t OPEN_W_T[] = {TIDE_FIELD_STR | TIDE_FIELD_NULLABLE,
                                   TIDE_FIELD_STR | TIDE_FIELD_NULLABLE, TIDE_FIELD_I64};
static const char *const OPEN_W_N[] = {"order", "step", "started"};
static const tide_schema OPEN_W = {3, OPEN_W_T, OPEN_W_N};

/* Find the open start of @order (encoded field bytes) in @state: its offset
 * and length, or false. */
static bool find_open(const tide_rowbuf *state, const tide_schema *s, const uint8_t *order,
                      uint32_t ol, uint32_t *at, uint32_t *len)
{
    for (uint32_t p = 0; p < state->len;) {
        tide_row r;
        if (tide_row_open(&r, s, state->data + p, state->len - p) < 0) return false;
        uint32_t fl;
        const uint8_t *f = tide_row_fields(&r, 0, s->n - 1, &fl);
        if (fl == ol && memcmp(f, order, ol) == 0) {
            *at = p, *len = r.len;
            return true;
        }
        p += r.len;
    }
    return false;
}

/*
 * The article's reduce: a 'started' opens (replaces) its order's interval;
 * a 'stopped' closes it and outputs (machine, order, started, duration).
 * The same step pairs a worker's intervals per (order, step) (@ctx != NULL:
 * the key is then (order | step), and the output a bookings row).
 */
static void pair_intervals(void *ctx, const uint8_t *key, uint32_t klen, tide_rowbuf *state,
                           const uint8_t *v, uint32_t vl, int64_t mult, tide_fold_out *out)
{
    bool worker = ctx != NULL;
    tide_row x;
    if (tide_row_open(&x, &EXCERPT, v, vl) < 0) return;
    uint32_t ol;
    /* The interval's identity: order (machines), order + step (workers). */
    const uint8_t *order = tide_row_fields(&x, X_ORDER, worker ? X_STEP + 1 : X_ORDER + 1, &ol);
    const tide_schema *os = worker ? &OPEN_W : &OPEN;
    uint32_t at, len;
    bool open = find_open(state, os, order, ol, &at, &len);
    int64_t started = 0;
    if (open) {
        tide_row r;
        tide_row_open(&r, os, state->data + at, len);
        started = tide_row_i64(&r, os->n - 1);
        memmove(state->data + at, state->data + at + len, state->len - at - len);
        state->len -= len;
    }
    if (is(&x, X_TYPE, "started")) {
        tide_row_put_raw(state, order, ol); /* (order[, step]) then started */
        tide_row_put_i64(state, tide_row_i64(&x, X_TS));
        return;
    }
    if (!open) return; /* a stop without its start */
    int64_t duration = tide_row_i64(&x, X_TS) - started;
    tide_rowbuf *rb = tide_scratch_rowbuf(3);
    tide_row_builder b;
    if (worker) { /* (order, step, worker, duration) */
        tide_row_begin(&b, &BOOK, rb);
        str_field(&x, X_ORDER, &b);
        str_field(&x, X_STEP, &b);
        tide_row_put_raw(rb, key, klen); /* the worker: the key, a string field */
        b.next = 3;
    } else { /* (machine, order, started, duration) */
        tide_row_begin(&b, &USAGE, rb);
        tide_row_put_raw(rb, key, klen);
        tide_row_put_raw(rb, order, ol);
        b.next = 2;
        tide_row_add_i64(&b, started);
    }
    tide_row_add_i64(&b, duration);
    if (tide_row_end(&b) == TIDE_OK) tide_fold_emit(out, rb->data, rb->len, mult);
}

static tide_stream *usage_by_machine(tide_stream *machines)
{
    return tide_fold(machines, "usage", TIDE_VAR, pair_intervals, NULL);
}

static void to_usage_row(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                         tide_emitter *em)
{
    emit_row(em, V_USAGE, v, vl, em->diff);
}

/* ======================================================================== */
/* bookings                                                                 */
/* ======================================================================== */

/* Worker intervals (order, step, worker, duration) -> ((order, step, worker), i64). */
static void interval_to_sum_input(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v,
                                  uint32_t vl, tide_emitter *em)
{
    tide_row r;
    if (tide_row_open(&r, &BOOK, v, vl) < 0) return;
    uint32_t n;
    const uint8_t *osr = tide_row_fields(&r, 0, 3, &n);
    tide_emit(em, osr, n, r.p + r.off[3], 8);
}

/* Machine usage rows -> ((machine, order), i64 duration). */
static void usage_to_duration(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v,
                              uint32_t vl, tide_emitter *em)
{
    tide_row r;
    if (tide_row_open(&r, &USAGE, v, vl) < 0 || tide_row_is_null(&r, 1)) return;
    uint32_t n;
    const uint8_t *mo = tide_row_fields(&r, 0, 2, &n);
    tide_emit(em, mo, n, r.p + r.off[3], 8);
}

/* A worker's 'started' naming a machine -> ((machine, order), step). */
static void step_machine(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                         tide_emitter *em)
{
    tide_row x;
    if (tide_row_open(&x, &EXCERPT, v, vl) < 0 || !is(&x, X_TYPE, "started") ||
        tide_row_is_null(&x, X_MACHINE))
        return;
    tide_rowbuf *rb = tide_scratch_rowbuf(2);
    uint32_t n;
    const uint8_t *m = tide_row_fields(&x, X_MACHINE, X_MACHINE + 1, &n);
    tide_row_put_raw(rb, m + 1, n - 1); /* machine, without its nullable tag */
    const uint8_t *o = tide_row_fields(&x, X_ORDER, X_ORDER + 1, &n);
    tide_row_put_raw(rb, o, n); /* order, with its tag, as in usage rows */
    uint32_t kl2 = rb->len;
    const uint8_t *s = tide_row_fields(&x, X_STEP, X_STEP + 1, &n);
    tide_row_put_raw(rb, s + 1, n - 1);
    tide_emit(em, rb->data, kl2, rb->data + kl2, rb->len - kl2);
}

/* ((machine, order), duration) x ((machine, order), step) ->
 * ((order, step, machine), duration). */
static void machine_for_step(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *dur,
                             uint32_t dl, const uint8_t *step, uint32_t sl, tide_emitter *em)
{
    static const uint8_t MO_T[] = {TIDE_FIELD_STR, TIDE_FIELD_STR | TIDE_FIELD_NULLABLE};
    static const tide_schema MO = {2, MO_T, OPEN_N};
    tide_row r;
    if (tide_row_open(&r, &MO, key, klen) < 0 || tide_row_is_null(&r, 1)) return;
    tide_rowbuf *rb = tide_scratch_rowbuf(3);
    uint32_t n;
    const uint8_t *o = tide_row_fields(&r, 1, 2, &n);
    tide_row_put_raw(rb, o + 1, n - 1); /* order, untagged */
    tide_row_put_raw(rb, step, sl);
    const uint8_t *m = tide_row_fields(&r, 0, 1, &n);
    tide_row_put_raw(rb, m, n);
    tide_emit(em, rb->data, rb->len, dur, dl);
}

/* A 'finished' excerpt -> ((order, step), empty). */
static void finished_key(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                         tide_emitter *em)
{
    tide_row x;
    if (tide_row_open(&x, &EXCERPT, v, vl) < 0) return;
    tide_rowbuf *rb = tide_scratch_rowbuf(2);
    uint32_t n;
    const uint8_t *o = tide_row_fields(&x, X_ORDER, X_ORDER + 1, &n);
    tide_row_put_raw(rb, o + 1, n - 1);
    const uint8_t *s = tide_row_fields(&x, X_STEP, X_STEP + 1, &n);
    tide_row_put_raw(rb, s + 1, n - 1);
    tide_emit(em, rb->data, rb->len, NULL, 0);
}

/* ((order, step, resource), total) -> ((order, step), bookings row). */
static void to_step_key(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                        tide_emitter *em)
{
    static const uint8_t OS_T[] = {TIDE_FIELD_STR, TIDE_FIELD_STR};
    static const tide_schema OS = {2, OS_T, BOOK_N};
    tide_row r;
    if (tide_row_open(&r, &OS, k, kl) < 0) return;
    tide_rowbuf *rb = tide_scratch_rowbuf(2);
    tide_row_put_raw(rb, k, kl);
    tide_row_put_raw(rb, v, vl);
    tide_emit(em, k, r.len, rb->data, rb->len);
}

static void to_bookings_row(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                            tide_emitter *em)
{
    emit_row(em, V_BOOKINGS, v, vl, em->diff);
}

static tide_stream *bookings(tide_stream *excerpts, tide_stream *usage)
{
    tide_layout kv = tide_layout_make(TIDE_VAR, TIDE_VAR), k8 = tide_layout_make(TIDE_VAR, 8);
    /* Workers: their own intervals per (order, step). */
    tide_stream *wx = kind(excerpts, K_WORKER);
    tide_stream *worker_time = tide_map(tide_fold(wx, "intervals", TIDE_VAR, pair_intervals, "w"),
                                        "worker time", k8, interval_to_sum_input, NULL);
    /* Machines: their usage for the order, for each step run on them. */
    tide_stream *durations = tide_map(usage, "durations", k8, usage_to_duration, NULL);
    tide_stream *steps = tide_distinct(tide_map(wx, "step machines", kv, step_machine, NULL));
    tide_stream *machine_time =
        tide_join(tide_arrange(durations, "durations"), tide_arrange(steps, "steps"),
                  "machine time", k8, machine_for_step, NULL);
    /* Sum per (order, step, resource); keep the steps reported finished. */
    tide_stream *both[2] = {worker_time, machine_time};
    tide_stream *totals = tide_sum(tide_concat(both, 2), "time");
    tide_stream *done = tide_distinct(tide_map(kind(excerpts, K_FINISHED), "finished",
                                               tide_layout_make(TIDE_VAR, 0), finished_key, NULL));
    tide_stream *booked = tide_semijoin(tide_map(totals, "by step", kv, to_step_key, NULL),
                                        tide_arrange(done, "done"));
    return tide_map(booked, "bookings", tide_layout_make(TIDE_VAR, 0), to_bookings_row, NULL);
}

/* ======================================================================== */

static tide_stream *build(tide_stream *events)
{
    tide_stream *excerpts =
        tide_map(events, "excerpt", tide_layout_make(TIDE_VAR, TIDE_VAR), to_excerpt, NULL);
    tide_stream *machines = kind(excerpts, K_MACHINE);
    tide_stream *usage = usage_by_machine(machines);
    tide_stream *rows[3] = {
        dashboard(machines),
        tide_map(usage, "usage", tide_layout_make(TIDE_VAR, 0), to_usage_row, NULL),
        bookings(excerpts, usage),
    };
    for (int i = 0; i < 3; i++)
        if (rows[i] == NULL) return NULL;
    return tide_concat(rows, 3);
}

const fx_views FX_FACTORY_VIEWS = {VIEWS, 3, build, TIDE_VIEWS_ABI};
