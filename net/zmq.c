/*
 * zmq.c - the multi-process transport over ZeroMQ (net/transport.h).
 *
 * Sockets: every process binds one ROUTER at its own endpoint, and every
 * local worker connects its own DEALER to each other process's ROUTER. A
 * worker sends on its DEALERs from its own thread (a socket is only ever
 * used by one thread at a time), so there is no hand-off queue and no send
 * thread: ZeroMQ's I/O thread already does the asynchronous TCP writing.
 * One receive thread owns the ROUTER and the DEALERs' monitor sockets: it
 * answers HELLOs, decodes frames (tide__wire_decode) and calls
 * hooks->deliver; a PROGRESS frame goes to every local worker, each with its
 * own reference.
 *
 *     process p                                 process q
 *     worker i ── DEALER (p,i)→q ──── TCP ────▶ ROUTER ── receive thread ──▶ deliver
 *     receive thread ◀── ROUTER ◀──── TCP ──── DEALER (q,j)→p ── worker j
 *
 * Ordering: frames from worker i of p to any worker of q travel on one
 * DEALER, one TCP connection, in send order, and the receive thread delivers
 * in arrival order into per-worker FIFO inboxes: DATA never overtakes the
 * PROGRESS sent after it, and vice versa.
 *
 * Handshake, faults, shutdown: see the banners below and docs/wire.md.
 * Memory: a DATA frame's large columns go to ZeroMQ by reference
 * (zmq_msg_init_data) with a batch reference that the free callback drops;
 * nothing is allocated per record.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cluster.h"
#include "tide/alloc.h"
#include "transport.h"
#include "wire.h"

#define HELLO_RESEND_MS 200        /* handshake: resend a HELLO nobody answered */
#define BIND_RETRY_MS   20         /* an endpoint still held by our previous run */
#define RECV_POLL_MS    100        /* receive thread: longest sleep between checks */
#define RECV_BUDGET     256        /* frames per wake-up before monitors get a look */
#define MAX_PARTS       32         /* message parts one frame may have */
#define RID_MAX         32         /* longest routing id we identify */
#define MAX_DATAFLOW    (1u << 20) /* highest dataflow index a peer may name */
#define NO_PEER         UINT32_MAX

/* A DEALER: local worker @worker's connection to process @peer. */
typedef struct conn {
    void *dealer;    /* sends: worker @worker's thread (main thread in new/free) */
    void *mon;       /* PAIR on the dealer's monitor: main thread, then the receive thread */
    uint32_t peer;   /* process it reaches */
    uint32_t worker; /* local worker that sends on it */
    int acked;       /* handshake: the peer answered our HELLO */
} conn;

/* A peer's DEALER as seen by our ROUTER, identified by its HELLO. */
typedef struct inbound {
    uint8_t rid[RID_MAX]; /* ZeroMQ routing id */
    uint32_t rid_len;
    uint32_t peer; /* process it belongs to */
    int bye;       /* its BYE arrived */
} inbound;

typedef struct peer_state {
    uint32_t nin;     /* receive thread: connections identified by HELLO */
    uint32_t byes;    /* atomic: BYEs received, one per connection; W means finished */
    uint32_t dead;    /* atomic: lost or broken; frames to and from it are dropped */
    uint64_t lost_ns; /* receive thread: a DEALER to it dropped without BYE at this time */
} peer_state;

struct tide__transport {
    tide_config cfg;
    tide__cluster cl;
    tide__transport_hooks hooks;
    uint32_t n, w, self, first; /* N, W, this process, global index of local worker 0 */
    uint32_t timeout_ms;        /* --peer-timeout */
    uint32_t grace_ms;          /* a dropped connection waits this long for a late BYE */
    void *zctx;
    void *router; /* receive thread */
    conn *conns;  /* [worker * (n - 1) + peer slot] */
    uint32_t nconns;
    tide__wire_enc *enc; /* [worker]: each worker's encoder */
    tide__wire_enc renc; /* receive thread's encoder (HELLO answers) */
    inbound *in;         /* receive thread: identified connections */
    uint32_t nin, in_cap;
    zmq_pollitem_t *items; /* receive thread's poll set */
    peer_state peers[TIDE_MAX_PROCESSES];
    int wake_fd; /* eventfd: wakes the receive thread */
    pthread_t recv_thread;
    int recv_started;
    uint32_t running;     /* atomic: handshake done; monitors belong to the receive thread */
    uint32_t closing;     /* atomic: free() started; HELLOs are no longer answered */
    uint32_t stop;        /* atomic: the receive thread should exit */
    pthread_mutex_t lock; /* guards hs_err and the running switch */
    tide_error hs_err;    /* first error of the handshake, from the receive thread */
};

#if defined(__SANITIZE_THREAD__)
/* libzmq is not built with TSan: its lock-free pipes are invisible to it,
 * so its I/O thread copying a message another thread filled looks like a
 * race. Suppress reports raised from inside libzmq (ours are still seen). */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:libzmq.so\nrace:libzmq.so\n";
}
#endif

/* ======================================================================== */
/* Helpers                                                                  */
/* ======================================================================== */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ms_ns(uint64_t ms)
{
    return ms * 1000000u;
}

static inline conn *conn_of(tide__transport *t, uint32_t worker, uint32_t peer)
{
    uint32_t slot = peer < t->self ? peer : peer - 1;
    return &t->conns[worker * (t->n - 1) + slot];
}

static const char *pname(const tide__transport *t, uint32_t q)
{
    return tide__cluster_peer_name(&t->cl, q);
}

static void release_msg(tide__msg *m)
{
    if (m->kind == TIDE__MSG_DATA)
        tide_batch_unref(m->batch);
    else if (m->kind == TIDE__MSG_PROGRESS)
        tide__progress_unref(m->progress);
}

/*
 * report - the cluster is broken. @q (or NO_PEER) is the peer to blame: it
 * is marked dead, and only its first failure is reported. During the
 * handshake the error is kept for tide__transport_new to return; afterwards
 * it goes to hooks->fail.
 */
static void report(tide__transport *t, uint32_t q, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(tide__transport *t, uint32_t q, int code, const char *fmt, ...)
{
    tide_error e;
    va_list ap;
    va_start(ap, fmt);
    e.code = code;
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    if (q < t->n && __atomic_exchange_n(&t->peers[q].dead, 1, __ATOMIC_SEQ_CST)) return;
    pthread_mutex_lock(&t->lock);
    int running = __atomic_load_n(&t->running, __ATOMIC_ACQUIRE);
    if (!running && t->hs_err.code == TIDE_OK) t->hs_err = e;
    pthread_mutex_unlock(&t->lock);
    if (running) t->hooks.fail(t->hooks.ctx, &e);
}

static void wake_recv(tide__transport *t)
{
    uint64_t one = 1;
    ssize_t r = write(t->wake_fd, &one, sizeof one);
    (void)r; /* a full counter still wakes the reader */
}

/* ZeroMQ's free callback for a column sent by reference. */
static void unref_batch(void *data, void *hint)
{
    (void)data;
    tide_batch_unref(hint);
}

/*
 * send_frame - the frame encoded in @enc as one multipart message on @sock:
 * segments that point into batch @b (SIZE_MAX offset) by reference, each
 * holding a reference to @b; the small owned pieces by copy. 0, or -1 with
 * errno (only on a closed context or socket: HWM is 0, sends never block).
 */
static int send_frame(void *sock, const tide__wire_enc *enc, tide_batch *b)
{
    for (uint32_t i = 0; i < enc->nseg; i++) {
        const tide__wire_seg *s = &enc->segs[i];
        zmq_msg_t part;
        if (b != NULL && enc->offs[i] == SIZE_MAX) {
            tide_batch_ref(b);
            if (zmq_msg_init_data(&part, (void *)s->ptr, s->len, unref_batch, b) != 0) {
                tide_batch_unref(b);
                return -1;
            }
        } else {
            if (zmq_msg_init_size(&part, s->len) != 0) return -1;
            if (s->len) memcpy(zmq_msg_data(&part), s->ptr, s->len);
        }
        int flags = i + 1 < enc->nseg ? ZMQ_SNDMORE : 0;
        while (zmq_msg_send(&part, sock, flags) < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            zmq_msg_close(&part);
            errno = err;
            return -1;
        }
    }
    return 0;
}

/*
 * recv_frame - the rest of a multipart message from @sock into @parts
 * (first already in parts[0] when @have is 1). Returns the number of parts
 * kept (at most MAX_PARTS; *@overflow set if there were more), -1 on error.
 */
static int recv_rest(void *sock, zmq_msg_t *parts, int have, int more, int *overflow)
{
    int np = have;
    *overflow = 0;
    while (more) {
        zmq_msg_t spill, *p = np < MAX_PARTS ? &parts[np] : &spill;
        zmq_msg_init(p);
        /* The rest of a multipart message is already here (atomic delivery). */
        if (zmq_msg_recv(p, sock, 0) < 0) {
            zmq_msg_close(p);
            if (errno == EINTR) continue;
            return -1;
        }
        more = zmq_msg_more(p);
        if (p == &spill) {
            *overflow = 1;
            zmq_msg_close(p);
        } else {
            np++;
        }
    }
    return np;
}

static void close_parts(zmq_msg_t *parts, int np)
{
    for (int i = 0; i < np; i++) zmq_msg_close(&parts[i]);
}

/* Decode @np parts as one frame. */
static int decode_parts(zmq_msg_t *parts, int np, tide__wire_frame *f, tide_error *e)
{
    tide__wire_seg segs[MAX_PARTS];
    for (int i = 0; i < np; i++) {
        segs[i].ptr = zmq_msg_data(&parts[i]);
        segs[i].len = zmq_msg_size(&parts[i]);
    }
    return tide__wire_decode(segs, (uint32_t)np, f, e);
}

/* ======================================================================== */
/* Receive thread                                                           */
/* ======================================================================== */

static inbound *find_inbound(tide__transport *t, const void *rid, size_t len)
{
    for (uint32_t i = 0; i < t->nin; i++)
        if (t->in[i].rid_len == len && memcmp(t->in[i].rid, rid, len) == 0) return &t->in[i];
    return NULL;
}

static void answer_hello(tide__transport *t, zmq_msg_t *rid)
{
    tide_error e;
    if (tide__wire_encode_hello(&t->renc, &t->cfg, &e) < 0) return;
    zmq_msg_t id;
    zmq_msg_init(&id);
    zmq_msg_copy(&id, rid);
    if (zmq_msg_send(&id, t->router, ZMQ_SNDMORE) < 0) {
        zmq_msg_close(&id); /* EHOSTUNREACH: it left already */
        return;
    }
    send_frame(t->router, &t->renc, NULL);
}

static void on_hello(tide__transport *t, inbound *ib, zmq_msg_t *rid, const tide__wire_hello *h,
                     const char *addr)
{
    /* free() has begun: we are an old run of this process; the peer retries
     * and reaches the next run once this one has closed its socket. */
    if (__atomic_load_n(&t->closing, __ATOMIC_ACQUIRE)) return;
    uint32_t q = h->process;
    int known = q < t->n && q != t->self;
    if (ib != NULL) { /* a repeated HELLO: answer again */
        if (q != ib->peer)
            report(t, ib->peer, TIDE_EPROTO, "process %u at %s: HELLO again, now as process %u",
                   ib->peer, pname(t, ib->peer), q);
        else
            answer_hello(t, rid);
        return;
    }
    tide_error ce;
    /* Answer even a mismatch, so that the peer reports it from its side too. */
    answer_hello(t, rid);
    if (tide__wire_check_hello(h, &t->cfg, known ? pname(t, q) : addr, UINT32_MAX, &ce) < 0) {
        report(t, known ? q : NO_PEER, TIDE_EPROTO, "%s", ce.msg);
        return;
    }
    size_t len = zmq_msg_size(rid);
    if (len > RID_MAX || t->peers[q].nin >= t->w || t->nin >= t->in_cap) {
        report(t, q, TIDE_EPROTO, "process %u at %s: more than %u connections claim to be it", q,
               pname(t, q), t->w);
        return;
    }
    inbound *n = &t->in[t->nin++];
    memcpy(n->rid, zmq_msg_data(rid), len);
    n->rid_len = (uint32_t)len;
    n->peer = q;
    n->bye = 0;
    t->peers[q].nin++;
}

/* DATA or PROGRESS from identified peer @q: check it is plausible, deliver. */
static void on_message(tide__transport *t, uint32_t q, tide__wire_frame *f)
{
    tide__msg *m = &f->msg;
    const char *kind = tide__wire_kind_name(f->kind);
    if (m->from / t->w != q) {
        report(t, q, TIDE_EPROTO, "process %u at %s: %s frame from worker %u, not one of its", q,
               pname(t, q), kind, m->from);
        goto drop;
    }
    if (m->dataflow >= MAX_DATAFLOW) {
        report(t, q, TIDE_EPROTO, "process %u at %s: %s frame for dataflow %u (at most %u)", q,
               pname(t, q), kind, m->dataflow, MAX_DATAFLOW - 1);
        goto drop;
    }
    if (f->kind == TIDE__WIRE_DATA) {
        if (f->to < t->first || f->to - t->first >= t->w) {
            report(t, q, TIDE_EPROTO,
                   "process %u at %s: DATA frame for worker %u, not of process %u", q, pname(t, q),
                   f->to, t->self);
            goto drop;
        }
        t->hooks.deliver(t->hooks.ctx, f->to - t->first, m);
        return;
    }
    /* PROGRESS: every local worker gets the same payload, one reference each. */
    for (uint32_t l = 1; l < t->w; l++) tide__progress_ref(m->progress);
    for (uint32_t l = 0; l < t->w; l++) {
        tide__msg c = *m;
        t->hooks.deliver(t->hooks.ctx, l, &c);
    }
    return;
drop:
    release_msg(m);
}

/* One frame from the ROUTER: @parts[0] is the routing id. */
static void on_frame(tide__transport *t, zmq_msg_t *parts, int np, int overflow)
{
    zmq_msg_t *rid = &parts[0];
    inbound *ib = find_inbound(t, zmq_msg_data(rid), zmq_msg_size(rid));
    uint32_t q = ib ? ib->peer : NO_PEER;
    if (q != NO_PEER && __atomic_load_n(&t->peers[q].dead, __ATOMIC_ACQUIRE)) return;
    char who[TIDE__HOST_MAX + 64];
    const char *addr = np > 1 ? zmq_msg_gets(&parts[1], "Peer-Address") : NULL;
    if (addr == NULL) addr = "?";
    if (ib)
        snprintf(who, sizeof who, "process %u at %s", q, pname(t, q));
    else
        snprintf(who, sizeof who, "unidentified connection from %s", addr);
    if (overflow || np < 2) {
        report(t, q, TIDE_EPROTO, "%s: frame of %s parts (1..%d)", who, overflow ? "too many" : "0",
               MAX_PARTS - 1);
        return;
    }
    tide__wire_frame f;
    tide_error de;
    int rc = decode_parts(parts + 1, np - 1, &f, &de);
    if (rc < 0) {
        report(t, q, rc == TIDE_ENOMEM ? TIDE_ENOMEM : TIDE_EPROTO, "%s: %s", who, de.msg);
        return;
    }
    switch (f.kind) {
    case TIDE__WIRE_HELLO:
        on_hello(t, ib, rid, &f.hello, addr);
        return;
    case TIDE__WIRE_BYE:
        /* From an unknown connection: a previous run's leftover; ignore. */
        if (ib && !ib->bye) {
            ib->bye = 1;
            __atomic_add_fetch(&t->peers[q].byes, 1, __ATOMIC_SEQ_CST);
        }
        return;
    default:
        if (ib == NULL) {
            report(t, q, TIDE_EPROTO, "%s: %s frame before HELLO", who,
                   tide__wire_kind_name(f.kind));
            tide__wire_frame_release(&f);
            return;
        }
        if (ib->bye) {
            report(t, q, TIDE_EPROTO, "%s: %s frame after BYE", who, tide__wire_kind_name(f.kind));
            tide__wire_frame_release(&f);
            return;
        }
        on_message(t, q, &f);
    }
}

static void drain_router(tide__transport *t)
{
    zmq_msg_t parts[MAX_PARTS];
    for (int k = 0; k < RECV_BUDGET; k++) {
        zmq_msg_init(&parts[0]);
        if (zmq_msg_recv(&parts[0], t->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&parts[0]);
            return;
        }
        int overflow;
        int np = recv_rest(t->router, parts, 1, zmq_msg_more(&parts[0]), &overflow);
        if (np < 0) {
            zmq_msg_close(&parts[0]);
            return;
        }
        on_frame(t, parts, np, overflow);
        close_parts(parts, np);
    }
}

/* Monitor events of @c's DEALER: a disconnect after the handshake is a lost
 * peer unless its BYEs came (checked after a grace period in check_lost). */
static void drain_monitor(tide__transport *t, conn *c, int judge)
{
    for (;;) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, c->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&ev) >= 2) memcpy(&event, zmq_msg_data(&ev), 2);
        int more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        while (more) { /* the endpoint part */
            zmq_msg_init(&ev);
            if (zmq_msg_recv(&ev, c->mon, 0) < 0) {
                zmq_msg_close(&ev);
                break;
            }
            more = zmq_msg_more(&ev);
            zmq_msg_close(&ev);
        }
        if (!judge || event != ZMQ_EVENT_DISCONNECTED) continue;
        peer_state *p = &t->peers[c->peer];
        if (p->lost_ns == 0 && __atomic_load_n(&p->byes, __ATOMIC_ACQUIRE) < t->w)
            p->lost_ns = now_ns();
    }
}

static int check_lost(tide__transport *t)
{
    int pending = 0;
    uint64_t now = now_ns();
    for (uint32_t q = 0; q < t->n; q++) {
        peer_state *p = &t->peers[q];
        if (p->lost_ns == 0 || __atomic_load_n(&p->dead, __ATOMIC_ACQUIRE)) continue;
        if (__atomic_load_n(&p->byes, __ATOMIC_ACQUIRE) >= t->w) {
            p->lost_ns = 0; /* it said goodbye: an orderly close */
            continue;
        }
        if (now - p->lost_ns < ms_ns(t->grace_ms)) {
            pending = 1;
            continue;
        }
        report(t, q, TIDE_EPEER,
               "lost process %u at %s: its connection closed without BYE (it died, or was silent "
               "for %u ms)",
               q, pname(t, q), t->timeout_ms);
    }
    return pending;
}

static void *recv_main(void *arg)
{
    tide__transport *t = arg;
    zmq_pollitem_t *items = t->items;
    int nitems = 2, monitors = 0, pending = 0;
    items[0] = (zmq_pollitem_t){.socket = NULL, .fd = t->wake_fd, .events = ZMQ_POLLIN};
    items[1] = (zmq_pollitem_t){.socket = t->router, .events = ZMQ_POLLIN};
    while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
        if (!monitors && __atomic_load_n(&t->running, __ATOMIC_ACQUIRE)) {
            /* The handshake is over: the monitors are ours now. */
            for (uint32_t i = 0; i < t->nconns; i++)
                items[nitems++] = (zmq_pollitem_t){.socket = t->conns[i].mon, .events = ZMQ_POLLIN};
            monitors = 1;
        }
        long timeout = pending ? (long)(t->grace_ms < 20 ? t->grace_ms : 20) : RECV_POLL_MS;
        int rc = zmq_poll(items, nitems, timeout);
        if (rc < 0 && errno != EINTR) break;
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) {
            uint64_t v;
            ssize_t r = read(t->wake_fd, &v, sizeof v);
            (void)r;
        }
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN)) drain_router(t);
        for (int i = 2; rc > 0 && i < nitems; i++)
            if (items[i].revents & ZMQ_POLLIN) drain_monitor(t, &t->conns[i - 2], 1);
        if (monitors) pending = check_lost(t);
    }
    return NULL;
}

/* ======================================================================== */
/* Handshake                                                                */
/* ======================================================================== */

/* The answer to our HELLO on @c's DEALER. */
static int on_answer(tide__transport *t, conn *c, tide_error *e)
{
    zmq_msg_t parts[MAX_PARTS];
    zmq_msg_init(&parts[0]);
    if (zmq_msg_recv(&parts[0], c->dealer, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&parts[0]);
        return TIDE_OK;
    }
    int overflow;
    int np = recv_rest(c->dealer, parts, 1, zmq_msg_more(&parts[0]), &overflow);
    if (np < 0) {
        zmq_msg_close(&parts[0]);
        return TIDE_OK;
    }
    tide__wire_frame f;
    tide_error de;
    int rc = overflow ? tide_err_set(&de, TIDE_EPROTO, "frame of too many parts")
                      : decode_parts(parts, np, &f, &de);
    close_parts(parts, np);
    const char *name = pname(t, c->peer);
    if (rc < 0) return tide_err_set(e, TIDE_EPROTO, "process %u at %s: %s", c->peer, name, de.msg);
    if (f.kind != TIDE__WIRE_HELLO) {
        tide__wire_frame_release(&f);
        return tide_err_set(e, TIDE_EPROTO, "process %u at %s answered HELLO with a %s frame",
                            c->peer, name, tide__wire_kind_name(f.kind));
    }
    TIDE_TRY(tide__wire_check_hello(&f.hello, &t->cfg, name, c->peer, e));
    c->acked = 1;
    /* Events so far belong to connections before this one (or to this one's
     * setup): only a disconnect from now on means the peer is lost. */
    drain_monitor(t, c, 0);
    return TIDE_OK;
}

/*
 * handshake - HELLO on every DEALER until each is answered by a matching
 * HELLO (resent every HELLO_RESEND_MS: the first may reach a previous run of
 * the peer that is closing, or be lost with a refused connection). The
 * receive thread meanwhile answers the peers' HELLOs on the ROUTER.
 */
static int handshake(tide__transport *t, tide_error *e)
{
    tide__wire_enc *enc = &t->enc[0];
    TIDE_TRY(tide__wire_encode_hello(enc, &t->cfg, e));
    uint64_t start = now_ns(), deadline = start + ms_ns(t->timeout_ms);
    uint64_t *next = tide_calloc(t->nconns ? t->nconns : 1, sizeof *next);
    zmq_pollitem_t *items = tide_calloc(t->nconns ? t->nconns : 1, sizeof *items);
    uint32_t *which = tide_calloc(t->nconns ? t->nconns : 1, sizeof *which);
    int rc = TIDE_OK;
    if (next == NULL || items == NULL || which == NULL) {
        rc = tide_err_set(e, TIDE_ENOMEM, "out of memory starting the transport");
        goto out;
    }
    for (;;) {
        uint64_t now = now_ns();
        int n = 0;
        for (uint32_t i = 0; i < t->nconns; i++) {
            conn *c = &t->conns[i];
            if (c->acked) continue;
            if (now >= next[i]) {
                if (send_frame(c->dealer, enc, NULL) < 0) {
                    rc = tide_err_set(e, TIDE_ENET, "sending HELLO to process %u at %s: %s",
                                      c->peer, pname(t, c->peer), zmq_strerror(errno));
                    goto out;
                }
                next[i] = now + ms_ns(HELLO_RESEND_MS);
            }
            items[n] = (zmq_pollitem_t){.socket = c->dealer, .events = ZMQ_POLLIN};
            which[n++] = i;
        }
        pthread_mutex_lock(&t->lock);
        tide_error hs = t->hs_err;
        pthread_mutex_unlock(&t->lock);
        if (hs.code != TIDE_OK) {
            *e = hs;
            rc = hs.code;
            goto out;
        }
        if (n == 0) break;
        if (now >= deadline) {
            conn *c = &t->conns[which[0]];
            rc = tide_err_set(e, TIDE_ETIMEDOUT, "process %u at %s did not answer within %u ms",
                              c->peer, pname(t, c->peer), t->timeout_ms);
            goto out;
        }
        uint64_t left = (deadline - now) / 1000000u + 1;
        long wait = left < 50 ? (long)left : 50;
        int prc = zmq_poll(items, n, wait);
        if (prc < 0 && errno != EINTR) {
            rc = tide_err_set(e, TIDE_ENET, "waiting for HELLO: %s", zmq_strerror(errno));
            goto out;
        }
        for (int k = 0; prc > 0 && k < n; k++) {
            if (!(items[k].revents & ZMQ_POLLIN)) continue;
            rc = on_answer(t, &t->conns[which[k]], e);
            if (rc < 0) goto out;
        }
    }
out:
    tide_free(next);
    tide_free(items);
    tide_free(which);
    return rc;
}

/* ======================================================================== */
/* Setup                                                                    */
/* ======================================================================== */

static int setopt_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v);
}

/* Options common to both socket kinds. */
static int common_opts(tide__transport *t, void *s)
{
    int ipv6 = 0;
    for (uint32_t i = 0; i < t->n; i++) ipv6 |= t->cl.peers[i].ipv6;
    if (setopt_int(s, ZMQ_SNDHWM, 0) || setopt_int(s, ZMQ_RCVHWM, 0) ||
        setopt_int(s, ZMQ_LINGER, 0) || (ipv6 && setopt_int(s, ZMQ_IPV6, 1)))
        return -1;
    return 0;
}

static int bind_router(tide__transport *t, tide_error *e)
{
    char ep[TIDE__HOST_MAX + 32];
    if (tide__cluster_bind_endpoint(&t->cl, t->self, ep, sizeof ep) < 0)
        return tide_err_set(e, TIDE_ERANGE, "endpoint of process %u too long", t->self);
    t->router = zmq_socket(t->zctx, ZMQ_ROUTER);
    if (t->router == NULL || common_opts(t, t->router) ||
        setopt_int(t->router, ZMQ_ROUTER_MANDATORY, 1))
        return tide_err_set(e, TIDE_ENET, "creating the ROUTER socket: %s", zmq_strerror(errno));
    /* Our own previous run (or a test's) may release the port a moment late. */
    uint64_t deadline = now_ns() + ms_ns(t->timeout_ms);
    while (zmq_bind(t->router, ep) != 0) {
        int err = errno;
        if (err != EADDRINUSE || now_ns() >= deadline)
            return tide_err_set(e, TIDE_ENET, "process %u cannot listen on %s (%s): %s", t->self,
                                pname(t, t->self), ep, zmq_strerror(err));
        struct timespec ts = {0, BIND_RETRY_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return TIDE_OK;
}

static int open_dealer(tide__transport *t, conn *c, uint32_t nonce, tide_error *e)
{
    char ep[TIDE__HOST_MAX + 32], mon[64];
    /* Routing id: 't', process, worker, and a per-run nonce, so that a
     * previous run's connection is never mistaken for this one's. */
    uint8_t rid[9] = {'t'};
    uint16_t p16 = (uint16_t)t->self, w16 = (uint16_t)c->worker;
    memcpy(rid + 1, &p16, 2);
    memcpy(rid + 3, &w16, 2);
    memcpy(rid + 5, &nonce, 4);
    int ivl = (int)(t->timeout_ms / 4 ? t->timeout_ms / 4 : 1);
    int hb_timeout = (int)(t->timeout_ms / 2 ? t->timeout_ms / 2 : 1);
    c->dealer = zmq_socket(t->zctx, ZMQ_DEALER);
    if (c->dealer == NULL || common_opts(t, c->dealer) ||
        zmq_setsockopt(c->dealer, ZMQ_ROUTING_ID, rid, sizeof rid) ||
        setopt_int(c->dealer, ZMQ_HEARTBEAT_IVL, ivl) ||
        setopt_int(c->dealer, ZMQ_HEARTBEAT_TIMEOUT, hb_timeout) ||
        setopt_int(c->dealer, ZMQ_RECONNECT_IVL, 50) ||
        setopt_int(c->dealer, ZMQ_RECONNECT_IVL_MAX, 500))
        return tide_err_set(e, TIDE_ENET, "creating a DEALER socket: %s", zmq_strerror(errno));
    snprintf(mon, sizeof mon, "inproc://tide-mon-%u-%u", c->worker, c->peer);
    if (zmq_socket_monitor(c->dealer, mon, ZMQ_EVENT_DISCONNECTED) != 0 ||
        (c->mon = zmq_socket(t->zctx, ZMQ_PAIR)) == NULL || setopt_int(c->mon, ZMQ_LINGER, 0) ||
        zmq_connect(c->mon, mon) != 0)
        return tide_err_set(e, TIDE_ENET, "monitoring a DEALER socket: %s", zmq_strerror(errno));
    if (tide__cluster_connect_endpoint(&t->cl, c->peer, ep, sizeof ep) < 0)
        return tide_err_set(e, TIDE_ERANGE, "endpoint of process %u too long", c->peer);
    if (zmq_connect(c->dealer, ep) != 0)
        return tide_err_set(e, TIDE_ENET, "connecting to process %u at %s: %s", c->peer,
                            pname(t, c->peer), zmq_strerror(errno));
    return TIDE_OK;
}

tide__transport *tide__transport_new(const tide_config *cfg, const tide__transport_hooks *hooks,
                                     tide_error *e)
{
    tide__transport *t = tide_calloc(1, sizeof *t);
    if (t == NULL) {
        tide_err_set(e, TIDE_ENOMEM, "out of memory starting the transport");
        return NULL;
    }
    t->cfg = *cfg;
    t->hooks = *hooks;
    t->n = cfg->processes;
    t->w = cfg->workers;
    t->self = cfg->process;
    t->first = cfg->process * cfg->workers;
    t->timeout_ms = cfg->peer_timeout_ms ? cfg->peer_timeout_ms : 10000;
    t->grace_ms = t->timeout_ms / 8 < 500 ? t->timeout_ms / 8 : 500;
    if (t->grace_ms == 0) t->grace_ms = 1;
    t->wake_fd = -1;
    pthread_mutex_init(&t->lock, NULL);
    tide__wire_enc_init(&t->renc);
    if (tide__cluster_init(&t->cl, cfg, e) < 0) goto fail;
    t->nconns = t->w * (t->n - 1);
    t->in_cap = t->nconns;
    t->conns = tide_calloc(t->nconns ? t->nconns : 1, sizeof *t->conns);
    t->enc = tide_calloc(t->w, sizeof *t->enc);
    t->in = tide_calloc(t->in_cap ? t->in_cap : 1, sizeof *t->in);
    t->items = tide_calloc(2 + t->nconns, sizeof *t->items);
    if (t->conns == NULL || t->enc == NULL || t->in == NULL || t->items == NULL) {
        tide_err_set(e, TIDE_ENOMEM, "out of memory starting the transport");
        goto fail;
    }
    for (uint32_t i = 0; i < t->w; i++) tide__wire_enc_init(&t->enc[i]);
    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    t->zctx = zmq_ctx_new();
    if (t->wake_fd < 0 || t->zctx == NULL) {
        tide_err_set(e, TIDE_ENET, "starting ZeroMQ: %s", strerror(errno));
        goto fail;
    }
    if (bind_router(t, e) < 0) goto fail;
    uint32_t nonce = (uint32_t)(now_ns() ^ ((uint64_t)getpid() << 16) ^ (uintptr_t)t);
    for (uint32_t i = 0; i < t->w; i++)
        for (uint32_t q = 0; q < t->n; q++) {
            if (q == t->self) continue;
            conn *c = conn_of(t, i, q);
            c->worker = i;
            c->peer = q;
            if (open_dealer(t, c, nonce, e) < 0) goto fail;
        }
    if (pthread_create(&t->recv_thread, NULL, recv_main, t) != 0) {
        tide_err_set(e, TIDE_ENOMEM, "cannot start the receive thread");
        goto fail;
    }
    t->recv_started = 1;
    if (handshake(t, e) < 0) goto fail;
    pthread_mutex_lock(&t->lock);
    tide_error hs = t->hs_err;
    if (hs.code == TIDE_OK) __atomic_store_n(&t->running, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&t->lock);
    if (hs.code != TIDE_OK) {
        if (e) *e = hs;
        goto fail;
    }
    wake_recv(t); /* it takes over the monitors */
    return t;
fail:
    tide__transport_free(t);
    return NULL;
}

/* ======================================================================== */
/* Sending (worker threads)                                                 */
/* ======================================================================== */

int tide__transport_send(tide__transport *t, uint32_t src_local, uint32_t dst, tide__msg *m)
{
    uint32_t q = dst / t->w;
    if (m->kind != TIDE__MSG_DATA || src_local >= t->w || q >= t->n || q == t->self) {
        release_msg(m);
        return TIDE_EINVAL;
    }
    /* A dead peer: the failure is reported already and everything stops. */
    if (__atomic_load_n(&t->peers[q].dead, __ATOMIC_ACQUIRE)) {
        tide_batch_unref(m->batch);
        return TIDE_OK;
    }
    tide__wire_enc *enc = &t->enc[src_local];
    tide_error err;
    int rc = tide__wire_encode_data(enc, m, dst, &err);
    if (rc == TIDE_OK && send_frame(conn_of(t, src_local, q)->dealer, enc, m->batch) < 0)
        rc = tide_err_set(&err, TIDE_ENET, "sending to process %u at %s: %s", q, pname(t, q),
                          zmq_strerror(errno));
    tide_batch_unref(m->batch);
    if (rc < 0) report(t, rc == TIDE_ENET ? q : NO_PEER, rc, "%s", err.msg);
    return rc;
}

int tide__transport_broadcast(tide__transport *t, uint32_t src_local, tide__msg *m)
{
    if (m->kind != TIDE__MSG_PROGRESS || src_local >= t->w) {
        release_msg(m);
        return TIDE_EINVAL;
    }
    tide__wire_enc *enc = &t->enc[src_local];
    tide_error err;
    int rc = tide__wire_encode_progress(enc, m, &err);
    for (uint32_t q = 0; rc == TIDE_OK && q < t->n; q++) {
        if (q == t->self || __atomic_load_n(&t->peers[q].dead, __ATOMIC_ACQUIRE)) continue;
        if (send_frame(conn_of(t, src_local, q)->dealer, enc, NULL) < 0)
            rc = tide_err_set(&err, TIDE_ENET, "sending to process %u at %s: %s", q, pname(t, q),
                              zmq_strerror(errno));
    }
    tide__progress_unref(m->progress);
    if (rc < 0) report(t, NO_PEER, rc, "%s", err.msg);
    return rc;
}

/* Frames leave as they are sent (ZeroMQ's I/O thread writes them): nothing
 * is buffered here. */
int tide__transport_flush(tide__transport *t, uint32_t src_local)
{
    (void)t;
    (void)src_local;
    return TIDE_OK;
}

/* ======================================================================== */
/* Shutdown                                                                 */
/* ======================================================================== */

/* BYE on every connection to a live peer, then wait (bounded) for every
 * live peer's BYEs: each process then knows the others sent their last. */
static void say_goodbye(tide__transport *t)
{
    __atomic_store_n(&t->closing, 1, __ATOMIC_SEQ_CST);
    tide_error e;
    tide__wire_enc *enc = &t->enc[0];
    if (tide__wire_encode_bye(enc, &e) < 0) return;
    for (uint32_t i = 0; i < t->nconns; i++) {
        conn *c = &t->conns[i];
        if (!__atomic_load_n(&t->peers[c->peer].dead, __ATOMIC_ACQUIRE))
            send_frame(c->dealer, enc, NULL);
    }
    uint64_t deadline = now_ns() + ms_ns(t->timeout_ms);
    for (;;) {
        int waiting = 0;
        for (uint32_t q = 0; q < t->n; q++)
            if (q != t->self && !__atomic_load_n(&t->peers[q].dead, __ATOMIC_ACQUIRE) &&
                __atomic_load_n(&t->peers[q].byes, __ATOMIC_ACQUIRE) < t->w)
                waiting = 1;
        if (!waiting || now_ns() >= deadline) return;
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
}

void tide__transport_free(tide__transport *t)
{
    if (t == NULL) return;
    if (__atomic_load_n(&t->running, __ATOMIC_ACQUIRE)) say_goodbye(t);
    if (t->recv_started) {
        __atomic_store_n(&t->stop, 1, __ATOMIC_SEQ_CST);
        wake_recv(t);
        pthread_join(t->recv_thread, NULL);
    }
    for (uint32_t i = 0; t->conns && i < t->nconns; i++) {
        conn *c = &t->conns[i];
        if (c->mon) zmq_close(c->mon);
        if (c->dealer) {
            /* Linger so that our last frames and BYE reach a live peer; a
             * dead one gets nothing more. */
            int live = __atomic_load_n(&t->running, __ATOMIC_ACQUIRE) &&
                       !__atomic_load_n(&t->peers[c->peer].dead, __ATOMIC_ACQUIRE);
            setopt_int(c->dealer, ZMQ_LINGER, live ? (int)t->timeout_ms : 0);
            zmq_close(c->dealer);
        }
    }
    if (t->router) zmq_close(t->router);
    if (t->zctx)
        while (zmq_ctx_term(t->zctx) != 0 && errno == EINTR) {
        }
    if (t->wake_fd >= 0) close(t->wake_fd);
    for (uint32_t i = 0; t->enc && i < t->w; i++) tide__wire_enc_fini(&t->enc[i]);
    tide__wire_enc_fini(&t->renc);
    tide_free(t->enc);
    tide_free(t->conns);
    tide_free(t->in);
    tide_free(t->items);
    pthread_mutex_destroy(&t->lock);
    tide_free(t);
}

const char *tide__transport_peer_name(const tide__transport *t, uint32_t process)
{
    return process < t->n ? pname(t, process) : "?";
}
