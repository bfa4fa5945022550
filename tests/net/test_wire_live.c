/*
 * test_wire_live.c - bad DATA frames injected into a live process (issue
 * 17, items 2-4). Process 0 is a real tide run (tide_execute on threads of
 * this test, N = 2, W = 1 or 2) building dataflow "live": an input of u64
 * keys exchanged into a sink. Process 1 is played by the test with raw
 * ZeroMQ sockets speaking the handshake (docs/wire.md): it answers process
 * 0's HELLOs on its ROUTER, says HELLO on one DEALER per worker, sends a
 * well-formed frame that the sink must see (so the channel and the fake are
 * right), then one bad frame, then BYE. Each bad frame must fail the run
 * with TIDE_EPROTO naming process 1 and its host:port and the fault; run
 * under ASan+UBSan, any read past a column is a report. Frames that reach
 * process 0 before it has built the dataflow are held, then checked when
 * released to their channel ("early").
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cluster_run.h"
#include "tide/ops.h"
#include "tide/record.h"
#include "tide/tide.h"
#include "wire.h"
#include "wire_build.h"

#define TIMEOUT_MS 2000
#define SINK_NODE  1 /* operator index of the sink: the input is 0 */

typedef struct live {
    uint32_t w;    /* workers per process */
    uint16_t port; /* base: process 0 at port, the fake at port + 1 */
    int early;     /* build the dataflow only once go is set */
    int go;        /* atomic */
    uint64_t seen; /* atomic: records the sinks saw */
    uint64_t sum;  /* atomic: sum of their keys */
    int rc;
    tide_error e;
    pthread_t run;
    /* the fake process 1 */
    void *ctx, *router, *dealer[2];
    int stop; /* atomic */
    pthread_t serve;
    uint8_t hello[128];
    size_t hello_len;
} live;

static void on_batch(void *ctx, const tide_batch *b)
{
    live *L = ctx;
    for (uint32_t i = 0; i < b->len; i++)
        __atomic_add_fetch(&L->sum, tide_batch_key_u64(b, i), __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&L->seen, b->len, __ATOMIC_SEQ_CST);
}

static int live_main(tide_worker *w, void *arg)
{
    live *L = arg;
    /* Early: keep stepping (so frames are taken in and held) until told. */
    while (L->early && !__atomic_load_n(&L->go, __ATOMIC_ACQUIRE)) {
        int rc = tide_worker_step(w);
        if (rc < 0) return rc;
        usleep(1000);
    }
    tide_dataflow *df = tide_dataflow_new(w, "live");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &s);
    if (in == NULL) return TIDE_ENOMEM;
    tide_sink(s, TIDE_EXCHANGE, on_batch, L);
    return tide_dataflow_seal(df); /* the input stays open: only a failure ends the run */
}

static void *run_main(void *arg)
{
    live *L = arg;
    tide_config c;
    tide_config_init(&c);
    c.processes = 2;
    c.workers = L->w;
    c.process = 0;
    c.base_port = L->port;
    c.pin = 0;
    c.peer_timeout_ms = TIMEOUT_MS;
    snprintf(c.job, sizeof c.job, "wire-live");
    L->rc = tide_execute(&c, live_main, L, &L->e);
    return NULL;
}

/* The fake's ROUTER: answer every HELLO (process 0 resends until
 * answered), drop everything else process 0 sends. */
static void *serve_main(void *arg)
{
    live *L = arg;
    while (!__atomic_load_n(&L->stop, __ATOMIC_ACQUIRE)) {
        zmq_pollitem_t it = {L->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 20) <= 0) continue;
        zmq_msg_t rid, part;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, L->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            continue;
        }
        uint8_t frame[64];
        size_t n = 0;
        int more = zmq_msg_more(&rid), big = 0;
        while (more) {
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, L->router, 0) < 0) break;
            size_t k = zmq_msg_size(&part);
            if (n + k <= sizeof frame)
                memcpy(frame + n, zmq_msg_data(&part), k);
            else
                big = 1;
            n += k;
            more = zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        tide__wire_frame f;
        tide_error e;
        if (!big && tide__wire_decode_buf(frame, n, &f, &e) == TIDE_OK) {
            if (f.kind == TIDE__WIRE_HELLO) {
                zmq_msg_send(&rid, L->router, ZMQ_SNDMORE); /* takes rid */
                zmq_send(L->router, L->hello, L->hello_len, 0);
                tide__wire_frame_release(&f);
                continue;
            }
            tide__wire_frame_release(&f);
        }
        zmq_msg_close(&rid);
    }
    return NULL;
}

static void live_start(live *L, uint32_t w, int early)
{
    memset(L, 0, sizeof *L);
    L->w = w;
    L->early = early;
    L->port = tide_test_free_ports(2);
    cr_assert_neq(L->port, 0);
    tide_config me;
    tide_config_init(&me);
    me.processes = 2, me.workers = w, me.process = 1, me.base_port = L->port;
    snprintf(me.job, sizeof me.job, "wire-live");
    tide__wire_enc enc;
    tide_error e;
    tide__wire_enc_init(&enc);
    cr_assert_eq(tide__wire_encode_hello(&enc, &me, &e), TIDE_OK);
    tide__wire_flatten(&enc, L->hello);
    L->hello_len = enc.total;
    tide__wire_enc_fini(&enc);

    L->ctx = zmq_ctx_new();
    L->router = zmq_socket(L->ctx, ZMQ_ROUTER);
    int zero = 0, wait = 5000;
    zmq_setsockopt(L->router, ZMQ_LINGER, &zero, sizeof zero);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", L->port + 1);
    cr_assert_eq(zmq_bind(L->router, ep), 0, "%s", zmq_strerror(zmq_errno()));
    pthread_create(&L->serve, NULL, serve_main, L);
    pthread_create(&L->run, NULL, run_main, L);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", L->port);
    for (uint32_t i = 0; i < w; i++) {
        void *d = zmq_socket(L->ctx, ZMQ_DEALER);
        zmq_setsockopt(d, ZMQ_LINGER, &wait, sizeof wait); /* the bad frame and BYE go out */
        zmq_setsockopt(d, ZMQ_RCVTIMEO, &wait, sizeof wait);
        cr_assert_eq(zmq_connect(d, ep), 0);
        zmq_send(d, L->hello, L->hello_len, 0);
        uint8_t buf[128];
        cr_assert(zmq_recv(d, buf, sizeof buf, 0) > 0, "process 0 did not answer our HELLO");
        L->dealer[i] = d;
    }
}

static void send_frame(live *L, uint32_t dealer, const uint8_t *p, size_t n)
{
    cr_assert_eq(zmq_send(L->dealer[dealer], p, n, 0), (int)n);
}

/* The +1 at the sink's input that accounts for a DATA frame at @epoch. */
static void send_count(live *L, uint32_t dealer, uint64_t epoch)
{
    tide__progress *p = tide__progress_new(1);
    p->updates[0] = (tide__pointstamp){
        .node = SINK_NODE, .port = 0, .is_source = 0, .time = tide_time_epoch(epoch), .delta = 1};
    tide__msg m = {.kind = TIDE__MSG_PROGRESS, .dataflow = 0, .from = L->w + dealer, .progress = p};
    tide__wire_enc enc;
    tide_error e;
    tide__wire_enc_init(&enc);
    cr_assert_eq(tide__wire_encode_progress(&enc, &m, &e), TIDE_OK);
    uint8_t buf[128];
    tide__wire_flatten(&enc, buf);
    send_frame(L, dealer, buf, enc.total);
    tide__wire_enc_fini(&enc);
    tide__progress_unref(p);
}

/* Good DATA from each of our workers to each of process 0's: the sinks see it. */
static void send_good(live *L)
{
    uint64_t want = 0;
    for (uint32_t d = 0; d < L->w; d++)
        for (uint32_t to = 0; to < L->w; to++) {
            size_t n;
            uint8_t *p = wire_build_u64(0, 0, L->w + d, to, 0, 1000 * d + 10 * to, 3, &n);
            send_frame(L, d, p, n);
            send_count(L, d, 0);
            free(p);
            want += 3;
        }
    uint64_t end = tide_test_now_ms() + 5000;
    while (__atomic_load_n(&L->seen, __ATOMIC_SEQ_CST) < want && tide_test_now_ms() < end)
        usleep(1000);
    cr_assert_eq(__atomic_load_n(&L->seen, __ATOMIC_SEQ_CST), want,
                 "the well-formed frames did not reach the sinks: %s", L->e.msg);
}

/* After the bad frame: BYE on every DEALER, then the run must have failed
 * naming process 1 and @why. */
static void live_finish(live *L, const char *why)
{
    tide__wire_enc enc;
    tide_error e;
    tide__wire_enc_init(&enc);
    tide__wire_encode_bye(&enc, &e);
    uint8_t bye[32];
    tide__wire_flatten(&enc, bye);
    for (uint32_t d = 0; d < L->w; d++) send_frame(L, d, bye, enc.total);
    tide__wire_enc_fini(&enc);
    if (L->early) {
        usleep(100000); /* the frame is held, not delivered */
        cr_expect_eq(__atomic_load_n(&L->seen, __ATOMIC_SEQ_CST), 0);
        __atomic_store_n(&L->go, 1, __ATOMIC_RELEASE);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    int jr = pthread_timedjoin_np(L->run, NULL, &ts);
    cr_assert_eq(jr, 0, "process 0 is still running 10 s after a bad frame (%s)", why);
    char peer[64];
    snprintf(peer, sizeof peer, "at 127.0.0.1:%u", L->port + 1);
    cr_expect_eq(L->rc, TIDE_EPROTO, "rc %d: %s", L->rc, L->e.msg);
    cr_expect(strstr(L->e.msg, "process 1") != NULL, "'%s' does not name process 1", L->e.msg);
    cr_expect(strstr(L->e.msg, peer) != NULL, "'%s' lacks '%s'", L->e.msg, peer);
    cr_expect(strstr(L->e.msg, why) != NULL, "'%s' lacks '%s'", L->e.msg, why);
    fprintf(stderr, "refused: %s\n", L->e.msg);
    __atomic_store_n(&L->stop, 1, __ATOMIC_RELEASE);
    pthread_join(L->serve, NULL);
    for (uint32_t d = 0; d < L->w; d++) zmq_close(L->dealer[d]);
    zmq_close(L->router);
    zmq_ctx_term(L->ctx);
}

/* ---- the bad frames -------------------------------------------------------------------- */

typedef uint8_t *(*bad_fn)(const live *L, size_t *n);

static uint8_t *wrong_key_width(const live *L, size_t *n)
{
    uint8_t key[16] = {1};
    wire_build d = {.from = L->w, .to = L->w - 1, .key_width = 16, .len = 1};
    d.bin[WB_KBYTES] = key, d.binlen[WB_KBYTES] = 16;
    return wire_build_data(&d, n);
}

static uint8_t *variable_key(const live *L, size_t *n)
{
    uint32_t offs[3] = {0, 4, 8};
    uint8_t heap[8] = "abcdefgh";
    wire_build d = {.from = L->w, .key_width = TIDE_VAR, .len = 2};
    d.bin[WB_KOFFS] = offs, d.binlen[WB_KOFFS] = 12;
    d.bin[WB_KBYTES] = heap, d.binlen[WB_KBYTES] = 8;
    return wire_build_data(&d, n);
}

static uint8_t *updates_on_plain(const live *L, size_t *n)
{
    uint8_t key[8] = {0};
    tide_time t = TIDE_TIME_ZERO;
    int64_t diff = 1;
    wire_build d = {.from = L->w, .key_width = 8, .len = 1, .flags = TIDE_BATCH_UPDATES};
    d.bin[WB_KBYTES] = key, d.binlen[WB_KBYTES] = 8;
    d.bin[WB_TIMES] = &t, d.binlen[WB_TIMES] = sizeof t;
    d.bin[WB_DIFFS] = &diff, d.binlen[WB_DIFFS] = sizeof diff;
    return wire_build_data(&d, n);
}

static uint8_t *no_such_channel(const live *L, size_t *n)
{
    return wire_build_u64(0, 7, L->w, 0, 0, 5, 1, n);
}

static uint8_t *loop_time_at_root(const live *L, size_t *n)
{
    uint8_t key[8] = {0};
    wire_build d = {.from = L->w, .key_width = 8, .len = 1, .time = {0, {3, 0}}};
    d.bin[WB_KBYTES] = key, d.binlen[WB_KBYTES] = 8;
    return wire_build_data(&d, n);
}

static uint8_t *zero_records_4gib_key(const live *L, size_t *n)
{
    wire_build d = {.from = L->w, .key_width = UINT32_MAX - 1, .len = 0};
    return wire_build_data(&d, n);
}

static uint8_t *key_width_2gib(const live *L, size_t *n)
{
    wire_build d = {.from = L->w, .key_width = 1u << 31, .len = 1};
    return wire_build_data(&d, n);
}

static uint8_t *bin_beyond_frame(const live *L, size_t *n)
{
    uint8_t *p = wire_build_u64(0, 0, L->w, 0, 0, 1, 1, n);
    /* key BIN "c4 08 <8 bytes>" then 4 empty BINs: claim 2^32 - 1 bytes (bin32). */
    uint8_t *q = malloc(*n + 3);
    memcpy(q, p, *n - 18);
    static const uint8_t bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xff};
    memcpy(q + *n - 18, bin32, sizeof bin32);
    memcpy(q + *n - 13, p + *n - 16, 16);
    *n += 3;
    free(p);
    return q;
}

static uint8_t *first_offset_not_zero(const live *L, size_t *n)
{
    uint32_t offs[3] = {2, 4, 8};
    uint8_t heap[8] = "abcdefgh";
    wire_build d = {.from = L->w, .key_width = TIDE_VAR, .len = 2};
    d.bin[WB_KOFFS] = offs, d.binlen[WB_KOFFS] = 12;
    d.bin[WB_KBYTES] = heap, d.binlen[WB_KBYTES] = 8;
    return wire_build_data(&d, n);
}

static uint8_t *offsets_past_heap(const live *L, size_t *n)
{
    uint32_t offs[3] = {0, 4, 4000};
    uint8_t heap[8] = "abcdefgh";
    wire_build d = {.from = L->w, .key_width = TIDE_VAR, .len = 2};
    d.bin[WB_KOFFS] = offs, d.binlen[WB_KOFFS] = 12;
    d.bin[WB_KBYTES] = heap, d.binlen[WB_KBYTES] = 8;
    return wire_build_data(&d, n);
}

static uint8_t *offsets_decreasing(const live *L, size_t *n)
{
    uint32_t offs[4] = {0, 6, 2, 8};
    uint8_t heap[8] = "abcdefgh";
    wire_build d = {.from = L->w, .key_width = TIDE_VAR, .len = 3};
    d.bin[WB_KOFFS] = offs, d.binlen[WB_KOFFS] = 16;
    d.bin[WB_KBYTES] = heap, d.binlen[WB_KBYTES] = 8;
    return wire_build_data(&d, n);
}

static void inject(uint32_t w, int early, bad_fn bad, const char *why)
{
    live *L = calloc(1, sizeof *L);
    live_start(L, w, early);
    if (!early) send_good(L);
    size_t n;
    uint8_t *p = bad(L, &n);
    send_frame(L, 0, p, n);
    free(p);
    live_finish(L, why);
    free(L);
}

/* Wrong layouts: refused by the channel check, also when held early. */
Test(wire_live, wrong_layouts)
{
    inject(1, 0, wrong_key_width,
           "records of key 16 bytes, value 0 bytes; the channel carries key "
           "8 bytes, value 0 bytes");
    inject(2, 0, wrong_key_width, "channel carries key 8 bytes");
    inject(1, 0, variable_key, "records of key variable");
    inject(1, 0, updates_on_plain, "updates; the channel carries plain records");
    inject(1, 0, no_such_channel, "there is no channel 7");
    inject(1, 0, loop_time_at_root, "loop coordinates past the channel's scope depth 0");
}

Test(wire_live, wrong_layouts_held_early)
{
    inject(1, 1, wrong_key_width, "channel carries key 8 bytes");
    inject(2, 1, updates_on_plain, "updates; the channel carries plain records");
    inject(1, 1, no_such_channel, "there is no channel 7");
}

/* Declared sizes the frame does not hold: refused by the decoder before any
 * allocation (the first once asked for 4 GiB). */
Test(wire_live, oversize_declared_lengths)
{
    inject(1, 0, zero_records_4gib_key, "field 'len': no records");
    inject(1, 0, key_width_2gib, "field 'key bytes'");
    inject(2, 0, bin_beyond_frame, "length exceeds the frame");
}

Test(wire_live, bad_offsets)
{
    inject(1, 0, first_offset_not_zero, "first offset is not 0");
    inject(1, 0, offsets_past_heap, "last offset is not the heap length");
    inject(2, 0, offsets_decreasing, "offsets not monotone");
}
