/*
 * cluster.h - the process table of a cluster (internal).
 *
 * From a tide_config, the address of every process: line i of the hosts
 * file (-h), or 127.0.0.1:(base port + i) without one, and the ZeroMQ
 * endpoints a process binds (its own entry) and connects to (the others).
 * Caller-owned storage (_init); nothing is allocated, so there is no _fini.
 *
 * Hosts file: one "host:port" per line, IPv6 literals as "[::1]:port";
 * blank lines and '#' comments (to the end of the line) are ignored; exactly
 * N entries, each distinct. Errors name the file and line.
 */
#ifndef TIDE_CLUSTER_H
#define TIDE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "tide/config.h"
#include "tide/error.h"

#define TIDE__HOST_MAX 255 /* longest host name (DNS limit) */

typedef struct tide__peer {
    char host[TIDE__HOST_MAX + 1]; /* name or address literal, without brackets */
    uint16_t port;
    uint8_t ipv6;                   /* host is an IPv6 literal ("[...]" in the file) */
    uint8_t numeric;                /* host is an address literal, not a name */
    uint32_t line;                  /* line of the hosts file, 0 without one */
    char name[TIDE__HOST_MAX + 10]; /* "host:port" / "[v6]:port", for messages */
} tide__peer;

typedef struct tide__cluster {
    uint32_t processes;                   /* N */
    uint32_t self;                        /* this process's index */
    char source[256];                     /* hosts file, or "" */
    tide__peer peers[TIDE_MAX_PROCESSES]; /* peers[0..processes) */
} tide__cluster;

/*
 * tide__cluster_init - the process table for @cfg (reads cfg->hostfile if
 * set). @return TIDE_OK, TIDE_EIO (file unreadable) or TIDE_EPARSE with
 * "file:line: ..." in @e.
 */
int tide__cluster_init(tide__cluster *cl, const tide_config *cfg, tide_error *e);

/*
 * tide__cluster_parse - the same from hosts file text @text (@len bytes);
 * @source names it in messages. Used by _init and by tests.
 */
int tide__cluster_parse(tide__cluster *cl, const char *source, const char *text, size_t len,
                        uint32_t processes, uint32_t self, tide_error *e);

/*
 * tide__cluster_bind_endpoint - the endpoint process @i binds, into @buf:
 * "tcp://ADDR:port" for an address literal, the wildcard address "*" for a host name
 * (ZeroMQ cannot bind a DNS name). @return TIDE_OK or TIDE_ERANGE (@size).
 * The transport uses it for literals only: a host name it resolves and binds
 * that host's own addresses, never a wildcard (net/zmq.c, bind_endpoints).
 */
int tide__cluster_bind_endpoint(const tide__cluster *cl, uint32_t i, char *buf, size_t size);

/* tide__cluster_connect_endpoint - "tcp://host:port" to reach process @i. */
int tide__cluster_connect_endpoint(const tide__cluster *cl, uint32_t i, char *buf, size_t size);

/* tide__cluster_peer_name - "host:port" of process @i (borrowed). */
static inline const char *tide__cluster_peer_name(const tide__cluster *cl, uint32_t i)
{
    return cl->peers[i].name;
}

#endif /* TIDE_CLUSTER_H */
