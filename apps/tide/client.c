/*
 * client.c - finding and talking to a running cluster (see client.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "curve.h"
#include "tide/tide.h"

int cli_state_dir(char *out, size_t cap, int create)
{
    const char *x = getenv("XDG_RUNTIME_DIR"), *h = getenv("HOME");
    if (x && x[0])
        snprintf(out, cap, "%s/tide", x);
    else if (h && h[0])
        snprintf(out, cap, "%s/.tide", h);
    else
        snprintf(out, cap, "/tmp/tide-%u", (unsigned)getuid());
    if (create && mkdir(out, 0700) < 0 && errno != EEXIST) return -1;
    return 0;
}

void cli_norm_addr(const char *in, char *out, size_t cap)
{
    if (strstr(in, "://"))
        snprintf(out, cap, "%s", in);
    else
        snprintf(out, cap, "tcp://%s", in);
}

int cli_is_loopback(const char *addr)
{
    const char *h = strstr(addr, "://");
    h = h ? h + 3 : addr;
    if (strncmp(addr, "ipc://", 6) == 0 || strncmp(addr, "inproc://", 9) == 0) return 1;
    char host[128];
    size_t n;
    if (h[0] == '[') { /* [v6]:port */
        const char *e = strchr(h, ']');
        if (e == NULL) return 0;
        n = (size_t)(e - h - 1);
        h++;
    } else {
        const char *e = strrchr(h, ':');
        n = e ? (size_t)(e - h) : strlen(h);
    }
    if (n == 0 || n >= sizeof host) return 0;
    memcpy(host, h, n);
    host[n] = 0;
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0) return 1;
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
    return 0;
}

/* The state file's lines: address, supervisor pid, key file ("" for none).
 * 0, or -1 when there is no readable address. */
static int read_state(const char *path, char *addr, size_t cap, char *keys, size_t kcap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    char pid[32];
    addr[0] = keys[0] = 0;
    int ok = fgets(addr, (int)cap, f) != NULL;
    if (ok && fgets(pid, sizeof pid, f) != NULL && fgets(keys, (int)kcap, f) == NULL) keys[0] = 0;
    fclose(f);
    addr[strcspn(addr, "\n")] = 0;
    keys[strcspn(keys, "\n")] = 0;
    return ok && addr[0] ? 0 : -1;
}

/* Without --keys or $TIDE_KEYS, the cluster at @addr uses the key file that
 * 'tide cluster start --keys' recorded in the state file, if it is that one. */
static void use_recorded_keys(const char *addr)
{
    const char *k = getenv("TIDE_KEYS");
    if (k && k[0]) return;
    char dir[512], path[600], rec[CLI_ADDR_MAX], keys[PATH_MAX];
    cli_state_dir(dir, sizeof dir, 0);
    snprintf(path, sizeof path, "%s/cluster", dir);
    if (read_state(path, rec, sizeof rec, keys, sizeof keys) == 0 && strcmp(rec, addr) == 0 &&
        keys[0])
        setenv("TIDE_KEYS", keys, 1);
}

int cli_find_cluster(const char *prog, const char *given, char *addr, size_t cap)
{
    const char *env = getenv("TIDE_CLUSTER");
    if ((given && given[0]) || (env && env[0])) {
        cli_norm_addr(given && given[0] ? given : env, addr, cap);
        use_recorded_keys(addr);
        return 0;
    }
    char dir[512], path[600];
    cli_state_dir(dir, sizeof dir, 0);
    snprintf(path, sizeof path, "%s/cluster", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr,
                "%s: no cluster running (no %s; start one with 'tide cluster start' or name it "
                "with --cluster ADDR)\n",
                prog, path);
        return 1;
    }
    char line[CLI_ADDR_MAX];
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!ok || line[0] == 0 || line[0] == '\n') {
        fprintf(stderr, "%s: %s is empty; name the cluster with --cluster ADDR\n", prog, path);
        return 1;
    }
    line[strcspn(line, "\n")] = 0;
    snprintf(addr, cap, "%s", line);
    use_recorded_keys(addr);
    return 0;
}

int cli_open(cli_conn *c, const char *prog, const char *addr)
{
    memset(c, 0, sizeof *c);
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    c->ctx = zmq_ctx_new();
    c->sock = c->ctx ? zmq_socket(c->ctx, ZMQ_DEALER) : NULL;
    if (c->sock == NULL) {
        fprintf(stderr, "%s: zmq: %s\n", prog, zmq_strerror(errno));
        cli_close(c);
        return 1;
    }
    int zero = 0;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c->sock, ZMQ_RCVHWM, &zero, sizeof zero);
    const char *keys = getenv("TIDE_KEYS");
    if (keys && keys[0]) {
        tide__curve_keys k;
        tide_error e = {0};
        int rc = tide__curve_load(keys, &k, &e);
        if (rc == TIDE_OK) rc = tide__curve_client(c->sock, &k, &e);
        tide__curve_wipe(&k);
        if (rc < 0) {
            fprintf(stderr, "%s: %s\n", prog, e.msg);
            cli_close(c);
            return 1;
        }
    }
    /* A refused handshake (no or wrong key) shows only as a monitor event. */
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://tide-cli-monitor");
    if (zmq_socket_monitor(c->sock, mon,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0 &&
        (c->mon = zmq_socket(c->ctx, ZMQ_PAIR)) != NULL) {
        zmq_setsockopt(c->mon, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(c->mon, mon) < 0) {
            zmq_close(c->mon);
            c->mon = NULL;
        }
    }
    if (zmq_connect(c->sock, addr) < 0) {
        fprintf(stderr, "%s: cannot connect to '%s': %s\n", prog, addr, zmq_strerror(errno));
        cli_close(c);
        return 1;
    }
    return 0;
}

void cli_close(cli_conn *c)
{
    if (c->mon) zmq_close(c->mon);
    if (c->sock) zmq_close(c->sock);
    if (c->ctx) zmq_ctx_term(c->ctx);
    c->sock = c->ctx = c->mon = NULL;
}

int cli_send_raw(void *sock, ctl_w *w)
{
    int rc = zmq_send(sock, w->sb.data, w->sb.size, 0) < 0 ? -1 : 0;
    ctl_w_fini(w);
    return rc;
}

int cli_send(cli_conn *c, ctl_w *w)
{
    return cli_send_raw(c->sock, w);
}

int cli_recv(cli_conn *c, const char *prog, zmq_msg_t *m, ctl_doc *d, int timeout_ms)
{
    zmq_msg_init(m);
    memset(d, 0, sizeof *d);
    zmq_pollitem_t it[2] = {{.socket = c->sock, .events = ZMQ_POLLIN},
                            {.socket = c->mon, .events = ZMQ_POLLIN}};
    for (;;) {
        int r = zmq_poll(it, c->mon ? 2 : 1, timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            fprintf(stderr, "%s: no answer from the cluster at %s (is it running?)\n", prog,
                    c->addr);
            return 1;
        }
        if (it[0].revents & ZMQ_POLLIN) break;
        fprintf(stderr,
                "%s: the cluster at %s refused this connection (it needs the cluster's keys: "
                "--keys FILE or $TIDE_KEYS)\n",
                prog, c->addr);
        return 1;
    }
    if (zmq_msg_recv(m, c->sock, 0) < 0 || ctl_parse(d, zmq_msg_data(m), zmq_msg_size(m)) < 0) {
        fprintf(stderr, "%s: malformed answer from the cluster at %s\n", prog, c->addr);
        return 1;
    }
    return 0;
}

int cli_request(cli_conn *c, const char *prog, ctl_w *w, zmq_msg_t *m, ctl_doc *d, int timeout_ms)
{
    if (cli_send(c, w) < 0) {
        zmq_msg_init(m);
        memset(d, 0, sizeof *d);
        fprintf(stderr, "%s: send to %s: %s\n", prog, c->addr, zmq_strerror(errno));
        return 1;
    }
    if (cli_recv(c, prog, m, d, timeout_ms)) return 1;
    if (ctl_is(d, "error")) {
        char msg[1024];
        fprintf(stderr, "%s: %s\n", prog, ctl_str(d, 0, "msg", msg, sizeof msg));
        return 1;
    }
    return 0;
}

int cli_ask(const char *prog, const char *given, ctl_w *w, int timeout_ms, cli_reply *r)
{
    r->held = 0;
    char addr[CLI_ADDR_MAX];
    if (cli_find_cluster(prog, given, addr, sizeof addr) || cli_open(&r->c, prog, addr)) {
        ctl_w_fini(w); /* consumed whatever happens, as cli_send does */
        return 1;
    }
    r->held = 1; /* cli_request sets m and d up whatever it returns */
    return cli_request(&r->c, prog, w, &r->m, &r->d, timeout_ms);
}

void cli_reply_fini(cli_reply *r)
{
    if (!r->held) return;
    ctl_doc_fini(&r->d);
    zmq_msg_close(&r->m);
    cli_close(&r->c);
    r->held = 0;
}

int cli_version(const char *sub)
{
    printf("tide %s (tide) %s\n", sub, TIDE_VERSION);
    return 0;
}

int cli_common_opts(int argc, char **argv, const char *prog, const char *sub, const char *usage,
                    const char **given)
{
    static const struct option longs[] = {{"cluster", required_argument, NULL, 'C'},
                                          {"keys", required_argument, NULL, 'K'},
                                          {"help", no_argument, NULL, 'H'},
                                          {"version", no_argument, NULL, 'V'},
                                          {NULL, 0, NULL, 0}};
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+", longs, NULL)) != -1) {
        switch (ch) {
        case 'C':
            *given = optarg;
            break;
        case 'K':
            setenv("TIDE_KEYS", optarg, 1);
            break;
        case 'H':
            fputs(usage, stdout);
            return 0;
        case 'V':
            return cli_version(sub);
        default:
            return cli_usage_error(prog, "unrecognized option '%s'", argv[optind - 1]);
        }
    }
    return -1;
}

int cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
    return 2;
}
