/*
 * test_record.c - the memcomparable record format.
 *
 * Roundtrips of every field type; the order property (memcmp order of
 * encodings == natural order of values, for single fields and multi-field
 * rows, over random values biased towards edge cases); canonical encodings
 * (-0.0, NaN); and hostile input: every truncation of valid rows and random
 * bytes go into every decoder, which must answer TIDE_EPARSE without reading
 * past the end (buffers are exactly sized so ASan sees any overread).
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tide/alloc.h"
#include "tide/error.h"
#include "tide/record.h"
#include "tide_test.h"

#include "hash.h"

/* ======================== Values and their natural order ========== */

enum { F_U64, F_I64, F_F64, F_BOOL, F_STR };

typedef struct field {
    int type;
    uint64_t u;
    int64_t i;
    double f;
    int b;
    uint8_t s[8];
    size_t n;
} field;

static int cmp3(int c)
{
    return (c > 0) - (c < 0);
}

/* Natural order; doubles: -0.0 == 0.0 and NaN is greatest (tide's rule). */
static int field_cmp(const field *a, const field *b)
{
    switch (a->type) {
    case F_U64:
        return a->u < b->u ? -1 : a->u > b->u;
    case F_I64:
        return a->i < b->i ? -1 : a->i > b->i;
    case F_F64: {
        int an = isnan(a->f), bn = isnan(b->f);
        if (an || bn) return an - bn;
        return a->f < b->f ? -1 : a->f > b->f;
    }
    case F_BOOL:
        return a->b - b->b;
    default: {
        size_t n = a->n < b->n ? a->n : b->n;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        if (c) return cmp3(c);
        return a->n < b->n ? -1 : a->n > b->n;
    }
    }
}

static const double f64_specials[] = {
    -INFINITY, -DBL_MAX, -1e300,  -2.5, -1.0, -DBL_MIN, -4.9e-324, -1e-310,  -0.0, 0.0,
    4.9e-324,  1e-310,   DBL_MIN, 1.0,  2.5,  1e300,    DBL_MAX,   INFINITY, NAN,
};

static double rand_f64(tide_rng *r)
{
    uint64_t k = tide_rng_below(r, 4);
    if (k == 0) return f64_specials[tide_rng_below(r, sizeof f64_specials / sizeof(double))];
    if (k == 1) return (double)((int64_t)tide_rng_below(r, 9) - 4); /* ties */
    uint64_t bits = tide_rng_next(r);                               /* any double, NaNs too */
    if (k == 2) bits &= 0x800FFFFFFFFFFFFFULL;                      /* subnormals and zeros */
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static uint64_t rand_u64(tide_rng *r)
{
    static const uint64_t sp[] = {
        0, 1, 2, 255, 256, UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX, UINT64_MAX - 1};
    switch (tide_rng_below(r, 3)) {
    case 0:
        return sp[tide_rng_below(r, sizeof sp / sizeof sp[0])];
    case 1:
        return tide_rng_below(r, 5);
    default:
        return tide_rng_next(r) >> tide_rng_below(r, 64);
    }
}

static int64_t rand_i64(tide_rng *r)
{
    static const int64_t sp[] = {INT64_MIN, INT64_MIN + 1, -256,          -1,       0,
                                 1,         255,           INT64_MAX - 1, INT64_MAX};
    switch (tide_rng_below(r, 3)) {
    case 0:
        return sp[tide_rng_below(r, sizeof sp / sizeof sp[0])];
    case 1:
        return (int64_t)tide_rng_below(r, 7) - 3;
    default:
        return (int64_t)tide_rng_next(r) >> tide_rng_below(r, 64);
    }
}

/* Short strings over an alphabet full of NULs and the escape bytes, so
 * prefixes, embedded NULs and equal strings are all common. */
static void rand_str(tide_rng *r, field *f)
{
    static const uint8_t alpha[] = {0x00, 0x01, 0x02, 'a', 0xFE, 0xFF};
    f->n = tide_rng_below(r, sizeof f->s + 1);
    for (size_t i = 0; i < f->n; i++) f->s[i] = alpha[tide_rng_below(r, sizeof alpha)];
}

static void rand_field(tide_rng *r, int type, field *f)
{
    memset(f, 0, sizeof *f);
    f->type = type;
    switch (type) {
    case F_U64:
        f->u = rand_u64(r);
        break;
    case F_I64:
        f->i = rand_i64(r);
        break;
    case F_F64:
        f->f = rand_f64(r);
        break;
    case F_BOOL:
        f->b = (int)tide_rng_below(r, 2);
        break;
    default:
        rand_str(r, f);
        break;
    }
}

/* Make @b close to @a: equal, a prefix, or an extension (strings), to
 * exercise the tie-breaking paths of the order. */
static void perturb(tide_rng *r, const field *a, field *b)
{
    *b = *a;
    if (a->type != F_STR) return;
    if (tide_rng_below(r, 2) && b->n) {
        b->n = tide_rng_below(r, b->n);
    } else if (b->n < sizeof b->s) {
        static const uint8_t ext[] = {0x00, 0x01, 0xFF};
        b->s[b->n++] = ext[tide_rng_below(r, 3)];
    }
}

static void put_field(tide_rowbuf *rb, const field *f)
{
    int rc = TIDE_OK;
    switch (f->type) {
    case F_U64:
        rc = tide_row_put_u64(rb, f->u);
        break;
    case F_I64:
        rc = tide_row_put_i64(rb, f->i);
        break;
    case F_F64:
        rc = tide_row_put_f64(rb, f->f);
        break;
    case F_BOOL:
        rc = tide_row_put_bool(rb, f->b);
        break;
    default:
        rc = tide_row_put_str(rb, (const char *)f->s, f->n);
        break;
    }
    cr_assert_eq(rc, TIDE_OK);
}

/* Decode one field of @type; on success it must equal @want (if given). */
static int get_field(tide_row_reader *rd, int type, const field *want, tide_rowbuf *tmp)
{
    int rc;
    switch (type) {
    case F_U64: {
        uint64_t v;
        if ((rc = tide_row_get_u64(rd, &v)) == TIDE_OK && want) cr_assert_eq(v, want->u);
        return rc;
    }
    case F_I64: {
        int64_t v;
        if ((rc = tide_row_get_i64(rd, &v)) == TIDE_OK && want) cr_assert_eq(v, want->i);
        return rc;
    }
    case F_F64: {
        double v;
        if ((rc = tide_row_get_f64(rd, &v)) == TIDE_OK && want) {
            if (isnan(want->f))
                cr_assert(isnan(v));
            else
                cr_assert(v == want->f && (v != 0.0 || !signbit(v)), "%a vs %a", v, want->f);
        }
        return rc;
    }
    case F_BOOL: {
        int v;
        if ((rc = tide_row_get_bool(rd, &v)) == TIDE_OK && want) cr_assert_eq(v, want->b);
        return rc;
    }
    default:
        if ((rc = tide_row_get_str(rd, tmp)) == TIDE_OK && want) {
            cr_assert_eq(tmp->len, want->n);
            if (want->n) cr_assert(!memcmp(tmp->data, want->s, want->n));
        }
        return rc;
    }
}

/* ======================== Roundtrips ============================== */

Test(record, u64_i64_roundtrip_and_byte_layout)
{
    uint8_t b[8];
    tide_u64_store(b, 0x0102030405060708ULL);
    cr_assert_eq(b[0], 1);
    cr_assert_eq(b[7], 8);
    tide_i64_store(b, -1);
    cr_assert_eq(b[0], 0x7F);
    cr_assert_eq(tide_i64_load(b), -1);
    tide_i64_store(b, INT64_MIN);
    for (int i = 0; i < 8; i++) cr_assert_eq(b[i], 0);
    tide_i64_store(b, INT64_MAX);
    for (int i = 0; i < 8; i++) cr_assert_eq(b[i], 0xFF);
}

Test(record, f64_canonical_zero_and_nan)
{
    uint8_t a[8], b[8];
    tide_f64_store(a, -0.0);
    tide_f64_store(b, 0.0);
    cr_assert(!memcmp(a, b, 8), "-0.0 and 0.0 must encode alike");
    cr_assert(!signbit(tide_f64_load(a)));

    double n1 = NAN, n2 = -NAN;
    uint64_t odd = 0x7FF0000000000001ULL; /* a signalling NaN payload */
    double n3;
    memcpy(&n3, &odd, 8);
    uint8_t c[8], d[8], inf[8];
    tide_f64_store(a, n1);
    tide_f64_store(c, n2);
    tide_f64_store(d, n3);
    tide_f64_store(inf, INFINITY);
    cr_assert(!memcmp(a, c, 8) && !memcmp(a, d, 8), "every NaN encodes alike");
    cr_assert_gt(memcmp(a, inf, 8), 0, "NaN sorts after +inf");
    cr_assert(isnan(tide_f64_load(a)));

    /* Non-canonical bytes are malformed for the checked decoder. */
    uint64_t neg0 = ~0x8000000000000000ULL;
    tide_u64_store(a, neg0);
    tide_row_reader rd;
    double v;
    tide_row_reader_init(&rd, a, 8);
    cr_assert_eq(tide_row_get_f64(&rd, &v), TIDE_EPARSE);
    cr_assert_eq(rd.p, a, "the reader does not move on error");
    tide_u64_store(a, 0x7FF0000000000001ULL ^ (1ULL << 63));
    tide_row_reader_init(&rd, a, 8);
    cr_assert_eq(tide_row_get_f64(&rd, &v), TIDE_EPARSE);
}

Test(record, str_escaping_bytes)
{
    tide_rowbuf rb;
    tide_rowbuf_init(&rb);
    cr_assert_eq(tide_row_put_str(&rb, "a\0b", 3), TIDE_OK);
    const uint8_t want[] = {'a', 0x00, 0xFF, 'b', 0x00, 0x01};
    cr_assert_eq(rb.len, sizeof want);
    cr_assert(!memcmp(rb.data, want, sizeof want));
    tide_rowbuf_clear(&rb);
    cr_assert_eq(tide_row_put_str(&rb, NULL, 0), TIDE_OK);
    cr_assert_eq(rb.len, 2);

    tide_row_reader rd;
    tide_row_reader_init(&rd, want, sizeof want);
    size_t n = 0;
    cr_assert_eq(tide_row_skip_str(&rd, &n), TIDE_OK);
    cr_assert_eq(n, sizeof want);
    cr_assert_eq(rd.p, rd.end);
    tide_rowbuf_fini(&rb);
}

Test(record, random_rows_roundtrip)
{
    tide_rng r = {tide_test_seed("record/random_rows_roundtrip", 1)};
    tide_rowbuf rb, tmp;
    tide_rowbuf_init(&rb);
    tide_rowbuf_init(&tmp);
    for (int it = 0; it < 20000; it++) {
        int nf = 1 + (int)tide_rng_below(&r, 5);
        field f[5];
        tide_rowbuf_clear(&rb);
        for (int k = 0; k < nf; k++) {
            rand_field(&r, (int)tide_rng_below(&r, 5), &f[k]);
            put_field(&rb, &f[k]);
        }
        tide_row_reader rd;
        tide_row_reader_init(&rd, rb.data, rb.len);
        for (int k = 0; k < nf; k++) cr_assert_eq(get_field(&rd, f[k].type, &f[k], &tmp), TIDE_OK);
        cr_assert_eq(rd.p, rd.end);
    }
    tide_rowbuf_fini(&tmp);
    tide_rowbuf_fini(&rb);
}

/* ======================== Order preservation ====================== */

static int row_cmp(const field *a, const field *b, int nf)
{
    for (int k = 0; k < nf; k++) {
        int c = field_cmp(&a[k], &b[k]);
        if (c) return c;
    }
    return 0;
}

/* For random pairs of rows of @schema: sign(bytes_cmp) == sign(natural). */
static void check_order(const char *name, uint64_t salt, const int *schema, int nf, int iters)
{
    tide_rng r = {tide_test_seed(name, salt)};
    tide_rowbuf ea, eb;
    tide_rowbuf_init(&ea);
    tide_rowbuf_init(&eb);
    for (int it = 0; it < iters; it++) {
        field a[4], b[4];
        for (int k = 0; k < nf; k++) {
            rand_field(&r, schema[k], &a[k]);
            /* Often share a prefix of fields so later fields decide. */
            if (tide_rng_below(&r, 3))
                perturb(&r, &a[k], &b[k]);
            else
                rand_field(&r, schema[k], &b[k]);
        }
        tide_rowbuf_clear(&ea);
        tide_rowbuf_clear(&eb);
        for (int k = 0; k < nf; k++) {
            put_field(&ea, &a[k]);
            put_field(&eb, &b[k]);
        }
        int want = row_cmp(a, b, nf);
        int got = cmp3(tide_bytes_cmp(ea.data, ea.len, eb.data, eb.len));
        cr_assert_eq(got, want, "%s iteration %d: bytes order %d, natural order %d", name, it, got,
                     want);
    }
    tide_rowbuf_fini(&ea);
    tide_rowbuf_fini(&eb);
}

Test(record, order_u64)
{
    int s[] = {F_U64};
    check_order("record/order_u64", 2, s, 1, 50000);
}

Test(record, order_i64)
{
    int s[] = {F_I64};
    check_order("record/order_i64", 3, s, 1, 50000);
}

Test(record, order_f64)
{
    int s[] = {F_F64};
    check_order("record/order_f64", 4, s, 1, 50000);
}

Test(record, order_str)
{
    int s[] = {F_STR};
    check_order("record/order_str", 5, s, 1, 50000);
}

Test(record, order_str_u64)
{
    int s[] = {F_STR, F_U64};
    check_order("record/order_str_u64", 6, s, 2, 50000);
}

Test(record, order_u64_str_i64)
{
    int s[] = {F_U64, F_STR, F_I64};
    check_order("record/order_u64_str_i64", 7, s, 3, 50000);
}

Test(record, order_str_str_f64_bool)
{
    int s[] = {F_STR, F_STR, F_F64, F_BOOL};
    check_order("record/order_str_str_f64_bool", 8, s, 4, 50000);
}

/* Every f64 special value against every other, exhaustively. */
Test(record, order_f64_specials_exhaustive)
{
    size_t n = sizeof f64_specials / sizeof(double);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            field a = {.type = F_F64, .f = f64_specials[i]},
                  b = {.type = F_F64, .f = f64_specials[j]};
            uint8_t ea[8], eb[8];
            tide_f64_store(ea, a.f);
            tide_f64_store(eb, b.f);
            cr_assert_eq(cmp3(memcmp(ea, eb, 8)), field_cmp(&a, &b), "%a vs %a", a.f, b.f);
        }
    }
}

/* ======================== Hostile input =========================== */

/* Decode @n bytes (copied into an exact-size heap buffer) as @schema;
 * @return the first non-OK code, or TIDE_OK if every field decoded. */
static int decode_exact(const uint8_t *bytes, size_t n, const int *schema, int nf, tide_rowbuf *tmp)
{
    uint8_t *buf = malloc(n ? n : 1);
    cr_assert(buf);
    if (n) memcpy(buf, bytes, n);
    tide_row_reader rd;
    tide_row_reader_init(&rd, buf, n);
    int rc = TIDE_OK;
    for (int k = 0; k < nf && rc == TIDE_OK; k++) {
        const uint8_t *before = rd.p;
        rc = get_field(&rd, schema[k], NULL, tmp);
        cr_assert(rd.p <= rd.end);
        if (rc != TIDE_OK) cr_assert_eq(rd.p, before, "failed decoder moved the reader");
    }
    free(buf);
    return rc;
}

Test(record, every_truncation_is_eparse)
{
    tide_rng r = {tide_test_seed("record/every_truncation_is_eparse", 9)};
    tide_rowbuf rb, tmp;
    tide_rowbuf_init(&rb);
    tide_rowbuf_init(&tmp);
    for (int it = 0; it < 3000; it++) {
        int nf = 1 + (int)tide_rng_below(&r, 4), schema[4];
        tide_rowbuf_clear(&rb);
        for (int k = 0; k < nf; k++) {
            field f;
            schema[k] = (int)tide_rng_below(&r, 5);
            rand_field(&r, schema[k], &f);
            put_field(&rb, &f);
        }
        cr_assert_eq(decode_exact(rb.data, rb.len, schema, nf, &tmp), TIDE_OK);
        for (uint32_t cut = 0; cut < rb.len; cut++)
            cr_assert_eq(decode_exact(rb.data, cut, schema, nf, &tmp), TIDE_EPARSE,
                         "truncation to %u of %u bytes decoded", cut, rb.len);
    }
    tide_rowbuf_fini(&tmp);
    tide_rowbuf_fini(&rb);
}

Test(record, malformed_fields)
{
    tide_rowbuf tmp;
    tide_rowbuf_init(&tmp);
    int s_str[] = {F_STR}, s_bool[] = {F_BOOL};
    const uint8_t bad_escape[] = {'a', 0x00, 0x02, 0x00, 0x01};
    const uint8_t lone_nul[] = {'a', 0x00};
    const uint8_t no_term[] = {'a', 'b'};
    const uint8_t bool2[] = {2};
    cr_assert_eq(decode_exact(bad_escape, sizeof bad_escape, s_str, 1, &tmp), TIDE_EPARSE);
    cr_assert_eq(decode_exact(lone_nul, sizeof lone_nul, s_str, 1, &tmp), TIDE_EPARSE);
    cr_assert_eq(decode_exact(no_term, sizeof no_term, s_str, 1, &tmp), TIDE_EPARSE);
    cr_assert_eq(decode_exact(bool2, 1, s_bool, 1, &tmp), TIDE_EPARSE);
    tide_row_reader rd;
    size_t n;
    tide_row_reader_init(&rd, bad_escape, sizeof bad_escape);
    cr_assert_eq(tide_row_skip_str(&rd, &n), TIDE_EPARSE);
    tide_row_reader_init(&rd, NULL, 0);
    cr_assert_eq(tide_row_skip_str(&rd, &n), TIDE_EPARSE);
    tide_rowbuf_fini(&tmp);
}

/* Random bytes into every decoder; whatever decodes must re-encode to the
 * very bytes it consumed (the format has one encoding per value). */
Test(record, fuzz_random_bytes)
{
    tide_rng r = {tide_test_seed("record/fuzz_random_bytes", 10)};
    static const uint8_t alpha[] = {0x00, 0x01, 0x02, 0x7F, 0x80, 0xFE, 0xFF};
    tide_rowbuf tmp, re;
    tide_rowbuf_init(&tmp);
    tide_rowbuf_init(&re);
    for (int it = 0; it < 20000; it++) {
        size_t n = tide_rng_below(&r, 24);
        uint8_t *buf = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = tide_rng_below(&r, 2) ? alpha[tide_rng_below(&r, sizeof alpha)]
                                           : (uint8_t)tide_rng_next(&r);
        tide_row_reader rd;
        tide_row_reader_init(&rd, buf, n);
        while (rd.p < rd.end) {
            int type = (int)tide_rng_below(&r, 5);
            const uint8_t *before = rd.p;
            tide_rowbuf_clear(&re);
            int rc;
            if (type == F_STR) {
                rc = tide_row_get_str(&rd, &tmp);
                if (rc == TIDE_OK) tide_row_put_str(&re, (const char *)tmp.data, tmp.len);
            } else if (type == F_F64) {
                double v;
                rc = tide_row_get_f64(&rd, &v);
                if (rc == TIDE_OK) tide_row_put_f64(&re, v);
            } else if (type == F_BOOL) {
                int v;
                rc = tide_row_get_bool(&rd, &v);
                if (rc == TIDE_OK) tide_row_put_bool(&re, v);
            } else {
                uint64_t v;
                rc = tide_row_get_u64(&rd, &v);
                if (rc == TIDE_OK) tide_row_put_u64(&re, v);
            }
            cr_assert(rd.p <= rd.end);
            if (rc != TIDE_OK) {
                cr_assert_eq(rc, TIDE_EPARSE);
                cr_assert_eq(rd.p, before);
                break;
            }
            cr_assert_eq((size_t)(rd.p - before), re.len);
            cr_assert(!memcmp(before, re.data, re.len), "non-canonical bytes accepted");
        }
        free(buf);
    }
    tide_rowbuf_fini(&re);
    tide_rowbuf_fini(&tmp);
}

/* ======================== Hash and allocation ===================== */

/* 8-byte keys: murmur3's fmix64 of the bytes read as a little-endian u64. */
Test(record, hash_of_8_bytes_is_fmix64)
{
    uint8_t k[8];
    tide_u64_store(k, 1); /* bytes 00..01: little-endian value 1 << 56 */
    uint64_t x = 1ULL << 56;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    cr_assert_eq(tide_hash(k, 8), x);
    cr_assert_neq(tide_hash(k, 8), XXH3_64bits(k, 8));
}

Test(record, hash_is_xxh3_and_inline_matches)
{
    tide_rng r = {tide_test_seed("record/hash_is_xxh3_and_inline_matches", 11)};
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)tide_rng_next(&r);
    for (size_t n = 0; n <= sizeof buf; n++) {
        if (n != 8) cr_assert_eq(tide_hash(buf, n), XXH3_64bits(buf, n));
        cr_assert_eq(tide_hash(buf, n), tide__hash(buf, n));
    }
    /* The owner map covers [0, peers) and is balanced-ish. */
    uint32_t counts[3] = {0};
    for (uint64_t k = 0; k < 30000; k++) {
        uint8_t kb[8];
        tide_u64_store(kb, k);
        uint32_t w = tide_hash_owner(tide_hash(kb, 8), 3);
        cr_assert_lt(w, 3);
        counts[w]++;
    }
    for (int w = 0; w < 3; w++) cr_assert(counts[w] > 9000 && counts[w] < 11000);
}

Test(record, rowbuf_alloc_failure)
{
    tide_rowbuf rb;
    tide_rowbuf_init(&rb);
    tide_alloc_fail_after(1);
    cr_assert_eq(tide_row_put_str(&rb, "hello", 5), TIDE_ENOMEM);
    cr_assert_eq(rb.len, 0);
    cr_assert_eq(tide_row_put_str(&rb, "hello", 5), TIDE_OK);
    char big[100];
    memset(big, 'x', sizeof big);
    tide_alloc_fail_after(1);
    cr_assert_eq(tide_row_put_raw(&rb, big, sizeof big), TIDE_ENOMEM);
    cr_assert_eq(rb.len, 7);
    tide_alloc_fail_after(0);
    tide_rowbuf tmp;
    tide_rowbuf_init(&tmp);
    tide_row_reader rd;
    tide_row_reader_init(&rd, rb.data, rb.len);
    tide_alloc_fail_after(1);
    cr_assert_eq(tide_row_get_str(&rd, &tmp), TIDE_ENOMEM);
    cr_assert_eq(tide_row_get_str(&rd, &tmp), TIDE_OK);
    cr_assert_eq(tmp.len, 5);
    tide_rowbuf_fini(&tmp);
    tide_rowbuf_fini(&rb);
}
