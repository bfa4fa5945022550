/*
 * test_wire.c - the wire format: roundtrips of every frame kind, handshake
 * refusals, and hostile input (random frames, every truncation, single-byte
 * corruptions, allocation failures): the decoder must either return a
 * self-consistent frame or TIDE_EPROTO/TIDE_ENOMEM, never crash or leak.
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#include "message.h"
#include "tide/alloc.h"
#include "tide/batch.h"
#include "tide/record.h"
#include "tide_test.h"
#include "wire.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static tide_batch *make_batch(tide_rng *r, tide_layout l, uint32_t flags, uint32_t len)
{
    tide_batch *b = tide_batch_new(l, flags, 4);
    cr_assert_not_null(b);
    b->time = (tide_time){3, {1, 0}};
    uint8_t key[64], val[64];
    for (uint32_t i = 0; i < len; i++) {
        uint32_t kl = l.key_width == TIDE_VAR ? (uint32_t)tide_rng_below(r, 40) : l.key_width;
        uint32_t vl = l.val_width == TIDE_VAR ? (uint32_t)tide_rng_below(r, 40) : l.val_width;
        for (uint32_t j = 0; j < kl; j++) key[j] = (uint8_t)tide_rng_next(r);
        for (uint32_t j = 0; j < vl; j++) val[j] = (uint8_t)tide_rng_next(r);
        int rc;
        if (flags & TIDE_BATCH_UPDATES) {
            tide_time t = {3 + tide_rng_below(r, 4), {1 + (uint32_t)tide_rng_below(r, 9), 0}};
            int64_t d = (int64_t)tide_rng_below(r, 5) - 2;
            rc = tide_batch_push_update(b, key, kl, val, vl, t, d);
        } else {
            rc = tide_batch_push(b, key, kl, val, vl);
        }
        cr_assert_eq(rc, TIDE_OK);
    }
    return b;
}

/* A decoded batch must be usable: offsets monotone and within the heap,
 * record times at or after the batch time. */
static void check_consistent(const tide_batch *b)
{
    const tide_col *cols[2] = {&b->key, &b->val};
    for (int c = 0; c < 2; c++) {
        if (cols[c]->width != TIDE_VAR) continue;
        for (uint32_t i = 0; i < b->len; i++) cr_assert(cols[c]->offs[i] <= cols[c]->offs[i + 1]);
        cr_assert_eq(cols[c]->offs[b->len], cols[c]->heap_len);
        cr_assert(cols[c]->heap_len <= cols[c]->heap_cap || cols[c]->heap_len == 0);
    }
    if (b->flags & TIDE_BATCH_UPDATES)
        for (uint32_t i = 0; i < b->len; i++) cr_assert(tide_time_le(b->time, b->times[i]));
}

static void expect_same_batch(const tide_batch *a, const tide_batch *b)
{
    cr_assert(tide_layout_eq(a->layout, b->layout));
    cr_assert_eq(a->flags, b->flags);
    cr_assert_eq(a->len, b->len);
    cr_assert(tide_time_eq(a->time, b->time));
    for (uint32_t i = 0; i < a->len; i++) {
        uint32_t al, bl;
        const uint8_t *ap = tide_batch_key(a, i, &al), *bp = tide_batch_key(b, i, &bl);
        cr_assert_eq(al, bl, "record %u key length", i);
        cr_assert(al == 0 || memcmp(ap, bp, al) == 0, "record %u key", i);
        ap = tide_batch_val(a, i, &al);
        bp = tide_batch_val(b, i, &bl);
        cr_assert_eq(al, bl, "record %u val length", i);
        cr_assert(al == 0 || memcmp(ap, bp, al) == 0, "record %u val", i);
        if (a->flags & TIDE_BATCH_UPDATES) {
            cr_assert(tide_time_eq(a->times[i], b->times[i]));
            cr_assert_eq(a->diffs[i], b->diffs[i]);
        }
    }
    check_consistent(b);
}

/* The encoded frame as one malloc'd buffer. */
static uint8_t *flat(const tide__wire_enc *w)
{
    uint8_t *p = malloc(w->total ? w->total : 1);
    tide__wire_flatten(w, p);
    return p;
}

/* It is one well-formed msgpack value (checked with msgpack-c itself). */
static void expect_valid_msgpack(const uint8_t *p, size_t n)
{
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, (const char *)p, n, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, n, "one msgpack value, nothing after it");
    cr_assert_eq(u.data.type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(u.data.via.array.size, 2);
    msgpack_unpacked_destroy(&u);
}

static void roundtrip(tide_layout l, uint32_t flags, uint32_t len, uint64_t salt)
{
    tide_rng r = {tide_test_seed("wire roundtrip", salt)};
    tide_batch *b = make_batch(&r, l, flags, len);
    tide__msg m = {.kind = TIDE__MSG_DATA, .dataflow = 7, .channel = 3, .from = 5, .batch = b};
    tide__wire_enc w;
    tide_error e;
    tide__wire_enc_init(&w);
    cr_assert_eq(tide__wire_encode_data(&w, &m, 9, &e), TIDE_OK, "%s", e.msg);
    uint8_t *p = flat(&w);
    expect_valid_msgpack(p, w.total);

    /* Decode from the gather list as ZeroMQ parts would deliver it, and flat. */
    for (int pass = 0; pass < 2; pass++) {
        tide__wire_frame f;
        int rc = pass == 0 ? tide__wire_decode(w.segs, w.nseg, &f, &e)
                           : tide__wire_decode_buf(p, w.total, &f, &e);
        cr_assert_eq(rc, TIDE_OK, "%s", e.msg);
        cr_expect_eq(f.kind, TIDE__WIRE_DATA);
        cr_expect_eq(f.to, 9);
        cr_expect_eq(f.msg.kind, TIDE__MSG_DATA);
        cr_expect_eq(f.msg.dataflow, 7);
        cr_expect_eq(f.msg.channel, 3);
        cr_expect_eq(f.msg.from, 5);
        expect_same_batch(b, f.msg.batch);
        tide__wire_frame_release(&f);
    }
    free(p);
    tide__wire_enc_fini(&w);
    tide_batch_unref(b);
}

/* ------------------------------------------------------------------------ */
/* Roundtrips                                                               */
/* ------------------------------------------------------------------------ */

Test(wire, data_fixed)
{
    roundtrip(tide_layout_make(8, 8), 0, 100, 1);
    roundtrip(tide_layout_make(16, 0), 0, 3, 2);
    roundtrip(tide_layout_make(8, 8), 0, 0, 3);
    roundtrip(tide_layout_make(0, 0), 0, 17, 4);
}

Test(wire, data_variable)
{
    roundtrip(tide_layout_make(TIDE_VAR, TIDE_VAR), 0, 50, 5);
    roundtrip(tide_layout_make(TIDE_VAR, 8), 0, 1, 6);
    roundtrip(tide_layout_make(TIDE_VAR, TIDE_VAR), 0, 0, 7);
}

Test(wire, data_updates)
{
    roundtrip(tide_layout_make(8, 0), TIDE_BATCH_UPDATES, 200, 8);
    roundtrip(tide_layout_make(TIDE_VAR, 8), TIDE_BATCH_UPDATES, 30, 9);
    roundtrip(tide_layout_make(TIDE_VAR, TIDE_VAR), TIDE_BATCH_UPDATES, 0, 10);
}

Test(wire, data_large_columns_are_borrowed)
{
    tide_rng r = {tide_test_seed("wire large", 11)};
    tide_batch *b = make_batch(&r, tide_layout_make(8, TIDE_VAR), TIDE_BATCH_UPDATES, 4096);
    tide__msg m = {.kind = TIDE__MSG_DATA, .batch = b};
    tide__wire_enc w;
    tide_error e;
    tide__wire_enc_init(&w);
    cr_assert_eq(tide__wire_encode_data(&w, &m, 0, &e), TIDE_OK);
    int borrowed = 0;
    for (uint32_t i = 0; i < w.nseg; i++) {
        const uint8_t *p = w.segs[i].ptr;
        if (p == b->key.bytes || p == b->val.bytes || p == (void *)b->val.offs ||
            p == (void *)b->times || p == (void *)b->diffs)
            borrowed++;
    }
    cr_expect_eq(borrowed, 5, "every large column goes by reference");
    cr_expect(w.len < 512, "the owned part is small: %zu bytes", w.len);
    tide__wire_enc_fini(&w);
    tide_batch_unref(b);
    roundtrip(tide_layout_make(TIDE_VAR, TIDE_VAR), TIDE_BATCH_UPDATES, 5000, 12);
}

Test(wire, progress)
{
    tide__progress *p = tide__progress_new(3);
    cr_assert_not_null(p);
    p->updates[0] =
        (tide__pointstamp){.node = 1, .port = 0, .is_source = 1, .time = {5, {0, 0}}, .delta = -1};
    p->updates[1] = (tide__pointstamp){.node = 70000,
                                       .port = 65535,
                                       .is_source = 0,
                                       .time = {UINT64_MAX, {UINT32_MAX, 7}},
                                       .delta = INT64_MIN};
    p->updates[2] =
        (tide__pointstamp){.node = 2, .port = 1, .time = {0, {0, 0}}, .delta = INT64_MAX};
    tide__msg m = {.kind = TIDE__MSG_PROGRESS, .dataflow = 4, .from = 6, .progress = p};
    tide__wire_enc w;
    tide_error e;
    tide__wire_enc_init(&w);
    cr_assert_eq(tide__wire_encode_progress(&w, &m, &e), TIDE_OK);
    uint8_t *buf = flat(&w);
    expect_valid_msgpack(buf, w.total);
    tide__wire_frame f;
    cr_assert_eq(tide__wire_decode_buf(buf, w.total, &f, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(f.kind, TIDE__WIRE_PROGRESS);
    cr_expect_eq(f.msg.kind, TIDE__MSG_PROGRESS);
    cr_expect_eq(f.msg.dataflow, 4);
    cr_expect_eq(f.msg.from, 6);
    cr_assert_eq(f.msg.progress->len, 3);
    for (int i = 0; i < 3; i++) {
        const tide__pointstamp *a = &p->updates[i], *b = &f.msg.progress->updates[i];
        cr_expect_eq(a->node, b->node);
        cr_expect_eq(a->port, b->port);
        cr_expect_eq(a->is_source, b->is_source);
        cr_expect(tide_time_eq(a->time, b->time));
        cr_expect_eq(a->delta, b->delta);
    }
    tide__wire_frame_release(&f);
    free(buf);
    tide__wire_enc_fini(&w);
    tide__progress_unref(p);
}

static void encode_hello(tide__wire_enc *w, const char *job, uint32_t n, uint32_t wk, uint32_t p)
{
    tide_config c;
    tide_error e;
    tide_config_init(&c);
    strcpy(c.job, job);
    c.processes = n;
    c.workers = wk;
    c.process = p;
    cr_assert_eq(tide__wire_encode_hello(w, &c, &e), TIDE_OK);
}

Test(wire, hello_and_bye)
{
    tide__wire_enc w;
    tide__wire_frame f;
    tide_error e;
    tide__wire_enc_init(&w);
    encode_hello(&w, "wordcount", 4, 2, 3);
    cr_assert_eq(w.nseg, 1);
    cr_assert_eq(tide__wire_decode(w.segs, w.nseg, &f, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(f.kind, TIDE__WIRE_HELLO);
    cr_expect_eq(f.hello.version, TIDE__WIRE_VERSION);
    cr_expect_eq(f.hello.processes, 4);
    cr_expect_eq(f.hello.workers, 2);
    cr_expect_eq(f.hello.process, 3);
    cr_expect_str_eq(f.hello.job, "wordcount");
    cr_assert_eq(tide__wire_encode_bye(&w, &e), TIDE_OK);
    cr_assert_eq(tide__wire_decode(w.segs, w.nseg, &f, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(f.kind, TIDE__WIRE_BYE);
    tide__wire_enc_fini(&w);
}

Test(wire, hello_mismatch)
{
    tide_config me;
    tide_error e;
    tide_config_init(&me);
    strcpy(me.job, "wordcount");
    me.processes = 2;
    me.workers = 1;
    me.process = 0;
    tide__wire_hello h = {TIDE__WIRE_VERSION, 2, 2, 1, "bfs"};
    cr_expect_eq(tide__wire_check_hello(&h, &me, "127.0.0.1:2102", 1, &e), TIDE_EPROTO);
    cr_expect_str_eq(e.msg, "peer 127.0.0.1:2102 (process 1) runs job 'bfs' with N=2 W=2; this "
                            "process runs 'wordcount' with N=2 W=1");
    h = (tide__wire_hello){TIDE__WIRE_VERSION, 2, 1, 1, "wordcount"};
    cr_expect_eq(tide__wire_check_hello(&h, &me, "127.0.0.1:2102", 1, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(tide__wire_check_hello(&h, &me, "h:1", UINT32_MAX, &e), TIDE_OK, "%s", e.msg);
    h.version = TIDE__WIRE_VERSION + 1;
    cr_expect_eq(tide__wire_check_hello(&h, &me, "h:1", 1, &e), TIDE_EPROTO);
    char want[64];
    snprintf(want, sizeof want, "protocol %u; this process speaks %u", TIDE__WIRE_VERSION + 1,
             TIDE__WIRE_VERSION);
    cr_expect(strstr(e.msg, want) != NULL, "%s", e.msg);
    h.version = TIDE__WIRE_VERSION;
    h.processes = 3;
    cr_expect_eq(tide__wire_check_hello(&h, &me, "h:1", 1, &e), TIDE_EPROTO);
    cr_expect(strstr(e.msg, "N=3") != NULL, "%s", e.msg);
    h.processes = 2;
    h.process = 0;
    cr_expect_eq(tide__wire_check_hello(&h, &me, "h:1", 1, &e), TIDE_EPROTO);
    cr_expect(strstr(e.msg, "says it is process 0") != NULL, "%s", e.msg);
    cr_expect_eq(tide__wire_check_hello(&h, &me, "h:1", UINT32_MAX, &e), TIDE_EPROTO);
    cr_expect(strstr(e.msg, "this is process 0 of 2") != NULL, "%s", e.msg);
}

Test(wire, other_version_refused_but_hello_readable)
{
    /* A frame header of the next version: BYE is refused by version, HELLO is read. */
    tide__wire_enc w;
    tide__wire_frame f;
    tide_error e;
    tide__wire_enc_init(&w);
    encode_hello(&w, "j", 2, 1, 1);
    uint8_t *p = flat(&w);
    cr_assert_eq(p[7], TIDE__WIRE_VERSION); /* 92 93 a4 't' 'i' 'd' 'e' VERSION KIND */
    p[7] = TIDE__WIRE_VERSION + 1;
    cr_expect_eq(tide__wire_decode_buf(p, w.total, &f, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(f.version, TIDE__WIRE_VERSION + 1);
    p[8] = TIDE__WIRE_BYE;
    cr_expect_eq(tide__wire_decode_buf(p, w.total, &f, &e), TIDE_EPROTO);
    char want[64];
    snprintf(want, sizeof want, "protocol version %u", TIDE__WIRE_VERSION + 1);
    cr_expect(strstr(e.msg, want) != NULL, "%s", e.msg);
    free(p);
    tide__wire_enc_fini(&w);
}

/* ------------------------------------------------------------------------ */
/* Hostile input                                                            */
/* ------------------------------------------------------------------------ */

/* Decode and check the outcome is one of the allowed ones. */
static int try_decode(const uint8_t *p, size_t n)
{
    tide__wire_frame f;
    tide_error e;
    tide_err_clear(&e);
    int rc = tide__wire_decode_buf(p, n, &f, &e);
    if (rc == TIDE_OK) {
        if (f.kind == TIDE__WIRE_DATA) check_consistent(f.msg.batch);
        if (f.kind == TIDE__WIRE_PROGRESS)
            for (uint32_t i = 0; i < f.msg.progress->len; i++)
                cr_assert(f.msg.progress->updates[i].is_source <= 1);
        tide__wire_frame_release(&f);
    } else {
        cr_assert(rc == TIDE_EPROTO || rc == TIDE_ENOMEM, "rc %d", rc);
        cr_assert(e.msg[0] != '\0', "an error message");
        cr_assert_eq(f.msg.kind, 0, "nothing held on error");
    }
    return rc;
}

/* A handful of valid frames of every kind, flattened. */
typedef struct sample {
    uint8_t *p;
    size_t n;
} sample;

static int make_samples(sample *s, tide_rng *r)
{
    tide__wire_enc w;
    tide_error e;
    int k = 0;
    tide__wire_enc_init(&w);
    const struct {
        tide_layout l;
        uint32_t flags, len;
    } shapes[] = {
        {{8, 8}, 0, 20},
        {{TIDE_VAR, 8}, TIDE_BATCH_UPDATES, 12},
        {{TIDE_VAR, TIDE_VAR}, 0, 9},
        {{TIDE_VAR, TIDE_VAR}, TIDE_BATCH_UPDATES, 80}, /* has borrowed segments */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        tide_batch *b = make_batch(r, shapes[i].l, shapes[i].flags, shapes[i].len);
        tide__msg m = {.kind = TIDE__MSG_DATA, .batch = b};
        cr_assert_eq(tide__wire_encode_data(&w, &m, 1, &e), TIDE_OK);
        s[k].p = flat(&w), s[k++].n = w.total;
        tide_batch_unref(b);
    }
    tide__progress *pr = tide__progress_new(4);
    for (uint32_t i = 0; i < 4; i++)
        pr->updates[i] = (tide__pointstamp){.node = i, .port = 1, .time = {i, {0, 0}}, .delta = 1};
    tide__msg m = {.kind = TIDE__MSG_PROGRESS, .progress = pr};
    cr_assert_eq(tide__wire_encode_progress(&w, &m, &e), TIDE_OK);
    s[k].p = flat(&w), s[k++].n = w.total;
    tide__progress_unref(pr);
    encode_hello(&w, "fuzz", 2, 2, 1);
    s[k].p = flat(&w), s[k++].n = w.total;
    tide__wire_encode_bye(&w, &e);
    s[k].p = flat(&w), s[k++].n = w.total;
    tide__wire_enc_fini(&w);
    return k;
}

Test(wire, fuzz_random_frames)
{
    tide_rng r = {tide_test_seed("wire fuzz random", 20)};
    uint8_t buf[512];
    /* Pure noise, then noise behind a valid prefix so the body parser is hit. */
    static const uint8_t prefix[] = {0x92, 0x93, 0xa4, 't', 'i', 'd', 'e', 1};
    for (int i = 0; i < 20000; i++) {
        size_t n = tide_rng_below(&r, sizeof buf);
        for (size_t j = 0; j < n; j++) buf[j] = (uint8_t)tide_rng_next(&r);
        if (i % 2 && n > sizeof prefix + 1) {
            memcpy(buf, prefix, sizeof prefix);
            buf[sizeof prefix] = (uint8_t)(1 + tide_rng_below(&r, 4));
        }
        try_decode(buf, n);
    }
    /* Huge declared counts in tiny frames must not allocate. */
    static const uint8_t huge[][24] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff},
        {0x92, 0x93, 0xa4, 't', 'i', 'd', 'e', 1, 3, 0x93, 0, 0, 0xdd, 0x7f, 0xff, 0xff, 0xff},
        {0x92, 0x93, 0xa4, 't', 'i',  'd', 'e', 1, 2, 0xdc, 0,    15,
         0,    0,    0,    0,   0x93, 0,   0,   0, 0, 0xff, 0xff, 0xce},
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++)
        cr_expect_eq(try_decode(huge[i], sizeof huge[i]), TIDE_EPROTO);
}

Test(wire, fuzz_truncations_and_corruptions)
{
    tide_rng r = {tide_test_seed("wire fuzz mutate", 21)};
    sample s[8];
    int k = make_samples(s, &r);
    for (int i = 0; i < k; i++) {
        cr_assert_eq(try_decode(s[i].p, s[i].n), TIDE_OK);
        for (size_t n = 0; n < s[i].n; n++) {
            /* Exact-size copy so that ASan catches any read past the end. */
            uint8_t *t = malloc(n ? n : 1);
            memcpy(t, s[i].p, n);
            cr_assert_eq(try_decode(t, n), TIDE_EPROTO, "sample %d cut at %zu", i, n);
            free(t);
        }
        uint8_t *c = malloc(s[i].n);
        for (int j = 0; j < 3000; j++) {
            memcpy(c, s[i].p, s[i].n);
            size_t at = tide_rng_below(&r, s[i].n);
            c[at] = j % 3 ? (uint8_t)tide_rng_next(&r) : c[at] ^ (uint8_t)(1u << (j % 8));
            try_decode(c, s[i].n);
        }
        /* Appended junk. */
        uint8_t *x = malloc(s[i].n + 1);
        memcpy(x, s[i].p, s[i].n);
        x[s[i].n] = 0;
        cr_expect_eq(try_decode(x, s[i].n + 1), TIDE_EPROTO);
        free(x);
        free(c);
        free(s[i].p);
    }
}

Test(wire, any_split_into_segments)
{
    tide_rng r = {tide_test_seed("wire split", 22)};
    sample s[8];
    int k = make_samples(s, &r);
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < 200; j++) {
            tide__wire_seg segs[TIDE__WIRE_MAX_SEGS];
            uint32_t n = 1 + (uint32_t)tide_rng_below(&r, TIDE__WIRE_MAX_SEGS);
            size_t off = 0;
            for (uint32_t q = 0; q < n; q++) {
                size_t len = q + 1 == n ? s[i].n - off : tide_rng_below(&r, s[i].n - off + 1);
                segs[q] = (tide__wire_seg){s[i].p + off, len};
                off += len;
            }
            tide__wire_frame f;
            tide_error e;
            cr_assert_eq(tide__wire_decode(segs, n, &f, &e), TIDE_OK, "%s", e.msg);
            tide__wire_frame_release(&f);
        }
        free(s[i].p);
    }
}

Test(wire, allocation_failures)
{
    tide_rng r = {tide_test_seed("wire faults", 23)};
    sample s[8];
    int k = make_samples(s, &r);
    for (int i = 0; i < k; i++) {
        for (long n = 1;; n++) {
            tide__wire_frame f;
            tide_error e;
            tide_alloc_fail_after(n);
            long before = tide_alloc_failures();
            int rc = tide__wire_decode_buf(s[i].p, s[i].n, &f, &e);
            int failed = tide_alloc_failures() != before;
            tide_alloc_fail_after(0);
            if (!failed) {
                cr_assert_eq(rc, TIDE_OK, "%s", e.msg);
                tide__wire_frame_release(&f);
                break;
            }
            cr_assert_eq(rc, TIDE_ENOMEM, "sample %d, allocation %ld: rc %d %s", i, n, rc, e.msg);
        }
        free(s[i].p);
    }
}
