/*
 * make_wire_corpus.c - writes the seed corpus of fuzz_wire
 * (tests/fuzz/corpus/wire/): valid frames of every kind and DATA layout
 * (fixed, variable, updates, one and many records), and the hand-built bad
 * frames of issue 17 (wrong sizes, oversize declared lengths, bad offsets).
 * Run once by hand when the format changes:
 *   cc -Iinclude -Iruntime -Inet -Itests/support tests/fuzz/make_wire_corpus.c \
 *      tests/support/wire_build.c net/wire.c runtime/{alloc,batch,message,error,record,config}.c \
 *      $(pkg-config --cflags --libs msgpack libxxhash) -o /tmp/mkc && /tmp/mkc
 * tests/fuzz/corpus/wire
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/batch.h"
#include "tide/record.h"
#include "wire.h"
#include "wire_build.h"

static const char *dir;
static int count;

static void put(const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%02d-%s", dir, count++, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static void put_enc(const char *name, tide__wire_enc *w)
{
    uint8_t *p = malloc(w->total);
    tide__wire_flatten(w, p);
    put(name, p, w->total);
    free(p);
}

static void put_built(const char *name, const wire_build *d)
{
    size_t n;
    uint8_t *p = wire_build_data(d, &n);
    put(name, p, n);
    free(p);
}

static void data(const char *name, tide_layout l, uint32_t flags, uint32_t len)
{
    tide_batch *b = tide_batch_new(l, flags, 4);
    b->time = (tide_time){2, {1, 0}};
    uint8_t key[16], val[16];
    for (uint32_t i = 0; i < len; i++) {
        uint32_t kl = l.key_width == TIDE_VAR ? i % 7 : l.key_width;
        uint32_t vl = l.val_width == TIDE_VAR ? i % 5 : l.val_width;
        memset(key, 'a' + (int)(i % 26), sizeof key);
        memset(val, (int)i, sizeof val);
        if (flags & TIDE_BATCH_UPDATES)
            tide_batch_push_update(b, key, kl, val, vl, (tide_time){2 + i % 3, {1, 0}},
                                   (int64_t)(i % 3) - 1);
        else
            tide_batch_push(b, key, kl, val, vl);
    }
    tide__msg m = {.kind = TIDE__MSG_DATA, .dataflow = 1, .channel = 2, .from = 3, .batch = b};
    tide__wire_enc w;
    tide_error e;
    tide__wire_enc_init(&w);
    if (tide__wire_encode_data(&w, &m, 0, &e) != TIDE_OK) exit(1);
    put_enc(name, &w);
    tide__wire_enc_fini(&w);
    tide_batch_unref(b);
}

int main(int argc, char **argv)
{
    dir = argc > 1 ? argv[1] : ".";
    tide__wire_enc w;
    tide_error e;
    tide__wire_enc_init(&w);
    tide_config c;
    tide_config_init(&c);
    c.processes = 2, c.workers = 2, c.process = 1;
    strcpy(c.job, "wordcount");
    tide__wire_encode_hello(&w, &c, &e);
    put_enc("hello", &w);
    tide__wire_encode_bye(&w, &e);
    put_enc("bye", &w);
    tide__progress *p = tide__progress_new(3);
    for (uint32_t i = 0; i < 3; i++)
        p->updates[i] = (tide__pointstamp){.node = i,
                                           .port = (uint16_t)i,
                                           .is_source = i & 1,
                                           .time = {i, {i, 0}},
                                           .delta = (int64_t)i - 1};
    tide__msg m = {.kind = TIDE__MSG_PROGRESS, .dataflow = 1, .from = 3, .progress = p};
    tide__wire_encode_progress(&w, &m, &e);
    put_enc("progress", &w);
    tide__progress_unref(p);
    tide__wire_enc_fini(&w);

    data("data-u64", tide_layout_make(8, 0), 0, 3);
    data("data-u64x2", tide_layout_make(8, 8), 0, 5);
    data("data-zero-width", tide_layout_make(0, 0), 0, 4);
    data("data-var-key", tide_layout_make(TIDE_VAR, 8), 0, 6);
    data("data-var-both", tide_layout_make(TIDE_VAR, TIDE_VAR), 0, 9);
    data("data-updates", tide_layout_make(8, 0), TIDE_BATCH_UPDATES, 4);
    data("data-var-updates", tide_layout_make(TIDE_VAR, TIDE_VAR), TIDE_BATCH_UPDATES, 7);
    data("data-one", tide_layout_make(TIDE_VAR, 0), 0, 1);
    data("data-many", tide_layout_make(4, 4), 0, 200);

    /* Issue 17's bad frames. */
    wire_build z = {.key_width = UINT32_MAX - 1, .val_width = 8, .len = 0};
    put_built("bad-38-byte-4gib-key", &z);
    wire_build big = {.key_width = 1u << 31, .len = 1};
    put_built("bad-key-width-2gib", &big);
    uint32_t offs[4] = {1, 2, 5, 9};
    uint8_t heap[9] = "abcdefghi";
    wire_build v = {.key_width = TIDE_VAR, .len = 3, .time = {1, {0, 0}}};
    v.bin[WB_KOFFS] = offs, v.binlen[WB_KOFFS] = 16;
    v.bin[WB_KBYTES] = heap, v.binlen[WB_KBYTES] = 9;
    put_built("bad-first-offset", &v);
    offs[0] = 0, offs[2] = 1;
    put_built("bad-offsets-decrease", &v);
    offs[2] = 5, offs[3] = 12;
    put_built("bad-offsets-past-heap", &v);
    tide_time t = {0, {0, 0}};
    int64_t d = 1;
    uint8_t k8[8] = {0};
    wire_build u = {.key_width = 8, .len = 1, .flags = TIDE_BATCH_UPDATES, .time = {1, {0, 0}}};
    u.bin[WB_KBYTES] = k8, u.binlen[WB_KBYTES] = 8;
    u.bin[WB_TIMES] = &t, u.binlen[WB_TIMES] = sizeof t;
    u.bin[WB_DIFFS] = &d, u.binlen[WB_DIFFS] = sizeof d;
    put_built("bad-record-time-before-batch", &u);
    return 0;
}
