/*
 * cluster.c - the process table: hosts file parsing and ZeroMQ endpoints.
 *
 * Lines are parsed one at a time from a fixed buffer, so a hostile or huge
 * hosts file costs no memory; an over-long line or a NUL byte is an error,
 * not a truncation. Invariant after a successful init: exactly cl->processes
 * entries, pairwise distinct host:port, every port in 1..65535.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "tide/alloc.h"

#define LINE_MAX_BYTES 1024

typedef struct loader {
    tide__cluster *cl;
    uint32_t count; /* entries seen so far */
} loader;

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* One line (without its newline, NUL-terminated, may be modified). */
static int parse_line(loader *ld, const char *src, uint32_t lineno, char *s, tide_error *e)
{
    tide__cluster *cl = ld->cl;
    char *hash = strchr(s, '#');
    if (hash) *hash = '\0';
    while (is_space(*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1])) s[--n] = '\0';
    if (n == 0) return TIDE_OK;

    if (ld->count >= cl->processes)
        return tide_err_set(e, TIDE_EPARSE,
                            "%s:%u: entry '%s' is one too many: -n %u needs exactly %u entries",
                            src, lineno, s, cl->processes, cl->processes);

    tide__peer p;
    memset(&p, 0, sizeof p);
    p.line = lineno;
    const char *host, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return tide_err_set(e, TIDE_EPARSE, "%s:%u: '%s' is not \"[ipv6]:port\"", src, lineno,
                                s);
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
        p.ipv6 = 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return tide_err_set(e, TIDE_EPARSE, "%s:%u: '%s' is not \"host:port\" (no port)", src,
                                lineno, s);
        host = s;
        hlen = (size_t)(colon - s);
        for (size_t i = 0; i < hlen; i++)
            if (!host_char_ok(host[i]))
                return tide_err_set(e, TIDE_EPARSE,
                                    "%s:%u: host '%.*s' has a bad character '%c' (IPv6 needs "
                                    "\"[addr]:port\")",
                                    src, lineno, (int)hlen, host, host[i]);
    }
    if (hlen == 0)
        return tide_err_set(e, TIDE_EPARSE, "%s:%u: '%s' has an empty host", src, lineno, s);
    if (hlen > TIDE__HOST_MAX)
        return tide_err_set(e, TIDE_EPARSE, "%s:%u: host of %zu bytes is longer than %d", src,
                            lineno, hlen, TIDE__HOST_MAX);
    memcpy(p.host, host, hlen);
    p.host[hlen] = '\0';

    const char *ps = colon + 1;
    uint32_t port = 0;
    if (*ps == '\0')
        return tide_err_set(e, TIDE_EPARSE, "%s:%u: '%s' has an empty port", src, lineno, s);
    for (const char *q = ps; *q; q++) {
        if (*q < '0' || *q > '9' || port > 65535) {
            port = 70000;
            break;
        }
        port = port * 10 + (uint32_t)(*q - '0');
    }
    if (port == 0 || port > 65535)
        return tide_err_set(e, TIDE_EPARSE, "%s:%u: port '%s' is not a number in 1..65535", src,
                            lineno, ps);
    p.port = (uint16_t)port;

    unsigned char addr[16];
    if (p.ipv6) {
        if (inet_pton(AF_INET6, p.host, addr) != 1)
            return tide_err_set(e, TIDE_EPARSE, "%s:%u: '%s' is not an IPv6 address", src, lineno,
                                p.host);
        p.numeric = 1;
        snprintf(p.name, sizeof p.name, "[%s]:%u", p.host, port);
    } else {
        p.numeric = inet_pton(AF_INET, p.host, addr) == 1;
        snprintf(p.name, sizeof p.name, "%s:%u", p.host, port);
    }
    for (uint32_t i = 0; i < ld->count; i++)
        if (strcmp(cl->peers[i].name, p.name) == 0)
            return tide_err_set(e, TIDE_EPARSE,
                                "%s:%u: '%s' is already process %u's address (line %u)", src,
                                lineno, p.name, i, cl->peers[i].line);
    cl->peers[ld->count++] = p;
    return TIDE_OK;
}

static int finish(loader *ld, const char *src, tide_error *e)
{
    if (ld->count != ld->cl->processes)
        return tide_err_set(e, TIDE_EPARSE,
                            "%s: %u entr%s, but -n %u needs exactly %u (one \"host:port\" per "
                            "process)",
                            src, ld->count, ld->count == 1 ? "y" : "ies", ld->cl->processes,
                            ld->cl->processes);
    return TIDE_OK;
}

static int start(loader *ld, tide__cluster *cl, const char *source, uint32_t processes,
                 uint32_t self, tide_error *e)
{
    memset(cl, 0, sizeof *cl);
    ld->cl = cl;
    ld->count = 0;
    if (processes < 1 || processes > TIDE_MAX_PROCESSES || self >= processes)
        return tide_err_set(e, TIDE_EINVAL, "cluster of %u processes (self %u) is out of range",
                            processes, self);
    cl->processes = processes;
    cl->self = self;
    snprintf(cl->source, sizeof cl->source, "%s", source);
    return TIDE_OK;
}

/*
 * Lines are cut from a byte stream fed in pieces of any size (the whole
 * text, or a file read a block at a time), so that a hosts file and a text
 * go through the very same code (the one tests/fuzz/fuzz_hosts.c fuzzes).
 */
typedef struct liner {
    loader ld;
    const char *src;
    uint32_t lineno;
    size_t n;                  /* bytes of the current line so far */
    char line[LINE_MAX_BYTES]; /* the current line, NUL-terminated when complete */
} liner;

/* The current line is complete (@n bytes in line): parse it. */
static int end_line(liner *l, tide_error *e)
{
    l->lineno++;
    if (memchr(l->line, '\0', l->n))
        return tide_err_set(e, TIDE_EPARSE, "%s:%u: NUL byte in line", l->src, l->lineno);
    l->line[l->n] = '\0';
    l->n = 0;
    return parse_line(&l->ld, l->src, l->lineno, l->line, e);
}

static int feed(liner *l, const char *p, size_t len, tide_error *e)
{
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t k = nl ? (size_t)(nl - p) : len;
        if (k >= sizeof l->line - l->n) /* no room for the bytes and the NUL */
            return tide_err_set(e, TIDE_EPARSE, "%s:%u: line longer than %d bytes", l->src,
                                l->lineno + 1, LINE_MAX_BYTES - 1);
        memcpy(l->line + l->n, p, k);
        l->n += k;
        if (nl == NULL) return TIDE_OK;
        TIDE_TRY(end_line(l, e));
        p += k + 1;
        len -= k + 1;
    }
    return TIDE_OK;
}

/* End of input: a last line without a newline counts. */
static int feed_end(liner *l, tide_error *e)
{
    if (l->n > 0) TIDE_TRY(end_line(l, e));
    return finish(&l->ld, l->src, e);
}

static int liner_start(liner *l, tide__cluster *cl, const char *src, uint32_t processes,
                       uint32_t self, tide_error *e)
{
    l->src = src;
    l->lineno = 0;
    l->n = 0;
    return start(&l->ld, cl, src, processes, self, e);
}

int tide__cluster_parse(tide__cluster *cl, const char *source, const char *text, size_t len,
                        uint32_t processes, uint32_t self, tide_error *e)
{
    liner l;
    TIDE_TRY(liner_start(&l, cl, source, processes, self, e));
    TIDE_TRY(feed(&l, text, len, e));
    return feed_end(&l, e);
}

static int load_file(tide__cluster *cl, const tide_config *cfg, tide_error *e)
{
    liner l;
    char buf[4096];
    const char *src = cfg->hostfile;
    TIDE_TRY(liner_start(&l, cl, src, cfg->processes, cfg->process, e));
    FILE *f = fopen(src, "r");
    if (f == NULL) return tide_err_set(e, TIDE_EIO, "hosts file '%s': %s", src, strerror(errno));
    int rc = TIDE_OK;
    size_t n;
    while (rc == TIDE_OK && (n = fread(buf, 1, sizeof buf, f)) > 0) rc = feed(&l, buf, n, e);
    if (rc == TIDE_OK && ferror(f))
        rc = tide_err_set(e, TIDE_EIO, "hosts file '%s': read error after line %u", src, l.lineno);
    fclose(f);
    if (rc < 0) return rc;
    return feed_end(&l, e);
}

int tide__cluster_init(tide__cluster *cl, const tide_config *cfg, tide_error *e)
{
    if (cfg->hostfile[0] != '\0') return load_file(cl, cfg, e);
    loader ld;
    TIDE_TRY(start(&ld, cl, "", cfg->processes, cfg->process, e));
    if ((uint32_t)cfg->base_port + cfg->processes - 1 > 65535 || cfg->base_port == 0)
        return tide_err_set(e, TIDE_EINVAL, "--port %u: ports for %u processes exceed 65535",
                            cfg->base_port, cfg->processes);
    for (uint32_t i = 0; i < cfg->processes; i++) {
        tide__peer *p = &cl->peers[i];
        strcpy(p->host, "127.0.0.1");
        p->port = (uint16_t)(cfg->base_port + i);
        p->numeric = 1;
        snprintf(p->name, sizeof p->name, "127.0.0.1:%u", p->port);
    }
    return TIDE_OK;
}

static int endpoint(char *buf, size_t size, const char *host, int brackets, uint16_t port)
{
    int n = snprintf(buf, size, brackets ? "tcp://[%s]:%u" : "tcp://%s:%u", host, port);
    if (n < 0 || (size_t)n >= size) return TIDE_ERANGE;
    return TIDE_OK;
}

int tide__cluster_bind_endpoint(const tide__cluster *cl, uint32_t i, char *buf, size_t size)
{
    const tide__peer *p = &cl->peers[i];
    if (!p->numeric) return endpoint(buf, size, "*", 0, p->port);
    return endpoint(buf, size, p->host, p->ipv6, p->port);
}

int tide__cluster_connect_endpoint(const tide__cluster *cl, uint32_t i, char *buf, size_t size)
{
    const tide__peer *p = &cl->peers[i];
    return endpoint(buf, size, p->host, p->ipv6, p->port);
}

void tide__cluster_describe(const tide_config *cfg, uint32_t worker, char *buf, size_t size)
{
    uint32_t q = cfg->workers ? worker / cfg->workers : 0;
    if (q == cfg->process) {
        snprintf(buf, size, "worker %u of this process", worker);
        return;
    }
    tide__cluster *cl = tide_alloc(sizeof *cl); /* ~34 KiB: not on a worker's stack */
    tide_error e;
    if (cl != NULL && q < cfg->processes && tide__cluster_init(cl, cfg, &e) == TIDE_OK)
        snprintf(buf, size, "process %u (worker %u) at %s", q, worker, cl->peers[q].name);
    else
        snprintf(buf, size, "process %u (worker %u)", q, worker);
    tide_free(cl);
}
