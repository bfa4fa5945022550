/*
 * row.c - typed records (tide/row.h): a schema-checked builder over the
 * record.h encoders, and a reader that indexes a row's fields once so that
 * each getter is a load at a known offset.
 *
 * Depends only on record.c's encoders. Invariant: a row opened without
 * error has every field well-formed, so the getters cannot read past it.
 */
#include "tide/row.h"

#include <assert.h>

#include "tide/error.h"

static uint8_t base_type(uint8_t t)
{
    return (uint8_t)(t & ~TIDE_FIELD_NULLABLE);
}

/* ---- building ------------------------------------------------------------ */

void tide_row_begin(tide_row_builder *b, const tide_schema *s, tide_rowbuf *rb)
{
    *b = (tide_row_builder){.schema = s, .rb = rb, .next = 0, .rc = TIDE_OK};
}

/* Check that the next field has type @t; put its presence tag if nullable.
 * Returns false (and records the error) when the field must not be added. */
static bool field_ok(tide_row_builder *b, uint8_t t, bool null)
{
    if (b->rc < 0) return false;
    if (b->next >= b->schema->n) {
        b->rc = TIDE_EINVAL;
        return false;
    }
    uint8_t ft = b->schema->types[b->next++];
    bool nullable = (ft & TIDE_FIELD_NULLABLE) != 0;
    if ((!null && base_type(ft) != t) || (null && !nullable)) {
        b->rc = TIDE_EINVAL;
        return false;
    }
    if (nullable) {
        uint8_t tag = null ? 0 : 1;
        int rc = tide_row_put_raw(b->rb, &tag, 1);
        if (rc < 0) b->rc = rc;
        return rc == TIDE_OK && !null;
    }
    return true;
}

static void put_rc(tide_row_builder *b, int rc)
{
    if (rc < 0 && b->rc == TIDE_OK) b->rc = rc;
}

void tide_row_add_u64(tide_row_builder *b, uint64_t v)
{
    if (field_ok(b, TIDE_FIELD_U64, false)) put_rc(b, tide_row_put_u64(b->rb, v));
}

void tide_row_add_i64(tide_row_builder *b, int64_t v)
{
    if (field_ok(b, TIDE_FIELD_I64, false)) put_rc(b, tide_row_put_i64(b->rb, v));
}

void tide_row_add_f64(tide_row_builder *b, double v)
{
    if (field_ok(b, TIDE_FIELD_F64, false)) put_rc(b, tide_row_put_f64(b->rb, v));
}

void tide_row_add_bool(tide_row_builder *b, bool v)
{
    if (field_ok(b, TIDE_FIELD_BOOL, false)) put_rc(b, tide_row_put_bool(b->rb, v));
}

void tide_row_add_str(tide_row_builder *b, const char *s, size_t n)
{
    if (s == NULL) {
        tide_row_add_null(b);
        return;
    }
    if (field_ok(b, TIDE_FIELD_STR, false)) put_rc(b, tide_row_put_str(b->rb, s, n));
}

void tide_row_add_null(tide_row_builder *b)
{
    field_ok(b, 0, true);
}

int tide_row_end(tide_row_builder *b)
{
    if (b->rc == TIDE_OK && b->next != b->schema->n) b->rc = TIDE_EINVAL;
    return b->rc;
}

/* ---- reading ---------------------------------------------------------------- */

/* The encoded size of one field of base type @t at @r, or TIDE_EPARSE. */
static int field_size(uint8_t t, tide_row_reader *r)
{
    size_t n;
    switch (t) {
    case TIDE_FIELD_U64:
    case TIDE_FIELD_I64:
        if (r->end - r->p < 8) return TIDE_EPARSE;
        r->p += 8;
        return TIDE_OK;
    case TIDE_FIELD_F64: {
        double d;
        return tide_row_get_f64(r, &d);
    }
    case TIDE_FIELD_BOOL: {
        int v;
        return tide_row_get_bool(r, &v);
    }
    case TIDE_FIELD_STR:
        return tide_row_skip_str(r, &n);
    default:
        return TIDE_EPARSE;
    }
}

int tide_row_open(tide_row *r, const tide_schema *s, const void *p, uint32_t n)
{
    if (s->n > TIDE_ROW_MAX_FIELDS) return TIDE_EINVAL;
    tide_row_reader rd;
    tide_row_reader_init(&rd, p, n);
    r->schema = s;
    r->p = p;
    for (uint32_t i = 0; i < s->n; i++) {
        r->off[i] = (uint32_t)(rd.p - r->p);
        uint8_t t = s->types[i];
        if (t & TIDE_FIELD_NULLABLE) {
            if (rd.p >= rd.end || *rd.p > 1) return TIDE_EPARSE;
            if (*rd.p++ == 0) continue;
        }
        TIDE_TRY(field_size(base_type(t), &rd));
    }
    r->off[s->n] = (uint32_t)(rd.p - r->p);
    r->len = r->off[s->n];
    return TIDE_OK;
}

/* The value bytes of field @i (after its tag), NULL when the field is NULL. */
static const uint8_t *field_at(const tide_row *r, uint32_t i)
{
    assert(i < r->schema->n);
    const uint8_t *q = r->p + r->off[i];
    if (r->schema->types[i] & TIDE_FIELD_NULLABLE) return *q ? q + 1 : NULL;
    return q;
}

bool tide_row_is_null(const tide_row *r, uint32_t i)
{
    return field_at(r, i) == NULL;
}

uint64_t tide_row_u64(const tide_row *r, uint32_t i)
{
    assert(base_type(r->schema->types[i]) == TIDE_FIELD_U64);
    const uint8_t *q = field_at(r, i);
    return q ? tide_u64_load(q) : 0;
}

int64_t tide_row_i64(const tide_row *r, uint32_t i)
{
    assert(base_type(r->schema->types[i]) == TIDE_FIELD_I64);
    const uint8_t *q = field_at(r, i);
    return q ? tide_i64_load(q) : 0;
}

double tide_row_f64(const tide_row *r, uint32_t i)
{
    assert(base_type(r->schema->types[i]) == TIDE_FIELD_F64);
    const uint8_t *q = field_at(r, i);
    return q ? tide_f64_load(q) : 0.0;
}

bool tide_row_bool(const tide_row *r, uint32_t i)
{
    assert(base_type(r->schema->types[i]) == TIDE_FIELD_BOOL);
    const uint8_t *q = field_at(r, i);
    return q ? *q != 0 : false;
}

const char *tide_row_str(const tide_row *r, uint32_t i, uint32_t *len, tide_rowbuf *scratch)
{
    assert(base_type(r->schema->types[i]) == TIDE_FIELD_STR);
    *len = 0;
    const uint8_t *q = field_at(r, i);
    if (q == NULL) return NULL;
    const uint8_t *end = r->p + r->off[i + 1];
    uint32_t enc = (uint32_t)(end - q);
    /* The terminator 00 01 is the only 0x00 byte of a string without one. */
    if (memchr(q, 0, enc - 2) == NULL) {
        *len = enc - 2;
        return (const char *)q;
    }
    tide_row_reader rd;
    tide_row_reader_init(&rd, q, enc);
    if (tide_row_get_str(&rd, scratch) < 0) return NULL;
    *len = scratch->len;
    return (const char *)scratch->data;
}

bool tide_row_str_eq(const tide_row *r, uint32_t i, const char *s, size_t n)
{
    const uint8_t *q = field_at(r, i);
    if (q == NULL) return false;
    uint32_t enc = (r->p + r->off[i + 1]) - q;
    /* Equal strings have equal encodings; without 0x00 in @s it is s + 00 01. */
    if (memchr(s, 0, n) != NULL) {
        tide_rowbuf rb;
        tide_rowbuf_init(&rb);
        bool eq =
            tide_row_put_str(&rb, s, n) == TIDE_OK && rb.len == enc && memcmp(rb.data, q, enc) == 0;
        tide_rowbuf_fini(&rb);
        return eq;
    }
    return enc == n + 2 && memcmp(q, s, n) == 0 && q[n] == 0 && q[n + 1] == 1;
}

const uint8_t *tide_row_fields(const tide_row *r, uint32_t from, uint32_t to, uint32_t *len)
{
    assert(from <= to && to <= r->schema->n);
    *len = r->off[to] - r->off[from];
    return r->p + r->off[from];
}
