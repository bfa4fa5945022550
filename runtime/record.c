/*
 * record.c - field encoders and decoders of the memcomparable record format,
 * the row buffer they write into, and the record hash.
 *
 * Invariants: for every field type, memcmp order of encodings (shorter
 * first on a tie, tide_bytes_cmp) equals the natural order of the values,
 * and equal values have equal encodings (so -0.0 and every NaN are
 * canonicalised before encoding). Decoders never read past the reader's
 * end, do not advance the reader on error, and reject any byte sequence
 * that no encoder produces with TIDE_EPARSE.
 * Depends on: alloc.h (all memory), hash.h (XXH3 inlined).
 */
#include <string.h>

#include "tide/alloc.h"
#include "tide/error.h"
#include "tide/record.h"

#include "hash.h"

/* ======================== f64 ===================================== */

/*
 * IEEE-754 doubles compare like sign-magnitude integers. Flipping the sign
 * bit of a positive number and every bit of a negative one turns that into
 * plain unsigned order: negatives (most negative first), then positives.
 * Two values need a rule to keep "equal values, equal bytes":
 *   -0.0 is stored as +0.0 (they compare equal as doubles), so -0.0 never
 *        comes back from a load;
 *   NaN  of any sign or payload is stored as the one quiet NaN
 *        0x7FF8000000000000, which sorts after +infinity.
 */
#define F64_SIGN (1ULL << 63)
#define F64_QNAN 0x7FF8000000000000ULL

static uint64_t f64_encode(double v)
{
    uint64_t bits;
    if (v != v) {
        bits = F64_QNAN;
    } else if (v == 0.0) {
        bits = 0; /* +0.0 and -0.0 alike */
    } else {
        memcpy(&bits, &v, sizeof bits);
    }
    return (bits & F64_SIGN) ? ~bits : bits ^ F64_SIGN;
}

static uint64_t f64_decode_bits(uint64_t u)
{
    return (u & F64_SIGN) ? u ^ F64_SIGN : ~u;
}

void tide_f64_store(uint8_t *p, double v)
{
    tide_u64_store(p, f64_encode(v));
}

double tide_f64_load(const uint8_t *p)
{
    uint64_t bits = f64_decode_bits(tide_u64_load(p));
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* ======================== Row buffer ============================== */

void tide_rowbuf_init(tide_rowbuf *rb)
{
    rb->data = NULL;
    rb->len = 0;
    rb->cap = 0;
}

void tide_rowbuf_fini(tide_rowbuf *rb)
{
    tide_free(rb->data);
    tide_rowbuf_init(rb);
}

/* Make room for @n more bytes; capacity doubles, and is capped at 4 GiB - 1
 * because lengths are u32. */
static int rowbuf_reserve(tide_rowbuf *rb, size_t n)
{
    size_t need = (size_t)rb->len + n;
    if (need <= rb->cap) return TIDE_OK;
    if (need > UINT32_MAX) return TIDE_ENOMEM;
    size_t cap = rb->cap ? (size_t)rb->cap * 2 : 64;
    if (cap < need) cap = need;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    uint8_t *d = tide_realloc(rb->data, cap);
    if (!d) return TIDE_ENOMEM;
    rb->data = d;
    rb->cap = (uint32_t)cap;
    return TIDE_OK;
}

/* ======================== Encoders ================================ */

int tide_row_put_raw(tide_rowbuf *rb, const void *p, size_t n)
{
    if (!n) return TIDE_OK;
    TIDE_TRY(rowbuf_reserve(rb, n));
    memcpy(rb->data + rb->len, p, n);
    rb->len += (uint32_t)n;
    return TIDE_OK;
}

int tide_row_put_u64(tide_rowbuf *rb, uint64_t v)
{
    TIDE_TRY(rowbuf_reserve(rb, 8));
    tide_u64_store(rb->data + rb->len, v);
    rb->len += 8;
    return TIDE_OK;
}

int tide_row_put_i64(tide_rowbuf *rb, int64_t v)
{
    TIDE_TRY(rowbuf_reserve(rb, 8));
    tide_i64_store(rb->data + rb->len, v);
    rb->len += 8;
    return TIDE_OK;
}

int tide_row_put_f64(tide_rowbuf *rb, double v)
{
    TIDE_TRY(rowbuf_reserve(rb, 8));
    tide_f64_store(rb->data + rb->len, v);
    rb->len += 8;
    return TIDE_OK;
}

int tide_row_put_bool(tide_rowbuf *rb, int v)
{
    TIDE_TRY(rowbuf_reserve(rb, 1));
    rb->data[rb->len++] = v ? 1 : 0;
    return TIDE_OK;
}

/*
 * Strings: each 0x00 becomes 0x00 0xFF and the field ends with 0x00 0x01.
 * Why this orders correctly: where two encodings first differ, either both
 * hold ordinary bytes (the strings' own order), or one holds an escaped NUL
 * (0x00 0xFF) against a non-NUL byte (0x00 sorts lower, as NUL does), or one
 * holds the terminator 0x00 0x01 against anything from a longer string
 * (0x00 0xFF or a byte >= 0x01 at the same spot, both greater), so a string
 * sorts before every string it prefixes, whatever field follows it.
 */
int tide_row_put_str(tide_rowbuf *rb, const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s, *end = n ? p + n : p;
    size_t zeros = 0;
    for (const uint8_t *q = p; q < end; q++) {
        q = memchr(q, 0, (size_t)(end - q));
        if (!q) break;
        zeros++;
    }
    if (n > SIZE_MAX / 2) return TIDE_ENOMEM;
    TIDE_TRY(rowbuf_reserve(rb, n + zeros + 2));
    uint8_t *w = rb->data + rb->len;
    while (p < end) {
        const uint8_t *z = memchr(p, 0, (size_t)(end - p));
        size_t run = z ? (size_t)(z - p) : (size_t)(end - p);
        memcpy(w, p, run);
        w += run;
        p += run;
        if (z) {
            *w++ = 0x00;
            *w++ = 0xFF;
            p++;
        }
    }
    *w++ = 0x00;
    *w++ = 0x01;
    rb->len = (uint32_t)(w - rb->data);
    return TIDE_OK;
}

/* ======================== Decoders ================================ */

static inline size_t left(const tide_row_reader *r)
{
    return (size_t)(r->end - r->p);
}

int tide_row_get_u64(tide_row_reader *r, uint64_t *v)
{
    if (left(r) < 8) return TIDE_EPARSE;
    *v = tide_u64_load(r->p);
    r->p += 8;
    return TIDE_OK;
}

int tide_row_get_i64(tide_row_reader *r, int64_t *v)
{
    if (left(r) < 8) return TIDE_EPARSE;
    *v = tide_i64_load(r->p);
    r->p += 8;
    return TIDE_OK;
}

/* Only canonical encodings are accepted: the bytes of -0.0 or of a NaN
 * other than the one tide stores are malformed. */
int tide_row_get_f64(tide_row_reader *r, double *v)
{
    if (left(r) < 8) return TIDE_EPARSE;
    uint64_t u = tide_u64_load(r->p);
    double d;
    uint64_t bits = f64_decode_bits(u);
    memcpy(&d, &bits, sizeof d);
    if (f64_encode(d) != u) return TIDE_EPARSE;
    *v = d;
    r->p += 8;
    return TIDE_OK;
}

int tide_row_get_bool(tide_row_reader *r, int *v)
{
    if (left(r) < 1 || r->p[0] > 1) return TIDE_EPARSE;
    *v = r->p[0];
    r->p++;
    return TIDE_OK;
}

/* Validate the string field at @p: *enc gets its encoded size (terminator
 * included), *dec its decoded length. */
static int str_scan(const uint8_t *p, const uint8_t *end, size_t *enc, size_t *dec)
{
    const uint8_t *start = p;
    size_t escapes = 0;
    for (;;) {
        const uint8_t *z = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
        if (!z || end - z < 2) return TIDE_EPARSE;
        if (z[1] == 0x01) {
            *enc = (size_t)(z + 2 - start);
            *dec = *enc - 2 - escapes;
            return TIDE_OK;
        }
        if (z[1] != 0xFF) return TIDE_EPARSE;
        escapes++;
        p = z + 2;
    }
}

int tide_row_skip_str(tide_row_reader *r, size_t *n)
{
    size_t enc, dec;
    TIDE_TRY(str_scan(r->p, r->end, &enc, &dec));
    r->p += enc;
    if (n) *n = enc;
    return TIDE_OK;
}

int tide_row_get_str(tide_row_reader *r, tide_rowbuf *out)
{
    size_t enc, dec;
    out->len = 0;
    TIDE_TRY(str_scan(r->p, r->end, &enc, &dec));
    TIDE_TRY(rowbuf_reserve(out, dec));
    const uint8_t *p = r->p, *stop = r->p + enc - 2;
    uint8_t *w = out->data;
    while (p < stop) {
        const uint8_t *z = memchr(p, 0, (size_t)(stop - p));
        size_t run = z ? (size_t)(z - p) : (size_t)(stop - p);
        if (run) memcpy(w, p, run);
        w += run;
        p += run;
        if (z) {
            *w++ = 0x00; /* an escape pair 0x00 0xFF */
            p += 2;
        }
    }
    out->len = (uint32_t)dec;
    r->p += enc;
    return TIDE_OK;
}

/* ======================== Hash ==================================== */

uint64_t tide_hash(const void *p, size_t n)
{
    return tide__hash(p, n);
}
