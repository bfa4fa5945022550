/*
 * test_row.c - typed records: random rows of a random-ish schema built,
 * opened and read back field by field (strings with and without 0x00,
 * NULLs); the byte order of two rows equals the field-by-field order
 * computed in the test; malformed and truncated rows are refused; type
 * errors in the builder are reported. Seeds are printed.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tide/tide.h"
#include "tide_test.h"

static const uint8_t TYPES[] = {
    TIDE_FIELD_STR, TIDE_FIELD_I64,  TIDE_FIELD_STR | TIDE_FIELD_NULLABLE,
    TIDE_FIELD_U64, TIDE_FIELD_BOOL, TIDE_FIELD_I64 | TIDE_FIELD_NULLABLE,
    TIDE_FIELD_F64};
static const char *const NAMES[] = {"s", "i", "ns", "u", "b", "ni", "f"};
static const tide_schema SCHEMA = {7, TYPES, NAMES};

typedef struct vals {
    char s[8], ns[8];
    uint32_t sl, nsl;
    bool ns_null, ni_null, b;
    int64_t i, ni;
    uint64_t u;
    double f;
} vals;

static void random_vals(tide_rng *r, vals *v)
{
    memset(v, 0, sizeof *v);
    v->sl = (uint32_t)tide_rng_below(r, 5);
    for (uint32_t i = 0; i < v->sl; i++) v->s[i] = (char)tide_rng_below(r, 3); /* 0x00 often */
    v->nsl = (uint32_t)tide_rng_below(r, 5);
    for (uint32_t i = 0; i < v->nsl; i++) v->ns[i] = (char)('a' + tide_rng_below(r, 3));
    v->ns_null = tide_rng_below(r, 3) == 0;
    v->i = (int64_t)tide_rng_below(r, 7) - 3;
    v->u = tide_rng_below(r, 5);
    v->b = tide_rng_below(r, 2);
    v->ni_null = tide_rng_below(r, 2);
    v->ni = (int64_t)tide_rng_below(r, 5) - 2;
    v->f = ((double)tide_rng_below(r, 9) - 4) / 2;
}

static int build(const vals *v, tide_rowbuf *rb)
{
    tide_row_builder b;
    tide_row_begin(&b, &SCHEMA, rb);
    tide_row_add_str(&b, v->s, v->sl);
    tide_row_add_i64(&b, v->i);
    tide_row_add_str(&b, v->ns_null ? NULL : v->ns, v->nsl);
    tide_row_add_u64(&b, v->u);
    tide_row_add_bool(&b, v->b);
    if (v->ni_null)
        tide_row_add_null(&b);
    else
        tide_row_add_i64(&b, v->ni);
    tide_row_add_f64(&b, v->f);
    return tide_row_end(&b);
}

static int cmp_str(const char *a, uint32_t al, const char *b, uint32_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? (c < 0 ? -1 : 1) : al < bl ? -1 : al > bl;
}

#define CMP(x, y) ((x) < (y) ? -1 : (x) > (y))
/* The field-by-field order, written independently of the encoding. */
static int cmp_vals(const vals *a, const vals *b)
{
    int c;
    if ((c = cmp_str(a->s, a->sl, b->s, b->sl))) return c;
    if ((c = CMP(a->i, b->i))) return c;
    if (a->ns_null != b->ns_null) return a->ns_null ? -1 : 1;
    if (!a->ns_null && (c = cmp_str(a->ns, a->nsl, b->ns, b->nsl))) return c;
    if ((c = CMP(a->u, b->u))) return c;
    if ((c = CMP(a->b, b->b))) return c;
    if (a->ni_null != b->ni_null) return a->ni_null ? -1 : 1;
    if (!a->ni_null && (c = CMP(a->ni, b->ni))) return c;
    return CMP(a->f, b->f);
}

Test(row, roundtrip_and_order)
{
    tide_rng r = {tide_test_seed("row", 1)};
    tide_rowbuf ra, rb, scratch;
    tide_rowbuf_init(&ra), tide_rowbuf_init(&rb), tide_rowbuf_init(&scratch);
    for (int iter = 0; iter < 3000; iter++) {
        vals a, b;
        random_vals(&r, &a), random_vals(&r, &b);
        tide_rowbuf_clear(&ra), tide_rowbuf_clear(&rb);
        cr_assert_eq(build(&a, &ra), TIDE_OK);
        cr_assert_eq(build(&b, &rb), TIDE_OK);
        int want = cmp_vals(&a, &b), have = tide_bytes_cmp(ra.data, ra.len, rb.data, rb.len);
        cr_assert_eq(want, have < 0 ? -1 : have > 0, "iteration %d: order %d, bytes %d", iter, want,
                     have);
        tide_row row;
        cr_assert_eq(tide_row_open(&row, &SCHEMA, ra.data, ra.len), TIDE_OK);
        cr_assert_eq(row.len, ra.len);
        uint32_t l;
        const char *s = tide_row_str(&row, 0, &l, &scratch);
        cr_assert(l == a.sl && memcmp(s, a.s, l) == 0, "iteration %d: string field", iter);
        cr_assert(tide_row_str_eq(&row, 0, a.s, a.sl));
        cr_assert_eq(tide_row_i64(&row, 1), a.i);
        cr_assert_eq(tide_row_is_null(&row, 2), a.ns_null);
        if (!a.ns_null) {
            s = tide_row_str(&row, 2, &l, &scratch);
            cr_assert(l == a.nsl && memcmp(s, a.ns, l) == 0);
            cr_assert(s >= (const char *)ra.data && s < (const char *)ra.data + ra.len,
                      "a string without 0x00 is read in place");
        }
        cr_assert_eq(tide_row_u64(&row, 3), a.u);
        cr_assert_eq(tide_row_bool(&row, 4), a.b);
        cr_assert_eq(tide_row_is_null(&row, 5), a.ni_null);
        if (!a.ni_null) cr_assert_eq(tide_row_i64(&row, 5), a.ni);
        cr_assert_eq(tide_row_f64(&row, 6), a.f);
        /* A sub-row of fields 1..3 opens under the matching sub-schema. */
        const tide_schema sub = {2, TYPES + 1, NAMES + 1};
        const uint8_t *p = tide_row_fields(&row, 1, 3, &l);
        tide_row r2;
        cr_assert_eq(tide_row_open(&r2, &sub, p, l), TIDE_OK);
        cr_assert_eq(tide_row_i64(&r2, 0), a.i);
        /* Every truncation is refused. */
        for (uint32_t cut = 0; cut < ra.len; cut++)
            cr_assert_eq(tide_row_open(&row, &SCHEMA, ra.data, cut), TIDE_EPARSE, "cut %u", cut);
    }
    tide_rowbuf_fini(&ra), tide_rowbuf_fini(&rb), tide_rowbuf_fini(&scratch);
}

Test(row, builder_checks_types)
{
    tide_rowbuf rb;
    tide_rowbuf_init(&rb);
    tide_row_builder b;
    tide_row_begin(&b, &SCHEMA, &rb);
    tide_row_add_i64(&b, 1); /* field 0 is a string */
    cr_assert_eq(tide_row_end(&b), TIDE_EINVAL);
    tide_rowbuf_clear(&rb);
    tide_row_begin(&b, &SCHEMA, &rb);
    tide_row_add_null(&b); /* not nullable */
    cr_assert_eq(tide_row_end(&b), TIDE_EINVAL);
    tide_rowbuf_clear(&rb);
    tide_row_begin(&b, &SCHEMA, &rb);
    tide_row_add_str(&b, "x", 1);
    cr_assert_eq(tide_row_end(&b), TIDE_EINVAL, "too few fields");
    /* A bad nullable tag is refused. */
    vals v = {.sl = 1, .s = "a"};
    tide_rowbuf_clear(&rb);
    cr_assert_eq(build(&v, &rb), TIDE_OK);
    tide_row row;
    rb.data[3 + 8] = 7; /* "a" 00 01 | i64 | tag */
    cr_assert_eq(tide_row_open(&row, &SCHEMA, rb.data, rb.len), TIDE_EPARSE);
    tide_rowbuf_fini(&rb);
}
