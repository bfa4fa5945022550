/*
 * tide/config.h - how a tide program is laid out over threads and processes.
 *
 * A cluster is N processes x W worker threads; global worker index
 * p * W + i. Every tide program accepts timely's flags, parsed here:
 *   -w, --workers W      worker threads per process (default 1)
 *   -n, --processes N    processes (default 1)
 *   -p, --process I      this process's index, 0..N-1 (default 0)
 *   -h, --hostfile FILE  line i is "host:port" of process i; without it,
 *                        process i listens on 127.0.0.1:(base port + i)
 *       --port P         base port when there is no hosts file (default 2101)
 *       --no-pin         do not pin worker threads to cores
 *       --peer-timeout MS  give up on a silent peer after MS ms (default 10000)
 *       --stall-timeout MS tide_worker_step_until gives up after MS ms without
 *                        progress and reports what holds the dataflow back
 *                        (default 10000; 0 = off; tide/ops.h)
 *   -v, --verbose        print the topology and pinning to stderr
 */
#ifndef TIDE_CONFIG_H
#define TIDE_CONFIG_H

#include <stdint.h>

#include "tide/error.h"

#define TIDE_MAX_PROCESSES 64
#define TIDE_MAX_WORKERS   256 /* total over all processes */

typedef struct tide_config {
    uint32_t workers;          /* threads per process (-w) */
    uint32_t processes;        /* processes (-n) */
    uint32_t process;          /* this process (-p) */
    uint16_t base_port;        /* --port */
    int pin;                   /* pin threads to cores (default 1) */
    int verbose;               /* -v */
    uint32_t peer_timeout_ms;  /* --peer-timeout */
    char hostfile[256];        /* -h, empty for localhost ports */
    char job[64];              /* job identity checked at handshake; default: program name */
    uint32_t stall_timeout_ms; /* --stall-timeout: 0 = never give up (tide/ops.h) */
} tide_config;

/* tide_config_init - the defaults above (1 process, 1 worker). */
void tide_config_init(tide_config *c);

/*
 * tide_config_parse - parse the cluster flags out of @argv, leaving the other
 * arguments (in order, argv[0] first) and updating *@argc. Stops at "--".
 * @return TIDE_OK, or TIDE_EINVAL with a message naming the flag.
 */
int tide_config_parse(tide_config *c, int *argc, char **argv, tide_error *e);

/* tide_config_usage - the flags' help text (for a program's --help). */
const char *tide_config_usage(void);

#endif /* TIDE_CONFIG_H */
