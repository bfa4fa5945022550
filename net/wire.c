/*
 * wire.c - encode and decode tide frames (see wire.h and docs/wire.md).
 *
 * Encoding uses msgpack-c's packer writing into a tide_alloc'd buffer.
 * Decoding does not use msgpack-c's unpacker: msgpack_unpack_next builds an
 * object tree in a malloc'd zone and sizes arrays from their declared count
 * before seeing the elements, which a hostile 5-byte frame turns into a
 * multi-gigabyte allocation. Instead a small pull reader walks the frame,
 * accepts exactly the shape tide sends (any integer encoding of a value in
 * range), and checks every length against the bytes actually left.
 */
#include <string.h>

#include <msgpack.h>

#include "tide/alloc.h"
#include "tide/batch.h"
#include "wire.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tide's wire format sends times, diffs and offsets as little-endian arrays"
#endif
_Static_assert(sizeof(tide_time) == 16, "tide_time goes on the wire as 16 raw bytes");

static const char MAGIC[4] = {'t', 'i', 'd', 'e'};

#define DATA_FIELDS       15
#define HELLO_FIELDS      5
#define PROGRESS_FIELDS   3
#define POINTSTAMP_FIELDS 7
#define FAIL_FIELDS       3

const char *tide__wire_kind_name(uint32_t kind)
{
    switch (kind) {
    case TIDE__WIRE_HELLO:
        return "HELLO";
    case TIDE__WIRE_DATA:
        return "DATA";
    case TIDE__WIRE_PROGRESS:
        return "PROGRESS";
    case TIDE__WIRE_BYE:
        return "BYE";
    case TIDE__WIRE_FAIL:
        return "FAIL";
    }
    return "?";
}

/* ======================================================================== */
/* Encoding                                                                 */
/* ======================================================================== */

void tide__wire_enc_init(tide__wire_enc *w)
{
    memset(w, 0, sizeof *w);
}

void tide__wire_enc_fini(tide__wire_enc *w)
{
    tide_free(w->buf);
    memset(w, 0, sizeof *w);
}

/* msgpack_packer write callback: append to w->buf. */
static int buf_write(void *data, const char *p, size_t n)
{
    tide__wire_enc *w = data;
    if (w->oom) return -1;
    if (n > w->cap - w->len) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) cap *= 2;
        uint8_t *nb = tide_realloc(w->buf, cap);
        if (nb == NULL) {
            w->oom = 1;
            return -1;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

static void start(tide__wire_enc *w, msgpack_packer *pk, uint32_t kind, uint32_t body_fields)
{
    w->len = 0;
    w->oom = 0;
    w->mark = 0;
    w->nseg = 0;
    w->total = 0;
    msgpack_packer_init(pk, w, buf_write);
    msgpack_pack_array(pk, 2);
    msgpack_pack_array(pk, 3);
    msgpack_pack_str(pk, sizeof MAGIC);
    msgpack_pack_str_body(pk, MAGIC, sizeof MAGIC);
    msgpack_pack_uint32(pk, TIDE__WIRE_VERSION);
    msgpack_pack_uint32(pk, kind);
    msgpack_pack_array(pk, body_fields);
}

/* Close the open buffer segment (if it has bytes). */
static void cut(tide__wire_enc *w)
{
    if (w->len > w->mark) {
        w->offs[w->nseg] = w->mark;
        w->segs[w->nseg].ptr = NULL;
        w->segs[w->nseg].len = w->len - w->mark;
        w->nseg++;
        w->mark = w->len;
    }
}

/* A BIN object holding @n bytes at @p: inline if small, else borrowed. */
static void put_bin(tide__wire_enc *w, msgpack_packer *pk, const void *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    if (n < TIDE__WIRE_INLINE) {
        if (n) msgpack_pack_bin_body(pk, p, n);
        return;
    }
    cut(w);
    w->offs[w->nseg] = SIZE_MAX;
    w->segs[w->nseg].ptr = p;
    w->segs[w->nseg].len = n;
    w->nseg++;
}

static int finish(tide__wire_enc *w, const char *what, tide_error *e)
{
    if (w->oom) {
        w->nseg = 0;
        return tide_err_set(e, TIDE_ENOMEM, "encoding a %s frame: out of memory", what);
    }
    cut(w);
    w->total = 0;
    for (uint32_t i = 0; i < w->nseg; i++) {
        if (w->offs[i] != SIZE_MAX) w->segs[i].ptr = w->buf + w->offs[i];
        w->total += w->segs[i].len;
    }
    return TIDE_OK;
}

void tide__wire_flatten(const tide__wire_enc *w, void *dst)
{
    uint8_t *d = dst;
    for (uint32_t i = 0; i < w->nseg; i++) {
        if (w->segs[i].len) memcpy(d, w->segs[i].ptr, w->segs[i].len);
        d += w->segs[i].len;
    }
}

int tide__wire_encode_hello(tide__wire_enc *w, const tide_config *cfg, tide_error *e)
{
    msgpack_packer pk;
    size_t jlen = strnlen(cfg->job, sizeof cfg->job - 1);
    start(w, &pk, TIDE__WIRE_HELLO, HELLO_FIELDS);
    msgpack_pack_uint32(&pk, TIDE__WIRE_VERSION);
    msgpack_pack_uint32(&pk, cfg->processes);
    msgpack_pack_uint32(&pk, cfg->workers);
    msgpack_pack_uint32(&pk, cfg->process);
    msgpack_pack_str(&pk, jlen);
    msgpack_pack_str_body(&pk, cfg->job, jlen);
    return finish(w, "HELLO", e);
}

int tide__wire_encode_bye(tide__wire_enc *w, tide_error *e)
{
    msgpack_packer pk;
    start(w, &pk, TIDE__WIRE_BYE, 0);
    return finish(w, "BYE", e);
}

int tide__wire_encode_fail(tide__wire_enc *w, uint32_t origin, int code, const char *cause,
                           tide_error *e)
{
    msgpack_packer pk;
    size_t clen = strnlen(cause, TIDE__WIRE_CAUSE_MAX);
    start(w, &pk, TIDE__WIRE_FAIL, FAIL_FIELDS);
    msgpack_pack_uint32(&pk, origin);
    msgpack_pack_int32(&pk, code);
    msgpack_pack_str(&pk, clen);
    msgpack_pack_str_body(&pk, cause, clen);
    return finish(w, "FAIL", e);
}

static void put_time(msgpack_packer *pk, tide_time t)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, t.epoch);
    msgpack_pack_uint32(pk, t.iter[0]);
    msgpack_pack_uint32(pk, t.iter[1]);
}

/* A column as two BINs: offsets (variable only, else empty) and bytes. */
static void put_col(tide__wire_enc *w, msgpack_packer *pk, const tide_col *c, uint32_t len)
{
    static const uint32_t zero_offs[1] = {0};
    if (c->width != TIDE_VAR) {
        put_bin(w, pk, NULL, 0);
        put_bin(w, pk, c->bytes, (size_t)len * c->width);
        return;
    }
    const uint32_t *offs = c->offs ? c->offs : zero_offs; /* an empty column may have none */
    put_bin(w, pk, offs, ((size_t)len + 1) * sizeof(uint32_t));
    put_bin(w, pk, c->bytes, offs[len]);
}

static int col_size(const tide_col *c, uint32_t len, uint64_t *out)
{
    if (c->width != TIDE_VAR) {
        *out = (uint64_t)len * c->width;
    } else {
        if (c->offs == NULL && len > 0) return -1;
        *out = c->offs ? c->offs[len] : 0;
    }
    return *out <= UINT32_MAX ? 0 : -1;
}

int tide__wire_encode_data(tide__wire_enc *w, const tide__msg *m, uint32_t to, tide_error *e)
{
    const tide_batch *b = m->batch;
    uint64_t ks, vs;
    if (m->kind != TIDE__MSG_DATA || b == NULL)
        return tide_err_set(e, TIDE_EINVAL, "DATA frame: message kind %u has no batch", m->kind);
    if (b->len > TIDE__WIRE_MAX_RECORDS)
        return tide_err_set(e, TIDE_EINVAL, "DATA frame: batch of %u records exceeds %u", b->len,
                            TIDE__WIRE_MAX_RECORDS);
    if (col_size(&b->key, b->len, &ks) < 0 || col_size(&b->val, b->len, &vs) < 0)
        return tide_err_set(e, TIDE_EINVAL,
                            "DATA frame: batch of %u records has a column over 4 GiB", b->len);
    int upd = (b->flags & TIDE_BATCH_UPDATES) != 0;
    msgpack_packer pk;
    start(w, &pk, TIDE__WIRE_DATA, DATA_FIELDS);
    msgpack_pack_uint32(&pk, m->dataflow);
    msgpack_pack_uint32(&pk, m->channel);
    msgpack_pack_uint32(&pk, m->from);
    msgpack_pack_uint32(&pk, to);
    put_time(&pk, b->time);
    msgpack_pack_uint32(&pk, b->flags);
    msgpack_pack_uint32(&pk, b->layout.key_width);
    msgpack_pack_uint32(&pk, b->layout.val_width);
    msgpack_pack_uint32(&pk, b->len);
    put_col(w, &pk, &b->key, b->len);
    put_col(w, &pk, &b->val, b->len);
    put_bin(w, &pk, upd ? b->times : NULL, upd ? (size_t)b->len * sizeof(tide_time) : 0);
    put_bin(w, &pk, upd ? b->diffs : NULL, upd ? (size_t)b->len * sizeof(int64_t) : 0);
    return finish(w, "DATA", e);
}

int tide__wire_encode_progress(tide__wire_enc *w, const tide__msg *m, tide_error *e)
{
    const tide__progress *p = m->progress;
    if (m->kind != TIDE__MSG_PROGRESS || p == NULL)
        return tide_err_set(e, TIDE_EINVAL, "PROGRESS frame: message kind %u has no updates",
                            m->kind);
    if (p->len > TIDE__WIRE_MAX_POINTSTAMPS)
        return tide_err_set(e, TIDE_EINVAL, "PROGRESS frame: %u pointstamps exceed %u", p->len,
                            TIDE__WIRE_MAX_POINTSTAMPS);
    msgpack_packer pk;
    start(w, &pk, TIDE__WIRE_PROGRESS, PROGRESS_FIELDS);
    msgpack_pack_uint32(&pk, m->dataflow);
    msgpack_pack_uint32(&pk, m->from);
    msgpack_pack_array(&pk, p->len);
    for (uint32_t i = 0; i < p->len; i++) {
        const tide__pointstamp *s = &p->updates[i];
        msgpack_pack_array(&pk, POINTSTAMP_FIELDS);
        msgpack_pack_uint32(&pk, s->node);
        msgpack_pack_uint16(&pk, s->port);
        msgpack_pack_uint8(&pk, s->is_source);
        msgpack_pack_uint64(&pk, s->time.epoch);
        msgpack_pack_uint32(&pk, s->time.iter[0]);
        msgpack_pack_uint32(&pk, s->time.iter[1]);
        msgpack_pack_int64(&pk, s->delta);
    }
    return finish(w, "PROGRESS", e);
}

/* ======================================================================== */
/* Decoding: a bounds-checked pull reader over the segments                 */
/* ======================================================================== */

typedef struct reader {
    const tide__wire_seg *segs;
    uint32_t nseg, i; /* current segment */
    size_t off;       /* offset in segs[i] */
    size_t left;      /* bytes left in the whole frame */
    const char *what; /* frame kind, for messages */
    tide_error *e;
} reader;

/* Copy @n bytes out (dst may be NULL to skip). Caller checked n <= left. */
static void take(reader *r, void *dst, size_t n)
{
    uint8_t *d = dst;
    r->left -= n;
    while (n > 0) {
        while (r->off == r->segs[r->i].len) {
            r->i++;
            r->off = 0;
        }
        size_t k = r->segs[r->i].len - r->off;
        if (k > n) k = n;
        if (d) {
            memcpy(d, (const uint8_t *)r->segs[r->i].ptr + r->off, k);
            d += k;
        }
        r->off += k;
        n -= k;
    }
}

static int fail(reader *r, const char *field, const char *why)
{
    return tide_err_set(r->e, TIDE_EPROTO, "%s frame: field '%s': %s", r->what, field, why);
}

static int need(reader *r, const char *field, size_t n)
{
    if (n > r->left) return fail(r, field, "truncated");
    return TIDE_OK;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* Any msgpack integer; *neg set when it is negative (value in *v as i64). */
static int get_int(reader *r, const char *field, uint64_t *v, int *neg)
{
    uint8_t t, b[8];
    TIDE_TRY(need(r, field, 1));
    take(r, &t, 1);
    *neg = 0;
    if (t <= 0x7f) {
        *v = t;
        return TIDE_OK;
    }
    if (t >= 0xe0) {
        *v = (uint64_t)(int64_t)(int8_t)t;
        *neg = 1;
        return TIDE_OK;
    }
    int n, sgn;
    switch (t) {
    case 0xcc:
        n = 1, sgn = 0;
        break;
    case 0xcd:
        n = 2, sgn = 0;
        break;
    case 0xce:
        n = 4, sgn = 0;
        break;
    case 0xcf:
        n = 8, sgn = 0;
        break;
    case 0xd0:
        n = 1, sgn = 1;
        break;
    case 0xd1:
        n = 2, sgn = 1;
        break;
    case 0xd2:
        n = 4, sgn = 1;
        break;
    case 0xd3:
        n = 8, sgn = 1;
        break;
    default:
        return fail(r, field, "not an integer");
    }
    TIDE_TRY(need(r, field, (size_t)n));
    take(r, b, (size_t)n);
    uint64_t u = be(b, n);
    if (sgn && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~0ULL << (8 * n); /* sign-extend */
    *v = u;
    *neg = sgn && (int64_t)u < 0;
    return TIDE_OK;
}

static int get_uint(reader *r, const char *field, uint64_t max, uint64_t *v)
{
    int neg;
    TIDE_TRY(get_int(r, field, v, &neg));
    if (neg) return fail(r, field, "negative");
    if (*v > max) return fail(r, field, "out of range");
    return TIDE_OK;
}

static int get_u32(reader *r, const char *field, uint32_t *v)
{
    uint64_t x;
    TIDE_TRY(get_uint(r, field, UINT32_MAX, &x));
    *v = (uint32_t)x;
    return TIDE_OK;
}

static int get_i64(reader *r, const char *field, int64_t *v)
{
    uint64_t x;
    int neg;
    TIDE_TRY(get_int(r, field, &x, &neg));
    if (!neg && x > INT64_MAX) return fail(r, field, "out of range");
    *v = (int64_t)x;
    return TIDE_OK;
}

/* An array header; its count must be exactly @want (or any if want < 0). */
static int get_array(reader *r, const char *field, long want, uint32_t *count)
{
    uint8_t t, b[4];
    uint32_t n;
    TIDE_TRY(need(r, field, 1));
    take(r, &t, 1);
    if ((t & 0xf0) == 0x90) {
        n = t & 0x0f;
    } else if (t == 0xdc || t == 0xdd) {
        int k = t == 0xdc ? 2 : 4;
        TIDE_TRY(need(r, field, (size_t)k));
        take(r, b, (size_t)k);
        n = (uint32_t)be(b, k);
    } else {
        return fail(r, field, "not an array");
    }
    if (want >= 0 && n != (uint32_t)want) {
        char why[64];
        snprintf(why, sizeof why, "array of %u elements, expected %ld", n, want);
        return fail(r, field, why);
    }
    if (count) *count = n;
    return TIDE_OK;
}

/* A BIN (or STR when @str) header; the payload length must fit the frame. */
static int get_raw(reader *r, const char *field, int str, size_t *len)
{
    uint8_t t, b[4];
    int k;
    TIDE_TRY(need(r, field, 1));
    take(r, &t, 1);
    if (str && (t & 0xe0) == 0xa0) {
        *len = t & 0x1f;
        k = 0;
    } else if (str && t >= 0xd9 && t <= 0xdb) {
        k = 1 << (t - 0xd9);
    } else if (!str && t >= 0xc4 && t <= 0xc6) {
        k = 1 << (t - 0xc4);
    } else {
        return fail(r, field, str ? "not a string" : "not a binary");
    }
    if (k) {
        TIDE_TRY(need(r, field, (size_t)k));
        take(r, b, (size_t)k);
        *len = (size_t)be(b, k);
    }
    if (*len > r->left) return fail(r, field, "length exceeds the frame");
    return TIDE_OK;
}

static int get_time(reader *r, const char *field, tide_time *t)
{
    uint64_t v;
    TIDE_TRY(get_array(r, field, 3, NULL));
    TIDE_TRY(get_uint(r, field, UINT64_MAX, &v));
    t->epoch = v;
    TIDE_TRY(get_u32(r, field, &t->iter[0]));
    TIDE_TRY(get_u32(r, field, &t->iter[1]));
    return TIDE_OK;
}

/* ------------------------------------------------------------------------ */
/* Frame bodies                                                             */
/* ------------------------------------------------------------------------ */

static int decode_hello(reader *r, tide__wire_hello *h)
{
    size_t n;
    TIDE_TRY(get_array(r, "body", HELLO_FIELDS, NULL));
    TIDE_TRY(get_u32(r, "version", &h->version));
    TIDE_TRY(get_u32(r, "processes", &h->processes));
    TIDE_TRY(get_u32(r, "workers", &h->workers));
    TIDE_TRY(get_u32(r, "process", &h->process));
    TIDE_TRY(get_raw(r, "job", 1, &n));
    if (n >= sizeof h->job) return fail(r, "job", "longer than 63 bytes");
    take(r, h->job, n);
    h->job[n] = '\0';
    if (memchr(h->job, '\0', n)) return fail(r, "job", "contains a NUL byte");
    return TIDE_OK;
}

/* FAIL: [origin, code, cause]; the code is a TIDE_E* (negative, small). */
static int decode_fail(reader *r, tide__wire_fail *f)
{
    size_t n;
    int64_t code;
    TIDE_TRY(get_array(r, "body", FAIL_FIELDS, NULL));
    TIDE_TRY(get_u32(r, "origin", &f->origin));
    TIDE_TRY(get_i64(r, "code", &code));
    if (code >= 0 || code < -1000) return fail(r, "code", "not an error code");
    f->code = (int32_t)code;
    TIDE_TRY(get_raw(r, "cause", 1, &n));
    if (n > TIDE__WIRE_CAUSE_MAX) return fail(r, "cause", "longer than 200 bytes");
    take(r, f->cause, n);
    f->cause[n] = '\0';
    if (memchr(f->cause, '\0', n)) return fail(r, "cause", "contains a NUL byte");
    return TIDE_OK;
}

/* The six BINs of a DATA body, in wire order. */
enum { B_KOFFS, B_KBYTES, B_VOFFS, B_VBYTES, B_TIMES, B_DIFFS, NBINS };
static const char *const bin_names[NBINS] = {"key offsets", "key bytes", "val offsets",
                                             "val bytes",   "times",     "diffs"};

/* What bin @k must hold for a column of @width and @len records (variable
 * heaps: any size, returned as UINT64_MAX). */
static uint64_t bin_want(int k, uint32_t width, uint32_t len, int upd)
{
    switch (k) {
    case B_KOFFS:
    case B_VOFFS:
        return width == TIDE_VAR ? ((uint64_t)len + 1) * sizeof(uint32_t) : 0;
    case B_KBYTES:
    case B_VBYTES:
        return width == TIDE_VAR ? UINT64_MAX : (uint64_t)len * width;
    case B_TIMES:
        return upd ? (uint64_t)len * sizeof(tide_time) : 0;
    default:
        return upd ? (uint64_t)len * sizeof(int64_t) : 0;
    }
}

/* Check a variable column's offsets (copied in) against its heap size. */
static int check_offs(reader *r, const char *field, const uint32_t *offs, uint32_t len, size_t heap)
{
    for (uint32_t i = 0; i < len; i++)
        if (offs[i] > offs[i + 1]) return fail(r, field, "offsets not monotone");
    if (offs[len] != heap) return fail(r, field, "last offset is not the heap length");
    return TIDE_OK;
}

static int decode_data(reader *r, tide__wire_frame *f)
{
    uint32_t dataflow, channel, from, to, flags, kw, vw, len;
    tide_time t;
    TIDE_TRY(get_array(r, "body", DATA_FIELDS, NULL));
    TIDE_TRY(get_u32(r, "dataflow", &dataflow));
    TIDE_TRY(get_u32(r, "channel", &channel));
    TIDE_TRY(get_u32(r, "from", &from));
    TIDE_TRY(get_u32(r, "to", &to));
    TIDE_TRY(get_time(r, "time", &t));
    TIDE_TRY(get_u32(r, "flags", &flags));
    if (flags & ~(uint32_t)TIDE_BATCH_UPDATES) return fail(r, "flags", "unknown flag bits");
    TIDE_TRY(get_u32(r, "key width", &kw));
    TIDE_TRY(get_u32(r, "val width", &vw));
    TIDE_TRY(get_u32(r, "len", &len));
    if (len > TIDE__WIRE_MAX_RECORDS) return fail(r, "len", "too many records");
    int upd = (flags & TIDE_BATCH_UPDATES) != 0;

    /* Pass 1: every BIN's size, checked against layout and len, before any
     * allocation; all of them lie within the frame. */
    reader start = *r;
    size_t n[NBINS];
    for (int k = 0; k < NBINS; k++) {
        TIDE_TRY(get_raw(r, bin_names[k], 0, &n[k]));
        uint64_t want = bin_want(k, k < B_VOFFS ? kw : vw, len, upd);
        if (want != UINT64_MAX && n[k] != want) {
            char why[96];
            snprintf(why, sizeof why, "%zu bytes, the layout and len need %llu", n[k],
                     (unsigned long long)want);
            return fail(r, bin_names[k], why);
        }
        if (want == UINT64_MAX && n[k] > UINT32_MAX)
            return fail(r, bin_names[k], "heap over 4 GiB");
        take(r, NULL, n[k]);
    }
    if (r->left != 0) return fail(r, "frame", "bytes after the end of the frame");
    *r = start;

    /* Pass 2: allocate for exactly what is there, copy each BIN once. */
    size_t heap = 0;
    if (kw == TIDE_VAR) heap = n[B_KBYTES];
    if (vw == TIDE_VAR && n[B_VBYTES] > heap) heap = n[B_VBYTES];
    tide_batch *b = tide_batch_new(tide_layout_make(kw, vw), flags, len ? len : 1);
    if (b == NULL || tide_batch_reserve(b, len, (uint32_t)heap) < 0 || b->cap < len ||
        (kw == TIDE_VAR && b->key.heap_cap < n[B_KBYTES]) ||
        (vw == TIDE_VAR && b->val.heap_cap < n[B_VBYTES])) {
        tide_batch_unref(b);
        return tide_err_set(r->e, TIDE_ENOMEM, "DATA frame: no memory for %u records", len);
    }
    void *dst[NBINS] = {
        kw == TIDE_VAR ? (void *)b->key.offs : NULL,
        b->key.bytes,
        vw == TIDE_VAR ? (void *)b->val.offs : NULL,
        b->val.bytes,
        upd ? (void *)b->times : NULL,
        upd ? (void *)b->diffs : NULL,
    };
    for (int k = 0; k < NBINS; k++) {
        size_t m;
        get_raw(r, bin_names[k], 0, &m); /* cannot fail: pass 1 read it */
        if (m) take(r, dst[k], m);
    }
    int rc = TIDE_OK;
    if (kw == TIDE_VAR) {
        rc = check_offs(r, "key offsets", b->key.offs, len, n[B_KBYTES]);
        b->key.heap_len = (uint32_t)n[B_KBYTES];
    }
    if (rc == TIDE_OK && vw == TIDE_VAR) {
        rc = check_offs(r, "val offsets", b->val.offs, len, n[B_VBYTES]);
        b->val.heap_len = (uint32_t)n[B_VBYTES];
    }
    for (uint32_t i = 0; rc == TIDE_OK && upd && i < len; i++)
        if (!tide_time_le(t, b->times[i]))
            rc = fail(r, "times", "a record time is not >= the batch time");
    if (rc < 0) {
        tide_batch_unref(b);
        return rc;
    }
    b->time = t;
    b->len = len;
    f->to = to;
    f->msg.kind = TIDE__MSG_DATA;
    f->msg.dataflow = dataflow;
    f->msg.channel = channel;
    f->msg.from = from;
    f->msg.batch = b;
    return TIDE_OK;
}

static int decode_progress(reader *r, tide__wire_frame *f)
{
    uint32_t dataflow, from, n;
    TIDE_TRY(get_array(r, "body", PROGRESS_FIELDS, NULL));
    TIDE_TRY(get_u32(r, "dataflow", &dataflow));
    TIDE_TRY(get_u32(r, "from", &from));
    TIDE_TRY(get_array(r, "updates", -1, &n));
    /* Each pointstamp takes at least 8 bytes: a fixarray and 7 fixints. */
    if (n > TIDE__WIRE_MAX_POINTSTAMPS || (uint64_t)n * 8 > r->left)
        return fail(r, "updates", "more pointstamps than the frame holds");
    tide__progress *p = tide__progress_new(n);
    if (p == NULL)
        return tide_err_set(r->e, TIDE_ENOMEM, "PROGRESS frame: no memory for %u pointstamps", n);
    int rc = TIDE_OK;
    for (uint32_t i = 0; i < n && rc == TIDE_OK; i++) {
        tide__pointstamp *s = &p->updates[i];
        uint64_t v;
        memset(s, 0, sizeof *s);
        if ((rc = get_array(r, "pointstamp", POINTSTAMP_FIELDS, NULL)) < 0) break;
        if ((rc = get_u32(r, "node", &s->node)) < 0) break;
        if ((rc = get_uint(r, "port", UINT16_MAX, &v)) < 0) break;
        s->port = (uint16_t)v;
        if ((rc = get_uint(r, "is_source", 1, &v)) < 0) break;
        s->is_source = (uint8_t)v;
        if ((rc = get_uint(r, "time", UINT64_MAX, &v)) < 0) break;
        s->time.epoch = v;
        if ((rc = get_u32(r, "time", &s->time.iter[0])) < 0) break;
        if ((rc = get_u32(r, "time", &s->time.iter[1])) < 0) break;
        rc = get_i64(r, "delta", &s->delta);
    }
    if (rc < 0) {
        tide__progress_unref(p);
        return rc;
    }
    f->msg.kind = TIDE__MSG_PROGRESS;
    f->msg.dataflow = dataflow;
    f->msg.from = from;
    f->msg.progress = p;
    return TIDE_OK;
}

int tide__wire_decode(const tide__wire_seg *segs, uint32_t nseg, tide__wire_frame *f, tide_error *e)
{
    reader r = {segs, nseg, 0, 0, 0, "?", e};
    for (uint32_t i = 0; i < nseg; i++) r.left += segs[i].len;
    memset(f, 0, sizeof *f);

    size_t n;
    char magic[sizeof MAGIC];
    uint32_t kind, version;
    TIDE_TRY(get_array(&r, "frame", 2, NULL));
    TIDE_TRY(get_array(&r, "header", 3, NULL));
    TIDE_TRY(get_raw(&r, "magic", 1, &n));
    if (n != sizeof MAGIC) return fail(&r, "magic", "not \"tide\"");
    take(&r, magic, n);
    if (memcmp(magic, MAGIC, sizeof MAGIC) != 0) return fail(&r, "magic", "not \"tide\"");
    TIDE_TRY(get_u32(&r, "version", &version));
    TIDE_TRY(get_u32(&r, "kind", &kind));
    r.what = tide__wire_kind_name(kind);
    if (kind < TIDE__WIRE_HELLO || kind > TIDE__WIRE_FAIL)
        return tide_err_set(e, TIDE_EPROTO, "frame: unknown kind %u", kind);
    /* HELLO's layout is frozen across versions, so that a peer of another
     * version can be refused with a clear message rather than a parse error. */
    if (version != TIDE__WIRE_VERSION && kind != TIDE__WIRE_HELLO)
        return tide_err_set(e, TIDE_EPROTO,
                            "%s frame: protocol version %u, this process speaks version %u", r.what,
                            version, TIDE__WIRE_VERSION);
    f->kind = kind;
    f->version = version;

    int rc = TIDE_OK;
    switch (kind) {
    case TIDE__WIRE_HELLO:
        rc = decode_hello(&r, &f->hello);
        break;
    case TIDE__WIRE_DATA:
        rc = decode_data(&r, f);
        break;
    case TIDE__WIRE_PROGRESS:
        rc = decode_progress(&r, f);
        break;
    case TIDE__WIRE_BYE:
        rc = get_array(&r, "body", 0, NULL);
        break;
    case TIDE__WIRE_FAIL:
        rc = decode_fail(&r, &f->fail);
        break;
    }
    if (rc == TIDE_OK && r.left != 0) {
        char why[64];
        snprintf(why, sizeof why, "%zu bytes after the end of the frame", r.left);
        rc = fail(&r, "frame", why);
    }
    if (rc < 0) {
        tide__wire_frame_release(f);
        memset(f, 0, sizeof *f);
    }
    return rc;
}

void tide__wire_frame_release(tide__wire_frame *f)
{
    if (f->msg.kind == TIDE__MSG_DATA) tide_batch_unref(f->msg.batch);
    if (f->msg.kind == TIDE__MSG_PROGRESS) tide__progress_unref(f->msg.progress);
    f->msg.kind = 0;
    f->msg.batch = NULL;
}

/* ======================================================================== */
/* Handshake                                                                */
/* ======================================================================== */

int tide__wire_check_hello(const tide__wire_hello *h, const tide_config *cfg, const char *peer,
                           uint32_t expect, tide_error *e)
{
    if (h->version != TIDE__WIRE_VERSION)
        return tide_err_set(e, TIDE_EPROTO,
                            "peer %s (process %u) speaks tide wire protocol %u; this process "
                            "speaks %u",
                            peer, h->process, h->version, TIDE__WIRE_VERSION);
    if (strcmp(h->job, cfg->job) != 0 || h->processes != cfg->processes ||
        h->workers != cfg->workers)
        return tide_err_set(e, TIDE_EPROTO,
                            "peer %s (process %u) runs job '%s' with N=%u W=%u; this process "
                            "runs '%s' with N=%u W=%u",
                            peer, h->process, h->job, h->processes, h->workers, cfg->job,
                            cfg->processes, cfg->workers);
    if (expect != UINT32_MAX && h->process != expect)
        return tide_err_set(e, TIDE_EPROTO,
                            "peer %s says it is process %u, but the cluster table has it as "
                            "process %u",
                            peer, h->process, expect);
    if (h->process >= cfg->processes || h->process == cfg->process)
        return tide_err_set(e, TIDE_EPROTO,
                            "peer %s says it is process %u; this is process %u of %u", peer,
                            h->process, cfg->process, cfg->processes);
    return TIDE_OK;
}
