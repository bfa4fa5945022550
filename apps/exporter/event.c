/*
 * event.c - factory events: rows, JSON Lines (jansson) and MessagePack
 * (msgpack-c) parsing with per-field checks, and the two writers.
 *
 * Parsing never writes a partial row: a refused event leaves the row buffer
 * at its old length.
 */
#include "event.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <string.h>

static const uint8_t EV_TYPES[EV_NFIELDS] = {
    TIDE_FIELD_STR,
    TIDE_FIELD_U64,
    TIDE_FIELD_U64,
    TIDE_FIELD_I64,
    TIDE_FIELD_STR,
    TIDE_FIELD_STR,
    TIDE_FIELD_STR | TIDE_FIELD_NULLABLE,
    TIDE_FIELD_STR | TIDE_FIELD_NULLABLE,
    TIDE_FIELD_STR | TIDE_FIELD_NULLABLE,
    TIDE_FIELD_I64 | TIDE_FIELD_NULLABLE,
};
static const char *const EV_NAMES[EV_NFIELDS] = {
    "stream", "offset", "lamport", "timestamp", "tags", "type", "order", "step", "machine", "count",
};
const tide_schema FX_EVENT = {EV_NFIELDS, EV_TYPES, EV_NAMES};

__attribute__((format(printf, 3, 4))) static int refuse(fx_bad *bad, const char *field,
                                                        const char *fmt, ...)
{
    snprintf(bad->field, sizeof bad->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bad->msg, sizeof bad->msg, fmt, ap);
    va_end(ap);
    return TIDE_EPARSE;
}

int fx_event_row(const fx_ev *ev, tide_rowbuf *rb, fx_bad *bad)
{
    uint32_t start = rb->len;
    char tags[512];
    size_t tl = 0;
    if (ev->ntags > FX_MAX_TAGS) return refuse(bad, "tags", "more than %d tags", FX_MAX_TAGS);
    for (int i = 0; i < ev->ntags; i++) {
        size_t n = strlen(ev->tags[i]);
        if (strchr(ev->tags[i], ',') || n == 0)
            return refuse(bad, "tags", "tag %d is empty or contains ','", i);
        if (tl + n + 1 >= sizeof tags) return refuse(bad, "tags", "tags too long");
        if (i) tags[tl++] = ',';
        memcpy(tags + tl, ev->tags[i], n);
        tl += n;
    }
    tide_row_builder b;
    tide_row_begin(&b, &FX_EVENT, rb);
    tide_row_add_str(&b, ev->stream, strlen(ev->stream));
    tide_row_add_u64(&b, ev->offset);
    tide_row_add_u64(&b, ev->lamport);
    tide_row_add_i64(&b, ev->timestamp);
    tide_row_add_str(&b, tags, tl);
    tide_row_add_str(&b, ev->type, strlen(ev->type));
    tide_row_add_str(&b, ev->order, ev->order ? strlen(ev->order) : 0);
    tide_row_add_str(&b, ev->step, ev->step ? strlen(ev->step) : 0);
    tide_row_add_str(&b, ev->machine, ev->machine ? strlen(ev->machine) : 0);
    if (ev->has_count)
        tide_row_add_i64(&b, ev->count);
    else
        tide_row_add_null(&b);
    int rc = tide_row_end(&b);
    if (rc < 0) rb->len = start;
    return rc;
}

/* ======================================================================== */
/* JSON                                                                     */
/* ======================================================================== */

static int json_u64(json_t *o, const char *name, uint64_t *v, fx_bad *bad)
{
    json_t *x = json_object_get(o, name);
    if (x == NULL) return refuse(bad, name, "missing");
    if (!json_is_integer(x)) return refuse(bad, name, "not an integer");
    if (json_integer_value(x) < 0) return refuse(bad, name, "negative");
    *v = (uint64_t)json_integer_value(x);
    return TIDE_OK;
}

static int json_str(json_t *o, const char *name, const char *field, bool required, const char **s,
                    fx_bad *bad)
{
    json_t *x = json_object_get(o, name);
    *s = NULL;
    if (x == NULL) return required ? refuse(bad, field, "missing") : TIDE_OK;
    if (!json_is_string(x)) return refuse(bad, field, "not a string");
    if (strlen(json_string_value(x)) != json_string_length(x))
        return refuse(bad, field, "contains a NUL character");
    *s = json_string_value(x);
    if (required && **s == 0) return refuse(bad, field, "empty");
    return TIDE_OK;
}

static int json_event(json_t *o, fx_ev *ev, fx_bad *bad)
{
    if (!json_is_object(o)) return refuse(bad, "(line)", "not a JSON object");
    TIDE_TRY(json_str(o, "stream", "stream", true, &ev->stream, bad));
    TIDE_TRY(json_u64(o, "offset", &ev->offset, bad));
    TIDE_TRY(json_u64(o, "lamport", &ev->lamport, bad));
    json_t *ts = json_object_get(o, "timestamp");
    if (ts == NULL) return refuse(bad, "timestamp", "missing");
    if (!json_is_integer(ts)) return refuse(bad, "timestamp", "not an integer");
    ev->timestamp = json_integer_value(ts);
    json_t *tags = json_object_get(o, "tags");
    if (tags == NULL) return refuse(bad, "tags", "missing");
    if (!json_is_array(tags)) return refuse(bad, "tags", "not an array");
    if (json_array_size(tags) > FX_MAX_TAGS)
        return refuse(bad, "tags", "more than %d tags", FX_MAX_TAGS);
    ev->ntags = (int)json_array_size(tags);
    for (int i = 0; i < ev->ntags; i++) {
        json_t *t = json_array_get(tags, (size_t)i);
        if (!json_is_string(t)) return refuse(bad, "tags", "tag %d is not a string", i);
        ev->tags[i] = json_string_value(t);
    }
    json_t *p = json_object_get(o, "payload");
    if (p == NULL) return refuse(bad, "payload", "missing");
    if (!json_is_object(p)) return refuse(bad, "payload", "not an object");
    TIDE_TRY(json_str(p, "type", "payload.type", true, &ev->type, bad));
    TIDE_TRY(json_str(p, "order", "payload.order", false, &ev->order, bad));
    TIDE_TRY(json_str(p, "step", "payload.step", false, &ev->step, bad));
    TIDE_TRY(json_str(p, "machine", "payload.machine", false, &ev->machine, bad));
    json_t *c = json_object_get(p, "count");
    ev->has_count = c != NULL;
    if (c && !json_is_integer(c)) return refuse(bad, "payload.count", "not an integer");
    ev->count = c ? json_integer_value(c) : 0;
    return TIDE_OK;
}

int fx_event_parse_json(const char *line, size_t len, tide_rowbuf *rb, fx_bad *bad)
{
    json_error_t err;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (o == NULL) return refuse(bad, "(line)", "not JSON: %s (column %d)", err.text, err.column);
    fx_ev ev = {0};
    int rc = json_event(o, &ev, bad);
    if (rc == TIDE_OK) rc = fx_event_row(&ev, rb, bad);
    json_decref(o);
    return rc;
}

/* ======================================================================== */
/* MessagePack                                                              */
/* ======================================================================== */

static const msgpack_object *mp_get(const msgpack_object *m, const char *name)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, name, n) == 0)
            return &m->via.map.ptr[i].val;
    }
    return NULL;
}

/* A msgpack string as a NUL-terminated copy in @buf (advanced). */
static int mp_str(const msgpack_object *m, const char *name, const char *field, bool required,
                  const char **s, char **buf, char *end, fx_bad *bad)
{
    const msgpack_object *x = mp_get(m, name);
    *s = NULL;
    if (x == NULL) return required ? refuse(bad, field, "missing") : TIDE_OK;
    if (x->type != MSGPACK_OBJECT_STR) return refuse(bad, field, "not a string");
    uint32_t n = x->via.str.size;
    if (memchr(x->via.str.ptr, 0, n)) return refuse(bad, field, "contains a NUL character");
    if (required && n == 0) return refuse(bad, field, "empty");
    if (*buf + n + 1 > end) return refuse(bad, field, "too long");
    if (n) memcpy(*buf, x->via.str.ptr, n);
    (*buf)[n] = 0;
    *s = *buf;
    *buf += n + 1;
    return TIDE_OK;
}

static int mp_int(const msgpack_object *m, const char *name, bool unsig, int64_t *v, fx_bad *bad)
{
    const msgpack_object *x = mp_get(m, name);
    if (x == NULL) return refuse(bad, name, "missing");
    if (x->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (x->via.u64 > INT64_MAX) return refuse(bad, name, "out of range");
        *v = (int64_t)x->via.u64;
        return TIDE_OK;
    }
    if (x->type != MSGPACK_OBJECT_NEGATIVE_INTEGER) return refuse(bad, name, "not an integer");
    if (unsig) return refuse(bad, name, "negative");
    *v = x->via.i64;
    return TIDE_OK;
}

int fx_event_parse_msgpack(const msgpack_object *o, tide_rowbuf *rb, fx_bad *bad)
{
    char sbuf[1024], *b = sbuf, *end = sbuf + sizeof sbuf;
    fx_ev ev = {0};
    int64_t v;
    if (o->type != MSGPACK_OBJECT_MAP) return refuse(bad, "(record)", "not a map");
    TIDE_TRY(mp_str(o, "stream", "stream", true, &ev.stream, &b, end, bad));
    TIDE_TRY(mp_int(o, "offset", true, &v, bad));
    ev.offset = (uint64_t)v;
    TIDE_TRY(mp_int(o, "lamport", true, &v, bad));
    ev.lamport = (uint64_t)v;
    TIDE_TRY(mp_int(o, "timestamp", false, &ev.timestamp, bad));
    const msgpack_object *tags = mp_get(o, "tags");
    if (tags == NULL) return refuse(bad, "tags", "missing");
    if (tags->type != MSGPACK_OBJECT_ARRAY) return refuse(bad, "tags", "not an array");
    if (tags->via.array.size > FX_MAX_TAGS)
        return refuse(bad, "tags", "more than %d tags", FX_MAX_TAGS);
    ev.ntags = (int)tags->via.array.size;
    for (int i = 0; i < ev.ntags; i++) {
        const msgpack_object *t = &tags->via.array.ptr[i];
        if (t->type != MSGPACK_OBJECT_STR) return refuse(bad, "tags", "tag %d is not a string", i);
        if (b + t->via.str.size + 1 > end) return refuse(bad, "tags", "too long");
        if (t->via.str.size) memcpy(b, t->via.str.ptr, t->via.str.size);
        b[t->via.str.size] = 0;
        ev.tags[i] = b;
        b += t->via.str.size + 1;
    }
    const msgpack_object *p = mp_get(o, "payload");
    if (p == NULL) return refuse(bad, "payload", "missing");
    if (p->type != MSGPACK_OBJECT_MAP) return refuse(bad, "payload", "not a map");
    TIDE_TRY(mp_str(p, "type", "payload.type", true, &ev.type, &b, end, bad));
    TIDE_TRY(mp_str(p, "order", "payload.order", false, &ev.order, &b, end, bad));
    TIDE_TRY(mp_str(p, "step", "payload.step", false, &ev.step, &b, end, bad));
    TIDE_TRY(mp_str(p, "machine", "payload.machine", false, &ev.machine, &b, end, bad));
    if (mp_get(p, "count")) {
        ev.has_count = true;
        if (mp_int(p, "count", false, &ev.count, bad) < 0)
            return refuse(bad, "payload.count", "not an integer");
    }
    return fx_event_row(&ev, rb, bad);
}

/* ======================================================================== */
/* From a row, and writers                                                  */
/* ======================================================================== */

static const char *put_str(const tide_row *r, uint32_t i, char **buf, char *end)
{
    if (tide_row_is_null(r, i)) return NULL;
    uint32_t n;
    tide_rowbuf scratch;
    tide_rowbuf_init(&scratch);
    const char *s = tide_row_str(r, i, &n, &scratch);
    char *out = NULL;
    if (s && *buf + n + 1 <= end) {
        memcpy(*buf, s, n);
        (*buf)[n] = 0;
        out = *buf;
        *buf += n + 1;
    }
    tide_rowbuf_fini(&scratch);
    return out;
}

int fx_event_from_row(const uint8_t *row, uint32_t len, fx_ev *ev, char *buf, size_t cap)
{
    tide_row r;
    TIDE_TRY(tide_row_open(&r, &FX_EVENT, row, len));
    char *b = buf, *end = buf + cap;
    memset(ev, 0, sizeof *ev);
    ev->stream = put_str(&r, EV_STREAM, &b, end);
    ev->offset = tide_row_u64(&r, EV_OFFSET);
    ev->lamport = tide_row_u64(&r, EV_LAMPORT);
    ev->timestamp = tide_row_i64(&r, EV_TIMESTAMP);
    char *tags = (char *)put_str(&r, EV_TAGS, &b, end);
    ev->type = put_str(&r, EV_TYPE, &b, end);
    ev->order = put_str(&r, EV_ORDER, &b, end);
    ev->step = put_str(&r, EV_STEP, &b, end);
    ev->machine = put_str(&r, EV_MACHINE, &b, end);
    ev->has_count = !tide_row_is_null(&r, EV_COUNT);
    ev->count = tide_row_i64(&r, EV_COUNT);
    if (!ev->stream || !tags || !ev->type) return TIDE_EPARSE;
    for (char *t = tags; *t && ev->ntags < FX_MAX_TAGS;) {
        ev->tags[ev->ntags++] = t;
        char *c = strchr(t, ',');
        if (c == NULL) break;
        *c = 0;
        t = c + 1;
    }
    return TIDE_OK;
}

static void json_put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int fx_event_write_json(FILE *f, const fx_ev *ev)
{
    fputs("{\"stream\":", f);
    json_put_str(f, ev->stream);
    fprintf(f,
            ",\"offset\":%" PRIu64 ",\"lamport\":%" PRIu64 ",\"timestamp\":%" PRId64 ",\"tags\":[",
            ev->offset, ev->lamport, ev->timestamp);
    for (int i = 0; i < ev->ntags; i++) {
        if (i) fputc(',', f);
        json_put_str(f, ev->tags[i]);
    }
    fputs("],\"payload\":{\"type\":", f);
    json_put_str(f, ev->type);
    const char *names[3] = {"order", "step", "machine"};
    const char *vals[3] = {ev->order, ev->step, ev->machine};
    for (int i = 0; i < 3; i++)
        if (vals[i]) {
            fprintf(f, ",\"%s\":", names[i]);
            json_put_str(f, vals[i]);
        }
    if (ev->has_count) fprintf(f, ",\"count\":%" PRId64, ev->count);
    fputs("}}\n", f);
    return ferror(f) ? TIDE_EIO : TIDE_OK;
}

static void mp_put_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

int fx_event_write_msgpack(msgpack_packer *pk, const fx_ev *ev)
{
    msgpack_pack_map(pk, 6);
    mp_put_str(pk, "stream");
    mp_put_str(pk, ev->stream);
    mp_put_str(pk, "offset");
    msgpack_pack_uint64(pk, ev->offset);
    mp_put_str(pk, "lamport");
    msgpack_pack_uint64(pk, ev->lamport);
    mp_put_str(pk, "timestamp");
    msgpack_pack_int64(pk, ev->timestamp);
    mp_put_str(pk, "tags");
    msgpack_pack_array(pk, (size_t)ev->ntags);
    for (int i = 0; i < ev->ntags; i++) mp_put_str(pk, ev->tags[i]);
    mp_put_str(pk, "payload");
    const char *names[3] = {"order", "step", "machine"};
    const char *vals[3] = {ev->order, ev->step, ev->machine};
    size_t n = 1 + (ev->has_count ? 1 : 0);
    for (int i = 0; i < 3; i++) n += vals[i] != NULL;
    msgpack_pack_map(pk, n);
    mp_put_str(pk, "type");
    mp_put_str(pk, ev->type);
    for (int i = 0; i < 3; i++)
        if (vals[i]) {
            mp_put_str(pk, names[i]);
            mp_put_str(pk, vals[i]);
        }
    if (ev->has_count) {
        mp_put_str(pk, "count");
        msgpack_pack_int64(pk, ev->count);
    }
    return TIDE_OK;
}

bool fx_row_has_tag(const tide_row *r, const char *tag)
{
    uint32_t n;
    tide_rowbuf scratch;
    tide_rowbuf_init(&scratch);
    const char *s = tide_row_str(r, EV_TAGS, &n, &scratch);
    size_t tl = strlen(tag);
    bool found = false;
    for (uint32_t i = 0; s && i + tl <= n && !found;) {
        const char *c = memchr(s + i, ',', n - i);
        uint32_t e = c ? (uint32_t)(c - s) : n;
        found = e - i == tl && memcmp(s + i, tag, tl) == 0;
        i = e + 1;
    }
    tide_rowbuf_fini(&scratch);
    return found;
}
