/*
 * test_failure.c - a process that fails for any reason stops the whole
 * cluster: every process exits with an error naming the failed process and
 * its cause, within the peer timeout (issue 17, item 1).
 *
 * - the FAIL frame (net/wire.c): round trip, and every truncation or a bad
 *   code refused;
 * - 3 real processes of apps/examples/failcheck, process 2 failing with an
 *   operator error (tide_op_fail), out of memory (tide_alloc's fault hook)
 *   and a bad configuration (one worker too many), at W = 1 and 2;
 * - a protocol error: process 2 is played by this test with raw ZeroMQ
 *   sockets; it joins properly, then sends process 0 a broken DATA frame;
 * - the case: a 2-process job whose process 0 meets a third,
 *   misconfigured process (-n 3, other ports);
 * - a peer that answers our HELLO but never says its own: the handshake
 *   fails within the peer timeout instead of waiting for ever.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <zmq.h>

#include "cluster_run.h"
#include "tide/batch.h"
#include "tide/record.h"
#include "transport.h"
#include "wire.h"

#define T_MS 2000 /* --peer-timeout of every test here */

/* No criterion .timeout (see test_cluster_run.c): every wait has a deadline. */
TestSuite(failure);

/* ---- the FAIL frame ------------------------------------------------------------ */

Test(failure, fail_frame_round_trip_and_refusals)
{
    tide__wire_enc w;
    tide__wire_frame f;
    tide_error e;
    tide__wire_enc_init(&w);
    char cause[300];
    memset(cause, 'x', sizeof cause - 1);
    cause[sizeof cause - 1] = '\0';
    cr_assert_eq(tide__wire_encode_fail(&w, 7, TIDE_ENOMEM, cause, &e), TIDE_OK);
    uint8_t *p = malloc(w.total);
    tide__wire_flatten(&w, p);
    cr_assert_eq(tide__wire_decode_buf(p, w.total, &f, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(f.kind, TIDE__WIRE_FAIL);
    cr_expect_eq(f.fail.origin, 7);
    cr_expect_eq(f.fail.code, TIDE_ENOMEM);
    cr_expect_eq(strlen(f.fail.cause), TIDE__WIRE_CAUSE_MAX, "cause truncated to the limit");
    for (size_t n = 0; n < w.total; n++)
        cr_expect_eq(tide__wire_decode_buf(p, n, &f, &e), TIDE_EPROTO, "truncation to %zu", n);
    free(p);
    /* A non-negative code is not an error. */
    cr_assert_eq(tide__wire_encode_fail(&w, 1, 0, "ok?", &e), TIDE_OK);
    p = malloc(w.total);
    tide__wire_flatten(&w, p);
    cr_expect_eq(tide__wire_decode_buf(p, w.total, &f, &e), TIDE_EPROTO);
    cr_expect(strstr(e.msg, "'code'") != NULL, "%s", e.msg);
    free(p);
    tide__wire_enc_fini(&w);
}

/* ---- processes ------------------------------------------------------------------ */

/* Start @argv (NULL-terminated) as process slot @i of @c, output to files. */
static void spawn(tide_test_cluster *c, uint32_t i, const char *const *argv)
{
    static unsigned seq;
    pid_t parent = getpid();
    snprintf(c->out[i], sizeof c->out[i], "/tmp/tide_fl_%d_%u_%u.out", (int)parent, seq, i);
    snprintf(c->err[i], sizeof c->err[i], "/tmp/tide_fl_%d_%u_%u.err", (int)parent, seq, i);
    seq++;
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(126);
        int fo = open(c->out[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(c->err[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0) _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    c->pid[i] = pid;
    if (c->n < i + 1) c->n = i + 1;
}

/* Wait (at most @ms) until file @path contains @what; 1 if it does. */
static int wait_for_text(const char *path, const char *what, uint32_t ms)
{
    uint64_t end = tide_test_now_ms() + ms;
    for (;;) {
        char *s = tide_test_slurp(path);
        int found = strstr(s, what) != NULL;
        free(s);
        if (found) return 1;
        if (tide_test_now_ms() >= end) return 0;
        usleep(5000);
    }
}

/*
 * Wait for the processes of @c, then check that each exited with 1 within
 * T_MS of @t0 and that its stderr contains @want[i] (and @also[i] if not
 * NULL). Cleans @c up.
 */
static void expect_all_failed(tide_test_cluster *c, uint64_t t0, const char *const *want,
                              const char *const *also)
{
    tide_test_cluster_wait(c, T_MS + 5000);
    for (uint32_t i = 0; i < c->n; i++) {
        char *err = tide_test_slurp(c->err[i]);
        int code = tide_test_cluster_code(c, i);
        uint64_t took = c->exit_ms[i] > t0 ? c->exit_ms[i] - t0 : 0;
        cr_expect_eq(code, 1, "process %u exit code %d; stderr: %s", i, code, err);
        cr_expect(took <= T_MS, "process %u took %llu ms to stop (peer timeout %u ms)", i,
                  (unsigned long long)took, T_MS);
        cr_expect(strstr(err, want[i]) != NULL, "process %u: '%s' lacks '%s'", i, err, want[i]);
        cr_expect(strstr(err, "Sanitizer") == NULL, "process %u: %s", i, err);
        if (also && also[i])
            cr_expect(strstr(err, also[i]) != NULL, "process %u: '%s' lacks '%s'", i, err, also[i]);
        free(err);
    }
    tide_test_cluster_cleanup(c);
}

/* Process 2 of 3 fails with @kind; every process must stop, naming it. */
static void one_of_three_fails(const char *kind, uint32_t w, const char *cause)
{
    const char *const args[] = {"2", kind, "30", NULL};
    tide_test_cluster c;
    uint64_t t0 = tide_test_now_ms();
    cr_assert_eq(tide_test_cluster_start(&c, 3, w, T_MS, tide_test_bin("failcheck"), args), 0);
    int failing = wait_for_text(c.out[2], "failing", 15000);
    if (failing && strcmp(kind, "config") != 0) t0 = tide_test_now_ms();
    if (!failing) tide_test_cluster_cleanup(&c);
    cr_assert(failing, "process 2 never got to fail");
    const char *const want[] = {"process 2 failed: ", "process 2 failed: ", cause};
    const char *const also[] = {cause, cause, NULL};
    expect_all_failed(&c, t0, want, also);
}

Test(failure, operator_error_w1)
{
    one_of_three_fails("op", 1, "gate: injected operator error");
}
Test(failure, operator_error_w2)
{
    one_of_three_fails("op", 2, "gate: injected operator error");
}
Test(failure, out_of_memory_w1)
{
    one_of_three_fails("oom", 1, "out of memory");
}
Test(failure, out_of_memory_w2)
{
    one_of_three_fails("oom", 2, "out of memory");
}

/* One worker too many: everyone refuses the handshake: processes 0 and 1
 * name process 2 and its layout, process 2 whichever it met first. */
static void bad_configuration(uint32_t w)
{
    const char *const args[] = {"2", "config", "30", NULL};
    tide_test_cluster c;
    uint64_t t0 = tide_test_now_ms();
    cr_assert_eq(tide_test_cluster_start(&c, 3, w, T_MS, tide_test_bin("failcheck"), args), 0);
    char theirs[32], mine[64], others[32];
    snprintf(theirs, sizeof theirs, "N=3 W=%u", w + 1);
    snprintf(mine, sizeof mine, "this process runs 'failcheck' with N=3 W=%u", w + 1);
    snprintf(others, sizeof others, "with N=3 W=%u;", w);
    const char *const want[] = {"(process 2)", "(process 2)", mine};
    const char *const also[] = {theirs, theirs, others};
    expect_all_failed(&c, t0, want, also);
}

Test(failure, bad_configuration_w1)
{
    bad_configuration(1);
}
Test(failure, bad_configuration_w2)
{
    bad_configuration(2);
}

/* ---- a protocol error: process 2 played with raw sockets ----------------------- */

#define MAXW 2

typedef struct member {
    void *ctx, *router;
    void *dealer[2][MAXW]; /* to process 0 and 1 */
    uint32_t w;
    uint16_t port;
    tide_config cfg; /* as process 2 */
} member;

static size_t encode(tide__wire_enc *enc, uint8_t *buf, size_t cap)
{
    cr_assert(enc->total <= cap);
    tide__wire_flatten(enc, buf);
    return enc->total;
}

/* Receive one whole message from @s (parts concatenated after the first
 * @skip parts, which go to @id); its length, -1 if none within @ms. */
static int recv_msg(void *s, int skip, uint8_t *id, size_t *idlen, uint8_t *buf, size_t cap, int ms)
{
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, ms) <= 0) return -1;
    size_t len = 0;
    int more = 1, part = 0;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            return -1;
        }
        size_t n = zmq_msg_size(&m);
        if (part < skip) {
            if (id && n <= 64) memcpy(id, zmq_msg_data(&m), n), *idlen = n;
        } else if (len + n <= cap) {
            memcpy(buf + len, zmq_msg_data(&m), n);
            len += n;
        }
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        part++;
    }
    return (int)len;
}

/* Join processes 0 and 1 as process 2: answer their HELLOs on our ROUTER and
 * say ours on W DEALERs to each, until everything is answered. */
static int member_join(member *m)
{
    tide__wire_enc enc;
    tide_error e;
    tide__wire_enc_init(&enc);
    tide__wire_encode_hello(&enc, &m->cfg, &e);
    uint8_t hello[256], buf[65536], id[64];
    size_t hn = encode(&enc, hello, sizeof hello), idlen = 0;
    tide__wire_enc_fini(&enc);
    int zero = 0, acked = 0, answered = 0;
    for (uint32_t q = 0; q < 2; q++)
        for (uint32_t k = 0; k < m->w; k++) {
            void *d = m->dealer[q][k] = zmq_socket(m->ctx, ZMQ_DEALER);
            zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
            char ep[64];
            snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", m->port + q);
            zmq_connect(d, ep);
            zmq_send(d, hello, hn, 0);
        }
    uint8_t seen[2 * MAXW * 2][64];
    size_t seen_len[2 * MAXW * 2];
    uint64_t end = tide_test_now_ms() + 10000;
    while ((acked < (int)(2 * m->w) || answered < (int)(2 * m->w)) && tide_test_now_ms() < end) {
        int n = recv_msg(m->router, 1, id, &idlen, buf, sizeof buf, 5);
        if (n > 0) { /* a HELLO (maybe resent): answer every one */
            zmq_send(m->router, id, idlen, ZMQ_SNDMORE);
            zmq_send(m->router, hello, hn, 0);
            int known = 0;
            for (int i = 0; i < answered; i++)
                known |= seen_len[i] == idlen && memcmp(seen[i], id, idlen) == 0;
            if (!known && answered < (int)(sizeof seen / sizeof seen[0])) {
                memcpy(seen[answered], id, idlen);
                seen_len[answered++] = idlen;
            }
        }
        for (uint32_t q = 0; q < 2; q++)
            for (uint32_t k = 0; k < m->w; k++)
                if (recv_msg(m->dealer[q][k], 0, NULL, NULL, buf, sizeof buf, 0) > 0) acked++;
    }
    return acked >= (int)(2 * m->w) && answered >= (int)(2 * m->w);
}

static void protocol_error(uint32_t w)
{
    member m = {.w = w};
    m.port = tide_test_free_ports(3);
    m.ctx = zmq_ctx_new();
    m.router = zmq_socket(m.ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(m.router, ZMQ_LINGER, &zero, sizeof zero);
    char ep[64], port[16], wb[16], tb[16];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", m.port + 2);
    cr_assert_eq(zmq_bind(m.router, ep), 0);
    tide_config_init(&m.cfg);
    m.cfg.processes = 3, m.cfg.workers = w, m.cfg.process = 2;
    snprintf(m.cfg.job, sizeof m.cfg.job, "failcheck");
    snprintf(port, sizeof port, "%u", m.port);
    snprintf(wb, sizeof wb, "%u", w);
    snprintf(tb, sizeof tb, "%u", T_MS);
    tide_test_cluster c;
    memset(&c, 0, sizeof c);
    for (uint32_t i = 0; i < 2; i++) {
        const char *p = i == 0 ? "0" : "1";
        const char *const argv[] = {tide_test_bin("failcheck"),
                                    "9",
                                    "none",
                                    "30",
                                    "-n",
                                    "3",
                                    "-w",
                                    wb,
                                    "-p",
                                    p,
                                    "--port",
                                    port,
                                    "--no-pin",
                                    "--peer-timeout",
                                    tb,
                                    NULL};
        spawn(&c, i, argv);
    }
    int joined = member_join(&m);
    /* A DATA frame from our worker, cut short: a protocol error of ours. */
    tide__wire_enc enc;
    tide_error e;
    tide__wire_enc_init(&enc);
    tide_batch *b = tide_batch_new(tide_layout_make(8, 0), 0, 100);
    uint8_t k[8];
    for (uint32_t i = 0; i < 100; i++) {
        tide_u64_store(k, i);
        tide_batch_push(b, k, 8, NULL, 0);
    }
    tide__msg msg = {.kind = TIDE__MSG_DATA, .from = 2 * w, .channel = 0, .batch = b};
    cr_assert_eq(tide__wire_encode_data(&enc, &msg, 0, &e), TIDE_OK);
    uint8_t frame[4096];
    size_t fn = encode(&enc, frame, sizeof frame);
    tide__wire_enc_fini(&enc);
    tide_batch_unref(b);
    usleep(200000); /* let them finish their handshake */
    uint64_t t0 = tide_test_now_ms();
    if (joined) zmq_send(m.dealer[0][0], frame, fn / 2, 0);
    char name[64];
    snprintf(name, sizeof name, "process 2 at 127.0.0.1:%u: DATA frame", m.port + 2);
    const char *const want[] = {name, "process 0 failed: "};
    const char *const also[] = {NULL, name};
    if (joined) expect_all_failed(&c, t0, want, also);
    /* Both told us, naming process 0 as the one that failed. */
    int fails = 0;
    uint8_t buf[65536];
    for (;;) {
        int n = recv_msg(m.router, 1, NULL, NULL, buf, sizeof buf, 200);
        if (n < 0) break;
        tide__wire_frame f;
        if (tide__wire_decode_buf(buf, (size_t)n, &f, &e) != TIDE_OK) continue;
        if (f.kind == TIDE__WIRE_FAIL && f.fail.origin == 0 && strstr(f.fail.cause, "DATA frame"))
            fails++;
        tide__wire_frame_release(&f);
    }
    for (uint32_t q = 0; q < 2; q++)
        for (uint32_t i = 0; i < w; i++) zmq_close(m.dealer[q][i]);
    zmq_close(m.router);
    zmq_ctx_term(m.ctx);
    if (!joined) tide_test_cluster_cleanup(&c);
    cr_assert(joined, "could not join the cluster as process 2");
    cr_expect(fails >= 2, "FAIL frames naming process 0: %d", fails);
}

Test(failure, protocol_error_w1)
{
    protocol_error(1);
}
Test(failure, protocol_error_w2)
{
    protocol_error(2);
}

/* ---- the case ---------------------------------------------------------- */

/* A 2-process job; a third process of a 3-process job whose ports are off
 * by two reaches process 0 only (as its "process 2"). Process 0 refuses it
 * and fails; process 1 must not wait for ever: it names process 0 and the
 * cause. (Before FAIL, process 0 exited after 10 s and process 1 hung.) */
Test(failure, misconfigured_third_process)
{
    uint16_t base = tide_test_free_ports(4);
    char port[16], third[16], tb[16];
    snprintf(port, sizeof port, "%u", base + 2);
    snprintf(third, sizeof third, "%u", base);
    snprintf(tb, sizeof tb, "%u", T_MS);
    tide_test_cluster c;
    memset(&c, 0, sizeof c);
    const char *bin = tide_test_bin("failcheck");
    for (uint32_t i = 0; i < 2; i++) {
        const char *const argv[] = {
            bin,  "9",        "none",           "30", "-n", "2", "-p", i ? "1" : "0", "--port",
            port, "--no-pin", "--peer-timeout", tb,   NULL};
        spawn(&c, i, argv);
    }
    usleep(500000); /* the job runs */
    const char *const argv3[] = {bin,  "9", "none",   "1",   "-n",       "3",
                                 "-p", "0", "--port", third, "--no-pin", "--peer-timeout",
                                 tb,   NULL};
    uint64_t t0 = tide_test_now_ms();
    spawn(&c, 2, argv3);
    const char *const want[] = {"N=3 W=1", "process 0 failed: ", "N=2 W=1"};
    const char *const also[] = {NULL, "N=3 W=1", NULL};
    expect_all_failed(&c, t0, want, also);
}

/* ---- a handshake that cannot complete ------------------------------------------- */

typedef struct hs_run {
    tide_config cfg;
    tide__transport *t;
    tide_error e;
    uint64_t took;
} hs_run;

static void no_deliver(void *ctx, uint32_t dst, tide__msg *m)
{
    (void)ctx, (void)dst;
    tide_batch_unref(m->batch);
}

static void no_fail(void *ctx, const tide_error *e)
{
    (void)ctx, (void)e;
}

static void *hs_main(void *arg)
{
    hs_run *r = arg;
    tide__transport_hooks h = {.deliver = no_deliver, .fail = no_fail};
    uint64_t t0 = tide_test_now_ms();
    r->t = tide__transport_new(&r->cfg, &h, &r->e);
    __atomic_store_n(&r->took, tide_test_now_ms() - t0, __ATOMIC_RELAXED);
    return NULL;
}

/* The peer answers our HELLO but never says its own: its data would never
 * come. The handshake fails within the peer timeout, naming it. */
Test(failure, peer_that_never_says_hello)
{
    uint16_t port = tide_test_free_ports(2);
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port + 1);
    cr_assert_eq(zmq_bind(router, ep), 0);
    hs_run r = {0};
    tide_config_init(&r.cfg);
    r.cfg.processes = 2, r.cfg.process = 0, r.cfg.base_port = port, r.cfg.peer_timeout_ms = 500;
    r.cfg.pin = 0;
    snprintf(r.cfg.job, sizeof r.cfg.job, "hs");
    tide_config peer = r.cfg;
    peer.process = 1;
    tide__wire_enc enc;
    tide_error e;
    tide__wire_enc_init(&enc);
    tide__wire_encode_hello(&enc, &peer, &e);
    uint8_t hello[256], buf[4096], id[64];
    size_t hn = encode(&enc, hello, sizeof hello), idlen = 0;
    tide__wire_enc_fini(&enc);
    pthread_t th;
    pthread_create(&th, NULL, hs_main, &r);
    uint64_t end = tide_test_now_ms() + 3000;
    int answered = 0;
    while (tide_test_now_ms() < end) {
        int n = recv_msg(router, 1, id, &idlen, buf, sizeof buf, 20);
        if (n > 0) {
            zmq_send(router, id, idlen, ZMQ_SNDMORE);
            zmq_send(router, hello, hn, 0);
            answered++;
        }
        if (n < 0 && answered && __atomic_load_n(&r.took, __ATOMIC_RELAXED)) break;
    }
    pthread_join(th, NULL);
    zmq_close(router);
    zmq_ctx_term(ctx);
    cr_assert(answered > 0, "the transport never said HELLO");
    cr_assert_null(r.t, "the handshake completed without the peer's HELLO");
    tide__transport_free(r.t);
    char want[128];
    snprintf(want, sizeof want,
             "process 1 at 127.0.0.1:%u answered, but only 0 of its 1 workers said HELLO within "
             "500 ms",
             port + 1);
    cr_expect_eq(r.e.code, TIDE_ETIMEDOUT);
    cr_expect_str_eq(r.e.msg, want);
    cr_expect(r.took < 2000, "took %llu ms", (unsigned long long)r.took);
}
