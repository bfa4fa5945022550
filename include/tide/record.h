/*
 * tide/record.h - the record format: order-preserving ("memcomparable") bytes.
 *
 * Every record in tide is a key and a value, each a byte string whose
 * unsigned lexicographic order (memcmp, shorter-is-smaller on a tie) is the
 * order of the data it encodes. So sorting is memcmp, hashing is one pass of
 * XXH3 over the key, and the wire and storage formats are the bytes as they
 * are: no per-record encode/decode anywhere in the stack.
 *
 * Fields are appended with the encoders below:
 *   u64      8 bytes big-endian                       (fixed width)
 *   i64      8 bytes big-endian, sign bit flipped     (fixed width)
 *   f64      8 bytes: IEEE bits, negatives inverted    (fixed width)
 *   bool     1 byte 0/1                                (fixed width)
 *   str      bytes with 0x00 escaped as 0x00 0xFF, closed by 0x00 0x01,
 *            so a string sorts before any longer string it prefixes and
 *            fields after it still compare correctly   (variable width)
 * A row of fixed-width fields has a fixed width: integer-keyed work (graphs)
 * uses 8- or 16-byte records and never pays for strings. See docs/records.md.
 */
#ifndef TIDE_RECORD_H
#define TIDE_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Encoded field sizes. */
#define TIDE_U64_SIZE 8
#define TIDE_I64_SIZE 8
#define TIDE_F64_SIZE 8

/* tide_u64_store - @v as 8 big-endian bytes at @p. */
static inline void tide_u64_store(uint8_t *p, uint64_t v)
{
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
}

/* tide_u64_load - the u64 stored at @p by tide_u64_store. */
static inline uint64_t tide_u64_load(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

static inline void tide_i64_store(uint8_t *p, int64_t v)
{
    tide_u64_store(p, (uint64_t)v ^ (1ULL << 63));
}

static inline int64_t tide_i64_load(const uint8_t *p)
{
    return (int64_t)(tide_u64_load(p) ^ (1ULL << 63));
}

void tide_f64_store(uint8_t *p, double v);
double tide_f64_load(const uint8_t *p);

/* A growable byte buffer that rows are built in (caller-owned). */
typedef struct tide_rowbuf {
    uint8_t *data;
    uint32_t len, cap;
} tide_rowbuf;

void tide_rowbuf_init(tide_rowbuf *rb);
void tide_rowbuf_fini(tide_rowbuf *rb);
static inline void tide_rowbuf_clear(tide_rowbuf *rb)
{
    rb->len = 0;
}

/* Append one field. Each returns TIDE_OK or TIDE_ENOMEM. */
int tide_row_put_u64(tide_rowbuf *rb, uint64_t v);
int tide_row_put_i64(tide_rowbuf *rb, int64_t v);
int tide_row_put_f64(tide_rowbuf *rb, double v);
int tide_row_put_bool(tide_rowbuf *rb, int v);
int tide_row_put_str(tide_rowbuf *rb, const char *s, size_t n);
/* Append raw bytes (an already-encoded field or row). */
int tide_row_put_raw(tide_rowbuf *rb, const void *p, size_t n);

/* A cursor that reads fields back, in the order they were put. */
typedef struct tide_row_reader {
    const uint8_t *p, *end;
} tide_row_reader;

static inline void tide_row_reader_init(tide_row_reader *r, const void *p, size_t n)
{
    r->p = (const uint8_t *)p;
    r->end = r->p + n;
}

/* Read one field. Each returns TIDE_OK, or TIDE_EPARSE when the bytes are
 * truncated or malformed (never reads past the end). */
int tide_row_get_u64(tide_row_reader *r, uint64_t *v);
int tide_row_get_i64(tide_row_reader *r, int64_t *v);
int tide_row_get_f64(tide_row_reader *r, double *v);
int tide_row_get_bool(tide_row_reader *r, int *v);
/* Decode a string into @out (cleared first). */
int tide_row_get_str(tide_row_reader *r, tide_rowbuf *out);
/* Skip a string field without decoding it; *n gets its encoded size. */
int tide_row_skip_str(tide_row_reader *r, size_t *n);

/* tide_bytes_prefix - the first 8 bytes of a record as a big-endian u64,
 * zero-padded. Prefixes order like records where they differ:
 * prefix(a) < prefix(b) implies a < b (equal prefixes decide nothing). */
static inline uint64_t tide_bytes_prefix(const void *p, uint32_t len)
{
    if (len >= 8) return tide_u64_load(p);
    uint8_t buf[8] = {0};
    if (len) memcpy(buf, p, len);
    return tide_u64_load(buf);
}

/* tide_bytes_cmp - the record order: memcmp, then shorter first. */
static inline int tide_bytes_cmp(const void *a, uint32_t alen, const void *b, uint32_t blen)
{
    if (alen == 8 && blen == 8) {
        /* The common u64 key/val: two loads and a compare, no libc call. */
        uint64_t x = tide_u64_load(a), y = tide_u64_load(b);
        return x < y ? -1 : x > y;
    }
    uint32_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

/* tide_hash - the record hash: XXH3-64 of the bytes, except that exactly
 * 8 bytes get murmur3's fmix64 finalizer (cheaper, as good for integer
 * keys). Every placement decision (exchange, arrangement shards, processes)
 * uses this one function. */
uint64_t tide_hash(const void *p, size_t n);

/* tide_hash_owner - the worker in [0, peers) that owns hash @h. */
static inline uint32_t tide_hash_owner(uint64_t h, uint32_t peers)
{
    return (uint32_t)(((unsigned __int128)h * peers) >> 64);
}

#endif /* TIDE_RECORD_H */
