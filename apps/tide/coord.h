/*
 * coord.h - the supervisor and coordinator of a running cluster.
 *
 * `tide cluster start` runs coord_run in its (daemonized) process: it binds
 * the control ROUTER, starts the worker processes (`tide cluster worker`,
 * one per process index) and supervises them, and routes jobs between
 * submitters and workers. docs/cluster.md describes the protocol and the
 * failure model.
 */
#ifndef TIDE_APP_COORD_H
#define TIDE_APP_COORD_H

#include "tide/config.h"

typedef struct coord_opts {
    tide_config cfg;      /* -n -w -h --port --no-pin --peer-timeout of the workers */
    int local_all;        /* 1: start every process here; 0: only cfg.process (-p) */
    int port_given;       /* --port was given (else the workers use the default) */
    char listen[256];     /* control address to bind, tcp://HOST:PORT (PORT may be *) */
    char keys[256];       /* cluster key file, "" for none (loopback only) */
    char state_path[600]; /* written with the bound address; removed at exit */
    char self_exe[4096];  /* the tide binary, for the workers */
    int ready_fd;         /* gets "ok ADDR\n" or "error MSG\n" once, then closed; -1 */
} coord_opts;

/* Run until `tide cluster stop` or SIGTERM/SIGINT. Returns the exit status. */
int coord_run(const coord_opts *o);

#endif /* TIDE_APP_COORD_H */
