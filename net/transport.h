/*
 * transport.h - how a worker's messages reach workers of other processes.
 *
 * The runtime moves messages between threads of one process through its own
 * in-process queues; every message for a worker of another process goes
 * through this interface instead, and operators never know which. The ZeroMQ
 * implementation (net/zmq.c) is bound at startup when N > 1.
 *
 * Threads: tide__transport_send / _broadcast / _flush for source worker i
 * are only ever called from worker thread i; delivery and failure callbacks
 * come from the transport's own threads.
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
    /* The cluster is broken (peer lost, protocol error): @e names the peer. */
    void (*fail)(void *ctx, const tide_error *e);
} tide__transport_hooks;

typedef struct tide__transport tide__transport;

/*
 * tide__transport_new - connect to every other process of @cfg and check the
 * handshake (protocol version, N, W, job); blocks up to cfg->peer_timeout_ms.
 * @return a transport, or NULL with @e naming the peer and the cause.
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

/* Orderly shutdown: say goodbye to every peer, wait for theirs (bounded),
 * join threads, free. NULL is fine. */
void tide__transport_free(tide__transport *t);

/* "host:port" of process @process (borrowed, lives with @t): for messages
 * that name a peer, e.g. stall reports (runtime/stall.c). */
const char *tide__transport_peer_name(const tide__transport *t, uint32_t process);

#endif /* TIDE_TRANSPORT_H */
