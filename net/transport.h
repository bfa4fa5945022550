/*
 * transport.h - how a worker's messages reach workers of other processes.
 *
 * The runtime moves messages between threads of one process through its own
 * in-process queues; every message for a worker of another process goes
 * through this interface instead, and operators never know which. The ZeroMQ
 * implementation (net/zmq.c) is bound at startup when N > 1.
 *
 * Threads: tide__transport_send / _broadcast / _flush for source worker i
 * are only ever called from worker thread i; delivery, failure and log
 * callbacks come from the transport's own threads.
 *
 * Failure: when this process fails for any reason, every peer must learn it
 * (else it waits for our progress for ever): the runtime calls
 * tide__transport_fail before tide__transport_free, which then sends each
 * peer a FAIL frame (who failed first, and why) instead of BYE; a peer that
 * gets one fails with "process P failed: <cause>" (docs/wire.md).
 */
#ifndef TIDE_TRANSPORT_H
#define TIDE_TRANSPORT_H

#include <stdint.h>

#include "message.h"
#include "tide/config.h"
#include "tide/error.h"

typedef struct tide__transport_hooks {
    void *ctx;
    /* A message arrived for local worker @dst_local; takes @m's references. */
    void (*deliver)(void *ctx, uint32_t dst_local, tide__msg *m);
    /* The cluster is broken (peer lost, protocol error, a peer failed): @e
     * names the peer. */
    void (*fail)(void *ctx, const tide_error *e);
    /* Optional: a line for the operator (a refused connection, a stranger's
     * frame dropped), every one. NULL: "tide: process P: ..." on stderr,
     * the first 20 and then one in 1000 (a flood cannot fill the disk). */
    void (*log)(void *ctx, const char *msg);
} tide__transport_hooks;

typedef struct tide__transport tide__transport;

/*
 * tide__transport_new - connect to every other process of @cfg and check the
 * handshake (protocol version, N, W, job) until every peer's every worker
 * has said HELLO; blocks up to cfg->peer_timeout_ms (plus up to as long to
 * bind a port our previous run still holds). With cfg->keys, every socket
 * uses CURVE with that key file (net/curve.h); without, every address must
 * be loopback. @return a transport, or NULL with @e naming the peer and the
 * cause (TIDE_ETIMEDOUT, TIDE_EPROTO, TIDE_EPEER: a peer failed, TIDE_EINVAL:
 * keys missing, TIDE_EIO/EPARSE: key file, TIDE_ENET); the peers it reached
 * are sent FAIL.
 */
tide__transport *tide__transport_new(const tide_config *cfg, const tide__transport_hooks *hooks,
                                     tide_error *e);

/* Send @m from local worker @src_local to global worker @dst (of another
 * process). Takes @m's payload reference. */
int tide__transport_send(tide__transport *t, uint32_t src_local, uint32_t dst, tide__msg *m);

/* Send a PROGRESS message from @src_local to every worker of every other
 * process (once per process on the wire). Takes @m's reference. */
int tide__transport_broadcast(tide__transport *t, uint32_t src_local, tide__msg *m);

/* Push out what @src_local has buffered (called at the end of its step). */
int tide__transport_flush(tide__transport *t, uint32_t src_local);

/* tide__transport_fail - this process has failed with @e (first call wins;
 * any thread; NULL @t is fine): tide__transport_free will send FAIL. */
void tide__transport_fail(tide__transport *t, const tide_error *e);

/* Shutdown: when this process failed (tide__transport_fail, or a failure
 * the transport reported), FAIL to every peer that can still hear it, not
 * waiting; else say goodbye to every peer and wait for theirs (bounded).
 * Then join threads, free. A peer's FAIL that arrives meanwhile still goes
 * to hooks->fail. NULL is fine. */
void tide__transport_free(tide__transport *t);

#endif /* TIDE_TRANSPORT_H */
