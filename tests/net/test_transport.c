/*
 * test_transport.c - the ZeroMQ transport (net/zmq.c) in one test process:
 * two real transports talking over loopback (DATA and PROGRESS both ways,
 * order kept, zero-copy columns intact), handshake refusals and timeouts,
 * back-to-back runs on the same ports, and a fake peer played with raw
 * ZeroMQ sockets to lose a peer, say BYE, and feed the ROUTER random and
 * truncated frames (from a stranger: each logged and dropped, the job goes
 * on; from the identified peer: TIDE_EPROTO through the fail hook; never a
 * crash: run it under ASan).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cluster_run.h"
#include "tide/batch.h"
#include "tide/record.h"
#include "tide_test.h"
#include "transport.h"
#include "wire.h"

/* ---- a recording runtime: what the hooks saw ----------------------------------- */

#define MAX_SEEN 20000

typedef struct seen {
    uint32_t dst; /* local worker */
    uint16_t kind;
    uint32_t from;
    uint64_t seq; /* DATA: first key; PROGRESS: first delta */
    uint32_t len;
    int ok; /* contents as sent */
} seen;

typedef struct rec {
    pthread_mutex_t lock;
    seen s[MAX_SEEN];
    uint32_t n;
    uint32_t fails;
    tide_error last;
    uint32_t logs;
    char lastlog[320];
} rec;

static uint64_t expect_key(uint64_t seq, uint32_t i)
{
    return seq * 1000003u + i;
}

static void on_deliver(void *ctx, uint32_t dst, tide__msg *m)
{
    rec *r = ctx;
    seen s = {.dst = dst, .kind = m->kind, .from = m->from};
    if (m->kind == TIDE__MSG_DATA) {
        tide_batch *b = m->batch;
        s.len = b->len;
        s.seq = b->len ? tide_batch_key_u64(b, 0) / 1000003u : 0;
        s.ok = 1;
        for (uint32_t i = 0; i < b->len; i++)
            if (tide_batch_key_u64(b, i) != expect_key(s.seq, i)) s.ok = 0;
        tide_batch_unref(b);
    } else {
        s.len = m->progress->len;
        s.seq = s.len ? (uint64_t)m->progress->updates[0].delta : 0;
        s.ok = 1;
        tide__progress_unref(m->progress);
    }
    pthread_mutex_lock(&r->lock);
    if (r->n < MAX_SEEN) r->s[r->n++] = s;
    pthread_mutex_unlock(&r->lock);
}

static void on_fail(void *ctx, const tide_error *e)
{
    rec *r = ctx;
    pthread_mutex_lock(&r->lock);
    r->fails++;
    r->last = *e;
    pthread_mutex_unlock(&r->lock);
}

static void on_log(void *ctx, const char *msg)
{
    rec *r = ctx;
    /* Count the frames dropped (connections closing are logged too). */
    if (strstr(msg, "dropped a frame") == NULL) return;
    pthread_mutex_lock(&r->lock);
    r->logs++;
    snprintf(r->lastlog, sizeof r->lastlog, "%s", msg);
    pthread_mutex_unlock(&r->lock);
}

static rec *rec_new(void)
{
    rec *r = calloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

static uint32_t rec_count(rec *r, uint32_t *fails, tide_error *last)
{
    pthread_mutex_lock(&r->lock);
    uint32_t n = r->n;
    if (fails) *fails = r->fails;
    if (last) *last = r->last;
    pthread_mutex_unlock(&r->lock);
    return n;
}

static void cfg_for(tide_config *c, uint32_t n, uint32_t w, uint32_t p, uint16_t port,
                    uint32_t timeout)
{
    tide_config_init(c);
    c->processes = n;
    c->workers = w;
    c->process = p;
    c->base_port = port;
    c->pin = 0;
    c->peer_timeout_ms = timeout;
    snprintf(c->job, sizeof c->job, "transport-test");
}

/* ---- starting and stopping transports in parallel --------------------------------- */

typedef struct starter {
    tide_config cfg;
    rec *r;
    tide__transport *t;
    tide_error e;
    pthread_t th;
} starter;

static void *start_main(void *arg)
{
    starter *s = arg;
    tide__transport_hooks h = {.ctx = s->r, .deliver = on_deliver, .fail = on_fail, .log = on_log};
    s->t = tide__transport_new(&s->cfg, &h, &s->e);
    return NULL;
}

static void *free_main(void *arg)
{
    starter *s = arg;
    tide__transport_free(s->t);
    s->t = NULL;
    return NULL;
}

/* Start @k transports concurrently (each blocks in its handshake). */
static void start_all(starter *s, int k)
{
    for (int i = 0; i < k; i++) pthread_create(&s[i].th, NULL, start_main, &s[i]);
    for (int i = 0; i < k; i++) pthread_join(s[i].th, NULL);
}

static void free_all(starter *s, int k)
{
    for (int i = 0; i < k; i++) pthread_create(&s[i].th, NULL, free_main, &s[i]);
    for (int i = 0; i < k; i++) pthread_join(s[i].th, NULL);
}

static tide_batch *data_batch(uint64_t seq, uint32_t len)
{
    tide_batch *b = tide_batch_new(tide_layout_make(8, 0), 0, len);
    uint8_t k[8];
    for (uint32_t i = 0; i < len; i++) {
        tide_u64_store(k, expect_key(seq, i));
        tide_batch_push(b, k, 8, NULL, 0);
    }
    b->time = tide_time_epoch(seq);
    return b;
}

static void send_data(tide__transport *t, uint32_t src_local, uint32_t from, uint32_t dst,
                      uint64_t seq, uint32_t len)
{
    tide__msg m = {.kind = TIDE__MSG_DATA, .dataflow = 0, .channel = 1, .from = from};
    m.batch = data_batch(seq, len);
    cr_assert_eq(tide__transport_send(t, src_local, dst, &m), TIDE_OK);
}

static void send_progress(tide__transport *t, uint32_t src_local, uint32_t from, uint64_t seq)
{
    tide__progress *p = tide__progress_new(2);
    for (uint32_t i = 0; i < 2; i++)
        p->updates[i] = (tide__pointstamp){.node = i,
                                           .port = 0,
                                           .is_source = 1,
                                           .time = tide_time_epoch(seq),
                                           .delta = (int64_t)seq};
    tide__msg m = {.kind = TIDE__MSG_PROGRESS, .dataflow = 0, .from = from, .progress = p};
    cr_assert_eq(tide__transport_broadcast(t, src_local, &m), TIDE_OK);
}

static void wait_count(rec *r, uint32_t want, uint32_t ms)
{
    uint64_t end = tide_test_now_ms() + ms;
    while (rec_count(r, NULL, NULL) < want && tide_test_now_ms() < end) usleep(1000);
}

/* ---- two real transports ------------------------------------------------------------ */

/* No criterion .timeout (see test_cluster_run.c): every wait has a deadline. */
TestSuite(transport);

Test(transport, data_and_progress_both_ways_in_order)
{
    uint16_t port = tide_test_free_ports(2);
    starter s[2] = {0};
    for (int i = 0; i < 2; i++) {
        cfg_for(&s[i].cfg, 2, 2, (uint32_t)i, port, 5000);
        s[i].r = rec_new();
    }
    start_all(s, 2);
    cr_assert_not_null(s[0].t, "%s", s[0].e.msg);
    cr_assert_not_null(s[1].t, "%s", s[1].e.msg);
    /* Each local worker of each process sends, interleaving DATA to both
     * remote workers (small and zero-copy sized) with PROGRESS broadcasts. */
    enum { ROUNDS = 400 };
    for (uint64_t seq = 1; seq <= ROUNDS; seq++)
        for (uint32_t p = 0; p < 2; p++)
            for (uint32_t l = 0; l < 2; l++) {
                uint32_t from = p * 2 + l, other = (1 - p) * 2;
                send_data(s[p].t, l, from, other + (uint32_t)(seq % 2), seq, seq % 7 ? 5 : 3000);
                send_progress(s[p].t, l, from, seq);
            }
    /* Per process: 2 senders x ROUNDS x (1 DATA + 2 PROGRESS deliveries). */
    uint32_t want = 2 * ROUNDS * 3;
    for (int p = 0; p < 2; p++) wait_count(s[p].r, want, 10000);
    for (int p = 0; p < 2; p++) {
        rec *r = s[p].r;
        uint32_t fails;
        cr_assert_eq(rec_count(r, &fails, NULL), want, "process %d got %u of %u", p, r->n, want);
        cr_expect_eq(fails, 0, "%s", r->last.msg);
        /* FIFO per (sender, receiver): sequence numbers never go back, and
         * each receiver sees each sender's DATA and PROGRESS interleaved in
         * send order. */
        uint64_t last[4][2][3] = {{{0}}};
        for (uint32_t i = 0; i < r->n; i++) {
            seen *x = &r->s[i];
            cr_assert(x->ok, "DATA contents differ");
            cr_assert(x->from < 4 && x->from / 2 != (uint32_t)p && x->dst < 2);
            uint64_t *lp = last[x->from][x->dst];
            cr_assert(x->seq > lp[2] || (x->seq == lp[2] && x->kind != lp[1]),
                      "out of order: from %u to %u: seq %llu kind %u after seq %llu kind %llu",
                      x->from, x->dst, (unsigned long long)x->seq, x->kind,
                      (unsigned long long)lp[2], (unsigned long long)lp[1]);
            if (x->kind == TIDE__MSG_DATA)
                cr_assert_eq(x->dst, (uint32_t)(x->seq % 2), "DATA to the wrong worker");
            lp[1] = x->kind;
            lp[2] = x->seq;
            if (x->kind == TIDE__MSG_DATA) cr_assert_eq(x->len, x->seq % 7 ? 5u : 3000u);
        }
    }
    free_all(s, 2);
    for (int p = 0; p < 2; p++) {
        uint32_t fails;
        rec_count(s[p].r, &fails, NULL);
        cr_expect_eq(fails, 0, "an orderly BYE is not a failure: %s", s[p].r->last.msg);
        free(s[p].r);
    }
}

Test(transport, back_to_back_runs_on_the_same_ports)
{
    uint16_t port = tide_test_free_ports(3);
    for (int run = 0; run < 4; run++) {
        starter s[3] = {0};
        for (int i = 0; i < 3; i++) {
            cfg_for(&s[i].cfg, 3, 1, (uint32_t)i, port, 5000);
            s[i].r = rec_new();
        }
        start_all(s, 3);
        for (int i = 0; i < 3; i++) cr_assert_not_null(s[i].t, "run %d: %s", run, s[i].e.msg);
        for (uint32_t i = 0; i < 3; i++) send_progress(s[i].t, 0, i, 7);
        for (int i = 0; i < 3; i++) wait_count(s[i].r, 2, 5000);
        for (int i = 0; i < 3; i++) cr_expect_eq(rec_count(s[i].r, NULL, NULL), 2);
        free_all(s, 3);
        for (int i = 0; i < 3; i++) {
            cr_expect_eq(s[i].r->fails, 0, "run %d: %s", run, s[i].r->last.msg);
            free(s[i].r);
        }
    }
}

static void mismatch(const char *job1, uint32_t w1, const char *what)
{
    uint16_t port = tide_test_free_ports(2);
    starter s[2] = {0};
    for (int i = 0; i < 2; i++) {
        cfg_for(&s[i].cfg, 2, 1, (uint32_t)i, port, 3000);
        s[i].r = rec_new();
    }
    snprintf(s[1].cfg.job, sizeof s[1].cfg.job, "%s", job1);
    s[1].cfg.workers = w1;
    start_all(s, 2);
    char name[2][32];
    for (int i = 0; i < 2; i++) snprintf(name[i], sizeof name[i], "127.0.0.1:%u", port + i);
    for (int i = 0; i < 2; i++) {
        cr_expect_null(s[i].t, "process %d accepted a mismatched peer", i);
        cr_expect_eq(s[i].e.code, TIDE_EPROTO, "process %d: %s", i, s[i].e.msg);
        cr_expect(strstr(s[i].e.msg, name[1 - i]) != NULL, "'%s' does not name %s", s[i].e.msg,
                  name[1 - i]);
        cr_expect(strstr(s[i].e.msg, what) != NULL, "'%s' does not say '%s'", s[i].e.msg, what);
        tide__transport_free(s[i].t);
        free(s[i].r);
    }
}

Test(transport, handshake_refuses_other_job)
{
    mismatch("another-job", 1, "another-job");
}
Test(transport, handshake_refuses_other_layout)
{
    mismatch("transport-test", 2, "W=2");
}

Test(transport, silent_peer_times_out)
{
    uint16_t port = tide_test_free_ports(2);
    tide_config c;
    cfg_for(&c, 2, 1, 0, port, 300);
    rec *r = rec_new();
    tide__transport_hooks h = {.ctx = r, .deliver = on_deliver, .fail = on_fail};
    tide_error e = {0};
    uint64_t t0 = tide_test_now_ms();
    tide__transport *t = tide__transport_new(&c, &h, &e);
    uint64_t took = tide_test_now_ms() - t0;
    cr_assert_null(t);
    char want[128];
    snprintf(want, sizeof want, "process 1 at 127.0.0.1:%u did not answer within 300 ms", port + 1);
    cr_expect_str_eq(e.msg, want);
    cr_expect_eq(e.code, TIDE_ETIMEDOUT);
    cr_expect(took >= 300 && took < 2000, "took %llu ms", (unsigned long long)took);
    free(r);
}

/* ---- a fake process 1 made of raw ZeroMQ sockets --------------------------------- */

typedef struct fake {
    void *ctx, *router, *dealer;
    uint16_t port;
    starter real; /* process 0 */
} fake;

static size_t hello_frame(uint8_t *buf, size_t cap, const tide_config *cfg)
{
    tide__wire_enc w;
    tide_error e;
    tide__wire_enc_init(&w);
    cr_assert_eq(tide__wire_encode_hello(&w, cfg, &e), TIDE_OK);
    cr_assert(w.total <= cap);
    tide__wire_flatten(&w, buf);
    size_t n = w.total;
    tide__wire_enc_fini(&w);
    return n;
}

static void *raw_dealer(fake *f)
{
    void *d = zmq_socket(f->ctx, ZMQ_DEALER);
    int zero = 0, wait = 5000; /* no receive blocks for ever */
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &wait, sizeof wait);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", f->port);
    cr_assert_eq(zmq_connect(d, ep), 0);
    return d;
}

/* Process 0 is real (W=1); the test plays process 1: answer its HELLO on
 * our ROUTER, and say HELLO on a DEALER of ours. */
static void fake_start(fake *f, uint32_t timeout)
{
    memset(f, 0, sizeof *f);
    f->port = tide_test_free_ports(2);
    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    int zero = 0, wait = 5000;
    zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(f->router, ZMQ_RCVTIMEO, &wait, sizeof wait);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", f->port + 1);
    cr_assert_eq(zmq_bind(f->router, ep), 0);
    cfg_for(&f->real.cfg, 2, 1, 0, f->port, timeout);
    f->real.r = rec_new();
    pthread_create(&f->real.th, NULL, start_main, &f->real);

    tide_config me;
    cfg_for(&me, 2, 1, 1, f->port, timeout);
    uint8_t hello[256];
    size_t hn = hello_frame(hello, sizeof hello, &me);
    /* Answer process 0's HELLO (it may resend: answer the first). */
    uint8_t rid[256], buf[256];
    int rn = zmq_recv(f->router, rid, sizeof rid, 0);
    cr_assert(rn > 0);
    int more;
    size_t ms = sizeof more;
    zmq_getsockopt(f->router, ZMQ_RCVMORE, &more, &ms);
    while (more) {
        cr_assert(zmq_recv(f->router, buf, sizeof buf, 0) >= 0);
        zmq_getsockopt(f->router, ZMQ_RCVMORE, &more, &ms);
    }
    zmq_send(f->router, rid, (size_t)rn, ZMQ_SNDMORE);
    zmq_send(f->router, hello, hn, 0);
    /* Our own HELLO, and its answer. */
    f->dealer = raw_dealer(f);
    zmq_send(f->dealer, hello, hn, 0);
    int got = zmq_recv(f->dealer, buf, sizeof buf, 0);
    cr_assert(got > 0);
    pthread_join(f->real.th, NULL);
    cr_assert_not_null(f->real.t, "%s", f->real.e.msg);
}

static void fake_stop(fake *f)
{
    if (f->dealer) zmq_close(f->dealer);
    zmq_close(f->router);
    tide__transport_free(f->real.t);
    zmq_ctx_term(f->ctx);
    free(f->real.r);
}

/* Wait until the fail hook has been called @want times; the last error. */
static uint32_t wait_fails(rec *r, uint32_t want, uint32_t ms, tide_error *last)
{
    uint64_t end = tide_test_now_ms() + ms;
    uint32_t fails = 0;
    for (;;) {
        rec_count(r, &fails, last);
        if (fails >= want || tide_test_now_ms() >= end) return fails;
        usleep(500);
    }
}

TestSuite(transport_fault);

Test(transport_fault, peer_lost_without_bye)
{
    fake f;
    fake_start(&f, 1000);
    uint64_t t0 = tide_test_now_ms();
    zmq_close(f.dealer);
    zmq_close(f.router);
    f.dealer = NULL;
    f.router = zmq_socket(f.ctx, ZMQ_ROUTER); /* closed again by fake_stop */
    tide_error last;
    cr_assert_eq(wait_fails(f.real.r, 1, 3000, &last), 1, "no failure reported");
    uint64_t took = tide_test_now_ms() - t0;
    char want[64];
    snprintf(want, sizeof want, "process 1 at 127.0.0.1:%u", f.port + 1);
    cr_expect_eq(last.code, TIDE_EPEER);
    cr_expect(strstr(last.msg, want) != NULL, "'%s' lacks '%s'", last.msg, want);
    cr_expect(took <= 1000, "took %llu ms", (unsigned long long)took);
    fake_stop(&f);
}

Test(transport_fault, bye_then_close_is_orderly)
{
    fake f;
    fake_start(&f, 1000);
    tide__wire_enc w;
    tide_error e;
    tide__wire_enc_init(&w);
    tide__wire_encode_bye(&w, &e);
    uint8_t bye[64];
    tide__wire_flatten(&w, bye);
    zmq_send(f.dealer, bye, w.total, 0);
    tide__wire_enc_fini(&w);
    usleep(100000);
    zmq_close(f.dealer);
    zmq_close(f.router);
    f.dealer = NULL;
    f.router = zmq_socket(f.ctx, ZMQ_ROUTER);
    tide_error last;
    cr_expect_eq(wait_fails(f.real.r, 1, 1500, &last), 0, "failed: %s", last.msg);
    fake_stop(&f);
}

/* A valid DATA frame of @len records, flattened into @buf. */
static size_t data_frame(uint8_t *buf, size_t cap, uint32_t len, uint32_t to)
{
    tide__wire_enc w;
    tide_error e;
    tide__wire_enc_init(&w);
    tide__msg m = {.kind = TIDE__MSG_DATA, .from = 1, .channel = 0};
    m.batch = data_batch(3, len);
    cr_assert_eq(tide__wire_encode_data(&w, &m, to, &e), TIDE_OK);
    cr_assert(w.total <= cap);
    tide__wire_flatten(&w, buf);
    size_t n = w.total;
    tide__wire_enc_fini(&w);
    tide_batch_unref(m.batch);
    return n;
}

/* Wait until @want frames were logged as dropped; the last such line. */
static uint32_t wait_logs(rec *r, uint32_t want, uint32_t ms, char *last, size_t size)
{
    uint64_t end = tide_test_now_ms() + ms;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        uint32_t n = r->logs;
        snprintf(last, size, "%s", r->lastlog);
        pthread_mutex_unlock(&r->lock);
        if (n >= want || tide_test_now_ms() >= end) return n;
        usleep(500);
    }
}

/* Random bytes, random lengths, truncations and corruptions of valid
 * frames, from fresh unidentified connections: each one is decoded,
 * logged and dropped, never delivered, and never fails the job (a stranger
 * cannot stop it). */
Test(transport_fault, fuzz_unidentified_connections)
{
    fake f;
    fake_start(&f, 5000);
    tide_rng rng = {tide_test_seed("transport fuzz", 1)};
    uint8_t valid[8192], frame[8192];
    size_t vn = data_frame(valid, sizeof valid, 300, 0);
    uint32_t want = 0;
    for (int i = 0; i < 150; i++) {
        size_t n;
        int kind = (int)tide_rng_below(&rng, 3);
        if (kind == 0) { /* random bytes, sometimes with a valid header */
            n = 1 + tide_rng_below(&rng, 200);
            for (size_t k = 0; k < n; k++) frame[k] = (uint8_t)tide_rng_next(&rng);
            if (tide_rng_below(&rng, 2)) memcpy(frame, valid, n < 10 ? n : 10);
        } else if (kind == 1) { /* truncation */
            n = tide_rng_below(&rng, vn);
            memcpy(frame, valid, n);
        } else { /* corruption */
            n = vn;
            memcpy(frame, valid, n);
            frame[tide_rng_below(&rng, n)] ^= (uint8_t)(1 + tide_rng_below(&rng, 255));
        }
        /* What the decoder says decides the expectation: a valid non-HELLO
         * frame from a stranger is refused too ("before HELLO"); a valid
         * BYE from one is ignored. */
        tide__wire_frame fr;
        tide_error de;
        int dec = tide__wire_decode_buf(frame, n, &fr, &de);
        if (dec == TIDE_OK) {
            uint32_t k = fr.kind;
            tide__wire_frame_release(&fr);
            if (k == TIDE__WIRE_BYE || k == TIDE__WIRE_HELLO) continue;
        }
        void *d = raw_dealer(&f);
        zmq_send(d, frame, n, 0);
        want++;
        char last[320];
        cr_assert_eq(wait_logs(f.real.r, want, 3000, last, sizeof last), want,
                     "frame %d (%zu bytes) not logged", i, n);
        cr_assert(strstr(last, "unidentified connection 127.0.0.1") != NULL, "%s", last);
        zmq_close(d);
    }
    uint32_t fails;
    cr_expect_eq(rec_count(f.real.r, &fails, NULL), 0, "something was delivered");
    cr_expect_eq(fails, 0, "a stranger's frame failed the job: %s", f.real.r->last.msg);
    /* Many parts in one message. */
    void *d = raw_dealer(&f);
    for (int k = 0; k < 40; k++) zmq_send(d, valid, 4, k < 39 ? ZMQ_SNDMORE : 0);
    char last[320];
    cr_expect_eq(wait_logs(f.real.r, want + 1, 3000, last, sizeof last), want + 1);
    cr_expect(strstr(last, "too many parts") != NULL, "%s", last);
    zmq_close(d);
    /* The real peer is still there: its frame is delivered. */
    zmq_send(f.dealer, valid, vn, 0);
    wait_count(f.real.r, 1, 3000);
    cr_expect_eq(rec_count(f.real.r, &fails, NULL), 1, "the peer's frame was not delivered");
    cr_expect_eq(fails, 0);
    fake_stop(&f);
}

/* The identified peer sends garbage: refused naming it; what follows from
 * it is dropped (one failure per peer). */
Test(transport_fault, garbage_from_identified_peer)
{
    uint8_t valid[8192];
    size_t vn = data_frame(valid, sizeof valid, 300, 0);
    for (int round = 0; round < 6; round++) {
        fake f;
        fake_start(&f, 5000);
        /* A good frame first: delivered. */
        zmq_send(f.dealer, valid, vn, 0);
        wait_count(f.real.r, 1, 3000);
        cr_assert_eq(rec_count(f.real.r, NULL, NULL), 1, "the valid frame was not delivered");
        size_t cut = round == 0 ? 0 : vn * (size_t)round / 7;
        if (round == 5) {
            /* Valid DATA for a worker that is not ours. */
            uint8_t other[8192];
            size_t on = data_frame(other, sizeof other, 10, 1);
            zmq_send(f.dealer, other, on, 0);
        } else {
            zmq_send(f.dealer, valid, cut, 0);
        }
        zmq_send(f.dealer, valid, vn / 2, 0);
        tide_error last;
        cr_assert_eq(wait_fails(f.real.r, 1, 3000, &last), 1);
        char want[64];
        snprintf(want, sizeof want, "process 1 at 127.0.0.1:%u", f.port + 1);
        cr_expect_eq(last.code, TIDE_EPROTO);
        cr_expect(strstr(last.msg, want) != NULL, "'%s' lacks '%s'", last.msg, want);
        usleep(50000);
        uint32_t fails;
        rec_count(f.real.r, &fails, NULL);
        cr_expect_eq(fails, 1, "one failure per peer");
        cr_expect_eq(rec_count(f.real.r, NULL, NULL), 1);
        fake_stop(&f);
    }
}

/* A FAIL frame: from a stranger, logged and dropped; from the identified
 * peer, this process fails naming the process that failed first. */
Test(transport_fault, fail_frame_from_stranger_and_from_peer)
{
    fake f;
    fake_start(&f, 5000);
    tide__wire_enc w;
    tide_error e;
    tide__wire_enc_init(&w);
    cr_assert_eq(tide__wire_encode_fail(&w, 1, TIDE_ENOMEM, "out of memory in 'count'", &e),
                 TIDE_OK);
    uint8_t buf[512];
    tide__wire_flatten(&w, buf);
    void *d = raw_dealer(&f);
    zmq_send(d, buf, w.total, 0);
    char last[320];
    cr_expect_eq(wait_logs(f.real.r, 1, 3000, last, sizeof last), 1);
    cr_expect(strstr(last, "FAIL frame before HELLO") != NULL, "%s", last);
    zmq_close(d);
    uint32_t fails;
    rec_count(f.real.r, &fails, NULL);
    cr_expect_eq(fails, 0, "a stranger's FAIL stopped the job");
    /* From process 1 itself (origin 1). */
    zmq_send(f.dealer, buf, w.total, 0);
    tide_error lastf;
    cr_assert_eq(wait_fails(f.real.r, 1, 3000, &lastf), 1, "the peer's FAIL was ignored");
    cr_expect_eq(lastf.code, TIDE_EPEER);
    cr_expect_str_eq(lastf.msg, "process 1 failed: out of memory in 'count'");
    tide__wire_enc_fini(&w);
    fake_stop(&f);
}
