/*
 * curve.h - the cluster's key and ZeroMQ CURVE security (internal).
 *
 * A cluster has one key: a CURVE key pair (RFC 26, CurveZMQ) kept in a key
 * file that `tide keygen` writes and every process of the cluster reads
 * (--keys FILE). Every socket of the cluster uses it:
 *   - a socket that binds (ROUTER, REP, ...) is a CURVE *server* with the
 *     cluster's secret key: a client must know the cluster's public key to
 *     finish the handshake, and it learns nothing before that;
 *   - a socket that connects (DEALER, REQ, ...) is a CURVE *client* that
 *     presents the cluster's key pair as its own and expects the server to
 *     hold the cluster's secret key;
 *   - a ZAP handler (RFC 27), one per ZeroMQ context, accepts only clients
 *     whose long-term public key is the cluster's, so only holders of the
 *     key file (CURVE proves the client holds the secret key) get in; every
 *     other client is refused, counted and logged, and ZeroMQ drops its
 *     connection before a single message of it reaches the application.
 * So holding the key file is membership; the job identity (name, N, W) is
 * still checked by the HELLO handshake on top (net/wire.h).
 *
 * Key file: text, mode 0600 (a file others can read is refused), lines
 * starting with '#' are comments (a '#' elsewhere may be part of a key), and
 * two lines "public-key = Z85" and "secret-key = Z85" (40
 * characters of Z85 each, ZeroMQ's printable form of 32 bytes).
 *
 * Typical use in one process:
 *
 *     tide__curve_keys k;
 *     TIDE_TRY(tide__curve_load(path, &k, e));
 *     tide__zap *z = tide__zap_start(zctx, &k, NULL, NULL, e);  // before any bind
 *     tide__curve_server(router, &k, e); zmq_bind(router, ...);
 *     tide__curve_client(dealer, &k, e); zmq_connect(dealer, ...);
 *     ...
 *     zmq_close(...); tide__zap_stop(z); zmq_ctx_term(zctx);
 *     tide__curve_wipe(&k);
 *
 * Thread-safety: the functions on sockets follow ZeroMQ's rule (one thread
 * at a time per socket); a tide__zap runs its own thread; everything else is
 * reentrant. Nothing here prints: refusals go to the log callback.
 */
#ifndef TIDE_CURVE_H
#define TIDE_CURVE_H

#include <stdint.h>

#include "tide/error.h"

#define TIDE__CURVE_Z85 40 /* characters of a key in Z85 */

/* A cluster key pair, Z85 text (NUL-terminated). Caller-owned; wipe after use. */
typedef struct tide__curve_keys {
    char public_key[TIDE__CURVE_Z85 + 1];
    char secret_key[TIDE__CURVE_Z85 + 1];
} tide__curve_keys;

/*
 * tide__curve_available - 1 if this libzmq supports CURVE (built with
 * libsodium or tweetnacl), else 0.
 */
int tide__curve_available(void);

/*
 * tide__curve_generate - a fresh random key pair into @k.
 * @return TIDE_OK, or TIDE_ESTATE when libzmq has no CURVE support.
 */
int tide__curve_generate(tide__curve_keys *k, tide_error *e);

/*
 * tide__curve_format - the key file text for @k into @buf (@size bytes; 256
 * is enough). @return the length written, or TIDE_ERANGE.
 */
int tide__curve_format(const tide__curve_keys *k, char *buf, unsigned size);

/*
 * tide__curve_write - create key file @path (mode 0600) holding @k. Never
 * overwrites: an existing file is TIDE_EIO ("exists"). @return TIDE_OK or
 * TIDE_EIO naming the file and the cause.
 */
int tide__curve_write(const char *path, const tide__curve_keys *k, tide_error *e);

/*
 * tide__curve_load - read key file @path into @k. Checks the file is not
 * readable or writable by group or others, both keys are present and valid
 * Z85, and the public key belongs to the secret one. @return TIDE_OK,
 * TIDE_EIO (unreadable, or open to others) or TIDE_EPARSE ("file:line: ...").
 */
int tide__curve_load(const char *path, tide__curve_keys *k, tide_error *e);

/*
 * tide__curve_parse - the same from text @text of @len bytes; @source names
 * it in messages (no permission check). For tests and for keys that come
 * from elsewhere than a file.
 */
int tide__curve_parse(const char *source, const char *text, unsigned long len, tide__curve_keys *k,
                      tide_error *e);

/* tide__curve_wipe - zero @k (the secret key should not linger in memory). */
void tide__curve_wipe(tide__curve_keys *k);

/*
 * tide__curve_server - make ZeroMQ socket @sock (before its bind) a CURVE
 * server with the cluster's secret key, in ZAP domain "tide". The context's
 * ZAP handler must run before the socket binds and until it is closed:
 * libzmq 4.3 lets every CURVE client in when no handler is bound
 * (ZMQ_ZAP_ENFORCE_DOMAIN, which would fail closed, is a draft option).
 * @return TIDE_OK or TIDE_ENET.
 */
int tide__curve_server(void *sock, const tide__curve_keys *k, tide_error *e);

/*
 * tide__curve_client - make ZeroMQ socket @sock (before its connect) a CURVE
 * client presenting the cluster's key pair and expecting a server that holds
 * the cluster's secret key. @return TIDE_OK or TIDE_ENET.
 */
int tide__curve_client(void *sock, const tide__curve_keys *k, tide_error *e);

/* ---- the ZAP handler ---------------------------------------------------- */

/* A refusal to log: @msg says who (peer address) and why. Called from the
 * handler's thread. */
typedef void (*tide__curve_log_fn)(void *ctx, const char *msg);

typedef struct tide__zap tide__zap;

/*
 * tide__zap_start - run the ZAP handler of ZeroMQ context @zctx (binds
 * "inproc://zeromq.zap.01" in it; one handler per context) in a new thread.
 * Start it before any CURVE server socket of @zctx accepts connections. It
 * accepts CURVE clients presenting the public key of @k (copied) and refuses
 * every other request (other mechanism, other key, other domain), calling
 * @log (NULL: one line on stderr, "tide: ...") for the first 20 refusals and
 * then every 1000th. @return the handler, or NULL with TIDE_ENET/TIDE_ENOMEM
 * in @e.
 */
tide__zap *tide__zap_start(void *zctx, const tide__curve_keys *k, tide__curve_log_fn log,
                           void *log_ctx, tide_error *e);

/* tide__zap_refused - requests refused so far (any thread). */
uint64_t tide__zap_refused(const tide__zap *z);

/* tide__zap_accepted - requests accepted so far (any thread). */
uint64_t tide__zap_accepted(const tide__zap *z);

/*
 * tide__zap_stop - stop the thread and close its socket; the context's CURVE
 * servers then refuse every new connection. Call it before zmq_ctx_term
 * (which waits for the handler's socket to close). NULL is fine.
 */
void tide__zap_stop(tide__zap *z);

/* ---- policy --------------------------------------------------------------- */

/*
 * tide__curve_host_is_loopback - 1 if @host (an address literal without
 * brackets, or a name) is a loopback address: 127.0.0.0/8, ::1, or the name
 * "localhost". Keys are required for a cluster with any other address.
 */
int tide__curve_host_is_loopback(const char *host);

#endif /* TIDE_CURVE_H */
