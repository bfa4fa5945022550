/*
 * fuzz_wire.c - libFuzzer target for the frame decoder (net/wire.c).
 *
 * The input is one frame. It is decoded whole and split into three
 * segments (each its own exact-size allocation, so AddressSanitizer sees a
 * read past any of them); both must give the same verdict. A frame that
 * decodes must be self-consistent (what every operator relies on: offsets
 * start at 0, never decrease, end at the heap's length; record times at or
 * after the batch time; at least one record) and must survive a roundtrip:
 * encoded again and decoded, it is the same frame. A refusal must be
 * TIDE_EPROTO with a message, or TIDE_ENOMEM, and hold nothing.
 * Any violation aborts (a crash for libFuzzer, a failed test in replay).
 *
 * Built by scripts/fuzz.sh; the regular suite replays the committed corpus
 * and every crash input (tests/net/test_fuzz_replay.c defines
 * TIDE_FUZZ_REPLAY and calls fuzz_wire_one).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/batch.h"
#include "wire.h"

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_wire: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void wire_check_col(const tide_col *c, uint32_t len)
{
    if (c->width != TIDE_VAR) return;
    FUZZ_CHECK(c->offs[0] == 0);
    for (uint32_t i = 0; i < len; i++) FUZZ_CHECK(c->offs[i] <= c->offs[i + 1]);
    FUZZ_CHECK(c->offs[len] == c->heap_len);
    FUZZ_CHECK(c->heap_len == 0 || c->heap_len <= c->heap_cap);
    /* Touch every byte, so ASan checks the heap really is that long. */
    volatile uint8_t sink = 0;
    for (uint32_t i = 0; i < c->heap_len; i++) sink ^= c->bytes[i];
    (void)sink;
}

static void wire_check_batch(const tide_batch *b, size_t frame)
{
    FUZZ_CHECK(b->len > 0 && b->len <= b->cap);
    wire_check_col(&b->key, b->len);
    wire_check_col(&b->val, b->len);
    volatile uint8_t sink = 0;
    if (b->key.width != TIDE_VAR)
        for (size_t i = 0; i < (size_t)b->len * b->key.width; i++) sink ^= b->key.bytes[i];
    if (b->val.width != TIDE_VAR)
        for (size_t i = 0; i < (size_t)b->len * b->val.width; i++) sink ^= b->val.bytes[i];
    (void)sink;
    if (b->flags & TIDE_BATCH_UPDATES)
        for (uint32_t i = 0; i < b->len; i++) FUZZ_CHECK(tide_time_le(b->time, b->times[i]));
    /* What is held is bounded by what was received (docs/wire.md). */
    size_t per = (b->flags & TIDE_BATCH_UPDATES ? 24 : 0) + (b->key.width == TIDE_VAR ? 4 : 0) +
                 (b->val.width == TIDE_VAR ? 4 : 0);
    size_t held = (size_t)b->cap * per + b->key.heap_cap + b->val.heap_cap;
    if (b->key.width != TIDE_VAR) held += (size_t)b->cap * b->key.width;
    if (b->val.width != TIDE_VAR) held += (size_t)b->cap * b->val.width;
    FUZZ_CHECK(held <= frame + 8);
}

/* Decode @data as @nseg exact-size segments. */
static int wire_decode_split(const uint8_t *data, size_t size, uint32_t nseg, tide__wire_frame *f,
                             tide_error *e)
{
    tide__wire_seg segs[3];
    void *copies[3];
    size_t off = 0;
    for (uint32_t i = 0; i < nseg; i++) {
        size_t len = i + 1 == nseg ? size - off : size / nseg;
        copies[i] = malloc(len ? len : 1);
        if (len) memcpy(copies[i], data + off, len);
        segs[i] = (tide__wire_seg){copies[i], len};
        off += len;
    }
    tide_err_clear(e);
    int rc = tide__wire_decode(segs, nseg, f, e);
    for (uint32_t i = 0; i < nseg; i++) free(copies[i]);
    return rc;
}

static void wire_same_frame(const tide__wire_frame *a, const tide__wire_frame *b)
{
    FUZZ_CHECK(a->kind == b->kind && a->msg.kind == b->msg.kind);
    FUZZ_CHECK(a->msg.dataflow == b->msg.dataflow && a->msg.from == b->msg.from);
    if (a->kind == TIDE__WIRE_DATA) {
        const tide_batch *x = a->msg.batch, *y = b->msg.batch;
        FUZZ_CHECK(a->to == b->to && a->msg.channel == b->msg.channel);
        FUZZ_CHECK(x->len == y->len && x->flags == y->flags);
        FUZZ_CHECK(tide_layout_eq(x->layout, y->layout) && tide_time_eq(x->time, y->time));
        for (uint32_t i = 0; i < x->len; i++) FUZZ_CHECK(tide_batch_cmp(x, i, y, i) == 0);
        if (x->flags & TIDE_BATCH_UPDATES)
            FUZZ_CHECK(memcmp(x->times, y->times, (size_t)x->len * sizeof(tide_time)) == 0 &&
                       memcmp(x->diffs, y->diffs, (size_t)x->len * sizeof(int64_t)) == 0);
    } else if (a->kind == TIDE__WIRE_PROGRESS) {
        const tide__progress *x = a->msg.progress, *y = b->msg.progress;
        FUZZ_CHECK(x->len == y->len);
        for (uint32_t i = 0; i < x->len; i++) {
            const tide__pointstamp *p = &x->updates[i], *q = &y->updates[i];
            FUZZ_CHECK(p->node == q->node && p->port == q->port && p->is_source == q->is_source &&
                       tide_time_eq(p->time, q->time) && p->delta == q->delta);
        }
    } else if (a->kind == TIDE__WIRE_HELLO) {
        FUZZ_CHECK(memcmp(&a->hello, &b->hello, sizeof a->hello) == 0);
    }
}

/* Encode @f again and decode that: the same frame. */
static void wire_roundtrip(const tide__wire_frame *f)
{
    tide__wire_enc w;
    tide_error e;
    int rc;
    tide__wire_enc_init(&w);
    if (f->kind == TIDE__WIRE_DATA) {
        rc = tide__wire_encode_data(&w, &f->msg, f->to, &e);
    } else if (f->kind == TIDE__WIRE_PROGRESS) {
        rc = tide__wire_encode_progress(&w, &f->msg, &e);
    } else if (f->kind == TIDE__WIRE_BYE) {
        rc = tide__wire_encode_bye(&w, &e);
    } else {
        tide__wire_enc_fini(&w);
        return; /* HELLO: encoded from a config, not a frame */
    }
    if (rc == TIDE_ENOMEM) {
        tide__wire_enc_fini(&w);
        return;
    }
    FUZZ_CHECK(rc == TIDE_OK);
    tide__wire_frame g;
    rc = tide__wire_decode(w.segs, w.nseg, &g, &e);
    if (rc != TIDE_ENOMEM) {
        FUZZ_CHECK(rc == TIDE_OK);
        wire_same_frame(f, &g);
        tide__wire_frame_release(&g);
    }
    tide__wire_enc_fini(&w);
}

static int fuzz_wire_one(const uint8_t *data, size_t size)
{
    tide__wire_frame f, g;
    tide_error e, e3;
    int rc = wire_decode_split(data, size, 1, &f, &e);
    int rc3 = wire_decode_split(data, size, 3, &g, &e3);
    FUZZ_CHECK(rc == rc3);
    if (rc != TIDE_OK) {
        FUZZ_CHECK(rc == TIDE_EPROTO || rc == TIDE_ENOMEM);
        FUZZ_CHECK(e.msg[0] != '\0' && strcmp(e.msg, e3.msg) == 0);
        FUZZ_CHECK(f.msg.kind == 0 && g.msg.kind == 0);
        return 0;
    }
    wire_same_frame(&f, &g);
    tide__wire_frame_release(&g);
    if (f.kind == TIDE__WIRE_DATA) wire_check_batch(f.msg.batch, size);
    if (f.kind == TIDE__WIRE_PROGRESS)
        for (uint32_t i = 0; i < f.msg.progress->len; i++)
            FUZZ_CHECK(f.msg.progress->updates[i].is_source <= 1);
    if (f.kind == TIDE__WIRE_HELLO) FUZZ_CHECK(strlen(f.hello.job) < sizeof f.hello.job);
    wire_roundtrip(&f);
    tide__wire_frame_release(&f);
    return 0;
}

#ifndef TIDE_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_wire_one(data, size);
}
#endif
