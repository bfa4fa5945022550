/*
 * client.h - what every `tide` subcommand that talks to a cluster shares:
 * finding the control address (--cluster, $TIDE_CLUSTER, the state file
 * written by `tide cluster start`), connecting a DEALER to it, and one
 * request / reply exchange with a timeout.
 */
#ifndef TIDE_APP_CLIENT_H
#define TIDE_APP_CLIENT_H

#include <stddef.h>
#include <zmq.h>

#include "ctl.h"

#define CLI_ADDR_MAX 256

/* The directory of the cluster's state file and log: $XDG_RUNTIME_DIR/tide,
 * else $HOME/.tide, else /tmp/tide-UID. Created (0700) when @create. */
int cli_state_dir(char *out, size_t cap, int create);

/* "HOST:PORT" or "tcp://HOST:PORT" -> "tcp://HOST:PORT" in @out. */
void cli_norm_addr(const char *in, char *out, size_t cap);

/* Is the host of tcp address @addr a loopback one (127/8, ::1, localhost)? */
int cli_is_loopback(const char *addr);

/* Resolve the control address: @given (may be NULL), $TIDE_CLUSTER, the state
 * file. Returns 0, or 1 after printing "PROG: no cluster ..." on stderr.
 * When $TIDE_KEYS is unset and the address is the one in the state file, sets
 * $TIDE_KEYS to the key file recorded there by 'tide cluster start --keys'. */
int cli_find_cluster(const char *prog, const char *given, char *addr, size_t cap);

typedef struct cli_conn {
    void *ctx;
    void *sock; /* DEALER connected to the coordinator */
    void *mon;  /* PAIR on its monitor: handshake refusals */
    char addr[CLI_ADDR_MAX];
} cli_conn;

/* Connect to the cluster at @addr (a CURVE client with the cluster's keys when
 * $TIDE_KEYS names a key file; every command's --keys FILE sets it). */
int cli_open(cli_conn *c, const char *prog, const char *addr);
void cli_close(cli_conn *c);

/* Send the message built in @w (and finish @w). 0 or -1. */
int cli_send(cli_conn *c, ctl_w *w);
/* The same on any socket. */
int cli_send_raw(void *sock, ctl_w *w);

/* Wait up to @timeout_ms (-1: forever) for one message into @m (initialised
 * here; the caller closes it) and parse it into @d. 0, or 1 after printing
 * why on stderr (timeout: "no answer from the cluster at ADDR"). */
int cli_recv(cli_conn *c, const char *prog, zmq_msg_t *m, ctl_doc *d, int timeout_ms);

/* One request and its reply: for `jobs`, `status`, `cancel`, `cluster stop`.
 * A reply of type "error" is printed as "PROG: MSG" and returns 1. */
int cli_request(cli_conn *c, const char *prog, ctl_w *w, zmq_msg_t *m, ctl_doc *d, int timeout_ms);

/* A request's reply and the connection it came on (cli_ask). */
typedef struct cli_reply {
    cli_conn c;
    zmq_msg_t m; /* the reply frame, which d points into */
    ctl_doc d;   /* the decoded reply: read it while the reply is held */
    int held;    /* 1 when c, m and d are to be released by cli_reply_fini */
} cli_reply;

/* The whole of a one-request command: find the cluster (--cluster @given,
 * else as cli_find_cluster), connect, send @w and wait for the reply.
 * @return 0 with the reply in r->d; 1 after printing why not (no cluster,
 * no connection, an "error" reply, a timeout). @w is consumed (freed) in
 * every case. Call cli_reply_fini after either. */
int cli_ask(const char *prog, const char *given, ctl_w *w, int timeout_ms, cli_reply *r);
void cli_reply_fini(cli_reply *r);

/* Print "tide SUB (tide) VERSION" for --version. Returns 0. */
int cli_version(const char *sub);

/*
 * cli_common_opts - parse the options that the client commands without
 * options of their own share: --cluster ADDR (into *@given), --keys FILE
 * (sets TIDE_KEYS for cli_open), --help (prints @usage on stdout) and
 * --version (as `tide SUB`). Parsing stops at the first operand, left at
 * argv[optind].
 * @return -1 to go on, or the exit status to return at once: 0 after
 * --help or --version, 2 after an unknown option.
 */
int cli_common_opts(int argc, char **argv, const char *prog, const char *sub, const char *usage,
                    const char **given);

/* "PROG: MSG\nTry 'PROG --help' for more information." on stderr; returns 2. */
int cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* TIDE_APP_CLIENT_H */
